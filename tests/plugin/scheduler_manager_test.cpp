// The scheduler manager through a real router: jobs from config and at run
// time, counts in a window (with tolerance; no exact times), early wake-up,
// and requests that are never stacked.
#include "app/daemon.hpp"
#include "support/router_fixture.hpp"
#include "support/daemon_rig.hpp"
#include "support/temp_file.hpp"

#include <catch2/catch.hpp>

using edri::json;
using probe::Registry;
using namespace std::chrono_literals;

namespace {

struct SchedulerRig : probe::DaemonRig {
  explicit SchedulerRig(const std::string& scheduler_config, json slow = json::object())
      : DaemonRig(("router:\n  id: sched-test\n  log: {level: warn}\n"
                   "  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR "]\nmanagers:\n"
                   "  - name: sched\n    plugin: scheduler\n    config: " + scheduler_config + "\n"),
                  [&slow](edrid::Router& r) {
                    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                    r.add_manager("ticks", probe::probe_descriptor(), "probe", {},
                                  json{{"notifications", {"tick.>"}}}.dump());
                    slow["requests"] = {"work.slow"};
                    r.add_manager("slow", probe::probe_descriptor(), "probe", {}, slow.dump());
                  }) {}

  edri::Response<json> ask(const std::string& type, const json& data) {
    return Registry::get().context("driver").request(type, data, {.timeout = 10s}).get();
  }
  std::size_t count(const std::string& manager, const std::string& type) {
    std::size_t n = 0;
    for (auto& s : Registry::get().seen(manager)) n += s.type == type;
    return n;
  }
};

}  // namespace

TEST_CASE("an interval job from the config fires about N times in a window") {
  SchedulerRig rig(R"({min_interval_ms: 10, jobs: [{name: beat, every_ms: 50, event: tick.beat, data: {n: 1}}]})");
  std::this_thread::sleep_for(1000ms);
  const auto n = rig.count("ticks", "tick.beat");
  CHECK(n >= 15);  // 20 expected; the tolerance covers a loaded machine
  CHECK(n <= 21);
  CHECK(Registry::get().seen("ticks").at(0).data == json{{"n", 1}});
}

TEST_CASE("jobs are added, listed, refused and cancelled at run time") {
  SchedulerRig rig("{min_interval_ms: 10}");
  auto added = rig.ask("scheduler.add", {{"name", "rt"}, {"every_ms", 40}, {"event", "tick.rt"}, {"priority", 7}});
  REQUIRE(added.ok());
  CHECK((*added.data())["name"] == "rt");
  CHECK((*added.data())["next_run"].is_string());
  CHECK((*added.data())["priority"] == 7);
  REQUIRE(Registry::get().wait_for("ticks", 3));
  CHECK(Registry::get().seen("ticks").front().priority == 7);  // what the job sends carries it
  CHECK(rig.ask("scheduler.add", {{"every_ms", 50}, {"event", "x"}, {"priority", "high"}}).message() ==
        "'priority' must be an integer from -1000000 to 1000000 (lower is sooner)");

  auto generated = rig.ask("scheduler.add", {{"cron", "0 0 1 1 *"}, {"event", "tick.yearly"}});
  REQUIRE(generated.ok());
  CHECK((*generated.data())["name"] == "job-1");
  CHECK(rig.ask("scheduler.add", {{"name", "rt"}, {"every_ms", 5}, {"event", "x"}}).message() ==
        "a job named 'rt' exists already");
  CHECK(rig.ask("scheduler.update", {{"name", "ghost"}, {"every_ms", 5}, {"event", "x"}}).message() ==
        "no job named 'ghost'");
  CHECK(rig.ask("scheduler.add", {{"every_ms", 5}}).status() == edri::Status::error);

  auto list = rig.ask("scheduler.list", json::object());
  const auto& jobs = (*list.data())["jobs"];
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0]["name"] == "job-1");
  CHECK(jobs[0]["cron"] == "0 0 1 1 *");
  CHECK_THAT(jobs[0]["next_run"].get<std::string>(), Catch::Matches(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z)"));
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(jobs[0]["next_run_ms"].get<std::int64_t>() > now_ms);
  CHECK(jobs[1]["name"] == "rt");
  CHECK(jobs[1]["runs"].get<int>() >= 3);

  CHECK(*rig.ask("scheduler.cancel", {{"name", "rt"}}).data() == json{{"name", "rt"}, {"cancelled", true}});
  std::this_thread::sleep_for(100ms);
  const auto after_cancel = rig.count("ticks", "tick.rt");
  std::this_thread::sleep_for(300ms);
  CHECK(rig.count("ticks", "tick.rt") == after_cancel);
}

