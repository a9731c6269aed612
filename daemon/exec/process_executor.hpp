// Runs handlers in worker processes: fresh `edrid --worker` programs
// (posix_spawn + exec, never a bare fork of this threaded process) that load
// the same plugin with the same config and talk frames over a socketpair.
// With ordering `concurrent` each worker holds two tasks: the one it runs and
// the next, so it never waits for this process between tasks. A worker that
// crashes, exits or overruns `timeout` is reaped, the task it was running
// answered with an `error` naming the cause, the task waiting behind it handed
// to another worker, and a new worker takes its slot.
// Timer ticks and response callbacks run in this process, where the
// manager's timers and request callbacks live.
#pragma once

#include "exec/executor.hpp"
#include "exec/worker_pool.hpp"
#include "exec/worker_protocol.hpp"

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace edrid {

class ProcessExecutor final : public Executor {
 public:
  ProcessExecutor(ExecutionSite& site, ExecutorSettings settings);
  ~ProcessExecutor() override;
  void start() override;
  void run(Delivery&& d, std::size_t loop) override;
  bool idle() const override;
  std::size_t load() const noexcept override { return load_.load(std::memory_order_relaxed); }
  void stop(std::chrono::milliseconds grace) override;
  ExecutorSnapshot snapshot() const override;

 private:
  struct Worker;

  std::shared_ptr<Worker> spawn(std::size_t slot);
  void watch(std::shared_ptr<Worker> w);
  void on_frame(Worker& w, const worker::Frame& f);
  void on_done(Worker& w, const worker::Done& f);
  void assign(const std::shared_ptr<Worker>& w, Delivery&& d);
  void start_waiting();
  void reject_stopping(Delivery& d);
  void begin_front(Worker& w);
  void complete(Worker& w, const char* error, edri_response* resp, std::int64_t retry_after_ms);
  void task_ended(Worker& w);
  void requeue(std::deque<Delivery> unstarted);
  void retire_watcher(Worker& w);
  void post(std::function<void()> job);
  void keep();
  void respawn(std::size_t slot);
  bool current(const Worker& w) const;  // mutex_ held
  void note_load();                     // mutex_ held

  ExecutionSite& site_;
  const ExecutorSettings settings_;
  const std::size_t slots_;
  std::string program_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  WorkerPool pool_;
  std::vector<std::shared_ptr<Worker>> workers_;  // by slot
  std::vector<std::thread> retired_;  // watchers done with their worker, to join
  std::size_t live_watchers_ = 0;     // watchers not yet in retired_
  // Every worker is spawned by this one thread: a worker's PR_SET_PDEATHSIG
  // fires when the thread that spawned it ends, so that thread must live as
  // long as the executor.
  std::thread keeper_;
  std::deque<std::function<void()>> jobs_;
  // Apart from changed_, so finishing a task does not wake the keeper.
  std::condition_variable jobs_changed_;
  bool keeper_done_ = false;

  // pool_'s in_flight + waiting, kept for load() to read without the lock.
  std::atomic<std::size_t> load_{0};
  std::atomic<std::uint64_t> spawned_{0};
  std::atomic<std::uint64_t> timeouts_{0};
  std::atomic<std::uint64_t> task_seq_{0};
};

}  // namespace edrid
