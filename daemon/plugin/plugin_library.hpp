// Loading plugin shared objects with Boost.DLL and checking their descriptor
// before anything else of theirs is trusted.
#pragma once

#include <edri/abi.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace boost::dll {
class shared_library;
}

namespace edrid {

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws PluginError naming `origin` and the reason when the descriptor is
// missing, not an edri plugin, of another ABI major, or incomplete.
void validate_descriptor(const edri_plugin_descriptor* d, const std::string& origin);

class PluginLibrary {
 public:
  // Loads `file` and imports its entry symbol; throws PluginError.
  static std::shared_ptr<PluginLibrary> load(const std::filesystem::path& file);
  ~PluginLibrary();

  const edri_plugin_descriptor* descriptor() const noexcept { return descriptor_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  PluginLibrary() = default;
  std::filesystem::path path_;
  std::unique_ptr<boost::dll::shared_library> lib_;
  const edri_plugin_descriptor* descriptor_ = nullptr;
};

// Finds the shared object for `plugin` (a name or a path): a path with a
// slash is taken relative to base_dir; a name is looked up in each directory
// as lib<name>.so, libedri_<name>.so and <name>.so. Throws PluginError
// listing where it looked.
std::filesystem::path find_plugin(const std::string& plugin,
                                  const std::vector<std::filesystem::path>& dirs,
                                  const std::filesystem::path& base_dir);

}  // namespace edrid
