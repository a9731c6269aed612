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
  // incarnation of an origin than one already seen is stale. *previous gets
  // the incarnation seen from `origin` before this call (0 if none).
  bool accept(std::string_view origin, std::uint64_t incarnation, std::uint64_t seq,
              std::uint64_t* previous = nullptr) {
    Seen* s = find(origin);
    if (previous) *previous = s ? s->incarnation : 0;
    if (!s) {
      seen_.emplace(std::string(origin), Seen{incarnation, seq});
      return true;
    }
    if (incarnation != s->incarnation) {
      if (incarnation < s->incarnation) return false;
      *s = Seen{incarnation, seq};
      return true;
    }
    if (seq <= s->seq) return false;
    s->seq = seq;
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
  using Table = std::unordered_map<std::string, Seen, Hash, std::equal_to<>>;

  // Nearly every event comes from the origin of the one before: the entry
  // found last is tried first, without hashing the name.
  Seen* find(std::string_view origin) {
    if (last_ && last_->first == origin) return &last_->second;
    auto it = seen_.find(origin);
    if (it == seen_.end()) return nullptr;
    last_ = &*it;
    return &it->second;
  }

  Table seen_;
  Table::value_type* last_ = nullptr;
};

}  // namespace edrid::cluster
