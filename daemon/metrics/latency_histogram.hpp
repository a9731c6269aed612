// A latency histogram many threads record into without a lock: four buckets
// per power of two from 1 us to about 4.5 hours, so a percentile read from
// it is within 19 % of the true value. /stats reads percentiles, /metrics
// the Prometheus buckets (at the powers of two).
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>

namespace edrid {

class LatencyHistogram {
 public:
  static constexpr int kPerOctave = 4;
  static constexpr int kOctaves = 34;  // 2^34 us: about 4.8 hours
  static constexpr int kBuckets = kPerOctave * kOctaves + 1;  // the last: everything longer

  void record(std::int64_t ns) noexcept {
    const double us = static_cast<double>(ns < 0 ? 0 : ns) / 1000.0;
    int i = us <= 1.0 ? 0 : static_cast<int>(std::ceil(std::log2(us) * kPerOctave));
    if (i >= kBuckets) i = kBuckets - 1;
    counts_[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(ns < 0 ? 0 : ns), std::memory_order_relaxed);
  }

  // The upper bound, in us, of bucket i (its values are above bucket i-1's).
  static double upper_us(int i) noexcept { return std::exp2(static_cast<double>(i) / kPerOctave); }

  struct Snapshot {
    std::array<std::uint64_t, kBuckets> counts{};
    std::uint64_t count = 0;
    std::uint64_t sum_ns = 0;
    // The value in us that a fraction q of the samples is at or below (the
    // bucket's upper bound); 0 without samples.
    double percentile_us(double q) const noexcept {
      if (count == 0) return 0;
      const auto want = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count)));
      std::uint64_t seen = 0;
      for (int i = 0; i < kBuckets; ++i) {
        seen += counts[static_cast<std::size_t>(i)];
        if (seen >= want && seen > 0) return upper_us(i);
      }
      return upper_us(kBuckets - 1);
    }
    double mean_us() const noexcept { return count ? static_cast<double>(sum_ns) / 1000.0 / count : 0; }
  };
  Snapshot snapshot() const noexcept {
    Snapshot s;
    for (int i = 0; i < kBuckets; ++i) {
      s.counts[static_cast<std::size_t>(i)] = counts_[static_cast<std::size_t>(i)].load(std::memory_order_relaxed);
      s.count += s.counts[static_cast<std::size_t>(i)];
    }
    s.sum_ns = sum_ns_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace edrid
