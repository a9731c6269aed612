// The Redis Streams bridge against a real redis-server: a stream read
// through a consumer group feeds a flaky edri handler, edri events are
// appended to a stream across a Redis kill, and bad entries and wrong
// credentials are refused clearly.
#include "app/daemon.hpp"
#include "bridge/flaky_worker.hpp"
#include "support/daemon_rig.hpp"
#include "support/redis_server.hpp"
#include "support/router_fixture.hpp"
#include "support/wait_until.hpp"

#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>

#include <set>

using edri::json;
using probe::Registry;
using probe::wait_until;
using namespace std::chrono_literals;

namespace {

// The test's own Redis client (hiredis, as a C user has it).
class Client {
 public:
  explicit Client(unsigned short port) : c_(redisConnect("127.0.0.1", port)) { REQUIRE((c_ && !c_->err)); }
  ~Client() { redisFree(c_); }

  // Appends without waiting for each answer, then reads them all.
  void xadd_many(const std::string& key, int count) {
    for (int n = 0; n < count; ++n) {
      const std::string body = json{{"n", n}}.dump();
      redisAppendCommand(c_, "XADD %s * data %b", key.c_str(), body.data(), body.size());
    }
    for (int n = 0; n < count; ++n) {
      void* r = nullptr;
      REQUIRE(redisGetReply(c_, &r) == REDIS_OK);
      freeReplyObject(r);
    }
  }
  void xadd(const std::string& key, const std::string& field, const std::string& value) {
    freeReplyObject(redisCommand(c_, "XADD %s * %s %b", key.c_str(), field.c_str(), value.data(), value.size()));
  }
  long long integer(const char* fmt, const std::string& a, const std::string& b = {}) {
    auto* r = static_cast<redisReply*>(redisCommand(c_, fmt, a.c_str(), b.c_str()));
    REQUIRE(r);
    const long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
  }
  // Pending entries of a group (XPENDING's summary count).
  long long pending(const std::string& key, const std::string& group) {
    auto* r = static_cast<redisReply*>(redisCommand(c_, "XPENDING %s %s", key.c_str(), group.c_str()));
    REQUIRE(r);
    const long long v = r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0]->integer : -1;
    freeReplyObject(r);
    return v;
  }
  // The `data` of every entry of a stream, in order.
  std::vector<json> read_all(const std::string& key) {
    std::vector<json> out;
    auto* r = static_cast<redisReply*>(redisCommand(c_, "XRANGE %s - +", key.c_str()));
    REQUIRE(r);
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* kv = r->element[i]->element[1];
      for (std::size_t f = 0; f + 1 < kv->elements; f += 2) {
        if (std::string(kv->element[f]->str) == "data") out.push_back(json::parse(kv->element[f + 1]->str));
      }
    }
    freeReplyObject(r);
    return out;
  }

 private:
  redisContext* c_;
};

std::string redis_yaml(unsigned short port, const std::string& rest, const std::string& extra_manager_keys = {}) {
  return "router:\n  id: redis-test\n  log: {level: warn}\n  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR "]\n"
         "managers:\n  - name: redis\n    plugin: redis_bridge\n" + extra_manager_keys +
         "    config: {redis: {port: " + std::to_string(port) + ", reconnect_wait_ms: 200}, " + rest + "}\n";
}

json redis_stats() {
  auto r = Registry::get().context("driver").request("redis.stats", json::object(), {.timeout = 10s}).get();
  REQUIRE(r.ok());
  return *r.data();
}

}  // namespace

TEST_CASE("50000 Redis stream entries reach a flaky edri handler through a consumer group and none is lost") {
  probe::ledger.reset();
  probe::TempDir dir;
  probe::RedisServer redis(dir.path());
  Client client(redis.port());
  constexpr int kTotal = 50000;
  client.xadd_many("in", kTotal);
  client.xadd("in", "data", "{not json");
  client.xadd("in", "payload", "{}");  // no `data` field
  probe::DaemonRig rig(redis_yaml(redis.port(), "inbound: [{stream: in, type: work.item, as: request, retry_delay_ms: 50}]"),
                       [](edrid::Router& r) {
                         r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                         r.add_manager("flaky", edri::descriptor_of<probe::Flaky>("flaky", "1"), "flaky", {}, "{}");
                       });
  REQUIRE(wait_until([&] { return probe::ledger.done_count() == kTotal; }, 120s));
  REQUIRE(wait_until([&] { return client.pending("in", "edri") == 0; }, 30s));
  const json in = redis_stats()["inbound"][0];
  CHECK(in["failed"] == kTotal / 50);
  CHECK(in["redelivered"] == kTotal / 50);
  CHECK(in["delivered"] == kTotal);
  CHECK(in["decode_errors"] == 2);
  CHECK(in["inflight"] == 0);
  std::lock_guard l(probe::ledger.m);
  CHECK(probe::ledger.done_twice == 0);
  CHECK(probe::ledger.attempts.at(100) == 2);
  CHECK(probe::ledger.attempts.at(101) == 1);
}

