// The protocol between edrid and its worker processes (executor: process),
// over a Unix socket pair: length-prefixed binary frames as in
// codec/byte_writer.hpp, one struct per frame, byte by byte in
// docs/protocol.md. Decoding never trusts a length before checking it and
// reports malformed input as a value: a worker that sends garbage is killed
// and replaced, edrid goes on.
//
// Strings and bytes in a decoded frame are views into the frame's buffer:
// valid until the next frame is read. Frames to encode may view the
// caller's data the same way.
#pragma once

#include "event/event.hpp"

#include <edri/abi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>

namespace edrid::worker {

// Large enough for any event the router itself accepts.
constexpr std::uint32_t kMaxFrame = 64u << 20;

enum class FrameType : std::uint8_t {
  init = 1,            // edrid → worker: the manager's config
  init_error = 2,      // worker → edrid: the plugin could not be created
  ready = 3,           // worker → edrid
  task = 4,            // edrid → worker: run a handler on an event
  done = 5,            // worker → edrid: the front task finished
  log = 6,             // worker → edrid
  notify = 7,          // worker → edrid: a handler publishes
  notified = 8,        // edrid → worker: how many managers got it
  request = 9,         // worker → edrid: a handler sends a request
  response = 10,       // edrid → worker: one response to it
  tunnel_open = 11,    // worker → edrid: a handler opens a tunnel
  tunnel_opened = 12,  // edrid → worker: accepted (tid, window) or refused
  tunnel_msg = 13,     // edrid → worker: a message for an end it holds
  tunnel_credit = 14,  // edrid → worker: the peer consumed n bytes
  tunnel_peer_closed = 15,
  tunnel_send = 16,      // worker → edrid
  tunnel_consumed = 17,  // worker → edrid
  tunnel_shutdown = 18,  // worker → edrid
  tunnel_close = 19,     // worker → edrid
  tunnel_release = 20,   // worker → edrid
};
const char* frame_type_name(std::uint8_t type) noexcept;

// Each frame lists its fields once, in wire order, for both directions.
#define EDRI_WORKER_FRAME(name, ...)                                  \
  static constexpr FrameType kType = FrameType::name;                \
  auto fields() { return std::tie(__VA_ARGS__); }                    \
  auto fields() const { return std::tie(__VA_ARGS__); }

// An event's payload: its type and its MessagePack encoding.
struct Payload {
  std::string_view type;
  bool shared = false;  // edri_event shareable: receivers may read it in place
  std::string_view bytes;
};

struct SendOptions {
  std::int32_t priority = 0;
  std::uint32_t has_priority = 0;
  std::int64_t timeout_ms = 0;
  std::uint32_t flags = 0;
  std::optional<edri_id128> trace;
  std::string dedupe_key;  // "": none
};

struct TunnelDecision {
  bool accepted = false;
  std::string_view reason;
};

struct Init {
  std::string_view config;  // JSON
  std::uint32_t log_level = EDRI_LOG_INFO;
  EDRI_WORKER_FRAME(init, config, log_level)
};
struct InitError {
  std::string_view message;
  EDRI_WORKER_FRAME(init_error, message)
};
struct Ready {
  EDRI_WORKER_FRAME(ready)
};
struct Task {
  std::uint64_t seq = 0;
  std::uint32_t handler = 0;
  std::uint32_t kind = 0;  // edri_kind
  std::string_view type;
  edri_id128 id{0, 0};
  edri_id128 trace{0, 0};
  std::int32_t priority = 0;
  std::string_view sender;
  std::string_view origin;
  std::int64_t timestamp_ns = 0;
  std::int64_t deadline_ns = 0;
  std::uint64_t window = 0;  // tunnel offers: the tunnel's window
  std::uint32_t attempt = 1;  // which delivery of the event (at least once)
  Payload payload;
  EDRI_WORKER_FRAME(task, seq, handler, kind, type, id, trace, priority, sender, origin, timestamp_ns, deadline_ns,
                    window, attempt, payload)
};
struct Done {
  std::uint64_t seq = 0;
  std::uint32_t status = EDRI_STATUS_OK;
  std::string_view message;
  std::optional<std::string_view> error;  // the handler failed
  std::optional<TunnelDecision> tunnel;   // a tunnel offer was decided
  std::optional<Payload> payload;         // the response's data
  std::optional<std::int64_t> retry_after_ms;  // the handler asked: not now (retry_later)
  EDRI_WORKER_FRAME(done, seq, status, message, error, tunnel, payload, retry_after_ms)
};
struct Log {
  std::uint32_t level = EDRI_LOG_INFO;
  std::string_view message;
  EDRI_WORKER_FRAME(log, level, message)
};
struct Notify {
  std::uint64_t rid = 0;
  SendOptions options;
  Payload payload;
  EDRI_WORKER_FRAME(notify, rid, options, payload)
};
struct Notified {
  std::uint64_t rid = 0;
  std::int32_t rc = 0;
  std::uint32_t delivered = 0;
  EDRI_WORKER_FRAME(notified, rid, rc, delivered)
};
struct Request {
  std::uint64_t rid = 0;
  SendOptions options;
  Payload payload;
  EDRI_WORKER_FRAME(request, rid, options, payload)
};
struct Response {
  std::uint64_t rid = 0;
  std::uint32_t status = EDRI_STATUS_OK;
  std::string_view message;
  std::string_view sender;
  std::string_view type;
  edri_id128 id{0, 0};
  edri_id128 correlation_id{0, 0};
  bool last = true;
  std::optional<Payload> payload;
  EDRI_WORKER_FRAME(response, rid, status, message, sender, type, id, correlation_id, last, payload)
};
struct TunnelOpen {
  std::uint64_t rid = 0;
  std::string_view type;
  std::int64_t timeout_ms = 0;
  Payload payload;  // the offer
  EDRI_WORKER_FRAME(tunnel_open, rid, type, timeout_ms, payload)
};
struct TunnelOpened {
  std::uint64_t rid = 0;
  std::uint32_t status = EDRI_STATUS_OK;
  std::string_view reason;
  edri_id128 tid{0, 0};
  std::uint64_t window = 0;
  EDRI_WORKER_FRAME(tunnel_opened, rid, status, reason, tid, window)
};
struct TunnelMsg {
  edri_id128 tid{0, 0};
  std::int32_t side = 0;
  std::string_view data;
  EDRI_WORKER_FRAME(tunnel_msg, tid, side, data)
};
struct TunnelCredit {
  edri_id128 tid{0, 0};
  std::int32_t side = 0;
  std::uint64_t bytes = 0;
  EDRI_WORKER_FRAME(tunnel_credit, tid, side, bytes)
};
struct TunnelPeerClosed {
  edri_id128 tid{0, 0};
  std::int32_t side = 0;
  std::uint32_t status = 0;
  std::string_view reason;
  bool over = false;  // nothing more can be sent either
  EDRI_WORKER_FRAME(tunnel_peer_closed, tid, side, status, reason, over)
};
struct TunnelSend {
  edri_id128 tid{0, 0};
  std::int32_t side = 0;
  std::string_view data;
  EDRI_WORKER_FRAME(tunnel_send, tid, side, data)
};
struct TunnelConsumed {
  edri_id128 tid{0, 0};
  std::int32_t side = 0;
  std::uint64_t bytes = 0;
  EDRI_WORKER_FRAME(tunnel_consumed, tid, side, bytes)
};
struct TunnelShutdown {
  edri_id128 tid{0, 0};
  std::int32_t side = 0;
  EDRI_WORKER_FRAME(tunnel_shutdown, tid, side)
};
struct TunnelClose {
  edri_id128 tid{0, 0};
  std::int32_t side = 0;
  std::uint32_t status = 0;
  std::string_view reason;
  EDRI_WORKER_FRAME(tunnel_close, tid, side, status, reason)
};
struct TunnelRelease {
  edri_id128 tid{0, 0};
  std::int32_t side = 0;
  EDRI_WORKER_FRAME(tunnel_release, tid, side)
};

#undef EDRI_WORKER_FRAME

// In FrameType order.
using Frame = std::variant<Init, InitError, Ready, Task, Done, Log, Notify, Notified, Request, Response, TunnelOpen,
                           TunnelOpened, TunnelMsg, TunnelCredit, TunnelPeerClosed, TunnelSend, TunnelConsumed,
                           TunnelShutdown, TunnelClose, TunnelRelease>;

// A whole frame, length prefix included.
std::string encode(const Frame& f);
// One frame body (after the length prefix and the type byte); nullopt with
// *error when the type is unknown or the body is truncated, too long or
// holds a value its field does not allow.
std::optional<Frame> decode(std::uint8_t type, const std::uint8_t* body, std::size_t len, std::string* error);

// An event's payload as a frame field (views into the event's encoding);
// nullopt with *error when it cannot be encoded.
std::optional<Payload> payload_of(const Event& ev, std::string* error);
// A new event holding a payload field's bytes.
EventPtr event_of(const Payload& p);

}  // namespace edrid::worker
