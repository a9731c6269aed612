// A manager's inbox: FIFO or priority order (lower number first, FIFO among
// equals), bounded, with a policy for a full queue. Many producers; one
// consumer that takes a batch per wake-up (pop_batch), or several that
// share the queue (pop_shared).
//
// FIFO, the default, is lock-free on the way in and out: a bounded ring as
// large as the capacity (up to kMaxRingCells). A lock is taken only when the
// ring is full (forced pushes and very large capacities spill into an
// overflow list, blocking producers wait), and to wake a consumer that went
// to sleep, which happens at most once per batch. Publishers to different
// managers share nothing. Priority order keeps a heap under the queue's own
// lock.
#pragma once

#include "queue/bounded_ring.hpp"
#include "queue/delivery.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace edrid {

enum class QueueOrder { fifo, priority };
enum class WhenFull { block, reject, drop_oldest };

std::string_view to_string(QueueOrder o) noexcept;
std::string_view to_string(WhenFull w) noexcept;

class ManagerQueue {
 public:
  enum class Push { accepted, rejected, closed };
  static constexpr std::size_t kMaxRingCells = 65536;

  ManagerQueue(QueueOrder order, std::size_t capacity, WhenFull when_full);

  // Adds d. `force` skips the capacity check (responses and timer ticks must
  // never be refused or deadlock on a full queue). `may_block` is false when
  // blocking could deadlock (the consumer pushing into its own queue); a full
  // queue then rejects. A delivery dropped to make room is moved to *dropped.
  Push push(Delivery&& d, bool force, bool may_block, std::optional<Delivery>* dropped);

  // Waits for work and moves up to max_batch items, in order, into out.
  // Closed: the manager is stopping and takes nothing more.
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  // Returns false once the queue is closed and empty.
  // One consumer only.
  bool pop_batch(std::vector<Delivery>& out, std::size_t max_batch);
  // pop_batch for a queue with several consumers (each calls only this).
  // A consumer that leaves ready work behind wakes a sleeping one, and a
  // push wakes a sleeper only while no consumer is awake to take it. Each
  // consumer keeps its own spin length between calls, since it tells how
  // that consumer's waits went (start at kSpinChecks).
  bool pop_shared(std::vector<Delivery>& out, std::size_t max_batch, int& spin_checks);
  static constexpr int kSpinChecks = 128;  // with 16 pauses each, roughly 20-60 us

  // Refuses new work and wakes everyone; queued work can still be popped.
  void close();
  // Moves everything left out of the queue (for handing back at stop).
  std::vector<Delivery> take_all();

  std::size_t depth() const noexcept;
  std::size_t capacity() const noexcept { return capacity_; }
  QueueOrder order() const noexcept { return order_; }
  WhenFull when_full() const noexcept { return when_full_; }
  std::uint64_t rejected() const noexcept { return rejected_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::size_t high_water() const noexcept { return high_water_.load(std::memory_order_relaxed); }

 private:
  bool fifo() const noexcept { return order_ == QueueOrder::fifo; }
  // The ring needs two cells to tell a full cell from a free one, so a FIFO
  // of capacity 1 keeps its single item in the overflow list.
  bool ring_enabled() const noexcept { return fifo() && capacity_ >= 2; }
  // FIFO path.
  Push push_slow(Delivery&& d, bool force, bool may_block, std::optional<Delivery>* dropped);
  template <bool Shared>
  bool pop(std::vector<Delivery>& out, std::size_t max_batch, int& spin_checks);
  std::size_t take_ready(std::vector<Delivery>& out, std::size_t max_batch);
  void pass_on();  // pop_shared: wakes a sleeper for work left ready
  bool has_work() const noexcept;   // anything claimed, even a cell still being filled
  bool has_ready() const noexcept;  // anything take_ready can take now
  void wake_consumer();
  void wake_producers();
  // Priority path (and the overflow list), under mutex_.
  void insert_locked(Delivery&& d);
  Delivery remove_oldest_locked();
  std::size_t locked_size() const noexcept { return fifo() ? overflow_.size() : heap_.size(); }
  void note_depth(std::size_t n) noexcept;

  const QueueOrder order_;
  const std::size_t capacity_;
  const std::size_t resume_depth_;  // blocked producers wait for the queue to drain to this
  const WhenFull when_full_;
  BoundedRing<Delivery> ring_;  // used only when ring_enabled()
  // Set while overflow_ holds items: producers then append there too, so a
  // producer's items never overtake each other.
  std::atomic<bool> overflowing_{false};
  std::atomic<bool> closed_{false};
  // Set while a consumer sleeps and no push has woken it yet.
  alignas(64) std::atomic<bool> consumer_sleeping_{false};
  // pop_shared only: consumers waiting for work without sleeping (spinning
  // or yielding), and consumers asleep (changed under mutex_).
  std::atomic<int> awake_{0};
  std::atomic<int> sleepers_{0};
  int spin_checks_ = kSpinChecks;  // pop_batch's consumer's current spin length
  std::atomic<std::size_t> producers_waiting_{0};
  alignas(64) mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Delivery> overflow_;  // fifo: beyond the ring, in order
  std::vector<Delivery> heap_;     // priority
  std::uint64_t next_seq_ = 0;
  std::atomic<std::size_t> locked_depth_{0};
  std::atomic<std::size_t> high_water_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace edrid
