// The tunnel ends whose handlers run in a worker process. The tunnels
// themselves live in the router process; an end here counts credit, so a
// sender waits before its bytes cross the socket, and turns the router's
// tunnel frames into handler calls on the worker's handler thread.
#pragma once

#include "exec/worker_protocol.hpp"

#include <edri/abi.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace edrid {

namespace worker {
class Channel;
}

class WorkerTunnels {
 public:
  // Runs a job on the worker's handler thread, after what is queued there.
  using Post = std::function<void(std::function<void()>)>;
  WorkerTunnels(worker::Channel& channel, Post post);
  ~WorkerTunnels();

  // ---- For the plugin (through the worker's host).
  // Asks the router to open a tunnel and waits for its answer.
  edri_tunnel* open(const char* type, const worker::Payload& initial, const edri_tunnel_handlers& handlers,
                    std::int64_t timeout_ms, std::uint32_t* status, std::string* reason);
  // A handler is running a tunnel offer: it may accept or refuse it.
  void begin_offer(const edri_id128& tid, std::size_t window);
  edri_tunnel* accept(const edri_event* offer, const edri_tunnel_handlers& handlers);
  void refuse(const edri_event* offer, const char* reason);
  // The offer's handler returned: what it decided, if anything.
  std::optional<std::pair<bool, std::string>> end_offer();

  // ---- Frames from the router.
  void on_opened(const worker::TunnelOpened& f);
  void on_message(const worker::TunnelMsg& f);
  void on_credit(const worker::TunnelCredit& f);
  void on_peer_closed(const worker::TunnelPeerClosed& f);
  // The router's connection is gone: every wait ends.
  void router_lost();

 private:
  class End;
  struct PendingOpen {
    edri_tunnel_handlers handlers;
    bool answered = false;
    std::uint32_t status = 0;
    std::string reason;
    std::shared_ptr<End> end;
  };
  struct Offer {
    edri_id128 tid;
    std::size_t window;
    bool decided = false;
    bool accepted = false;
    std::string reason;
  };
  using EndKey = std::pair<std::pair<std::uint64_t, std::uint64_t>, int>;
  static EndKey key(const edri_id128& id, int side) { return {{id.hi, id.lo}, side}; }

  std::shared_ptr<End> find(const edri_id128& tid, int side);
  void release_handlers(End& e);
  int send(End& e, const std::uint8_t* data, std::size_t len, std::int64_t timeout_ms, std::string* reason);
  void shutdown(End& e);
  void close(End& e, std::uint32_t status, const std::string& reason);
  void release(End& e);

  worker::Channel& channel_;
  const Post post_;
  std::uint64_t next_rid_ = 1;  // under mutex_
  std::mutex mutex_;
  std::condition_variable changed_;
  bool router_lost_ = false;
  std::map<std::uint64_t, PendingOpen> opens_;
  std::map<EndKey, std::shared_ptr<End>> ends_;
  std::optional<Offer> offer_;
};

}  // namespace edrid
