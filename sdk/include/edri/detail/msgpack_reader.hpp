// MessagePack to nlohmann::json, and straight into EDRI_EVENT structs
// (read_msgpack, at the end), for payloads that arrive encoded (from
// another router, a worker process, or a plugin built from another type
// declaration). Not for plugin code: use the typed handlers.
//
// Gives what nlohmann::json::from_msgpack gives (same value types, bin and
// ext as binary values, the last of duplicate keys, an error on trailing
// bytes), but copies strings and binaries in one step: nlohmann's reader
// takes them a byte at a time, which made decoding a 256 B string field
// most of what a receiving manager did per event.
#pragma once

#include <edri/byte_string.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <string_view>
#include <vector>

namespace edri::detail {

class MsgpackError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where ByteString fields read by read_msgpack keep their bytes: copies of
// their own, or the input's, for input that outlives the object (an
// event's encoding, read for a handler while the event lives).
enum class ByteFields { copy, borrow };

class MsgpackReader {
 public:
  MsgpackReader(const std::uint8_t* data, std::size_t len, ByteFields fields = ByteFields::copy)
      : p_(data), end_(data + len), borrow_(fields == ByteFields::borrow) {}

  // The whole input as one value; anything after it is an error.
  nlohmann::json read_all() {
    nlohmann::json v = value(0);
    finish();
    return v;
  }

