// What an executor needs from the manager it runs work for: to run a piece
// of work here, to account for work run elsewhere (a worker process), and,
// for worker processes, the host their handlers talk to and the tunnels and
// timers they use. The manager runtime implements it; executors know
// nothing above this.
#pragma once

#include "queue/delivery.hpp"
#include "tunnel/tunnel.hpp"

#include <edri/abi.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace edrid {

class HostBackend;
class TimerService;
class TunnelTable;

class ExecutionSite : public TunnelOwner {
 public:
  // ---- Running work in this process.
  // Runs d on the calling thread; `slot` < the executor's slots (+1).
  virtual void execute(Delivery& d, std::size_t slot) = 0;
  // Handlers running in this process now.
  virtual std::size_t running_tasks() const noexcept = 0;

  // ---- Accounting for work run elsewhere.
  // For an event delivery: false if it should be skipped (a response with
  // no handler, a request past its deadline or cancelled).
  virtual bool admit(Delivery& d) = 0;
  virtual void task_started(std::size_t slot) noexcept = 0;
  virtual void task_stopped(std::size_t slot) noexcept = 0;
  // The end of a task: counts, logs a failure with the trace id, answers a
  // request with resp (or with the error).
  virtual void task_finished(const Event& ev, const char* error, edri_response* resp) = 0;
  void task_finished(std::size_t slot, const Event& ev, const char* error, edri_response* resp) {
    task_stopped(slot);
    task_finished(ev, error, resp);
  }
  // The task's handler asked for it to go again in delay_ms (retry_later).
  virtual void task_later(const Event& ev, std::int64_t delay_ms) = 0;
  // A worker process died or was killed.
  virtual void count_crash() noexcept = 0;

  // ---- For worker processes.
  virtual const std::string& config_json() const noexcept = 0;
  virtual spdlog::logger& logger() noexcept = 0;
  // The host a worker's handlers reach: sends, logs, under this manager.
  virtual HostBackend& host() noexcept = 0;
  virtual TimerService& timers() noexcept = 0;
  virtual TunnelTable& tunnels() noexcept = 0;
  // Opens a tunnel from this manager to a manager serving `type`.
  virtual void open_tunnel(EventPtr offer, const std::string& type, TunnelBinding opener, std::int64_t timeout_ms,
                           Tunnel::OpenDone done) = 0;

 protected:
  ~ExecutionSite() = default;
};

}  // namespace edrid
