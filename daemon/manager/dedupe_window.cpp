#include "manager/dedupe_window.hpp"

namespace edrid {

DedupeWindow::DedupeWindow(std::chrono::milliseconds window, std::size_t max_ids)
    : window_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(window).count()), max_ids_(max_ids) {}

bool DedupeWindow::finished(const edri_id128& id, std::int64_t now_ns) {
  std::lock_guard lock(mutex_);
  expire_locked(now_ns);
  auto it = until_.find(id);
  return it != until_.end() && it->second > now_ns;
}

void DedupeWindow::finish(const edri_id128& id, std::int64_t now_ns) {
  std::lock_guard lock(mutex_);
  expire_locked(now_ns);
  const std::int64_t until = now_ns + window_ns_;
  auto [it, fresh] = until_.try_emplace(id, until);
  if (!fresh) it->second = until;
  order_.emplace_back(id, until);
  while (until_.size() > max_ids_ && !order_.empty()) {
    const auto [old, at] = order_.front();
    order_.pop_front();
    if (auto o = until_.find(old); o != until_.end() && o->second == at) until_.erase(o);
  }
}

std::size_t DedupeWindow::size() const {
  std::lock_guard lock(mutex_);
  return until_.size();
}

// An id finished twice has two entries in order_: only the one matching its
// latest window takes it out.
void DedupeWindow::expire_locked(std::int64_t now_ns) {
  while (!order_.empty() && order_.front().second <= now_ns) {
    const auto [id, at] = order_.front();
    order_.pop_front();
    if (auto it = until_.find(id); it != until_.end() && it->second == at) until_.erase(it);
  }
}

}  // namespace edrid
