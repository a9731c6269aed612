// A tunnel: an ordered, flow-controlled, two-way byte stream between two
// managers' handlers, opened by one (side 0) and accepted by the other
// (side 1). Each end runs either here, its callbacks queued on its manager
// like any other work (so they run on its executor, one at a time, in
// order), or in a worker process, reached through a TunnelSink.
//
// Flow control is by credit: a sender may have at most `window` bytes that
// the receiver's handler has not finished with; past that it waits. So a
// slow receiver pauses a fast sender and memory stays bounded by the window.
#pragma once

#include "event/event.hpp"
#include "plugin/host_backend.hpp"
#include "tunnel/tunnel_owner.hpp"

#include <edri/abi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace edrid {

class TunnelTable;

// The way to an end whose code runs in a worker process.
class TunnelSink {
 public:
  virtual ~TunnelSink() = default;
  virtual void message(const edri_id128& tunnel, int side, const std::uint8_t* data, std::size_t len) = 0;
  virtual void credit(const edri_id128& tunnel, int side, std::size_t bytes) = 0;
  // The peer sends nothing more; `over`: the whole tunnel ended (sends fail).
  virtual void peer_closed(const edri_id128& tunnel, int side, std::uint32_t status, const std::string& reason,
                           bool over) = 0;
};

struct TunnelBinding {
  TunnelOwner* owner = nullptr;      // null: the far end is on another router
  edri_tunnel_handlers handlers{};    // an end running here
  std::shared_ptr<TunnelSink> sink;  // an end running in a worker
};

class Tunnel : public std::enable_shared_from_this<Tunnel> {
 public:
  static constexpr int kOpener = 0;
  static constexpr int kAcceptor = 1;
  using OpenDone = std::function<void(std::uint32_t status, const std::string& reason, std::shared_ptr<Tunnel>)>;

  Tunnel(TunnelTable& table, edri_id128 id, std::string type, std::size_t window, TunnelBinding opener,
         OpenDone done);
  ~Tunnel();

  const edri_id128& id() const noexcept { return id_; }
  const std::string& type() const noexcept { return type_; }
  std::size_t window() const noexcept { return window_; }

  // ---- Opening. Each returns false when the offer was decided already.
  bool accept(TunnelBinding acceptor);
  bool refuse(std::uint32_t status, const std::string& reason);

  // ---- Either end. `credit_checked`: a worker end waited for credit itself.
  int send(int side, const std::uint8_t* data, std::size_t len, std::int64_t timeout_ms, std::string* reason,
           bool credit_checked);
  void shutdown(int side);
  void close(int side, std::uint32_t status, const std::string& reason);
  // The owner let go of its end; closes what is still open.
  void release(int side);
  // A worker end finished handling `bytes` of messages.
  void consumed(int side, std::size_t bytes);
  // Ends the tunnel from outside (idle, a manager stopping): both ends are told.
  void abort(const std::string& reason);
  // The worker running `side` is gone: its peer is told why.
  void lost(int side, const std::string& why);

  // Runs the queued callbacks of a local end (a Delivery on its manager).
  void run_end(int side);
  bool uses_sink(const TunnelSink* sink) const;
  bool uses_owner(const TunnelOwner* owner) const;
  int side_of(const TunnelSink* sink) const;
  bool idle_for(std::chrono::steady_clock::duration d, std::chrono::steady_clock::time_point now) const;
  bool over() const;
  void stats_json(nlohmann::json& out) const;

 private:
  struct End {
    TunnelBinding bind;
    bool bound = false;
    // Receiving.
    std::deque<std::vector<std::uint8_t>> inbox;
    bool scheduled = false;
    std::optional<std::pair<std::uint32_t, std::string>> notice;  // on_peer_closed, pending
    bool notice_done = false;
    bool discard = false;  // closed or released by its owner: no more callbacks
    bool handlers_released = false;
    // Sending.
    std::size_t in_flight = 0;
    std::size_t max_in_flight = 0;
    bool send_done = false;
    std::uint64_t bytes = 0, messages = 0;
  };
  void deliver(int to, const std::uint8_t* data, std::size_t len);
  void schedule(int side);
  void give_credit(int sender, std::size_t bytes);
  void tell_peer_closed(int to, std::uint32_t status, const std::string& reason);
  // Handlers to release now (outside the lock), if this end is finished.
  std::optional<edri_tunnel_handlers> finish_locked(int side);
  void end_tunnel_locked(const std::string& reason);
  void release_handlers(std::optional<edri_tunnel_handlers> h);

  TunnelTable& table_;
  const edri_id128 id_;
  const std::string type_;
  const std::size_t window_;
  const std::chrono::steady_clock::time_point opened_at_ = std::chrono::steady_clock::now();

  mutable std::mutex mutex_;
  std::condition_variable credit_;
  End ends_[2];
  enum class Open { pending, accepted, refused } open_ = Open::pending;
  OpenDone done_;
  bool over_ = false;  // closed, aborted, or both sides finished sending
  std::string over_reason_;
  std::chrono::steady_clock::time_point last_activity_ = opened_at_;
};

// What a plugin holds for an end running in this process.
class LocalTunnelEnd final : public edri_tunnel {
 public:
  LocalTunnelEnd(std::shared_ptr<Tunnel> t, int side) : tunnel_(std::move(t)), side_(side) {}
  int send(const std::uint8_t* data, std::size_t len, std::int64_t timeout_ms, std::string* reason) override;
  void shutdown() override;
  void close(std::uint32_t status, const std::string& reason) override;
  void release() override;

 private:
  std::shared_ptr<Tunnel> tunnel_;
  int side_;
};

}  // namespace edrid
