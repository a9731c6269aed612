// Plugins built on every ABI minor version's SDK (tests/fixtures/abi) in one
// router: each sends typed notifications and requests to the others and
// answers theirs, in the router process and from worker processes.
#include "plugin/plugin_library.hpp"
#include "support/daemon_rig.hpp"
#include "support/router_fixture.hpp"

#include <catch2/catch.hpp>

#include <thread>

using edri::json;
using probe::Registry;
using namespace std::chrono_literals;

namespace {

constexpr int kCount = 40;
const std::vector<std::string> kPeers{"v1_0", "v1_1", "v1_2", "v1_3", "v1_4", "now"};

std::string peers_config(const std::string& old_executor) {
  std::string yaml =
      "router:\n  id: abi-test\n  log: {level: warn}\n"
      "  plugin_dirs: [" EDRI_TEST_FIXTURE_DIR "]\nmanagers:\n";
  for (const auto& p : kPeers) {
    yaml += "  - name: peer_" + p + "\n    plugin: abi_peer_" + (p == "now" ? p : p.substr(1)) +
            "\n    config: {count: " + std::to_string(kCount) + "}\n";
    if (p != "now") yaml += "    executor: " + old_executor + "\n";
  }
  return yaml;
}

json report(edri::Context& driver, const std::string& peer) {
  auto r = driver.request("abi.report." + peer, json::object(), {.timeout = 5s}).get();
  REQUIRE(r.ok());
  return *r.data();
}

// What a peer should have seen once every other peer has run.
json expected_report() {
  json per_peer = json::object();
  for (const auto& p : kPeers) per_peer[p] = kCount;
  return json{{"notes", per_peer},
              {"replies", per_peer},
              {"served", kCount * (kPeers.size() - 1)},
              {"failures", json::array()}};
}

void check_all_peers(const std::string& old_executor) {
  probe::DaemonRig rig(peers_config(old_executor), [](edrid::Router& r) {
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& driver = Registry::get().context("driver");
  REQUIRE(driver.notify("abi.go", json::object()) == kPeers.size());
  for (const auto& p : kPeers) {
    json want = expected_report();
    want["notes"].erase(p);
    want["replies"].erase(p);
    json got;
    for (int i = 0; i < 500; ++i) {
      got = report(driver, p);
      if (got == want || !got["failures"].empty()) break;
      std::this_thread::sleep_for(10ms);
    }
    INFO("peer " << p << " (others' executor: " << old_executor << ")");
    CHECK(got.dump(1) == want.dump(1));
  }
  json st;
  rig.daemon->router().stats_json(st);
  for (const auto& m : st["managers"]) {
    INFO(m["name"]);
    CHECK(m["errors"] == 0);
  }
}

}  // namespace

TEST_CASE("plugins built on ABI 1.0 to 1.4 and today's SDK exchange typed events both ways") {
  check_all_peers("{type: inline}");
}

TEST_CASE("plugins built on ABI 1.0, 1.1, 1.2, 1.3 and 1.4 work from worker processes too") {
  // One worker: each worker process has its own instance, and the report
  // must come from the one that did the work.
  check_all_peers("{type: process, workers: 1}");
}

TEST_CASE("each frozen SDK's plugin declares the ABI minor version it was built with") {
  for (const auto& [file, minor] : std::vector<std::pair<std::string, int>>{
           {"libedri_abi_peer_1_0.so", 0}, {"libedri_abi_peer_1_1.so", 1}, {"libedri_abi_peer_1_2.so", 2},
           {"libedri_abi_peer_1_3.so", 3}, {"libedri_abi_peer_1_4.so", 4},
           {"libedri_abi_peer_now.so", EDRI_ABI_MINOR}}) {
    auto lib = edrid::PluginLibrary::load(std::filesystem::path(EDRI_TEST_FIXTURE_DIR) / file);
    INFO(file);
    CHECK(lib->descriptor()->abi_minor == minor);
  }
}

namespace {
int encode_nothing(const void*, std::uint32_t, void (*)(void*, const std::uint8_t*, std::size_t), void*,
                   edri_error*) {
  return EDRI_OK;
}
void destroy_nothing(void*) {}
}  // namespace

TEST_CASE("type ops as short as ABI 1.0's are served, and shorter ones are refused, not misread") {
  probe::RouterFixture f;
  auto& rt = f.router->add_manager("m", probe::probe_descriptor(), "probe", {}, "{}");
  const edri_host_api& host = *f.router->host_api();
  edri_type_ops ops{sizeof(edri_type_ops), "abi.x", 1, 8, 8, &encode_nothing, &destroy_nothing, 0};
  void* object = nullptr;
  for (std::uint32_t size : {56u, 60u, 64u, 200u}) {
    INFO("struct_size " << size);
    ops.struct_size = size;
    edri_event* ev = host.event_alloc(rt.host_ctx(), &ops, &object);
    REQUIRE(ev);
    host.event_discard(ev);
  }
  for (std::uint32_t size : {0u, 8u, 55u}) {
    INFO("struct_size " << size);
    ops.struct_size = size;
    CHECK(host.event_alloc(rt.host_ctx(), &ops, &object) == nullptr);
  }
  CHECK(rt.plugin_host().abi_misuse_logged);
}
