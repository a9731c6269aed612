#include "cluster/link_state.hpp"

#include "cluster/wire.hpp"
#include "timer/clock.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace edrid::cluster {

LinkState::LinkState(std::string peer_id, ReplayLimits limits, std::chrono::milliseconds hold_down)
    : peer_id_(std::move(peer_id)), limits_(limits), hold_down_(hold_down) {}

void LinkState::drop_front_locked() {
  if (buffer_.front().seq >= write_cursor_) overflowed_unwritten_ = true;
  pop_front_locked();
  ++dropped_from_buffer_;
}

void LinkState::pop_front_locked() {
  const std::size_t size = buffer_.front().size;
  buffer_bytes_ -= size;
  replay_left_ -= std::min(replay_left_, size);
  note_bytes_locked();
  buffer_.pop_front();
  // A chunk none of whose frames is buffered any more goes (a write in
  // flight may still hold it); the last one stays to take new frames.
  while (chunks_.size() > 1 && (buffer_.empty() || buffer_.front().chunk != chunks_.front().get())) {
    chunks_.pop_front();
  }
}

bool LinkState::enqueue(std::string_view frame, bool origin, bool* wake_writer, std::uint64_t* seq_out) {
  // Only compared against max_age (seconds): tick resolution is plenty, and
  // the precise clock cost as much as the rest of a switch's forward.
  const std::int64_t now = coarse_steady_ns();
  std::size_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (chunks_.empty() || chunks_.back()->room() < frame.size()) {
      // A frame too big for a quarter of a chunk gets a chunk of its own
      // size, so little of a chunk is ever left unused.
      const bool own = frame.size() > ReplayChunk::kCapacity / 4;
      chunks_.push_back(ReplayChunk::make(own ? frame.size() : ReplayChunk::kCapacity));
    }
    ReplayChunk& chunk = *chunks_.back();
    const std::uint32_t offset = chunk.append(frame);
    const std::uint64_t seq = next_seq_++;
    last_sent_.store(seq, std::memory_order_release);
    if (seq_out) *seq_out = seq;
    set_event_seq(chunk.at(offset), frame.size(), seq);
    if (origin) set_event_origin_seq(chunk.at(offset), frame.size(), seq);
    buffer_bytes_ += frame.size();
    note_bytes_locked();
    buffer_.push_back(Entry{seq, &chunk, offset, static_cast<std::uint32_t>(frame.size()), now});
    const bool urgent = !is_notification_frame(frame.data(), frame.size());
    if (urgent) urgent_seq_ = seq;
    if (wake_writer) {
      *wake_writer = !writer_due_ || (urgent && writer_deferred_);
      writer_due_ = true;
      if (urgent) writer_deferred_ = false;
    }
    while (buffer_bytes_ > limits_.max_bytes && buffer_.size() > 1) {
      drop_front_locked();
      ++dropped;
    }
  }
  if (dropped) {
    spdlog::warn("link to '{}': replay buffer over {} bytes, dropped {} unacknowledged events",
                 peer_id(), limits_.max_bytes, dropped);
  }
  return true;
}

bool LinkState::take_unwritten(std::vector<FrameSpan>& out, std::size_t max_bytes, std::size_t* frames) {
  std::lock_guard lock(mutex_);
  writer_due_ = false;
  writer_deferred_ = false;
  if (overflowed_unwritten_) return false;
  if (buffer_.empty() || write_cursor_ > buffer_.back().seq) return true;
  std::size_t i = write_cursor_ >= buffer_.front().seq ? write_cursor_ - buffer_.front().seq : 0;
  const std::size_t first = i;
  std::size_t bytes = 0;
  for (; i < buffer_.size() && bytes < max_bytes; ++i) {
    const Entry& e = buffer_[i];
    bytes += e.size;
    if (i > first && out.back().chunk.get() == e.chunk && out.back().offset + out.back().size == e.offset) {
      out.back().size += e.size;
    } else {
      out.push_back(FrameSpan{boost::intrusive_ptr<const ReplayChunk>(e.chunk), e.offset, e.size});
    }
    write_cursor_ = e.seq + 1;
  }
  if (frames) *frames += i - first;
  return true;
}

void LinkState::defer_writer() {
  std::lock_guard lock(mutex_);
  writer_due_ = true;
  writer_deferred_ = true;
}

LinkState::Unwritten LinkState::unwritten() const {
  std::lock_guard lock(mutex_);
  if (overflowed_unwritten_) return Unwritten::urgent;
  if (buffer_.empty() || write_cursor_ > buffer_.back().seq) return Unwritten::none;
  return urgent_seq_ >= write_cursor_ ? Unwritten::urgent : Unwritten::notifications;
}

