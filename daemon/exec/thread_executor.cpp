#include "exec/thread_executor.hpp"

#include "exec/inline_executor.hpp"
#include "exec/process_executor.hpp"
#include "manager/manager_runtime.hpp"

#include <thread>

#include <nlohmann/json.hpp>

namespace edrid {

std::string_view to_string(ExecutorKind k) noexcept {
  switch (k) {
    case ExecutorKind::inline_call: return "inline";
    case ExecutorKind::thread: return "thread";
    case ExecutorKind::process: return "process";
  }
  return "inline";
}

std::string_view to_string(Ordering o) noexcept {
  return o == Ordering::sequential ? "sequential" : "concurrent";
}

void Executor::stats_json(nlohmann::json& out) const { out = nlohmann::json::object(); }

std::unique_ptr<Executor> make_executor(ManagerRuntime& m, const ExecutorSettings& s) {
  switch (s.kind) {
    case ExecutorKind::inline_call: return std::make_unique<InlineExecutor>(m);
    case ExecutorKind::thread: return std::make_unique<ThreadExecutor>(m, s.slots());
    case ExecutorKind::process: return std::make_unique<ProcessExecutor>(m, s);
  }
  return std::make_unique<InlineExecutor>(m);
}

void InlineExecutor::run(Delivery&& d) { manager_.execute(d, 0); }

namespace {
// Work handed to the pool ahead of the threads. One task per thread would
// make every handoff a sleep and a wake on both sides; a short backlog lets
// the dispatch loop and the threads run without waiting for each other.
// The manager's queue stays where events wait (and where when_full acts).
constexpr std::size_t kBacklogPerThread = 32;
constexpr int kYieldsBeforeSleep = 8;
}  // namespace

ThreadExecutor::ThreadExecutor(ManagerRuntime& m, std::size_t slots)
    : manager_(m), slots_(slots == 0 ? 1 : slots), capacity_(slots_ * kBacklogPerThread) {}

ThreadExecutor::~ThreadExecutor() { stop(std::chrono::milliseconds(0)); }

void ThreadExecutor::start() {
  for (std::size_t i = 0; i < slots_; ++i) threads_.emplace_back([this, i] { work(i); });
}

// With sequential ordering there is one thread: it takes tasks in arrival
// order, one at a time, so the backlog keeps that order.
void ThreadExecutor::run(Delivery&& d) {
  std::unique_lock lock(mutex_);
  if (in_flight_ >= capacity_ && !stopping_) {
    dispatcher_waiting_ = true;
    has_room_.wait(lock, [&] { return in_flight_ < capacity_ || stopping_; });
    dispatcher_waiting_ = false;
  }
  if (stopping_) return;
  ++in_flight_;
  tasks_.push_back(std::move(d));
  const bool wake = idle_threads_ > 0;
  lock.unlock();
  if (wake) has_work_.notify_one();
}

void ThreadExecutor::work(std::size_t slot) {
  for (;;) {
    Delivery d;
    {
      std::unique_lock lock(mutex_);
      // As in the manager queue: a few turns of the CPU before sleeping,
      // since a task that comes within them costs the dispatch loop no wake.
      for (int y = 0; y < kYieldsBeforeSleep && tasks_.empty() && !stopping_; ++y) {
        lock.unlock();
        std::this_thread::yield();
        lock.lock();
      }
      if (tasks_.empty() && !stopping_) {
        ++idle_threads_;
        has_work_.wait(lock, [&] { return !tasks_.empty() || stopping_; });
        --idle_threads_;
      }
      if (tasks_.empty()) return;
      d = std::move(tasks_.front());
      tasks_.pop_front();
    }
    manager_.execute(d, slot);
    d = Delivery();  // release the event before the slot
    bool wake;
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
      // Wake the dispatch loop only once half the backlog is free: a wake
      // per task would cost more than the task.
      wake = dispatcher_waiting_ && in_flight_ <= capacity_ / 2;
    }
    if (wake) has_room_.notify_one();
  }
}

bool ThreadExecutor::idle() const {
  std::lock_guard lock(mutex_);
  return in_flight_ == 0;
}

void ThreadExecutor::stop(std::chrono::milliseconds) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;  // threads finish what is queued here, then exit
  }
  has_work_.notify_all();
  has_room_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void ThreadExecutor::stats_json(nlohmann::json& out) const {
  std::lock_guard lock(mutex_);
  out = {{"threads", threads_.size()}, {"slots", slots_}, {"in_flight", in_flight_}};
}

}  // namespace edrid
