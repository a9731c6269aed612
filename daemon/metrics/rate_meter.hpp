// Events per second of a growing counter, over the interval between the last
// two samples (the router takes one about every second). Sampled by one
// thread, read by any.
#pragma once

#include <atomic>
#include <cstdint>

namespace edrid {

class RateMeter {
 public:
  // `total`: the counter now; `now_ns`: a steady clock.
  void sample(std::uint64_t total, std::int64_t now_ns) noexcept {
    if (last_ns_ != 0 && now_ns > last_ns_) {
      const double dt = static_cast<double>(now_ns - last_ns_) / 1e9;
      rate_.store(static_cast<double>(total - last_total_) / dt, std::memory_order_relaxed);
    }
    last_total_ = total;
    last_ns_ = now_ns;
  }
  // 0 until two samples were taken.
  double per_second() const noexcept { return rate_.load(std::memory_order_relaxed); }

 private:
  std::uint64_t last_total_ = 0;
  std::int64_t last_ns_ = 0;
  std::atomic<double> rate_{0};
};

}  // namespace edrid
