// The host's event object. Plugins see it only as the opaque edri_event*.
//
// One allocation holds the header and the typed payload object; the event is
// immutable once sent and shared by reference count between every receiver,
// so in-process delivery never copies or serialises it. The MessagePack
// encoding is computed at most once, on first demand (a process or network
// boundary, or a receiver built from a different type declaration).
#pragma once

#include <edri/abi.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace edrid {
// An event's MessagePack encoding: the length and the bytes in one block,
// so an event that crosses a link costs one allocation here, not two.
class EncodedPayload {
 public:
  static EncodedPayload* make(const std::uint8_t* data, std::size_t len);
  // In `mem`, which has room for footprint(len) bytes; not for destroy().
  static EncodedPayload* make_at(void* mem, const std::uint8_t* data, std::size_t len);
  static std::size_t footprint(std::size_t len) noexcept { return sizeof(EncodedPayload) + len; }
  static void destroy(const EncodedPayload* p) noexcept;
  const std::uint8_t* data() const noexcept { return reinterpret_cast<const std::uint8_t*>(this + 1); }
  std::size_t size() const noexcept { return len_; }
  bool empty() const noexcept { return len_ == 0; }

 private:
  explicit EncodedPayload(std::size_t len) : len_(len) {}
  std::size_t len_;
};
// Someone outside the router waits to hear when an event's work is over: a
// switch that placed it here for an at-least-once work group, and gives it
// to another member if this router goes before it is. Told once, when the
// event's last copy goes; then it deletes itself.
class WorkReceipt {
 public:
  virtual ~WorkReceipt() = default;
  // handed_back: nobody here handled it (the router stopped first, or the
  // group it came for has no member here any more).
  virtual void settle(const edri_event& ev, bool handed_back) noexcept = 0;
};

// Header strings most events do not own, set after the event is made: a
// routing type other than the payload's (tunnel offers, some responses) and
// a response's message. Local events point at the router's and manager's
// own names; an event from another router carries its names (WireText).
// Also what only some events need: their delivery number and receipt.
struct EventText {
  std::string type;  // routing type, when it is not the payload's type
  std::string message;
  std::uint32_t attempt = 1;  // which delivery this is (at-least-once redelivery)
  std::atomic<WorkReceipt*> receipt{nullptr};
  std::atomic<bool> handed_back{false};
  // The sender's dedupe key, hashed (event_dedupe_id): what a dedupe window
  // remembers instead of the event id.
  edri_id128 dedupe_id{};
  bool has_dedupe = false;
};
// The header strings an event from another router comes with. Kept in the
// event's own allocation, after its bytes: one allocation per received
// event, and no copy beyond the one from the frame.
struct WireText {
  std::string_view type, origin_router, sender, message;
};
}  // namespace edrid

struct edri_event {
  std::atomic<std::uint32_t> refs{1};
  // Whether the payload's type was declared shareable (EDRI_TYPE_SHAREABLE),
  // the default for leaving this router over a cluster link.
  bool shareable = false;
  // The block came from event_blocks (recycled between threads).
  bool pooled = false;
  // A request its sender cancelled: receivers that have not started on it
  // skip it. Set from any thread, read at dispatch.
  std::atomic<bool> cancelled{false};
  // The allocation's alignment (the payload's, at least the header's) as a
  // power of two. These four fill the gap before the header: every byte
  // here counts, since a local event's header and a small payload object
  // share one block.
  std::uint8_t align_log2 = 4;
  edri_event_header header{};
  // Also the routing type, unless event_set_type says otherwise. NUL-
  // terminated: a typed event's points at its type ops' name, an event made
  // from bytes at a copy after the bytes (no allocation or copy per event).
  std::string_view payload_type;
  // Allocated only when needed, so a local event's header (176 B) and a
  // payload object of up to 48 B fit the allocator's 224 B class.
  std::unique_ptr<edrid::EventText> text;
  // Set for a typed payload, whose object follows the header in the same
  // block (see event_object); null for a payload given as bytes.
  const edri_type_ops* ops = nullptr;
  std::atomic<edrid::EncodedPayload*> encoded{nullptr};
};

