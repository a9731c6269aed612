// Real plugin shared objects loaded by an in-process daemon: refusal of bad
// plugins, config checked against plugin schemas, and the zero-copy path.
#include "app/daemon.hpp"
#include "support/router_fixture.hpp"
#include "support/temp_file.hpp"

#include <catch2/catch.hpp>

#include "../docs/examples/counter/counter_events.hpp"
#include "../docs/examples/counter/counter_table.hpp"

using edri::json;
using namespace std::chrono_literals;

namespace {

std::string config_with(const std::string& managers, const std::string& extra_router = "") {
  return "router:\n  id: plugin-test\n  log: {level: warn}\n  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR
         ", " EDRI_TEST_FIXTURE_DIR "]\n" +
         extra_router + "managers:\n" + managers;
}

std::vector<std::string> build_problems(const std::filesystem::path& file) {
  try {
    edrid::Daemon d(edrid::load_config(file));
    d.build();
  } catch (const edrid::ConfigErrors& e) {
    return e.problems();
  }
  return {};
}

// Loads a config with `managers` and returns its only problem.
std::string only_problem(const std::string& managers) {
  probe::TempDir dir;
  auto problems = build_problems(dir.write("edrid.yaml", config_with(managers)));
  REQUIRE(problems.size() == 1);
  return problems[0];
}

json manager_stats(edrid::Router& r, const std::string& name) {
  json j;
  r.stats_json(j);
  for (auto& m : j["managers"]) {
    if (m["name"] == name) return m;
  }
  return nullptr;
}

bool wait_handled(edrid::Router& r, const std::string& name, std::uint64_t n) {
  for (int i = 0; i < 1000; ++i) {
    if (manager_stats(r, name)["handled"].get<std::uint64_t>() >= n) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

TEST_CASE("a plugin built for another ABI major is refused, naming both versions") {
  probe::TempDir dir;
  auto file = dir.write("abi.yaml", config_with("  - name: old\n    plugin: bad_abi\n"));
  auto problems = build_problems(file);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::StartsWith(file.string() + ":7:13: manager 'old': "));
  CHECK_THAT(problems[0], Catch::Contains("libedri_bad_abi.so: plugin 'bad_abi' was built for ABI 99.3 "
                                          "but this edrid speaks ABI 1." +
                                          std::to_string(EDRI_ABI_MINOR)));
}

TEST_CASE("a shared object without the entry symbol is refused") {
  CHECK_THAT(only_problem("  - name: x\n    plugin: no_entry\n"), Catch::Contains("libedri_no_entry.so: no entry symbol 'edri_plugin_entry'"));
}

TEST_CASE("a missing plugin names where it was looked for") {
  CHECK_THAT(only_problem("  - name: x\n    plugin: nonexistent\n"), Catch::Contains("plugin 'nonexistent' not found in plugin_dirs ("));
}

TEST_CASE("a constructor that throws fails the load with its message") {
  CHECK_THAT(only_problem("  - name: boom\n    plugin: throwing_ctor\n"), Catch::Contains("manager 'boom' (throwing_ctor 1.0.0): cannot open the device"));
}

TEST_CASE("plugin config is checked against the plugin's schema at file:line:col") {
  probe::TempDir dir;
  auto file = dir.write("cfg.yaml", config_with(R"(  - name: p
    plugin: ping
    config:
      intervall_ms: 10
      count: lots
  - name: q
    plugin: ping
    config:
      interval_ms: 0
)"));
  auto problems = build_problems(file);
  REQUIRE(problems.size() == 3);
  CHECK_THAT(problems[0], Catch::StartsWith(file.string() + ":9:7: unknown key 'intervall_ms' in config of manager 'p' "
                                            "(plugin 'ping' accepts: interval_ms, count, timeout_ms)"));
  CHECK_THAT(problems[1], Catch::StartsWith(file.string() + ":10:14: p.config.count must be an integer, got 'lots'"));
  // A value the schema accepts but the manager refuses points at its key.
  CHECK_THAT(problems[2], Catch::StartsWith(file.string() + ":14:7: manager 'q' (ping 1.0.0): interval_ms must be at least 1"));
}

TEST_CASE("two plugins built from the same event header share objects without serialising") {
  probe::TempDir dir;
  auto file = dir.write("zero.yaml", config_with(R"(  - name: pinger
    plugin: ping
    config: {interval_ms: 1, count: 200}
  - name: ponger
    plugin: pong
)"));
  edrid::Daemon d(edrid::load_config(file));
  d.build();
  d.start();
  REQUIRE(wait_handled(d.router(), "ponger", 200));
  std::this_thread::sleep_for(50ms);
  json st;
  d.router().stats_json(st);
  CHECK(st["events"]["requests"] == 200);
  CHECK(st["events"]["responses"] == 200);
  CHECK(st["events"]["timeouts"] == 0);
  CHECK(st["events"]["encoded"] == 0);
  d.stop();
}

TEST_CASE("a receiver with another declaration of the type gets the encoding instead") {
  probe::TempDir dir;
  auto file = dir.write("mismatch.yaml", config_with(R"(  - name: pinger
    plugin: ping
    config: {interval_ms: 1, count: 50}
  - name: ponger
    plugin: pong_v2
)"));
  edrid::Daemon d(edrid::load_config(file));
  d.build();
  d.start();
  REQUIRE(wait_handled(d.router(), "ponger", 50));
  std::this_thread::sleep_for(50ms);
  json st;
  d.router().stats_json(st);
  CHECK(st["events"]["responses"] == 50);
  CHECK(manager_stats(d.router(), "ponger")["errors"] == 0);
  // Each ping was encoded once for pong_v2; the Pong answers match the
  // pinger's declaration and come back without encoding.
  CHECK(st["events"]["encoded"] == 50);
  d.stop();
}

TEST_CASE("the plugin guide's counter manager works as the guide says") {
  probe::TempDir dir;
  auto file = dir.write("counter.yaml", config_with(R"(  - name: counter
    plugin: counter
    config: {max_keys: 2}
)"));
  edrid::Daemon d(edrid::load_config(file));
  d.build();
  probe::Registry::get().reset();
  d.router().add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  d.start();
  auto& driver = probe::Registry::get().context("driver");
  CHECK(driver.notify(counter::Hit{"apples", 2}) == 1);
  driver.notify(counter::Hit{"apples", 3});
  driver.notify(counter::Hit{"pears"});
  driver.notify(counter::Hit{"plums"});  // over max_keys: the handler fails, is counted
  auto r = driver.request(counter::Get{"apples"}).get();
  REQUIRE(r.ok());
  CHECK(r.data()->value == 5);
  CHECK(driver.request(counter::Get{"pears"}).get().data()->value == 1);
  CHECK(driver.request(counter::Get{"plums"}).get().data()->value == 0);
  auto bad = driver.request(counter::Get{""}).get();
  CHECK(bad.status() == edri::Status::error);
  CHECK(bad.message() == "key must not be empty");
  auto st = manager_stats(d.router(), "counter");
  CHECK(st["errors"] == 1);
  CHECK_THAT(st["last_errors"][0].get<std::string>(), Catch::Contains("counter limit of 2 keys reached"));
  d.stop();
}

TEST_CASE("the counter's business logic stands alone") {
  counter::CounterTable t(2);
  CHECK(t.add("a", 2) == 2);
  CHECK(t.add("a", -5) == -3);
  CHECK(t.add("b", 1) == 1);
  CHECK_THROWS_AS(t.add("c", 1), std::length_error);
  CHECK(t.get("a") == -3);
  CHECK_FALSE(t.get("c"));
}
