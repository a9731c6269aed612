// MessagePack to nlohmann::json, for payloads that arrive encoded (from
// another router, a worker process, or a plugin built from another type
// declaration). Not for plugin code: use the typed handlers.
//
// Gives what nlohmann::json::from_msgpack gives (same value types, bin and
// ext as binary values, the last of duplicate keys, an error on trailing
// bytes), but copies strings and binaries in one step: nlohmann's reader
// takes them a byte at a time, which made decoding a 256 B string field
// most of what a receiving manager did per event.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace edri::detail {

class MsgpackError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class MsgpackReader {
 public:
  MsgpackReader(const std::uint8_t* data, std::size_t len) : p_(data), end_(data + len) {}

  // The whole input as one value; anything after it is an error.
  nlohmann::json read_all() {
    nlohmann::json v = value(0);
    if (p_ != end_) fail("bytes after the value");
    return v;
  }

 private:
  // Deeper nesting than this is refused rather than recursed into.
  static constexpr int kMaxDepth = 512;

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
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
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
};

inline nlohmann::json from_msgpack(const std::uint8_t* data, std::size_t len) {
  return MsgpackReader(data, len).read_all();
}

}  // namespace edri::detail
