// One manager's state and counters at one moment, for /stats and /metrics:
// plain values, rendered by the router's stats renderers.
#pragma once

#include "exec/executor.hpp"
#include "manager/durable_settings.hpp"
#include "manager/manager_stats.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edrid {

struct QueueSnapshot {
  std::string_view order;
  std::string_view when_full;
  std::size_t depth = 0;
  std::size_t capacity = 0;
  std::size_t high_water = 0;
  std::uint64_t rejected = 0;
  std::uint64_t dropped = 0;
};

struct ManagerSnapshot {
  std::string name;
  std::string plugin;
  Health health = Health::ok;
  std::int64_t busy_for_ms = 0;  // the longest-running handler's time so far
  std::size_t running = 0;
  std::uint64_t crashes = 0;
  QueueSnapshot queue;
  std::optional<DurableStats> durable;  // queue.durable only
  std::string_view executor_type;
  std::string_view ordering;
  std::size_t workers = 0;
  std::string group;            // empty: not in a group
  std::string_view delivery;    // at_most_once or at_least_once
  ExecutorSnapshot executor;
  std::uint64_t received = 0;
  std::uint64_t handled = 0;
  std::uint64_t errors = 0;
  std::uint64_t expired = 0;
  std::uint64_t deduplicated = 0;
  std::uint64_t filtered = 0;
  // Content filters in force: type pattern and filter text, first match first.
  std::vector<std::pair<std::string, std::string>> filters;
  std::uint64_t cancelled = 0;
  std::uint64_t busy_ms = 0;
  LatencyHistogram::Snapshot handler_latency, wait_latency;  // sampled, see ManagerStats
  double received_per_s = 0;
  double handled_per_s = 0;
  double errors_per_s = 0;
  std::vector<std::string> last_errors;
};

}  // namespace edrid
