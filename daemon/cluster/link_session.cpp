#include "cluster/link_session.hpp"

#include "cluster/link_auth.hpp"

#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

namespace edrid::cluster {
namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kWriteBatch = 256 * 1024;
// How long an ack may wait for a frame to ride with, and how much may be
// read meanwhile. Far below what holds a sender back (replay.window_bytes),
// so senders never notice; but a request's round trip no longer wakes each
// hop's peer an extra time for an ack of its own.
constexpr auto kAckDelay = std::chrono::milliseconds(1);
constexpr std::size_t kAckBytes = 256 * 1024;

const char* role_name(Role r) { return r == Role::switch_ ? "switch" : "router"; }
}  // namespace

LinkSession::LinkSession(LinkStream stream, const LinkSettings& settings, Hello self,
                         Role expected_peer, LinkHooks& hooks)
    : stream_(std::move(stream)),
      settings_(settings),
      self_(std::move(self)),
      expected_peer_(expected_peer),
      hooks_(hooks),
      splitter_(std::min(settings.max_frame, LinkSettings::kPreAuthFrame)),
      read_buf_(kReadChunk),
      held_(settings.max_frame),
      heartbeat_(stream_.socket().get_executor()),
      ack_timer_(stream_.socket().get_executor()),
      coalesce_timer_(stream_.socket().get_executor()) {
  boost::system::error_code ec;
  const auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec) {
    address_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    loopback_ = ep.address().is_loopback();
  } else {
    address_ = "(unknown)";
  }
  stream_.socket().set_option(tcp::no_delay(true), ec);
  self_.nonce = random_nonce();
}

LinkSession::~LinkSession() = default;

void LinkSession::start() {
  last_rx_ = started_ = std::chrono::steady_clock::now();
  send_control(encode_hello(self_));
  arm_heartbeat();
  read();
}

void LinkSession::read() {
  if (reading_ || phase_ == Phase::closed) return;
  reading_ = true;
  stream_.async_read_some(boost::asio::buffer(read_buf_),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                            self->reading_ = false;
                            if (self->phase_ == Phase::closed) return;
                            if (ec) {
                              self->close(ec == boost::asio::error::eof ? "peer closed the connection"
                                                                        : "read: " + ec.message(),
                                          false);
                              return;
                            }
                            self->on_read(n);
                          });
}

void LinkSession::on_read(std::size_t n) {
  last_rx_ = std::chrono::steady_clock::now();
  read_since_ack_ += n;
  if (state_) state_->count_bytes(n, 0);
  splitter_.feed(read_buf_.data(), n);
  FrameSplitter::Frame f{};
  std::string error;
  for (;;) {
    if (phase_ == Phase::closed) break;
    const auto r = splitter_.next(f, &error);
    if (r == FrameSplitter::Next::need_more) break;
    if (r == FrameSplitter::Next::error || !handle(f, &error)) {
      spdlog::warn("link {} ({}): {}; closing", peer_.router_id.empty() ? "?" : peer_.router_id,
                   address_, error);
      close(error, true);
      return;
    }
  }
  send_ack_if_due();
  if (acked_since_read_) {
    acked_since_read_ = false;
    hooks_.acked(*this);
  }
  read();
}

