// The router-side bridge between one worker's frames and the host its
// handlers reach: a worker's logs, sends, requests and tunnel frames become
// calls on the manager's host and tunnels, and their answers (responses,
// tunnel traffic) become frames back. Task frames and their answers are the
// executor's business, not this.
#pragma once

#include "exec/worker_protocol.hpp"
#include "tunnel/tunnel.hpp"

#include <sys/types.h>

#include <memory>

namespace edrid {

class ExecutionSite;

namespace worker {
class Channel;
}

class WorkerBridge {
 public:
  WorkerBridge(ExecutionSite& site, pid_t pid, std::shared_ptr<worker::Channel> channel);
  ~WorkerBridge();
  WorkerBridge(const WorkerBridge&) = delete;
  WorkerBridge& operator=(const WorkerBridge&) = delete;

  // Serves a frame other than Done; `running` is the task the worker is
  // running (the events it sends carry its trace), or null.
  void serve(const worker::Frame& frame, const Event* running);
  // The worker ran a tunnel offer and decided on it.
  void decide_tunnel(const Event& offer, const worker::TunnelDecision& decision);
  // The worker is gone: tunnel ends it held learn why.
  void gone(const std::string& why);

 private:
  class TunnelFrames;
  void serve_tunnel(const worker::Frame& frame);

  ExecutionSite& site_;
  const pid_t pid_;
  std::shared_ptr<worker::Channel> channel_;
  std::shared_ptr<TunnelFrames> tunnels_;  // the tunnel ends running in this worker
};

}  // namespace edrid
