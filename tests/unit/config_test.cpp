// The config loader reports every problem as file:line:col: message.
#include "config/daemon_config.hpp"
#include "support/temp_file.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

using edrid::ConfigErrors;
using edrid::load_config;

namespace {
std::vector<std::string> problems_of(const std::filesystem::path& p) {
  try {
    load_config(p);
  } catch (const ConfigErrors& e) {
    return e.problems();
  }
  return {};
}
}  // namespace

TEST_CASE("a good config loads with its values and defaults") {
  probe::TempDir dir;
  ::setenv("EDRI_TEST_ROUTER", "alpha-1", 1);
  auto p = dir.write("edrid.yaml", R"(router:
  id: ${EDRI_TEST_ROUTER}
  log: {level: debug, format: json}
  plugin_dirs: [plugins, /abs/dir]
  request_timeout_ms: 1500
managers:
  - name: a
    plugin: ping
    queue: {type: priority, capacity: 10, when_full: drop_oldest}
    executor: {type: process, workers: 3, ordering: concurrent, timeout_ms: 250}
    config: {interval_ms: 5}
  - name: b
    plugin: ./lib/x.so
)");
  auto c = load_config(p);
  CHECK(c.router.id == "alpha-1");
  CHECK(c.log.level == "debug");
  CHECK(c.log.format == "json");
  REQUIRE(c.plugin_dirs.size() == 2);
  CHECK(c.plugin_dirs[0] == dir.path() / "plugins");
  CHECK(c.plugin_dirs[1] == "/abs/dir");
  CHECK(c.router.request_timeout == std::chrono::milliseconds(1500));
  REQUIRE(c.managers.size() == 2);
  CHECK(c.managers[0].queue.order == edrid::QueueOrder::priority);
  CHECK(c.managers[0].queue.capacity == 10);
  CHECK(c.managers[0].queue.when_full == edrid::WhenFull::drop_oldest);
  CHECK(c.managers[0].config["interval_ms"].as<int>() == 5);
  CHECK(c.managers[0].executor.kind == edrid::ExecutorKind::process);
  CHECK(c.managers[0].executor.workers == 3);
  CHECK(c.managers[0].executor.ordering == edrid::Ordering::concurrent);
  CHECK(c.managers[0].executor.timeout == std::chrono::milliseconds(250));
  CHECK(c.managers[0].executor.slots() == 3);
  CHECK(c.managers[1].executor.kind == edrid::ExecutorKind::inline_call);
  CHECK(c.managers[1].executor.slots() == 1);
  CHECK(c.managers[1].queue.order == edrid::QueueOrder::fifo);
  CHECK(c.managers[1].queue.capacity == 1024);
  CHECK(c.managers[1].queue.when_full == edrid::WhenFull::block);
}

TEST_CASE("unknown keys are reported at their line and column") {
  probe::TempDir dir;
  auto p = dir.write("bad.yaml", R"(router:
  id: r1
  colour: blue
managers:
  - name: a
    plugin: ping
    qeueu: {}
)");
  auto problems = problems_of(p);
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0], Catch::StartsWith(p.string() + ":3:3: unknown key 'colour' in router"));
  CHECK_THAT(problems[1], Catch::StartsWith(p.string() + ":7:5: unknown key 'qeueu' in manager"));
}

TEST_CASE("wrong types and values are reported at the value") {
  probe::TempDir dir;
  auto p = dir.write("types.yaml", R"(router:
  request_timeout_ms: soon
  log: {level: loud}
managers:
  - name: a
    plugin: ping
    queue: {capacity: 0, when_full: explode, type: [fifo]}
  - name: a
    plugin: pong
  - plugin: echo
)");
  auto problems = problems_of(p);
  auto has = [&](const std::string& needle) {
    for (auto& s : problems) {
      if (s.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(has(":2:23: router.request_timeout_ms must be an integer, got 'soon'"));
  CHECK(has(":3:16: router.log.level must be one of"));
  CHECK(has(":7:23: queue.capacity must be between 1 and"));
  CHECK(has(":7:37: queue.when_full must be one of block, reject, drop_oldest"));
  CHECK(has(":7:52: queue.type must be a string"));
  CHECK(has(":8:11: manager name 'a' is used twice"));
  CHECK(has(":10:5: manager is missing 'name'"));
}

TEST_CASE("an unset environment variable is an error at its position") {
  probe::TempDir dir;
  ::unsetenv("EDRI_TEST_NOPE");
  auto p = dir.write("env.yaml", "router:\n  id: ${EDRI_TEST_NOPE}\nmanagers: []\n");
  auto problems = problems_of(p);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::StartsWith(p.string() + ":2:7: router.id: environment variable 'EDRI_TEST_NOPE' is not set"));
}

TEST_CASE("YAML syntax errors and bad executors are reported") {
  probe::TempDir dir;
  auto syntax = dir.write("syntax.yaml", "managers:\n  - name: [unclosed\n");
  auto problems = problems_of(syntax);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::StartsWith(syntax.string() + ":"));

  auto exec = dir.write("exec.yaml",
                        "managers:\n  - name: a\n    plugin: p\n    executor: {type: fiber}\n"
                        "  - name: b\n    plugin: p\n    executor: {type: thread, timeout_ms: 50}\n");
  problems = problems_of(exec);
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0], Catch::Contains(":4:22: executor.type must be one of inline, thread, process, got 'fiber'"));
  CHECK_THAT(problems[1], Catch::Contains(":7:42: executor.timeout_ms needs executor.type process"));

  problems = problems_of(dir.path() / "missing.yaml");
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("cannot open"));
}

