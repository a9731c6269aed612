// Turns a checked configuration into a running router: finds and loads the
// plugins, checks each manager's config against its plugin's schema, creates
// the managers, and starts and stops them.
#pragma once

#include "config/daemon_config.hpp"
#include "config/yaml_reader.hpp"
#include "plugin/plugin_library.hpp"
#include "router/router.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <vector>

namespace edrid {
namespace cluster {
class Connector;
class Switch;
}  // namespace cluster

// Where plugins are looked for after router.plugin_dirs: $EDRI_PLUGIN_PATH
// (colon-separated), <edrid dir>/../lib/edri/plugins, the install directory.
std::vector<std::filesystem::path> default_plugin_dirs();

class Daemon {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon();

  // Loads plugins and creates every manager; throws ConfigErrors listing each
  // problem at its file:line:col.
  void build();
  // Starts the managers, then the switch or connector (throws when the
  // switch cannot listen).
  void start();
  // Drains links and managers: inbound links first, then managers, then
  // what managers sent on the way out.
  void stop();
  // Applies a new configuration to the running router: unchanged managers keep
  // running (with their queues), removed ones drain and stop, added ones
  // start, changed ones restart; log settings apply at once. Throws
  // ConfigErrors, changing nothing, if any new or changed manager fails to
  // load. Returns a summary for the log.
  std::string reload(DaemonConfig fresh);

  Router& router() noexcept { return *router_; }
  // The port the switch listens on (0 without a switch).
  std::uint16_t switch_port() const noexcept;
  const DaemonConfig& config() const noexcept { return config_; }

 private:
  // Finds, loads and checks the plugin of m and creates the manager, or
  // reports problems through r; nullptr on failure.
  std::unique_ptr<ManagerRuntime> prepare(const ManagerConfig& m, YamlReader& r,
                                          const std::vector<std::filesystem::path>& dirs);
  std::vector<std::filesystem::path> search_dirs(const DaemonConfig& c) const;

  DaemonConfig config_;
  // Declared before router_: the libraries must outlive every event.
  std::map<std::filesystem::path, std::shared_ptr<PluginLibrary>> libraries_;
  std::unique_ptr<Router> router_;
  std::shared_ptr<cluster::Connector> connector_;
  std::unique_ptr<cluster::Switch> switch_;
  bool stopped_ = false;
};

}  // namespace edrid
