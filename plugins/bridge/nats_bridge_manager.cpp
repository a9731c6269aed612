// The bridge manager: moves events between edri and a NATS cluster.
//   inbound:  NATS subject (core, at most once) or JetStream consumer (at
//             least once, acknowledged after edri took the event) → edri type
//   outbound: edri type pattern → NATS subject, or a JetStream stream (the
//             handler succeeds once the stream stored it); requests too
// Subjects and types map through `prefix` (subject_map.hpp). Messages this
// bridge published carry an Edri-Origin header and are not taken back.
#include "nats_bridge_settings.hpp"
#include "jetstream_intake.hpp"
#include "nats_link.hpp"
#include "route_stats.hpp"
#include "subject_map.hpp"

#include <edri/edri.hpp>

#include <cstdio>
#include <deque>
#include <random>
#include <thread>

namespace {

using edri::GenericEvent;
using edri::json;
using namespace edri_bridge;

// One inbound route's moving parts. Callbacks of requests still out hold it
// (and the link) by shared_ptr, so a late answer never meets a freed route.
struct InboundRoute {
  Inbound in;
  RouteStats stats;
  std::shared_ptr<NatsLink> link;
  natsSubscription* core = nullptr;
  std::atomic<int> callbacks_running{0};  // core subscription callbacks now
  std::unique_ptr<JetStreamIntake> intake;
  std::mutex log_mutex;
  std::chrono::steady_clock::time_point last_decode_log{};
  ~InboundRoute() {
    if (core) natsSubscription_Destroy(core);
  }
};

struct OutboundRoute {
  Outbound out;
  RouteStats stats;
};

std::string header(natsMsg* m, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v) return {};
  return v;
}

