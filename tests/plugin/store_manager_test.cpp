// The store manager through a real router: the event contract, context echo,
// change notifications, ttl expiry, several stores, and atomic increments
// from many requesters at once.
#include "app/daemon.hpp"
#include "support/router_fixture.hpp"
#include "support/daemon_rig.hpp"
#include "support/temp_file.hpp"

#include <catch2/catch.hpp>

#include <thread>

using edri::json;
using probe::Registry;
using namespace std::chrono_literals;

namespace {

struct StoreRig : probe::DaemonRig {
  explicit StoreRig(const std::string& managers)
      : DaemonRig(("router:\n  id: store-test\n  log: {level: warn}\n"
                   "  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR "]\nmanagers:\n" + managers),
                  [](edrid::Router& r) {
                    for (const char* d : {"driver", "driver2"}) {
                      r.add_manager(d, probe::probe_descriptor(), "probe", {}, "{}");
                    }
                    r.add_manager("watcher", probe::probe_descriptor(), "probe", {},
                                  json{{"notifications", {"store.changed", "cache.changed"}}}.dump());
                  }) {}

  edri::Response<json> ask(const std::string& type, const json& data, const std::string& from = "driver") {
    return Registry::get().context(from).request(type, data, {.timeout = 10s}).get();
  }
};

const char* kMemoryStore = "  - name: kv\n    plugin: store\n    config: {sweep_ms: 50}\n";

}  // namespace

TEST_CASE("store events answer as the contract says and echo the context") {
  StoreRig rig(kMemoryStore);
  const json ctx = {{"request", 17}, {"from", "test"}};
  auto set = rig.ask("store.set", {{"key", "a.1"}, {"value", {{"x", 1}}}, {"context", ctx}});
  REQUIRE(set.ok());
  CHECK(*set.data() == json{{"key", "a.1"}, {"context", ctx}});

  auto get = rig.ask("store.get", {{"key", "a.1"}, {"context", ctx}});
  CHECK(*get.data() == json{{"key", "a.1"}, {"value", {{"x", 1}}}, {"found", true}, {"context", ctx}});
  auto miss = rig.ask("store.get", {{"key", "nope"}});
  CHECK(*miss.data() == json{{"key", "nope"}, {"value", nullptr}, {"found", false}});

  CHECK(*rig.ask("store.incr", {{"key", "n"}}).data() == json{{"key", "n"}, {"value", 1}});
  CHECK(*rig.ask("store.incr", {{"key", "n"}, {"by", 41}, {"context", "c"}}).data() ==
        json{{"key", "n"}, {"value", 42}, {"context", "c"}});

  rig.ask("store.set", {{"key", "a.2"}, {"value", "two"}});
  auto list = rig.ask("store.list", {{"prefix", "a."}});
  CHECK((*list.data())["items"] == json::array({{{"key", "a.1"}, {"value", {{"x", 1}}}}, {{"key", "a.2"}, {"value", "two"}}}));

  CHECK(*rig.ask("store.delete", {{"key", "a.1"}}).data() == json{{"key", "a.1"}, {"deleted", true}});
  CHECK_FALSE((*rig.ask("store.get", {{"key", "a.1"}}).data())["found"].get<bool>());

  // Every change was announced, in order.
  REQUIRE(Registry::get().wait_for("watcher", 5));
  std::vector<json> changes;
  for (auto& s : Registry::get().seen("watcher")) changes.push_back(s.data);
  CHECK(changes == std::vector<json>{{{"key", "a.1"}, {"op", "set"}},
                                     {{"key", "n"}, {"op", "incr"}},
                                     {{"key", "n"}, {"op", "incr"}},
                                     {{"key", "a.2"}, {"op", "set"}},
                                     {{"key", "a.1"}, {"op", "delete"}}});
}

