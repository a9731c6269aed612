// A counter that many threads bump on the publish path without sharing a
// cache line: each thread adds to one of a few padded slots (picked once per
// thread) and a read sums them. A plain atomic would bounce its line between
// every publisher on each event; reads (/stats, /metrics) are rare.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace edrid {

class ShardedCounter {
 public:
  void add(std::uint64_t n = 1) noexcept { slots_[shard()].value.fetch_add(n, std::memory_order_relaxed); }

  std::uint64_t load() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& s : slots_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr std::size_t kShards = 8;
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> value{0};
  };
  // Threads take slots in turn, so up to kShards busy threads never collide.
  static std::size_t shard() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return mine;
  }

  Slot slots_[kShards];
};

}  // namespace edrid