bool LinkSession::handle(const FrameSplitter::Frame& f, std::string* error) {
  const auto type = static_cast<FrameType>(f.type);
  if (type == FrameType::close) {
    auto reason = decode_close(f.body, f.len, error);
    if (!reason) return false;
    spdlog::warn("link {} ({}): peer closed the link: {}", peer_.router_id, address_, *reason);
    close("peer closed the link: " + *reason, false);
    return true;
  }
  switch (phase_) {
    case Phase::hello:
      if (type != FrameType::hello) break;
      return on_hello(f, error);
    case Phase::auth:
      if (type != FrameType::auth) break;
      return on_auth(f, error);
    case Phase::resume:
    case Phase::established:
      switch (type) {
        case FrameType::resume:
          if (resume_received_) break;
          return on_resume(f, error);
        case FrameType::subscriptions: {
          auto entries = decode_subscriptions(f.body, f.len, error);
          if (!entries) return false;
          hooks_.subscriptions(*this, std::move(*entries));
          return true;
        }
        case FrameType::load: {
          auto loads = decode_load(f.body, f.len, error);
          if (!loads) return false;
          hooks_.load(*this, std::move(*loads));
          return true;
        }
        case FrameType::settled: {
          auto settled = decode_settled(f.body, f.len, error);
          if (!settled) return false;
          hooks_.settled(*this, std::move(*settled));
          return true;
        }
        case FrameType::event:
          if (phase_ != Phase::established) break;
          return on_event(f, error);
        case FrameType::ack:
        case FrameType::heartbeat: {
          auto seq = decode_u64(f.body, f.len, error);
          if (!seq) return false;
          // Heartbeats carry an ack too; before resume there is nothing to ack.
          if (resume_received_ && *seq > 0) {
            if (!state_->acked(*seq)) {
              *error = "ack of sequence " + std::to_string(*seq) + " that was never sent";
              return false;
            }
            acked_since_read_ = true;
          }
          return true;
        }
        case FrameType::goodbye: {
          auto seq = decode_u64(f.body, f.len, error);
          if (!seq) return false;
          state_->peer_goodbye(*seq);
          spdlog::info("link {} ({}): peer is stopping (last sequence {})", peer_.router_id, address_, *seq);
          return true;
        }
        default:
          break;
      }
      break;
    case Phase::closed:
      return true;
  }
  *error = std::string("unexpected ") + frame_type_name(f.type) + " frame (type " +
           std::to_string(f.type) + ") during the " +
           (phase_ == Phase::hello ? "hello" : phase_ == Phase::auth ? "auth" : "link") + " phase";
  return false;
}

bool LinkSession::on_hello(const FrameSplitter::Frame& f, std::string* error) {
  auto h = decode_hello(f.body, f.len, error);
  if (!h) return false;
  if (h->version != kProtocolVersion) {
    *error = "peer speaks protocol version " + std::to_string(h->version) + ", this side " +
             std::to_string(kProtocolVersion);
    return false;
  }
  if (h->role != expected_peer_) {
    *error = std::string("peer is a ") + role_name(h->role) + ", expected a " + role_name(expected_peer_);
    return false;
  }
  if (h->router_id == self_.router_id) {
    *error = "peer has this side's own id '" + self_.router_id + "'";
    return false;
  }
  peer_ = std::move(*h);
  phase_ = Phase::auth;
  send_control(encode_auth(Auth{auth_mac(settings_.secret, self_, peer_)}));
  return true;
}

bool LinkSession::on_auth(const FrameSplitter::Frame& f, std::string* error) {
  auto a = decode_auth(f.body, f.len, error);
  if (!a) return false;
  // TLS that verified the peer's certificate (a router always verifies the
  // switch; a switch with tls.ca requires routers' certificates)
  // authenticates the peer as a secret would.
  const bool tls_verified = stream_.secure() && (expected_peer_ == Role::switch_ || !settings_.tls.ca.empty());
  if (settings_.secret.empty()) {
    if (!a->mac.empty()) {
      *error = "authentication refused: the peer uses a secret and this side has none";
      return false;
    }
    if (!loopback_ && !settings_.insecure && !tls_verified) {
      *error = "authentication refused: no secret configured, so only loopback peers are accepted "
               "(set secret_file, tls with a ca, or insecure: true)";
      return false;
    }
  } else if (!mac_equal(a->mac, auth_mac(settings_.secret, peer_, self_))) {
    *error = a->mac.empty() ? "authentication refused: the peer sent no credentials (no secret configured there)"
                            : "authentication refused: wrong secret";
    return false;
  }
  std::string refusal;
  state_ = hooks_.attach(*this, peer_, &refusal);
  if (!state_) {
    *error = "refused: " + refusal;
    return false;
  }
  if (!loopback_ && settings_.secret.empty() && !tls_verified) {
    spdlog::warn("link {} ({}): accepted without a secret from a non-loopback address because insecure: true; "
                 "anyone who can reach this port can link",
                 peer_.router_id, address_);
  }
  state_->note_connected(address_);
  state_->set_state("resuming");
  phase_ = Phase::resume;
  splitter_.set_max_frame(settings_.max_frame);
  spdlog::info("link {} ({}): authenticated, incarnation {}", peer_.router_id, address_, peer_.incarnation);
  if (!hold_resume_) send_resume();
  return true;
}

