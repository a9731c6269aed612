// The router's state and counters at one moment: plain values taken once,
// then rendered as the JSON of /stats or the Prometheus text of /metrics
// (router/stats_render) without going through each other.
#pragma once

#include "manager/manager_snapshot.hpp"
#include "router/link_snapshot.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace edrid {

struct TypeSnapshot {
  std::string type;
  const char* kind;  // "notification", "request" or "tunnel"
  std::uint64_t sent;
};

struct RouterSnapshot {
  std::string router;
  std::int64_t uptime_ms = 0;
  struct Events {
    std::uint64_t notifications = 0, requests = 0, responses = 0, deliveries = 0;
    std::uint64_t not_found = 0, timeouts = 0, cancelled = 0, rejected = 0, would_wait = 0, dropped = 0;
    std::uint64_t late_responses = 0, invalid = 0, sent_remote = 0, received_remote = 0, encoded = 0;
    std::uint64_t pending_requests = 0;
    std::uint64_t redeliveries = 0;
    std::uint64_t filtered_remote = 0;
  } events;
  // Per DeadReason, in its order.
  std::vector<std::pair<std::string_view, std::uint64_t>> dead_letters;
  std::vector<ManagerSnapshot> managers;
  std::vector<TypeSnapshot> types;
  std::vector<LinkSnapshot> links;
};

}  // namespace edrid
