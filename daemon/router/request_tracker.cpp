#include "router/request_tracker.hpp"

#include "log/logging.hpp"
#include "manager/manager_runtime.hpp"
#include "timer/clock.hpp"
#include "timer/timer_service.hpp"

#include <spdlog/spdlog.h>

namespace edrid {

EventPtr RequestTracker::make_response(const Event& request, std::uint32_t status, std::string message,
                                       const char* sender, EventPtr data) const {
  EventPtr resp = data ? std::move(data) : EventPtr(event_from_bytes("", nullptr, 0));
  auto& h = resp->header;
  h.id = next_id();
  h.trace_id = request.header.trace_id;
  h.correlation_id = request.header.id;
  h.type = event_set_type(*resp, request.payload_type);
  h.payload_type = resp->payload_type.data();
  h.kind = EDRI_KIND_RESPONSE;
  h.priority = request.header.priority;
  h.origin_router = router_id_.c_str();
  h.sender = sender;
  h.timestamp_ns = realtime_ns();
  h.status = status;
  h.message = event_set_message(*resp, std::move(message));
  return resp;
}

bool RequestTracker::track(const std::shared_ptr<PendingRequest>& p, std::int64_t deadline_ns) {
  if (!pending_.add(p, deadline_ns)) return false;
  arm_sweep(deadline_ns);
  return true;
}

void RequestTracker::reply_now(ManagerRuntime* sender, const Event& request, edri_response_fn fn, void* user,
                               std::uint32_t delivery, std::uint32_t status, std::string message) {
  PendingRequest p;
  p.sender = sender;
  p.fn = fn;
  p.user = user;
  p.delivery = delivery;
  deliver(p, make_response(request, status, std::move(message), router_id_.c_str(), EventPtr()), true);
}

void RequestTracker::complete(const edri_id128& id, EventPtr response, bool counts) {
  auto p = pending_.find(id);
  if (!p) {
    counters_.late_responses.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(p->mutex);
  if (p->done) {
    counters_.late_responses.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (counts) ++p->received;
  const bool last = p->received >= p->expected;
  if (last) {
    p->done = true;
    pending_.erase(id);
  }
  deliver(*p, std::move(response), last);
  // After the delivery: a sender waiting to stop then sees it queued.
  if (last && p->sender) p->sender->request_ended();
}

void RequestTracker::add_remote_responders(const edri_id128& id, std::uint32_t routers) {
  auto p = pending_.find(id);
  if (!p || routers == 0) return;
  std::lock_guard lock(p->mutex);
  if (!p->done) p->expected += routers - 1;
}

// Requests mostly share one timeout, so deadlines come in rising order and
// the sweep armed for an earlier one already covers a new request: the
// common case is one atomic load.
void RequestTracker::arm_sweep(std::int64_t deadline_ns) {
  std::int64_t armed = sweep_at_.load(std::memory_order_acquire);
  for (;;) {
    if (armed != 0 && armed <= deadline_ns) return;
    if (sweep_at_.compare_exchange_weak(armed, deadline_ns, std::memory_order_acq_rel)) break;
  }
  // A sweep armed for later still runs; it finds nothing due, or re-arms.
  timers_.schedule(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns)),
                   [this] { sweep(); });
}

void RequestTracker::sweep() {
  sweep_at_.store(0, std::memory_order_release);
  for (const edri_id128& id : pending_.take_due(steady_ns())) expire(id);
  if (auto next = pending_.earliest()) arm_sweep(*next);
}

void RequestTracker::expire(const edri_id128& id) {
  auto p = pending_.find(id);
  if (!p) return;
  std::lock_guard lock(p->mutex);
  if (p->done) return;
  counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
  end_early(*p, EDRI_STATUS_TIMEOUT, "no response within " + std::to_string(p->timeout_ms) + " ms");
}

bool RequestTracker::cancel(ManagerRuntime* sender, const edri_id128& id) {
  auto p = pending_.find(id);
  if (!p || p->sender != sender) return false;
  std::lock_guard lock(p->mutex);
  if (p->done) return false;
  // Queued copies of the request are skipped where they wait; a handler
  // already running finishes, and its answer counts as late.
  p->request->cancelled.store(true, std::memory_order_relaxed);
  counters_.cancelled.fetch_add(1, std::memory_order_relaxed);
  end_early(*p, EDRI_STATUS_CANCELLED, "cancelled by its sender");
  return true;
}

void RequestTracker::end_early(PendingRequest& p, std::uint32_t status, const std::string& why) {
  p.done = true;
  pending_.erase(p.id);
  const std::string message =
      why + " (" + std::to_string(p.received) + " of " + std::to_string(p.expected) + " responders answered)";
  logging::TraceScope trace(p.request->header.trace_id);
  spdlog::debug("request {}: {}", p.request->payload_type, message);
  deliver(p, make_response(*p.request, status, message, router_id_.c_str(), EventPtr()), true);
  if (p.sender) p.sender->request_ended();
}

void RequestTracker::deliver(PendingRequest& p, EventPtr response, bool is_last) {
  if (p.fn && p.delivery == EDRI_DELIVER_DIRECT) {
    p.fn(p.user, response.get(), is_last ? 1 : 0);
    return;
  }
  if (!p.sender) return;
  Delivery d;
  d.priority = response->header.priority;
  d.event = std::move(response);
  if (p.fn) d.set_callback(p.fn, p.user, is_last);
  if (p.sender->queue().push(std::move(d), true, false, nullptr) != ManagerQueue::Push::accepted) {
    spdlog::debug("response for stopped manager '{}' dropped", p.sender->name());
  }
}

}  // namespace edrid
