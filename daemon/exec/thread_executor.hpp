// Runs handlers on threads of their own: up to `workers` at once
// (concurrent) or one at a time in arrival order (sequential). Each thread
// is a dispatch loop of the manager that takes work from the queue and runs
// it where it took it, so a task costs no handoff between threads.
#pragma once

#include "exec/executor.hpp"

namespace edrid {

class ThreadExecutor final : public Executor {
 public:
  ThreadExecutor(ExecutionSite& site, std::size_t slots);
  std::size_t loops() const override { return slots_; }
  void run(Delivery&& d, std::size_t loop) override;
  bool idle() const override;
  void stats_json(nlohmann::json& out) const override;

 private:
  ExecutionSite& site_;
  const std::size_t slots_;  // threads
};

}  // namespace edrid
