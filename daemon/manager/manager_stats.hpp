// Counters a manager keeps about its own work; read by the stats interface.
#pragma once

#include "metrics/latency_histogram.hpp"
#include "metrics/rate_meter.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace edrid {

enum class Health : std::uint8_t { ok, warning, error };
const char* to_string(Health h) noexcept;

struct ManagerStats {
  // Written by publishers; the rest by the manager's own thread(s). Apart,
  // so each event does not move one line back and forth between them.
  alignas(64) std::atomic<std::uint64_t> received{0};  // accepted into the queue
  alignas(64) std::atomic<std::uint64_t> handled{0};
  std::atomic<std::uint64_t> errors{0};    // handler failures
  std::atomic<std::uint64_t> expired{0};   // requests past their deadline, skipped
  std::atomic<std::uint64_t> deduplicated{0};  // finished before within dedupe_ms, skipped
  std::atomic<std::uint64_t> filtered{0};  // matched a subscription, failed its content filter
  std::atomic<std::uint64_t> cancelled{0};  // requests their senders cancelled, skipped
  std::atomic<std::uint64_t> busy_ns{0};   // time spent in handlers
  std::atomic<std::uint64_t> crashes{0};   // worker processes that died or were killed
  // Per second over the last liveness interval; sampled by the router.
  RateMeter received_rate, handled_rate, error_rate;
  // One task in kLatencySample, timed with the precise clock: a handler's
  // own time, and an event's time from its send to its handler's start.
  static constexpr std::uint32_t kLatencySample = 8;
  LatencyHistogram handler_latency, wait_latency;

  void record_error(std::string text);
  std::vector<std::string> last_errors() const;

 private:
  static constexpr std::size_t kKeepErrors = 8;
  mutable std::mutex errors_mutex_;
  std::deque<std::string> last_errors_;
};

}  // namespace edrid
