// The link protocol between routers and a switch, byte by byte in
// docs/protocol.md. Every frame is a 4-byte little-endian length (of what
// follows), a 1-byte frame type and a body. Decoding never trusts a length
// before checking it against the limit and the bytes actually there, and
// reports malformed input as a status value: a bad peer closes its link, it
// never crashes the process.
#pragma once

#include "codec/frame_splitter.hpp"
#include "event/event.hpp"

#include <edri/abi.h>

#include <boost/container/small_vector.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edrid::cluster {

constexpr std::uint32_t kHelloMagic = 0x4c524445u;  // "EDRL"
constexpr std::uint16_t kProtocolVersion = 1;
constexpr std::size_t kNonceSize = 32;
constexpr std::size_t kMacSize = 32;
using codec::kFrameHead;  // frame length prefix + frame type
// Where an event frame keeps its link sequence number: a switch forwards a
// frame by copying it and writing its own sequence number there.
constexpr std::size_t kEventSeqOffset = kFrameHead;
constexpr std::size_t kEventOriginSeqOffset = kFrameHead + 8 + 4 + 4 + 4 + 8;

enum class FrameType : std::uint8_t {
  hello = 1,
  auth = 2,
  resume = 3,
  subscriptions = 4,
  event = 5,
  ack = 6,
  heartbeat = 7,
  goodbye = 8,
  close = 9,
  load = 10,     // a router's outstanding work per group (groups across routers)
  settled = 11,  // group events a router finished or hands back
};
const char* frame_type_name(std::uint8_t type) noexcept;

enum class Role : std::uint8_t { router = 1, switch_ = 2 };

// Event kinds on the wire: edri_kind values, plus fanout (a switch telling a
// requester how many routers it forwarded a request to) and the frames of a
// tunnel between two routers (correlation id = tunnel id).
constexpr std::uint8_t kWireFanout = 0x10;
constexpr std::uint8_t kWireTunnelOpen = 0x20;      // the offer: an event with the tunnel type
constexpr std::uint8_t kWireTunnelAccept = 0x21;
constexpr std::uint8_t kWireTunnelRefuse = 0x22;    // status, message = reason
constexpr std::uint8_t kWireTunnelData = 0x23;      // payload = the message bytes
constexpr std::uint8_t kWireTunnelCredit = 0x24;    // status = bytes consumed
constexpr std::uint8_t kWireTunnelShutdown = 0x25;  // the sender finished sending
constexpr std::uint8_t kWireTunnelClose = 0x26;     // status, message = reason
bool is_tunnel_control(std::uint8_t wire_kind) noexcept;
// Event flag: the final response of one router to a request.
constexpr std::uint8_t kFlagLast = 0x01;
// Event flag: a group section follows the payload (u8 count, count × str8
// group). From a router: the groups the switch is to place (one member
// router each). From the switch: the groups this receiver serves with it.
constexpr std::uint8_t kFlagGroups = 0x02;
// Event flag (with kFlagGroups): deliver to the listed groups only, to no
// other subscriber (the copy a switch gives back to the event's origin).
constexpr std::uint8_t kFlagGroupsOnly = 0x04;
// Event flag from a switch: say when this event's work is over (a settled
// frame): it was placed here for an at-least-once group.
constexpr std::uint8_t kFlagReceipt = 0x08;
// Event flag from a switch: placed again after the router it was placed on
// went; it is older than what its origin sent since, so the receiver's
// origin filter must not drop it.
constexpr std::uint8_t kFlagRedelivered = 0x10;
// Event flag: a 16-byte dedupe id (the hash of the sender's dedupe key)
// follows the message.
constexpr std::uint8_t kFlagDedupe = 0x20;
constexpr std::size_t kMaxFrameGroups = 64;

struct Hello {
  std::uint16_t version = kProtocolVersion;
  Role role = Role::router;
  std::uint64_t incarnation = 0;
  std::array<std::uint8_t, kNonceSize> nonce{};
  std::string router_id;
};

struct Auth {
  std::vector<std::uint8_t> mac;  // empty: no secret configured
};

// After authentication each side states what it knows of the other, so the
// other can resend exactly what is missing.
struct Resume {
  std::uint64_t known_incarnation = 0;  // the peer incarnation rx_last belongs to; 0 = none
  std::uint64_t rx_last = 0;            // last event sequence delivered from that incarnation
  std::uint64_t tx_next = 0;            // sequence of the first event frame about to be sent
};

struct SubscriptionEntry {
  std::uint8_t kind = 0;  // EDRI_KIND_NOTIFICATION, _REQUEST or _TUNNEL
  std::string pattern;
  std::string group;  // "": every event; else one member of the group takes each
  // A content filter's canonical text (event/content_filter.hpp): the
  // router takes only events whose payload passes it. "": every event.
  std::string filter;
  bool operator==(const SubscriptionEntry&) const = default;
  bool operator<(const SubscriptionEntry& o) const {
    if (kind != o.kind) return kind < o.kind;
    if (pattern != o.pattern) return pattern < o.pattern;
    return group != o.group ? group < o.group : filter < o.filter;
  }
};

// One group's share of a router's work: how many members it has there and
// how many events they have taken and not finished.
struct GroupLoad {
  std::string group;
  std::uint32_t members = 0;
  std::uint32_t outstanding = 0;
  bool at_least_once = false;  // some member has delivery: at_least_once
  // Group events this router got from the switch on this link so far: what
  // the switch placed beyond it is still on its way.
  std::uint64_t received = 0;
  bool operator==(const GroupLoad&) const = default;
};

