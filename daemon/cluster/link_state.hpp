// What one side of a link knows about its peer, kept across connections:
// the outbound sequence and its replay buffer, the last inbound sequence
// delivered, the peer's incarnation, and the link's counters. A connection
// (LinkSession) comes and goes; this stays, which is what lets a reconnect
// resend exactly what the peer is missing.
#pragma once

#include "cluster/cluster_settings.hpp"
#include "cluster/replay_chunk.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "router/link_snapshot.hpp"

namespace edrid::cluster {

// Why an inbound gap happened, for the log and the link.gap notification.
struct Gap {
  std::string peer;
  std::string reason;
  std::uint64_t lost = 0;  // events known lost; 0 with `unknown` set
  bool unknown = false;    // a peer restarted without draining: the loss cannot be counted
  std::uint64_t from_seq = 0, to_seq = 0;
};

class LinkState {
 public:
  // `hold_down`: how long after the link went down senders are still held
  // back (a cut link usually comes back within it; a dead peer must not
  // stall its senders for longer).
  LinkState(std::string peer_id, ReplayLimits limits,
            std::chrono::milliseconds hold_down = std::chrono::milliseconds(5'000));

  // ---- Outbound, from any thread.
  // Keeps a copy of `frame` (an event frame) for replay, with the next
  // sequence number, also as its origin sequence when `origin` is set.
  // Returns false when the link is closed for good (stopping). With
  // `wake_writer`, says whether the caller must wake the writer: only the
  // first frame since the writer last took frames does, so a busy
  // publisher wakes it once per write, not once per frame; after the
  // writer said it will come back for them (defer_writer), only the first
  // frame that is not a notification does.
  bool enqueue(std::string_view frame, bool origin, bool* wake_writer = nullptr, std::uint64_t* seq = nullptr);
  // Frames not yet written on the current connection, oldest first, about
  // `max_bytes` at most, appended to `out` as spans of adjacent frames;
  // advances the write cursor and adds the number of frames to *frames.
  // Returns false when the buffer dropped frames this connection had not
  // written yet (the caller must reconnect so the peer learns of the gap).
  bool take_unwritten(std::vector<FrameSpan>& out, std::size_t max_bytes, std::size_t* frames = nullptr);
  // What waits to be written: nothing, only notifications (which a writer
  // may hold back briefly to write more at once), or something urgent.
  enum class Unwritten { none, notifications, urgent };
  Unwritten unwritten() const;
  // The writer will take frames soon without being woken (a write it held
  // back to gather more): publishers need not wake it until it has.
  void defer_writer();
  // Backpressure. While the link is up and more than the window is
  // unacknowledged, or it went down less than `hold_down` ago and more
  // than half the replay budget is, the peer is not keeping up: a
  // publisher waits here (up to `limit`; false when it
  // gave up) rather than let the buffer overflow and lose events. A link
  // down for longer does not block: the buffer covers the rest of the
  // outage, then drops. The limit turns a publisher that is itself what the
  // peer waits on into a stall, not a deadlock.
  bool wait_for_room(std::chrono::milliseconds limit);
  bool congested() const;
  // Unacknowledged bytes fell to half the threshold that held senders back
  // (or holding back ended: the link has been down for longer than
  // hold_down).
  bool has_room() const;
  // The peer delivered everything up to seq. False if seq was never sent.
  bool acked(std::uint64_t seq);
  // Drops frames older than the age limit; returns how many.
  std::size_t expire(std::chrono::steady_clock::time_point now);
  // Everything sent has been acknowledged.
  bool drained() const;
  void close_for_good();

  // ---- Handshake (the session's thread).
  std::uint64_t tx_next() const;          // first sequence still buffered, or the next new one
  std::uint64_t last_sent() const;        // the newest sequence assigned (any thread, no lock)
  std::uint64_t peer_incarnation() const;
  std::uint64_t rx_last() const;
  // What acks tell the peer it may let go of: rx_last, but no further than
  // the ack limit. A switch sets the limit on a router's link to the last
  // frame every router it forwarded frames to has acknowledged, so a router
  // keeps each event until it is delivered end to end, and a switch killed
  // with events in flight loses none (the router resends them).
  std::uint64_t ack_point() const noexcept {
    return std::min(rx_last_.load(std::memory_order_relaxed), ack_limit_.load(std::memory_order_relaxed));
  }
  void set_ack_limit(std::uint64_t seq) noexcept { ack_limit_.store(seq, std::memory_order_relaxed); }
  static constexpr std::uint64_t kNoAckLimit = ~std::uint64_t{0};
  std::uint64_t peer_acked() const;
  // The peer's resume told us what it has of ours: write from there.
  // Returns the number of frames the peer needs that the buffer no longer has.
  std::uint64_t resume_tx(bool peer_knows_us, std::uint64_t peer_rx_last);
  // The peer's incarnation and first sequence it will send; fills *gap and
  // returns true when events from the peer were (or may have been) lost.
  bool resume_rx(std::uint64_t incarnation, std::uint64_t tx_next, Gap* gap);
  void peer_goodbye(std::uint64_t last_sent);
  // The peer said goodbye on this connection (it is stopping, not failing).
  bool peer_leaving() const;

  // ---- Inbound (the session's thread only).
  enum class Rx { deliver, duplicate, out_of_order };
  Rx receive(std::uint64_t seq);
  // Takes back receive(seq) of the last delivered sequence: its event was
  // not taken after all (held by backpressure), so it must not be acked.
  void unreceive(std::uint64_t seq);

  // ---- Status and counters.
  void set_state(std::string state);
  void note_connected(const std::string& address);
  // A read of `in` bytes, or a write of `out` bytes (counted as a write).
  void count_bytes(std::size_t in, std::size_t out);
  void count_gap(const Gap& gap);
  void count_duplicate();
  // An event frame dropped for what it says (EventFault::content), or for
  // claiming an origin other than its link's.
  void count_refused();
  std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }
  void set_peer_id(std::string id);
  std::string peer_id() const;
  void snapshot(LinkSnapshot& out) const;

 private:
  struct Entry {
    std::uint64_t seq;
    const ReplayChunk* chunk;  // kept by chunks_
    std::uint32_t offset, size;
    std::int64_t at_ns;  // coarse steady clock (same epoch as steady_clock)
  };
  void drop_front_locked();
  void pop_front_locked();
  bool holding_locked(std::chrono::steady_clock::time_point now) const;
  // The unacknowledged bytes at which senders are held back: the window
  // while the link is up (plus what is left of the replay it came up
  // with, so new events flow while the replay drains, as they would have
  // before the cut), half the budget while it is down.
  std::size_t hold_at_locked() const noexcept;
  void note_bytes_locked() noexcept;

  std::string peer_id_;
  const ReplayLimits limits_;
  const std::chrono::milliseconds hold_down_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  // Outbound.
  std::uint64_t next_seq_ = 1;
  std::atomic<std::uint64_t> last_sent_{0};  // next_seq_ - 1, read without the lock
  std::deque<Entry> buffer_;
  // The chunks buffer_'s frames lie in, oldest first; the last one takes
  // new frames.
  std::deque<boost::intrusive_ptr<ReplayChunk>> chunks_;
  std::size_t buffer_bytes_ = 0;
  // buffer_bytes_ at or above the lower of the two hold thresholds, read
  // without the lock: below it nothing is held.
  std::atomic<bool> may_hold_{false};
  std::size_t replay_left_ = 0;  // bytes buffered when the link came up, not yet acknowledged
  std::uint64_t write_cursor_ = 1;
  std::uint64_t peer_acked_ = 0;
  bool overflowed_unwritten_ = false;
  bool writer_due_ = false;       // woken, or deferred, and not back yet
  bool writer_deferred_ = false;  // deferred: an urgent frame still wakes it
  std::uint64_t urgent_seq_ = 0;  // the newest frame that is not a notification
  bool closed_ = false;
  bool up_ = false;
  std::chrono::steady_clock::time_point down_since_ = std::chrono::steady_clock::now();
  // Inbound.
  std::uint64_t peer_incarnation_ = 0;
  // Written only by the session's io thread (receive is per frame, so it
  // takes no lock); read by others for resumes and stats.
  std::atomic<std::uint64_t> rx_last_{0};
  std::atomic<std::uint64_t> ack_limit_{kNoAckLimit};
  bool peer_said_goodbye_ = false;
  std::uint64_t peer_goodbye_seq_ = 0;
  // Counters.
  std::string state_ = "connecting";
  std::string address_;
  std::uint64_t connects_ = 0;
  std::atomic<std::uint64_t> events_received_{0};  // io thread only writes, as rx_last_
  std::atomic<std::uint64_t> duplicates_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::uint64_t gaps_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t dropped_from_buffer_ = 0;
  std::uint64_t publisher_waits_ = 0;
  std::uint64_t publisher_wait_timeouts_ = 0;
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace edrid::cluster
