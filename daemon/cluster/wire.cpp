#include "cluster/wire.hpp"

#include "codec/byte_reader.hpp"
#include "codec/byte_writer.hpp"
#include "event/pattern.hpp"

#include <algorithm>
#include <cstring>

namespace edrid::cluster {
namespace {

// Frames under construction, and bounds-checked reads of a frame body.
class Writer : public codec::ByteWriter {
 public:
  explicit Writer(FrameType type, std::size_t reserve = 64, std::string reuse = {})
      : ByteWriter(static_cast<std::uint8_t>(type), reserve, std::move(reuse)) {}
};
using Reader = codec::ByteReader;

bool finished(const Reader& r, const char* what, std::string* error) {
  if (!r.ok()) {
    if (error) *error = std::string("truncated ") + what + " frame";
    return false;
  }
  if (!r.at_end()) {
    if (error) *error = std::string("trailing bytes in ") + what + " frame";
    return false;
  }
  return true;
}

template <class T>
std::optional<T> finish(const Reader& r, T value, const char* what, std::string* error) {
  if (!finished(r, what, error)) return std::nullopt;
  return std::optional<T>(std::move(value));
}

bool valid_text(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

constexpr std::uint8_t kEntryGrouped = 0x80;
constexpr std::uint8_t kEntryFiltered = 0x40;
// A filter is a few hundred bytes; this much is refused as hostile.
constexpr std::uint32_t kMaxFilterText = 64 * 1024;

void write_groups(codec::ByteWriter& w, const std::vector<std::string>& groups) {
  w.u8(static_cast<std::uint8_t>(groups.size()));
  for (std::string_view g : groups) w.str8(g);
}

void put_le64(char* frame, std::size_t size, std::size_t at, std::uint64_t v) noexcept {
  if (size < at + 8) return;
  for (int i = 0; i < 8; ++i) frame[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

bool is_tunnel_control(std::uint8_t k) noexcept { return k >= kWireTunnelAccept && k <= kWireTunnelClose; }

const char* frame_type_name(std::uint8_t type) noexcept {
  switch (static_cast<FrameType>(type)) {
    case FrameType::hello: return "hello";
    case FrameType::auth: return "auth";
    case FrameType::resume: return "resume";
    case FrameType::subscriptions: return "subscriptions";
    case FrameType::event: return "event";
    case FrameType::ack: return "ack";
    case FrameType::heartbeat: return "heartbeat";
    case FrameType::goodbye: return "goodbye";
    case FrameType::close: return "close";
    case FrameType::load: return "load";
    case FrameType::settled: return "settled";
  }
  return "unknown";
}

std::string encode_hello(const Hello& h) {
  Writer w(FrameType::hello);
  w.u32(kHelloMagic);
  w.u16(h.version);
  w.u8(static_cast<std::uint8_t>(h.role));
  w.u8(0);
  w.u64(h.incarnation);
  w.bytes(h.nonce.data(), h.nonce.size());
  w.str8(h.router_id);
  return w.finish();
}

std::string encode_auth(const Auth& a) {
  Writer w(FrameType::auth);
  w.u8(static_cast<std::uint8_t>(a.mac.size()));
  w.bytes(a.mac.data(), a.mac.size());
  return w.finish();
}

std::string encode_resume(const Resume& r) {
  Writer w(FrameType::resume);
  w.u64(r.known_incarnation);
  w.u64(r.rx_last);
  w.u64(r.tx_next);
  return w.finish();
}

std::string encode_subscriptions(const std::vector<SubscriptionEntry>& entries) {
  Writer w(FrameType::subscriptions, 4 + entries.size() * 24);
  w.u32(static_cast<std::uint32_t>(entries.size()));
  for (const auto& e : entries) {
    // The high bits of the kind say a group name (0x80) and a content
    // filter (0x40) follow.
    w.u8(static_cast<std::uint8_t>(e.kind | (e.group.empty() ? 0 : kEntryGrouped) |
                                   (e.filter.empty() ? 0 : kEntryFiltered)));
    w.str8(e.pattern);
    if (!e.group.empty()) w.str8(e.group);
    if (!e.filter.empty()) w.str32(e.filter);
  }
  return w.finish();
}

std::string encode_load(const std::vector<GroupLoad>& loads) {
  Writer w(FrameType::load, 4 + loads.size() * 24);
  w.u32(static_cast<std::uint32_t>(loads.size()));
  for (const auto& l : loads) {
    w.str8(l.group);
    w.u32(l.members);
    w.u32(l.outstanding);
    w.u8(l.at_least_once ? 1 : 0);
    w.u64(l.received);
  }
  return w.finish();
}

std::string encode_settled(const std::vector<Settlement>& settled) {
  Writer w(FrameType::settled, 4 + settled.size() * 17);
  w.u32(static_cast<std::uint32_t>(settled.size()));
  for (const auto& s : settled) {
    w.id(s.id);
    w.u8(s.handed_back ? 1 : 0);
  }
  return w.finish();
}

std::string encode_u64_frame(FrameType type, std::uint64_t value) {
  Writer w(type, 8);
  w.u64(value);
  return w.finish();
}

std::string encode_close(std::string_view reason) {
  Writer w(FrameType::close);
  const std::size_t n = std::min<std::size_t>(reason.size(), 1024);
  w.u16(static_cast<std::uint16_t>(n));
  w.bytes(reason.data(), n);
  return w.finish();
}

namespace {
void event_head(Writer& w, std::uint8_t wire_kind, std::uint8_t flags, std::uint32_t status,
                std::int32_t priority, std::uint64_t origin_incarnation, std::uint16_t redeliveries = 0) {
  w.u64(0);  // link sequence, set by the link
  w.u8(wire_kind);
  w.u8(flags);
  w.u16(redeliveries);
  w.u32(status);
  w.i32(priority);
  w.u64(origin_incarnation);
  w.u64(0);  // origin sequence, set by the origin's link
}
}  // namespace

namespace {
// A link carries few types, mostly one after another: the last name found
// valid on this thread is not scanned again.
bool valid_type_name_memo(std::string_view name) {
  thread_local std::string last_valid;
  if (!name.empty() && name == last_valid) return true;
  if (!is_valid_type_name(name)) return false;
  last_valid.assign(name);
  return true;
}

bool is_event_kind(std::uint8_t kind) {
  return kind == EDRI_KIND_NOTIFICATION || kind == EDRI_KIND_REQUEST || kind == EDRI_KIND_RESPONSE ||
         kind == kWireTunnelOpen;
}

// The names an event frame must carry; the same rule for the sender
// (encode_event) and the receiver (decode_event).
bool event_names_valid(std::string_view type, std::string_view payload_type) {
  return valid_type_name_memo(type) &&
         (payload_type.empty() || payload_type == type || valid_type_name_memo(payload_type));
}
}  // namespace

bool encode_event(const Event& ev, std::uint8_t wire_kind, std::uint8_t flags,
                  std::string_view target_router, std::uint64_t origin_incarnation,
                  std::string& out, std::string* error, const std::vector<std::string>* groups) {
  const auto& h = ev.header;
  // The rules decode_event applies on the far side, applied here: a frame
  // the peer must refuse is never sent.
  const std::string_view type = h.type ? h.type : "";
  if (is_event_kind(wire_kind) && !event_names_valid(type, ev.payload_type)) {
    if (error) *error = "invalid type name '" + std::string(type) + "' (payload '" + std::string(ev.payload_type) + "')";
    return false;
  }
  const std::string_view message = h.message ? h.message : "";
  Writer w(FrameType::event, 400 + ev.payload_type.size() * 2 + message.size(), std::move(out));
  if (groups && groups->size() > kMaxFrameGroups) {
    if (error) *error = "more than " + std::to_string(kMaxFrameGroups) + " groups for one event";
    return false;
  }
  const auto redeliveries = static_cast<std::uint16_t>(std::min<std::uint32_t>(event_attempt(ev) - 1, 0xffff));
  const bool dedupe = ev.text && ev.text->has_dedupe;
  if (groups) flags |= kFlagGroups;
  if (dedupe) flags |= kFlagDedupe;
  event_head(w, wire_kind, flags, h.status, h.priority, origin_incarnation, redeliveries);
  w.id(h.id);
  w.id(h.trace_id);
  w.id(h.correlation_id);
  w.i64(h.timestamp_ns);
  w.i64(h.deadline_ns);
  w.str8(h.type ? h.type : "");
  w.str8(ev.payload_type);
  w.str8(h.origin_router ? h.origin_router : "");
  w.str8(h.sender ? h.sender : "");
  w.str8(target_router);
  w.str32(message);
  if (dedupe) w.id(ev.text->dedupe_id);
  // Encoded straight into the frame: the event is encoded once, for its link.
  if (!w.sized32([&](std::string& buf) { return event_encode_to(&ev, buf, error); })) return false;
  if (groups) write_groups(w, *groups);
  out = w.finish();
  return true;
}

void set_event_redeliveries(std::string& frame, std::uint16_t n) noexcept {
  constexpr std::size_t at = kEventSeqOffset + 10;
  if (frame.size() < at + 2) return;
  frame[at] = static_cast<char>(n & 0xff);
  frame[at + 1] = static_cast<char>(n >> 8);
}

std::string with_groups(const std::uint8_t* frame, std::size_t len, const WireEvent& e,
                        std::span<const std::string_view> groups, bool only, std::uint8_t more_flags) {
  const std::size_t keep = std::min(kFrameHead + e.groups_at, len);
  std::size_t section = 1;
  for (std::string_view g : groups) section += 1 + g.size();
  // One allocation: the frame up to its payload's end, then the new section.
  std::string out;
  out.reserve(keep + section);
  out.assign(reinterpret_cast<const char*>(frame), keep);
  out.push_back(static_cast<char>(groups.size()));
  for (std::string_view g : groups) {
    out.push_back(static_cast<char>(g.size()));
    out.append(g);
  }
  constexpr std::size_t kFlagsOffset = kEventSeqOffset + 9;
  std::uint8_t flags = static_cast<std::uint8_t>(out[kFlagsOffset]);
  flags = static_cast<std::uint8_t>((flags & ~(kFlagGroupsOnly | kFlagReceipt | kFlagRedelivered)) | kFlagGroups |
                                    (only ? kFlagGroupsOnly : 0) | more_flags);
  out[kFlagsOffset] = static_cast<char>(flags);
  const auto body = static_cast<std::uint32_t>(out.size() - 4);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((body >> (8 * i)) & 0xff);
  return out;
}

std::string encode_fanout(const edri_id128& request_id, const edri_id128& trace_id,
                          std::uint32_t routers, std::string_view origin_router,
                          std::uint64_t origin_incarnation) {
  Writer w(FrameType::event, 140);
  event_head(w, kWireFanout, 0, routers, 0, origin_incarnation);
  w.id(edri_id128{});
  w.id(trace_id);
  w.id(request_id);
  w.i64(0);
  w.i64(0);
  w.str8("");
  w.str8("");
  w.str8(origin_router);
  w.str8("");
  w.str8("");
  w.str32("");
  w.u32(0);
  return w.finish();
}

std::string encode_tunnel_frame(std::uint8_t wire_kind, const edri_id128& tunnel, std::uint32_t status,
                                std::string_view message, std::string_view target_router,
                                std::string_view origin_router, std::uint64_t origin_incarnation,
                                const std::uint8_t* data, std::size_t len) {
  Writer w(FrameType::event, 140 + message.size() + len);
  event_head(w, wire_kind, 0, status, 0, origin_incarnation);
  w.id(edri_id128{});
  w.id(tunnel);  // trace: the tunnel's, so its frames can be followed
  w.id(tunnel);
  w.i64(0);
  w.i64(0);
  w.str8("");
  w.str8("");
  w.str8(origin_router);
  w.str8("");
  w.str8(target_router);
  w.str32(message);
  w.u32(static_cast<std::uint32_t>(len));
  if (len) w.bytes(data, len);
  return w.finish();
}

void set_event_seq(char* frame, std::size_t size, std::uint64_t seq) noexcept {
  put_le64(frame, size, kEventSeqOffset, seq);
}

bool is_notification_frame(const char* frame, std::size_t size) noexcept {
  constexpr std::size_t kKindOffset = kEventSeqOffset + 8;
  return size > kKindOffset && static_cast<std::uint8_t>(frame[kKindOffset]) == EDRI_KIND_NOTIFICATION;
}

void set_event_origin_seq(char* frame, std::size_t size, std::uint64_t origin_seq) noexcept {
  put_le64(frame, size, kEventOriginSeqOffset, origin_seq);
}

std::optional<Hello> decode_hello(const std::uint8_t* p, std::size_t n, std::string* error) {
  Reader r(p, n);
  Hello h;
  const std::uint32_t magic = r.u32();
  h.version = r.u16();
  const std::uint8_t role = r.u8();
  r.u8();
  h.incarnation = r.u64();
  if (const std::uint8_t* nonce = r.bytes(kNonceSize)) std::memcpy(h.nonce.data(), nonce, kNonceSize);
  h.router_id = std::string(r.str8());
  auto out = finish(r, std::move(h), "hello", error);
  if (!out) return out;
  if (magic != kHelloMagic) {
    if (error) *error = "not an edri link (bad hello magic)";
    return std::nullopt;
  }
  if (role != static_cast<std::uint8_t>(Role::router) && role != static_cast<std::uint8_t>(Role::switch_)) {
    if (error) *error = "hello with unknown role " + std::to_string(role);
    return std::nullopt;
  }
  out->role = static_cast<Role>(role);
  if (out->router_id.empty() || !valid_text(out->router_id)) {
    if (error) *error = "hello with an empty or unprintable router id";
    return std::nullopt;
  }
  return out;
}

std::optional<Auth> decode_auth(const std::uint8_t* p, std::size_t n, std::string* error) {
  Reader r(p, n);
  Auth a;
  const std::uint8_t len = r.u8();
  if (len != 0 && len != kMacSize) {
    if (error) *error = "auth frame with a MAC of " + std::to_string(len) + " bytes";
    return std::nullopt;
  }
  if (const std::uint8_t* mac = r.bytes(len)) a.mac.assign(mac, mac + len);
  return finish(r, std::move(a), "auth", error);
}

std::optional<Resume> decode_resume(const std::uint8_t* p, std::size_t n, std::string* error) {
  Reader r(p, n);
  Resume v;
  v.known_incarnation = r.u64();
  v.rx_last = r.u64();
  v.tx_next = r.u64();
  auto out = finish(r, v, "resume", error);
  if (out && out->tx_next == 0) {
    if (error) *error = "resume frame with tx_next 0";
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<SubscriptionEntry>> decode_subscriptions(const std::uint8_t* p,
                                                                   std::size_t n,
                                                                   std::string* error) {
  Reader r(p, n);
  const std::uint32_t count = r.u32();
  // Each entry takes at least 3 bytes: refuse counts the frame cannot hold
  // before reserving anything for them.
  if (!r.ok() || count > (n - 4) / 3) {
    if (error) *error = "subscriptions frame with an impossible count";
    return std::nullopt;
  }
  std::vector<SubscriptionEntry> entries;
  entries.reserve(count);
  for (std::uint32_t i = 0; i < count && r.ok(); ++i) {
    SubscriptionEntry e;
    e.kind = r.u8();
    e.pattern = std::string(r.str8());
    const bool grouped = (e.kind & kEntryGrouped) != 0;
    const bool filtered = (e.kind & kEntryFiltered) != 0;
    e.kind &= static_cast<std::uint8_t>(~(kEntryGrouped | kEntryFiltered));
    if (grouped) e.group = std::string(r.str8());
    if (filtered) {
      const std::string_view f = r.str32();
      if (r.ok() && (f.empty() || f.size() > kMaxFilterText)) {
        if (error) *error = "subscriptions frame with a filter of " + std::to_string(f.size()) + " bytes";
        return std::nullopt;
      }
      e.filter = std::string(f);
    }
    if (r.ok() && ((e.kind != EDRI_KIND_NOTIFICATION && e.kind != EDRI_KIND_REQUEST && e.kind != EDRI_KIND_TUNNEL) ||
                   e.pattern.empty() || !valid_text(e.pattern) || (grouped && (e.group.empty() || !valid_text(e.group))) ||
                   (grouped && e.kind == EDRI_KIND_TUNNEL) || (filtered && e.kind == EDRI_KIND_TUNNEL))) {
      if (error) *error = "subscriptions frame with a bad entry";
      return std::nullopt;
    }
    entries.push_back(std::move(e));
  }
  return finish(r, std::move(entries), "subscriptions", error);
}

std::optional<std::vector<Settlement>> decode_settled(const std::uint8_t* p, std::size_t n, std::string* error) {
  Reader r(p, n);
  const std::uint32_t count = r.u32();
  if (!r.ok() || count != (n - 4) / 17 || (n - 4) % 17 != 0) {
    if (error) *error = "settled frame with an impossible count";
    return std::nullopt;
  }
  std::vector<Settlement> out(count);
  for (auto& s : out) {
    s.id = r.id();
    const std::uint8_t b = r.u8();
    if (b > 1) r.fail();
    s.handed_back = b == 1;
  }
  return finish(r, std::move(out), "settled", error);
}

std::optional<std::vector<GroupLoad>> decode_load(const std::uint8_t* p, std::size_t n, std::string* error) {
  Reader r(p, n);
  const std::uint32_t count = r.u32();
  // Each entry takes at least 19 bytes.
  if (!r.ok() || count > (n - 4) / 19) {
    if (error) *error = "load frame with an impossible count";
    return std::nullopt;
  }
  std::vector<GroupLoad> out;
  out.reserve(count);
  for (std::uint32_t i = 0; i < count && r.ok(); ++i) {
    GroupLoad l;
    l.group = std::string(r.str8());
    l.members = r.u32();
    l.outstanding = r.u32();
    const std::uint8_t flags = r.u8();
    l.at_least_once = flags == 1;
    l.received = r.u64();
    if (r.ok() && (l.group.empty() || !valid_text(l.group) || flags > 1)) {
      if (error) *error = "load frame with a bad group name";
      return std::nullopt;
    }
    out.push_back(std::move(l));
  }
  return finish(r, std::move(out), "load", error);
}

std::optional<std::uint64_t> decode_u64(const std::uint8_t* p, std::size_t n, std::string* error) {
  Reader r(p, n);
  const std::uint64_t v = r.u64();
  return finish(r, v, "ack/heartbeat/goodbye", error);
}

std::optional<std::string> decode_close(const std::uint8_t* p, std::size_t n, std::string* error) {
  Reader r(p, n);
  const std::uint16_t len = r.u16();
  const std::uint8_t* b = r.bytes(len);
  std::string reason = b ? std::string(reinterpret_cast<const char*>(b), len) : std::string();
  for (char& c : reason) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return finish(r, std::move(reason), "close", error);
}


bool decode_event(const std::uint8_t* p, std::size_t n, WireEvent& e, std::string* error, EventFault* fault) {
  if (fault) *fault = EventFault::malformed;
  Reader r(p, n);
  e.seq = r.u64();
  e.kind = r.u8();
  e.flags = r.u8();
  e.redeliveries = r.u16();
  e.status = r.u32();
  e.priority = r.i32();
  e.origin_incarnation = r.u64();
  e.origin_seq = r.u64();
  e.id = r.id();
  e.trace_id = r.id();
  e.correlation_id = r.id();
  e.timestamp_ns = r.i64();
  e.deadline_ns = r.i64();
  e.type = r.str8();
  e.payload_type = r.str8();
  e.origin_router = r.str8();
  e.sender = r.str8();
  e.target_router = r.str8();
  e.message = r.str32();
  if (e.flags & kFlagDedupe) e.dedupe_id = r.id();
  e.payload_len = r.u32();
  e.payload = r.bytes(e.payload_len);
  e.groups.clear();
  e.groups_at = 0;
  if (e.payload) e.groups_at = static_cast<std::size_t>(e.payload - p) + e.payload_len;
  if (e.flags & kFlagGroups) {
    const std::uint8_t count = r.u8();
    if (count > kMaxFrameGroups) r.fail();
    for (std::uint8_t i = 0; i < count && r.ok(); ++i) {
      const std::string_view g = r.str8();
      if (r.ok() && (g.empty() || !valid_text(g))) r.fail();
      e.groups.push_back(g);
    }
  }
  if (!finished(r, "event", error)) return false;
  const bool event_kind = is_event_kind(e.kind);
  if (e.seq == 0 || e.origin_seq == 0) {
    if (error) *error = "event frame without a sequence number";
    return false;
  }
  if (fault) *fault = EventFault::content;
  if (!event_kind && e.kind != kWireFanout && !is_tunnel_control(e.kind)) {
    if (error) *error = "event frame of unknown kind " + std::to_string(e.kind);
    return false;
  }
  if (event_kind && !event_names_valid(e.type, e.payload_type)) {
    if (error) *error = "event frame with an invalid type name";
    return false;
  }
  if (!valid_text(e.origin_router) || !valid_text(e.sender) || !valid_text(e.target_router)) {
    if (error) *error = "event frame with unprintable names";
    return false;
  }
  if (fault) *fault = EventFault::none;
  return true;
}

EventPtr make_event(const WireEvent& w) {
  const WireText text{w.type, w.origin_router, w.sender, w.message};
  EventPtr ev(event_from_bytes(w.payload_type, w.payload, w.payload_len, &text));
  ev->shareable = true;  // it crossed a link already
  auto& h = ev->header;
  h.id = w.id;
  h.trace_id = w.trace_id;
  h.correlation_id = w.correlation_id;
  h.kind = w.kind;
  h.priority = w.priority;
  h.timestamp_ns = w.timestamp_ns;
  h.deadline_ns = w.deadline_ns;
  h.status = w.status;
  if (w.redeliveries > 0) event_text(*ev).attempt = 1u + w.redeliveries;
  if (w.flags & kFlagDedupe) {
    EventText& t = event_text(*ev);
    t.dedupe_id = w.dedupe_id;
    t.has_dedupe = true;
  }
  return ev;
}

}  // namespace edrid::cluster
