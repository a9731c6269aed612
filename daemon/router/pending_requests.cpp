#include "router/pending_requests.hpp"

namespace edrid {

void PendingRequests::add(const std::shared_ptr<PendingRequest>& p) {
  auto& s = shard(p->id);
  std::lock_guard lock(s.mutex);
  s.map.emplace(p->id, p);
}

std::shared_ptr<PendingRequest> PendingRequests::find(const edri_id128& id) const {
  auto& s = shard(id);
  std::lock_guard lock(s.mutex);
  auto it = s.map.find(id);
  return it == s.map.end() ? nullptr : it->second;
}

void PendingRequests::erase(const edri_id128& id) {
  auto& s = shard(id);
  std::lock_guard lock(s.mutex);
  s.map.erase(id);
}

std::size_t PendingRequests::size() const {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.map.size();
  }
  return n;
}

}  // namespace edrid
