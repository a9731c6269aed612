#include "ws_requests.hpp"

#include <algorithm>
#include <utility>

namespace edri_api {

namespace {
bool same(const edri_id128& a, const edri_id128& b) { return a.hi == b.hi && a.lo == b.lo; }
}  // namespace

std::shared_ptr<WsRequests::Place> WsRequests::reserve() {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || count_ >= max_) return nullptr;
    ++count_;
  }
  return std::make_shared<Place>(shared_from_this());
}

bool WsRequests::Place::sent(const edri_id128& id) {
  std::lock_guard lock(owner_->mutex_);
  if (owner_->closed_) return false;
  id_ = id;
  sent_ = true;
  owner_->waiting_.push_back(id);
  return true;
}

void WsRequests::release(const edri_id128* id) {
  std::lock_guard lock(mutex_);
  --count_;
  if (!id) return;
  auto it = std::find_if(waiting_.begin(), waiting_.end(), [&](const edri_id128& w) { return same(w, *id); });
  if (it != waiting_.end()) {
    *it = waiting_.back();
    waiting_.pop_back();
  }
}

std::vector<edri_id128> WsRequests::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  return std::exchange(waiting_, {});
}

}  // namespace edri_api
