#include "timer/timer_service.hpp"

#include <spdlog/spdlog.h>

namespace edrid {

TimerService::TimerService() : thread_([this] { run(); }) {}

TimerService::~TimerService() { stop(); }

std::uint64_t TimerService::schedule(Clock::time_point when, Callback fn) {
  std::uint64_t id;
  bool earliest;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    timers_.emplace(id, std::make_pair(when, std::move(fn)));
    order_.emplace(when, id);
    earliest = order_.begin()->second == id;
  }
  if (earliest) wake_.notify_one();
  return id;
}

bool TimerService::cancel(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  order_.erase({it->second.first, id});
  timers_.erase(it);
  return true;
}

void TimerService::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void TimerService::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (order_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto [when, id] = *order_.begin();
    if (Clock::now() < when) {
      wake_.wait_until(lock, when);
      continue;
    }
    order_.erase(order_.begin());
    auto node = timers_.extract(id);
    lock.unlock();
    try {
      node.mapped().second();
    } catch (const std::exception& e) {
      spdlog::error("timer callback failed: {}", e.what());
    }
    lock.lock();
  }
}

}  // namespace edrid
