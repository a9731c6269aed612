// The Redis Streams bridge manager (hopeit's streams, from edri):
//   inbound:  a stream read through a consumer group → an edri type; an
//             entry is acknowledged (XACK) once edri took the event (a
//             notification queued, or a request answered ok), else it goes
//             again after retry_delay
//   outbound: edri types → XADD on a stream (the handler fails when the
//             append did not happen; with delivery: at_least_once it goes again)
// Entries this bridge appended carry its origin and are not taken back.
#include "link_log.hpp"
#include "redis_bridge_settings.hpp"
#include "redis_connection.hpp"
#include "redis_stream_intake.hpp"
#include "route_stats.hpp"

#include <edri/edri.hpp>

#include <unistd.h>

#include <cstdio>
#include <random>

namespace {

using edri::GenericEvent;
using edri::json;
using namespace edri_bridge;

struct InboundRoute {
  RedisInbound in;
  RouteStats stats;
  std::unique_ptr<RedisStreamIntake> intake;
  std::mutex log_mutex;
  std::chrono::steady_clock::time_point last_decode_log{};
};

struct OutboundRoute {
  RedisOutbound out;
  RouteStats stats;
};

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "edri";
  return buf;
}

std::string random_origin(const std::string& name) {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return std::string(buf) + "/" + name;
}

