// Requests waiting for their responses. Each response goes to the request's
// sender (its callback, directly or through its queue) one at a time, the
// last one marked last; a deadline or the sender's cancel ends a request
// early with a response of their own. One timer sweeps every deadline.
#pragma once

#include "router/pending_requests.hpp"
#include "router/router_counters.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace edrid {

class ManagerRuntime;
class TimerService;

class RequestTracker {
 public:
  RequestTracker(const std::string& router_id, TimerService& timers, RouterCounters& counters)
      : router_id_(router_id), timers_(timers), counters_(counters) {}

  // A response this router makes up for `request` (sender: who it is from).
  EventPtr make_response(const Event& request, std::uint32_t status, std::string message, const char* sender,
                         EventPtr data) const;
  // Waits for p's responses until deadline_ns (steady clock). False when a
  // request with the same id is waiting already: p is not tracked.
  bool track(const std::shared_ptr<PendingRequest>& p, std::int64_t deadline_ns);
  // One response to request `id`; `counts`: it ends one responder's part.
  // A response for a request that is no longer waiting is counted as late.
  void complete(const edri_id128& id, EventPtr response, bool counts = true);
  // The switch asked `routers` routers where one responder was expected.
  void add_remote_responders(const edri_id128& id, std::uint32_t routers);
  // The sender gives up: a last response with status cancelled. False when
  // the request is not waiting or `sender` did not send it.
  bool cancel(ManagerRuntime* sender, const edri_id128& id);
  // Answers a request that is never tracked (not_found, invalid) at once.
  void reply_now(ManagerRuntime* sender, const Event& request, edri_response_fn fn, void* user,
                 std::uint32_t delivery, std::uint32_t status, std::string message);
  std::size_t size() const { return pending_.size(); }

 private:
  void expire(const edri_id128& id);
  // Ends a request before all its responses came: p's mutex held, p not done.
  void end_early(PendingRequest& p, std::uint32_t status, const std::string& why);
  void arm_sweep(std::int64_t deadline_ns);
  void sweep();
  static void deliver(PendingRequest& p, EventPtr response, bool is_last);

  const std::string& router_id_;
  TimerService& timers_;
  RouterCounters& counters_;
  PendingRequests pending_;
  std::atomic<std::int64_t> sweep_at_{0};  // steady ns of the armed sweep, 0 = none
};

}  // namespace edrid
