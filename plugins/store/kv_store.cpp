#include "kv_store.hpp"

#include <limits>

namespace edri_store {

KvStore::KvStore(std::unique_ptr<Backend> backend, Limits limits, Clock now_ms)
    : backend_(std::move(backend)), limits_(limits), now_(std::move(now_ms)) {
  if (limits_.max_key_bytes > backend_->max_key_bytes()) {
    throw std::invalid_argument("max_key_bytes " + std::to_string(limits_.max_key_bytes) +
                                " exceeds the longest key the backend can hold (" +
                                std::to_string(backend_->max_key_bytes()) + ")");
  }
  // Once, at start: the entries with a time to live that a previous run left.
  backend_->visit("", [this](std::string key, Entry e) {
    if (e.expires_ms != 0) expiries_.emplace(e.expires_ms, std::move(key));
    return true;
  });
}

void KvStore::check_key(const std::string& key) const {
  if (key.empty()) throw StoreError("key must be a non-empty string");
  if (key.size() > limits_.max_key_bytes) {
    throw StoreError("key of " + std::to_string(key.size()) + " bytes exceeds max_key_bytes " +
                     std::to_string(limits_.max_key_bytes));
  }
}

void KvStore::set(const std::string& key, const nlohmann::json& value,
                  std::optional<std::int64_t> ttl_ms) {
  check_key(key);
  const std::size_t size = value.dump().size();
  if (size > limits_.max_value_bytes) {
    throw StoreError("value of " + std::to_string(size) + " bytes exceeds max_value_bytes " +
                     std::to_string(limits_.max_value_bytes));
  }
  if (ttl_ms && *ttl_ms <= 0) throw StoreError("ttl_ms must be a positive integer");
  const std::int64_t now = now_();
  if (ttl_ms && *ttl_ms > std::numeric_limits<std::int64_t>::max() - now) {
    throw StoreError("ttl_ms must be at most " + std::to_string(std::numeric_limits<std::int64_t>::max() - now));
  }
  const std::int64_t expires = ttl_ms ? now + *ttl_ms : 0;
  backend_->put(key, Entry{value, expires});
  if (expires) expiries_.emplace(expires, key);
}

std::optional<nlohmann::json> KvStore::get(const std::string& key) {
  check_key(key);
  auto e = backend_->get(key);
  if (!e) return std::nullopt;
  if (expired(*e)) {
    backend_->erase(key);
    return std::nullopt;
  }
  return std::move(e->value);
}

bool KvStore::erase(const std::string& key) {
  check_key(key);
  auto e = backend_->get(key);
  return backend_->erase(key) && e && !expired(*e);
}

std::int64_t KvStore::incr(const std::string& key, std::int64_t by) {
  check_key(key);
  Entry result = backend_->update(key, [&](std::optional<Entry> old) {
    if (old && expired(*old)) old.reset();
    std::int64_t current = 0;
    if (old) {
      if (!old->value.is_number_integer()) {
        throw StoreError("value of '" + key + "' is not an integer (it is " +
                         std::string(old->value.type_name()) + ")");
      }
      current = old->value.get<std::int64_t>();
    }
    if ((by > 0 && current > std::numeric_limits<std::int64_t>::max() - by) ||
        (by < 0 && current < std::numeric_limits<std::int64_t>::min() - by)) {
      throw StoreError("incrementing '" + key + "' would overflow");
    }
    return Entry{current + by, old ? old->expires_ms : 0};
  });
  return result.value.get<std::int64_t>();
}

std::vector<std::pair<std::string, nlohmann::json>> KvStore::list(const std::string& prefix,
                                                                  bool* truncated) {
  std::vector<std::pair<std::string, nlohmann::json>> out;
  bool cut = false;
  // Stops at the first live entry past max_list: it tells the list was cut.
  backend_->visit(prefix, [&](std::string k, Entry e) {
    if (expired(e)) return true;
    if (out.size() == limits_.max_list) {
      cut = true;
      return false;
    }
    out.emplace_back(std::move(k), std::move(e.value));
    return true;
  });
  if (truncated) *truncated = cut;
  return out;
}

std::vector<std::string> KvStore::sweep() {
  std::vector<std::string> gone;
  const std::int64_t now = now_();
  while (!expiries_.empty() && expiries_.top().first <= now) {
    const std::string key = expiries_.top().second;
    expiries_.pop();
    auto e = backend_->get(key);  // set again since, or deleted: not this one's to remove
    if (e && e->expires_ms != 0 && e->expires_ms <= now && backend_->erase(key)) gone.push_back(key);
  }
  return gone;
}

}  // namespace edri_store
