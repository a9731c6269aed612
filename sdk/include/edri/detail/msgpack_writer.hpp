// Typed values to MessagePack without building a nlohmann::json first. Not
// for plugin code: EDRI_EVENT types use it when their events leave the
// process (another router, a worker process).
//
// Decodes to what nlohmann::json::to_msgpack(json(value)) decodes to: the
// same formats for numbers (smallest integer form, float32 when exact),
// strings, arrays and maps. Only map key order differs (declaration order
// here, sorted there), which MessagePack readers do not depend on. Field
// types it does not know (enums, maps, custom to_json, ...) go through
// nlohmann as before, so their encoding is unchanged.
#pragma once

#include <edri/byte_string.hpp>
#include <edri/detail/msgpack_reader.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace edri::detail {

class MsgpackWriter {
 public:
  explicit MsgpackWriter(std::vector<std::uint8_t>& out) : out_(out) {}

  void nil() { out_.push_back(0xc0); }
  void boolean(bool b) { out_.push_back(b ? 0xc3 : 0xc2); }

  void unsigned_integer(std::uint64_t v) {
    if (v < 128) {
      out_.push_back(static_cast<std::uint8_t>(v));
    } else if (v <= 0xff) {
      head(0xcc, v, 1);
    } else if (v <= 0xffff) {
      head(0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
      head(0xce, v, 4);
    } else {
      head(0xcf, v, 8);
    }
  }

  void signed_integer(std::int64_t v) {
    if (v >= 0) return unsigned_integer(static_cast<std::uint64_t>(v));
    const auto u = static_cast<std::uint64_t>(v);
    if (v >= -32) {
      out_.push_back(static_cast<std::uint8_t>(v));
    } else if (v >= std::numeric_limits<std::int8_t>::min()) {
      head(0xd0, u, 1);
    } else if (v >= std::numeric_limits<std::int16_t>::min()) {
      head(0xd1, u, 2);
    } else if (v >= std::numeric_limits<std::int32_t>::min()) {
      head(0xd2, u, 4);
    } else {
      head(0xd3, u, 8);
    }
  }

  // float32 when it holds the value exactly, as nlohmann writes it.
  void floating(double d) {
    if (d >= static_cast<double>(std::numeric_limits<float>::lowest()) &&
        d <= static_cast<double>(std::numeric_limits<float>::max()) &&
        static_cast<double>(static_cast<float>(d)) == d) {
      const float f = static_cast<float>(d);
      std::uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      head(0xca, bits, 4);
    } else {
      std::uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      head(0xcb, bits, 8);
    }
  }

  void string(std::string_view s) {
    const std::size_t n = s.size();
    if (n < 32) {
      out_.push_back(static_cast<std::uint8_t>(0xa0 | n));
    } else if (n <= 0xff) {
      head(0xd9, n, 1);
    } else if (n <= 0xffff) {
      head(0xda, n, 2);
    } else {
      head(0xdb, n, 4);
    }
    out_.insert(out_.end(), reinterpret_cast<const std::uint8_t*>(s.data()),
                reinterpret_cast<const std::uint8_t*>(s.data()) + n);
  }

  void array_header(std::size_t n) { container(n, 0x90, 0xdc, 0xdd); }
  void map_header(std::size_t n) { container(n, 0x80, 0xde, 0xdf); }

  // Anything else: through nlohmann, appended in place.
  void json_value(const nlohmann::json& j) { nlohmann::json::to_msgpack(j, out_); }

 private:
  void container(std::size_t n, std::uint8_t fix, std::uint8_t b16, std::uint8_t b32) {
    if (n < 16) {
      out_.push_back(static_cast<std::uint8_t>(fix | n));
    } else if (n <= 0xffff) {
      head(b16, n, 2);
    } else {
      head(b32, n, 4);
    }
  }
  // A format byte and `width` big-endian bytes of v, appended at once.
  void head(std::uint8_t format, std::uint64_t v, int width) {
    std::uint8_t b[9];
    b[0] = format;
    for (int i = 0; i < width; ++i) b[1 + i] = static_cast<std::uint8_t>(v >> (8 * (width - 1 - i)));
    out_.insert(out_.end(), b, b + 1 + width);
  }

  std::vector<std::uint8_t>& out_;
};

// EDRI_EVENT declares edri_write_msgpack(MsgpackWriter&, const Type&).
template <class T>
concept DirectMsgpack = requires(MsgpackWriter& w, const T& v) { edri_write_msgpack(w, v); };

template <class T>
void write_msgpack_value(MsgpackWriter& w, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    w.boolean(v);
  } else if constexpr (is_plain_integer<T>) {
    if constexpr (std::is_signed_v<T>) {
      w.signed_integer(v);
    } else {
      w.unsigned_integer(v);
    }
  } else if constexpr (std::is_floating_point_v<T> && sizeof(T) <= sizeof(double)) {
    w.floating(static_cast<double>(v));
  } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, ByteString>) {
    w.string(v);
  } else if constexpr (is_optional<T>::value) {
    if (v) {
      write_msgpack_value(w, *v);
    } else {
      w.nil();
    }
  } else if constexpr (is_vector<T>::value) {
    w.array_header(v.size());
    for (const auto& e : v) write_msgpack_value(w, e);
  } else if constexpr (DirectMsgpack<T>) {
    edri_write_msgpack(w, v);
  } else {
    w.json_value(nlohmann::json(v));
  }
}

}  // namespace edri::detail
