// One thread that runs callbacks at deadlines: request timeouts, plugin
// timers, liveness checks. Callbacks must be short; they run on this thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

namespace edrid {

class TimerService {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void()>;

  TimerService();
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // Runs fn at `when`; returns an id for cancel().
  std::uint64_t schedule(Clock::time_point when, Callback fn);
  // True if the timer was still pending (so it will not run).
  bool cancel(std::uint64_t id);
  void stop();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::pair<Clock::time_point, std::uint64_t>> order_;
  std::map<std::uint64_t, std::pair<Clock::time_point, Callback>> timers_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace edrid
