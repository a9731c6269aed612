#include "app/daemon.hpp"

#include "config/plugin_config.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include <spdlog/spdlog.h>

#ifndef EDRID_INSTALL_PLUGIN_DIR
#define EDRID_INSTALL_PLUGIN_DIR "/usr/local/lib/edri/plugins"
#endif

namespace edrid {

std::vector<std::filesystem::path> default_plugin_dirs() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("EDRI_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ':')) {
      if (!item.empty()) dirs.emplace_back(item);
    }
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path() / ".." / "lib" / "edri" / "plugins").lexically_normal());
  dirs.emplace_back(EDRID_INSTALL_PLUGIN_DIR);
  return dirs;
}

Daemon::Daemon(DaemonConfig config)
    : config_(std::move(config)), router_(std::make_unique<Router>(config_.router)) {}

Daemon::~Daemon() {
  router_.reset();
  libraries_.clear();
}

void Daemon::build() {
  std::vector<std::string> problems;
  YamlReader r(config_.file.string(), problems);
  auto dirs = config_.plugin_dirs;
  for (auto& d : default_plugin_dirs()) dirs.push_back(std::move(d));

  for (const ManagerConfig& m : config_.managers) {
    std::shared_ptr<PluginLibrary> lib;
    try {
      const auto path = std::filesystem::canonical(
          find_plugin(m.plugin, dirs, config_.file.parent_path()));
      auto it = libraries_.find(path);
      if (it == libraries_.end()) it = libraries_.emplace(path, PluginLibrary::load(path)).first;
      lib = it->second;
    } catch (const std::exception& e) {
      r.error(m.plugin_mark, "manager '" + m.name + "': " + e.what());
      continue;
    }
    auto cfg = check_plugin_config(r, m, lib->descriptor()->config_schema_json);
    if (!cfg) continue;
    const std::string label = std::string(lib->descriptor()->name) + " " +
                              (lib->descriptor()->version ? lib->descriptor()->version : "");
    ExecutorSettings executor = m.executor;
    executor.plugin_path = lib->path();
    try {
      router_->add_manager(m.name, lib->descriptor(), label, m.queue, cfg->dump(), executor);
    } catch (const ManagerError& e) {
      r.error(e.config_key().empty() ? m.mark : config_key_mark(m, e.config_key()), e.what());
    }
  }
  if (!problems.empty()) throw ConfigErrors(std::move(problems));
}

void Daemon::start() { router_->start(); }

void Daemon::stop() { router_->stop(); }

}  // namespace edrid