std::string random_origin() {
  std::random_device rd;
  const std::uint64_t v = (std::uint64_t{rd()} << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

class BridgeManager : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    using edri::FieldType;
    return edri::ConfigSchema{}
        .required("nats", FieldType::object, "{servers: [nats://host:port], name, user, password, token, creds_file, "
                                             "tls: {ca, cert, key}, connect_timeout_ms, reconnect_wait_ms, reconnect_buffer_bytes}")
        .field("prefix", FieldType::string, "edri", "edri type a.b <-> NATS subject <prefix>.a.b (empty: the type itself)")
        .field("inbound", FieldType::any, json::array(),
               "NATS -> edri: {subject, type, as: notification|request, queue_group} or, with JetStream, "
               "{subject, stream, consumer, max_inflight, batch, ack_wait_ms, nak_delay_ms, max_deliver, timeout_ms}")
        .field("outbound", FieldType::any, json::array(),
               "edri -> NATS: {type: pattern, subject, jetstream: bool, requests: bool, timeout_ms}")
        .field("stats_type", FieldType::string, json(), "request type answering the bridge's stats (default <manager>.stats)")
        .field("stats_log_ms", FieldType::integer, 60000, "period of the STATS log line; 0 = none");
  }

  BridgeManager(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx), settings_(read(config, ctx.name())), origin_(random_origin() + "/" + ctx.name()) {
    try {
      link_ = std::make_shared<NatsLink>(settings_.nats, link_log());
    } catch (const NatsError& e) {
      throw edri::ConfigError(e.status() == NATS_CONNECTION_AUTH_FAILED ? "nats.user" : "nats", e.what());
    }
    for (std::size_t i = 0; i < settings_.outbound.size(); ++i) {
      auto r = std::make_shared<OutboundRoute>();
      r->out = settings_.outbound[i];
      outbound_.push_back(r);
      ctx.on_notification(r->out.pattern, [this, r](const GenericEvent& ev) { publish(*r, ev); });
      if (r->out.requests) {
        ctx.on_request(r->out.pattern, [this, r](const GenericEvent& ev, edri::Reply<json>& reply) {
          forward_request(*r, ev, reply);
        });
      }
    }
    ctx.on_request(settings_.stats_type, [this](const GenericEvent&, edri::Reply<json>& reply) { reply.set(stats()); });
  }

  ~BridgeManager() override { close_inbound(); }

  void after_start() override {
    // Inbound starts once every manager runs: what comes in has somewhere to go.
    for (const auto& in : settings_.inbound) {
      auto r = std::make_shared<InboundRoute>();
      r->in = in;
      r->link = link_;
      inbound_.push_back(r);
      if (in.jetstream()) {
        // The route owns its intake: the intake's callback must not own the route.
        r->intake = std::make_unique<JetStreamIntake>(link_, in, r->stats, link_log(),
                                                      [this, w = std::weak_ptr(r)](natsMsg* m) {
                                                        if (auto route = w.lock()) take(route, m);
                                                        else natsMsg_Destroy(m);
                                                      });
        r->intake->start();
      } else {
        subscribe_core(r);
      }
    }
    if (settings_.stats_log_interval.count() > 0) {
      ctx().every(settings_.stats_log_interval, [this] { log().info("STATS ", stats().dump()); });
    }
  }

  void stop() override {
    close_inbound();
    link_->drain(std::chrono::milliseconds(2000));
  }

 private:
  static BridgeSettings read(const edri::Config& config, const std::string& name) {
    try {
      return parse_settings(config.raw(), name);
    } catch (const SettingsError& e) {
      throw edri::ConfigError(e.key(), e.what());
    }
  }

  LinkLog link_log() {
    return [this](int level, const std::string& text) {
      if (level == 0) log().info(text);
      else if (level == 1) log().warn(text);
      else log().error(text);
    };
  }

  void close_inbound() {
    for (auto& r : inbound_) {
      if (r->intake) r->intake->stop();
      if (!r->core || !natsSubscription_IsValid(r->core)) continue;
      if (link_->connected()) {
        // Delivers what libnats holds already, then ends the subscription.
        if (natsSubscription_Drain(r->core) == NATS_OK) natsSubscription_WaitForDrainCompletion(r->core, 5000);
      } else {
        // No server to drain with (a drain would wait out its timeout):
        // what libnats holds is dropped, as core NATS drops anyway.
        natsSubscription_Unsubscribe(r->core);
      }
      // Either way no callback starts any more; wait for one still running,
      // so none runs after the manager is gone.
      while (r->callbacks_running.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // ---- NATS → edri

  // libnats calls back on its own thread with a plain pointer: the closure
  // keeps the manager and the route together for it.
  struct CoreClosure {
    BridgeManager* self;
    std::shared_ptr<InboundRoute> route;
  };

  void subscribe_core(const std::shared_ptr<InboundRoute>& r) {
    auto& closure = core_closures_.emplace_back(std::make_unique<CoreClosure>(CoreClosure{this, r}));
    auto cb = [](natsConnection*, natsSubscription*, natsMsg* m, void* c) {
      auto* cl = static_cast<CoreClosure*>(c);
      cl->route->callbacks_running.fetch_add(1);
      cl->route->stats.inflight.fetch_add(1);
      try {
        cl->self->take(cl->route, m);
      } catch (const std::exception& e) {
        // No exception may cross into libnats's thread.
        cl->self->log().error("inbound ", cl->route->in.subject, ": ", e.what());
      }
      cl->route->callbacks_running.fetch_sub(1);
    };
    const std::string subject = r->in.subject;
    const natsStatus s =
        r->in.queue_group.empty()
            ? natsConnection_Subscribe(&r->core, link_->connection(), subject.c_str(), cb, closure.get())
            : natsConnection_QueueSubscribe(&r->core, link_->connection(), subject.c_str(), r->in.queue_group.c_str(),
                                            cb, closure.get());
    if (s != NATS_OK) throw NatsError("subscribe to " + subject, s);
    // Core NATS drops for a slow consumer; the limit is generous and the
    // drops are counted (slow_consumer) and logged.
    natsSubscription_SetPendingLimits(r->core, 1 << 20, 256 << 20);
    // A round trip, so the server has the subscription once start is over
    // (core NATS drops what is published before). Not connected yet: it is
    // sent as the connection comes up.
    if (link_->connected()) natsConnection_FlushTimeout(link_->connection(), 2000);
  }

  // One message from NATS, owned here until settled.
  void take(const std::shared_ptr<InboundRoute>& r, natsMsg* m) {
    r->stats.received.fetch_add(1);
    if (header(m, "Edri-Origin") == origin_) {
      r->stats.own_echoes.fetch_add(1);
      settle(r, m, true);
      return;
    }
    json data;
    const int len = natsMsg_GetDataLength(m);
    if (len > 0) {
      data = json::parse(natsMsg_GetData(m), natsMsg_GetData(m) + len, nullptr, false);
      if (data.is_discarded()) {
        refuse_undecodable(r, m);
        return;
      }
    }
    const std::string type = r->in.type ? *r->in.type : type_for_subject(settings_.prefix, natsMsg_GetSubject(m));
    edri::SendOptions opts;
    opts.timeout = r->in.timeout;
    if (const auto tp = header(m, "traceparent"); tp.size() >= 35) opts.trace_id = edri::parse_trace_id(tp.substr(3, 32));
    if (r->in.jetstream()) {
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        // The stream's sequence names the message for its whole life: a
        // receiver with dedupe_ms skips a redelivery it already finished.
        opts.dedupe_key = "nats:" + r->in.stream + ":" + std::to_string(meta->Sequence.Stream);
        if (meta->NumDelivered > 1) r->stats.redelivered.fetch_add(1);
        jsMsgMetaData_Destroy(meta);
      }
    }
    const char* reply_to = r->in.jetstream() ? nullptr : natsMsg_GetReply(m);
    // This runs on the intake's or libnats's thread: nothing may escape it,
    // and a send edri refused settles the message as a failure.
    try {
      if (r->in.as_request || (reply_to && *reply_to)) {
        ctx().request(type, data, [this, r, m](const edri::Response<json>& resp) { answered(r, m, resp); }, opts);
        return;
      }
      const std::uint32_t n = ctx().notify(type, data, opts);
      settle(r, m, n > 0, n > 0 ? "" : "no manager takes " + type);
    } catch (const std::exception& e) {
      log().error("inbound ", natsMsg_GetSubject(m), ": edri refused it: ", e.what());
      settle(r, m, false, e.what());
    }
  }

  void answered(const std::shared_ptr<InboundRoute>& r, natsMsg* m, const edri::Response<json>& resp) {
    const char* reply_to = r->in.jetstream() ? nullptr : natsMsg_GetReply(m);
    if (reply_to && *reply_to) {
      natsMsg* out = nullptr;
      const std::string body = resp.ok() ? (resp.data() ? resp.data()->dump() : std::string())
                                         : json{{"error", std::string(edri::to_string(resp.status()))},
                                                {"message", resp.message()}}.dump();
      if (natsMsg_Create(&out, reply_to, nullptr, body.data(), static_cast<int>(body.size())) == NATS_OK) {
        natsMsgHeader_Set(out, "Edri-Status", std::string(edri::to_string(resp.status())).c_str());
        natsConnection_PublishMsg(r->link->connection(), out);
        natsMsg_Destroy(out);
      }
    }
    if (!resp.ok()) {
      log().debug("inbound ", natsMsg_GetSubject(m), ": edri answered ", edri::to_string(resp.status()), " ",
                  resp.message());
    }
    settle(r, m, resp.ok(), std::string(edri::to_string(resp.status())) + (resp.message().empty() ? "" : ": ") +
                                resp.message());
  }

  void refuse_undecodable(const std::shared_ptr<InboundRoute>& r, natsMsg* m) {
    const auto n = r->stats.decode_errors.fetch_add(1) + 1;
    {
      std::lock_guard lock(r->log_mutex);
      const auto now = std::chrono::steady_clock::now();
      if (now - r->last_decode_log > std::chrono::seconds(10)) {
        r->last_decode_log = now;
        log().warn("inbound ", natsMsg_GetSubject(m), ": a message of ", natsMsg_GetDataLength(m),
                   " bytes is not JSON; dropped", r->in.jetstream() ? " (terminated in the stream)" : "",
                   " [", n, " so far on this route]");
      }
    }
    if (r->in.jetstream()) {
      natsMsg_Term(m, nullptr);
      natsMsg_Destroy(m);
      r->intake->settle();
      return;
    }
    if (const char* reply_to = natsMsg_GetReply(m); reply_to && *reply_to) {
      const std::string body = json{{"error", "bad_request"}, {"message", "the payload is not JSON"}}.dump();
      natsConnection_Publish(r->link->connection(), reply_to, body.data(), static_cast<int>(body.size()));
    }
    natsMsg_Destroy(m);
    r->stats.inflight.fetch_sub(1);
  }

  // Ends a message's delivery: acknowledged when edri took it, otherwise
  // handed back to JetStream for another try after nak_delay, or, on its
  // max_deliver-th failure, terminated and published as edri.dead_letter.
  void settle(const std::shared_ptr<InboundRoute>& r, natsMsg* m, bool ok, const std::string& error = {}) {
    if (ok) {
      r->stats.delivered.fetch_add(1);
    } else {
      r->stats.failed.fetch_add(1);
    }
    if (r->in.jetstream()) {
      natsStatus s;
      if (ok) {
        s = natsMsg_Ack(m, nullptr);
      } else if (const auto attempts = last_delivery(*r, m)) {
        s = natsMsg_Term(m, nullptr);
        dead_letter(*r, m, attempts, error);
      } else {
        s = natsMsg_NakWithDelay(m, r->in.nak_delay.count(), nullptr);
      }
      if (s != NATS_OK) {
        // The server redelivers it after ack_wait: at least once still holds.
        log().debug("jetstream ", ok ? "ack" : "nak", " not sent: ", natsStatus_GetText(s));
      }
      natsMsg_Destroy(m);
      r->intake->settle();
      return;
    }
    natsMsg_Destroy(m);
    r->stats.inflight.fetch_sub(1);
  }

  // The delivery count when this failed delivery was the route's last
  // (max_deliver), else 0.
  static std::uint64_t last_delivery(const InboundRoute& r, natsMsg* m) {
    if (r.in.max_deliver <= 0) return 0;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) != NATS_OK) return 0;
    const std::uint64_t n = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
    return n >= static_cast<std::uint64_t>(r.in.max_deliver) ? n : 0;
  }

  // Shaped as the router's own dead letters (docs/configuration.md), plus
  // where the message was: edrictl dead-letters shows it, reinject resends it.
  void dead_letter(InboundRoute& r, natsMsg* m, std::uint64_t attempts, const std::string& error) {
    r.stats.dead_letters.fetch_add(1);
    const int len = natsMsg_GetDataLength(m);
    const json payload = len > 0 ? json::parse(natsMsg_GetData(m), natsMsg_GetData(m) + len, nullptr, false) : json();
    std::string source = "nats:" + r.in.stream;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
      source += ":" + std::to_string(meta->Sequence.Stream);
      jsMsgMetaData_Destroy(meta);
    }
    const std::string type = r.in.type ? *r.in.type : type_for_subject(settings_.prefix, natsMsg_GetSubject(m));
    log().warn("dead letter: ", source, " (", type, ") after ", attempts, " deliveries (max_deliver): ", error,
               "; terminated in the stream");
    ctx().notify("edri.dead_letter", json{{"type", type},
                                          {"kind", r.in.as_request ? "request" : "notification"},
                                          {"reason", "max_deliveries"},
                                          {"attempts", attempts},
                                          {"manager", ctx().name()},
                                          {"error", error},
                                          {"source", source},
                                          {"payload", payload}});
  }

  // ---- edri → NATS

  natsMsg* message_for(const OutboundRoute& r, const GenericEvent& ev, std::string& subject, std::string& body) {
    subject = r.out.subject ? *r.out.subject : subject_for_type(settings_.prefix, ev.type());
    body = ev.data().is_null() ? std::string() : ev.data().dump();
    natsMsg* m = nullptr;
    if (natsMsg_Create(&m, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size())) != NATS_OK) {
      throw std::runtime_error("cannot build a NATS message for subject " + subject);
    }
    const auto info = ev.info();
    const std::string trace = "00-" + info.trace_id() + "-" + info.id().substr(0, 16) + "-01";
    natsMsgHeader_Set(m, "Edri-Origin", origin_.c_str());
    natsMsgHeader_Set(m, "Edri-Type", std::string(ev.type()).c_str());
    natsMsgHeader_Set(m, "Edri-Id", info.id().c_str());
    natsMsgHeader_Set(m, "traceparent", trace.c_str());
    return m;
  }

  void publish(OutboundRoute& r, const GenericEvent& ev) {
    std::string subject, body;
    natsMsg* m = message_for(r, ev, subject, body);
    natsStatus s;
    if (r.out.jetstream) {
      jsPubOptions po;
      jsPubOptions_Init(&po);
      const std::string id = ev.info().id();
      po.MsgId = id.c_str();  // a publish retried after a lost ack is stored once
      po.MaxWait = r.out.timeout.count();
      jsPubAck* ack = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      s = js_PublishMsg(&ack, link_->jetstream(), m, &po, &jerr);
      if (ack) {
        if (ack->Duplicate) r.stats.duplicates.fetch_add(1);
        jsPubAck_Destroy(ack);
      }
    } else {
      s = natsConnection_PublishMsg(link_->connection(), m);
    }
    natsMsg_Destroy(m);
    if (s != NATS_OK) {
      r.stats.publish_errors.fetch_add(1);
      // The handler fails: with delivery: at_least_once edri sends it again.
      throw NatsError("publish on " + subject, s);
    }
    r.stats.published.fetch_add(1);
  }

  void forward_request(OutboundRoute& r, const GenericEvent& ev, edri::Reply<json>& reply) {
    std::string subject, body;
    natsMsg* m = message_for(r, ev, subject, body);
    natsMsg* answer = nullptr;
    r.stats.requests.fetch_add(1);
    const natsStatus s = natsConnection_RequestMsg(&answer, link_->connection(), m, r.out.timeout.count());
    natsMsg_Destroy(m);
    if (s != NATS_OK) {
      r.stats.request_errors.fetch_add(1);
      reply.set_status(s == NATS_TIMEOUT ? edri::Status::timeout : s == NATS_NO_RESPONDERS ? edri::Status::not_found
                                                                                            : edri::Status::error,
                       "NATS request on " + subject + ": " + natsStatus_GetText(s));
      return;
    }
    const int len = natsMsg_GetDataLength(answer);
    json data = len > 0 ? json::parse(natsMsg_GetData(answer), natsMsg_GetData(answer) + len, nullptr, false) : json();
    natsMsg_Destroy(answer);
    if (data.is_discarded()) {
      r.stats.request_errors.fetch_add(1);
      reply.error("the NATS answer on " + subject + " is not JSON");
      return;
    }
    reply.set(std::move(data));
  }

  json stats() const {
    json in = json::array(), out = json::array();
    for (const auto& r : inbound_) {
      json j = r->stats.inbound_json();
      j["subject"] = r->in.subject;
      if (r->in.jetstream()) j["stream"] = r->in.stream, j["consumer"] = r->in.consumer;
      in.push_back(std::move(j));
    }
    for (const auto& r : outbound_) {
      json j = r->stats.outbound_json();
      j["type"] = r->out.pattern;
      j["jetstream"] = r->out.jetstream;
      out.push_back(std::move(j));
    }
    return {{"nats", link_->stats()}, {"inbound", std::move(in)}, {"outbound", std::move(out)}};
  }

  BridgeSettings settings_;
  std::string origin_;
  std::shared_ptr<NatsLink> link_;
  std::vector<std::shared_ptr<InboundRoute>> inbound_;
  std::vector<std::shared_ptr<OutboundRoute>> outbound_;
  std::deque<std::unique_ptr<CoreClosure>> core_closures_;
};

}  // namespace

EDRI_PLUGIN(BridgeManager, "nats_bridge", "1.0.0")
