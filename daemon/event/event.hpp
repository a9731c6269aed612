// The host's event object. Plugins see it only as the opaque edri_event*.
//
// One allocation holds the header and the typed payload object; the event is
// immutable once sent and shared by reference count between every receiver,
// so in-process delivery never copies or serialises it. The MessagePack
// encoding is computed at most once, on first demand (a process or network
// boundary, or a receiver built from a different type declaration).
#pragma once

#include <edri/abi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace edrid {
struct EncodedPayload {
  std::vector<std::uint8_t> bytes;
};
// Header strings most events do not own: a routing type other than the
// payload's (tunnel offers, some responses), a response's message, and the
// router and manager names of an event that came from another router (local
// events point at the router's and manager's own names instead).
struct EventText {
  std::string type;  // routing type, when it is not the payload's type
  std::string message;
  std::string origin_router;
  std::string sender;
};
}  // namespace edrid

struct edri_event {
  std::atomic<std::uint32_t> refs{1};
  edri_event_header header{};
  std::string payload_type;  // also the routing type, unless event_set_type says otherwise
  // Allocated only when needed, so a local event's header stays in the
  // allocator's 320 B class with a small payload object beside it.
  std::unique_ptr<edrid::EventText> text;
  // Whether the payload's type was declared shareable (EDRI_TYPE_SHAREABLE),
  // the default for leaving this router over a cluster link.
  bool shareable = false;
  const edri_type_ops* ops = nullptr;
  void* object = nullptr;  // inline storage; constructed by the plugin
  std::atomic<edrid::EncodedPayload*> encoded{nullptr};
  std::size_t alloc_align = alignof(edri_event);
};

namespace edrid {

using Event = edri_event;

// Typed payload: storage for ops->object_size bytes follows the header.
Event* event_alloc(const edri_type_ops* ops);
// Payload given as its MessagePack encoding (or empty: len 0).
Event* event_from_bytes(std::string payload_type, const std::uint8_t* data, std::size_t len);
// Frees an allocated event whose object was never constructed.
void event_discard(Event* ev) noexcept;
inline void event_retain(const Event* ev) noexcept {
  const_cast<Event*>(ev)->refs.fetch_add(1, std::memory_order_relaxed);
}
void event_release(const Event* ev) noexcept;
// The cached MessagePack encoding; nullptr (and err filled) if encoding failed.
const EncodedPayload* event_encoded(const Event* ev, std::string* err = nullptr);
// How many payloads have been encoded since start (a test and stats figure:
// in-process delivery between matching types must keep it at zero).
std::uint64_t encode_count() noexcept;

inline EventText& event_text(Event& ev) {
  if (!ev.text) ev.text = std::make_unique<EventText>();
  return *ev.text;
}
// Keeps the routing type; returns what header.type should point at.
inline const char* event_set_type(Event& ev, std::string type) {
  if (type == ev.payload_type) return ev.payload_type.c_str();
  EventText& t = event_text(ev);
  t.type = std::move(type);
  return t.type.c_str();
}
// Keeps a response's message; returns what header.message should point at.
inline const char* event_set_message(Event& ev, std::string message) {
  if (message.empty()) return "";
  EventText& t = event_text(ev);
  t.message = std::move(message);
  return t.message.c_str();
}

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

}  // namespace edrid