  // ---- Piece by piece, for typed decoding (read_msgpack below).
  void finish() const {
    if (p_ != end_) fail("bytes after the value");
  }
  std::uint8_t peek() const {
    need(1);
    return *p_;
  }
  // One whole value as JSON, at nesting `depth`.
  nlohmann::json read_value(int depth) { return value(depth); }
  // A map's entry count if a map comes next (consumed); -1 for nil
  // (consumed); otherwise nothing is consumed and -2 comes back.
  std::int64_t map_or_nil() {
    const std::uint8_t b = peek();
    if (b >= 0x80 && b <= 0x8f) return (++p_, counted(b & 0x0fu));
    if (b == 0xde) return (++p_, counted(be<std::uint16_t>()));
    if (b == 0xdf) return (++p_, counted(be<std::uint32_t>()));
    if (b == 0xc0) {
      ++p_;
      return -1;
    }
    return -2;
  }
  // An array's element count if an array comes next (consumed), else -1.
  std::int64_t array_count() {
    const std::uint8_t b = peek();
    if (b >= 0x90 && b <= 0x9f) return (++p_, counted(b & 0x0fu));
    if (b == 0xdc) return (++p_, counted(be<std::uint16_t>()));
    if (b == 0xdd) return (++p_, counted(be<std::uint32_t>()));
    return -1;
  }
  // A map key, valid until the input goes away.
  std::string_view key() {
    const std::size_t n = string_length();
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  // The next value if it is a string (consumed).
  bool string_into(std::string& out) {
    const std::uint8_t b = peek();
    if (!is_string_head(b)) return false;
    const std::size_t n = string_length();
    out.assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  // The next value if it is a string or a binary (consumed).
  bool bytes_into(ByteString& out) {
    const std::uint8_t b = peek();
    std::size_t n = 0;
    if (is_string_head(b)) {
      n = string_length();
    } else if (b >= 0xc4 && b <= 0xc6) {
      ++p_;
      n = b == 0xc4 ? be<std::uint8_t>() : b == 0xc5 ? be<std::uint16_t>() : be<std::uint32_t>();
      need(n);
    } else {
      return false;
    }
    out = borrow_ ? ByteString::borrow(reinterpret_cast<const char*>(p_), n) : ByteString(p_, n);
    p_ += n;
    return true;
  }
  // The next value if it is a number (consumed), as nlohmann would give it
  // to an arithmetic target: a static_cast of the stored integer or double.
  template <class A>
  bool number_into(A& out) {
    const std::uint8_t b = peek();
    if (b <= 0x7f) return (++p_, out = static_cast<A>(b), true);
    if (b >= 0xe0) return (++p_, out = static_cast<A>(static_cast<std::int8_t>(b)), true);
    switch (b) {
      case 0xca: ++p_; out = static_cast<A>(static_cast<double>(bits<float, std::uint32_t>())); return true;
      case 0xcb: ++p_; out = static_cast<A>(bits<double, std::uint64_t>()); return true;
      case 0xcc: ++p_; out = static_cast<A>(be<std::uint8_t>()); return true;
      case 0xcd: ++p_; out = static_cast<A>(be<std::uint16_t>()); return true;
      case 0xce: ++p_; out = static_cast<A>(be<std::uint32_t>()); return true;
      case 0xcf: ++p_; out = static_cast<A>(be<std::uint64_t>()); return true;
      case 0xd0: ++p_; out = static_cast<A>(static_cast<std::int8_t>(be<std::uint8_t>())); return true;
      case 0xd1: ++p_; out = static_cast<A>(static_cast<std::int16_t>(be<std::uint16_t>())); return true;
      case 0xd2: ++p_; out = static_cast<A>(static_cast<std::int32_t>(be<std::uint32_t>())); return true;
      case 0xd3: ++p_; out = static_cast<A>(static_cast<std::int64_t>(be<std::uint64_t>())); return true;
      default: return false;
    }
  }
  bool bool_into(bool& out) {
    const std::uint8_t b = peek();
    if (b != 0xc2 && b != 0xc3) return false;
    ++p_;
    out = b == 0xc3;
    return true;
  }
  bool nil() {
    if (peek() != 0xc0) return false;
    ++p_;
    return true;
  }
  void check_depth(int depth) const {
    if (depth > kMaxDepth) fail("nested too deeply");
  }

 private:
  // fixstr, str 8, str 16, str 32.
  static bool is_string_head(std::uint8_t b) noexcept { return (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb); }

  // Deeper nesting than this is refused rather than recursed into.
  static constexpr int kMaxDepth = 512;

  // A count just read: each entry takes at least a byte, so a count beyond
  // the input is refused before anything is reserved for it.
  std::int64_t counted(std::size_t n) const {
    need(n);
    return static_cast<std::int64_t>(n);
  }

  [[noreturn]] void fail(const char* what) const {
    throw MsgpackError(std::string("MessagePack payload: ") + what);
  }
  void need(std::size_t n) const {
    if (static_cast<std::size_t>(end_ - p_) < n) fail("unexpected end of input");
  }
  template <class U>
  U be() {
    need(sizeof(U));
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) v = static_cast<U>((v << 8) | p_[i]);
    p_ += sizeof(U);
    return v;
  }
  template <class F, class U>
  F bits() {
    const U u = be<U>();
    F f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  nlohmann::json string(std::size_t n) {
    need(n);
    nlohmann::json s(std::string(reinterpret_cast<const char*>(p_), n));
    p_ += n;
    return s;
  }
  nlohmann::json binary(std::size_t n, int subtype) {
    need(n);
    std::vector<std::uint8_t> bytes(p_, p_ + n);
    p_ += n;
    if (subtype < 0) return nlohmann::json::binary(std::move(bytes));
    return nlohmann::json::binary(std::move(bytes), static_cast<std::uint8_t>(subtype));
  }
  nlohmann::json ext(std::size_t n) {
    const auto type = static_cast<std::uint8_t>(be<std::int8_t>());
    return binary(n, type);
  }
  nlohmann::json array(std::size_t n, int depth) {
    // Each element takes at least a byte: a count beyond the input is a lie,
    // and reserving for it would be an allocation the sender chose.
    need(n);
    nlohmann::json a = nlohmann::json::array();
    a.get_ref<nlohmann::json::array_t&>().reserve(n);
    for (std::size_t i = 0; i < n; ++i) a.push_back(value(depth + 1));
    return a;
  }
  nlohmann::json map(std::size_t n, int depth) {
    need(n);
    nlohmann::json m = nlohmann::json::object();
    auto& obj = m.get_ref<nlohmann::json::object_t&>();
    for (std::size_t i = 0; i < n; ++i) {
      std::string key = key_string();
      obj[std::move(key)] = value(depth + 1);
    }
    return m;
  }
  std::string key_string() {
    const std::size_t n = string_length();
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  // Reads a string's head (keys and values alike) and checks its bytes are there.
  std::size_t string_length() {
    need(1);
    const std::uint8_t b = *p_++;
    std::size_t n = 0;
    if (b >= 0xa0 && b <= 0xbf) {
      n = b & 0x1fu;
    } else if (b == 0xd9) {
      n = be<std::uint8_t>();
    } else if (b == 0xda) {
      n = be<std::uint16_t>();
    } else if (b == 0xdb) {
      n = be<std::uint32_t>();
    } else {
      fail("a map key that is not a string");
    }
    need(n);
    return n;
  }

  nlohmann::json value(int depth) {
    if (depth > kMaxDepth) fail("nested too deeply");
    need(1);
    const std::uint8_t b = *p_++;
    if (b <= 0x7f) return nlohmann::json(static_cast<std::uint64_t>(b));
    if (b >= 0xe0) return nlohmann::json(static_cast<std::int64_t>(static_cast<std::int8_t>(b)));
    if (b <= 0x8f) return map(b & 0x0fu, depth);
    if (b <= 0x9f) return array(b & 0x0fu, depth);
    if (b <= 0xbf) return string(b & 0x1fu);
    switch (b) {
      case 0xc0: return nlohmann::json(nullptr);
      case 0xc2: return nlohmann::json(false);
      case 0xc3: return nlohmann::json(true);
      case 0xc4: return binary(be<std::uint8_t>(), -1);
      case 0xc5: return binary(be<std::uint16_t>(), -1);
      case 0xc6: return binary(be<std::uint32_t>(), -1);
      case 0xc7: return ext(be<std::uint8_t>());
      case 0xc8: return ext(be<std::uint16_t>());
      case 0xc9: return ext(be<std::uint32_t>());
      case 0xca: return nlohmann::json(static_cast<double>(bits<float, std::uint32_t>()));
      case 0xcb: return nlohmann::json(bits<double, std::uint64_t>());
      case 0xcc: return nlohmann::json(static_cast<std::uint64_t>(be<std::uint8_t>()));
      case 0xcd: return nlohmann::json(static_cast<std::uint64_t>(be<std::uint16_t>()));
      case 0xce: return nlohmann::json(static_cast<std::uint64_t>(be<std::uint32_t>()));
      case 0xcf: return nlohmann::json(be<std::uint64_t>());
      case 0xd0: return nlohmann::json(static_cast<std::int64_t>(static_cast<std::int8_t>(be<std::uint8_t>())));
      case 0xd1: return nlohmann::json(static_cast<std::int64_t>(static_cast<std::int16_t>(be<std::uint16_t>())));
      case 0xd2: return nlohmann::json(static_cast<std::int64_t>(static_cast<std::int32_t>(be<std::uint32_t>())));
      case 0xd3: return nlohmann::json(static_cast<std::int64_t>(be<std::uint64_t>()));
      case 0xd4: return ext(1);
      case 0xd5: return ext(2);
      case 0xd6: return ext(4);
      case 0xd7: return ext(8);
      case 0xd8: return ext(16);
      case 0xd9: return string(be<std::uint8_t>());
      case 0xda: return string(be<std::uint16_t>());
      case 0xdb: return string(be<std::uint32_t>());
      case 0xdc: return array(be<std::uint16_t>(), depth);
      case 0xdd: return array(be<std::uint32_t>(), depth);
      case 0xde: return map(be<std::uint16_t>(), depth);
      case 0xdf: return map(be<std::uint32_t>(), depth);
      default: fail("invalid byte 0xc1");
    }
  }

  const std::uint8_t* p_;
  const std::uint8_t* end_;
  bool borrow_;
};

inline nlohmann::json from_msgpack(const std::uint8_t* data, std::size_t len) {
  return MsgpackReader(data, len).read_all();
}

// ---- Typed decoding: straight into the struct EDRI_EVENT declared, with
// nlohmann's results (its conversions, its errors). The forms nlohmann
// would accept for a field but this does not read directly, and field types
// it does not know, go through a JSON value and the type's from_json.

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class A>
struct is_vector<std::vector<bool, A>> : std::false_type {};  // nlohmann's own way
// Integers nlohmann keeps as numbers (character types it treats otherwise).
template <class T>
inline constexpr bool is_plain_integer =
    std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
    !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> &&
    !std::is_same_v<T, char32_t>;

// EDRI_EVENT declares edri_read_msgpack(MsgpackReader&, Type&, int depth).
template <class T>
concept DirectMsgpackRead = requires(MsgpackReader& r, T& v) { edri_read_msgpack(r, v, 0); };

template <class T>
void read_msgpack_value(MsgpackReader& r, T& out, int depth) {
  r.check_depth(depth);
  if constexpr (std::is_same_v<T, bool>) {
    if (r.bool_into(out)) return;
  } else if constexpr (is_plain_integer<T> || (std::is_floating_point_v<T> && sizeof(T) <= sizeof(double))) {
    if (r.number_into(out)) return;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (r.string_into(out)) return;
  } else if constexpr (std::is_same_v<T, ByteString>) {
    if (r.bytes_into(out)) return;
  } else if constexpr (is_optional<T>::value) {
    if (r.nil()) {
      out.reset();
    } else {
      if (!out) out.emplace();
      read_msgpack_value(r, *out, depth);
    }
    return;
  } else if constexpr (is_vector<T>::value) {
    const std::int64_t n = r.array_count();
    if (n >= 0) {
      out.clear();
      out.reserve(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) read_msgpack_value(r, out.emplace_back(), depth + 1);
      return;
    }
  } else if constexpr (DirectMsgpackRead<T>) {
    edri_read_msgpack(r, out, depth);
    return;
  }
  r.read_value(depth).get_to(out);
}

// The body of EDRI_EVENT's reader: a map of fields (unknown keys are read
// and dropped, missing ones keep their defaults) or nil (all defaults).
template <class Field>
void read_msgpack_object(MsgpackReader& r, const char* type_name, int depth, Field&& field) {
  const std::int64_t n = r.map_or_nil();
  if (n == -1) return;
  if (n < 0) throw std::invalid_argument(std::string("expected an object for ") + type_name);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string_view key = r.key();
    if (!field(key)) (void)r.read_value(depth + 1);
  }
}

// A whole payload into T; anything after it is an error.
template <class T>
T read_msgpack(const std::uint8_t* data, std::size_t len, ByteFields fields = ByteFields::copy) {
  MsgpackReader r(data, len, fields);
  T out{};
  read_msgpack_value(r, out, 0);
  r.finish();
  return out;
}

}  // namespace edri::detail
