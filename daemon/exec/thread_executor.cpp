#include "exec/thread_executor.hpp"

#include "exec/inline_executor.hpp"
#include "exec/process_executor.hpp"
#include "exec/execution_site.hpp"

#include <nlohmann/json.hpp>

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

void Executor::stats_json(nlohmann::json& out) const { out = nlohmann::json::object(); }

std::unique_ptr<Executor> make_executor(ExecutionSite& m, const ExecutorSettings& s) {
  switch (s.kind) {
    case ExecutorKind::inline_call: return std::make_unique<InlineExecutor>(m);
    case ExecutorKind::thread: return std::make_unique<ThreadExecutor>(m, s.slots());
    case ExecutorKind::process: return std::make_unique<ProcessExecutor>(m, s);
  }
  return std::make_unique<InlineExecutor>(m);
}

void InlineExecutor::run(Delivery&& d, std::size_t loop) { site_.execute(d, loop); }

ThreadExecutor::ThreadExecutor(ExecutionSite& site, std::size_t slots)
    : site_(site), slots_(slots == 0 ? 1 : slots) {}

void ThreadExecutor::run(Delivery&& d, std::size_t loop) { site_.execute(d, loop); }

bool ThreadExecutor::idle() const { return site_.running_tasks() == 0; }

void ThreadExecutor::stats_json(nlohmann::json& out) const {
  out = {{"threads", slots_}, {"slots", slots_}, {"in_flight", site_.running_tasks()}};
}

}  // namespace edrid
