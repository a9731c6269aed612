#include "tunnel/tunnel.hpp"

#include "event/ids.hpp"
#include "plugin/dispatch_context.hpp"
#include "tunnel/tunnel_table.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace edrid {
namespace {
// Messages one Delivery handles before yielding its executor slot.
constexpr int kBatch = 64;
}  // namespace

Tunnel::Tunnel(TunnelTable& table, edri_id128 id, std::string type, std::size_t window, TunnelBinding opener,
               OpenDone done)
    : table_(table), id_(id), type_(std::move(type)), window_(window), done_(std::move(done)) {
  ends_[kOpener].bind = std::move(opener);
  ends_[kOpener].bound = true;
}

Tunnel::~Tunnel() {
  // Handlers never released (a tunnel dropped while pending) are released
  // here, so a plugin's per-tunnel state never leaks.
  for (auto& e : ends_) {
    if (e.bound && !e.bind.sink && !e.handlers_released && e.bind.handlers.release) {
      e.bind.handlers.release(e.bind.handlers.user);
    }
  }
}

bool Tunnel::accept(TunnelBinding acceptor) {
  OpenDone done;
  {
    std::lock_guard lock(mutex_);
    if (open_ != Open::pending) return false;
    open_ = Open::accepted;
    ends_[kAcceptor].bind = std::move(acceptor);
    ends_[kAcceptor].bound = true;
    last_activity_ = std::chrono::steady_clock::now();
    done.swap(done_);
  }
  table_.accepted.fetch_add(1, std::memory_order_relaxed);
  if (done) done(EDRI_STATUS_OK, "", shared_from_this());
  return true;
}

bool Tunnel::refuse(std::uint32_t status, const std::string& reason) {
  OpenDone done;
  {
    std::lock_guard lock(mutex_);
    if (open_ != Open::pending) return false;
    open_ = Open::refused;
    over_ = true;
    over_reason_ = reason;
    done.swap(done_);
    // A refused opener keeps its handlers: they were never used.
    ends_[kOpener].discard = true;
    ends_[kOpener].handlers_released = true;
  }
  table_.refused.fetch_add(1, std::memory_order_relaxed);
  table_.remove(id_);
  if (done) done(status, reason, nullptr);
  return true;
}

int Tunnel::send(int side, const std::uint8_t* data, std::size_t len, std::int64_t timeout_ms, std::string* reason,
                 bool credit_checked) {
  std::unique_lock lock(mutex_);
  End& me = ends_[side];
  auto closed = [&] { return over_ || me.send_done; };
  auto room = [&] { return closed() || me.in_flight == 0 || me.in_flight + len <= window_; };
  if (!credit_checked && !room()) {
    if (timeout_ms < 0) return EDRI_E_AGAIN;
    if (timeout_ms == 0) {
      credit_.wait(lock, room);
    } else if (!credit_.wait_for(lock, std::chrono::milliseconds(timeout_ms), room)) {
      if (reason) *reason = "the peer's window is full";
      return EDRI_E_AGAIN;
    }
  }
  if (closed()) {
    if (reason) *reason = over_ ? over_reason_ : "this end has finished sending";
    return EDRI_E_CLOSED;
  }
  if (open_ != Open::accepted) {
    if (reason) *reason = "the tunnel is not open";
    return EDRI_E_CLOSED;
  }
  me.in_flight += len;
  me.max_in_flight = std::max(me.max_in_flight, me.in_flight);
  for (auto seen = table_.max_in_flight.load(std::memory_order_relaxed);
       me.in_flight > seen && !table_.max_in_flight.compare_exchange_weak(seen, me.in_flight);) {
  }
  me.bytes += len;
  ++me.messages;
  last_activity_ = std::chrono::steady_clock::now();
  table_.bytes.fetch_add(len, std::memory_order_relaxed);
  table_.messages.fetch_add(1, std::memory_order_relaxed);
  deliver(1 - side, data, len);
  return EDRI_OK;
}

void Tunnel::deliver(int to, const std::uint8_t* data, std::size_t len) {
  End& e = ends_[to];
  if (e.discard) {
    // Nobody will read it: hand the credit straight back.
    give_credit(1 - to, len);
    return;
  }
  if (e.bind.sink) {
    e.bind.sink->message(id_, to, data, len);
    return;
  }
  e.inbox.emplace_back(data, data + len);
  schedule(to);
}

