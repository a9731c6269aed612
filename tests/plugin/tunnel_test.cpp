// Tunnels between real plugin instances under every executor: ordered data
// with a matching checksum, credit-based flow control measured against the
// window, refusal with its reason, crashing workers on either side, idle
// timeouts and counters.
#include "support/daemon_rig.hpp"
#include "support/router_fixture.hpp"

#include <catch2/catch.hpp>

using edri::json;
using probe::Registry;
using namespace std::chrono_literals;

namespace {

struct TunnelRig : probe::DaemonRig {
  TunnelRig(const std::string& source_exec, const std::string& sink_exec, const std::string& sink_extra = "",
            const std::string& source_extra = "", const std::string& router_extra = "")
      : DaemonRig("router:\n  id: tunnel-test\n  log: {level: warn}\n"
                  "  plugin_dirs: [" EDRI_TEST_FIXTURE_DIR "]\n" + router_extra +
                      "managers:\n"
                      "  - name: source\n    plugin: tunnel_probe\n    executor: " + source_exec + "\n"
                      "    config: {role: source" + source_extra + "}\n"
                      "  - name: sink\n    plugin: tunnel_probe\n    executor: " + sink_exec + "\n"
                      "    config: {role: sink" + sink_extra + "}\n",
                  [](edrid::Router& r) { r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}"); }) {}

  edri::Context& driver() { return Registry::get().context("driver"); }
  edri::Response<json> ask(const std::string& type, json data = json::object(), std::chrono::milliseconds t = 60s) {
    return driver().request(type, data, {.timeout = t}).get();
  }
  json stream(std::uint64_t bytes, std::uint64_t chunk = 65536, json extra = json::object()) {
    json req = {{"bytes", bytes}, {"chunk", chunk}};
    req.update(extra);
    auto r = ask("source.stream", req, 120s);
    INFO(r.message());
    REQUIRE(r.data());
    return *r.data();
  }
  json report() {
    auto r = ask("sink.report");
    REQUIRE(r.ok());
    return *r.data();
  }
  json wait_done() {
    json rep;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      rep = report();
      if (rep["done"] == true) break;
      std::this_thread::sleep_for(20ms);
    }
    return rep;
  }
  json tunnel_stats() {
    json j;
    daemon->router().stats_json(j);
    return j["tunnels"];
  }
};

const char* kInline = "{type: inline}";
const char* kThread = "{type: thread, workers: 2, ordering: concurrent}";
const char* kProcess = "{type: process, workers: 1}";

}  // namespace

TEST_CASE("256 MiB stream from a process worker to a thread worker arrive in order with a matching checksum") {
  TunnelRig rig(kProcess, kThread);
  constexpr std::uint64_t kBytes = 256ull << 20;
  const json sent = rig.stream(kBytes);
  REQUIRE(sent["ok"] == true);
  CHECK(sent["sent"] == kBytes);
  const json got = rig.wait_done();
  CHECK(got["done"] == true);
  CHECK(got["status"] == "ok");
  CHECK(got["bytes"] == kBytes);
  CHECK(got["messages"] == kBytes / 65536);
  CHECK(got["checksum"] == sent["checksum"]);
  CHECK(got["from"] == "source");
  const json st = rig.tunnel_stats();
  CHECK(st["accepted"] == 1);
  CHECK(st["bytes"].get<std::uint64_t>() == kBytes);
  CHECK(st["messages"].get<std::uint64_t>() == kBytes / 65536);
  CHECK(st["max_in_flight"].get<std::uint64_t>() <= st["window"].get<std::uint64_t>());
}

TEST_CASE("tunnels work between inline handlers and thread and process workers in every pairing") {
  const char* kinds[] = {kInline, kThread, kProcess};
  for (const char* source : kinds) {
    for (const char* sink : kinds) {
      INFO("source " << source << ", sink " << sink);
      TunnelRig rig(source, sink);
      const json sent = rig.stream(3 << 20, 10000);  // chunks that do not divide the window
      REQUIRE(sent["ok"] == true);
      const json got = rig.wait_done();
      CHECK(got["status"] == "ok");
      CHECK(got["bytes"] == 3 << 20);
      CHECK(got["checksum"] == sent["checksum"]);
    }
  }
}

