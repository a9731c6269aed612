// One cluster link's state and counters at one moment (part of a
// RouterSnapshot); the cluster layer fills it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace edrid {

// One cluster link: a connector's link to its switch, or a switch's link
// to one router. Filled by the cluster layer.
struct LinkSnapshot {
  std::string role;  // "connector" or "switch"
  std::string peer;
  std::string state;
  std::string address;
  std::uint64_t peer_incarnation = 0;
  std::uint64_t sent_seq = 0;
  std::uint64_t acked_seq = 0;
  std::uint64_t received_seq = 0;
  std::uint64_t events_received = 0;
  std::uint64_t replay_frames = 0;
  std::uint64_t replay_bytes = 0;
  std::uint64_t replay_dropped = 0;
  std::uint64_t publisher_waits = 0;
  std::uint64_t publisher_wait_timeouts = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint64_t refused_frames = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t gaps = 0;
  std::uint64_t events_lost = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t writes = 0;
  // A connector's: the switch it dials and its own incarnation.
  std::optional<std::string> switch_address;
  std::optional<std::uint64_t> incarnation;
  // A switch's: how many patterns the router on this link subscribes; the
  // at-least-once group events placed there and not settled yet; the events
  // it subscribed to that its content filters turned away.
  std::optional<std::size_t> patterns;
  std::optional<std::uint64_t> held_work;
  std::optional<std::uint64_t> filtered;
};

}  // namespace edrid
