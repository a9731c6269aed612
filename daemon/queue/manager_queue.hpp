// A manager's inbox: FIFO or priority order (lower number first, FIFO among
// equals), bounded, with a policy for a full queue. Many producers, one
// consumer; the consumer takes a batch per wake-up.
//
// Each queue has its own lock, held only to move items in or out (no
// allocation under it once the ring has grown to the working depth), so
// publishers to different managers never meet. A producer wakes the consumer
// only when it sleeps; a busy consumer finds new items with its next batch.
#pragma once

#include "queue/delivery.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <boost/circular_buffer.hpp>
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

  ManagerQueue(QueueOrder order, std::size_t capacity, WhenFull when_full);

  // Adds d. `force` skips the capacity check (responses and timer ticks must
  // never be refused or deadlock on a full queue). `may_block` is false when
  // blocking could deadlock (the consumer pushing into its own queue); a full
  // queue then rejects. A delivery dropped to make room is moved to *dropped.
  Push push(Delivery&& d, bool force, bool may_block, std::optional<Delivery>* dropped);

  // Waits for work and moves up to max_batch items, in order, into out.
  // Returns false once the queue is closed and empty.
  bool pop_batch(std::vector<Delivery>& out, std::size_t max_batch);

  // Refuses new work and wakes everyone; queued work can still be popped.
  void close();
  // Moves everything left out of the queue (for handing back at stop).
  std::vector<Delivery> take_all();

  std::size_t depth() const noexcept { return depth_.load(std::memory_order_relaxed); }
  std::size_t capacity() const noexcept { return capacity_; }
  QueueOrder order() const noexcept { return order_; }
  WhenFull when_full() const noexcept { return when_full_; }
  std::uint64_t rejected() const noexcept { return rejected_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::size_t high_water() const noexcept { return high_water_.load(std::memory_order_relaxed); }

 private:
  std::size_t size_locked() const noexcept { return order_ == QueueOrder::fifo ? fifo_.size() : heap_.size(); }
  void insert_locked(Delivery&& d);
  Delivery remove_oldest_locked();

  const QueueOrder order_;
  const std::size_t capacity_;
  const WhenFull when_full_;
  // The consumer spins on depth_ before it sleeps; keeping it off the lock's
  // cache line spares producers a line bounced by every spin read.
  alignas(64) std::atomic<std::size_t> depth_{0};
  alignas(64) mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  // Grows by doubling (forced pushes may exceed the capacity) and never
  // shrinks, so steady traffic allocates nothing here.
  boost::circular_buffer<Delivery> fifo_;
  std::vector<Delivery> heap_;
  std::uint64_t next_seq_ = 0;
  bool closed_ = false;
  bool consumer_waiting_ = false;
  std::size_t producers_waiting_ = 0;
  std::atomic<std::size_t> high_water_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace edrid
