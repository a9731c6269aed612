// The real edrid binary: runs the example plugins, logs with trace ids,
// checks configs, and exits 0 on SIGTERM.
#include "support/child_process.hpp"
#include "support/temp_file.hpp"

#include <edri/abi.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <regex>
#include <sstream>
#include <thread>
#include <sys/un.h>

using namespace std::chrono_literals;

namespace {
const std::string kEdrid = EDRID_BIN;

std::string ping_pong_config(const std::string& format) {
  return R"(router:
  id: it-node
  log: {level: info, format: )" + format + R"(}
managers:
  - name: pinger
    plugin: ping
    config: {interval_ms: 20}
  - name: ponger
    plugin: pong
  - name: echo
    plugin: echo
)";
}
}  // namespace

TEST_CASE("edrid runs ping/pong and stops with exit 0 on SIGTERM") {
  probe::TempDir dir;
  auto cfg = dir.write("edrid.yaml", ping_pong_config("text"));
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "out.log");
  REQUIRE(edrid.wait_output("pong 5 from ponger", 10s));
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(10s) == 0);
  const auto out = edrid.output();
  CHECK_THAT(out, Catch::Contains("router 'it-node' running 3 managers"));
  CHECK_THAT(out, Catch::Matches(R"((.|\n)*\[pinger\] pong 1 from ponger in \d+ us trace=[0-9a-f]{32}(.|\n)*)"));
  CHECK_THAT(out, Catch::Contains("received SIGTERM, stopping"));
  CHECK_THAT(out, Catch::Contains("stopped cleanly"));
}

TEST_CASE("edrid logs a stats line per manager with its rates when asked to") {
  probe::TempDir dir;
  std::string config = ping_pong_config("text");
  config.replace(config.find("managers:"), 0, "  liveness: {interval_ms: 100, stats_log_ms: 500}\n");
  auto cfg = dir.write("edrid.yaml", config);
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "out.log");
  REQUIRE(edrid.wait_output("running 3 managers", 10s));
  // The pinger sends 50 pings a second; give the rates a few intervals.
  std::this_thread::sleep_for(1500ms);
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(10s) == 0);
  const auto out = edrid.output();
  const std::regex line(R"(\[ponger\] stats: received ([0-9.]+)/s, handled ([0-9.]+)/s, errors 0\.0/s; queue \d+/1024; running [01]; health ok; handler p50 \d+ us, p99 \d+ us)");
  std::vector<double> handled;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it) {
    handled.push_back(std::stod((*it)[2]));
  }
  REQUIRE(handled.size() >= 2);  // every 500 ms, not every 100 ms tick
  CHECK(handled.size() <= 4);
  CHECK(handled.back() > 20);
  CHECK(handled.back() < 80);
  CHECK_THAT(out, Catch::Contains("[echo] stats: received 0.0/s"));
}

TEST_CASE("edrid writes JSON log lines with the trace id as a field") {
  probe::TempDir dir;
  auto cfg = dir.write("edrid.yaml", ping_pong_config("json"));
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "out.log");
  REQUIRE(edrid.wait_output("pong 2 from ponger", 10s));
  edrid.signal(SIGINT);
  CHECK(edrid.wait_exit(10s) == 0);
  std::istringstream lines(edrid.output());
  std::string line;
  int pongs = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);  // every line is one JSON object
    REQUIRE(j.contains("ts"));
    REQUIRE(j.contains("level"));
    if (j["msg"].get<std::string>().rfind("pong ", 0) == 0) {
      ++pongs;
      CHECK(j["logger"] == "pinger");
      CHECK(j["trace"].get<std::string>().size() == 32);
    }
  }
  CHECK(pongs >= 2);
}

