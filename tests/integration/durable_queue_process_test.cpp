// Durable manager queues with the real edrid: work a durable queue took is
// handled after kill -9 and after a clean stop, and a queue file that does
// not read back stops edrid with the file's name instead of dropping work.
#include "support/child_process.hpp"
#include "support/temp_file.hpp"
#include "support/wait_until.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <string>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;

namespace {
const std::string kEdrid = EDRID_BIN;
const std::string kEdrictl = EDRICTL_BIN;

std::string durable_config(const probe::TempDir& dir, std::uint64_t count, int delay_us,
                           const std::string& queue_extra = "") {
  const auto p = dir.path().string();
  return "router:\n  log: {level: info}\n  state_dir: " + p + "/state\n  plugin_dirs: [" EDRI_TEST_FIXTURE_DIR
         "]\nmanagers:\n"
         "  - name: producer\n    plugin: durable_probe\n"
         "    config: {role: producer, file: " + p + "/accepted, count: " + std::to_string(count) + ", batch: 200}\n"
         "  - name: worker\n    plugin: durable_probe\n"
         "    queue: {durable: true, capacity: 100000" + queue_extra + "}\n"
         "    config: {role: worker, file: " + p + "/handled, delay_us: " + std::to_string(delay_us) + "}\n";
}

std::uint64_t last_accepted(const probe::TempDir& dir) {
  std::ifstream in(dir.path() / "accepted");
  std::uint64_t n = 0, last = 0;
  while (in >> n) last = n;
  return last;
}

// The worker's notes: one list of numbers per run of edrid.
std::vector<std::vector<std::uint64_t>> runs(const probe::TempDir& dir) {
  std::ifstream in(dir.path() / "handled");
  std::vector<std::vector<std::uint64_t>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line == "run") {
      out.emplace_back();
    } else if (!line.empty() && !out.empty()) {
      out.back().push_back(std::stoull(line));
    }
  }
  return out;
}

std::set<std::uint64_t> handled(const probe::TempDir& dir) {
  std::set<std::uint64_t> all;
  for (const auto& r : runs(dir)) all.insert(r.begin(), r.end());
  return all;
}

// Within one run a sequential manager takes its queue in order: each number
// it meets for the first time, and that no earlier run handled, is above
// every earlier one. Skipped: a number met again in the run, and one an
// earlier run handled. Both are the producer sending again what it had not
// noted before a kill, queued behind what the queue kept. (When fsyncs are
// slow the worker keeps up with the producer and handles a number before
// the producer notes it; the resend then comes after newer numbers the
// queue kept.)
std::string first_order_break(const std::vector<std::vector<std::uint64_t>>& all) {
  std::set<std::uint64_t> handled_before;
  for (std::size_t r = 0; r < all.size(); ++r) {
    std::set<std::uint64_t> seen;
    std::uint64_t top = 0;
    for (std::uint64_t n : all[r]) {
      if (!seen.insert(n).second || handled_before.contains(n)) continue;
      if (n < top) return "run " + std::to_string(r + 1) + ": " + std::to_string(n) + " after " + std::to_string(top);
      top = n;
    }
    handled_before.insert(all[r].begin(), all[r].end());
  }
  return "";
}

std::uint64_t duplicates(const std::vector<std::vector<std::uint64_t>>& all) {
  std::uint64_t lines = 0;
  for (const auto& r : all) lines += r.size();
  std::set<std::uint64_t> distinct;
  for (const auto& r : all) distinct.insert(r.begin(), r.end());
  return lines - distinct.size();
}
}  // namespace

TEST_CASE("with sync always (the default) every event a durable queue took is handled across three SIGKILLs of "
          "edrid and each run takes its queue in order") {
  probe::TempDir dir;
  constexpr std::uint64_t kCount = 15'000;
  // The worker (1 000/s) is slower than the producer: a backlog waits on disk at each kill.
  const auto cfg = dir.write("durable.yaml", durable_config(dir, kCount, 1000));
  std::mt19937 rng(std::random_device{}());
  bool replayed = false;
  for (int kill = 0; kill < 3; ++kill) {
    probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / ("run" + std::to_string(kill) + ".log"));
    const std::uint64_t at = static_cast<std::uint64_t>(kill + 1) * 3000 + rng() % 1500;
    REQUIRE(probe::wait_until([&] { return last_accepted(dir) >= at; }, 60s));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    edrid.signal(SIGKILL);
    CHECK(edrid.wait_exit(10s) == 128 + SIGKILL);
    replayed = replayed || edrid.output().find("from the durable queue") != std::string::npos;
  }
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "last.log");
  const bool all = probe::wait_until(
      [&] { return last_accepted(dir) == kCount && handled(dir).size() >= kCount; }, 120s, 50ms);
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(30s) == 0);
  const auto out = edrid.output();
  replayed = replayed || out.find("from the durable queue") != std::string::npos;
  const auto notes = runs(dir);
  const auto got = handled(dir);
  INFO("handled " << got.size() << " distinct, " << duplicates(notes) << " again after a kill; logs in "
                    << dir.path().string());
  CHECK(all);
  CHECK(notes.size() == 4);
  CHECK(replayed);
  // Every number the producer was told was taken (and a few it had not noted yet) was handled.
  CHECK(got.size() == kCount);
  CHECK((!got.empty() && *got.begin() == 1 && *got.rbegin() == kCount));
  CHECK(first_order_break(notes) == "");  // the expansion shows the first break
}

