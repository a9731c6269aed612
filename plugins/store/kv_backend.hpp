// Where the store keeps its entries: in memory, or in an LMDB environment
// that survives a crash (every write is a committed, synced transaction).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace edri_store {

struct Entry {
  nlohmann::json value;
  std::int64_t expires_ms = 0;  // CLOCK_REALTIME milliseconds; 0 = never
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::optional<Entry> get(const std::string& key) = 0;
  virtual void put(const std::string& key, const Entry& e) = 0;
  virtual bool erase(const std::string& key) = 0;
  // Calls `fn` with each entry whose key starts with prefix, in key order,
  // until it returns false. Entries are decoded one at a time, as visited;
  // `fn` must not write to the backend.
  using Visitor = std::function<bool(std::string key, Entry entry)>;
  virtual void visit(const std::string& prefix, const Visitor& fn) = 0;
  // The longest key this backend can hold.
  virtual std::size_t max_key_bytes() const { return std::numeric_limits<std::size_t>::max(); }
  // Reads, changes and writes one entry in a single transaction; `change`
  // may throw to abort without writing.
  virtual Entry update(const std::string& key,
                       const std::function<Entry(std::optional<Entry>)>& change) = 0;
};

std::unique_ptr<Backend> make_memory_backend();
// Opens (creating) the LMDB environment in directory `path`; throws
// std::runtime_error naming the path and LMDB's reason.
std::unique_ptr<Backend> make_lmdb_backend(const std::string& path, std::size_t map_size_bytes);

}  // namespace edri_store