TEST_CASE("edrid --check-config accepts a good file and points at each problem in a bad one") {
  probe::TempDir dir;
  auto good = dir.write("good.yaml", ping_pong_config("text"));
  auto [rc, out] = probe::run_to_end({kEdrid, "--check-config", "-c", good.string()}, dir.path() / "a.log");
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("ok (3 managers)"));

  auto bad = dir.write("bad.yaml", R"(router:
  id: x
managers:
  - name: pinger
    plugin: ping
    colour: red
    config: {interval_ms: 5, volume: 11}
)");
  std::tie(rc, out) = probe::run_to_end({kEdrid, "--check-config", "-c", bad.string()}, dir.path() / "b.log");
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains(bad.string() + ":6:5: unknown key 'colour' in manager"));
  // Structural errors are reported before plugin configs are looked at.
  auto bad2 = dir.write("bad2.yaml", R"(managers:
  - name: pinger
    plugin: ping
    config: {interval_ms: 5, volume: 11}
)");
  std::tie(rc, out) = probe::run_to_end({kEdrid, "--check-config", "-c", bad2.string()}, dir.path() / "c.log");
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains(bad2.string() + ":4:30: unknown key 'volume' in config of manager 'pinger'"));
}

TEST_CASE("edrid --version and bad arguments") {
  probe::TempDir dir;
  auto [rc, out] = probe::run_to_end({kEdrid, "--version"}, dir.path() / "v.log");
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::StartsWith("edrid 0.1.0 (plugin ABI 1." + std::to_string(EDRI_ABI_MINOR) + ")"));
  std::tie(rc, out) = probe::run_to_end({kEdrid, "--frobnicate"}, dir.path() / "f.log");
  CHECK(rc == 2);
  CHECK_THAT(out, Catch::Contains("unknown argument '--frobnicate'"));
}

TEST_CASE("every example config in config/ is valid") {
  probe::TempDir dir;
  int checked = 0;
  for (const auto& f : std::filesystem::directory_iterator(EDRI_SOURCE_DIR "/config")) {
    if (f.path().extension() != ".yaml") continue;
    INFO(f.path());
    auto [rc, out] = probe::run_to_end({kEdrid, "--check-config", "-c", f.path().string()}, dir.path() / "e.log");
    CHECK(rc == 0);
    CHECK_THAT(out, Catch::Contains(": ok ("));
    ++checked;
  }
  CHECK(checked >= 2);
}

TEST_CASE("SIGHUP applies a new log level and keeps running on an invalid file") {
  probe::TempDir dir;
  auto cfg = dir.write("edrid.yaml", ping_pong_config("text"));
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "out.log");
  REQUIRE(edrid.wait_output("pong 1 from ponger", 10s));

  dir.write("edrid.yaml", "router:\n  log: {level: loud}\nmanagers: []\n");
  edrid.signal(SIGHUP);
  REQUIRE(edrid.wait_output("still running the previous configuration", 10s));
  CHECK_THAT(edrid.output(), Catch::Contains(":2:16: router.log.level must be one of"));
  REQUIRE(edrid.wait_output("pong 20 from ponger", 10s));  // still routing, still at info

  std::string quiet = ping_pong_config("text");
  quiet.replace(quiet.find("level: info"), 11, "level: warn");
  dir.write("edrid.yaml", quiet);
  edrid.signal(SIGHUP);
  REQUIRE(edrid.wait_output("reloaded", 10s));
  std::this_thread::sleep_for(200ms);
  const auto settled = edrid.output();
  std::this_thread::sleep_for(400ms);  // ~20 pings at 20 ms: at info they would log
  CHECK(edrid.output() == settled);
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(10s) == 0);
}

namespace {
// The listening end of a NOTIFY_SOCKET, as systemd would hold it.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { ::close(fd_); }
  // Every message received until `until` appears or the time runs out.
  std::string read_until(const std::string& until, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline && all_.find(until) == std::string::npos) {
      char buf[512];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) all_.append(buf, static_cast<std::size_t>(n)).append("\n");
    }
    return all_;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::string all_;
};
}  // namespace

