// One TCP connection of a link, on its owner's io_context thread: the
// handshake (hello, HMAC auth, resume), in-order event frames with acks,
// heartbeats and dead-peer detection, and writing from the LinkState's
// replay buffer. Connector (router side) and Switch share it; they decide
// what a peer's events mean through Hooks.
#pragma once

#include "cluster/link_stream.hpp"
#include "cluster/link_state.hpp"
#include "cluster/wire.hpp"
#include "log/log_throttle.hpp"

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace edrid::cluster {

class LinkSession;

// Called on the io thread.
class LinkHooks {
 public:
  virtual ~LinkHooks() = default;
  // The peer proved who it is: the state to resume with, or nullptr (and
  // *refusal) to refuse it.
  virtual LinkState* attach(LinkSession& s, const Hello& peer, std::string* refusal) = 0;
  // Both resumes exchanged: events flow from now on.
  virtual void established(LinkSession& s) = 0;
  virtual void subscriptions(LinkSession& s, std::vector<SubscriptionEntry> entries) = 0;
  // The peer's work per group (a router's load frame).
  virtual void load(LinkSession&, std::vector<GroupLoad>) {}
  // Group events the peer (a router) finished or hands back.
  virtual void settled(LinkSession&, std::vector<Settlement>) {}
  // An event frame in sequence. `frame` is the whole frame (for forwarding).
  // Returning false means "no room now": the session holds this event and
  // every later one, unacknowledged, until retry_held() finds room.
  virtual bool event(LinkSession& s, const WireEvent& e, const std::uint8_t* frame, std::size_t len) = 0;
  // The peer acknowledged events: replay buffer space was freed.
  virtual void acked(LinkSession&) {}
  virtual void gap(LinkSession& s, const Gap& g) = 0;
  virtual void closed(LinkSession& s, const std::string& reason) = 0;
};

class LinkSession : public std::enable_shared_from_this<LinkSession> {
 public:
  using tcp = boost::asio::ip::tcp;

  LinkSession(LinkStream stream, const LinkSettings& settings, Hello self, Role expected_peer,
              LinkHooks& hooks);
  ~LinkSession();

  // Sends hello and starts reading.
  void start();
  // io thread: writes what is waiting (new frames in the state's buffer).
  void flush();
  // io thread: a frame outside the sequence (subscriptions).
  void send_control(std::string frame);
  // io thread: stop taking events from the peer: they are held here, not
  // acknowledged, so the peer keeps them for a resend. Acks, heartbeats and
  // goodbyes are still read: a stopping side waits for the acks of what it
  // sent last.
  void pause_events();
  // io thread: offers the held events to the hooks again, in order.
  void retry_held();
  // The state's ack point moved on without a read (the switch's end-to-end
  // acks): tell the peer soon.
  void ack_soon() { send_ack_if_due(); }
  bool holding() const noexcept { return held_.buffered() != 0; }
  // io thread: send our resume now (a switch holds it back while it settles).
  void release_resume();
  void set_hold_resume(bool hold) { hold_resume_ = hold; }
  // io thread: says goodbye with the last sequence sent, then closes.
  void goodbye();
  // io thread: ends the connection; tells the peer why when tell_peer.
  void close(const std::string& reason, bool tell_peer);

  const Hello& peer() const noexcept { return peer_; }
  const std::string& address() const noexcept { return address_; }
  bool established() const noexcept { return phase_ == Phase::established; }
  bool is_closed() const noexcept { return phase_ == Phase::closed; }
  // When a byte last came from the peer (io thread only).
  std::chrono::steady_clock::time_point last_heard() const noexcept { return last_rx_; }
  // Closed and nothing left to write (the socket is shut).
  bool finished() const noexcept { return phase_ == Phase::closed && !stream_.is_open(); }
  LinkState* state() const noexcept { return state_; }

 private:
  enum class Phase { hello, auth, resume, established, closed };
  void read();
  void on_read(std::size_t n);
  bool handle(const FrameSplitter::Frame& f, std::string* error);
  bool on_hello(const FrameSplitter::Frame& f, std::string* error);
  bool on_auth(const FrameSplitter::Frame& f, std::string* error);
  bool on_resume(const FrameSplitter::Frame& f, std::string* error);
  bool on_event(const FrameSplitter::Frame& f, std::string* error);
  enum class Offer { taken, refused, invalid };
  Offer offer(const std::uint8_t* body, std::size_t len, std::string* error);
  void send_resume();
  void maybe_established();
  void arm_heartbeat();
  void send_ack_if_due();
  // Adds an ack of what was received, if not acked yet, to `control`.
  void add_ack(std::vector<std::string>& control);
  bool hold_back_frames();

  LinkStream stream_;
  const LinkSettings& settings_;
  Hello self_;
  Hello peer_;
  Role expected_peer_;
  LinkHooks& hooks_;
  LinkState* state_ = nullptr;
  std::string address_;
  logging::Throttle refused_log_;
  bool loopback_ = false;

  Phase phase_ = Phase::hello;
  bool resume_sent_ = false;
  bool resume_received_ = false;
  bool hold_resume_ = false;
  bool events_paused_ = false;
  bool reading_ = false;
  bool closing_after_write_ = false;
  bool acked_since_read_ = false;

  FrameSplitter splitter_;
  std::vector<std::uint8_t> read_buf_;
  std::vector<std::string> control_out_;
  // Whole event frames the hooks had no room for, oldest first, as read: one
  // buffer, not an allocation per frame (a switch whose destination lags
  // holds most of what it reads). They are not acknowledged, so the peer's
  // own backpressure bounds them.
  FrameSplitter held_;
  std::vector<FrameSpan> writing_frames_;
  std::vector<std::string> writing_control_;
  bool writing_ = false;
  std::uint64_t last_ack_sent_ = 0;

  boost::asio::steady_timer heartbeat_;
  // An ack waits up to kAckDelay for a write to ride on (see send_ack_if_due).
  boost::asio::steady_timer ack_timer_;
  bool ack_timer_armed_ = false;
  std::size_t read_since_ack_ = 0;
  // Holds event frames back to gather more (LinkSettings::coalesce).
  boost::asio::steady_timer coalesce_timer_;
  bool coalescing_ = false;
  std::chrono::steady_clock::time_point last_frames_write_{};
  std::chrono::steady_clock::time_point last_rx_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace edrid::cluster
