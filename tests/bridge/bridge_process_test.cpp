// The bridges in a real edrid, killed with SIGKILL while they move a
// JetStream stream or a Redis stream into a durable edri queue: what the
// stream holds is all handled in the end, because a bridge acknowledges a
// message only once the durable queue has it on disk, and what was not
// acknowledged is delivered again (by JetStream after ack_wait; by the
// Redis bridge from its consumer's pending list at the next start).
// Shipped defaults throughout (ack_wait, reconnect, sync).
#include "support/child_process.hpp"
#include "support/nats_server.hpp"
#include "support/redis_server.hpp"
#include "support/temp_file.hpp"
#include "support/wait_until.hpp"

#include <hiredis/hiredis.h>
#include <nats/nats.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <fstream>
#include <random>
#include <set>

using namespace std::chrono_literals;

namespace {

std::set<std::uint64_t> handled(const probe::TempDir& dir, std::uint64_t* lines) {
  std::ifstream in(dir.path() / "handled");
  std::set<std::uint64_t> all;
  std::string line;
  *lines = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line == "run") continue;
    ++*lines;
    all.insert(std::stoull(line));
  }
  return all;
}

// Starts edrid from `yaml` three times, killing the first two with SIGKILL
// after some thousands were handled; the last run must handle all `total`.
void kill_twice_then_finish(const probe::TempDir& dir, const std::filesystem::path& yaml, std::size_t total) {
  std::mt19937 rng(std::random_device{}());
  std::uint64_t lines = 0;
  for (int kill = 0; kill < 2; ++kill) {
    probe::ChildProcess edrid({EDRID_BIN, "-c", yaml.string()}, dir.path() / ("run" + std::to_string(kill) + ".log"));
    const std::size_t at = static_cast<std::size_t>(kill + 1) * 5000 + rng() % 2000;
    REQUIRE(probe::wait_until([&] { return handled(dir, &lines).size() >= at; }, 60s, 20ms));
    edrid.signal(SIGKILL);
    CHECK(edrid.wait_exit(10s) == 128 + SIGKILL);
  }
  probe::ChildProcess edrid({EDRID_BIN, "-c", yaml.string()}, dir.path() / "last.log");
  const bool all = probe::wait_until([&] { return handled(dir, &lines).size() >= total; }, 120s, 50ms);
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(30s) == 0);
  const auto got = handled(dir, &lines);
  INFO("handled " << got.size() << " distinct in " << lines << " lines; logs in " << dir.path().string());
  CHECK(all);
  CHECK(got.size() == total);
  CHECK((!got.empty() && *got.begin() == 1 && *got.rbegin() == total));
}

std::string worker_yaml(const probe::TempDir& dir) {
  const auto p = dir.path().string();
  return "router:\n  log: {level: info}\n  state_dir: " + p + "/state\n"
         "  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR ", " EDRI_TEST_FIXTURE_DIR "]\n"
         "managers:\n"
         "  - name: worker\n    plugin: durable_probe\n"
         "    queue: {durable: true, capacity: 100000}\n"
         "    config: {role: worker, file: " + p + "/handled, delay_us: 200}\n";
}

}  // namespace

TEST_CASE("a Redis stream bridged into a durable queue is all handled across two SIGKILLs of edrid") {
  probe::TempDir dir;
  probe::RedisServer redis(dir.path());
  constexpr int kTotal = 20000;
  redisContext* c = redisConnect("127.0.0.1", redis.port());
  REQUIRE((c && !c->err));
  for (int n = 1; n <= kTotal; ++n) redisAppendCommand(c, "XADD jobs * data {\"n\":%d}", n);
  for (int n = 1; n <= kTotal; ++n) {
    void* r = nullptr;
    REQUIRE(redisGetReply(c, &r) == REDIS_OK);
    freeReplyObject(r);
  }
  const auto yaml = dir.write("edrid.yaml", worker_yaml(dir) +
                                                "  - name: bridge\n    plugin: redis_bridge\n"
                                                "    config: {redis: {port: " + std::to_string(redis.port()) +
                                                "}, inbound: [{stream: jobs, type: durable.job}]}\n");
  kill_twice_then_finish(dir, yaml, kTotal);
  // Nothing is left pending in the group.
  auto* r = static_cast<redisReply*>(redisCommand(c, "XPENDING jobs edri"));
  REQUIRE(r);
  CHECK(r->element[0]->integer == 0);
  freeReplyObject(r);
  redisFree(c);
}

