// Requests waiting for their responses, by request id, with their deadlines.
// Sharded so that requesters on different threads rarely meet on one lock:
// a request costs no timer of its own (the router sweeps due deadlines with
// one timer), so nothing on the request path is shared by every requester.
#pragma once

#include "event/event.hpp"
#include "event/ids.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace edrid {

class ManagerRuntime;

struct PendingRequest {
  edri_id128 id{};
  ManagerRuntime* sender = nullptr;
  edri_response_fn fn = nullptr;
  void* user = nullptr;
  std::uint32_t delivery = EDRI_DELIVER_QUEUED;
  std::uint32_t expected = 0;
  std::int64_t timeout_ms = 0;
  EventPtr request;  // kept for type, trace id and priority of synthesized responses

  // Serialises the responses of one request, so callbacks see them one at a
  // time and the last one last.
  std::mutex mutex;
  std::uint32_t received = 0;
  bool done = false;

  // Its entry in the shard's deadline index, under the shard's lock.
  std::multimap<std::int64_t, edri_id128>::iterator due;
  bool has_due = false;
};

class PendingRequests {
 public:
  // deadline_ns is on the steady clock.
  // False, and nothing added, when a request with p's id is waiting already.
  bool add(const std::shared_ptr<PendingRequest>& p, std::int64_t deadline_ns);
  std::shared_ptr<PendingRequest> find(const edri_id128& id) const;
  void erase(const edri_id128& id);
  std::size_t size() const;
  // Ids whose deadline is at or before now_ns; each is returned once.
  std::vector<edri_id128> take_due(std::int64_t now_ns);
  // The earliest deadline not yet taken.
  std::optional<std::int64_t> earliest() const;

 private:
  static constexpr std::size_t kShards = 16;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<edri_id128, std::shared_ptr<PendingRequest>, IdHash, IdEq> map;
    std::multimap<std::int64_t, edri_id128> deadlines;
  };
  Shard& shard(const edri_id128& id) const { return shards_[IdHash{}(id) % kShards]; }
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace edrid
