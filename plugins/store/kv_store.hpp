// The store's rules on top of a backend: key and value limits, time to live,
// atomic increments. Knows nothing of edri; the manager maps events onto it.
#pragma once

#include "kv_backend.hpp"

#include <functional>
#include <queue>
#include <string>
#include <vector>
#include <stdexcept>

namespace edri_store {

// Input the store refuses; the caller answers `error` with the message.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Limits {
  std::size_t max_key_bytes = 511;  // LMDB's largest key; more is refused for an LMDB store
  std::size_t max_value_bytes = 1 << 20;  // of the value's JSON text
  std::size_t max_list = 10000;
};

class KvStore {
 public:
  using Clock = std::function<std::int64_t()>;  // CLOCK_REALTIME milliseconds

  KvStore(std::unique_ptr<Backend> backend, Limits limits, Clock now_ms);

  void set(const std::string& key, const nlohmann::json& value, std::optional<std::int64_t> ttl_ms);
  std::optional<nlohmann::json> get(const std::string& key);
  bool erase(const std::string& key);
  // Adds `by` to an integer value (absent counts as 0) and returns the sum.
  std::int64_t incr(const std::string& key, std::int64_t by);
  // Live entries whose key starts with prefix; `truncated` if over max_list.
  std::vector<std::pair<std::string, nlohmann::json>> list(const std::string& prefix, bool* truncated);
  // Deletes expired entries and returns their keys. Costs what has expired,
  // not what is stored: keys with a time to live are kept in a heap by time.
  std::vector<std::string> sweep();

 private:
  void check_key(const std::string& key) const;
  bool expired(const Entry& e) const { return e.expires_ms != 0 && e.expires_ms <= now_(); }

  std::unique_ptr<Backend> backend_;
  Limits limits_;
  Clock now_;
  // (expires_ms, key), soonest on top. A key set again keeps its old entry
  // here; sweep() checks the stored entry before deleting.
  using Expiry = std::pair<std::int64_t, std::string>;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> expiries_;
};

}  // namespace edri_store
