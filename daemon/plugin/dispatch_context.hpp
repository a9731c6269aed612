// What the calling thread is doing right now: which manager's handler runs
// and on which event. Lets the host inherit trace ids into events sent from a
// handler and put them on log lines without the plugin passing them around.
#pragma once

#include "event/event.hpp"

#include <cstdint>

namespace edrid {

class HostBackend;

struct DispatchContext {
  const HostBackend* host = nullptr;  // the manager whose work runs
  const Event* event = nullptr;
  // The handler asked for its event to go again after this many ms
  // (retry_later); -1: it did not.
  std::int64_t retry_after_ms = -1;
};

DispatchContext& current_dispatch() noexcept;

class DispatchScope {
 public:
  DispatchScope(const HostBackend* m, const Event* ev) noexcept : saved_(current_dispatch()) {
    current_dispatch() = {m, ev, -1};
  }
  // What the handler run in this scope asked with retry_later, or -1.
  std::int64_t retry_after_ms() const noexcept { return current_dispatch().retry_after_ms; }
  ~DispatchScope() { current_dispatch() = saved_; }
  DispatchScope(const DispatchScope&) = delete;
  DispatchScope& operator=(const DispatchScope&) = delete;

 private:
  DispatchContext saved_;
};

}  // namespace edrid