class RedisBridgeManager : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    using edri::FieldType;
    return edri::ConfigSchema{}
        .field("redis", FieldType::object, json::object(),
               "{host, port, user, password, db, connect_timeout_ms, reconnect_wait_ms}")
        .field("inbound", FieldType::any, json::array(),
               "stream -> edri: {stream, group, consumer, type, as: notification|request, field, start: 0|$, "
               "max_inflight, batch, retry_delay_ms, claim_idle_ms, timeout_ms, max_deliver}")
        .field("outbound", FieldType::any, json::array(), "edri -> stream: {type: pattern, stream, field, maxlen}")
        .field("stats_type", FieldType::string, json(), "request type answering the bridge's stats (default <manager>.stats)")
        .field("stats_log_ms", FieldType::integer, 60000, "period of the STATS log line; 0 = none");
  }

  RedisBridgeManager(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx),
        settings_(read(config, ctx.name())),
        origin_(random_origin(ctx.name())),
        writer_(settings_.redis, std::chrono::seconds(5)) {
    // Reach the server once now: wrong credentials stop the manager with
    // Redis's reason; a server that is not up yet is waited for.
    try {
      writer_.command({"PING"});
    } catch (const RedisError& e) {
      if (!e.connection()) throw edri::ConfigError("redis.password", e.what());
      log().warn(e.what(), "; the bridge keeps trying every ", settings_.redis.reconnect_wait.count(), " ms");
    }
    for (const auto& o : settings_.outbound) {
      auto r = std::make_shared<OutboundRoute>();
      r->out = o;
      outbound_.push_back(r);
      ctx.on_notification(o.pattern, [this, r](const GenericEvent& ev) { append(*r, ev); });
    }
    ctx.on_request(settings_.stats_type, [this](const GenericEvent&, edri::Reply<json>& reply) { reply.set(stats()); });
  }

  ~RedisBridgeManager() override { stop_inbound(); }

  void after_start() override {
    for (const auto& in : settings_.inbound) {
      auto r = std::make_shared<InboundRoute>();
      r->in = in;
      inbound_.push_back(r);
      r->intake = std::make_unique<RedisStreamIntake>(
          settings_.redis, in, r->stats,
          [this](int level, const std::string& text) {
            if (level == 0) log().info(text);
            else if (level == 1) log().warn(text);
            else log().error(text);
          },
          [this, w = std::weak_ptr(r)](StreamEntry e) {
            if (auto route = w.lock()) take(route, std::move(e));
          });
      r->intake->start();
    }
    if (settings_.stats_log_interval.count() > 0) {
      ctx().every(settings_.stats_log_interval, [this] { log().info("STATS ", stats().dump()); });
    }
  }

  void stop() override { stop_inbound(); }

 private:
  static RedisBridgeSettings read(const edri::Config& config, const std::string& name) {
    try {
      return parse_redis_settings(config.raw(), name, host_name());
    } catch (const SettingsError& e) {
      throw edri::ConfigError(e.key(), e.what());
    }
  }

  void stop_inbound() {
    for (auto& r : inbound_) {
      if (r->intake) r->intake->stop();
    }
  }

  void take(const std::shared_ptr<InboundRoute>& r, StreamEntry e) {
    if (const auto* o = e.field("origin"); o && *o == origin_) {
      r->stats.own_echoes.fetch_add(1);
      r->stats.delivered.fetch_add(1);
      r->intake->settle(std::move(e), true);
      return;
    }
    const std::string* body = e.field(r->in.field);
    json data = body ? json::parse(*body, nullptr, false) : json(json::value_t::discarded);
    if (data.is_discarded()) {
      const auto n = r->stats.decode_errors.fetch_add(1) + 1;
      {
        std::lock_guard lock(r->log_mutex);
        const auto now = std::chrono::steady_clock::now();
        if (now - r->last_decode_log > std::chrono::seconds(10)) {
          r->last_decode_log = now;
          log().warn("redis stream ", r->in.stream, ": entry ", e.id,
                     body ? " holds no JSON in field '" : " has no field '", r->in.field,
                     "'; acknowledged and dropped [", n, " so far on this route]");
        }
      }
      r->intake->settle(std::move(e), true);  // never better on a second read
      return;
    }
    edri::SendOptions opts;
    opts.timeout = r->in.timeout;
    opts.dedupe_key = "redis:" + r->in.stream + ":" + e.id;
    if (const auto* tp = e.field("traceparent"); tp && tp->size() >= 35) {
      opts.trace_id = edri::parse_trace_id(std::string_view(*tp).substr(3, 32));
    }
    // This runs on the intake's thread: nothing may escape it, and a send
    // edri refused settles the entry as a failure.
    if (r->in.as_request) {
      auto entry = std::make_shared<StreamEntry>(std::move(e));
      auto payload = std::make_shared<json>(std::move(data));
      try {
        ctx().request(r->in.type, *payload, [this, r, entry, payload](const edri::Response<json>& resp) {
          finish(*r, std::move(*entry), resp.ok(), std::string(edri::to_string(resp.status())) +
                                                       (resp.message().empty() ? "" : ": ") + resp.message(), *payload);
        }, opts);
      } catch (const std::exception& ex) {
        log().error("redis stream ", r->in.stream, ": edri refused ", entry->id, ": ", ex.what());
        finish(*r, std::move(*entry), false, ex.what(), *payload);
      }
      return;
    }
    bool ok = false;
    std::string error;
    try {
      ok = ctx().notify(r->in.type, data, opts) > 0;
      if (!ok) error = "no manager takes " + r->in.type;
    } catch (const std::exception& ex) {
      log().error("redis stream ", r->in.stream, ": edri refused ", e.id, ": ", ex.what());
      error = ex.what();
    }
    finish(*r, std::move(e), ok, error, data);
  }

  // Settles an entry; its max_deliver-th failure is acknowledged and
  // published as edri.dead_letter instead of going again.
  void finish(InboundRoute& r, StreamEntry e, bool ok, const std::string& error, const json& payload) {
    (ok ? r.stats.delivered : r.stats.failed).fetch_add(1);
    if (ok || r.in.max_deliver <= 0 || e.attempt < r.in.max_deliver) {
      r.intake->settle(std::move(e), ok);
      return;
    }
    r.stats.dead_letters.fetch_add(1);
    const std::string source = "redis:" + r.in.stream + ":" + e.id;
    log().warn("dead letter: ", source, " (", r.in.type, ") after ", e.attempt, " deliveries (max_deliver): ", error,
               "; acknowledged");
    ctx().notify("edri.dead_letter", json{{"type", r.in.type},
                                          {"kind", r.in.as_request ? "request" : "notification"},
                                          {"reason", "max_deliveries"},
                                          {"attempts", e.attempt},
                                          {"manager", ctx().name()},
                                          {"error", error},
                                          {"source", source},
                                          {"payload", payload}});
    r.intake->settle(std::move(e), true);
  }

  void append(OutboundRoute& r, const GenericEvent& ev) {
    const std::string type(ev.type());
    const std::string key = r.out.stream ? *r.out.stream : type;
    const auto info = ev.info();
    const std::string body = ev.data().dump();
    const std::string trace = "00-" + info.trace_id() + "-" + info.id().substr(0, 16) + "-01";
    const std::string id = info.id();
    const std::string maxlen = std::to_string(r.out.maxlen);
    std::vector<std::string_view> argv{"XADD", key};
    if (r.out.maxlen > 0) argv.insert(argv.end(), {"MAXLEN", "~", maxlen});
    argv.insert(argv.end(), {"*", r.out.field, body, "type", type, "id", id, "traceparent", trace, "origin", origin_});
    try {
      std::lock_guard lock(writer_mutex_);
      writer_.command(argv);
    } catch (const RedisError& e) {
      r.stats.publish_errors.fetch_add(1);
      throw;  // the handler fails: with delivery: at_least_once edri sends it again
    }
    r.stats.published.fetch_add(1);
  }

  json stats() const {
    json in = json::array(), out = json::array();
    for (const auto& r : inbound_) {
      json j = r->stats.inbound_json();
      j["stream"] = r->in.stream;
      j["group"] = r->in.group;
      j["consumer"] = r->in.consumer;
      in.push_back(std::move(j));
    }
    for (const auto& r : outbound_) {
      json j = r->stats.outbound_json();
      j["type"] = r->out.pattern;
      out.push_back(std::move(j));
    }
    return {{"redis", settings_.redis.host + ":" + std::to_string(settings_.redis.port)},
            {"inbound", std::move(in)},
            {"outbound", std::move(out)}};
  }

  RedisBridgeSettings settings_;
  std::string origin_;
  std::mutex writer_mutex_;
  RedisConnection writer_;
  std::vector<std::shared_ptr<InboundRoute>> inbound_;
  std::vector<std::shared_ptr<OutboundRoute>> outbound_;
};

}  // namespace

EDRI_PLUGIN(RedisBridgeManager, "redis_bridge", "1.0.0")
