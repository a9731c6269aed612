// Clock readings as nanosecond counts, the form event headers and the
// router's deadline bookkeeping store.
#pragma once

#include <chrono>
#include <cstdint>

namespace edrid {

// CLOCK_REALTIME: timestamps and deadlines that travel in event headers.
inline std::int64_t realtime_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The steady clock: durations and deadlines kept inside this process.
inline std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace edrid