namespace edrid {

using Event = edri_event;

// Typed payload: storage for ops->object_size bytes follows the header, for
// the caller to construct the object in (or to give back with event_discard),
// then `room` bytes more for the object's own data (event_room). Throws
// std::bad_alloc.
Event* event_alloc(const edri_type_ops* ops, std::size_t room = 0);
// Payload given as its MessagePack encoding (or empty: len 0). With text,
// the header's type, origin_router, sender and message point at copies of
// it in the event.
Event* event_from_bytes(std::string_view payload_type, const std::uint8_t* data, std::size_t len,
                        const WireText* text = nullptr);
// Where a typed event's payload object lives: after the header, at its
// alignment. Null for an event whose payload is bytes only.
inline std::size_t event_object_offset(std::size_t align) noexcept {
  const std::size_t a = std::max(align, alignof(Event));
  return (sizeof(Event) + a - 1) / a * a;
}
inline void* event_object(const Event* ev) noexcept {
  if (!ev->ops) return nullptr;
  return reinterpret_cast<char*>(const_cast<Event*>(ev)) + event_object_offset(std::size_t{1} << ev->align_log2);
}
// The room event_alloc gave after a typed event's object.
inline void* event_room(const Event* ev) noexcept {
  return static_cast<char*>(event_object(ev)) + ev->ops->object_size;
}
// Frees an allocated event whose object was never constructed.
void event_discard(Event* ev) noexcept;
inline void event_retain(const Event* ev) noexcept {
  const_cast<Event*>(ev)->refs.fetch_add(1, std::memory_order_relaxed);
}
void event_release(const Event* ev) noexcept;
// The cached MessagePack encoding; nullptr (and err filled) if encoding failed.
const EncodedPayload* event_encoded(const Event* ev, std::string* err = nullptr);
// Appends the MessagePack encoding to `out`: the cached one if there is
// one, else a fresh one that is not kept. For an event that is encoded once,
// into a link frame: keeping it cost an allocation, two copies, and a free
// on whichever thread released the event last. False (err filled, `out` as
// it was) if encoding failed.
bool event_encode_to(const Event* ev, std::string& out, std::string* err = nullptr);
// How many payloads have been encoded since start (a test and stats figure:
// in-process delivery between matching types must keep it at zero).
std::uint64_t encode_count() noexcept;

inline EventText& event_text(Event& ev) {
  if (!ev.text) ev.text = std::make_unique<EventText>();
  return *ev.text;
}
// Keeps the routing type; returns what header.type should point at. A view,
// since the type nearly always equals the payload's and then costs no copy
// (every event received over a link and every response comes through here).
inline const char* event_set_type(Event& ev, std::string_view type) {
  if (type == ev.payload_type) return ev.payload_type.data();
  EventText& t = event_text(ev);
  t.type.assign(type);
  return t.type.c_str();
}
// Keeps a response's message; returns what header.message should point at.
inline const char* event_set_message(Event& ev, std::string message) {
  if (message.empty()) return "";
  EventText& t = event_text(ev);
  t.message = std::move(message);
  return t.message.c_str();
}

// What makes two events the same work for a dedupe window: the hash of the
// key its sender chose, else its id.
inline const edri_id128& event_dedupe_id(const Event& ev) noexcept {
  return ev.text && ev.text->has_dedupe ? ev.text->dedupe_id : ev.header.id;
}
// A sender's dedupe key as 128 bits (two FNV-1a passes with different
// bases): keys are the sender's own, so a hash needs no secret.
edri_id128 dedupe_id_of(std::string_view key) noexcept;

// Which delivery of its event this is: 1, or more for a redelivery.
inline std::uint32_t event_attempt(const Event& ev) noexcept { return ev.text ? ev.text->attempt : 1; }

// Owning smart pointer on an Event.
class EventPtr {
 public:
  EventPtr() = default;
  explicit EventPtr(Event* adopt) noexcept : ev_(adopt) {}
  static EventPtr share(const Event* ev) noexcept {
    event_retain(ev);
    return EventPtr(const_cast<Event*>(ev));
  }
  EventPtr(const EventPtr& o) noexcept : ev_(o.ev_) {
    if (ev_) event_retain(ev_);
  }
  EventPtr(EventPtr&& o) noexcept : ev_(std::exchange(o.ev_, nullptr)) {}
  EventPtr& operator=(EventPtr o) noexcept {
    std::swap(ev_, o.ev_);
    return *this;
  }
  ~EventPtr() {
    if (ev_) event_release(ev_);
  }
  Event* get() const noexcept { return ev_; }
  Event* operator->() const noexcept { return ev_; }
  Event& operator*() const noexcept { return *ev_; }
  explicit operator bool() const noexcept { return ev_ != nullptr; }
  Event* release() noexcept { return std::exchange(ev_, nullptr); }

 private:
  Event* ev_ = nullptr;
};

// The same event again for delivery `attempt`: its header (id, trace,
// sender, deadline) and its payload as bytes, so receivers still holding
// the first see no change. Null with *error when the payload cannot be
// encoded.
// take_receipt: the copy carries on the original's work receipt (the
// original's end is not the work's end).
EventPtr event_redelivery(const Event& ev, std::uint32_t attempt, std::string* error, bool take_receipt = false);
// The event goes unhandled here: its receipt, if it has one, says so.
// False when it has none (nobody else will see to it).
inline bool event_hand_back(const Event& ev) noexcept {
  if (!ev.text || !ev.text->receipt.load(std::memory_order_acquire)) return false;
  ev.text->handed_back.store(true, std::memory_order_release);
  return true;
}

}  // namespace edrid
