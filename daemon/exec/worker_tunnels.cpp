#include "exec/worker_tunnels.hpp"

#include "event/ids.hpp"
#include "exec/worker_channel.hpp"
#include "plugin/host_backend.hpp"

#include <algorithm>
#include <vector>

namespace edrid {

class WorkerTunnels::End final : public edri_tunnel {
 public:
  End(WorkerTunnels& owner, edri_id128 tid, int side, edri_tunnel_handlers handlers, std::size_t window)
      : owner_(owner), tid(tid), side(side), handlers(handlers), window(window) {}
  int send(const std::uint8_t* data, std::size_t len, std::int64_t timeout_ms, std::string* reason) override {
    return owner_.send(*this, data, len, timeout_ms, reason);
  }
  void shutdown() override { owner_.shutdown(*this); }
  void close(std::uint32_t status, const std::string& reason) override { owner_.close(*this, status, reason); }
  void release() override { owner_.release(*this); }

  WorkerTunnels& owner_;
  const edri_id128 tid;
  const int side;
  const edri_tunnel_handlers handlers;
  const std::size_t window;
  // Guarded by the owner's mutex.
  std::size_t in_flight = 0;
  bool send_done = false;
  bool over = false;
  std::string over_reason;
  bool discard = false;
  bool handlers_released = false;
};

WorkerTunnels::WorkerTunnels(worker::Channel& channel, Post post) : channel_(channel), post_(std::move(post)) {}

WorkerTunnels::~WorkerTunnels() = default;

edri_tunnel* WorkerTunnels::open(const char* type, const worker::Payload& initial,
                                 const edri_tunnel_handlers& handlers, std::int64_t timeout_ms,
                                 std::uint32_t* status, std::string* reason) {
  std::uint64_t rid;
  {
    std::lock_guard lock(mutex_);
    rid = next_rid_++;
    opens_[rid] = PendingOpen{handlers, false, 0, "", nullptr};
  }
  if (!channel_.send(worker::TunnelOpen{rid, type, timeout_ms, initial})) {
    std::lock_guard lock(mutex_);
    opens_.erase(rid);
    *status = EDRI_STATUS_ERROR;
    *reason = "router connection lost";
    return nullptr;
  }
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return opens_[rid].answered || router_lost_; });
  PendingOpen p = std::move(opens_[rid]);
  opens_.erase(rid);
  if (!p.end) {
    *status = p.answered ? p.status : static_cast<std::uint32_t>(EDRI_STATUS_ERROR);
    *reason = p.answered ? p.reason : "router connection lost";
    return nullptr;
  }
  return p.end.get();
}

void WorkerTunnels::begin_offer(const edri_id128& tid, std::size_t window) {
  std::lock_guard lock(mutex_);
  offer_ = Offer{tid, window};
}

edri_tunnel* WorkerTunnels::accept(const edri_event* offer, const edri_tunnel_handlers& handlers) {
  std::lock_guard lock(mutex_);
  if (!offer_ || !IdEq{}(offer->header.id, offer_->tid) || offer_->decided) return nullptr;
  offer_->decided = true;
  offer_->accepted = true;
  auto end = std::make_shared<End>(*this, offer->header.id, 1, handlers, offer_->window);
  ends_[key(offer->header.id, 1)] = end;
  return end.get();
}

void WorkerTunnels::refuse(const edri_event* offer, const char* reason) {
  std::lock_guard lock(mutex_);
  if (!offer_ || !IdEq{}(offer->header.id, offer_->tid) || offer_->decided) return;
  offer_->decided = true;
  offer_->reason = reason ? reason : "refused";
}

std::optional<std::pair<bool, std::string>> WorkerTunnels::end_offer() {
  std::lock_guard lock(mutex_);
  std::optional<std::pair<bool, std::string>> out;
  if (offer_ && offer_->decided) out.emplace(offer_->accepted, std::move(offer_->reason));
  offer_.reset();
  return out;
}

std::shared_ptr<WorkerTunnels::End> WorkerTunnels::find(const edri_id128& tid, int side) {
  std::lock_guard lock(mutex_);
  auto it = ends_.find(key(tid, side));
  return it == ends_.end() ? nullptr : it->second;
}

void WorkerTunnels::release_handlers(End& e) {
  {
    std::lock_guard lock(mutex_);
    if (e.handlers_released) return;
    e.handlers_released = true;
  }
  if (e.handlers.release) e.handlers.release(e.handlers.user);
}