void Tunnel::schedule(int side) {
  End& e = ends_[side];
  if (e.scheduled || !e.bind.owner) return;
  Delivery d;
  d.set_tunnel(shared_from_this(), static_cast<std::uint8_t>(side));
  e.scheduled = true;
  if (!e.bind.owner->post_tunnel_work(std::move(d))) {
    // The manager is stopping; its end cannot run any more.
    e.scheduled = false;
    e.discard = true;
    e.inbox.clear();
  }
}

void Tunnel::give_credit(int sender, std::size_t bytes) {
  End& s = ends_[sender];
  s.in_flight -= std::min(bytes, s.in_flight);
  if (s.bind.sink) {
    if (!over_) s.bind.sink->credit(id_, sender, bytes);
  } else {
    credit_.notify_all();
  }
}

void Tunnel::tell_peer_closed(int to, std::uint32_t status, const std::string& reason) {
  End& e = ends_[to];
  if (e.notice || e.discard || !e.bound) return;
  e.notice = std::make_pair(status, reason);
  if (e.bind.sink) {
    e.bind.sink->peer_closed(id_, to, status, reason, over_);
    e.notice_done = true;
    return;
  }
  schedule(to);
}

std::optional<edri_tunnel_handlers> Tunnel::finish_locked(int side) {
  End& e = ends_[side];
  if (e.handlers_released || e.bind.sink || !e.bound || e.scheduled) return std::nullopt;
  if (!e.notice_done && !e.discard) return std::nullopt;
  e.handlers_released = true;
  e.inbox.clear();
  return e.bind.handlers;
}

void Tunnel::release_handlers(std::optional<edri_tunnel_handlers> h) {
  if (h && h->release) h->release(h->user);
}

void Tunnel::end_tunnel_locked(const std::string& reason) {
  if (over_) return;
  over_ = true;
  over_reason_ = reason;
  ends_[0].send_done = ends_[1].send_done = true;
  credit_.notify_all();
}

void Tunnel::shutdown(int side) {
  bool finished = false;
  {
    std::lock_guard lock(mutex_);
    End& me = ends_[side];
    if (me.send_done || over_) return;
    me.send_done = true;
    last_activity_ = std::chrono::steady_clock::now();
    if (ends_[1 - side].send_done) {
      over_ = true;
      over_reason_ = "both ends finished";
      finished = true;
    }
    tell_peer_closed(1 - side, EDRI_STATUS_OK, "the peer finished sending");
    credit_.notify_all();
  }
  if (finished) table_.remove(id_);
}

void Tunnel::close(int side, std::uint32_t status, const std::string& reason) {
  std::optional<edri_tunnel_handlers> h;
  {
    std::lock_guard lock(mutex_);
    End& me = ends_[side];
    me.discard = true;
    if (!over_) {
      const std::string why = reason.empty() ? std::string("closed by the peer") : reason;
      end_tunnel_locked(why);
      if (status != EDRI_STATUS_OK) table_.ended_with_error.fetch_add(1, std::memory_order_relaxed);
      tell_peer_closed(1 - side, status, why);
    }
    h = finish_locked(side);
  }
  table_.remove(id_);
  release_handlers(h);
}

void Tunnel::release(int side) {
  bool open;
  bool finished_sending;
  {
    std::lock_guard lock(mutex_);
    const End& me = ends_[side];
    open = !over_ && !(me.send_done && me.notice_done);
    finished_sending = me.send_done;
  }
  if (open) {
    // Having finished sending first is a normal end; otherwise the peer
    // must know the stream was cut short.
    close(side, finished_sending ? EDRI_STATUS_OK : EDRI_STATUS_ERROR,
          finished_sending ? "the peer let go of its end" : "the peer let go of its end without closing it");
  } else {
    std::optional<edri_tunnel_handlers> h;
    {
      std::lock_guard lock(mutex_);
      ends_[side].discard = true;
      h = finish_locked(side);
    }
    release_handlers(h);
  }
}

void Tunnel::consumed(int side, std::size_t bytes) {
  std::lock_guard lock(mutex_);
  give_credit(1 - side, bytes);
}

