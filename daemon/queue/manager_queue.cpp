#include "queue/manager_queue.hpp"

#include <edri/detail/cpu_relax.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace edrid {
namespace {
// A spinning consumer looks at the ring every few hundred nanoseconds, not
// every pause: each look pulls the line its producer writes on every push
// into this core, and polling it flat out slowed the producer (a faster
// consumer made 1->1 delivery slower).
constexpr int kPausesPerCheck = 16;
constexpr std::chrono::microseconds kSpinWindow{20};
// A consumer that may not spin yields the CPU a few times before it sleeps:
// on a machine with more busy threads than cores, its producer usually
// pushes again within those turns, and a consumer that finds work after a
// yield costs nobody a futex wake (1->4 fan-out on 2 cores: 37k -> 5k
// context switches, 4.7 -> 6.3 M deliveries/s).
constexpr int kYields = 8;
constexpr int kLockSpins = 200;

// Consumers spinning at once, across every queue. A spinning consumer on a
// machine with no core to spare takes the CPU its producer needs (on 2
// cores, four spinning consumers cost fan-out throughput), so spinning
// leaves one core free and the rest yield, then sleep.
std::atomic<int> g_spinners{0};
const int kMaxSpinners = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);

// Holds a spinning slot while one is free.
class SpinSlot {
 public:
  SpinSlot() : held_(g_spinners.fetch_add(1, std::memory_order_relaxed) < kMaxSpinners) {
    if (!held_) g_spinners.fetch_sub(1, std::memory_order_relaxed);
  }
  ~SpinSlot() {
    if (held_) g_spinners.fetch_sub(1, std::memory_order_relaxed);
  }
  SpinSlot(const SpinSlot&) = delete;
  SpinSlot& operator=(const SpinSlot&) = delete;
  explicit operator bool() const noexcept { return held_; }

 private:
  const bool held_;
};

using edri::detail::cpu_relax;

// The lock is held for a few moves at a time, so a waiter that spins briefly
// gets it without sleeping; a sleeping waiter would cost the holder a futex
// wake on unlock.
std::unique_lock<std::mutex> lock_spinning(std::mutex& m) {
  for (int i = 0; i < kLockSpins; ++i) {
    if (m.try_lock()) return std::unique_lock<std::mutex>(m, std::adopt_lock);
    cpu_relax();
  }
  return std::unique_lock<std::mutex>(m);
}

// std heap is a max-heap: "greater" = should come out first.
struct Later {
  bool operator()(const Delivery& a, const Delivery& b) const noexcept {
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.seq > b.seq;
  }
};
}  // namespace

std::string_view to_string(QueueOrder o) noexcept {
  return o == QueueOrder::fifo ? "fifo" : "priority";
}
std::string_view to_string(WhenFull w) noexcept {
  switch (w) {
    case WhenFull::block: return "block";
    case WhenFull::reject: return "reject";
    case WhenFull::drop_oldest: return "drop_oldest";
  }
  return "block";
}

ManagerQueue::ManagerQueue(QueueOrder order, std::size_t capacity, WhenFull when_full)
    : order_(order),
      capacity_(capacity),
      resume_depth_(capacity - std::max<std::size_t>(1, capacity / 4)),
      when_full_(when_full),
      ring_(order == QueueOrder::fifo ? std::clamp<std::size_t>(capacity, 2, kMaxRingCells) : 2) {}

std::size_t ManagerQueue::depth() const noexcept {
  return (fifo() ? ring_.size() : 0) + locked_depth_.load(std::memory_order_relaxed);
}

