// Bounds-checked little-endian reads of one frame body (see byte_writer.hpp).
// The first failure sticks: a decoder reads every field, then asks once
// whether all were there.
#pragma once

#include <edri/abi.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace edrid::codec {

class ByteReader {
 public:
  ByteReader(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
  bool ok() const noexcept { return ok_; }
  bool at_end() const noexcept { return pos_ == n_; }
  // A field read whole but holding a value its frame does not allow.
  void fail() noexcept { ok_ = false; }

  std::uint64_t le(int width) {
    if (!take(static_cast<std::size_t>(width))) return 0;
    const std::uint8_t* b = p_ + pos_ - width;
    std::uint64_t v = 0;
    if constexpr (std::endian::native == std::endian::little) {
      // One load: the byte loop was most of a switch's decode.
      std::memcpy(&v, b, static_cast<std::size_t>(width));
    } else {
      for (int i = 0; i < width; ++i) v |= static_cast<std::uint64_t>(b[i]) << (8 * i);
    }
    return v;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(le(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() { return le(8); }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  edri_id128 id() {
    edri_id128 v;
    v.hi = u64();
    v.lo = u64();
    return v;
  }
  const std::uint8_t* bytes(std::size_t n) {
    if (!take(n)) return nullptr;
    return p_ + pos_ - n;
  }
  std::string_view str8() { return str(u8()); }
  std::string_view str32() { return str(u32()); }

 private:
  std::string_view str(std::size_t n) {
    const std::uint8_t* b = bytes(n);
    return b ? std::string_view(reinterpret_cast<const char*>(b), n) : std::string_view();
  }
  bool take(std::size_t n) {
    if (!ok_ || n > n_ - pos_) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  const std::uint8_t* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace edrid::codec
