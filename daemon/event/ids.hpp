// 128-bit event and trace ids: a random per-process prefix and a counter, so
// ids are unique across routers without coordination and cheap to make.
#pragma once

#include <edri/abi.h>

#include <functional>
#include <string>

namespace edrid {

edri_id128 next_id() noexcept;
std::string to_hex(edri_id128 id);

struct IdEq {
  bool operator()(const edri_id128& a, const edri_id128& b) const noexcept {
    return a.hi == b.hi && a.lo == b.lo;
  }
};

struct IdHash {
  std::size_t operator()(const edri_id128& id) const noexcept {
    return std::hash<std::uint64_t>{}(id.lo ^ (id.hi * 0x9e3779b97f4a7c15ull));
  }
};

}  // namespace edrid
