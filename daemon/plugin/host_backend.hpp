// What a plugin's host functions do on its behalf, behind the C table: in the
// router process a ManagerRuntime routes through the Router; in a worker
// process a WorkerHost forwards over its socket. Plugins cannot tell which.
#pragma once

#include "event/event.hpp"

#include <edri/abi.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace edrid {

class HostBackend {
 public:
  virtual ~HostBackend() = default;
  // The plugin this backend hosts, to name it in errors.
  virtual const edri_plugin_descriptor* plugin() const noexcept = 0;
  virtual int subscribe(edri_kind kind, const char* pattern, std::uint32_t handler_id,
                        edri_error* err) = 0;
  virtual int unsubscribe(edri_kind kind, const char* pattern) = 0;
  // ABI 1.5: events of the types `pattern` matches reach this manager only
  // when their payload passes the filter (JSON text; null or "" removes it).
  virtual int set_filter(const char* pattern, const char* filter_json, edri_error* err) = 0;
  virtual int notify(EventPtr ev, const edri_send_options* opts, std::uint32_t* delivered) = 0;
  virtual int request(EventPtr ev, const edri_send_options* opts, edri_response_fn fn, void* user,
                      std::uint32_t delivery, edri_id128* id_out) = 0;
  // EDRI_OK, or EDRI_E_INVALID when the request is not waiting.
  virtual int request_cancel(const edri_id128& id) = 0;
  virtual bool log_enabled(std::uint32_t level) = 0;
  virtual void log(std::uint32_t level, std::string_view msg) = 0;
  virtual std::uint64_t timer_start(std::int64_t delay_ms, std::int64_t interval_ms,
                                    edri_timer_fn fn, void* user) = 0;
  virtual void timer_cancel(std::uint64_t id) = 0;
  virtual std::string stats_json() = 0;
  // Prometheus text format 0.0.4; empty where there is no router.
  virtual std::string metrics_text() = 0;

  // Tunnels. open returns nullptr with *status and *reason on failure.
  virtual edri_tunnel* tunnel_open(const char* type, EventPtr initial, const edri_tunnel_handlers& handlers,
                                   std::int64_t timeout_ms, std::uint32_t* status, std::string* reason) = 0;
  virtual edri_tunnel* tunnel_accept(const edri_event* offer, const edri_tunnel_handlers& handlers) = 0;
  virtual void tunnel_refuse(const edri_event* offer, const char* reason) = 0;

  // Set once the plugin was told it handed over a struct this host cannot
  // read, so that a plugin doing it on every event logs it once.
  std::atomic<bool> abi_misuse_logged{false};
};

}  // namespace edrid

struct edri_host_ctx {
  edrid::HostBackend* backend;
};

// One end of a tunnel as a plugin holds it (edri_tunnel in the ABI). In the
// router process it is an end of a Tunnel; in a worker process, a proxy that
// speaks frames to the router.
struct edri_tunnel {
  virtual ~edri_tunnel() = default;
  // Returns EDRI_OK, EDRI_E_AGAIN or EDRI_E_CLOSED (with *reason).
  virtual int send(const std::uint8_t* data, std::size_t len, std::int64_t timeout_ms, std::string* reason) = 0;
  virtual void shutdown() = 0;
  virtual void close(std::uint32_t status, const std::string& reason) = 0;
  // The plugin's last call on this handle.
  virtual void release() = 0;
};

// A request handler's reply slot (edri_response in the ABI).
struct edri_response {
  std::uint32_t status = EDRI_STATUS_OK;
  std::string message;
  edrid::EventPtr data;
};
