// Requests waiting for their responses, by request id. Sharded so that
// requesters on different threads rarely meet on one lock.
#pragma once

#include "event/event.hpp"
#include "event/ids.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

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
  std::uint64_t timer_id = 0;
  EventPtr request;  // kept for type, trace id and priority of synthesized responses

  // Serialises the responses of one request, so callbacks see them one at a
  // time and the last one last.
  std::mutex mutex;
  std::uint32_t received = 0;
  bool done = false;
};

class PendingRequests {
 public:
  void add(const std::shared_ptr<PendingRequest>& p);
  std::shared_ptr<PendingRequest> find(const edri_id128& id) const;
  void erase(const edri_id128& id);
  std::size_t size() const;

 private:
  static constexpr std::size_t kShards = 16;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<edri_id128, std::shared_ptr<PendingRequest>, IdHash, IdEq> map;
  };
  Shard& shard(const edri_id128& id) const { return shards_[IdHash{}(id) % kShards]; }
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace edrid
