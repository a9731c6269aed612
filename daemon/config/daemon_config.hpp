// The edrid configuration file, parsed and checked. Keys are documented in
// docs/configuration.md and config/edrid.yaml.
#pragma once

#include "cluster/cluster_settings.hpp"
#include "log/logging.hpp"
#include "manager/manager_runtime.hpp"
#include "router/router.hpp"

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace edrid {

// Every problem found, each as `file:line:col: message`.
class ConfigErrors : public std::runtime_error {
 public:
  explicit ConfigErrors(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  std::vector<std::string> problems_;
};

struct ManagerConfig {
  std::string name;
  std::string plugin;
  QueueSettings queue;
  ExecutorSettings executor;  // plugin_path is filled in when the plugin is found
  WorkSettings work;          // group, delivery, max_deliveries, retry
  YAML::Node config;   // the manager's `config:` node (may be undefined)
  YAML::Mark mark;     // the list item, for errors about the manager as a whole
  std::string signature;  // the item as YAML text: reload compares these
  YAML::Mark plugin_mark;
};

struct DaemonConfig {
  std::filesystem::path file;
  RouterOptions router;
  logging::Settings log;
  std::vector<std::filesystem::path> plugin_dirs;  // absolute
  // Where edrid keeps what must outlive it (a switch's membership). Absolute;
  // `router.state_dir`, else default_state_dir().
  std::filesystem::path state_dir;
  std::vector<ManagerConfig> managers;
  // Clustering: an edrid is a switch, a router linked to one, or neither.
  std::optional<cluster::SwitchSettings> switch_settings;
  std::optional<cluster::ConnectorSettings> connector;
};

// $STATE_DIRECTORY (systemd; its first entry), else $EDRI_STATE_DIR, else
// /var/lib/edri for root, else $XDG_STATE_HOME/edri (~/.local/state/edri).
std::filesystem::path default_state_dir();

// Reads and checks `file`; throws ConfigErrors with every problem found.
// Plugin `config:` sections are checked later against each plugin's schema.
DaemonConfig load_config(const std::filesystem::path& file);

}  // namespace edrid
