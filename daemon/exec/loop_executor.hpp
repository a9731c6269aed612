// Runs each handler on the dispatch loop that took it: `inline` is one loop
// (one handler at a time, in queue order), `thread` is N loops on threads of
// their own, each taking work from the manager's queue. Running work where
// it was taken costs no handoff between threads.
#pragma once

#include "exec/executor.hpp"

namespace edrid {

class LoopExecutor final : public Executor {
 public:
  LoopExecutor(ExecutionSite& site, std::size_t loops);
  std::size_t loops() const override { return loops_; }
  void run(Delivery&& d, std::size_t loop) override;
  bool idle() const override;
  std::size_t load() const noexcept override;
  ExecutorSnapshot snapshot() const override;

 private:
  ExecutionSite& site_;
  const std::size_t loops_;
};

}  // namespace edrid
