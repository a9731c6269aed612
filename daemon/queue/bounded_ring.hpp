// A bounded lock-free ring for many producers and consumers (D. Vyukov's
// bounded MPMC queue): a push or a pop is one compare-and-swap on a position
// plus one release store on the cell, with no allocation. Each cell carries
// a sequence number that says whose turn it is, so producers and consumers
// touch shared counters only to claim a position.
//
// try_pop tells "empty" (every claimed push has been taken) apart from "busy"
// (a producer claimed the next cell but has not filled it yet); a consumer
// that needs a complete view, such as one about to look at an overflow list,
// waits out "busy".
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace edrid {

template <class T>
class BoundedRing {
 public:
  enum class Pop { item, empty, busy };

  // At least two cells: with one, a filled cell's sequence equals the next
  // free position's and a push would overwrite it.
  explicit BoundedRing(std::size_t cells)
      : n_(cells < 2 ? 2 : cells), pow2_((n_ & (n_ - 1)) == 0), cells_(new Cell[n_]) {
    for (std::size_t i = 0; i < n_; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  ~BoundedRing() {
    T v;
    while (try_pop(v) != Pop::empty) {
    }
  }
  BoundedRing(const BoundedRing&) = delete;
  BoundedRing& operator=(const BoundedRing&) = delete;

  // False when full; v is then untouched.
  bool try_push(T&& v) {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[index(pos)];
      const std::size_t seq = c.seq.load(std::memory_order_acquire);
      const auto dif = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (dif == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          ::new (c.storage) T(std::move(v));
          c.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (dif < 0) {
        return false;
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  Pop try_pop(T& out) { return pop<true>(out); }

  // try_pop without telling "empty" from "busy" (both give false): that
  // needs the producers' position, whose cache line every push writes, so
  // a consumer polling with this leaves it alone.
  bool try_take(T& out) { return pop<false>(out) == Pop::item; }

  // Whether the oldest claimed cell is filled: what try_take would take.
  // Like try_take, reads only the consumers' position and that cell.
  bool front_ready() const noexcept {
    const std::size_t pos = head_.load(std::memory_order_relaxed);
    return cells_[index(pos)].seq.load(std::memory_order_acquire) == pos + 1;
  }

  // Exact when no push or pop runs at the same time.
  std::size_t size() const noexcept {
    const std::size_t head = head_.load(std::memory_order_acquire);
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    return tail > head ? tail - head : 0;
  }
  bool empty() const noexcept { return size() == 0; }
  std::size_t cells() const noexcept { return n_; }

 private:
  struct Cell {
    std::atomic<std::size_t> seq;
    alignas(T) unsigned char storage[sizeof(T)];
  };
  std::size_t index(std::size_t pos) const noexcept { return pow2_ ? pos & (n_ - 1) : pos % n_; }

  template <bool TellBusy>
  Pop pop(T& out) {
    std::size_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[index(pos)];
      const std::size_t seq = c.seq.load(std::memory_order_acquire);
      const auto dif = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
      if (dif == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          T* p = std::launder(reinterpret_cast<T*>(c.storage));
          out = std::move(*p);
          p->~T();
          c.seq.store(pos + n_, std::memory_order_release);
          return Pop::item;
        }
      } else if (dif < 0) {
        if constexpr (!TellBusy) return Pop::busy;
        return tail_.load(std::memory_order_acquire) == pos ? Pop::empty : Pop::busy;
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

  const std::size_t n_;
  const bool pow2_;
  std::unique_ptr<Cell[]> cells_;
  // Apart, so producers claiming and the consumer taking do not share a line.
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::atomic<std::size_t> head_{0};
};

}  // namespace edrid
