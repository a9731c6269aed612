#include "nats_bridge_settings.hpp"

#include "subject_map.hpp"

#include "settings_reader.hpp"

namespace edri_bridge {
namespace {

using nlohmann::json;

NatsSettings parse_nats(const json& j) {
  Section s(j, "nats");
  s.only({"servers", "name", "user", "password", "token", "creds_file", "tls", "connect_timeout_ms",
          "reconnect_wait_ms", "reconnect_buffer_bytes"});
  NatsSettings n;
  if (!s.has("servers") || !s.at("servers").is_array() || s.at("servers").empty()) {
    throw SettingsError(s.key("servers"), "nats.servers must be a non-empty list of nats://host:port URLs");
  }
  for (std::size_t i = 0; i < s.at("servers").size(); ++i) {
    const json& url = s.at("servers")[i];
    const std::string key = s.key("servers") + "." + std::to_string(i);
    if (!url.is_string()) throw SettingsError(key, key + " must be a string");
    const auto u = url.get<std::string>();
    if (!u.starts_with("nats://") && !u.starts_with("tls://")) {
      throw SettingsError(key, key + ": '" + u + "' is not a nats:// or tls:// URL");
    }
    n.servers.push_back(u);
  }
  n.client_name = s.str("name", "edri");
  n.user = s.str("user");
  n.password = s.str("password");
  n.token = s.str("token");
  n.creds_file = s.str("creds_file");
  if (!n.password.empty() && n.user.empty()) throw SettingsError(s.key("password"), "nats.password needs nats.user");
  if (!n.token.empty() && !n.user.empty()) throw SettingsError(s.key("token"), "nats.token and nats.user exclude each other");
  if (s.has("tls")) {
    Section t(s.at("tls"), "nats.tls");
    t.only({"ca", "cert", "key"});
    n.tls_ca = t.str("ca");
    n.tls_cert = t.str("cert");
    n.tls_key = t.str("key");
    if (n.tls_cert.empty() != n.tls_key.empty()) throw SettingsError(t.key("cert"), "nats.tls: cert and key go together");
  }
  n.connect_timeout = s.ms("connect_timeout_ms", 2000, 1, 600'000);
  n.reconnect_wait = s.ms("reconnect_wait_ms", 2000, 1, 600'000);
  n.reconnect_buffer_bytes = s.integer("reconnect_buffer_bytes", 8 << 20, 0, std::int64_t{1} << 32);
  return n;
}

Inbound parse_inbound(const json& j, const std::string& path) {
  Section s(j, path);
  s.only({"subject", "type", "as", "queue_group", "stream", "consumer", "max_inflight", "batch", "ack_wait_ms",
          "nak_delay_ms", "max_deliver", "timeout_ms"});
  Inbound in;
  in.subject = s.str("subject");
  if (!valid_subject(in.subject, true)) {
    throw SettingsError(s.key("subject"), s.key("subject") + " must be a NATS subject ('orders.>', 'edri.*.created')");
  }
  if (s.has("type")) {
    in.type = s.str("type");
    if (!valid_subject(*in.type, false)) throw SettingsError(s.key("type"), s.key("type") + " must be an edri type without wildcards");
  }
  const auto as = s.str("as", "notification");
  if (as != "notification" && as != "request") throw SettingsError(s.key("as"), s.key("as") + " must be notification or request");
  in.as_request = as == "request";
  in.queue_group = s.str("queue_group");
  in.stream = s.str("stream");
  in.consumer = s.str("consumer");
  if (in.jetstream()) {
    if (!in.queue_group.empty()) {
      throw SettingsError(s.key("queue_group"), s.key("queue_group") +
                                                    " is for core NATS: bridges sharing a JetStream consumer share its work already");
    }
    if (in.consumer.empty()) throw SettingsError(s.key("consumer"), s.key("stream") + " needs " + s.key("consumer") + " (a durable name)");
    if (in.consumer.find_first_of(".*> \t") != std::string::npos) {
      throw SettingsError(s.key("consumer"), s.key("consumer") + " may not contain '.', '*', '>' or spaces");
    }
  } else {
    for (const char* k : {"consumer", "max_inflight", "batch", "ack_wait_ms", "nak_delay_ms", "max_deliver"}) {
      if (s.has(k)) throw SettingsError(s.key(k), s.key(k) + " is for JetStream routes (set " + s.key("stream") + ")");
    }
  }
  in.max_inflight = static_cast<int>(s.integer("max_inflight", 256, 1, 65536));
  in.batch = static_cast<int>(s.integer("batch", std::min(64, in.max_inflight), 1, 4096));
  in.ack_wait = s.ms("ack_wait_ms", 30000, 100, kDayMs);
  in.nak_delay = s.ms("nak_delay_ms", 1000, 0, kDayMs);
  in.max_deliver = s.integer("max_deliver", -1, -1, 1'000'000);
  if (in.max_deliver == 0) throw SettingsError(s.key("max_deliver"), s.key("max_deliver") + " must be -1 (no limit) or at least 1");
  in.timeout = s.ms("timeout_ms", 0, 0, kDayMs);
  return in;
}

Outbound parse_outbound(const json& j, const std::string& path) {
  Section s(j, path);
  s.only({"type", "subject", "jetstream", "requests", "timeout_ms"});
  Outbound out;
  out.pattern = s.str("type");
  if (!valid_subject(out.pattern, true)) {
    throw SettingsError(s.key("type"), s.key("type") + " must be an edri type or pattern ('billing.>', 'shop.*.paid')");
  }
  if (s.has("subject")) {
    out.subject = s.str("subject");
    if (!valid_subject(*out.subject, false)) throw SettingsError(s.key("subject"), s.key("subject") + " must be a NATS subject without wildcards");
  }
  out.jetstream = s.boolean("jetstream", false);
  out.requests = s.boolean("requests", false);
  if (out.jetstream && out.requests) {
    throw SettingsError(s.key("requests"), s.key("requests") + ": a JetStream route stores events; requests go over core NATS");
  }
  out.timeout = s.ms("timeout_ms", 5000, 1, kDayMs);
  return out;
}

}  // namespace

BridgeSettings parse_settings(const json& config, const std::string& manager_name) {
  Section s(config, "");
  s.only({"nats", "prefix", "inbound", "outbound", "stats_type", "stats_log_ms"});
  BridgeSettings b;
  if (!s.has("nats")) throw SettingsError("nats", "the bridge needs nats: {servers: [nats://host:port]}");
  b.nats = parse_nats(s.at("nats"));
  b.prefix = s.str("prefix", "edri");
  if (!b.prefix.empty() && !valid_subject(b.prefix, false)) throw SettingsError("prefix", "prefix must be subject tokens without wildcards, or empty");
  s.each("inbound", [&](const json& j, const std::string& path) { b.inbound.push_back(parse_inbound(j, path)); });
  s.each("outbound", [&](const json& j, const std::string& path) { b.outbound.push_back(parse_outbound(j, path)); });
  // Two core routes whose subjects overlap would take one message twice.
  for (std::size_t i = 0; i < b.inbound.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const auto& x = b.inbound[i];
      const auto& y = b.inbound[j];
      if (!x.jetstream() && !y.jetstream() && subjects_overlap(x.subject, y.subject)) {
        throw SettingsError("inbound." + std::to_string(i) + ".subject",
                            "inbound." + std::to_string(i) + ".subject '" + x.subject + "' overlaps inbound." +
                                std::to_string(j) + ".subject '" + y.subject +
                                "': a message on both would reach edri twice");
      }
      if (x.jetstream() && y.jetstream() && x.stream == y.stream && x.consumer == y.consumer) {
        throw SettingsError("inbound." + std::to_string(i) + ".consumer",
                            "inbound." + std::to_string(i) + " and inbound." + std::to_string(j) +
                                " use the same consumer '" + x.consumer + "' of stream '" + x.stream + "'");
      }
    }
  }
  if (b.inbound.empty() && b.outbound.empty()) throw SettingsError("inbound", "the bridge needs at least one inbound or outbound route");
  b.stats_type = s.str("stats_type", manager_name + ".stats");
  b.stats_log_interval = s.ms("stats_log_ms", 60000, 0, kDayMs);
  return b;
}

}  // namespace edri_bridge
