// Runs handlers on a pool of threads: up to `workers` at once (concurrent) or
// one at a time in arrival order (sequential).
#pragma once

#include "exec/executor.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace edrid {

class ThreadExecutor final : public Executor {
 public:
  ThreadExecutor(ManagerRuntime& m, std::size_t slots);
  ~ThreadExecutor() override;
  void start() override;
  void run(Delivery&& d) override;
  bool idle() const override;
  void stop(std::chrono::milliseconds grace) override;
  void stats_json(nlohmann::json& out) const override;

 private:
  void work(std::size_t slot);

  ManagerRuntime& manager_;
  const std::size_t slots_;     // threads
  const std::size_t capacity_;  // tasks handed over, running or waiting
  mutable std::mutex mutex_;
  std::condition_variable has_work_;
  std::condition_variable has_room_;
  std::deque<Delivery> tasks_;
  std::size_t in_flight_ = 0;  // queued here or running
  std::size_t idle_threads_ = 0;
  bool dispatcher_waiting_ = false;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace edrid
