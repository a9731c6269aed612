#include "plugin/plugin_library.hpp"

#include <cstdio>

#define BOOST_DLL_USE_STD_FS
#include <boost/dll/shared_library.hpp>

namespace edrid {
namespace {
// The fields every ABI 1.x descriptor has, up to and including handle().
constexpr std::uint32_t kMinDescriptorSize =
    offsetof(edri_plugin_descriptor, handle) + sizeof(edri_plugin_descriptor::handle);
}  // namespace

void validate_descriptor(const edri_plugin_descriptor* d, const std::string& origin) {
  if (!d) throw PluginError(origin + ": entry returned no descriptor");
  if (d->magic != EDRI_ABI_MAGIC) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", d->magic);
    throw PluginError(origin + ": not an edri plugin (descriptor magic " + buf + ")");
  }
  if (d->abi_major != EDRI_ABI_MAJOR) {
    throw PluginError(origin + ": plugin '" + (d->name ? d->name : "?") + "' was built for ABI " +
                      std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
                      " but this edrid speaks ABI " + std::to_string(EDRI_ABI_MAJOR) + "." +
                      std::to_string(EDRI_ABI_MINOR) + "; rebuild it against this SDK");
  }
  if (d->struct_size < kMinDescriptorSize) {
    throw PluginError(origin + ": descriptor is " + std::to_string(d->struct_size) +
                      " bytes, smaller than ABI " + std::to_string(EDRI_ABI_MAJOR) +
                      " requires (" + std::to_string(kMinDescriptorSize) + ")");
  }
  if (!d->name || !*d->name) throw PluginError(origin + ": descriptor has no name");
  if (!d->create || !d->destroy || !d->handle || !d->start || !d->after_start || !d->stop) {
    throw PluginError(origin + ": descriptor of '" + d->name + "' lacks a lifecycle hook");
  }
}

namespace {
// Boost.DLL says "shared_library::load() failed (dlerror system message: X):
// <errno text>", where the errno text is whatever errno held ("Bad file
// descriptor" for a file that is no ELF object): only X is the reason.
std::string load_failure(const std::string& what) {
  static constexpr std::string_view kMark = "(dlerror system message: ";
  const auto start = what.find(kMark);
  if (start == std::string::npos) return what;
  const auto end = what.rfind("):");
  if (end == std::string::npos || end <= start) return what;
  return what.substr(start + kMark.size(), end - start - kMark.size());
}
}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::filesystem::path& file) {
  std::shared_ptr<PluginLibrary> p(new PluginLibrary());
  p->path_ = file;
  const std::string origin = file.string();
  try {
    p->lib_ = std::make_unique<boost::dll::shared_library>(
        file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw PluginError(origin + ": cannot load: " + load_failure(e.what()));
  }
  if (!p->lib_->has(EDRI_ENTRY_SYMBOL)) {
    throw PluginError(origin + ": no entry symbol '" EDRI_ENTRY_SYMBOL
                               "' (not an edri plugin, or built without EDRI_PLUGIN)");
  }
  auto& entry = p->lib_->get<const edri_plugin_descriptor*()>(EDRI_ENTRY_SYMBOL);
  const edri_plugin_descriptor* d = nullptr;
  try {
    d = entry();
  } catch (const std::exception& e) {
    throw PluginError(origin + ": entry threw: " + e.what());
  }
  validate_descriptor(d, origin);
  p->descriptor_ = d;
  return p;
}

PluginLibrary::~PluginLibrary() = default;

std::filesystem::path find_plugin(const std::string& plugin,
                                  const std::vector<std::filesystem::path>& dirs,
                                  const std::filesystem::path& base_dir) {
  namespace fs = std::filesystem;
  if (plugin.find('/') != std::string::npos) {
    fs::path p = plugin;
    if (p.is_relative()) p = base_dir / p;
    if (fs::exists(p)) return p;
    throw PluginError("plugin file " + p.string() + " does not exist");
  }
  std::string looked;
  for (const auto& dir : dirs) {
    for (const std::string& candidate :
         {"lib" + plugin + ".so", "libedri_" + plugin + ".so", plugin + ".so"}) {
      fs::path p = dir / candidate;
      std::error_code ec;
      if (fs::exists(p, ec)) return p;
    }
    looked += (looked.empty() ? "" : ", ") + dir.string();
  }
  throw PluginError("plugin '" + plugin + "' not found in plugin_dirs (" +
                    (looked.empty() ? std::string("none configured") : looked) + ")");
}

}  // namespace edrid
