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
  bool is_last = false;  // response_callback
  std::uint32_t handler_id = 0;
  std::int32_t priority = 0;
  std::uint64_t seq = 0;  // arrival order, set by the queue
  EventPtr event;
  edri_response_fn fn = nullptr;  // response_callback
  void* user = nullptr;
  std::shared_ptr<PluginTimer> timer;
  std::shared_ptr<Tunnel> tunnel;
  std::uint8_t tunnel_side = 0;
};

}  // namespace edrid