TEST_CASE("edrid tells systemd it is ready, pings the watchdog and says when it stops") {
  probe::TempDir dir;
  auto cfg = dir.write("edrid.yaml", ping_pong_config("text"));
  NotifySocket sock(dir.path() / "notify.sock");
  ::setenv("NOTIFY_SOCKET", (dir.path() / "notify.sock").c_str(), 1);
  ::setenv("WATCHDOG_USEC", "100000", 1);
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "out.log");
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");

  auto got = sock.read_until("READY=1", 10s);
  CHECK_THAT(got, Catch::Contains("READY=1\nSTATUS=router 'it-node' running 3 managers"));
  // 100 ms watchdog: pings every 50 ms.
  std::this_thread::sleep_for(400ms);
  got = sock.read_until("WATCHDOG=1\nWATCHDOG=1\nWATCHDOG=1", 5s);
  CHECK_THAT(got, Catch::Contains("WATCHDOG=1\nWATCHDOG=1\nWATCHDOG=1"));
  edrid.signal(SIGTERM);
  got = sock.read_until("STOPPING=1", 10s);
  CHECK_THAT(got, Catch::Contains("STOPPING=1"));
  CHECK(edrid.wait_exit(10s) == 0);
}

namespace {
// Children of every thread of pid (workers are spawned by a helper thread).
std::vector<int> children_of(int pid) {
  std::vector<int> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream in(task.path() / "children");
    int c;
    while (in >> c) out.push_back(c);
  }
  return out;
}
}  // namespace

TEST_CASE("edrid runs a manager in worker processes and takes them down on SIGTERM") {
  probe::TempDir dir;
  auto cfg = dir.write("edrid.yaml", R"(router:
  id: it-node
managers:
  - name: pinger
    plugin: ping
    config: {interval_ms: 20}
  - name: ponger
    plugin: pong
    executor: {type: process, workers: 2, ordering: concurrent, timeout_ms: 1000}
)");
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "out.log");
  REQUIRE(edrid.wait_output("pong 5 from ponger", 10s));
  const auto workers = children_of(edrid.pid());
  CHECK(workers.size() == 2);
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(10s) == 0);
  for (int w : workers) CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(w)));
  CHECK_THAT(edrid.output(), Catch::Contains("stopped cleanly"));
}

TEST_CASE("a value the store acknowledged survives kill -9 of edrid") {
  probe::TempDir dir;
  const auto db = (dir.path() / "db").string();
  auto config = [&](const std::string& mode) {
    return "router:\n  log: {level: warn}\n  plugin_dirs: [" EDRI_TEST_FIXTURE_DIR "]\nmanagers:\n"
           "  - name: kv\n    plugin: store\n    config: {path: " + db + "}\n"
           "  - name: driver\n    plugin: store_driver\n    config: {mode: " + mode + "}\n";
  };
  std::int64_t last_acked = 0;
  {
    auto cfg = dir.write("write.yaml", config("write"));
    probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "write.log");
    REQUIRE(edrid.wait_output("acked value=200 ", 20s));
    edrid.signal(SIGKILL);  // no chance to flush or close anything
    CHECK(edrid.wait_exit(10s) == 128 + SIGKILL);
    const auto out = edrid.output();
    const auto at = out.rfind("acked value=");
    last_acked = std::stoll(out.substr(at + 12));
  }
  REQUIRE(last_acked >= 200);
  auto cfg = dir.write("read.yaml", config("read"));
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "read.log");
  REQUIRE(edrid.wait_output("read counter value=", 10s));
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(10s) == 0);
  const auto out = edrid.output();
  const auto at = out.find("read counter value=");
  const std::int64_t value = std::stoll(out.substr(at + 19));
  // Every acknowledged increment is there; at most the one in flight more.
  CHECK(value >= last_acked);
  CHECK(value <= last_acked + 1);
  CHECK_THAT(out, Catch::Contains("found=true"));
}

namespace {
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}
}  // namespace

