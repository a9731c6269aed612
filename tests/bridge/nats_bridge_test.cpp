// The bridge plugin against a real nats-server: plain NATS clients talk to
// edri managers, JetStream streams feed a flaky edri handler and take edri
// events, across a server kill, and bad input is refused and counted.
#include "app/daemon.hpp"
#include "bridge/flaky_worker.hpp"
#include "support/daemon_rig.hpp"
#include "support/nats_server.hpp"
#include "support/router_fixture.hpp"
#include "support/wait_until.hpp"

#include <edri/edri.hpp>
#include <nats/nats.h>

#include <catch2/catch.hpp>

#include <map>
#include <set>

using edri::json;
using probe::Registry;
using probe::wait_until;
using namespace std::chrono_literals;

namespace {

// A test's own NATS client, through libnats as any C or C++ user has it.
class Client {
 public:
  explicit Client(const std::string& url) {
    REQUIRE(natsConnection_ConnectTo(&nc_, url.c_str()) == NATS_OK);
    jsOptions o;
    jsOptions_Init(&o);
    o.PublishAsync.MaxPending = 4096;
    REQUIRE(natsConnection_JetStream(&js_, nc_, &o) == NATS_OK);
  }
  ~Client() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }
  natsConnection* nc() const { return nc_; }

  // replicas > 1 needs a cluster, whose JetStream may still be electing its
  // leader: tried until it takes the stream.
  void add_stream(const std::string& name, const std::string& subjects, int replicas = 1) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name.c_str();
    const char* subj[] = {subjects.c_str()};
    cfg.Subjects = subj;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    jsStreamInfo* si = nullptr;
    REQUIRE(wait_until([&] { return js_AddStream(&si, js_, &cfg, nullptr, nullptr) == NATS_OK; }, 30s, 200ms));
    jsStreamInfo_Destroy(si);
  }
  std::uint64_t stream_messages(const std::string& name) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, js_, name.c_str(), nullptr, nullptr) != NATS_OK) return 0;
    const auto n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
  }
  // (waiting to be delivered, delivered and not acknowledged)
  std::pair<std::uint64_t, std::int64_t> consumer_backlog(const std::string& stream, const std::string& consumer) {
    jsConsumerInfo* ci = nullptr;
    if (js_GetConsumerInfo(&ci, js_, stream.c_str(), consumer.c_str(), nullptr, nullptr) != NATS_OK) return {~0ull, -1};
    std::pair<std::uint64_t, std::int64_t> b{ci->NumPending, ci->NumAckPending};
    jsConsumerInfo_Destroy(ci);
    return b;
  }
  void publish_async(const std::string& subject, const std::string& body) {
    REQUIRE(js_PublishAsync(js_, subject.c_str(), body.data(), static_cast<int>(body.size()), nullptr) == NATS_OK);
  }
  void publish_complete() { REQUIRE(js_PublishAsyncComplete(js_, nullptr) == NATS_OK); }
  void publish(const std::string& subject, const std::string& body) {
    REQUIRE(natsConnection_Publish(nc_, subject.c_str(), body.data(), static_cast<int>(body.size())) == NATS_OK);
  }
  // Every body of the messages in `stream`, in order (an ephemeral consumer).
  std::vector<json> read_stream(const std::string& stream, const std::string& subject, std::size_t expect) {
    natsSubscription* sub = nullptr;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    REQUIRE(js_PullSubscribe(&sub, js_, subject.c_str(), nullptr, nullptr, &so, nullptr) == NATS_OK);
    std::vector<json> out;
    while (out.size() < expect) {
      natsMsgList list{nullptr, 0};
      if (natsSubscription_Fetch(&list, sub, 512, 2000, nullptr) != NATS_OK) break;
      for (int i = 0; i < list.Count; ++i) {
        out.push_back(json::parse(natsMsg_GetData(list.Msgs[i]), natsMsg_GetData(list.Msgs[i]) +
                                                                  natsMsg_GetDataLength(list.Msgs[i])));
        natsMsg_Ack(list.Msgs[i], nullptr);
      }
      natsMsgList_Destroy(&list);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return out;
  }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

std::string bridge_yaml(const std::string& bridge_config, const std::string& extra_manager_keys = {}) {
  return "router:\n  id: bridge-test\n  log: {level: warn}\n  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR "]\n"
         "managers:\n  - name: bridge\n    plugin: nats_bridge\n" + extra_manager_keys +
         "    config: " + bridge_config + "\n";
}