void Tunnel::abort(const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    if (over_) return;
    end_tunnel_locked(reason);
    table_.ended_with_error.fetch_add(1, std::memory_order_relaxed);
    tell_peer_closed(0, EDRI_STATUS_ERROR, reason);
    tell_peer_closed(1, EDRI_STATUS_ERROR, reason);
  }
  table_.remove(id_);
}

void Tunnel::lost(int side, const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    // Its code is gone: nothing more goes to it.
    ends_[side].bind.sink.reset();
    ends_[side].bind.owner = nullptr;
    ends_[side].discard = true;
    ends_[side].handlers_released = true;
  }
  close(side, EDRI_STATUS_ERROR, why);
}

void Tunnel::run_end(int side) {
  End& e = ends_[side];
  for (int n = 0; n < kBatch; ++n) {
    std::unique_lock lock(mutex_);
    if (e.discard) {
      e.inbox.clear();
      break;
    }
    if (!e.inbox.empty()) {
      std::vector<std::uint8_t> msg = std::move(e.inbox.front());
      e.inbox.pop_front();
      const auto h = e.bind.handlers;
      lock.unlock();
      h.on_message(h.user, msg.data(), msg.size());
      lock.lock();
      give_credit(1 - side, msg.size());
      continue;
    }
    if (e.notice && !e.notice_done) {
      const auto notice = *e.notice;
      e.notice_done = true;
      const auto h = e.bind.handlers;
      lock.unlock();
      h.on_peer_closed(h.user, notice.first, notice.second.c_str());
      continue;
    }
    break;
  }
  std::optional<edri_tunnel_handlers> h;
  {
    std::lock_guard lock(mutex_);
    e.scheduled = false;
    if (!e.discard && (!e.inbox.empty() || (e.notice && !e.notice_done))) {
      schedule(side);
    } else {
      h = finish_locked(side);
    }
  }
  release_handlers(h);
}

bool Tunnel::uses_sink(const TunnelSink* sink) const { return side_of(sink) >= 0; }

int Tunnel::side_of(const TunnelSink* sink) const {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < 2; ++i) {
    if (ends_[i].bind.sink.get() == sink) return i;
  }
  return -1;
}

bool Tunnel::uses_owner(const TunnelOwner* o) const {
  std::lock_guard lock(mutex_);
  return ends_[0].bind.owner == o || ends_[1].bind.owner == o;
}

bool Tunnel::idle_for(std::chrono::steady_clock::duration d, std::chrono::steady_clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return open_ == Open::accepted && now - last_activity_ > d;
}

bool Tunnel::over() const {
  std::lock_guard lock(mutex_);
  return over_;
}

void Tunnel::stats_json(nlohmann::json& out) const {
  std::lock_guard lock(mutex_);
  auto name = [](const End& e) -> std::string {
    if (!e.bind.owner) return "";
    return e.bind.owner->name() + (e.bind.sink ? " (worker)" : "");
  };
  auto dir = [](const End& e) {
    return nlohmann::json{{"bytes", e.bytes},
                          {"messages", e.messages},
                          {"in_flight", e.in_flight},
                          {"max_in_flight", e.max_in_flight},
                          {"finished", e.send_done}};
  };
  out = {{"id", to_hex(id_)},
         {"type", type_},
         {"opener", name(ends_[kOpener])},
         {"acceptor", name(ends_[kAcceptor])},
         {"window", window_},
         {"age_ms", std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                          opened_at_)
                        .count()},
         {"opener_to_acceptor", dir(ends_[kOpener])},
         {"acceptor_to_opener", dir(ends_[kAcceptor])}};
}

int LocalTunnelEnd::send(const std::uint8_t* data, std::size_t len, std::int64_t timeout_ms, std::string* reason) {
  return tunnel_->send(side_, data, len, timeout_ms, reason, false);
}
void LocalTunnelEnd::shutdown() { tunnel_->shutdown(side_); }
void LocalTunnelEnd::close(std::uint32_t status, const std::string& reason) {
  tunnel_->close(side_, status, reason);
}
void LocalTunnelEnd::release() {
  tunnel_->release(side_);
  delete this;
}

}  // namespace edrid