void ManagerQueue::note_depth(std::size_t n) noexcept {
  std::size_t seen = high_water_.load(std::memory_order_relaxed);
  while (n > seen && !high_water_.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
}

// ---- Both orders: the parts under the lock.

void ManagerQueue::insert_locked(Delivery&& d) {
  if (fifo()) {
    overflow_.push_back(std::move(d));
    overflowing_.store(true, std::memory_order_release);
  } else {
    d.seq = next_seq_++;
    heap_.push_back(std::move(d));
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  locked_depth_.store(locked_size(), std::memory_order_relaxed);
  note_depth(depth());
}

Delivery ManagerQueue::remove_oldest_locked() {
  if (fifo()) {
    // The ring holds the oldest items; wait out a push that is mid-way.
    Delivery d;
    for (;;) {
      const auto r = ring_.try_pop(d);
      if (r == BoundedRing<Delivery>::Pop::item) return d;
      if (r == BoundedRing<Delivery>::Pop::empty) break;
      cpu_relax();
    }
    d = std::move(overflow_.front());
    overflow_.pop_front();
    locked_depth_.store(overflow_.size(), std::memory_order_relaxed);
    return d;
  }
  auto it = std::min_element(heap_.begin(), heap_.end(),
                             [](const Delivery& a, const Delivery& b) { return a.seq < b.seq; });
  Delivery d = std::move(*it);
  heap_.erase(it);
  std::make_heap(heap_.begin(), heap_.end(), Later{});
  locked_depth_.store(heap_.size(), std::memory_order_relaxed);
  return d;
}

// ---- Producers.

ManagerQueue::Push ManagerQueue::push(Delivery&& d, bool force, bool may_block,
                                      std::optional<Delivery>* dropped) {
  if (closed_.load(std::memory_order_acquire)) return Push::closed;
  if (ring_enabled() && !overflowing_.load(std::memory_order_acquire) && ring_.try_push(std::move(d))) {
    wake_consumer();
    return Push::accepted;
  }
  return push_slow(std::move(d), force, may_block, dropped);
}

ManagerQueue::Push ManagerQueue::push_slow(Delivery&& d, bool force, bool may_block,
                                           std::optional<Delivery>* dropped) {
  auto lock = lock_spinning(mutex_);
  for (;;) {
    if (closed_.load(std::memory_order_relaxed)) return Push::closed;
    if (ring_enabled() && !overflowing_.load(std::memory_order_relaxed) && ring_.try_push(std::move(d))) {
      lock.unlock();
      wake_consumer();
      return Push::accepted;
    }
    if (force || depth() < capacity_) break;
    if (when_full_ == WhenFull::reject || (when_full_ == WhenFull::block && !may_block)) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return Push::rejected;
    }
    if (when_full_ == WhenFull::drop_oldest) {
      Delivery old = remove_oldest_locked();
      if (dropped) dropped->emplace(std::move(old));
      dropped_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    producers_waiting_.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Wait for a quarter of the queue to free up, not one item: a producer
    // woken per consumer batch would sleep and wake per batch.
    not_full_.wait(lock, [&] { return closed_.load(std::memory_order_relaxed) || depth() <= resume_depth_; });
    producers_waiting_.fetch_sub(1, std::memory_order_relaxed);
  }
  insert_locked(std::move(d));
  lock.unlock();
  wake_consumer();
  return Push::accepted;
}

void ManagerQueue::wake_consumer() {
  // Pairs with the fence in pop_batch: either the consumer sees this item
  // before it sleeps, or this sees it sleeping. Only a sleeper costs a wake,
  // so a busy consumer takes new items with its next batch.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!consumer_sleeping_.load(std::memory_order_relaxed)) return;
  // A consumer awake (pop_shared) takes the item: waking a sleeper as well
  // would cost this push a futex call and the sleeper a round trip.
  if (awake_.load(std::memory_order_relaxed) > 0) return;
  // The first push after the consumer fell asleep wakes it; the pushes made
  // while it wakes up (tens of microseconds) find the flag clear and pay
  // nothing, instead of each taking the lock the waking consumer needs.
  if (!consumer_sleeping_.exchange(false, std::memory_order_acq_rel)) return;
  std::lock_guard lock(mutex_);
  not_empty_.notify_one();
}

void ManagerQueue::wake_producers() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (producers_waiting_.load(std::memory_order_relaxed) == 0 || depth() > resume_depth_) return;
  std::lock_guard lock(mutex_);
  not_full_.notify_all();
}

// ---- The consumer.

bool ManagerQueue::has_work() const noexcept {
  return fifo() ? !ring_.empty() || overflowing_.load(std::memory_order_acquire)
                : locked_depth_.load(std::memory_order_acquire) > 0;
}

// For the waiting consumer: unlike has_work(), it leaves alone the ring's
// producer position, which each of its reads would take from the producer
// about to push. A cell claimed but not yet filled does not count: its
// producer wakes the consumer once it is.
bool ManagerQueue::has_ready() const noexcept {
  return fifo() ? ring_.front_ready() || overflowing_.load(std::memory_order_acquire)
                : locked_depth_.load(std::memory_order_acquire) > 0;
}

std::size_t ManagerQueue::take_ready(std::vector<Delivery>& out, std::size_t max_batch) {
  std::size_t n = 0;
  if (!fifo()) {
    note_depth(depth());  // only pushes happened since the last batch: this is the peak
    auto lock = lock_spinning(mutex_);
    for (; n < max_batch && !heap_.empty(); ++n) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      out.push_back(std::move(heap_.back()));
      heap_.pop_back();
    }
    locked_depth_.store(heap_.size(), std::memory_order_relaxed);
    return n;
  }
  Delivery d;
  while (n < max_batch) {
    if (ring_.try_take(d)) {
      out.push_back(std::move(d));
      ++n;
      continue;
    }
    if (!overflowing_.load(std::memory_order_acquire)) break;
    // Before the overflow list, the ring must be seen empty, not just busy.
    const auto r = ring_.try_pop(d);
    if (r == BoundedRing<Delivery>::Pop::item) {
      out.push_back(std::move(d));
      ++n;
      continue;
    }
    if (r == BoundedRing<Delivery>::Pop::busy) break;
    // Every ring item is taken: the overflow list comes next, in order.
    auto lock = lock_spinning(mutex_);
    // But first the ring again: a producer that read overflowing_ before it
    // was set can have put an item there since the ring looked empty, and
    // its next item can already be in the overflow list. Under the lock,
    // such a producer's later items are either visible here or not yet
    // pushed (a cell still being written holds back only that producer).
    while (n < max_batch && ring_.try_pop(d) == BoundedRing<Delivery>::Pop::item) {
      out.push_back(std::move(d));
      ++n;
    }
    for (; n < max_batch && !overflow_.empty(); ++n) {
      out.push_back(std::move(overflow_.front()));
      overflow_.pop_front();
    }
    locked_depth_.store(overflow_.size(), std::memory_order_relaxed);
    if (overflow_.empty()) overflowing_.store(false, std::memory_order_release);
    break;
  }
  // Only pushes happened since the last batch, so the depth before this one
  // was its peak. A batch that stopped short emptied the ring, and its size
  // is that depth; only a full one needs what is left, whose count costs a
  // read of the producers' position.
  note_depth(n < max_batch ? n + locked_depth_.load(std::memory_order_relaxed) : n + depth());
  return n;
}

