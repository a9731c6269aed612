// Where a manager's handlers run. A dispatch loop hands each Delivery to
// the manager's executor: inline (on the loop), thread (one loop per
// thread, each running what it takes), or process (a pool of
// `edrid --worker` processes). Ordering `sequential` allows one piece of
// work at a time in arrival order; `concurrent` up to `workers`.
#pragma once

#include "queue/delivery.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>


namespace edrid {

class ExecutionSite;

enum class ExecutorKind { inline_call, thread, process };
enum class Ordering { sequential, concurrent };
std::string_view to_string(ExecutorKind k) noexcept;
std::string_view to_string(Ordering o) noexcept;

struct ExecutorSettings {
  ExecutorKind kind = ExecutorKind::inline_call;
  std::size_t workers = 1;
  Ordering ordering = Ordering::sequential;
  std::chrono::milliseconds timeout{0};  // process: per task, 0 = none
  std::filesystem::path plugin_path;     // process: the shared object workers load
  std::filesystem::path worker_program;  // process: edrid; empty = this program
  // How many pieces of work may run at once.
  std::size_t slots() const noexcept {
    return kind == ExecutorKind::inline_call || ordering == Ordering::sequential ? 1 : workers;
  }
};

// What an executor is doing, for /stats and /metrics.
struct ExecutorSnapshot {
  std::size_t slots = 0;      // pieces of work that may run at once
  std::size_t in_flight = 0;  // running or handed to a worker
  std::optional<std::size_t> threads;  // dispatch loops: their threads
  struct Processes {
    std::size_t waiting = 0;  // tasks waiting for a worker
    std::vector<long> worker_pids;  // by slot; -1 while one is being replaced
    std::uint64_t spawned = 0;
    std::uint64_t timeouts = 0;
    std::int64_t timeout_ms = 0;
  };
  std::optional<Processes> processes;  // worker processes
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Throws ManagerError when workers cannot be started.
  virtual void start() {}
  // How many dispatch loops take work from the manager's queue. An executor
  // that runs work on the loop that took it gets its concurrency from more
  // loops: a handoff from one loop to a pool cost a lock and, as often as
  // not, a wake-up per task on each side.
  virtual std::size_t loops() const { return 1; }
  // Runs or hands off d, taken by dispatch loop `loop` (0 .. loops()-1);
  // blocks while the executor has no room for more.
  virtual void run(Delivery&& d, std::size_t loop) = 0;
  // Work taken from the queue and not finished (running, or waiting for a
  // worker); read without a lock, from any thread.
  virtual std::size_t load() const noexcept = 0;
  // True when nothing is running or handed off.
  virtual bool idle() const = 0;
  // Called after the dispatch loop ended: finish, then release workers.
  virtual void stop(std::chrono::milliseconds grace) { (void)grace; }
  virtual ExecutorSnapshot snapshot() const = 0;
};

std::unique_ptr<Executor> make_executor(ExecutionSite& site, const ExecutorSettings& s);

}  // namespace edrid
