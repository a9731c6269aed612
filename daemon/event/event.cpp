#include "event/event.hpp"

#include "event/event_blocks.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <new>
#include <vector>

namespace edrid {
namespace {

std::atomic<std::uint64_t> g_encodes{0};

// Alignments beyond this (a payload type declared alignas(8192)?) are
// refused.
constexpr std::size_t kMaxAlign = 4096;
// A plugin's request for room past the object: far beyond any event, and
// small enough that adding the header's size cannot wrap.
constexpr std::size_t kMaxRoom = std::size_t{1} << 40;

Event* construct(std::size_t extra, std::size_t align) {
  const std::size_t a = std::max(align, alignof(Event));
  if (a > kMaxAlign || !std::has_single_bit(a)) throw std::bad_alloc();
  // The plain operator new for ordinary alignments: the aligned one costs a
  // larger size class with mimalloc (a 224 B block took 256 B).
  const std::size_t size = event_object_offset(a) + extra;
  const bool pooled = size <= event_blocks::kBlockSize && a <= __STDCPP_DEFAULT_NEW_ALIGNMENT__ &&
                      event_blocks::kEnabled;
  void* mem = pooled                                 ? event_blocks::take()
              : a <= __STDCPP_DEFAULT_NEW_ALIGNMENT__ ? ::operator new(size)
                                                      : ::operator new(size, std::align_val_t{a});
  Event* ev = ::new (mem) Event();
  ev->pooled = pooled;
  ev->align_log2 = static_cast<std::uint8_t>(std::countr_zero(a));
  ev->header.struct_size = sizeof(edri_event_header);
  return ev;
}

// An event made from bytes keeps them where a typed event keeps its object.
void* inline_encoding(const Event* ev) noexcept {
  return reinterpret_cast<char*>(const_cast<Event*>(ev)) + event_object_offset(std::size_t{1} << ev->align_log2);
}

void destruct(Event* ev) noexcept {
  if (ev->text) {
    if (WorkReceipt* r = ev->text->receipt.exchange(nullptr, std::memory_order_acq_rel)) {
      r->settle(*ev, ev->text->handed_back.load(std::memory_order_acquire));
    }
  }
  const std::size_t a = std::size_t{1} << ev->align_log2;
  const bool pooled = ev->pooled;
  const EncodedPayload* enc = ev->encoded.load(std::memory_order_acquire);
  if (enc != inline_encoding(ev)) EncodedPayload::destroy(enc);
  ev->~Event();
  if (pooled) {
    event_blocks::give(static_cast<void*>(ev));
  } else if (a <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ::operator delete(static_cast<void*>(ev));
  } else {
    ::operator delete(static_cast<void*>(ev), std::align_val_t{a});
  }
}

}  // namespace

Event* event_alloc(const edri_type_ops* ops, std::size_t room) {
  if (room > kMaxRoom) throw std::bad_alloc();
  Event* ev = construct(ops->object_size + room, ops->object_align);
  ev->ops = ops;
  ev->payload_type = ops->type_name ? ops->type_name : "";  // lives as long as ops
  // ABI 1.0 plugins hand over type ops without flags.
  ev->shareable = ops->struct_size >= offsetof(edri_type_ops, flags) + sizeof ops->flags &&
                  (ops->flags & EDRI_TYPE_SHAREABLE) != 0;
  return ev;
}

Event* event_from_bytes(std::string_view payload_type, const std::uint8_t* data, std::size_t len,
                        const WireText* text) {
  // One allocation: the bytes go where a typed event's object would be, and
  // the strings after them, each NUL-terminated for the C header.
  const bool own_type = text && text->type != payload_type;
  std::size_t strings = payload_type.size() + 1;
  if (text) {
    strings += text->origin_router.size() + text->sender.size() + text->message.size() + 3;
    if (own_type) strings += text->type.size() + 1;
  }
  const std::size_t footprint = EncodedPayload::footprint(len);
  Event* ev = construct(footprint + strings, alignof(Event));
  char* at = static_cast<char*>(inline_encoding(ev)) + footprint;
  auto keep = [&at](std::string_view v) {
    char* copy = at;
    if (!v.empty()) std::memcpy(copy, v.data(), v.size());
    copy[v.size()] = '\0';
    at += v.size() + 1;
    return copy;
  };
  ev->payload_type = std::string_view(keep(payload_type), payload_type.size());
  if (text) {
    auto& h = ev->header;
    h.payload_type = ev->payload_type.data();
    h.type = own_type ? keep(text->type) : h.payload_type;
    h.origin_router = keep(text->origin_router);
    h.sender = keep(text->sender);
    h.message = keep(text->message);
  }
  auto* enc = EncodedPayload::make_at(inline_encoding(ev), data, len);
  ev->encoded.store(enc, std::memory_order_release);
  return ev;
}

void event_discard(Event* ev) noexcept {
  // The object was never constructed: forget it before freeing.
  ev->ops = nullptr;
  destruct(ev);
}

void event_release(const Event* cev) noexcept {
  auto* ev = const_cast<Event*>(cev);
  if (ev->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (ev->ops) ev->ops->destroy(event_object(ev));
  destruct(ev);
}

const EncodedPayload* event_encoded(const Event* ev, std::string* err) {
  if (auto* enc = ev->encoded.load(std::memory_order_acquire)) return enc;
  // The plugin may write in pieces; they gather here, then take one block.
  // The thread's spare buffer is taken, not used in place: type ops that
  // asked for another event's encoding from inside encode get their own.
  thread_local std::string spare;
  std::string scratch = std::move(spare);
  scratch.clear();
  if (!event_encode_to(ev, scratch, err)) return nullptr;
  EncodedPayload* fresh =
      EncodedPayload::make(reinterpret_cast<const std::uint8_t*>(scratch.data()), scratch.size());
  if (scratch.capacity() <= (1u << 20)) spare = std::move(scratch);  // not keep a rare big one
  EncodedPayload* expected = nullptr;
  auto& slot = const_cast<Event*>(ev)->encoded;
  if (!slot.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
    EncodedPayload::destroy(fresh);  // another thread won the race; use its copy
    return expected;
  }
  return fresh;
}

bool event_encode_to(const Event* ev, std::string& out, std::string* err) {
  if (const auto* enc = ev->encoded.load(std::memory_order_acquire)) {
    out.append(reinterpret_cast<const char*>(enc->data()), enc->size());
    return true;
  }
  if (!ev->ops) return true;  // no payload
  const std::size_t before = out.size();
  edri_error e{sizeof(edri_error), {}, {}};
  auto write = [](void* sink, const std::uint8_t* d, std::size_t n) {
    static_cast<std::string*>(sink)->append(reinterpret_cast<const char*>(d), n);
  };
  if (ev->ops->encode(event_object(ev), EDRI_FORMAT_MSGPACK, write, &out, &e) != EDRI_OK) {
    out.resize(before);
    if (err) *err = e.message[0] ? e.message : "payload encoding failed";
    return false;
  }
  g_encodes.fetch_add(1, std::memory_order_relaxed);
  return true;
}

EncodedPayload* EncodedPayload::make(const std::uint8_t* data, std::size_t len) {
  static_assert(alignof(EncodedPayload) >= alignof(std::uint8_t));
  return make_at(::operator new(footprint(len)), data, len);
}

EncodedPayload* EncodedPayload::make_at(void* mem, const std::uint8_t* data, std::size_t len) {
  auto* p = ::new (mem) EncodedPayload(len);
  if (len) std::memcpy(p + 1, data, len);
  return p;
}

void EncodedPayload::destroy(const EncodedPayload* p) noexcept {
  if (p) ::operator delete(const_cast<EncodedPayload*>(p));
}

std::uint64_t encode_count() noexcept { return g_encodes.load(std::memory_order_relaxed); }

edri_id128 dedupe_id_of(std::string_view key) noexcept {
  auto fnv = [&](std::uint64_t h) {
    for (unsigned char c : key) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    return h;
  };
  return edri_id128{fnv(0xcbf29ce484222325ull), fnv(0x84222325cbf29ce4ull)};
}

EventPtr event_redelivery(const Event& ev, std::uint32_t attempt, std::string* error, bool take_receipt) {
  const EncodedPayload* enc = event_encoded(&ev, error);
  if (!enc) return EventPtr();
  const auto& h = ev.header;
  const WireText text{h.type ? std::string_view(h.type) : ev.payload_type, h.origin_router ? h.origin_router : "",
                      h.sender ? h.sender : "", h.message ? h.message : ""};
  EventPtr copy(event_from_bytes(ev.payload_type, enc->data(), enc->size(), &text));
  copy->shareable = ev.shareable;
  auto& c = copy->header;
  c.id = h.id;
  c.trace_id = h.trace_id;
  c.correlation_id = h.correlation_id;
  c.kind = h.kind;
  c.priority = h.priority;
  c.timestamp_ns = h.timestamp_ns;
  c.deadline_ns = h.deadline_ns;
  c.status = h.status;
  event_text(*copy).attempt = attempt;
  if (ev.text && ev.text->has_dedupe) {
    copy->text->dedupe_id = ev.text->dedupe_id;
    copy->text->has_dedupe = true;
  }
  if (take_receipt && ev.text) {
    copy->text->receipt.store(ev.text->receipt.exchange(nullptr, std::memory_order_acq_rel), std::memory_order_release);
  }
  return copy;
}

}  // namespace edrid