TEST_CASE("a slow receiver keeps the sender's bytes in flight within the window") {
  // 64 KiB window, 16 KiB messages, a receiver that takes 2 ms for each.
  TunnelRig rig(kThread, kThread, ", delay_ms: 2", "", "  tunnels: {window_bytes: 65536}\n");
  const json sent = rig.stream(4 << 20, 16384);
  REQUIRE(sent["ok"] == true);
  const json got = rig.wait_done();
  CHECK(got["checksum"] == sent["checksum"]);
  const json st = rig.tunnel_stats();
  CHECK(st["window"] == 65536);
  const auto peak = st["max_in_flight"].get<std::uint64_t>();
  INFO("peak bytes in flight: " << peak);
  // The sender ran ahead until the window was full, and never past it.
  CHECK(peak <= 65536);
  CHECK(peak >= 49152);
}

TEST_CASE("a refusal reaches the opener with its reason and an unknown type is not found") {
  TunnelRig rig(kThread, kThread, ", refuse: 'busy until noon'");
  json r = rig.stream(1000);
  CHECK(r["ok"] == false);
  CHECK(r["status"] == "rejected");
  CHECK(r["reason"] == "busy until noon");
  r = rig.stream(1000, 100, {{"type", "nobody.serves.this"}});
  CHECK(r["ok"] == false);
  CHECK(r["status"] == "not_found");
  CHECK_THAT(r["reason"].get<std::string>(), Catch::Contains("no manager serves tunnel 'nobody.serves.this'"));
  CHECK(rig.tunnel_stats()["refused"] == 1);
}

TEST_CASE("a sending worker that crashes gives the receiver an error and not a hang") {
  TunnelRig rig(kProcess, kThread, "", ", crash_after: 1048576");
  auto r = rig.ask("source.stream", {{"bytes", 64 << 20}, {"chunk", 65536}}, 60s);
  CHECK(r.status() == edri::Status::error);
  CHECK_THAT(r.message(), Catch::Contains("signal 6"));
  const json got = rig.wait_done();
  CHECK(got["done"] == true);
  CHECK(got["status"] == "error");
  CHECK_THAT(got["reason"].get<std::string>(), Catch::Contains("worker killed by signal 6"));
  CHECK(got["bytes"].get<std::uint64_t>() >= 1048576 - 65536);
  CHECK(rig.tunnel_stats()["open"] == 0);
}

TEST_CASE("a receiving worker that crashes makes the sender's send fail with the cause") {
  TunnelRig rig(kThread, kProcess, ", crash_after: 1048576");
  const json r = rig.stream(64 << 20);
  CHECK(r["ok"] == false);
  CHECK_THAT(r["error"].get<std::string>(), Catch::Contains("worker killed by signal 6"));
  CHECK(r["sent"].get<std::uint64_t>() < (64u << 20));
  // The sender hears of the crash from the tunnel itself; the worker's
  // watcher takes the tunnel out of the table a moment later, after it has
  // reaped the worker.
  for (int i = 0; i < 500 && rig.tunnel_stats()["open"] != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(rig.tunnel_stats()["open"] == 0);
  CHECK(rig.tunnel_stats()["ended_with_error"].get<int>() >= 1);
}

TEST_CASE("an idle tunnel is closed with an error on both sides") {
  TunnelRig rig(kThread, kThread, "", "",
                "  liveness: {interval_ms: 50}\n  tunnels: {idle_timeout_ms: 200}\n");
  const json sent = rig.stream(1000, 1000, {{"hold", true}});
  REQUIRE(sent["ok"] == true);
  const json got = rig.wait_done();
  CHECK(got["done"] == true);
  CHECK(got["status"] == "error");
  CHECK_THAT(got["reason"].get<std::string>(), Catch::Contains("idle for over 200 ms"));
  CHECK(got["bytes"] == 1000);
}
