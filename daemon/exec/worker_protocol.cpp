#include "exec/worker_protocol.hpp"

#include "codec/byte_reader.hpp"
#include "codec/byte_writer.hpp"

#include <array>
#include <utility>

namespace edrid::worker {
namespace {

using codec::ByteReader;
using codec::ByteWriter;

// Counts the bytes a frame's fields take, to size its buffer once.
struct SizeCounter {
  std::size_t n = 0;
  void u8(std::uint8_t) { n += 1; }
  void u32(std::uint32_t) { n += 4; }
  void i32(std::int32_t) { n += 4; }
  void u64(std::uint64_t) { n += 8; }
  void i64(std::int64_t) { n += 8; }
  void id(const edri_id128&) { n += 16; }
  void str32(std::string_view s) { n += 4 + s.size(); }
};

// ---- One overload per field type, each direction; an optional field is a
// presence byte and the value.
template <class Sink> void put(Sink& w, bool v) { w.u8(v ? 1 : 0); }
template <class Sink> void put(Sink& w, std::uint32_t v) { w.u32(v); }
template <class Sink> void put(Sink& w, std::int32_t v) { w.i32(v); }
template <class Sink> void put(Sink& w, std::uint64_t v) { w.u64(v); }
template <class Sink> void put(Sink& w, std::int64_t v) { w.i64(v); }
template <class Sink> void put(Sink& w, const edri_id128& v) { w.id(v); }
template <class Sink> void put(Sink& w, std::string_view v) { w.str32(v); }
template <class Sink> void put(Sink& w, const Payload& v) {
  w.str32(v.type);
  put(w, v.shared);
  w.str32(v.bytes);
}
template <class Sink, class T> void put(Sink& w, const std::optional<T>& v);
template <class Sink> void put(Sink& w, const SendOptions& v) {
  w.i32(v.priority);
  w.u32(v.has_priority);
  w.i64(v.timeout_ms);
  w.u32(v.flags);
  put(w, v.trace);
  w.str32(v.dedupe_key);
}
template <class Sink> void put(Sink& w, const TunnelDecision& v) {
  put(w, v.accepted);
  w.str32(v.reason);
}
template <class Sink, class T> void put(Sink& w, const std::optional<T>& v) {
  put(w, v.has_value());
  if (v) put(w, *v);
}

void get(ByteReader& r, bool& v) {
  const std::uint8_t b = r.u8();
  if (b > 1) r.fail();
  v = b == 1;
}
void get(ByteReader& r, std::uint32_t& v) { v = r.u32(); }
void get(ByteReader& r, std::int32_t& v) { v = r.i32(); }
void get(ByteReader& r, std::uint64_t& v) { v = r.u64(); }
void get(ByteReader& r, std::int64_t& v) { v = r.i64(); }
void get(ByteReader& r, edri_id128& v) { v = r.id(); }
void get(ByteReader& r, std::string_view& v) { v = r.str32(); }
void get(ByteReader& r, Payload& v) {
  v.type = r.str32();
  get(r, v.shared);
  v.bytes = r.str32();
}
template <class T> void get(ByteReader& r, std::optional<T>& v);
void get(ByteReader& r, SendOptions& v) {
  v.priority = r.i32();
  v.has_priority = r.u32();
  v.timeout_ms = r.i64();
  v.flags = r.u32();
  get(r, v.trace);
  v.dedupe_key = std::string(r.str32());
}
void get(ByteReader& r, TunnelDecision& v) {
  get(r, v.accepted);
  v.reason = r.str32();
}
template <class T> void get(ByteReader& r, std::optional<T>& v) {
  bool present = false;
  get(r, present);
  if (!present) {
    v.reset();
    return;
  }
  get(r, v.emplace());
}

template <class T>
std::optional<Frame> decode_as(const std::uint8_t* body, std::size_t len, std::string* error) {
  ByteReader r(body, len);
  T frame;
  std::apply([&](auto&... field) { (get(r, field), ...); }, frame.fields());
  if (!r.ok() || !r.at_end()) {
    if (error) {
      *error = std::string(r.ok() ? "trailing bytes in " : "truncated or malformed ") +
               frame_type_name(static_cast<std::uint8_t>(T::kType)) + " frame";
    }
    return std::nullopt;
  }
  return Frame(std::move(frame));
}

using Decoder = std::optional<Frame> (*)(const std::uint8_t*, std::size_t, std::string*);

template <std::size_t... I>
constexpr std::array<Decoder, sizeof...(I)> decoders(std::index_sequence<I...>) {
  return {&decode_as<std::variant_alternative_t<I, Frame>>...};
}
constexpr auto kDecoders = decoders(std::make_index_sequence<std::variant_size_v<Frame>>());

// The variant lists frames in FrameType order, so a type byte is an index.
template <std::size_t... I>
constexpr bool in_type_order(std::index_sequence<I...>) {
  return ((static_cast<std::size_t>(std::variant_alternative_t<I, Frame>::kType) == I + 1) && ...);
}
static_assert(in_type_order(std::make_index_sequence<std::variant_size_v<Frame>>()));

constexpr const char* kNames[] = {"init",          "init_error",    "ready",
                                  "task",          "done",          "log",
                                  "notify",        "notified",      "request",
                                  "response",      "tunnel_open",   "tunnel_opened",
                                  "tunnel_msg",    "tunnel_credit", "tunnel_peer_closed",
                                  "tunnel_send",   "tunnel_consumed", "tunnel_shutdown",
                                  "tunnel_close",  "tunnel_release"};
static_assert(std::size(kNames) == std::variant_size_v<Frame>);

}  // namespace

const char* frame_type_name(std::uint8_t type) noexcept {
  return type >= 1 && type <= std::size(kNames) ? kNames[type - 1] : "unknown";
}

std::string encode(const Frame& f) {
  return std::visit(
      [](const auto& frame) {
        SizeCounter size;
        std::apply([&](const auto&... field) { (put(size, field), ...); }, frame.fields());
        ByteWriter w(static_cast<std::uint8_t>(frame.kType), size.n);
        std::apply([&](const auto&... field) { (put(w, field), ...); }, frame.fields());
        return w.finish();
      },
      f);
}

std::optional<Frame> decode(std::uint8_t type, const std::uint8_t* body, std::size_t len, std::string* error) {
  if (type < 1 || type > kDecoders.size()) {
    if (error) *error = "unknown frame type " + std::to_string(type);
    return std::nullopt;
  }
  return kDecoders[type - 1](body, len, error);
}

std::optional<Payload> payload_of(const Event& ev, std::string* error) {
  const EncodedPayload* enc = event_encoded(&ev, error);
  if (!enc) return std::nullopt;
  return Payload{ev.payload_type, ev.shareable,
                 std::string_view(reinterpret_cast<const char*>(enc->data()), enc->size())};
}

EventPtr event_of(const Payload& p) {
  EventPtr ev(event_from_bytes(p.type, reinterpret_cast<const std::uint8_t*>(p.bytes.data()), p.bytes.size()));
  ev->shareable = p.shared;
  return ev;
}

}  // namespace edrid::worker
