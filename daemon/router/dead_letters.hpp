// Events nobody could process become dead letters: published as the generic
// notification `edri.dead_letter` (the original type, header, payload, the
// reason and the deliveries made) so that any manager — a store, an alert —
// can keep them, and counted per reason for /stats and /metrics.
#pragma once

#include "event/event.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace edrid {

inline constexpr std::string_view kDeadLetterType = "edri.dead_letter";

enum class DeadReason : std::uint8_t {
  max_deliveries,  // at least once: every delivery failed
  expired,         // a request whose deadline passed before it could go again
  no_receiver,     // at least once: nobody left to deliver it to
  undeliverable,   // at least once: its payload could not be copied for another delivery
  count_
};
std::string_view to_string(DeadReason r) noexcept;

struct DeadLetter {
  const Event& event;
  DeadReason reason;
  std::uint32_t attempts;      // deliveries made
  std::string_view manager;    // the last one that had it
  std::string_view group;      // its group, or empty
  std::string_view error;      // the last failure
};

class DeadLetters {
 public:
  // The edri.dead_letter notification for `letter`; null for a dead letter
  // of a dead letter, which is only counted.
  static EventPtr make(const DeadLetter& letter);
  void count(DeadReason r) noexcept { counts_[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t counted(DeadReason r) const noexcept {
    return counts_[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(DeadReason::count_)> counts_{};
};

}  // namespace edrid
