#include "exec/loop_executor.hpp"

#include "exec/execution_site.hpp"


namespace edrid {

LoopExecutor::LoopExecutor(ExecutionSite& site, std::size_t loops) : site_(site), loops_(loops == 0 ? 1 : loops) {}

void LoopExecutor::run(Delivery&& d, std::size_t loop) { site_.execute(d, loop); }

std::size_t LoopExecutor::load() const noexcept { return site_.running_tasks(); }

bool LoopExecutor::idle() const { return site_.running_tasks() == 0; }

ExecutorSnapshot LoopExecutor::snapshot() const {
  ExecutorSnapshot s;
  s.slots = loops_;
  s.threads = loops_;
  s.in_flight = site_.running_tasks();
  return s;
}

}  // namespace edrid