TEST_CASE("edrictl sends, requests, tails and reads stats from a running edrid") {
  probe::TempDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(free_port());
  const std::string ctl = EDRICTL_BIN;
  auto [rc0, out0] = probe::run_to_end({ctl, "--url", url, "stats"}, dir.path() / "0.log");
  CHECK(rc0 == 2);
  CHECK_THAT(out0, Catch::Contains("cannot reach edrid at 127.0.0.1:") && Catch::Contains("is it running with the api manager?"));

  auto cfg = dir.write("edrid.yaml", "router:\n  id: ctl-node\nmanagers:\n  - name: echo\n    plugin: echo\n"
                                     "  - name: api\n    plugin: api\n    config: {port: " + url.substr(url.rfind(':') + 1) + "}\n");
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "edrid.log");
  REQUIRE(edrid.wait_output("listening on", 10s));

  auto [rc1, out1] = probe::run_to_end({ctl, "--url", url, "request", "demo.echo", R"({"text":"from the shell"})"}, dir.path() / "1.log");
  CHECK(rc1 == 0);
  CHECK(nlohmann::json::parse(out1) == nlohmann::json{{"text", "from the shell"}});
  auto [rc2, out2] = probe::run_to_end({ctl, "--url", url, "request", "nobody.home", "--timeout", "500"}, dir.path() / "2.log");
  CHECK(rc2 == 1);
  CHECK(nlohmann::json::parse(out2)["status"] == "not_found");

  probe::ChildProcess tail({ctl, "--url", url, "tail", "chat.*", "--where", R"({"room":"a"})", "--count", "2"},
                           dir.path() / "tail.log");
  // The subscription takes effect on the api's loop; send until it is seen.
  std::string out3;
  for (int i = 0; i < 50; ++i) {
    out3 = probe::run_to_end({ctl, "--url", url, "send", "chat.msg", R"({"room":"a","n":1})"}, dir.path() / "3.log").second;
    if (nlohmann::json::parse(out3)["delivered"] == 1) break;
    std::this_thread::sleep_for(50ms);
  }
  CHECK(nlohmann::json::parse(out3) == nlohmann::json{{"delivered", 1}});
  probe::run_to_end({ctl, "--url", url, "send", "chat.msg", R"({"room":"b","n":2})"}, dir.path() / "4.log");
  probe::run_to_end({ctl, "--url", url, "send", "chat.msg", R"({"room":"a","n":3})"}, dir.path() / "5.log");
  CHECK(tail.wait_exit(10s) == 0);
  const auto lines = tail.output();
  CHECK_THAT(lines, Catch::Contains(R"({"data":{"n":1,"room":"a"},"type":"chat.msg"})"));
  CHECK_THAT(lines, Catch::Contains(R"({"data":{"n":3,"room":"a"},"type":"chat.msg"})"));
  CHECK_THAT(lines, !Catch::Contains(R"("n":2)"));

  auto [rc6, out6] = probe::run_to_end({ctl, "--url", url, "stats"}, dir.path() / "6.log");
  CHECK(rc6 == 0);
  CHECK(nlohmann::json::parse(out6)["router"] == "ctl-node");
  // Two screens of top, a second apart: the router's line, then a line per manager.
  auto [rc9, out9] = probe::run_to_end({ctl, "--url", url, "top", "--count", "2", "--interval", "200"}, dir.path() / "9.log");
  CHECK(rc9 == 0);
  INFO(out9);
  std::size_t screens = 0;
  for (auto at = out9.find("router ctl-node  up "); at != std::string::npos; at = out9.find("router ctl-node  up ", at + 1)) {
    ++screens;
  }
  CHECK(screens == 2);
  CHECK(std::regex_search(out9, std::regex(R"(\nMANAGER +HEALTH +QUEUE +IN/S +OUT/S +ERR/S +P50 US +P99 US +WAIT P99 +DURABLE\n)")));
  // echo answered the request above: its handler latency may be sampled or not yet ("-").
  CHECK(std::regex_search(out9, std::regex(R"(\necho +ok +0/1024 +[0-9.]+ +[0-9.]+ +0\.0 +(-|[0-9]+) +(-|[0-9]+) +(-|[0-9]+) +-\n)")));
  CHECK(std::regex_search(out9, std::regex(R"(\napi +ok +)")));
  auto [rc7, out7] = probe::run_to_end({ctl, "--url", url, "links"}, dir.path() / "7.log");
  CHECK(rc7 == 0);
  CHECK_THAT(out7, Catch::Contains("no links: router 'ctl-node' has no switch or connector"));
  auto [rc8, out8] = probe::run_to_end({ctl, "frobnicate"}, dir.path() / "8.log");
  CHECK(rc8 == 2);
  CHECK_THAT(out8, Catch::Contains("unknown command 'frobnicate'"));

  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(10s) == 0);
}