TEST_CASE("switch and connector sections are read and checked") {
  probe::TempDir dir;
  dir.write("cluster.key", "s3cret\n");
  auto sw = dir.write("switch.yaml",
                      "switch:\n  listen: \"0.0.0.0:7401\"\n  secret_file: cluster.key\n  settle_ms: 50\n  coalesce_us: 0\n"
                      "  replay: {max_bytes: 1048576, max_age_ms: 5000, window_bytes: 65536}\n");
  const auto s = edrid::load_config(sw);  // a switch needs no managers
  REQUIRE(s.switch_settings);
  CHECK(s.switch_settings->host == "0.0.0.0");
  CHECK(s.switch_settings->port == 7401);
  CHECK(s.switch_settings->link.secret == "s3cret");
  CHECK(s.switch_settings->link.replay.max_bytes == 1048576);
  CHECK(s.switch_settings->link.replay.max_age == std::chrono::milliseconds(5000));
  CHECK(s.switch_settings->link.replay.window_bytes == 65536);
  CHECK(s.switch_settings->settle == std::chrono::milliseconds(50));
  CHECK(s.switch_settings->link.coalesce == std::chrono::microseconds(0));

  auto bad = dir.write("bad.yaml",
                       "switch: {listen: \"nowhere\", secret_file: missing.key}\n"
                       "connector:\n  switch: \"127.0.0.1:7400\"\n  share: [\"a.>.b\"]\n"
                       "  reconnect: {min_ms: 500, max_ms: 100}\n"
                       "managers: []\n");
  auto problems = problems_of(bad);
  REQUIRE(problems.size() == 5);
  CHECK_THAT(problems[0], Catch::Contains(":1:18: switch.listen must be host:port"));
  CHECK_THAT(problems[1], Catch::Contains(":1:42: cannot read secret file"));
  CHECK_THAT(problems[2], Catch::Contains(":5:14: connector.reconnect.max_ms must not be below min_ms"));
  CHECK_THAT(problems[3], Catch::Contains(":4:11: connector.share: bad pattern 'a.>.b'"));
  CHECK_THAT(problems[4], Catch::Contains(":3:3: an edrid is either a switch or a router with a connector"));

  auto loads = dir.write("loads.yaml", "connector:\n  switch: \"h:1\"\n  load_report_ms: 50\nmanagers: []\n");
  CHECK(edrid::load_config(loads).connector->load_report == std::chrono::milliseconds(50));
  CHECK(edrid::load_config(dir.write("d.yaml", "connector: {switch: \"h:1\"}\nmanagers: []\n")).connector->load_report ==
        std::chrono::milliseconds(20));
  problems = problems_of(dir.write("slow.yaml", "connector:\n  switch: \"h:1\"\n  load_report_ms: 60000\nmanagers: []\n"));
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains(":3:19: connector.load_report_ms must be at most 10000"));

  auto unknown = dir.write("unknown.yaml", "connector:\n  switch: \"h:1\"\n  colour: blue\nmanagers: []\n");
  problems = problems_of(unknown);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains(":3:3: unknown key 'colour' in connector"));
}

TEST_CASE("queue.priorities are read in order, and a bad pattern, value or queue type is named at file:line:col") {
  probe::TempDir dir;
  auto good = dir.write("prio.yaml",
                        "managers:\n  - name: a\n    plugin: p\n"
                        "    queue: {type: priority, priorities: {\"alert.>\": -10, \"report.*\": 10}}\n");
  const auto c = edrid::load_config(good);
  const auto& ps = c.managers[0].queue.priorities;
  REQUIRE(ps.size() == 2);
  CHECK(ps[0].pattern.text() == "alert.>");
  CHECK(ps[0].priority == -10);
  CHECK(ps[1].pattern.text() == "report.*");
  CHECK(ps[1].priority == 10);
  auto bad = dir.write("bad.yaml",
                       "managers:\n  - name: a\n    plugin: p\n"
                       "    queue: {type: priority, priorities: {\"a.>.b\": 1, \"c\": lots}}\n"
                       "  - name: b\n    plugin: p\n"
                       "    queue: {priorities: {\"x\": 1}}\n");
  auto problems = problems_of(bad);
  REQUIRE(problems.size() == 3);
  CHECK_THAT(problems[0], Catch::Contains(":4:42: queue.priorities: bad pattern 'a.>.b'"));
  CHECK_THAT(problems[1], Catch::Contains(":4:59: queue.priorities.c must be an integer"));
  CHECK_THAT(problems[2], Catch::Contains(":7:25: queue.priorities needs queue.type priority"));
}