TEST_CASE("the scheduler wakes early when a nearer job is added") {
  // The only configured job is far away; the timer sleeps until then.
  SchedulerRig rig(R"({timezone: utc, jobs: [{name: later, cron: "0 0 1 1 *", event: tick.later}]})");
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(rig.ask("scheduler.add", {{"name", "soon"}, {"every_ms", 100}, {"event", "tick.soon"}}).ok());
  REQUIRE(Registry::get().wait_for("ticks", 1, 5s));
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  rig.ask("scheduler.update", {{"name", "soon"}, {"every_ms", 60000}, {"event", "tick.soon"}});
}

TEST_CASE("a request job whose previous run awaits its response is skipped, not stacked") {
  SchedulerRig rig(R"({min_interval_ms: 10, jobs: [{name: poll, every_ms: 50, event: work.slow, kind: request}]})", {{"sleep_ms", 300}});
  std::this_thread::sleep_for(1000ms);
  const auto handled = Registry::get().seen("slow").size();
  CHECK(handled >= 2);
  CHECK(handled <= 5);  // one at a time: about 1000 / 300 (+1 for a late window); stacked would be ~20
  auto list = rig.ask("scheduler.list", json::object());
  const auto& job = (*list.data())["jobs"][0];
  CHECK(job["skipped"].get<int>() >= 5);
  CHECK(job["last_status"] == "ok");
}

TEST_CASE("run-time jobs are capped in number and in how often they run (shipped limits)") {
  SchedulerRig rig("{}");
  auto fast = rig.ask("scheduler.add", {{"name", "spin"}, {"every_ms", 1}, {"event", "tick.spin"}});
  CHECK(fast.status() == edri::Status::error);
  CHECK(fast.message() == "every_ms 1 is below min_interval_ms 100");
  REQUIRE(rig.ask("scheduler.add", {{"name", "ok"}, {"every_ms", 100}, {"event", "tick.ok"}}).ok());
  CHECK(rig.ask("scheduler.update", {{"name", "ok"}, {"every_ms", 99}, {"event", "tick.ok"}}).message() ==
        "every_ms 99 is below min_interval_ms 100");
  for (int i = 1; i < 1000; ++i) {
    REQUIRE(rig.ask("scheduler.add", {{"cron", "0 0 1 1 *"}, {"event", "tick.yearly"}}).ok());
  }
  auto full = rig.ask("scheduler.add", {{"cron", "0 0 1 1 *"}, {"event", "tick.yearly"}});
  CHECK(full.message() == "the scheduler holds max_jobs 1000 jobs already");
  CHECK(rig.ask("scheduler.cancel", {{"name", "ok"}}).ok());
  CHECK(rig.ask("scheduler.add", {{"cron", "0 0 1 1 *"}, {"event", "tick.yearly"}}).ok());
}

TEST_CASE("a bad job in the config is reported at the jobs key") {
  probe::TempDir dir;
  auto file = dir.write("edrid.yaml", "router:\n  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR "]\nmanagers:\n"
                                      "  - name: sched\n    plugin: scheduler\n    config:\n      jobs:\n"
                                      "        - {name: x, cron: '61 * * * *', event: a.b}\n");
  try {
    edrid::Daemon d(edrid::load_config(file));
    d.build();
    FAIL("a bad cron expression was accepted");
  } catch (const edrid::ConfigErrors& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK_THAT(e.problems()[0], Catch::Contains(":7:7: manager 'sched' (scheduler 1.0.0): jobs[0]: minute field '61': out of range 0-59"));
  }
}