std::uint64_t LinkState::peer_acked() const {
  std::lock_guard lock(mutex_);
  return peer_acked_;
}

bool LinkState::acked(std::uint64_t seq) {
  {
    std::lock_guard lock(mutex_);
    if (seq >= next_seq_) return false;
    if (seq > peer_acked_) peer_acked_ = seq;
    while (!buffer_.empty() && buffer_.front().seq <= seq) pop_front_locked();
  }
  room_.notify_all();
  return true;
}

std::size_t LinkState::hold_at_locked() const noexcept {
  const std::size_t half = limits_.max_bytes / 2;
  return up_ ? std::min(limits_.window_bytes + replay_left_, half) : half;
}

bool LinkState::holding_locked(std::chrono::steady_clock::time_point now) const {
  return buffer_bytes_ >= hold_at_locked() && (up_ || now - down_since_ < hold_down_);
}

void LinkState::note_bytes_locked() noexcept {
  may_hold_.store(buffer_bytes_ >= std::min(limits_.window_bytes, limits_.max_bytes / 2),
                  std::memory_order_relaxed);
}

bool LinkState::wait_for_room(std::chrono::milliseconds limit) {
  // Every send asks; nearly always the buffer is far from full.
  if (!may_hold_.load(std::memory_order_relaxed)) return true;
  std::unique_lock lock(mutex_);
  auto free = [&] { return closed_ || !holding_locked(std::chrono::steady_clock::now()); };
  if (free()) return true;
  ++publisher_waits_;
  const auto until = std::chrono::steady_clock::now() + limit;
  // Wakes on acks and state changes; the bounded wait also notices the end
  // of hold_down, which nothing signals.
  while (!room_.wait_until(lock, std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(250)),
                           free)) {
    if (std::chrono::steady_clock::now() >= until) {
      ++publisher_wait_timeouts_;
      spdlog::warn("link to '{}': the peer has not acknowledged {} bytes for {} ms; sending anyway", peer_id_,
                   buffer_bytes_, limit.count());
      return false;
    }
  }
  return true;
}

bool LinkState::congested() const {
  // Asked for every event a switch forwards; holding needs this anyway.
  if (!may_hold_.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(mutex_);
  return holding_locked(std::chrono::steady_clock::now());
}

bool LinkState::has_room() const {
  std::lock_guard lock(mutex_);
  return buffer_bytes_ <= hold_at_locked() / 2 ||
         (!up_ && std::chrono::steady_clock::now() - down_since_ >= hold_down_);
}

std::size_t LinkState::expire(std::chrono::steady_clock::time_point now) {
  std::size_t n = 0;
  {
    std::lock_guard lock(mutex_);
    const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    while (!buffer_.empty() && std::chrono::nanoseconds(now_ns - buffer_.front().at_ns) > limits_.max_age) {
      drop_front_locked();
      ++n;
    }
  }
  if (n) {
    spdlog::warn("link to '{}': {} unacknowledged events older than {} ms dropped from the replay buffer",
                 peer_id(), n, limits_.max_age.count());
  }
  return n;
}

bool LinkState::drained() const {
  std::lock_guard lock(mutex_);
  return buffer_.empty();
}

void LinkState::close_for_good() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  room_.notify_all();
}

std::uint64_t LinkState::tx_next() const {
  std::lock_guard lock(mutex_);
  return buffer_.empty() ? next_seq_ : buffer_.front().seq;
}

std::uint64_t LinkState::last_sent() const { return last_sent_.load(std::memory_order_acquire); }

std::uint64_t LinkState::peer_incarnation() const {
  std::lock_guard lock(mutex_);
  return peer_incarnation_;
}

std::uint64_t LinkState::rx_last() const { return rx_last_.load(std::memory_order_relaxed); }

std::uint64_t LinkState::resume_tx(bool peer_knows_us, std::uint64_t peer_rx_last) {
  std::lock_guard lock(mutex_);
  overflowed_unwritten_ = false;
  const std::uint64_t front = buffer_.empty() ? next_seq_ : buffer_.front().seq;
  if (!peer_knows_us) {
    // A new peer (or a new incarnation of it): it has nothing of ours, so
    // everything still buffered goes again. Its receivers drop what they
    // already had by origin sequence.
    write_cursor_ = front;
    return 0;
  }
  // Whatever the peer has is acknowledged now.
  while (!buffer_.empty() && buffer_.front().seq <= peer_rx_last) pop_front_locked();
  if (peer_rx_last > peer_acked_ && peer_rx_last < next_seq_) peer_acked_ = peer_rx_last;
  const std::uint64_t now_front = buffer_.empty() ? next_seq_ : buffer_.front().seq;
  write_cursor_ = std::max(now_front, peer_rx_last + 1);
  return now_front > peer_rx_last + 1 ? now_front - peer_rx_last - 1 : 0;
}

