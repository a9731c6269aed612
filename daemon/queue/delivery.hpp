// One unit of work in a manager's queue.
#pragma once

#include "event/event.hpp"

#include <cstdint>
#include <memory>

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
  Kind kind = Kind::event;
  bool is_last = false;          // response_callback
  std::uint8_t tunnel_side = 0;  // tunnel
  std::uint32_t handler_id = 0;
  std::int32_t priority = 0;
  std::uint64_t seq = 0;  // arrival order, set by the queue
  EventPtr event;
  edri_response_fn fn = nullptr;  // response_callback
  void* user = nullptr;
  // The timer or the tunnel, by kind: one field, since each delivery is one
  // kind, keeps a delivery at 64 bytes (it is moved several times per event,
  // and queued ones are held by the million).
  std::shared_ptr<void> owner;

  PluginTimer& timer() const noexcept { return *static_cast<PluginTimer*>(owner.get()); }
  Tunnel& tunnel() const noexcept { return *static_cast<Tunnel*>(owner.get()); }
};
static_assert(sizeof(Delivery) <= 64);

}  // namespace edrid
