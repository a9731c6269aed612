// What a plugin's host functions do on its behalf, behind the C table: in the
// router process a ManagerRuntime routes through the Router; in a worker
// process a WorkerHost forwards over its socket. Plugins cannot tell which.
#pragma once

#include "event/event.hpp"

#include <edri/abi.h>

#include <string>

namespace edrid {

class HostBackend {
 public:
  virtual ~HostBackend() = default;
  virtual int subscribe(edri_kind kind, const char* pattern, std::uint32_t handler_id,
                        edri_error* err) = 0;
  virtual int unsubscribe(edri_kind kind, const char* pattern) = 0;
  virtual int notify(EventPtr ev, const edri_send_options* opts, std::uint32_t* delivered) = 0;
  virtual int request(EventPtr ev, const edri_send_options* opts, edri_response_fn fn, void* user,
                      std::uint32_t delivery, edri_id128* id_out) = 0;
  virtual bool log_enabled(std::uint32_t level) = 0;
  virtual void log(std::uint32_t level, std::string_view msg) = 0;
  virtual std::uint64_t timer_start(std::int64_t delay_ms, std::int64_t interval_ms,
                                    edri_timer_fn fn, void* user) = 0;
  virtual void timer_cancel(std::uint64_t id) = 0;
  virtual std::string stats_json() = 0;
};

}  // namespace edrid

struct edri_host_ctx {
  edrid::HostBackend* backend;
};

// A request handler's reply slot (edri_response in the ABI).
struct edri_response {
  std::uint32_t status = EDRI_STATUS_OK;
  std::string message;
  edrid::EventPtr data;
};
