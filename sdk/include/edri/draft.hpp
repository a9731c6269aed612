// edri::Draft<T>: an event built where the router keeps it.
//
//   auto d = ctx.draft<Frame>(body.size());  // room for the body, in the event
//   d->channel = 3;
//   d->body = d.bytes(body);                 // copied once, into that room
//   ctx.notify(std::move(d));                // or request / call / Reply::set
//
// Sending a T moves it into an allocation the router makes, and its strings
// and vectors keep allocations of their own. A Draft starts in the router's
// allocation with `room` spare bytes after the object, and bytes() writes
// ByteString fields there: the event and its payload are one allocation, made
// once, and a queued 256 B event holds one block instead of two.
//
// A ByteString from bytes() lives in the event: assign it to a field of this
// draft's object and nowhere else. What does not fit the room gets an
// allocation of its own, as ByteString(data) would. A Draft not sent is freed.
#pragma once

#include <edri/byte_string.hpp>
#include <edri/event.hpp>

#include <cstddef>
#include <cstring>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

namespace edri {

class Context;
template <class R>
class Reply;

template <class T>
class Draft {
  static_assert(TypedEvent<T>, "edri::Draft<T> needs a type declared with EDRI_EVENT");

 public:
  Draft(Draft&& o) noexcept
      : host_(o.host_), ev_(std::exchange(o.ev_, nullptr)), obj_(std::exchange(o.obj_, nullptr)),
        next_(o.next_), end_(o.end_) {}
  Draft& operator=(Draft&& o) noexcept {
    Draft gone(std::move(*this));
    host_ = o.host_;
    ev_ = std::exchange(o.ev_, nullptr);
    obj_ = std::exchange(o.obj_, nullptr);
    next_ = o.next_;
    end_ = o.end_;
    return *this;
  }
  Draft(const Draft&) = delete;
  Draft& operator=(const Draft&) = delete;
  ~Draft() {
    if (ev_) host_->event_release(ev_);  // destroys the object, frees the block
  }

  // The object, default-constructed; valid until the draft is sent.
  T& operator*() const noexcept { return *obj_; }
  T* operator->() const noexcept { return obj_; }

  // Copies `data` into the draft's room and returns it as a ByteString living in
  // the event, for a field of this draft's object.
  ByteString bytes(std::string_view data) {
    if (data.empty()) return ByteString();
    if (data.size() > room()) return ByteString(data);
    char* at = next_;
    std::memcpy(at, data.data(), data.size());
    next_ += data.size();
    return ByteString::borrow(at, data.size());
  }
  // Bytes of room left for bytes().
  std::size_t room() const noexcept { return static_cast<std::size_t>(end_ - next_); }

 private:
  friend class Context;
  template <class R>
  friend class Reply;

  Draft(const edri_host_api* host, edri_host_ctx* ctx, std::size_t room) : host_(host) {
    void* object = nullptr;
    void* spare = nullptr;
    if (room > 0 && host_has_room(host)) {
      ev_ = host->event_alloc_room(ctx, type_ops<T>(), room, &object, &spare);
    } else {
      ev_ = host->event_alloc(ctx, type_ops<T>(), &object);
      room = 0;  // a host before ABI 1.2: every bytes() owns its copy
    }
    if (!ev_) throw std::bad_alloc();
    try {
      obj_ = ::new (object) T();
    } catch (...) {
      host->event_discard(ev_);
      throw;
    }
    next_ = static_cast<char*>(spare);
    end_ = next_ + room;
  }
  static bool host_has_room(const edri_host_api* host) noexcept {
    return host->struct_size >= offsetof(edri_host_api, event_alloc_room) + sizeof host->event_alloc_room;
  }
  // Hands the event over for sending; the draft is empty afterwards.
  edri_event* take() noexcept {
    obj_ = nullptr;
    return std::exchange(ev_, nullptr);
  }

  const edri_host_api* host_;
  edri_event* ev_ = nullptr;
  T* obj_ = nullptr;
  char* next_ = nullptr;
  char* end_ = nullptr;
};

namespace detail {
template <class T>
struct draft_payload {
  using type = void;
};
template <class T>
struct draft_payload<Draft<T>> {
  using type = T;
};
}  // namespace detail

// What the send functions take: an event, or a Draft of one.
template <class T>
concept Sendable = TypedEvent<T> || TypedEvent<typename detail::draft_payload<T>::type>;

// The event type a Sendable carries.
template <Sendable T>
using payload_t = std::conditional_t<TypedEvent<T>, T, typename detail::draft_payload<T>::type>;

}  // namespace edri
