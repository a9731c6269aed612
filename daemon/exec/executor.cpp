#include "exec/executor.hpp"

#include "exec/loop_executor.hpp"
#include "exec/process_executor.hpp"

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

std::unique_ptr<Executor> make_executor(ExecutionSite& site, const ExecutorSettings& s) {
  if (s.kind == ExecutorKind::process) return std::make_unique<ProcessExecutor>(site, s);
  return std::make_unique<LoopExecutor>(site, s.slots());
}

}  // namespace edrid