json bridge_stats() {
  auto r = Registry::get().context("driver").request("bridge.stats", json::object(), {.timeout = 10s}).get();
  REQUIRE(r.ok());
  return *r.data();
}

}  // namespace

TEST_CASE("a plain NATS client publishes to edri managers and asks them and hears edri events") {
  probe::TempDir dir;
  probe::NatsServer nats(dir.path(), "n1");
  probe::DaemonRig rig(bridge_yaml("{nats: {servers: [" + nats.url() + "]}, "
                                   "inbound: [{subject: 'edri.>'}, {subject: 'legacy.orders', type: shop.order}], "
                                   "outbound: [{type: 'shop.>'}]}"),
                       [](edrid::Router& r) {
                         r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                         r.add_manager("shop", probe::probe_descriptor(), "probe", {},
                                       json{{"notifications", {"shop.>", "ext.>"}}, {"requests", {"price.quote"}}}.dump());
                       });
  Client client(nats.url());
  REQUIRE(wait_until([&] { return bridge_stats()["nats"]["connected"] == true; }));

  // In: a subject under the prefix becomes its type; a fixed route names one.
  client.publish("edri.ext.ping", R"({"k": 1})");
  client.publish("legacy.orders", R"({"id": 7})");
  REQUIRE(Registry::get().wait_for("shop", 2));
  std::map<std::string, json> seen;
  for (const auto& s : Registry::get().seen("shop")) seen[s.type] = s.data;
  CHECK(seen["ext.ping"] == json{{"k", 1}});
  CHECK(seen["shop.order"] == json{{"id", 7}});

  // A NATS request is an edri request; the answer's data comes back as JSON.
  natsMsg* answer = nullptr;
  REQUIRE(natsConnection_RequestString(&answer, client.nc(), "edri.price.quote", R"({"sku": "a"})", 5000) == NATS_OK);
  const json body = json::parse(natsMsg_GetData(answer), natsMsg_GetData(answer) + natsMsg_GetDataLength(answer));
  const char* status = nullptr;
  natsMsgHeader_Get(answer, "Edri-Status", &status);
  natsMsg_Destroy(answer);
  CHECK(body == json{{"by", "shop"}, {"echo", {{"sku", "a"}}}});
  CHECK(std::string(status ? status : "") == "ok");
  // Nobody serves this type: the NATS client learns it, not a timeout.
  REQUIRE(natsConnection_RequestString(&answer, client.nc(), "edri.price.none", "{}", 5000) == NATS_OK);
  CHECK(json::parse(natsMsg_GetData(answer), natsMsg_GetData(answer) + natsMsg_GetDataLength(answer))["error"] ==
        "not_found");
  natsMsg_Destroy(answer);

  // Out: an edri event on its subject, with its type, id and trace.
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, client.nc(), "edri.shop.>") == NATS_OK);
  REQUIRE(natsConnection_Flush(client.nc()) == NATS_OK);
  Registry::get().context("driver").notify("shop.paid", json{{"id", 7}, {"eur", 12.5}});
  natsMsg* m = nullptr;
  REQUIRE(natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK);
  CHECK(std::string(natsMsg_GetSubject(m)) == "edri.shop.paid");
  CHECK(json::parse(natsMsg_GetData(m), natsMsg_GetData(m) + natsMsg_GetDataLength(m)) ==
        json{{"id", 7}, {"eur", 12.5}});
  const char* type = nullptr;
  const char* trace = nullptr;
  natsMsgHeader_Get(m, "Edri-Type", &type);
  natsMsgHeader_Get(m, "traceparent", &trace);
  CHECK(std::string(type ? type : "") == "shop.paid");
  CHECK_THAT(std::string(trace ? trace : ""), Catch::Matches("00-[0-9a-f]{32}-[0-9a-f]{16}-01"));
  natsMsg_Destroy(m);
  natsSubscription_Destroy(sub);

  // The bridge hears its own publishes on edri.> (shop.order, which came in
  // from legacy.orders, went out too, and shop.paid) and does not take
  // them back: shop got each once.
  const bool echoed = wait_until([&] { return bridge_stats()["inbound"][0]["own_echoes"] == 2; }, 5s);
  INFO(bridge_stats().dump());
  REQUIRE(echoed);
  std::map<std::string, int> times;
  for (const auto& s : Registry::get().seen("shop")) ++times[s.type];
  CHECK(times["shop.paid"] == 1);
  CHECK(times["shop.order"] == 1);

  // Not JSON: refused with a reason, counted, and the route goes on.
  REQUIRE(natsConnection_RequestString(&answer, client.nc(), "edri.price.quote", "{oops", 5000) == NATS_OK);
  CHECK(json::parse(natsMsg_GetData(answer), natsMsg_GetData(answer) + natsMsg_GetDataLength(answer))["error"] ==
        "bad_request");
  natsMsg_Destroy(answer);
  client.publish("edri.ext.after", "{}");
  REQUIRE(Registry::get().wait_for("shop", 4));
  CHECK(bridge_stats()["inbound"][0]["decode_errors"] == 1);
}

