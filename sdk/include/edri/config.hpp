// A manager's configuration: the schema it declares and the values it gets.
//
// The host checks the YAML `config:` node against the schema before the
// manager is constructed (unknown keys, wrong types, missing required keys are
// reported with file:line:col) and fills in defaults, so a constructor only
// reads values and checks what the schema cannot express, throwing
// ConfigError(key, message) to point the user at the offending line.
#pragma once

#include <edri/event.hpp>

#include <stdexcept>
#include <string>
#include <utility>

namespace edri {

enum class FieldType { string, integer, number, boolean, string_list, object, any };

constexpr const char* to_string(FieldType t) noexcept {
  switch (t) {
    case FieldType::string: return "string";
    case FieldType::integer: return "integer";
    case FieldType::number: return "number";
    case FieldType::boolean: return "boolean";
    case FieldType::string_list: return "string_list";
    case FieldType::object: return "object";
    case FieldType::any: return "any";
  }
  return "any";
}

class ConfigSchema {
 public:
  // An optional key with a default value (null = no default).
  ConfigSchema& field(std::string name, FieldType type, json default_value, std::string doc) {
    fields_.push_back({{"name", std::move(name)},
                       {"type", to_string(type)},
                       {"default", std::move(default_value)},
                       {"required", false},
                       {"doc", std::move(doc)}});
    return *this;
  }
  ConfigSchema& required(std::string name, FieldType type, std::string doc) {
    fields_.push_back({{"name", std::move(name)},
                       {"type", to_string(type)},
                       {"default", nullptr},
                       {"required", true},
                       {"doc", std::move(doc)}});
    return *this;
  }
  std::string to_json() const { return json{{"fields", fields_}}.dump(); }

 private:
  json fields_ = json::array();
};

// Thrown from a manager constructor for a value the schema accepted but the
// manager cannot use. `key` names the config key ("interval_ms").
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, const std::string& message)
      : std::runtime_error(message), key_(std::move(key)) {}
  const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

class Config {
 public:
  explicit Config(json values) : values_(std::move(values)) {}

  bool has(const std::string& key) const {
    return values_.contains(key) && !values_.at(key).is_null();
  }
  // The value of key as T; throws ConfigError if it is absent or does not fit.
  template <class T>
  T get(const std::string& key) const {
    if (!has(key)) throw ConfigError(key, "missing value for '" + key + "'");
    try {
      return values_.at(key).get<T>();
    } catch (const json::exception& e) {
      throw ConfigError(key, "bad value for '" + key + "': " + e.what());
    }
  }
  template <class T>
  T get_or(const std::string& key, T fallback) const {
    return has(key) ? get<T>(key) : std::move(fallback);
  }
  const json& raw() const noexcept { return values_; }

 private:
  json values_;
};

}  // namespace edri