TEST_CASE("bad store input gets an error with a clear message and changes nothing") {
  StoreRig rig("  - name: kv\n    plugin: store\n    config: {max_value_bytes: 64}\n");
  rig.ask("store.set", {{"key", "word"}, {"value", "hello"}});
  auto expect_error = [&](const std::string& type, const json& data, const std::string& message) {
    auto r = rig.ask(type, data);
    CHECK(r.status() == edri::Status::error);
    CHECK_THAT(r.message(), Catch::StartsWith(message));
  };
  expect_error("store.get", json::object(), "missing 'key' (a string)");
  expect_error("store.set", {{"key", 5}, {"value", 1}}, "missing 'key' (a string)");
  expect_error("store.set", {{"key", "k"}}, "missing 'value'");
  expect_error("store.set", {{"key", "k"}, {"value", std::string(100, 'x')}},
               "value of 102 bytes exceeds max_value_bytes 64");
  expect_error("store.set", {{"key", "k"}, {"value", 1}, {"ttl_ms", "soon"}}, "'ttl_ms' must be an integer");
  expect_error("store.incr", {{"key", "word"}}, "value of 'word' is not an integer (it is string)");
  expect_error("store.incr", {{"key", "n"}, {"by", 1.5}}, "'by' must be an integer from -2^63 to 2^63-1");
  // 2^64-1 would wrap to -1.
  expect_error("store.incr", {{"key", "n"}, {"by", ~std::uint64_t{0}}}, "'by' must be an integer from -2^63 to 2^63-1");
  expect_error("store.set", {{"key", "k"}, {"value", 1}, {"ttl_ms", INT64_MAX}}, "ttl_ms must be at most");
  expect_error("store.list", {{"prefix", 3}}, "'prefix' must be a string");
  CHECK(*rig.ask("store.get", {{"key", "word"}}).data() == json{{"key", "word"}, {"value", "hello"}, {"found", true}});
  CHECK_FALSE((*rig.ask("store.get", {{"key", "k"}}).data())["found"].get<bool>());
  json st;
  rig.daemon->router().stats_json(st);
  CHECK(st["managers"][0]["errors"] == 0);  // refused input is not a handler failure
}

TEST_CASE("values with a ttl expire and their expiry is announced") {
  StoreRig rig(kMemoryStore);
  rig.ask("store.set", {{"key", "session"}, {"value", "abc"}, {"ttl_ms", 150}});
  rig.ask("store.set", {{"key", "keep"}, {"value", 1}});
  CHECK((*rig.ask("store.get", {{"key", "session"}}).data())["found"] == true);
  REQUIRE(Registry::get().wait_for("watcher", 3, 5s));  // 2 sets + 1 expiry
  CHECK(Registry::get().seen("watcher")[2].data == json{{"key", "session"}, {"op", "expired"}});
  CHECK((*rig.ask("store.get", {{"key", "session"}}).data())["found"] == false);
  CHECK((*rig.ask("store.get", {{"key", "keep"}}).data())["found"] == true);
}

TEST_CASE("several stores with their own names, prefixes and paths run side by side") {
  probe::TempDir data;
  StoreRig rig("  - name: main-store\n    plugin: store\n    config: {path: " + (data.path() / "a").string() +
               "}\n  - name: cache\n    plugin: store\n    config: {events: cache, path: " +
               (data.path() / "b").string() + "}\n");
  rig.ask("store.set", {{"key", "k"}, {"value", "main"}});
  rig.ask("cache.set", {{"key", "k"}, {"value", "cached"}});
  CHECK((*rig.ask("store.get", {{"key", "k"}}).data())["value"] == "main");
  CHECK((*rig.ask("cache.get", {{"key", "k"}}).data())["value"] == "cached");
  CHECK(std::filesystem::exists(data.path() / "a" / "data.mdb"));
  CHECK(std::filesystem::exists(data.path() / "b" / "data.mdb"));
}

TEST_CASE("10 000 concurrent increments from two managers end at exactly 10 000") {
  probe::TempDir data;
  StoreRig rig("  - name: kv\n    plugin: store\n    config: {path: " + (data.path() / "db").string() + "}\n");
  auto hammer = [&](const std::string& from) {
    std::vector<std::future<edri::Response<json>>> window;
    int failed = 0;
    for (int i = 0; i < 5000; ++i) {
      window.push_back(Registry::get().context(from).request("store.incr", {{"key", "hits"}}, {.timeout = 30s}));
      if (window.size() == 256) {
        for (auto& f : window) failed += !f.get().ok();
        window.clear();
      }
    }
    for (auto& f : window) failed += !f.get().ok();
    return failed;
  };
  int failed_a = 0, failed_b = 0;
  std::thread a([&] { failed_a = hammer("driver"); });
  std::thread b([&] { failed_b = hammer("driver2"); });
  a.join();
  b.join();
  CHECK(failed_a + failed_b == 0);
  CHECK(*rig.ask("store.get", {{"key", "hits"}}).data() == json{{"key", "hits"}, {"value", 10000}, {"found", true}});
}

TEST_CASE("a store path that cannot be used is a config error at its key") {
  probe::TempDir dir;
  auto file = dir.write("edrid.yaml", "managers:\n  - name: kv\n    plugin: store\n    config: {path: /proc/no/such}\n");
  try {
    auto cfg = edrid::load_config(file);
    cfg.plugin_dirs.push_back(EDRI_TEST_PLUGIN_DIR);
    edrid::Daemon d(cfg);
    d.build();
    FAIL("an unusable path was accepted");
  } catch (const edrid::ConfigErrors& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK_THAT(e.problems()[0], Catch::Contains(":4:14: manager 'kv' (store 1.0.0): store path /proc/no/such"));
  }
}