void LinkSession::send_resume() {
  if (resume_sent_ || phase_ == Phase::closed || !state_) return;
  Resume r;
  r.known_incarnation = state_->peer_incarnation();
  r.rx_last = state_->ack_point();
  r.tx_next = state_->tx_next();
  resume_sent_ = true;
  last_ack_sent_ = r.rx_last;
  send_control(encode_resume(r));
  maybe_established();
}

void LinkSession::release_resume() {
  hold_resume_ = false;
  if (phase_ == Phase::resume) send_resume();
}

bool LinkSession::on_resume(const FrameSplitter::Frame& f, std::string* error) {
  auto r = decode_resume(f.body, f.len, error);
  if (!r) return false;
  const bool knows_us = r->known_incarnation == self_.incarnation;
  if (knows_us && r->rx_last > state_->last_sent()) {
    *error = "peer claims sequence " + std::to_string(r->rx_last) + ", beyond the last sent (" +
             std::to_string(state_->last_sent()) + ")";
    return false;
  }
  if (const std::uint64_t missing = state_->resume_tx(knows_us, r->rx_last)) {
    spdlog::warn("link {}: the peer needs {} events the replay buffer no longer has", peer_.router_id,
                 missing);
  }
  Gap gap;
  if (state_->resume_rx(peer_.incarnation, r->tx_next, &gap)) {
    state_->count_gap(gap);
    hooks_.gap(*this, gap);
  }
  resume_received_ = true;
  maybe_established();
  return true;
}

void LinkSession::maybe_established() {
  if (!resume_sent_ || !resume_received_ || phase_ != Phase::resume) return;
  phase_ = Phase::established;
  state_->set_state("up");
  hooks_.established(*this);
  flush();
}

bool LinkSession::on_event(const FrameSplitter::Frame& f, std::string* error) {
  if (!holding() && !events_paused_) {
    switch (offer(f.body, f.len, error)) {
      case Offer::taken:
        return true;
      case Offer::invalid:
        return false;
      case Offer::refused:
        break;
    }
  }
  // Behind a held event, or refused itself: keep it in order.
  held_.feed(f.body - kFrameHead, f.len + kFrameHead);
  return true;
}

LinkSession::Offer LinkSession::offer(const std::uint8_t* body, std::size_t len, std::string* error) {
  WireEvent e;
  EventFault fault = EventFault::none;
  const bool decoded = decode_event(body, len, e, error, &fault);
  if (!decoded && fault != EventFault::content) return Offer::invalid;
  switch (state_->receive(e.seq)) {
    case LinkState::Rx::duplicate:
      return Offer::taken;
    case LinkState::Rx::out_of_order:
      *error = "out-of-order event frame (sequence " + std::to_string(e.seq) + ", expected " +
               std::to_string(state_->rx_last() + 1) + ")";
      return Offer::invalid;
    case LinkState::Rx::deliver:
      break;
  }
  if (!decoded) {
    // Received, acknowledged and dropped: see EventFault::content.
    state_->count_refused();
    refused_log_.warn([&](std::uint64_t more) {
      spdlog::warn("link {} ({}): dropped event frame {}: {} (refused frames are counted as refused_frames; "
                   "{} more since the last line)",
                   peer_.router_id, address_, e.seq, *error, more);
    });
    return Offer::taken;
  }
  if (hooks_.event(*this, e, body - kFrameHead, len + kFrameHead)) return Offer::taken;
  // Held back: not received yet, so not acknowledged (rare; the common
  // path takes the state's lock once).
  state_->unreceive(e.seq);
  return Offer::refused;
}

