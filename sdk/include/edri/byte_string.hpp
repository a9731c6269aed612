// edri::ByteString: an immutable run of bytes for event fields.
//
//   struct Frame {
//     std::uint32_t channel = 0;
//     edri::ByteString body;
//   };
//   EDRI_EVENT(Frame, "media.frame", channel, body)
//
// It encodes exactly as a std::string field does (a MessagePack string), so
// a field can change from one to the other without changing what other
// routers and workers see. What it adds: its bytes can stay where they are.
// A Draft writes them into the event's own allocation, so a large payload
// costs the sender no allocation of its own and the router no second block
// while the event is queued; and a handler given an event that arrived
// encoded (from a link, a worker) reads them in the encoding, uncopied.
//
// Such a ByteString is valid as long as its event: in a handler, as long as
// the `const T&` it was given. Copying always gives a ByteString that owns
// its bytes, so a copy may outlive the event.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace edri {

template <class T>
class Draft;
namespace detail {
class MsgpackReader;
}

class ByteString {
 public:
  ByteString() noexcept = default;
  ByteString(const void* data, std::size_t size) : ByteString(own(data, size)) {}
  // From anything that is a string_view: std::string, a literal, a view.
  template <class S>
    requires std::is_convertible_v<const S&, std::string_view> && (!std::is_same_v<S, ByteString>)
  ByteString(const S& s) : ByteString(own(std::string_view(s).data(), std::string_view(s).size())) {}

  ByteString(const ByteString& o) : ByteString(own(o.data_, o.size())) {}
  ByteString(ByteString&& o) noexcept : data_(std::exchange(o.data_, nullptr)), bits_(std::exchange(o.bits_, 0)) {}
  ByteString& operator=(ByteString o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bits_, o.bits_);
    return *this;
  }
  ~ByteString() {
    if (bits_ & kOwned) delete[] data_;
  }

  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return bits_ & ~kOwned; }
  bool empty() const noexcept { return size() == 0; }
  std::string_view view() const noexcept { return {data_, size()}; }
  operator std::string_view() const noexcept { return view(); }
  std::string str() const { return std::string(view()); }
  const char* begin() const noexcept { return data_; }
  const char* end() const noexcept { return data_ + size(); }

  friend bool operator==(const ByteString& a, const ByteString& b) noexcept { return a.view() == b.view(); }
  template <class S>
    requires std::is_convertible_v<const S&, std::string_view> && (!std::is_same_v<S, ByteString>)
  friend bool operator==(const ByteString& a, const S& b) noexcept {
    return a.view() == std::string_view(b);
  }

 private:
  template <class T>
  friend class Draft;
  friend class detail::MsgpackReader;

  // Whether the bytes are this object's to free rides in the size's top bit:
  // a ByteString is two words, so an event struct holding one plus a 256 B body
  // still fits the allocator's 448 B class.
  static constexpr std::size_t kOwned = std::size_t{1} << (sizeof(std::size_t) * 8 - 1);

  ByteString(const char* data, std::size_t size, bool owned) noexcept
      : data_(data), bits_(size | (owned ? kOwned : 0)) {}
  static ByteString own(const void* data, std::size_t size) {
    if (size == 0) return ByteString();
    if (size & kOwned) throw std::length_error("edri::ByteString: too large");
    char* copy = new char[size];
    std::memcpy(copy, data, size);
    return ByteString(copy, size, true);
  }
  // Bytes kept elsewhere (in a Draft's event, in an event's encoding), not
  // freed by this object.
  static ByteString borrow(const char* data, std::size_t size) noexcept { return ByteString(data, size, false); }

  const char* data_ = nullptr;
  std::size_t bits_ = 0;
};

// JSON: a string, as std::string gives; also read from a binary value.
inline void to_json(nlohmann::json& j, const ByteString& b) { j = b.str(); }
inline void from_json(const nlohmann::json& j, ByteString& b) {
  if (j.is_binary()) {
    const auto& bin = j.get_binary();
    b = ByteString(bin.data(), bin.size());
  } else {
    b = ByteString(j.get<std::string>());  // throws as for a std::string field
  }
}

}  // namespace edri
