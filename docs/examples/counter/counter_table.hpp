// The counter's business logic: a plain class that knows nothing of edri,
// so it is tested on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace counter {

class CounterTable {
 public:
  explicit CounterTable(std::size_t max_keys) : max_keys_(max_keys) {}

  // Adds `by` to key; throws std::length_error when a new key would exceed
  // the limit.
  std::int64_t add(const std::string& key, std::int64_t by) {
    auto it = values_.find(key);
    if (it == values_.end()) {
      if (values_.size() >= max_keys_) {
        throw std::length_error("counter limit of " + std::to_string(max_keys_) + " keys reached");
      }
      it = values_.emplace(key, 0).first;
    }
    return it->second += by;
  }
  std::optional<std::int64_t> get(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t size() const noexcept { return values_.size(); }

 private:
  std::size_t max_keys_;
  std::unordered_map<std::string, std::int64_t> values_;
};

}  // namespace counter