bool LinkState::resume_rx(std::uint64_t incarnation, std::uint64_t tx_next, Gap* gap) {
  std::lock_guard lock(mutex_);
  bool lost = false;
  if (incarnation == peer_incarnation_) {
    if (tx_next > rx_last_ + 1) {
      gap->reason = "replay buffer overflow";
      gap->from_seq = rx_last_ + 1;
      gap->to_seq = tx_next - 1;
      gap->lost = tx_next - rx_last_ - 1;
      lost = true;
      rx_last_ = tx_next - 1;
    }
  } else {
    if (peer_incarnation_ != 0 && !(peer_said_goodbye_ && peer_goodbye_seq_ == rx_last_)) {
      gap->reason = "peer restarted as a new incarnation without draining";
      gap->unknown = true;
      lost = true;
    }
    peer_incarnation_ = incarnation;
    rx_last_ = tx_next - 1;
  }
  peer_said_goodbye_ = false;
  if (lost) gap->peer = peer_id_;
  return lost;
}

void LinkState::peer_goodbye(std::uint64_t last_sent) {
  std::lock_guard lock(mutex_);
  peer_said_goodbye_ = true;
  peer_goodbye_seq_ = last_sent;
}

bool LinkState::peer_leaving() const {
  std::lock_guard lock(mutex_);
  return peer_said_goodbye_;
}

LinkState::Rx LinkState::receive(std::uint64_t seq) {
  const std::uint64_t last = rx_last_.load(std::memory_order_relaxed);
  if (seq <= last) {
    duplicates_.fetch_add(1, std::memory_order_relaxed);
    return Rx::duplicate;
  }
  if (seq != last + 1) return Rx::out_of_order;
  rx_last_.store(seq, std::memory_order_relaxed);
  events_received_.store(events_received_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return Rx::deliver;
}

void LinkState::unreceive(std::uint64_t seq) {
  if (seq != rx_last_.load(std::memory_order_relaxed) || seq == 0) return;
  rx_last_.store(seq - 1, std::memory_order_relaxed);
  events_received_.store(events_received_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void LinkState::set_state(std::string state) {
  {
    std::lock_guard lock(mutex_);
    const bool up = state == "up";
    if (up_ && !up) down_since_ = std::chrono::steady_clock::now();
    if (!up_ && up) replay_left_ = buffer_bytes_;
    up_ = up;
    state_ = std::move(state);
  }
  room_.notify_all();
}

void LinkState::note_connected(const std::string& address) {
  std::lock_guard lock(mutex_);
  address_ = address;
  ++connects_;
}

void LinkState::count_bytes(std::size_t in, std::size_t out) {
  std::lock_guard lock(mutex_);
  bytes_in_ += in;
  bytes_out_ += out;
  if (out) ++writes_;
}

void LinkState::count_gap(const Gap& gap) {
  std::lock_guard lock(mutex_);
  ++gaps_;
  lost_ += gap.lost;
}

void LinkState::count_duplicate() {
  duplicates_.fetch_add(1, std::memory_order_relaxed);
}

void LinkState::set_peer_id(std::string id) {
  std::lock_guard lock(mutex_);
  peer_id_ = std::move(id);
}

std::string LinkState::peer_id() const {
  std::lock_guard lock(mutex_);
  return peer_id_;
}

void LinkState::count_refused() { refused_.fetch_add(1, std::memory_order_relaxed); }

void LinkState::snapshot(LinkSnapshot& s) const {
  std::lock_guard lock(mutex_);
  s.peer = peer_id_;
  s.state = state_;
  s.address = address_;
  s.peer_incarnation = peer_incarnation_;
  s.sent_seq = next_seq_ - 1;
  s.acked_seq = peer_acked_;
  s.received_seq = rx_last_.load(std::memory_order_relaxed);
  s.events_received = events_received_.load(std::memory_order_relaxed);
  s.replay_frames = buffer_.size();
  s.replay_bytes = buffer_bytes_;
  s.replay_dropped = dropped_from_buffer_;
  s.publisher_waits = publisher_waits_;
  s.publisher_wait_timeouts = publisher_wait_timeouts_;
  s.duplicates_dropped = duplicates_.load(std::memory_order_relaxed);
  s.refused_frames = refused_.load(std::memory_order_relaxed);
  s.reconnects = connects_ > 0 ? connects_ - 1 : 0;
  s.gaps = gaps_;
  s.events_lost = lost_;
  s.bytes_in = bytes_in_;
  s.bytes_out = bytes_out_;
  s.writes = writes_;
}

}  // namespace edrid::cluster
