// The Redis Streams bridge's configuration: a server, streams read through
// consumer groups into edri (hopeit's XREADGROUP / XACK), and edri types
// appended to streams (XADD).
#pragma once

#include "settings_reader.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace edri_bridge {

struct RedisSettings {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user, password;  // AUTH [user] password when set
  int db = 0;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_wait{1000};
};

// Stream → edri: entries read by this consumer of `group`, acknowledged
// (XACK) only once edri took the event; a failed one is delivered again
// after retry_delay, and entries another consumer left pending longer than
// claim_idle are claimed (XAUTOCLAIM) and delivered here.
struct RedisInbound {
  std::string stream;                         // the stream's key
  std::string group = "edri";
  std::string consumer;                       // default: <host name>-<manager>
  std::string type;                           // edri type; default: the stream's key
  bool as_request = false;
  std::string field = "data";                 // the entry field holding the JSON payload
  std::string start = "0";                    // where a group created here starts: 0 (all) or $ (new only)
  int max_inflight = 256;
  int batch = 64;
  std::chrono::milliseconds retry_delay{1000};
  std::chrono::milliseconds claim_idle{60000};
  int max_deliver = -1;                       // > 0: then a dead letter (counted by this bridge since it took the entry)
  std::chrono::milliseconds timeout{0};       // edri request timeout; 0 = router default
};

// edri → stream: each event of a matching type is appended with XADD
// (fields: data, type, id, traceparent, origin); the handler fails, and
// with delivery: at_least_once goes again, when the append did not happen.
struct RedisOutbound {
  std::string pattern;
  std::optional<std::string> stream;          // default: the event's type
  std::string field = "data";
  std::int64_t maxlen = 0;                    // > 0: trim to about this many entries (MAXLEN ~)
};

struct RedisBridgeSettings {
  RedisSettings redis;
  std::vector<RedisInbound> inbound;
  std::vector<RedisOutbound> outbound;
  std::string stats_type;
  std::chrono::milliseconds stats_log_interval{60000};
};

RedisBridgeSettings parse_redis_settings(const nlohmann::json& config, const std::string& manager_name,
                                         const std::string& host_name);

}  // namespace edri_bridge
