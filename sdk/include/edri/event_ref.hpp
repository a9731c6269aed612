// Owning handles on host events and read access to their headers and payloads.
#pragma once

#include <edri/detail/msgpack_reader.hpp>
#include <edri/event.hpp>
#include <edri/status.hpp>

#include <cstdio>
#include <optional>
#include <string_view>
#include <memory>
#include <string>
#include <utility>

namespace edri {

// A reference-counted handle on an immutable host event.
class EventRef {
 public:
  EventRef() = default;
  EventRef(const edri_host_api* host, const edri_event* ev) noexcept : host_(host), ev_(ev) {
    if (ev_) host_->event_retain(ev_);
  }
  EventRef(const EventRef& o) noexcept : EventRef(o.host_, o.ev_) {}
  EventRef(EventRef&& o) noexcept : host_(o.host_), ev_(std::exchange(o.ev_, nullptr)) {}
  EventRef& operator=(EventRef o) noexcept {
    std::swap(host_, o.host_);
    std::swap(ev_, o.ev_);
    return *this;
  }
  ~EventRef() {
    if (ev_) host_->event_release(ev_);
  }

  explicit operator bool() const noexcept { return ev_ != nullptr; }
  const edri_event* get() const noexcept { return ev_; }
  const edri_host_api* host() const noexcept { return host_; }
  const edri_event_header& header() const noexcept { return *host_->event_header(ev_); }

 private:
  const edri_host_api* host_ = nullptr;
  const edri_event* ev_ = nullptr;
};

inline std::string to_hex(edri_id128 id) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(id.hi),
                static_cast<unsigned long long>(id.lo));
  return buf;
}

// An id from its 32 lowercase hex digits (as to_hex writes it, and as a W3C
// trace id is written); nullopt for anything else or for all zeros, which
// W3C Trace Context calls invalid.
inline std::optional<edri_id128> parse_trace_id(std::string_view hex) noexcept {
  if (hex.size() != 32) return std::nullopt;
  std::uint64_t half[2] = {0, 0};
  for (std::size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return std::nullopt;
    half[i / 16] = half[i / 16] << 4 | static_cast<std::uint64_t>(v);
  }
  if (half[0] == 0 && half[1] == 0) return std::nullopt;
  return edri_id128{half[0], half[1]};
}

namespace detail {
// The payload of ev as T: in place when fingerprints match (zero copy),
// otherwise decoded from the host's cached MessagePack encoding.
template <class T>
class PayloadView {
 public:
  PayloadView(const edri_host_api* host, const edri_event* ev) {
    if constexpr (TypedEvent<T>) {
      ptr_ = static_cast<const T*>(host->event_object(ev, fingerprint<T>()));
      if (ptr_) return;
    }
    edri_bytes bytes{};
    if (host->event_encoded(ev, EDRI_FORMAT_MSGPACK, &bytes) != EDRI_OK) {
      throw std::runtime_error(std::string("cannot encode payload of ") +
                               host->event_header(ev)->type);
    }
    if (bytes.len == 0) {
      if constexpr (std::is_same_v<T, json>) {
        owned_.emplace(nullptr);
        ptr_ = &*owned_;
      }
      return;
    }
    if constexpr (std::is_same_v<T, json>) {
      owned_.emplace(detail::from_msgpack(bytes.data, bytes.len));
    } else {
      // ByteString fields point into the encoding: it is the event's, and
      // the event outlives this view (a handler's call, a Response's life).
      owned_.emplace(detail::read_msgpack<T>(bytes.data, bytes.len, detail::ByteFields::borrow));
    }
    ptr_ = &*owned_;
  }
  PayloadView(const PayloadView&) = delete;
  PayloadView& operator=(const PayloadView&) = delete;
  PayloadView(PayloadView&& o) noexcept : owned_(std::move(o.owned_)) {
    ptr_ = owned_ ? &*owned_ : o.ptr_;
  }

  const T* get() const noexcept { return ptr_; }

 private:
  std::optional<T> owned_;
  const T* ptr_ = nullptr;
};
}  // namespace detail

// Header fields of an event, for handlers that want more than the payload.
class EventInfo {
 public:
  explicit EventInfo(const edri_event_header& h) : h_(&h) {}
  std::string_view type() const { return h_->type; }
  edri_kind kind() const { return static_cast<edri_kind>(h_->kind); }
  int priority() const { return h_->priority; }
  std::string_view sender() const { return h_->sender; }
  std::string_view origin_router() const { return h_->origin_router; }
  std::string id() const { return to_hex(h_->id); }
  std::string trace_id() const { return to_hex(h_->trace_id); }
  const edri_event_header& raw() const { return *h_; }

 private:
  const edri_event_header* h_;
};

// An event handled without a struct: its type name and its data as JSON.
class GenericEvent {
 public:
  GenericEvent(const edri_host_api* host, const edri_event* ev)
      : ref_(host, ev), data_(host, ev) {}
  std::string_view type() const { return ref_.header().type; }
  const json& data() const { return *data_.get(); }
  EventInfo info() const { return EventInfo(ref_.header()); }

 private:
  EventRef ref_;
  detail::PayloadView<json> data_;
};

// One response to a request: a status, a message and, when the responder set
// it, data of type T (json for generic requests).
template <class T>
class Response {
 public:
  Response(const edri_host_api* host, const edri_event* ev) : ref_(host, ev) {
    const auto& h = ref_.header();
    status_ = static_cast<Status>(h.status);
    message_ = h.message ? h.message : "";
    try {
      data_.emplace(host, ev);
    } catch (const std::exception& e) {
      if (status_ == Status::ok) status_ = Status::error;
      message_ = std::string("cannot decode response data: ") + e.what();
    }
  }

  Status status() const noexcept { return status_; }
  bool ok() const noexcept { return status_ == Status::ok; }
  const std::string& message() const noexcept { return message_; }
  // The data, or nullptr when the responder set none.
  const T* data() const noexcept { return data_ ? data_->get() : nullptr; }
  EventInfo info() const { return EventInfo(ref_.header()); }

 private:
  EventRef ref_;
  Status status_ = Status::ok;
  std::string message_;
  std::optional<detail::PayloadView<T>> data_;
};

}  // namespace edri