TEST_CASE("a stream bridged into a durable queue is all handled across two SIGKILLs of edrid") {
  probe::TempDir dir;
  probe::NatsServer nats(dir.path(), "n1");
  constexpr int kTotal = 20000;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, nats.url().c_str()) == NATS_OK);
  REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "JOBS";
  const char* subjects[] = {"jobs.>"};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  REQUIRE(js_AddStream(nullptr, js, &cfg, nullptr, nullptr) == NATS_OK);
  for (int n = 1; n <= kTotal; ++n) {
    const std::string body = "{\"n\": " + std::to_string(n) + "}";
    REQUIRE(js_PublishAsync(js, "jobs.new", body.data(), static_cast<int>(body.size()), nullptr) == NATS_OK);
  }
  REQUIRE(js_PublishAsyncComplete(js, nullptr) == NATS_OK);

  const auto yaml = dir.write("edrid.yaml", worker_yaml(dir) +
                                                "  - name: bridge\n    plugin: nats_bridge\n"
                                                "    config: {nats: {servers: [" + nats.url() + "]}, "
                                                "inbound: [{subject: 'jobs.>', stream: JOBS, consumer: edri-jobs, "
                                                "type: durable.job}]}\n");
  kill_twice_then_finish(dir, yaml, kTotal);
  // Nothing is left unacknowledged in the stream's consumer.
  jsConsumerInfo* ci = nullptr;
  REQUIRE(js_GetConsumerInfo(&ci, js, "JOBS", "edri-jobs", nullptr, nullptr) == NATS_OK);
  CHECK(ci->NumPending == 0);
  CHECK(ci->NumAckPending == 0);
  jsConsumerInfo_Destroy(ci);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

TEST_CASE("the example config/bridges.yaml answers a NATS request and a Redis stream entry") {
  probe::TempDir dir;
  probe::NatsServer nats(dir.path(), "n1");
  probe::RedisServer redis(dir.path());
  ::setenv("EDRI_NATS_URL", nats.url().c_str(), 1);
  ::setenv("EDRI_REDIS_PORT", std::to_string(redis.port()).c_str(), 1);
  probe::ChildProcess edrid({EDRID_BIN, "-c", EDRI_SOURCE_DIR "/config/bridges.yaml"}, dir.path() / "edrid.log");
  ::unsetenv("EDRI_NATS_URL");
  ::unsetenv("EDRI_REDIS_PORT");
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, nats.url().c_str()) == NATS_OK);
  // Ask until the bridge subscribed (edrid is starting).
  auto ask = [&](const char* subject, const std::string& body) {
    nlohmann::json answer;
    probe::wait_until([&] {
      natsMsg* m = nullptr;
      if (natsConnection_RequestString(&m, nc, subject, body.c_str(), 1000) != NATS_OK) return false;
      answer = nlohmann::json::parse(natsMsg_GetData(m), natsMsg_GetData(m) + natsMsg_GetDataLength(m));
      natsMsg_Destroy(m);
      return true;
    }, 20s, 100ms);
    return answer;
  };
  CHECK(ask("edri.demo.echo", R"({"text": "hi"})") == nlohmann::json{{"text", "hi"}});

  redisContext* c = redisConnect("127.0.0.1", redis.port());
  REQUIRE((c && !c->err));
  freeReplyObject(redisCommand(c, "XADD demo.echo * data {\"text\":\"from-redis\"}"));
  CHECK(probe::wait_until([&] { return ask("edri.redis.stats", "{}")["inbound"][0]["delivered"] == 1; }, 20s, 100ms));
  // Acknowledged (XACKs go in batches, within a pass of the intake's loop).
  CHECK(probe::wait_until([&] {
    auto* pending = static_cast<redisReply*>(redisCommand(c, "XPENDING demo.echo edri"));
    const bool none = pending && pending->element[0]->integer == 0;
    freeReplyObject(pending);
    return none;
  }, 10s, 50ms));
  redisFree(c);
  natsConnection_Destroy(nc);
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(30s) == 0);
}
