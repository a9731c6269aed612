// At most one log line per interval for a message that input can repeat
// at will (a peer sending bad frames, a client flooding): the first one is
// written at once, later ones are counted and reported with the next line.
#pragma once

#include <chrono>
#include <cstdint>

namespace edrid::logging {

class Throttle {
 public:
  explicit Throttle(std::chrono::milliseconds interval = std::chrono::seconds(10)) : interval_(interval) {}

  // Calls write(suppressed) when a line is due, where `suppressed` is how
  // many were skipped since the last; otherwise counts this one. Not
  // thread-safe: one owner (a session, a strand).
  template <class Write>
  void warn(Write&& write) {
    const auto now = std::chrono::steady_clock::now();
    if (written_ && now - last_ < interval_) {
      ++suppressed_;
      return;
    }
    written_ = true;
    last_ = now;
    const std::uint64_t more = suppressed_;
    suppressed_ = 0;
    write(more);
  }

 private:
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_{};
  std::uint64_t suppressed_ = 0;
  bool written_ = false;
};

}  // namespace edrid::logging
