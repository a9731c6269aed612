// Counters of one bridge route, shared by the threads that move its
// messages; read by the stats request and the periodic log line.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>

namespace edri_bridge {

struct RouteStats {
  // NATS → edri
  std::atomic<std::uint64_t> received{0};       // messages taken from NATS
  std::atomic<std::uint64_t> delivered{0};      // edri took them (acknowledged, for JetStream)
  std::atomic<std::uint64_t> failed{0};         // edri refused or failed: negatively acknowledged
  std::atomic<std::uint64_t> redelivered{0};    // JetStream deliveries after the first
  std::atomic<std::uint64_t> decode_errors{0};  // payload not JSON: terminated, never redelivered
  std::atomic<std::uint64_t> own_echoes{0};     // published by this bridge: not taken back
  std::atomic<std::uint64_t> dead_letters{0};   // failed max_deliver times: given up, published as edri.dead_letter
  std::atomic<std::int64_t> inflight{0};        // handed to edri, not settled yet
  // edri → NATS
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> publish_errors{0};
  std::atomic<std::uint64_t> duplicates{0};     // JetStream said: already stored (Nats-Msg-Id)
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> request_errors{0};

  nlohmann::json inbound_json() const {
    return {{"received", received.load()},       {"delivered", delivered.load()},
            {"failed", failed.load()},           {"redelivered", redelivered.load()},
            {"decode_errors", decode_errors.load()}, {"own_echoes", own_echoes.load()},
            {"dead_letters", dead_letters.load()},
            {"inflight", inflight.load()}};
  }
  nlohmann::json outbound_json() const {
    return {{"published", published.load()}, {"publish_errors", publish_errors.load()},
            {"duplicates", duplicates.load()}, {"requests", requests.load()},
            {"request_errors", request_errors.load()}};
  }
};

}  // namespace edri_bridge
