// What a manager asks of the router it belongs to: to send its events, to
// answer requests it served, to open tunnels, and to hear that its
// subscriptions changed. The router implements it; the manager layer knows
// nothing above this.
#pragma once

#include "event/event.hpp"
#include "plugin/host_backend.hpp"
#include "tunnel/tunnel.hpp"

#include <edri/abi.h>

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace edrid {

class ManagerRuntime;
class TimerService;
class TunnelTable;

class RouterPort {
 public:
  // The table of host functions plugins call.
  virtual const edri_host_api* host_api() const noexcept = 0;
  // ---- Each takes over the event reference (see Router for the contracts).
  virtual int notify(ManagerRuntime* sender, EventPtr ev, const edri_send_options* opts,
                     std::uint32_t* delivered) = 0;
  virtual int request(ManagerRuntime* sender, EventPtr ev, const edri_send_options* opts, edri_response_fn fn,
                      void* user, std::uint32_t delivery, edri_id128* id_out) = 0;
  virtual bool cancel(ManagerRuntime* sender, const edri_id128& request_id) = 0;
  virtual void respond(const Event& request, edri_response&& resp, ManagerRuntime& responder) = 0;
  // An answer that is only a status and a message (rejected, error).
  void respond(const Event& request, std::uint32_t status, std::string message, ManagerRuntime& responder) {
    edri_response resp;
    resp.status = status;
    resp.message = std::move(message);
    respond(request, std::move(resp), responder);
  }
  // An at-least-once event whose handler in `failed` did not finish
  // normally: it goes again after the manager's backoff (to another member
  // of its group if there is one), or, its deliveries used up, becomes a
  // dead letter. True when it goes again: a request is then not answered now.
  // delay_ms >= 0 replaces the backoff (the handler's retry_later).
  virtual bool retry(const Event& ev, ManagerRuntime& failed, const std::string& error, std::int64_t delay_ms = -1) = 0;
  // A stopping group member's queued event, not started: to another member
  // of its group on this router, if one takes it now. False when none does.
  virtual bool hand_over(const EventPtr& ev, ManagerRuntime& from) = 0;
  virtual void open_tunnel(ManagerRuntime* opener, EventPtr offer, const std::string& type, TunnelBinding binding,
                           std::int64_t timeout_ms, Tunnel::OpenDone done) = 0;
  virtual TunnelTable& tunnels() noexcept = 0;
  virtual TimerService& timers() noexcept = 0;
  // A started manager's subscriptions changed: routes must be resolved again.
  virtual void subscriptions_changed() = 0;
  // The whole router's stats, for a plugin's stats_json call.
  virtual void stats_json(nlohmann::json& out) const = 0;
  // The same as Prometheus text format 0.0.4, for router_metrics.
  virtual std::string metrics_text() const = 0;

 protected:
  ~RouterPort() = default;
};

}  // namespace edrid
