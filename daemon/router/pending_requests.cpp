#include "router/pending_requests.hpp"

namespace edrid {

bool PendingRequests::add(const std::shared_ptr<PendingRequest>& p, std::int64_t deadline_ns) {
  auto& s = shard(p->id);
  std::lock_guard lock(s.mutex);
  if (!s.map.emplace(p->id, p).second) return false;
  p->due = s.deadlines.emplace(deadline_ns, p->id);
  p->has_due = true;
  return true;
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
  auto it = s.map.find(id);
  if (it == s.map.end()) return;
  if (it->second->has_due) s.deadlines.erase(it->second->due);
  it->second->has_due = false;
  s.map.erase(it);
}

std::size_t PendingRequests::size() const {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.map.size();
  }
  return n;
}

std::vector<edri_id128> PendingRequests::take_due(std::int64_t now_ns) {
  std::vector<edri_id128> due;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    auto end = s.deadlines.upper_bound(now_ns);
    for (auto it = s.deadlines.begin(); it != end; ++it) {
      due.push_back(it->second);
      if (auto p = s.map.find(it->second); p != s.map.end()) p->second->has_due = false;
    }
    s.deadlines.erase(s.deadlines.begin(), end);
  }
  return due;
}

std::optional<std::int64_t> PendingRequests::earliest() const {
  std::optional<std::int64_t> first;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    if (!s.deadlines.empty() && (!first || s.deadlines.begin()->first < *first)) {
      first = s.deadlines.begin()->first;
    }
  }
  return first;
}

}  // namespace edrid
