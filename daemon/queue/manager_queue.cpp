#include "queue/manager_queue.hpp"

#include <algorithm>

namespace edrid {
namespace {
constexpr int kSpinChecks = 2000;  // roughly 10-50 us depending on the CPU
constexpr int kLockSpins = 200;

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The lock is held for a few moves at a time, so a waiter that spins briefly
// gets it without sleeping; a sleeping waiter would cost the holder a futex
// wake on unlock, which profiling showed as the producer's largest cost.
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
    : order_(order), capacity_(capacity), when_full_(when_full) {}

void ManagerQueue::insert_locked(Delivery&& d) {
  d.seq = next_seq_++;
  if (order_ == QueueOrder::fifo) {
    if (fifo_.full()) fifo_.set_capacity(std::max<std::size_t>(64, fifo_.capacity() * 2));
    fifo_.push_back(std::move(d));
  } else {
    heap_.push_back(std::move(d));
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  const std::size_t n = size_locked();
  depth_.store(n, std::memory_order_release);
  if (n > high_water_.load(std::memory_order_relaxed)) high_water_.store(n, std::memory_order_relaxed);
}

Delivery ManagerQueue::remove_oldest_locked() {
  if (order_ == QueueOrder::fifo) {
    Delivery d = std::move(fifo_.front());
    fifo_.pop_front();
    return d;
  }
  auto it = std::min_element(heap_.begin(), heap_.end(),
                             [](const Delivery& a, const Delivery& b) { return a.seq < b.seq; });
  Delivery d = std::move(*it);
  heap_.erase(it);
  std::make_heap(heap_.begin(), heap_.end(), Later{});
  return d;
}

ManagerQueue::Push ManagerQueue::push(Delivery&& d, bool force, bool may_block,
                                      std::optional<Delivery>* dropped) {
  auto lock = lock_spinning(mutex_);
  if (closed_) return Push::closed;
  if (!force && size_locked() >= capacity_) {
    switch (when_full_) {
      case WhenFull::reject:
        rejected_.fetch_add(1, std::memory_order_relaxed);
        return Push::rejected;
      case WhenFull::drop_oldest:
        if (dropped) dropped->emplace(remove_oldest_locked());
        dropped_.fetch_add(1, std::memory_order_relaxed);
        break;
      case WhenFull::block:
        if (!may_block) {
          rejected_.fetch_add(1, std::memory_order_relaxed);
          return Push::rejected;
        }
        ++producers_waiting_;
        not_full_.wait(lock, [&] { return closed_ || size_locked() < capacity_; });
        --producers_waiting_;
        if (closed_) return Push::closed;
        break;
    }
  }
  insert_locked(std::move(d));
  const bool wake = consumer_waiting_;
  lock.unlock();
  // Only wake a consumer that sleeps: a busy consumer takes the item with its
  // next batch, which keeps wake-ups (and syscalls) to one per batch.
  if (wake) not_empty_.notify_one();
  return Push::accepted;
}

bool ManagerQueue::pop_batch(std::vector<Delivery>& out, std::size_t max_batch) {
  // A short spin before sleeping: under steady load the next item arrives
  // within microseconds, and catching it here saves the producer a futex
  // wake and this thread a sleep/wake round trip.
  for (int i = 0; i < kSpinChecks && depth_.load(std::memory_order_acquire) == 0; ++i) cpu_relax();
  auto lock = lock_spinning(mutex_);
  while (size_locked() == 0) {
    if (closed_) return false;
    consumer_waiting_ = true;
    not_empty_.wait(lock);
    consumer_waiting_ = false;
  }
  const std::size_t n = std::min(max_batch, size_locked());
  for (std::size_t i = 0; i < n; ++i) {
    if (order_ == QueueOrder::fifo) {
      out.push_back(std::move(fifo_.front()));
      fifo_.pop_front();
    } else {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      out.push_back(std::move(heap_.back()));
      heap_.pop_back();
    }
  }
  depth_.store(size_locked(), std::memory_order_relaxed);
  const bool producers_wait = producers_waiting_ > 0;
  lock.unlock();
  if (producers_wait) not_full_.notify_all();
  return true;
}

void ManagerQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

std::vector<Delivery> ManagerQueue::take_all() {
  std::vector<Delivery> out;
  std::lock_guard lock(mutex_);
  while (size_locked() > 0) out.push_back(remove_oldest_locked());
  depth_.store(0, std::memory_order_relaxed);
  return out;
}

}  // namespace edrid