TEST_CASE("edri events are appended to a Redis stream across a Redis kill and restart and none is lost") {
  probe::TempDir dir;
  probe::RedisServer redis(dir.path());
  probe::DaemonRig rig(redis_yaml(redis.port(), "outbound: [{type: 'out.>', stream: out}], "
                                                "inbound: [{stream: out, type: echo.back}]",
                                  "    delivery: at_least_once\n    max_deliveries: 1000\n"
                                  "    retry: {initial_ms: 100, max_ms: 1000}\n"),
                       [](edrid::Router& r) {
                         r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                         r.add_manager("echoes", probe::probe_descriptor(), "probe", {},
                                       json{{"notifications", {"echo.back"}}}.dump());
                       });
  constexpr int kTotal = 20000;
  std::thread producer([] {
    auto& driver = Registry::get().context("driver");
    for (int n = 0; n < kTotal; ++n) driver.notify("out.item", json{{"n", n}});
  });
  {
    Client watcher(redis.port());
    REQUIRE(wait_until([&] { return watcher.integer("XLEN %s", "out") > kTotal / 4; }, 60s));
  }
  redis.kill();
  std::this_thread::sleep_for(1s);
  redis.start();
  producer.join();
  Client client(redis.port());
  REQUIRE(wait_until([&] { return client.integer("XLEN %s", "out") >= kTotal; }, 120s));
  std::this_thread::sleep_for(500ms);
  const auto bodies = client.read_all("out");
  std::set<int> ns;
  for (const auto& b : bodies) ns.insert(b.at("n").get<int>());
  INFO(bodies.size() << " entries for " << ns.size() << " events");
  CHECK(ns.size() == kTotal);
  // An append Redis made but whose answer the kill swallowed goes again:
  // at least once, so a handful of entries may be there twice.
  CHECK(bodies.size() - ns.size() <= 5);
  const json stats = redis_stats();
  CHECK(stats["outbound"][0]["publish_errors"].get<int>() >= 1);
  // The bridge reads the stream it writes and takes none of its own entries back.
  REQUIRE(wait_until([&] { return redis_stats()["inbound"][0]["own_echoes"].get<std::size_t>() >= bodies.size(); }, 30s));
  CHECK(Registry::get().seen("echoes").empty());
}

TEST_CASE("a wrong Redis password stops the manager with a clear error") {
  probe::TempDir dir;
  probe::RedisServer redis(dir.path(), {"--requirepass", "right"});
  const auto yaml = dir.write("edrid.yaml", "router:\n  id: redis-test\n  log: {level: warn}\n  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR "]\n"
                                            "managers:\n  - name: redis\n    plugin: redis_bridge\n"
                                            "    config:\n      redis: {port: " + std::to_string(redis.port()) +
                                            ", password: wrong}\n      outbound: [{type: x}]\n");
  edrid::Daemon daemon(edrid::load_config(yaml));
  try {
    daemon.build();
    FAIL("the bridge started with a wrong password");
  } catch (const std::exception& e) {
    CHECK_THAT(e.what(), Catch::Matches(".*edrid\\.yaml:9:[0-9]+: manager 'redis' \\(redis_bridge 1\\.0\\.0\\): redis "
                                        "127\\.0\\.0\\.1:[0-9]+: WRONGPASS.*"));
  }
}

TEST_CASE("a Redis server that is not there yet is waited for and its stream is then read") {
  probe::TempDir dir;
  const auto port = probe::free_port();
  probe::DaemonRig rig(redis_yaml(port, "inbound: [{stream: late, type: late.entry}]"),
                       [](edrid::Router& r) {
                         r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                         r.add_manager("late", probe::probe_descriptor(), "probe", {},
                                       json{{"notifications", {"late.entry"}}}.dump());
                       });
  std::this_thread::sleep_for(500ms);
  CHECK(redis_stats()["inbound"][0]["received"] == 0);
  probe::RedisServer redis(dir.path(), {}, port);
  Client client(redis.port());
  client.xadd("late", "data", R"({"ok": true})");
  REQUIRE(Registry::get().wait_for("late", 1, 15s));
  CHECK(Registry::get().seen("late").at(0).data == json{{"ok", true}});
}

TEST_CASE("a Redis entry that fails max_deliver times is acknowledged and published as edri.dead_letter") {
  probe::TempDir dir;
  probe::RedisServer redis(dir.path());
  Client client(redis.port());
  for (int i = 0; i < 10; ++i) client.xadd("dl", "data", json{{"text", i == 4 ? "bad" : "ok"}}.dump());
  probe::DaemonRig rig(redis_yaml(redis.port(), "inbound: [{stream: dl, type: dl.item, as: request, max_deliver: 3, "
                                                "retry_delay_ms: 20}]"),
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
  CHECK(letter["payload"] == json{{"text", "bad"}});
  CHECK_THAT(letter["source"].get<std::string>(), Catch::StartsWith("redis:dl:"));
  REQUIRE(wait_until([&] { return client.pending("dl", "edri") == 0; }, 10s));
  const json in = redis_stats()["inbound"][0];
  CHECK(in["dead_letters"] == 1);
  CHECK(in["failed"] == 3);
  CHECK(in["delivered"] == 9);
}
