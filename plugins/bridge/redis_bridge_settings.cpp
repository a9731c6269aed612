#include "redis_bridge_settings.hpp"

#include "subject_map.hpp"

namespace edri_bridge {
namespace {

using nlohmann::json;

RedisSettings parse_redis(const json& j) {
  Section s(j, "redis");
  s.only({"host", "port", "user", "password", "db", "connect_timeout_ms", "reconnect_wait_ms"});
  RedisSettings r;
  r.host = s.str("host", r.host);
  if (r.host.empty()) throw SettingsError(s.key("host"), "redis.host may not be empty");
  r.port = static_cast<int>(s.integer("port", 6379, 1, 65535));
  r.user = s.str("user");
  r.password = s.str("password");
  if (!r.user.empty() && r.password.empty()) throw SettingsError(s.key("user"), "redis.user needs redis.password");
  r.db = static_cast<int>(s.integer("db", 0, 0, 1 << 20));
  r.connect_timeout = s.ms("connect_timeout_ms", 2000, 1, 600'000);
  r.reconnect_wait = s.ms("reconnect_wait_ms", 1000, 1, 600'000);
  return r;
}

void check_key(const Section& s, const std::string& k, const std::string& v) {
  if (v.empty()) throw SettingsError(s.key(k), s.key(k) + " may not be empty");
}

RedisInbound parse_inbound(const json& j, const std::string& path, const std::string& default_consumer) {
  Section s(j, path);
  s.only({"stream", "group", "consumer", "type", "as", "field", "start", "max_inflight", "batch", "retry_delay_ms",
          "claim_idle_ms", "timeout_ms", "max_deliver"});
  RedisInbound in;
  in.stream = s.str("stream");
  check_key(s, "stream", in.stream);
  in.group = s.str("group", in.group);
  check_key(s, "group", in.group);
  in.consumer = s.str("consumer", default_consumer);
  check_key(s, "consumer", in.consumer);
  in.type = s.str("type", in.stream);
  if (!valid_subject(in.type, false)) {
    throw SettingsError(s.key(s.has("type") ? "type" : "stream"),
                        "the edri type '" + in.type + "' (" + s.key("type") + ", default: the stream's key) is not a type");
  }
  const auto as = s.str("as", "notification");
  if (as != "notification" && as != "request") throw SettingsError(s.key("as"), s.key("as") + " must be notification or request");
  in.as_request = as == "request";
  in.field = s.str("field", in.field);
  check_key(s, "field", in.field);
  in.start = s.str("start", in.start);
  if (in.start != "0" && in.start != "$") throw SettingsError(s.key("start"), s.key("start") + " must be '0' or '$'");
  in.max_inflight = static_cast<int>(s.integer("max_inflight", 256, 1, 65536));
  in.batch = static_cast<int>(s.integer("batch", std::min(64, in.max_inflight), 1, 4096));
  in.retry_delay = s.ms("retry_delay_ms", 1000, 0, kDayMs);
  in.claim_idle = s.ms("claim_idle_ms", 60000, 100, kDayMs);
  in.timeout = s.ms("timeout_ms", 0, 0, kDayMs);
  in.max_deliver = static_cast<int>(s.integer("max_deliver", -1, -1, 1'000'000));
  if (in.max_deliver == 0) throw SettingsError(s.key("max_deliver"), s.key("max_deliver") + " must be -1 (no limit) or at least 1");
  return in;
}

RedisOutbound parse_outbound(const json& j, const std::string& path) {
  Section s(j, path);
  s.only({"type", "stream", "field", "maxlen"});
  RedisOutbound out;
  out.pattern = s.str("type");
  if (!valid_subject(out.pattern, true)) {
    throw SettingsError(s.key("type"), s.key("type") + " must be an edri type or pattern ('billing.>', 'shop.*.paid')");
  }
  if (s.has("stream")) {
    out.stream = s.str("stream");
    check_key(s, "stream", *out.stream);
  }
  out.field = s.str("field", out.field);
  check_key(s, "field", out.field);
  out.maxlen = s.integer("maxlen", 0, 0, std::int64_t{1} << 40);
  return out;
}

}  // namespace

RedisBridgeSettings parse_redis_settings(const json& config, const std::string& manager_name,
                                         const std::string& host_name) {
  Section s(config, "");
  s.only({"redis", "inbound", "outbound", "stats_type", "stats_log_ms"});
  RedisBridgeSettings b;
  b.redis = parse_redis(s.has("redis") ? s.at("redis") : json::object());
  const std::string consumer = host_name + "-" + manager_name;
  s.each("inbound", [&](const json& j, const std::string& path) { b.inbound.push_back(parse_inbound(j, path, consumer)); });
  s.each("outbound", [&](const json& j, const std::string& path) { b.outbound.push_back(parse_outbound(j, path)); });
  if (b.inbound.empty() && b.outbound.empty()) throw SettingsError("inbound", "the bridge needs at least one inbound or outbound route");
  b.stats_type = s.str("stats_type", manager_name + ".stats");
  b.stats_log_interval = s.ms("stats_log_ms", 60000, 0, kDayMs);
  return b;
}

}  // namespace edri_bridge
