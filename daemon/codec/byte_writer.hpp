// Builds one frame of a length-prefixed binary protocol (the link protocol,
// the worker protocol): a 4-byte little-endian length of what follows, a
// 1-byte frame type, then little-endian fields.
#pragma once

#include <edri/abi.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace edrid::codec {

// Frame length prefix + frame type.
constexpr std::size_t kFrameHead = 5;

class ByteWriter {
 public:
  // `reuse`: a buffer whose capacity the frame may take over.
  explicit ByteWriter(std::uint8_t type, std::size_t reserve = 64, std::string reuse = {}) : out_(std::move(reuse)) {
    out_.clear();
    out_.reserve(kFrameHead + reserve);
    out_.append(4, '\0');
    out_.push_back(static_cast<char>(type));
  }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void i32(std::int32_t v) { le(static_cast<std::uint32_t>(v), 4); }
  void i64(std::int64_t v) { le(static_cast<std::uint64_t>(v), 8); }
  void id(const edri_id128& v) {
    u64(v.hi);
    u64(v.lo);
  }
  void bytes(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  // Strings with a 1-byte length: type names and ids, which are short by rule.
  void str8(std::string_view s) {
    const std::size_t n = std::min<std::size_t>(s.size(), 255);
    u8(static_cast<std::uint8_t>(n));
    bytes(s.data(), n);
  }
  void str32(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  // Appends what `fill(buffer)` adds after a 4-byte length, and sets that
  // length; false (and nothing appended) when fill fails.
  template <class Fill>
  bool sized32(Fill&& fill) {
    const std::size_t at = out_.size();
    u32(0);
    if (!fill(out_)) {
      out_.resize(at);
      return false;
    }
    length_at(at);
    return true;
  }
  std::string finish() {
    length_at(0);
    return std::move(out_);
  }

 private:
  // Sets the 4-byte length at `at` to the number of bytes after it.
  void length_at(std::size_t at) {
    const auto n = static_cast<std::uint32_t>(out_.size() - at - 4);
    for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<char>((n >> (8 * i)) & 0xff);
  }
  // Bytes built in a register and appended once: a push_back per byte
  // checked the capacity each time, and ids and headers are most of a frame.
  void le(std::uint64_t v, int n) {
    char b[8];
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(b, &v, 8);
    } else {
      for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    }
    out_.append(b, static_cast<std::size_t>(n));
  }
  std::string out_;
};

}  // namespace edrid::codec