TEST_CASE("filters: read per type pattern in order, and a filter that does not compile is named at file:line:col") {
  probe::TempDir dir;
  auto good = dir.write("filters.yaml",
                        "managers:\n  - name: a\n    plugin: p\n"
                        "    filters:\n"
                        "      order.placed: {amount: {gte: 100}, country: [FR, DE]}\n"
                        "      \"order.>\":\n"
                        "        $not: {customer.tier: test}\n");
  const auto c = edrid::load_config(good);
  const auto& fs = c.managers[0].work.filters;
  REQUIRE(fs.size() == 2);
  CHECK(fs[0].pattern.text() == "order.placed");
  CHECK(fs[0].filter->text() == R"({"amount":{"gte":100},"country":["FR","DE"]})");
  CHECK(fs[1].pattern.text() == "order.>");
  CHECK(fs[1].filter->text() == R"({"$not":{"customer.tier":"test"}})");
  auto bad = dir.write("bad.yaml",
                       "managers:\n  - name: a\n    plugin: p\n"
                       "    filters:\n"
                       "      order.placed:\n"
                       "        amount: {above: 100}\n"
                       "      order.paid: {country: {one_of: [FR, {x: 1}]}}\n"
                       "      \"a.>.b\": {x: 1}\n"
                       "      note.*: {text: {regex: \"(open\"}}\n"
                       "  - name: b\n    plugin: p\n"
                       "    filters: [x]\n");
  auto problems = problems_of(bad);
  REQUIRE(problems.size() == 5);
  CHECK_THAT(problems[0], Catch::Contains(":6:18: filters.order.placed: unknown filter operator 'above'"));
  CHECK_THAT(problems[1], Catch::Contains(":7:43: filters.order.paid: one_of takes strings, numbers"));
  CHECK_THAT(problems[2], Catch::Contains(":8:7: filters: bad pattern 'a.>.b'"));
  CHECK_THAT(problems[3], Catch::Contains(":9:23: filters.note.*: regex '(open' does not compile"));
  CHECK_THAT(problems[4], Catch::Contains(":12:14: filters must be a map of type pattern to filter"));
}

TEST_CASE("delivery per type: the first matching pattern decides, the rest is at most once") {
  probe::TempDir dir;
  auto good = dir.write("per_type.yaml",
                        "managers:\n  - name: a\n    plugin: p\n"
                        "    delivery: {\"orders.>\": at_least_once, \"orders.audit\": at_most_once}\n"
                        "    max_deliveries: 3\n");
  const auto c = edrid::load_config(good);
  const auto& w = c.managers[0].work;
  CHECK(w.at_least_once("orders.new"));
  CHECK(w.at_least_once("orders.audit"));  // the first match wins
  CHECK_FALSE(w.at_least_once("billing.run"));
  CHECK(w.any_at_least_once());
  CHECK(w.delivery_name() == "per type");
  auto bad = dir.write("bad.yaml", "managers:\n  - name: a\n    plugin: p\n"
                                   "    delivery: {\"a.>.b\": at_least_once, \"c\": sometimes}\n");
  auto problems = problems_of(bad);
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0], Catch::Contains(":4:16: delivery: bad pattern 'a.>.b'"));
  CHECK_THAT(problems[1], Catch::Contains(":4:45: delivery.c must be one of at_most_once, at_least_once"));
}

