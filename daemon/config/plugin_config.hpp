// A manager's `config:` section checked against the schema its plugin
// declares: unknown keys, wrong types and missing required keys are reported
// at their YAML position; defaults are filled in.
#pragma once

#include "config/daemon_config.hpp"
#include "config/yaml_reader.hpp"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace edrid {

// The config as JSON for the plugin, or nullopt after reporting problems.
std::optional<nlohmann::json> check_plugin_config(YamlReader& r, const ManagerConfig& m,
                                                  const char* schema_json);

// Where `key` (e.g. "interval_ms" or "routes.2") sits in m's config, or the
// best enclosing position.
YAML::Mark config_key_mark(const ManagerConfig& m, const std::string& key);

}  // namespace edrid