// One group event's work is over on the router that says so.
struct Settlement {
  edri_id128 id{};
  bool handed_back = false;  // not handled there: place it again
  bool operator==(const Settlement& o) const {
    return id.hi == o.id.hi && id.lo == o.id.lo && handed_back == o.handed_back;
  }
};

// An event frame's fields. Strings and payload are views into the frame.
struct WireEvent {
  std::uint64_t seq = 0;
  std::uint8_t kind = 0;
  std::uint8_t flags = 0;
  std::uint16_t redeliveries = 0;  // deliveries before this one (at-least-once)
  std::uint32_t status = 0;  // responses: edri_status; fanout: number of routers
  std::int32_t priority = 0;
  std::uint64_t origin_incarnation = 0;
  std::uint64_t origin_seq = 0;
  edri_id128 id{}, trace_id{}, correlation_id{};
  edri_id128 dedupe_id{};  // kFlagDedupe only
  std::int64_t timestamp_ns = 0, deadline_ns = 0;
  std::string_view type, payload_type, origin_router, sender, target_router, message;
  const std::uint8_t* payload = nullptr;
  std::size_t payload_len = 0;
  // kFlagGroups: the group names, and where the section starts in the body.
  boost::container::small_vector<std::string_view, 2> groups;
  std::size_t groups_at = 0;
};

// ---- Encoding. Each returns a whole frame, length prefix included.
std::string encode_hello(const Hello& h);
std::string encode_auth(const Auth& a);
std::string encode_resume(const Resume& r);
std::string encode_subscriptions(const std::vector<SubscriptionEntry>& entries);
std::string encode_u64_frame(FrameType type, std::uint64_t value);  // ack, heartbeat, goodbye
std::string encode_close(std::string_view reason);
// An event frame with sequence numbers 0; the link fills them in
// (set_event_seq) when the frame enters its replay buffer. Returns false
// with *error when the payload cannot be encoded. The frame replaces what
// `out` held, in its storage when that is large enough.
// `groups`, when given, is written as the group section (kFlagGroups).
bool encode_event(const Event& ev, std::uint8_t wire_kind, std::uint8_t flags,
                  std::string_view target_router, std::uint64_t origin_incarnation,
                  std::string& out, std::string* error,
                  const std::vector<std::string>* groups = nullptr);
// A decoded event frame `frame` (whole, prefix included) with its group
// section replaced by `groups` and the flags kFlagGroups (| kFlagGroupsOnly
// when `only`): what a switch sends each router a group event goes to.
std::string with_groups(const std::uint8_t* frame, std::size_t len, const WireEvent& e,
                        std::span<const std::string_view> groups, bool only, std::uint8_t more_flags = 0);
void set_event_redeliveries(std::string& frame, std::uint16_t n) noexcept;
std::string encode_load(const std::vector<GroupLoad>& loads);
std::string encode_settled(const std::vector<Settlement>& settled);
// A fanout frame answering request `request_id`.
std::string encode_fanout(const edri_id128& request_id, const edri_id128& trace_id,
                          std::uint32_t routers, std::string_view origin_router,
                          std::uint64_t origin_incarnation);
// A tunnel frame other than the open: `data` only for kWireTunnelData.
std::string encode_tunnel_frame(std::uint8_t wire_kind, const edri_id128& tunnel, std::uint32_t status,
                                std::string_view message, std::string_view target_router,
                                std::string_view origin_router, std::uint64_t origin_incarnation,
                                const std::uint8_t* data = nullptr, std::size_t len = 0);
void set_event_seq(char* frame, std::size_t size, std::uint64_t seq) noexcept;
// Whether a whole event frame carries a notification (the kind a link may
// hold back briefly to write with others; everything else is answered or
// waited on by someone).
bool is_notification_frame(const char* frame, std::size_t size) noexcept;
void set_event_origin_seq(char* frame, std::size_t size, std::uint64_t origin_seq) noexcept;

// ---- Decoding of one frame body (after the length prefix and type byte).
// Each returns nullopt with *error on malformed input.
std::optional<Hello> decode_hello(const std::uint8_t* p, std::size_t n, std::string* error);
std::optional<Auth> decode_auth(const std::uint8_t* p, std::size_t n, std::string* error);
std::optional<Resume> decode_resume(const std::uint8_t* p, std::size_t n, std::string* error);
std::optional<std::vector<SubscriptionEntry>> decode_subscriptions(const std::uint8_t* p,
                                                                   std::size_t n,
                                                                   std::string* error);
std::optional<std::vector<Settlement>> decode_settled(const std::uint8_t* p, std::size_t n, std::string* error);
std::optional<std::vector<GroupLoad>> decode_load(const std::uint8_t* p, std::size_t n, std::string* error);
std::optional<std::uint64_t> decode_u64(const std::uint8_t* p, std::size_t n, std::string* error);
std::optional<std::string> decode_close(const std::uint8_t* p, std::size_t n, std::string* error);
// Why decode_event refused a frame. `content`: the frame is whole and in
// sequence terms readable (out.seq is set), only what it says is refused (an
// invalid type name, an unknown kind, unprintable names). A link drops such a
// frame once, counted and logged, instead of closing: the peer would resend it
// on reconnect, forever, and it would never become valid.
enum class EventFault { none, malformed, content };

// Fills every field of `out`; false with *error for a malformed frame.
bool decode_event(const std::uint8_t* p, std::size_t n, WireEvent& out, std::string* error,
                  EventFault* fault = nullptr);

// A new event (one reference) holding a decoded notification, request or
// response: header from the wire, payload as its encoding.
EventPtr make_event(const WireEvent& w);

using codec::FrameSplitter;

}  // namespace edrid::cluster