TEST_CASE("a durable queue's backlog waits on disk over SIGTERM and is handled once, at the next start") {
  probe::TempDir dir;
  constexpr std::uint64_t kCount = 3000;
  // 200 events a second against the shipped stop_grace_ms (5 s): most wait.
  const auto cfg = dir.write("durable.yaml", durable_config(dir, kCount, 5000, ", sync: batch, batch_ms: 5"));
  {
    probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "first.log");
    REQUIRE(probe::wait_until([&] { return last_accepted(dir) == kCount; }, 30s));
    edrid.signal(SIGTERM);
    CHECK(edrid.wait_exit(30s) == 0);
    CHECK(edrid.output().find("wait in the durable queue for the next start") != std::string::npos);
  }
  const std::size_t before = handled(dir).size();
  CHECK(before < kCount);
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "second.log");
  REQUIRE(probe::wait_until([&] { return handled(dir).size() >= kCount; }, 60s, 50ms));
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(30s) == 0);
  const auto notes = runs(dir);
  INFO("logs in " << dir.path().string());
  CHECK(edrid.output().find(std::to_string(kCount - before) + " event(s) from the durable queue") !=
        std::string::npos);
  CHECK(duplicates(notes) == 0);  // a clean stop removes what it finished before it goes
  CHECK(first_order_break(notes) == "");  // the expansion shows the first break
}

TEST_CASE("edrid does not start over a durable queue file that does not read back, and names the file, and edrictl "
          "inspects it and moves it aside") {
  probe::TempDir dir;
  const auto cfg = dir.write("durable.yaml", durable_config(dir, 2000, 2000));
  {
    probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "first.log");
    REQUIRE(probe::wait_until([&] { return last_accepted(dir) == 2000; }, 30s));
    edrid.signal(SIGKILL);
    edrid.wait_exit(10s);
  }
  const auto queue = dir.path() / "state" / "queues" / "worker";
  const auto data = queue / "data.mdb";
  REQUIRE(std::filesystem::exists(data));
  auto edrictl = [&](const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::string> argv{kEdrictl};
    argv.insert(argv.end(), args.begin(), args.end());
    probe::ChildProcess ctl(argv, dir.path() / log);
    const int rc = ctl.wait_exit(20s);
    return std::make_pair(rc, ctl.output());
  };
  // What the killed edrid left: the oldest jobs not handled yet, readable.
  auto [rc, text] = edrictl({"queue", "inspect", queue.string(), "--count", "1"}, "inspect1.log");
  CHECK(rc == 0);
  const auto report = nlohmann::json::parse(text);
  CHECK(report["records"].get<int>() > 0);
  CHECK(report["problem"].is_null());
  REQUIRE(report["first"].size() == 1);
  CHECK(report["first"][0]["type"] == "durable.job");
  CHECK(report["first"][0]["payload"]["n"].get<int>() >= 1);

  std::filesystem::resize_file(data, std::filesystem::file_size(data) / 2);
  {
    probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "second.log");
    CHECK(edrid.wait_exit(20s) != 0);
    CHECK_THAT(edrid.output(), Catch::Contains(data.string()) && Catch::Contains("truncated") &&
                                   Catch::Contains("move the directory aside"));
  }
  std::tie(rc, text) = edrictl({"queue", "inspect", queue.string()}, "inspect2.log");
  CHECK(rc == 1);
  CHECK_THAT(text, Catch::Contains("truncated"));
  std::tie(rc, text) = edrictl({"queue", "aside", queue.string()}, "aside.log");
  CHECK(rc == 0);
  CHECK_FALSE(std::filesystem::exists(queue));
  CHECK_THAT(text, Catch::Contains(queue.string() + ".aside-"));
  // With the file aside the manager starts empty.
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "third.log");
  CHECK(edrid.wait_output("running 2 managers", 20s));
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(20s) == 0);
}

TEST_CASE("a durable queue on a full disk refuses new events, says so once, loses nothing it took, and takes events "
          "again once there is room") {
  probe::TempDir dir;
  constexpr std::uint64_t kCount = 6000;
  const auto cfg = dir.write("durable.yaml", durable_config(dir, kCount, 1000));
  // Writes past 256 KiB fail (EFBIG) as on a full disk, for this edrid only
  // (the soft limit: edrid may raise it, as the test does later).
  probe::ChildProcess edrid({"/usr/bin/prlimit", "--fsize=262144:unlimited", kEdrid, "-c", cfg.string()},
                            dir.path() / "full.log");
  REQUIRE(edrid.wait_output("new events are refused until it takes them again", 60s));
  const std::uint64_t before = last_accepted(dir);
  CHECK(before < kCount);
  std::this_thread::sleep_for(500ms);
  // The room comes back.
  probe::ChildProcess raise({"/usr/bin/prlimit", "--pid", std::to_string(edrid.pid()), "--fsize=unlimited"},
                            dir.path() / "prlimit.log");
  REQUIRE(raise.wait_exit(10s) == 0);
  REQUIRE(probe::wait_until([&] { return last_accepted(dir) == kCount && handled(dir).size() >= kCount; }, 60s, 50ms));
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(30s) == 0);
  const auto out = edrid.output();
  INFO("logs in " << dir.path().string());
  CHECK(out.find("takes events again") != std::string::npos);
  // Said once for the episode, not once per refused event.
  std::size_t said = 0;
  for (auto at = out.find("new events are refused"); at != std::string::npos; at = out.find("new events are refused", at + 1)) {
    ++said;
  }
  CHECK(said == 1);
  const auto notes = runs(dir);
  CHECK(duplicates(notes) == 0);
  CHECK(first_order_break(notes) == "");  // the expansion shows the first break
}