TEST_CASE("edrictl prints dead letters as they come and re-injects one, which is handled again") {
  probe::TempDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(free_port());
  const std::string ctl = EDRICTL_BIN;
  auto cfg = dir.write("edrid.yaml",
                       "router:\n  id: ctl-node\n  plugin_dirs: [" EDRI_TEST_FIXTURE_DIR "]\nmanagers:\n"
                       "  - name: worker\n    plugin: worker_probe\n    delivery: at_least_once\n"
                       "    max_deliveries: 2\n    retry: {initial_ms: 10}\n"
                       "  - name: api\n    plugin: api\n    config: {port: " + url.substr(url.rfind(':') + 1) +
                           ", expose: {publish: [\">\"], subscribe: [\"edri.dead_letter\"]}}\n");
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "edrid.log");
  REQUIRE(edrid.wait_output("listening on", 10s));

  probe::ChildProcess letters({ctl, "--url", url, "dead-letters"}, dir.path() / "letters.log");
  auto lines = [&] {
    std::vector<std::string> out;
    std::istringstream in(letters.output());
    for (std::string l; std::getline(in, l);) {
      if (!l.empty() && l.front() == '{') out.push_back(l);
    }
    return out;
  };
  // A request whose handler always throws: two deliveries, then a dead
  // letter. Sent again until dead-letters, subscribing meanwhile, shows one.
  for (int i = 0; i < 20 && lines().empty(); ++i) {
    auto [rc1, out1] = probe::run_to_end({ctl, "--url", url, "request", "work.throw", R"({"order":17})"},
                                         dir.path() / "1.log");
    CHECK(rc1 == 1);
    CHECK_THAT(out1, Catch::Contains("worker handler refused"));
    letters.wait_output("max_deliveries", 500ms);
  }
  REQUIRE(lines().size() == 1);
  const std::string first = lines()[0];
  const auto letter = nlohmann::json::parse(first);
  CHECK(letter["type"] == "work.throw");
  CHECK(letter["kind"] == "request");
  CHECK(letter["reason"] == "max_deliveries");
  CHECK(letter["attempts"] == 2);
  CHECK(letter["payload"] == nlohmann::json{{"order", 17}});

  // Re-injected from the line dead-letters printed: handled (and refused) again.
  auto [rc2, out2] = probe::run_to_end({ctl, "--url", url, "reinject", first}, dir.path() / "2.log");
  CHECK(rc2 == 1);
  CHECK_THAT(out2, Catch::Contains("worker handler refused"));
  for (int i = 0; i < 100 && lines().size() < 2; ++i) std::this_thread::sleep_for(50ms);
  REQUIRE(lines().size() == 2);
  CHECK(nlohmann::json::parse(lines()[1])["payload"] == nlohmann::json{{"order", 17}});
  CHECK(nlohmann::json::parse(lines()[1])["id"] != letter["id"]);  // a new event, sent again
  auto [rc3, out3] = probe::run_to_end({ctl, "--url", url, "reinject", R"({"kind":"request"})"}, dir.path() / "3.log");
  CHECK(rc3 == 2);
  CHECK_THAT(out3, Catch::Contains("not a dead letter"));

  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(10s) == 0);
}

