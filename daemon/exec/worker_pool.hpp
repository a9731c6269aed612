// The scheduling core of the process executor: which tasks wait, which
// worker may take one more, what goes back when a worker is lost, and when
// the executor is idle. No processes, threads or locks of its own (the
// executor holds its one lock around every call), so its rules are
// unit-tested without starting a process.
//
// A worker has `depth` positions: the task it runs and those already in its
// inbox behind it. A free position is listed once per task the worker may
// take; positions of different workers interleave, so the first tasks
// spread over all workers instead of filling the first one.
#pragma once

#include "queue/delivery.hpp"

#include <cstddef>
#include <deque>
#include <optional>

namespace edrid {

class WorkerPool {
 public:
  // max_in_flight: tasks handed out or running here at once (1 for
  // `sequential`, however many workers take turns). backlog_per_worker:
  // tasks that may wait for a worker, per worker; past that the dispatch
  // loop waits (backlog_full).
  WorkerPool(std::size_t workers, std::size_t depth, std::size_t max_in_flight,
             std::size_t backlog_per_worker) noexcept;

  // ---- Workers.
  // Every worker started: all positions free, interleaved.
  void all_ready();
  // A new worker took `slot` (after one was lost): its positions are free.
  void worker_ready(std::size_t slot);
  // The worker in `slot` is gone: its free positions are dropped. The tasks
  // it held come back through task_failed / requeue.
  void worker_lost(std::size_t slot);

  // ---- Tasks for workers.
  bool backlog_full() const noexcept { return backlog_.size() >= backlog_capacity_; }
  void enqueue(Delivery&& d) { backlog_.push_back(std::move(d)); }
  struct Assignment {
    std::size_t slot;
    Delivery task;
  };
  // The oldest waiting task and a worker with a free position, while the
  // cap on tasks in flight allows; nothing when stopping.
  std::optional<Assignment> next();
  // A task a worker had ended (answered, failed or lost with it). With
  // worker_current (the worker still holds its slot) its position is free.
  void task_ended(std::size_t slot, bool worker_current);
  // Tasks handed out that never started (their worker was lost first): back
  // to the front of the backlog in their order. When stopping they are
  // returned instead, for the caller to reject.
  std::deque<Delivery> requeue(std::deque<Delivery> unstarted);

  // ---- Work run in this process (timer ticks, response callbacks): it
  // takes a position of the cap too, after the tasks waiting before it, so
  // `sequential` stays one at a time in arrival order.
  bool local_may_start() const noexcept { return in_flight_ < max_in_flight_ && backlog_.empty(); }
  void local_started() noexcept { ++in_flight_; }
  void local_ended() noexcept { --in_flight_; }

  // ---- Ending.
  // From now on nothing is handed out; returns the tasks still waiting.
  std::deque<Delivery> stop();
  bool stopping() const noexcept { return stopping_; }
  bool idle() const noexcept { return in_flight_ == 0 && backlog_.empty(); }

  std::size_t in_flight() const noexcept { return in_flight_; }
  std::size_t waiting() const noexcept { return backlog_.size(); }
  std::size_t free_positions() const noexcept { return free_.size(); }

 private:
  const std::size_t workers_;
  const std::size_t depth_;
  const std::size_t max_in_flight_;
  const std::size_t backlog_capacity_;
  std::deque<std::size_t> free_;  // one entry per task a worker may take now
  std::deque<Delivery> backlog_;  // tasks waiting for a worker
  std::size_t in_flight_ = 0;     // handed to a worker, or running here
  bool stopping_ = false;
};

}  // namespace edrid
