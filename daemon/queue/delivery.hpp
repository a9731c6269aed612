// One unit of work in a manager's queue.
#pragma once

#include "event/event.hpp"

#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace edrid {

struct PluginTimer;
class Tunnel;

struct Delivery {
  enum class Kind : std::uint8_t {
    event,              // a notification, request or (handler-routed) response
    response_callback,  // a response for a request sent with a callback
    timer,              // a plugin timer tick
    tunnel,             // callbacks of a tunnel end running in this process
  };

 private:
  Kind kind_ = Kind::event;  // first, to share a word with the flags below

 public:
  bool is_last = false;          // response_callback
  std::uint8_t tunnel_side = 0;  // tunnel
  std::uint32_t handler_id = 0;
  std::int32_t priority = 0;
  std::uint64_t seq = 0;  // arrival order, set by the queue
  EventPtr event;

  Delivery() noexcept {}
  Delivery(Delivery&& o) noexcept : event(std::move(o.event)) { take_rest(o); }
  Delivery& operator=(Delivery&& o) noexcept {
    if (this != &o) {
      drop_extra();
      event = std::move(o.event);
      take_rest(o);
    }
    return *this;
  }
  ~Delivery() { drop_extra(); }

  // Set with the kind-specific parts, by the setters below.
  Kind kind() const noexcept { return kind_; }

  // The kind-specific parts; each setter sets the kind too.
  void set_callback(edri_response_fn fn, void* user, bool last) noexcept {
    drop_extra();
    kind_ = Kind::response_callback;
    is_last = last;
    extra_.callback = {fn, user};
  }
  void set_timer(std::shared_ptr<PluginTimer> t) noexcept { set_owner(Kind::timer, std::move(t)); }
  void set_tunnel(std::shared_ptr<Tunnel> t, std::uint8_t side) noexcept {
    set_owner(Kind::tunnel, std::move(t));
    tunnel_side = side;
  }
  void run_callback() const { extra_.callback.fn(extra_.callback.user, event.get(), is_last ? 1 : 0); }
  PluginTimer& timer() const noexcept { return *static_cast<PluginTimer*>(extra_.owner.get()); }
  Tunnel& tunnel() const noexcept { return *static_cast<Tunnel*>(extra_.owner.get()); }

 private:
  // A callback and an owner are never both needed (a delivery is one kind),
  // so they share storage: a delivery stays at 48 bytes. It is moved several
  // times per event, and queued ones are held by the million.
  union Extra {
    struct {
      edri_response_fn fn;
      void* user;
    } callback;
    std::shared_ptr<void> owner;  // the timer or the tunnel
    Extra() noexcept : callback{nullptr, nullptr} {}
    ~Extra() {}
  };

  bool has_owner() const noexcept { return kind_ == Kind::timer || kind_ == Kind::tunnel; }
  void set_owner(Kind k, std::shared_ptr<void> owner) noexcept {
    drop_extra();
    ::new (&extra_.owner) std::shared_ptr<void>(std::move(owner));
    kind_ = k;
  }
  void drop_extra() noexcept {
    if (has_owner()) extra_.owner.~shared_ptr();
    kind_ = Kind::event;
    extra_.callback = {nullptr, nullptr};
  }
  // Takes o's fields but its event; o is left an event delivery.
  void take_rest(Delivery& o) noexcept {
    kind_ = o.kind_;
    is_last = o.is_last;
    tunnel_side = o.tunnel_side;
    handler_id = o.handler_id;
    priority = o.priority;
    seq = o.seq;
    if (o.has_owner()) {
      ::new (&extra_.owner) std::shared_ptr<void>(std::move(o.extra_.owner));
      o.extra_.owner.~shared_ptr();
      o.kind_ = Kind::event;
      o.extra_.callback = {nullptr, nullptr};
    } else {
      extra_.callback = o.extra_.callback;
    }
  }

  Extra extra_;
};
static_assert(sizeof(Delivery) <= 48);

}  // namespace edrid