TEST_CASE("50000 JetStream messages reach a flaky edri handler and the failed ones go again and none is lost") {
  probe::ledger.reset();
  probe::TempDir dir;
  probe::NatsServer nats(dir.path(), "n1");
  Client client(nats.url());
  client.add_stream("IN", "in.>");
  constexpr int kTotal = 50000;
  for (int n = 0; n < kTotal; ++n) client.publish_async("in.item", json{{"n", n}}.dump());
  client.publish("in.item", "not json");  // core publish into the stream: stored, not decodable
  client.publish_complete();
  REQUIRE(wait_until([&] { return client.stream_messages("IN") == kTotal + 1; }, 30s));

  // Shipped defaults for the consumer (ack_wait, max_inflight, batch) but
  // a short nak delay, so the test does not wait a second per failure.
  probe::DaemonRig rig(bridge_yaml("{nats: {servers: [" + nats.url() + "]}, inbound: [{subject: 'in.>', "
                                   "stream: IN, consumer: edri-in, type: work.item, as: request, nak_delay_ms: 50}]}"),
                       [](edrid::Router& r) {
                         r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                         r.add_manager("flaky", edri::descriptor_of<probe::Flaky>("flaky", "1"), "flaky", {}, "{}");
                       });
  REQUIRE(wait_until([&] { return probe::ledger.done_count() == kTotal; }, 120s));
  REQUIRE(wait_until([&] { return client.consumer_backlog("IN", "edri-in") == std::pair<std::uint64_t, std::int64_t>{0, 0}; }, 30s));
  const json in = bridge_stats()["inbound"][0];
  CHECK(in["failed"] == kTotal / 50);
  CHECK(in["redelivered"] == kTotal / 50);
  CHECK(in["delivered"] == kTotal);
  CHECK(in["decode_errors"] == 1);
  CHECK(in["inflight"] == 0);
  std::lock_guard l(probe::ledger.m);
  CHECK(probe::ledger.done_twice == 0);
  CHECK(probe::ledger.attempts.at(50) == 2);
  CHECK(probe::ledger.attempts.at(51) == 1);
}