TEST_CASE("under systemd's journal stream edrid logs to journald instead of stderr") {
  probe::TempDir dir;
  auto cfg = dir.write("edrid.yaml", ping_pong_config("text"));
  const auto out = dir.write("stderr.log", "");
  struct stat st {};
  REQUIRE(::stat(out.c_str(), &st) == 0);
  // What systemd sets when stderr is connected to the journal: dev:inode of it.
  ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(), 1);
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, out);
  ::unsetenv("JOURNAL_STREAM");
  std::this_thread::sleep_for(300ms);  // pings every 20 ms would have logged by now
  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(10s) == 0);
  CHECK(edrid.output().find("pong") == std::string::npos);
  CHECK(edrid.output().find("running") == std::string::npos);
}

TEST_CASE("SIGHUP keeps unchanged managers, stops removed ones, starts added ones, restarts changed ones") {
  probe::TempDir dir;
  const std::string port = std::to_string(free_port());
  const std::string url = "http://127.0.0.1:" + port;
  auto config = [&](const std::string& managers) {
    return "router:\n  id: reload-node\nmanagers:\n"
           "  - name: pinger\n    plugin: ping\n    config: {interval_ms: 20}\n"
           "  - name: api\n    plugin: api\n    config: {port: " + port + "}\n" + managers;
  };
  auto cfg = dir.write("edrid.yaml", config("  - name: ponger\n    plugin: pong\n  - name: echo\n    plugin: echo\n"));
  probe::ChildProcess edrid({kEdrid, "-c", cfg.string()}, dir.path() / "edrid.log");
  REQUIRE(edrid.wait_output("pong 3 from ponger", 10s));
  REQUIRE(edrid.wait_output("listening on", 10s));
  CHECK(probe::run_to_end({EDRICTL_BIN, "--url", url, "request", "demo.echo", R"({"text":"a"})"}, dir.path() / "a.log").first == 0);

  dir.write("edrid.yaml", config("  - name: ponger\n    plugin: pong\n    queue: {capacity: 512}\n"
                                 "  - name: echo2\n    plugin: echo\n"));
  const auto before = edrid.output().size();
  edrid.signal(SIGHUP);
  REQUIRE(edrid.wait_output("kept: pinger, api; started: echo2; restarted: ponger; stopped: echo", 10s));
  // The kept pinger goes on counting (no restart), and pongs come from the new ponger.
  REQUIRE(edrid.wait_output("pong 30 from ponger", 10s));
  CHECK(edrid.output().substr(before).find("pong 1 from") == std::string::npos);

  auto [rc, out] = probe::run_to_end({EDRICTL_BIN, "--url", url, "stats"}, dir.path() / "s.log");
  REQUIRE(rc == 0);
  std::vector<std::string> names;
  const auto stats = nlohmann::json::parse(out);  // kept alive while iterating
  for (const auto& m : stats["managers"]) names.push_back(m["name"]);
  CHECK(names == std::vector<std::string>{"pinger", "api", "ponger", "echo2"});
  auto echoed = probe::run_to_end({EDRICTL_BIN, "--url", url, "request", "demo.echo", R"({"text":"b"})"}, dir.path() / "b.log");
  CHECK(echoed.first == 0);
  CHECK(nlohmann::json::parse(echoed.second) == nlohmann::json{{"text", "b"}});

  // A new config that fails to load changes nothing.
  dir.write("edrid.yaml", config("  - name: ponger\n    plugin: pong\n  - name: broken\n    plugin: no-such-plugin\n"));
  edrid.signal(SIGHUP);
  REQUIRE(edrid.wait_output("still running the previous configuration", 10s));
  CHECK_THAT(edrid.output(), Catch::Contains("plugin 'no-such-plugin' not found"));
  CHECK(probe::run_to_end({EDRICTL_BIN, "--url", url, "request", "demo.echo", R"({"text":"c"})"}, dir.path() / "c.log").first == 0);

  edrid.signal(SIGTERM);
  CHECK(edrid.wait_exit(10s) == 0);
}