TEST_CASE("group, delivery, max_deliveries and retry are read, and bad values named at file:line:col") {
  probe::TempDir dir;
  auto good = dir.write("work.yaml",
                        "managers:\n"
                        "  - name: a\n    plugin: p\n    group: resizers\n    delivery: at_least_once\n"
                        "    max_deliveries: 7\n    retry: {initial_ms: 50, max_ms: 2000, multiplier: 1.5}\n"
                        "    dedupe_ms: 120000\n"
                        "  - name: b\n    plugin: p\n");
  const auto c = edrid::load_config(good);
  const auto& w = c.managers[0].work;
  CHECK(w.group == "resizers");
  CHECK(w.any_at_least_once());
  CHECK(w.max_deliveries == 7);
  CHECK(w.dedupe == std::chrono::milliseconds(120000));
  CHECK(w.retry.initial == std::chrono::milliseconds(50));
  CHECK(w.retry.max == std::chrono::milliseconds(2000));
  CHECK(w.retry.multiplier == 1.5);
  CHECK(w.backoff(2) == std::chrono::milliseconds(50));
  CHECK(w.backoff(3) == std::chrono::milliseconds(75));
  CHECK(w.backoff(30) == std::chrono::milliseconds(2000));
  // The shipped defaults.
  const auto& d = c.managers[1].work;
  CHECK(d.group.empty());
  CHECK_FALSE(d.any_at_least_once());
  CHECK(d.max_deliveries == 5);
  CHECK(d.dedupe.count() == 0);
  CHECK(d.backoff(2) == std::chrono::milliseconds(100));
  CHECK(d.backoff(3) == std::chrono::milliseconds(200));

  auto bad = dir.write("bad.yaml",
                       "managers:\n"
                       "  - name: a\n    plugin: p\n    group: 'two words'\n    delivery: exactly_once\n"
                       "  - name: b\n    plugin: p\n    max_deliveries: 3\n"
                       "  - name: c\n    plugin: p\n    delivery: at_least_once\n    max_deliveries: 0\n"
                       "    retry: {initial_ms: 500, max_ms: 100, multiplier: 0.5}\n"
                       "  - name: d\n    plugin: p\n    delivery: at_least_once\n    retry: {jitter: 1}\n");
  const auto problems = problems_of(bad);
  auto has = [&](const std::string& text) {
    return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) {
      return p.find(text) != std::string::npos;
    });
  };
  for (const auto& p : problems) UNSCOPED_INFO(p);
  CHECK(has("bad.yaml:4:12: group name 'two words' must be 1-64 characters of [A-Za-z0-9_-]"));
  CHECK(has("bad.yaml:5:15: delivery must be one of at_most_once, at_least_once, got 'exactly_once'"));
  CHECK(has("bad.yaml:8:21: max_deliveries needs delivery: at_least_once"));
  CHECK(has("bad.yaml:12:21: max_deliveries must be between 1 and 1000, got 0"));
  CHECK(has("bad.yaml:13:55: retry.multiplier must be between 1 and 100, got 0.5"));
  CHECK(has("bad.yaml:13:12: retry.max_ms must not be below retry.initial_ms"));
  CHECK(has("bad.yaml:17:13: unknown key 'jitter' in retry"));
}

TEST_CASE("queue.durable: its keys are read, the queue lives under state_dir/queues/<manager>, and a bad key is "
          "named at file:line:col") {
  probe::TempDir dir;
  auto good = dir.write("durable.yaml",
                        "router: {state_dir: state}\n"
                        "managers:\n  - name: a\n    plugin: p\n"
                        "    queue: {durable: true, sync: batch, batch_ms: 25, max_bytes: 2097152}\n"
                        "  - name: b\n    plugin: p\n    queue: {durable: true}\n"
                        "  - name: c\n    plugin: p\n");
  const auto c = edrid::load_config(good);
  const auto& a = c.managers[0].queue.durable;
  CHECK(a.enabled);
  CHECK(a.sync == edrid::SyncPolicy::batch);
  CHECK(a.batch == std::chrono::milliseconds(25));
  CHECK(a.max_bytes == 2097152);
  CHECK(a.dir == dir.path() / "state" / "queues" / "a");
  const auto& b = c.managers[1].queue.durable;
  CHECK(b.enabled);
  CHECK(b.sync == edrid::SyncPolicy::always);  // the default: on disk before the sender hears
  CHECK_FALSE(c.managers[2].queue.durable.enabled);
  auto bad = dir.write("bad.yaml",
                       "managers:\n  - name: a\n    plugin: p\n"
                       "    queue: {sync: os}\n"
                       "  - name: b\n    plugin: p\n"
                       "    queue: {durable: yes please, sync: sometimes, batch_ms: 0, max_bytes: 10}\n");
  auto problems = problems_of(bad);
  const std::vector<std::string> expected = {
      ":4:19: queue.sync needs queue.durable: true",
      ":7:22: queue.durable must be true or false, got 'yes please'",
      ":7:40: queue.sync needs queue.durable: true",
      ":7:61: queue.batch_ms needs queue.durable: true",
      ":7:75: queue.max_bytes needs queue.durable: true",
      ":7:40: queue.sync must be one of always, batch, os, got 'sometimes'",
      ":7:61: queue.batch_ms needs queue.sync: batch",
      ":7:61: queue.batch_ms must be between 1 and 10000, got 0",
      ":7:75: queue.max_bytes must be between 1048576 and 17592186044416, got 10"};
  REQUIRE(problems.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK_THAT(problems[i], Catch::EndsWith(expected[i]));
}