int WorkerTunnels::send(End& e, const std::uint8_t* data, std::size_t len, std::int64_t timeout_ms,
                        std::string* reason) {
  {
    std::unique_lock lock(mutex_);
    auto room = [&] {
      return e.over || e.send_done || router_lost_ || e.in_flight == 0 || e.in_flight + len <= e.window;
    };
    if (!room()) {
      if (timeout_ms < 0) return EDRI_E_AGAIN;
      if (timeout_ms == 0) {
        changed_.wait(lock, room);
      } else if (!changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), room)) {
        *reason = "the peer's window is full";
        return EDRI_E_AGAIN;
      }
    }
    if (e.over || e.send_done || router_lost_) {
      *reason = e.over ? e.over_reason : router_lost_ ? "router connection lost" : "this end has finished sending";
      return EDRI_E_CLOSED;
    }
    e.in_flight += len;
  }
  if (!channel_.send(worker::TunnelSend{e.tid, e.side, std::string_view(reinterpret_cast<const char*>(data), len)})) {
    *reason = "router connection lost";
    return EDRI_E_CLOSED;
  }
  return EDRI_OK;
}

void WorkerTunnels::shutdown(End& e) {
  {
    std::lock_guard lock(mutex_);
    if (e.send_done || e.over) return;
    e.send_done = true;
  }
  channel_.send(worker::TunnelShutdown{e.tid, e.side});
}

void WorkerTunnels::close(End& e, std::uint32_t status, const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    e.discard = true;
    if (e.over) return;
    e.over = true;
    e.over_reason = reason;
  }
  changed_.notify_all();
  channel_.send(worker::TunnelClose{e.tid, e.side, status, reason});
}

void WorkerTunnels::release(End& e) {
  bool tell;
  std::shared_ptr<End> keep;
  {
    std::lock_guard lock(mutex_);
    e.discard = true;
    tell = !e.over;
    e.over = true;
    auto it = ends_.find(key(e.tid, e.side));
    if (it != ends_.end()) {
      keep = it->second;  // freed when this function returns
      ends_.erase(it);
    }
  }
  if (tell) channel_.send(worker::TunnelRelease{e.tid, e.side});
  release_handlers(e);
}

void WorkerTunnels::on_opened(const worker::TunnelOpened& f) {
  std::lock_guard lock(mutex_);
  auto it = opens_.find(f.rid);
  if (it == opens_.end()) return;
  PendingOpen& p = it->second;
  p.answered = true;
  p.status = f.status;
  p.reason = f.reason;
  if (p.status == EDRI_STATUS_OK) {
    p.end = std::make_shared<End>(*this, f.tid, 0, p.handlers, f.window);
    ends_[key(f.tid, 0)] = p.end;
  }
  changed_.notify_all();
}

void WorkerTunnels::on_message(const worker::TunnelMsg& f) {
  auto end = find(f.tid, f.side);
  if (!end) return;
  post_([this, end, data = std::vector<std::uint8_t>(f.data.begin(), f.data.end())] {
    bool discard;
    {
      std::lock_guard lock(mutex_);
      discard = end->discard;
    }
    if (!discard) end->handlers.on_message(end->handlers.user, data.data(), data.size());
    channel_.send(worker::TunnelConsumed{end->tid, end->side, data.size()});
  });
}

void WorkerTunnels::on_credit(const worker::TunnelCredit& f) {
  auto end = find(f.tid, f.side);
  if (!end) return;
  std::lock_guard lock(mutex_);
  end->in_flight -= std::min<std::size_t>(end->in_flight, f.bytes);
  changed_.notify_all();
}

void WorkerTunnels::on_peer_closed(const worker::TunnelPeerClosed& f) {
  auto end = find(f.tid, f.side);
  if (!end) return;
  if (f.over) {
    std::lock_guard lock(mutex_);
    if (!end->over) {
      end->over = true;
      end->over_reason = f.reason;
    }
    changed_.notify_all();
  }
  post_([this, end, status = f.status, reason = std::string(f.reason)] {
    bool discard;
    {
      std::lock_guard lock(mutex_);
      discard = end->discard;
    }
    if (!discard) end->handlers.on_peer_closed(end->handlers.user, status, reason.c_str());
    release_handlers(*end);
  });
}

void WorkerTunnels::router_lost() {
  {
    std::lock_guard lock(mutex_);
    router_lost_ = true;
  }
  changed_.notify_all();
}

}  // namespace edrid