void LinkSession::retry_held() {
  if (phase_ != Phase::established || events_paused_) return;
  const bool was_holding = holding();
  FrameSplitter::Frame f{};
  std::string error;
  while (held_.next(f, &error) == FrameSplitter::Next::frame) {
    const Offer o = offer(f.body, f.len, &error);
    if (o == Offer::refused) {
      held_.unget(f);
      break;
    }
    if (o == Offer::invalid) {
      spdlog::warn("link {} ({}): {}; closing", peer_.router_id, address_, error);
      close(error, true);
      return;
    }
  }
  held_.release_if_empty(1u << 20);
  if (was_holding) send_ack_if_due();
}

// An ack goes with the next write, or on its own after kAckDelay, or at
// once when kAckBytes were read since the last.
void LinkSession::send_ack_if_due() {
  if (!state_ || !resume_sent_ || phase_ == Phase::closed) return;
  if (state_->ack_point() <= last_ack_sent_) return;
  if (read_since_ack_ >= kAckBytes) {
    add_ack(control_out_);
    flush();
    return;
  }
  if (ack_timer_armed_) return;
  ack_timer_armed_ = true;
  ack_timer_.expires_after(kAckDelay);
  ack_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->ack_timer_armed_ = false;
    if (ec || self->phase_ == Phase::closed || !self->state_) return;
    if (self->state_->ack_point() > self->last_ack_sent_) {
      self->add_ack(self->control_out_);
      self->flush();
    }
  });
}

void LinkSession::add_ack(std::vector<std::string>& control) {
  if (!state_ || !resume_sent_) return;
  const std::uint64_t rx = state_->ack_point();
  if (rx <= last_ack_sent_) return;
  last_ack_sent_ = rx;
  read_since_ack_ = 0;
  control.push_back(encode_u64_frame(FrameType::ack, rx));
}

void LinkSession::send_control(std::string frame) {
  if (phase_ == Phase::closed) return;
  control_out_.push_back(std::move(frame));
  flush();
}

// Whether to leave the frames waiting for the coalesce timer: they are all
// notifications, and the last write of frames was under `coalesce` ago (they
// keep coming). Requests, responses and the rest go at once: someone waits
// on each, and two of them often follow within the interval (a fanout,
// then the response).
bool LinkSession::hold_back_frames() {
  if (settings_.coalesce.count() == 0 || !control_out_.empty() || phase_ != Phase::established ||
      closing_after_write_ || state_->unwritten() != LinkState::Unwritten::notifications) {
    return false;
  }
  if (coalescing_) return true;
  const auto due = last_frames_write_ + settings_.coalesce;
  if (std::chrono::steady_clock::now() >= due) return false;
  coalescing_ = true;
  state_->defer_writer();
  coalesce_timer_.expires_at(due);
  coalesce_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->coalescing_ = false;
    if (!ec) self->flush();
  });
  return true;
}

