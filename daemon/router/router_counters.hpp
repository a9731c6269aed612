// The router's counters, for /stats and /metrics.
#pragma once

#include "metrics/sharded_counter.hpp"

#include <atomic>
#include <cstdint>

namespace edrid {

struct RouterCounters {
  // Bumped on every send by every publisher: sharded.
  ShardedCounter notifications;
  ShardedCounter requests;
  ShardedCounter responses;
  ShardedCounter deliveries;
  ShardedCounter sent_remote;      // events handed to the cluster uplink
  ShardedCounter received_remote;  // events that came from other routers
  // The rest count rare outcomes.
  alignas(64) std::atomic<std::uint64_t> not_found{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> cancelled{0};  // requests their senders cancelled
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> would_wait{0};  // EDRI_SEND_NO_WAIT sends turned back
  std::atomic<std::uint64_t> filtered_remote{0};  // kept here: no other router's content filter took them
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> late_responses{0};
  std::atomic<std::uint64_t> invalid{0};
  std::atomic<std::uint64_t> redeliveries{0};  // at-least-once events sent again
};

}  // namespace edrid
