// Reads one JSON map of a bridge's settings: typed getters that name the
// key's dotted path in their errors, and a check that no key is unknown (a
// typo is an error, not a silently ignored setting).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace edri_bridge {

// A config value a bridge cannot use; `key` is its dotted path
// ("inbound.1.stream"), so edrid reports the file, line and column.
class SettingsError : public std::runtime_error {
 public:
  SettingsError(std::string key, const std::string& message)
      : std::runtime_error(message), key_(std::move(key)) {}
  const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

constexpr std::int64_t kDayMs = 86'400'000;

// One JSON map being read, `path` its dotted place in the config.
class Section {
 public:
  Section(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) throw SettingsError(path_, path_ + " must be a map");
  }

  std::string key(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }
  bool has(const std::string& k) const { return j_.contains(k) && !j_.at(k).is_null(); }

  std::string str(const std::string& k, std::string fallback = {}) const {
    if (!has(k)) return fallback;
    if (!j_.at(k).is_string()) throw SettingsError(key(k), key(k) + " must be a string");
    return j_.at(k).get<std::string>();
  }
  std::int64_t integer(const std::string& k, std::int64_t fallback, std::int64_t lo, std::int64_t hi) const {
    if (!has(k)) return fallback;
    const nlohmann::json& v = j_.at(k);
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi) {
      throw SettingsError(key(k), key(k) + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return v.get<std::int64_t>();
  }
  std::chrono::milliseconds ms(const std::string& k, std::int64_t fallback, std::int64_t lo, std::int64_t hi) const {
    return std::chrono::milliseconds(integer(k, fallback, lo, hi));
  }
  bool boolean(const std::string& k, bool fallback) const {
    if (!has(k)) return fallback;
    if (!j_.at(k).is_boolean()) throw SettingsError(key(k), key(k) + " must be true or false");
    return j_.at(k).get<bool>();
  }
  const nlohmann::json& at(const std::string& k) const { return j_.at(k); }
  // f(element, "<path>.<k>.<i>") for each element of the list at k, if any.
  template <class F>
  void each(const std::string& k, F f) const {
    if (!has(k)) return;
    if (!j_.at(k).is_array()) throw SettingsError(key(k), key(k) + " must be a list");
    for (std::size_t i = 0; i < j_.at(k).size(); ++i) f(j_.at(k)[i], key(k) + "." + std::to_string(i));
  }
  void only(std::initializer_list<const char*> known) const {
    for (const auto& [k, v] : j_.items()) {
      bool ok = false;
      for (const char* n : known) ok = ok || k == n;
      if (!ok) {
        std::string list;
        for (const char* n : known) list += (list.empty() ? "" : ", ") + std::string(n);
        throw SettingsError(key(k), "unknown key " + key(k) + " (known: " + list + ")");
      }
    }
  }

 private:
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace edri_bridge