TEST_CASE("edri events go into a JetStream stream once each across a NATS server kill and restart") {
  probe::TempDir dir;
  probe::NatsServer nats(dir.path(), "n1");
  {
    Client client(nats.url());
    client.add_stream("OUT", "edri.out.>");
  }
  probe::DaemonRig rig(bridge_yaml("{nats: {servers: [" + nats.url() + "], reconnect_wait_ms: 200}, "
                                   "outbound: [{type: 'out.>', jetstream: true, timeout_ms: 1000}]}",
                                   "    delivery: at_least_once\n    max_deliveries: 1000\n"
                                   "    retry: {initial_ms: 100, max_ms: 1000}\n"),
                       [](edrid::Router& r) { r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}"); });
  constexpr int kTotal = 20000;
  std::thread producer([] {
    auto& driver = Registry::get().context("driver");
    for (int n = 0; n < kTotal; ++n) driver.notify("out.item", json{{"n", n}});
  });
  {
    // Kill the server while the bridge is busy publishing.
    Client watcher(nats.url());
    REQUIRE(wait_until([&] { return watcher.stream_messages("OUT") > kTotal / 4; }, 60s));
  }
  nats.kill();
  std::this_thread::sleep_for(1s);
  nats.start();
  producer.join();
  Client client(nats.url());
  REQUIRE(wait_until([&] { return client.stream_messages("OUT") >= kTotal; }, 120s));
  std::this_thread::sleep_for(500ms);  // a late duplicate would show here
  CHECK(client.stream_messages("OUT") == kTotal);
  const auto bodies = client.read_stream("OUT", "edri.out.>", kTotal);
  std::set<int> ns;
  for (const auto& b : bodies) ns.insert(b.at("n").get<int>());
  CHECK(ns.size() == kTotal);
  const json out = bridge_stats()["outbound"][0];
  CHECK(out["publish_errors"].get<int>() >= 1);  // the kill was felt, and retried
  CHECK(bridge_stats()["nats"]["reconnects"].get<int>() >= 1);
}

TEST_CASE("a NATS server that is not there yet is waited for and then used") {
  probe::TempDir dir;
  const auto port = probe::free_port();
  probe::DaemonRig rig(bridge_yaml("{nats: {servers: [nats://127.0.0.1:" + std::to_string(port) +
                                   "], reconnect_wait_ms: 200}, inbound: [{subject: 'edri.>'}]}"),
                       [](edrid::Router& r) {
                         r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                         r.add_manager("late", probe::probe_descriptor(), "probe", {},
                                       json{{"notifications", {"late.>"}}}.dump());
                       });
  CHECK(bridge_stats()["nats"]["connected"] == false);
  std::this_thread::sleep_for(500ms);
  probe::NatsServer nats(dir.path(), "n1", {}, port);
  REQUIRE(wait_until([&] { return bridge_stats()["nats"]["connected"] == true; }, 15s));
  Client client(nats.url());
  // Core NATS drops what is published before the bridge's subscription has
  // reached the server (sent as the connection comes up): publish until one
  // arrives.
  REQUIRE(wait_until([&] {
    client.publish("edri.late.hello", R"({"ok": true})");
    return Registry::get().wait_for("late", 1, 200ms);
  }, 15s));
  CHECK(Registry::get().seen("late").at(0).data == json{{"ok", true}});
}

TEST_CASE("wrong NATS credentials stop the manager with a clear error") {
  probe::TempDir dir;
  probe::NatsServer nats(dir.path(), "n1", "authorization { user: edri, password: right }");
  const auto yaml = dir.write("edrid.yaml", bridge_yaml("{nats: {servers: [" + nats.url() +
                                                        "], user: edri, password: wrong}, inbound: [{subject: 'x.>'}]}"));
  edrid::Daemon daemon(edrid::load_config(yaml));
  try {
    daemon.build();
    FAIL("the bridge started with a wrong password");
  } catch (const std::exception& e) {
    CHECK_THAT(e.what(), Catch::Matches(".*edrid\\.yaml:8:[0-9]+: manager 'bridge' \\(nats_bridge 1\\.0\\.0\\): cannot connect "
                                        "to \\[nats://127\\.0\\.0\\.1:[0-9]+\\]: Authentication Violation: Authorization Violation"));
  }
}

TEST_CASE("a JetStream stream on a 3-node NATS cluster reaches edri whole when the node the bridge uses is killed") {
  probe::ledger.reset();
  probe::TempDir dir;
  probe::NatsCluster cluster(dir.path());
  Client client(cluster.node(2).url());
  client.add_stream("WORK", "work.>", 3);
  constexpr int kTotal = 20000;
  for (int n = 0; n < kTotal; ++n) client.publish_async("work.item", json{{"n", n}}.dump());
  client.publish_complete();
  // The bridge knows node 1 only and learns the others from it, as libnats
  // does; shipped defaults otherwise (reconnect wait, ack wait, nak delay).
  probe::DaemonRig rig(bridge_yaml("{nats: {servers: [" + cluster.node(0).url() + "]}, inbound: [{subject: 'work.>', "
                                   "stream: WORK, consumer: edri-work, type: work.item, as: request}]}"),
                       [](edrid::Router& r) {
                         r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                         // dedupe_ms: a redelivery of a message it finished
                         // (its ack lost with the node) is skipped by the
                         // stream sequence the bridge sends as dedupe key.
                         edrid::WorkSettings work;
                         work.dedupe = 120s;
                         r.add_manager("flaky", edri::descriptor_of<probe::Flaky>("flaky", "1"), "flaky", {}, "{}", {},
                                       work);
                       });
  REQUIRE(wait_until([&] { return probe::ledger.done_count() >= kTotal / 4; }, 60s));
  cluster.node(0).kill();
  REQUIRE(wait_until([&] { return probe::ledger.done_count() == kTotal; }, 120s));
  REQUIRE(wait_until([&] { return client.consumer_backlog("WORK", "edri-work") == std::pair<std::uint64_t, std::int64_t>{0, 0}; }, 60s));
  const json stats = bridge_stats();
  INFO(stats.dump());
  CHECK(stats["nats"]["reconnects"].get<int>() >= 1);
  CHECK(stats["nats"]["server"] != cluster.node(0).url());
  CHECK(stats["inbound"][0]["redelivered"].get<int>() >= kTotal / 50);
  std::lock_guard l(probe::ledger.m);
  CHECK(probe::ledger.done_twice == 0);
}

TEST_CASE("a JetStream message that fails max_deliver times is terminated and published as edri.dead_letter") {
  probe::TempDir dir;
  probe::NatsServer nats(dir.path(), "n1");
  Client client(nats.url());
  client.add_stream("DL", "dl.>");
  for (int i = 0; i < 20; ++i) client.publish_async("dl.item", json{{"text", i == 7 ? "bad" : "ok-" + std::to_string(i)}}.dump());
  client.publish_complete();
  probe::DaemonRig rig(bridge_yaml("{nats: {servers: [" + nats.url() + "]}, inbound: [{subject: 'dl.>', stream: DL, "
                                   "consumer: edri-dl, type: dl.item, as: request, max_deliver: 3, nak_delay_ms: 20}]}"),
                       [](edrid::Router& r) {
                         r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                         r.add_manager("worker", probe::probe_descriptor(), "probe", {},
                                       json{{"requests", {"dl.item"}}, {"throw_on", "bad"}}.dump());
                         r.add_manager("dead", probe::probe_descriptor(), "probe", {},
                                       json{{"notifications", {"edri.dead_letter"}}}.dump());
                       });
  REQUIRE(Registry::get().wait_for("dead", 1, 20s));
  const json letter = Registry::get().seen("dead").at(0).data;
  CHECK(letter["reason"] == "max_deliveries");
  CHECK(letter["attempts"] == 3);
  CHECK(letter["type"] == "dl.item");
  CHECK(letter["payload"] == json{{"text", "bad"}});
  CHECK(letter["source"] == "nats:DL:8");
  CHECK_THAT(letter["error"].get<std::string>(), Catch::Contains("probe refuses 'bad'"));
  REQUIRE(wait_until([&] { return client.consumer_backlog("DL", "edri-dl") == std::pair<std::uint64_t, std::int64_t>{0, 0}; }, 20s));
  const json in = bridge_stats()["inbound"][0];
  CHECK(in["dead_letters"] == 1);
  CHECK(in["failed"] == 3);
  CHECK(in["delivered"] == 19);
  CHECK(Registry::get().seen("worker").size() == 19);
}
