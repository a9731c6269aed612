#include "manager/journal_record.hpp"

#include "codec/byte_reader.hpp"
#include "codec/byte_writer.hpp"

namespace edrid {
namespace {
constexpr std::uint8_t kShareable = 0x01;
constexpr std::uint8_t kDedupe = 0x02;

const char* or_empty(const char* s) noexcept { return s ? s : ""; }
}  // namespace

bool encode_journal_record(const Event& ev, std::int32_t priority, std::string& out, std::string* err) {
  const auto& h = ev.header;
  const bool dedupe = ev.text && ev.text->has_dedupe;
  codec::ByteWriter w(kJournalRecordVersion, 160 + ev.payload_type.size(), std::move(out));
  w.u8(static_cast<std::uint8_t>(h.kind));
  w.u8(static_cast<std::uint8_t>((ev.shareable ? kShareable : 0) | (dedupe ? kDedupe : 0)));
  w.i32(priority);
  w.i32(h.priority);
  w.u32(event_attempt(ev));
  w.id(h.id);
  w.id(h.trace_id);
  w.id(h.correlation_id);
  w.i64(h.timestamp_ns);
  w.i64(h.deadline_ns);
  w.u32(h.status);
  if (dedupe) w.id(ev.text->dedupe_id);
  w.str8(or_empty(h.type));
  w.str8(ev.payload_type);
  w.str8(or_empty(h.origin_router));
  w.str8(or_empty(h.sender));
  w.str32(or_empty(h.message));
  std::string why;
  const bool ok = w.sized32([&](std::string& buf) { return event_encode_to(&ev, buf, &why); });
  out = w.finish();
  if (!ok && err) *err = "its payload could not be encoded: " + why;
  return ok;
}

std::optional<JournalRecord> decode_journal_record(const std::uint8_t* p, std::size_t n, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<JournalRecord> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (n < codec::kFrameHead) return fail("shorter than a record header");
  codec::ByteReader head(p, codec::kFrameHead);
  const std::uint32_t len = head.u32();
  const std::uint8_t version = head.u8();
  if (version != kJournalRecordVersion) {
    return fail("record version " + std::to_string(version) + ", this edrid reads " +
                std::to_string(kJournalRecordVersion));
  }
  if (len != n - 4) {
    return fail("its length says " + std::to_string(len) + " bytes, " + std::to_string(n - 4) + " are there");
  }
  codec::ByteReader r(p + codec::kFrameHead, n - codec::kFrameHead);
  const std::uint8_t kind = r.u8();
  const std::uint8_t flags = r.u8();
  JournalRecord out;
  out.priority = r.i32();
  const std::int32_t header_priority = r.i32();
  const std::uint32_t attempt = r.u32();
  const edri_id128 id = r.id(), trace = r.id(), corr = r.id();
  const std::int64_t ts = r.i64(), deadline = r.i64();
  const std::uint32_t status = r.u32();
  const edri_id128 dedupe = (flags & kDedupe) ? r.id() : edri_id128{};
  const std::string_view type = r.str8();
  const std::string_view payload_type = r.str8();
  const std::string_view origin = r.str8(), sender = r.str8(), message = r.str32();
  const std::string_view payload = r.str32();
  if (!r.ok() || !r.at_end()) return fail("its fields do not add up to its length");
  if (kind != EDRI_KIND_NOTIFICATION && kind != EDRI_KIND_REQUEST) return fail("kind " + std::to_string(kind));
  const WireText text{type, origin, sender, message};
  out.event = EventPtr(event_from_bytes(payload_type, reinterpret_cast<const std::uint8_t*>(payload.data()),
                                        payload.size(), &text));
  Event& ev = *out.event;
  ev.shareable = (flags & kShareable) != 0;
  auto& h = ev.header;
  h.kind = kind;
  h.priority = header_priority;
  h.id = id;
  h.trace_id = trace;
  h.correlation_id = corr;
  h.timestamp_ns = ts;
  h.deadline_ns = deadline;
  h.status = status;
  if (attempt != 1) event_text(ev).attempt = attempt;
  if (flags & kDedupe) {
    EventText& t = event_text(ev);
    t.dedupe_id = dedupe;
    t.has_dedupe = true;
  }
  return out;
}

}  // namespace edrid