bool ManagerQueue::pop_batch(std::vector<Delivery>& out, std::size_t max_batch) {
  return pop<false>(out, max_batch, spin_checks_);
}

bool ManagerQueue::pop_shared(std::vector<Delivery>& out, std::size_t max_batch, int& spin_checks) {
  return pop<true>(out, max_batch, spin_checks);
}

// Pairs with the fence in wake_consumer: a push either sees this consumer no
// longer awake (and wakes a sleeper itself) or is seen ready here.
void ManagerQueue::pass_on() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_relaxed) == 0 || !has_ready()) return;
  if (!consumer_sleeping_.exchange(false, std::memory_order_acq_rel)) return;
  std::lock_guard lock(mutex_);
  not_empty_.notify_one();
}

template <bool Shared>
bool ManagerQueue::pop(std::vector<Delivery>& out, std::size_t max_batch, int& spin_checks) {
  bool awake = false;  // counted in awake_
  for (;;) {
    if (take_ready(out, max_batch) > 0) {
      wake_producers();
      if constexpr (Shared) {
        if (awake) awake_.fetch_sub(1, std::memory_order_relaxed);
        pass_on();
      }
      return true;
    }
    if constexpr (Shared) {
      if (!awake) awake_.fetch_add(1, std::memory_order_relaxed);
      awake = true;
    }
    // A short spin before sleeping: under steady load the next item arrives
    // within microseconds, and catching it here saves the producer a futex
    // wake and this thread a sleep/wake round trip.
    // The spin adapts: it is halved after each wait it could not have
    // covered and restored when a full spin would have caught the next
    // item, so a consumer fed in bursts farther apart (a link's reads)
    // stops burning the core its producers need.
    bool spun = false;
    if (spin_checks > 0) {
      if (SpinSlot slot; slot) {
        spun = true;
        for (int i = 0; i < spin_checks && !has_ready() && !closed_.load(std::memory_order_relaxed); ++i) {
          for (int p = 0; p < kPausesPerCheck; ++p) cpu_relax();
        }
      }
    }
    if (!spun) {
      for (int i = 0; i < kYields && !has_ready() && !closed_.load(std::memory_order_relaxed); ++i) {
        std::this_thread::yield();
      }
    }
    if (has_ready()) continue;
    const auto slept_at = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    if constexpr (Shared) sleepers_.fetch_add(1, std::memory_order_relaxed);
    consumer_sleeping_.store(true, std::memory_order_relaxed);
    if constexpr (Shared) {
      awake_.fetch_sub(1, std::memory_order_relaxed);
      awake = false;
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool closed = false;
    while (!has_ready()) {
      if (closed_.load(std::memory_order_relaxed)) {
        closed = true;
        break;
      }
      not_empty_.wait(lock);
      if (has_ready()) break;
      // Woken with nothing to do: the waker may have cleared the flag.
      consumer_sleeping_.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    // Another consumer still asleep keeps the flag up, so the next push
    // wakes it; pass_on covers what was pushed while the flag was down.
    const bool others_asleep = Shared && sleepers_.fetch_sub(1, std::memory_order_relaxed) > 1;
    consumer_sleeping_.store(others_asleep, std::memory_order_relaxed);
    lock.unlock();
    if (closed) return false;
    if (std::chrono::steady_clock::now() - slept_at < kSpinWindow) {
      spin_checks = kSpinChecks;
    } else if (spun) {
      spin_checks /= 2;
    }
  }
}

void ManagerQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_.store(true, std::memory_order_release);
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

std::vector<Delivery> ManagerQueue::take_all() {
  std::vector<Delivery> out;
  while (has_work()) {
    if (take_ready(out, ~std::size_t{0}) == 0) cpu_relax();
  }
  return out;
}

}  // namespace edrid
