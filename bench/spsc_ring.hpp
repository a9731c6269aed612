// The reference for inproc-notify (docs/performance.md): what two threads
// can move through memory on this machine. A single-producer single-
// consumer ring of fixed cells, each item `size` bytes copied in and read
// out, published in batches of 64, with each side caching the other's
// index. No allocation, no wake-ups (both spin): an upper bound, not a
// router.
#pragma once

#include <edri/detail/cpu_relax.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace bench {

struct SpscFigure {
  double seconds = 0;
  std::uint64_t checksum = 0;  // read from every item, so no copy is optimised away
};

inline SpscFigure spsc_ring_run(std::uint64_t n, std::size_t size) {
  constexpr std::size_t kCells = 4096;
  constexpr std::size_t kBatch = 64;
  const std::size_t stride = (size + 63) / 64 * 64;
  std::vector<unsigned char> cells(kCells * stride);
  alignas(64) std::atomic<std::uint64_t> head{0};  // next to read
  alignas(64) std::atomic<std::uint64_t> tail{0};  // next to write
  SpscFigure fig;
  std::uint64_t sum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread consumer([&] {
    std::uint64_t h = 0, seen_tail = 0;
    while (h < n) {
      while (seen_tail == h) {
        seen_tail = tail.load(std::memory_order_acquire);
        if (seen_tail == h) edri::detail::cpu_relax();
      }
      for (; h < seen_tail; ++h) {
        std::uint64_t v;
        std::memcpy(&v, &cells[(h % kCells) * stride], sizeof v);
        sum += v;
      }
      head.store(h, std::memory_order_release);
    }
  });
  std::vector<unsigned char> item(size, 'x');
  std::uint64_t t = 0, seen_head = 0;
  while (t < n) {
    const std::uint64_t batch = std::min<std::uint64_t>(kBatch, n - t);
    while (t + batch - seen_head > kCells) {
      seen_head = head.load(std::memory_order_acquire);
      if (t + batch - seen_head > kCells) edri::detail::cpu_relax();
    }
    for (std::uint64_t i = 0; i < batch; ++i, ++t) {
      std::memcpy(item.data(), &t, sizeof t);
      std::memcpy(&cells[(t % kCells) * stride], item.data(), size);
    }
    tail.store(t, std::memory_order_release);
  }
  consumer.join();
  fig.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fig.checksum = sum;
  return fig;
}

}  // namespace bench
