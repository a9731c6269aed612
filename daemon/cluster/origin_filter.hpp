// Drops events a router has already delivered, by the sequence their origin
// router gave them. Link sequences stop duplicates on one link; this stops
// them end to end, when a restarted switch receives a resend of frames it had
// already forwarded before it went down.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edrid::cluster {

class OriginFilter {
 public:
  // True the first time (origin, incarnation, seq) is seen in order. An older
  // incarnation of an origin than one already seen is stale.
  // The incarnation last seen from `origin`, 0 if none.
  std::uint64_t incarnation_of(std::string_view origin) const {
    auto it = seen_.find(origin);
    return it == seen_.end() ? 0 : it->second.incarnation;
  }

  bool accept(std::string_view origin, std::uint64_t incarnation, std::uint64_t seq) {
    auto it = seen_.find(origin);
    if (it == seen_.end()) {
      seen_.emplace(std::string(origin), Seen{incarnation, seq});
      return true;
    }
    Seen& s = it->second;
    if (incarnation != s.incarnation) {
      if (incarnation < s.incarnation) return false;
      s = Seen{incarnation, seq};
      return true;
    }
    if (seq <= s.seq) return false;
    s.seq = seq;
    return true;
  }

 private:
  struct Seen {
    std::uint64_t incarnation;
    std::uint64_t seq;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Seen, Hash, std::equal_to<>> seen_;
};

}  // namespace edrid::cluster
