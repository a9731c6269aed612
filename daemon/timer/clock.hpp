// Clock readings as nanosecond counts, the form event headers and the
// router's deadline bookkeeping store.
#pragma once

#include <time.h>

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

// The steady clock at tick resolution (a few ms), for figures read over
// many tasks: about a third of steady_ns()'s cost. A sum of differences of
// it is still an unbiased sum of the true durations, since a task crosses a
// tick with probability duration / tick.
inline std::int64_t coarse_steady_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace edrid