void LinkSession::flush() {
  if (writing_ || (phase_ == Phase::closed && !closing_after_write_)) return;
  if (hold_back_frames()) return;
  writing_control_.swap(control_out_);
  control_out_.clear();
  writing_frames_.clear();
  if (phase_ == Phase::established && state_ && !closing_after_write_) {
    if (!state_->take_unwritten(writing_frames_, kWriteBatch)) {
      // Frames this connection never wrote were dropped from the buffer: a
      // fresh resume tells the peer exactly what is gone.
      close("replay buffer overflowed while connected; reconnecting to resynchronise", true);
      return;
    }
  }
  if (!writing_frames_.empty()) last_frames_write_ = std::chrono::steady_clock::now();
  if ((!writing_control_.empty() || !writing_frames_.empty()) && phase_ == Phase::established) {
    add_ack(writing_control_);  // a write is going out anyway: a waiting ack rides with it
  }
  if (writing_control_.empty() && writing_frames_.empty()) {
    if (closing_after_write_) stream_.close();
    return;
  }
  std::vector<boost::asio::const_buffer> bufs;
  bufs.reserve(writing_control_.size() + writing_frames_.size());
  std::size_t total = 0;
  for (const auto& c : writing_control_) {
    bufs.emplace_back(c.data(), c.size());
    total += c.size();
  }
  for (const auto& span : writing_frames_) {
    bufs.emplace_back(span.data(), span.size);
    total += span.size;
  }
  writing_ = true;
  stream_.async_write(bufs,
                           [self = shared_from_this(), total](const boost::system::error_code& ec, std::size_t) {
                             self->writing_ = false;
                             self->writing_control_.clear();
                             self->writing_frames_.clear();
                             if (ec) {
                               self->closing_after_write_ = false;
                               self->close("write: " + ec.message(), false);
                               return;
                             }
                             if (self->state_) self->state_->count_bytes(0, total);
                             self->flush();
                           });
}

void LinkSession::arm_heartbeat() {
  heartbeat_.expires_after(settings_.heartbeat);
  heartbeat_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->phase_ == Phase::closed) return;
    const auto now = std::chrono::steady_clock::now();
    if ((self->phase_ == Phase::hello || self->phase_ == Phase::auth) &&
        now - self->started_ > self->settings_.handshake) {
      const std::string why = "handshake not finished within " + std::to_string(self->settings_.handshake.count()) + " ms";
      spdlog::warn("link {} ({}): {}; closing", self->peer_.router_id.empty() ? "?" : self->peer_.router_id,
                   self->address_, why);
      self->close(why, false);
      return;
    }
    const auto silent = now - self->last_rx_;
    if (silent > self->settings_.dead_peer) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
      spdlog::warn("link {} ({}): nothing heard for {} ms; closing", self->peer_.router_id, self->address_, ms);
      self->close("dead peer: nothing heard for " + std::to_string(ms) + " ms", false);
      return;
    }
    if (self->state_) {
      const std::uint64_t ack = self->state_->ack_point();
      self->last_ack_sent_ = std::max(self->last_ack_sent_, ack);
      self->send_control(encode_u64_frame(FrameType::heartbeat, ack));
      self->state_->expire(std::chrono::steady_clock::now());
    }
    self->arm_heartbeat();
  });
}

void LinkSession::pause_events() { events_paused_ = true; }

void LinkSession::goodbye() {
  if (phase_ == Phase::closed) return;
  add_ack(control_out_);  // one may be waiting for a write to ride with
  if (state_) control_out_.push_back(encode_u64_frame(FrameType::goodbye, state_->last_sent()));
  closing_after_write_ = true;
  close("stopping", false);
  flush();
}

void LinkSession::close(const std::string& reason, bool tell_peer) {
  if (phase_ == Phase::closed) return;
  // The hooks may drop their reference to this session.
  const auto keep = shared_from_this();
  if (tell_peer) control_out_.push_back(encode_close(reason));
  phase_ = Phase::closed;
  heartbeat_.cancel();
  ack_timer_.cancel();
  coalesce_timer_.cancel();
  if (state_) state_->set_state("down");
  if (tell_peer) {
    // Say why, then close once the write is done.
    closing_after_write_ = true;
    flush();
  } else if (!closing_after_write_) {
    stream_.close();
  }
  hooks_.closed(*this, reason);
}

}  // namespace edrid::cluster
