// The bridge's configuration, read and checked from the manager's config
// JSON. Plain data and a parser, so it is tested without a NATS server.
#pragma once

#include "settings_reader.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace edri_bridge {

struct NatsSettings {
  std::vector<std::string> servers;         // nats://host:port, tried in order, then at random
  std::string client_name;                  // shown by the server's /connz
  std::string user, password, token;        // NATS's own auth; creds_file for JWT + nkey
  std::string creds_file;
  std::string tls_ca, tls_cert, tls_key;    // PEM files; tls_ca alone = server verification only
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_wait{2000};
  std::int64_t reconnect_buffer_bytes = 8 << 20;  // publishes kept while disconnected
};

// NATS → edri. A core subscription (at most once, as NATS itself) or, with
// `stream`, a durable JetStream pull consumer acknowledged only after edri
// took the event (at least once).
struct Inbound {
  std::string subject;                      // NATS subject or wildcard pattern
  std::optional<std::string> type;          // fixed edri type; else mapped from the subject
  bool as_request = false;                  // edri request (ack after an ok answer) or notification
  std::string queue_group;                  // core only: share the subject with other bridges
  std::string stream;                       // JetStream stream; empty = core NATS
  std::string consumer;                     // durable consumer name (created when missing)
  int max_inflight = 256;                   // messages handed to edri and not yet settled
  int batch = 64;                           // most messages per pull
  std::chrono::milliseconds ack_wait{30000};
  std::chrono::milliseconds nak_delay{1000};  // redelivery delay after a failure
  std::int64_t max_deliver = -1;            // -1: no limit
  std::chrono::milliseconds timeout{0};     // edri request timeout; 0 = router default
  bool jetstream() const noexcept { return !stream.empty(); }
};

// edri → NATS. Events of the types `pattern` matches are published on their
// subject; with `jetstream`, each waits for the stream's acknowledgement
// (with the event id as Nats-Msg-Id) before the edri handler succeeds.
struct Outbound {
  std::string pattern;                      // edri type pattern
  std::optional<std::string> subject;       // fixed subject; else mapped from the type
  bool jetstream = false;
  bool requests = false;                    // also forward edri requests as NATS requests
  std::chrono::milliseconds timeout{5000};  // NATS request / JetStream ack wait
};

struct BridgeSettings {
  NatsSettings nats;
  std::string prefix = "edri";              // edri type a.b <-> subject <prefix>.a.b
  std::vector<Inbound> inbound;
  std::vector<Outbound> outbound;
  std::string stats_type;                   // request type answering the bridge's stats
  std::chrono::milliseconds stats_log_interval{60000};  // 0 = no periodic line
};

// The JSON keys the plugin's schema declares; throws SettingsError.
BridgeSettings parse_settings(const nlohmann::json& config, const std::string& manager_name);

}  // namespace edri_bridge
