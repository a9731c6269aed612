// Clustering with real processes: a switch and routers as separate edrid
// processes on loopback, talking through real sockets (and, for fault tests,
// a proxy that cuts their connections). Every event is counted by the
// cluster_probe fixture on the receiving router.
#include "support/child_process.hpp"
#include "support/fault_proxy.hpp"
#include "support/tls_certs.hpp"
#include "support/http_client.hpp"
#include "support/temp_file.hpp"
#include "support/wait_until.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/socket.h>

#include <fstream>
#include <functional>
#include <initializer_list>
#include <optional>
#include <random>
#include <regex>
#include <set>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kEdrid = EDRID_BIN;

// HTTP polls: every 50 ms is often enough.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds within) {
  return probe::wait_until(pred, within, 50ms);
}

// The port a process logged after `prefix` (e.g. "listening on 127.0.0.1:").
unsigned short logged_port(const probe::ChildProcess& p, const std::string& prefix) {
  unsigned short port = 0;
  const std::regex re(prefix + "(\\d+)");
  wait_until(
      [&] {
        std::smatch m;
        const std::string out = p.output();
        if (!std::regex_search(out, m, re)) return false;
        port = static_cast<unsigned short>(std::stoi(m[1]));
        return true;
      },
      10s);
  if (port == 0) FAIL("no port logged after '" << prefix << "':\n" << p.output());
  return port;
}

struct Node {
  std::unique_ptr<probe::ChildProcess> process;
  unsigned short port = 0;       // api
  unsigned short link_port = 0;  // a switch's link listener

  json post(const std::string& target, const json& body = json::object()) const {
    probe::HttpClient c(port);
    auto r = c.call("POST", target, body.dump(), {{"content-type", "application/json"}});
    json out = r.body.empty() ? json::object() : json::parse(r.body);
    out["_status"] = r.status;
    return out;
  }
  json stats() const {
    probe::HttpClient c(port);
    return json::parse(c.call("GET", "/stats").body);
  }
  // The first link, or {} when there is none. Tests read results through
  // non-const json: a missing key compares as null and fails one check,
  // where const operator[] would abort the whole test binary.
  json link() const {
    const json links = stats().value("links", json::array());
    return links.empty() ? json::object() : links[0];
  }
  json report() const { return post("/events/probe.report"); }
};

class Cluster {
 public:
  Cluster() = default;

  Node start_switch(const std::string& extra = "", unsigned short port = 0, const std::string& name = "switch") {
    // The switch's membership file lives in this test's directory, and a
    // restarted switch (another name, the same directory) finds it.
    auto cfg = dir.write(name + ".yaml", "router: {id: hub, log: {level: info}, state_dir: \"" + dir.path().string() +
                                             "\"}\nswitch:\n  listen: \"127.0.0.1:" +
                                             std::to_string(port) + "\"\n" + (fast_links ? "  settle_ms: 300\n" : "") +
                                             extra +
                                             "managers:\n  - {name: api, plugin: api, config: {port: 0}}\n");
    Node n;
    n.process = std::make_unique<probe::ChildProcess>(std::vector<std::string>{kEdrid, "-c", cfg.string()},
                                                      dir.path() / (name + "." + std::to_string(++starts) + ".log"));
    n.link_port = logged_port(*n.process, "switch 'hub' listening on 127.0.0.1:");
    n.port = logged_port(*n.process, "listening on http://127.0.0.1:");
    return n;
  }

  // A router whose connector points at `link_port`, with an api manager and
  // the given managers (YAML list items).
  Node start_router(const std::string& id, unsigned short link_port, const std::string& managers,
                    const std::string& connector_extra = "") {
    auto cfg = dir.write(id + ".yaml", "router: {id: " + id + ", plugin_dirs: [\"" EDRI_TEST_FIXTURE_DIR "\"]}\n"
                                       "connector:\n  switch: \"127.0.0.1:" + std::to_string(link_port) + "\"\n"
                                       + (fast_links ? "  reconnect: {min_ms: 20, max_ms: 300}\n"
                                                       "  heartbeat_ms: 200\n  dead_peer_ms: 2000\n"
                                                     : "") +
                                       connector_extra +
                                       "managers:\n  - {name: api, plugin: api, config: {port: 0}}\n" + managers);
    Node n;
    n.process = std::make_unique<probe::ChildProcess>(std::vector<std::string>{kEdrid, "-c", cfg.string()},
                                                      dir.path() / (id + "." + std::to_string(++starts) + ".log"));
    n.port = logged_port(*n.process, "listening on http://127.0.0.1:");
    return n;
  }

  probe::TempDir dir;
  int starts = 0;
  // Reconnect backoff, heartbeats and the switch's settle time tuned for fast
  // tests; false runs every node on the shipped defaults.
  bool fast_links = true;
};

const std::string kConsumer = "  - {name: consumer, plugin: cluster_probe, config: {role: consumer}}\n"
                              "  - {name: echo, plugin: echo}\n";
const std::string kProducer = "  - {name: producer, plugin: cluster_probe, config: {role: producer}}\n";
const std::string kShare = "  share: [\"demo.>\", \"news.>\"]\n";
// 64 KiB replay buffers fill in a few hundred probe events.
const std::string kSmallReplay = "  replay: {max_bytes: 65536}\n";

// A consumer that spends `delay_us` on each event behind a 16-event queue.
std::string slow_consumer(int delay_us) {
  return "  - {name: consumer, plugin: cluster_probe, queue: {capacity: 16},"
         " config: {role: consumer, delay_us: " + std::to_string(delay_us) + "}}\n"
         "  - {name: echo, plugin: echo}\n";
}

bool link_up(const Node& n) { return n.link().value("state", "") == "up"; }

// The producer's router has learned the consumer's subscriptions.
void wait_for_route(const Node& producer) {
  REQUIRE(wait_until([&] { return producer.post("/events/demo.echo", {{"text", "ready?"}})["_status"] == 200; }, 20s));
}

// rb (running `consumer`) and ra (a producer) linked to the switch at
// `link_port`, ra knowing rb's subscriptions.
struct Routers {
  Node a, b;
};
Routers start_routers(Cluster& c, unsigned short link_port, const std::string& consumer = kConsumer) {
  Routers r;
  r.b = c.start_router("rb", link_port, consumer, kShare);
  r.a = c.start_router("ra", link_port, kProducer, kShare);
  REQUIRE(wait_until([&] { return link_up(r.a) && link_up(r.b); }, 30s));
  wait_for_route(r.a);
  return r;
}

void wait_received(const Node& consumer, std::uint64_t n, std::chrono::milliseconds within) {
  json last;
  const bool ok = wait_until(
      [&] {
        last = consumer.report();
        return last.value("received", std::uint64_t{0}) >= n;
      },
      within);
  INFO("last report: " << last.dump());
  REQUIRE(ok);
}

// SIGTERM to every node at once (so none waits on another), then each must
// exit cleanly.
void stop_all(std::initializer_list<Node*> nodes) {
  for (Node* n : nodes) n->process->signal(SIGTERM);
  for (Node* n : nodes) CHECK(n->process->wait_exit(15s) == 0);
}

// The consumer's report: `total` numbered events, each once, in order.
void check_exactly_once(json report, std::uint64_t total) {
  INFO("report: " << report.dump());
  CHECK(report["received"] == total);
  CHECK(report["duplicates"] == 0);
  CHECK(report["out_of_order"] == 0);
}

}  // namespace

TEST_CASE("a notification and a request cross the switch and a run-time subscription starts receiving") {
  Cluster c;
  Node hub = c.start_switch();
  Node b = c.start_router("rb", hub.link_port, kConsumer, kShare);
  Node a = c.start_router("ra", hub.link_port, kProducer, kShare);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);

  // Notifications: typed and declared shareable in the SDK.
  CHECK(a.post("/events/probe.start", {{"count", 1000}})["sent"] == 1000);
  wait_received(b, 1000, 20s);
  json report = b.report();
  CHECK(report["duplicates"] == 0);
  CHECK(report["out_of_order"] == 0);
  CHECK(report["senders"]["producer"] == 1000);

  // A request served on the other router, its response back here.
  json echo = a.post("/events/demo.echo", {{"text", "across"}});
  CHECK(echo["_status"] == 200);
  CHECK(echo["text"] == "across");
  // Nobody in the cluster serves it.
  CHECK(a.post("/events/nobody.home")["_status"] == 404);

  // A subscription made at run time on rb reaches ra through the switch.
  CHECK(b.post("/events/probe.watch", {{"pattern", "news.>"}})["watching"] == "news.>");
  REQUIRE(wait_until(
      [&] {
        a.post("/events/news.flash?kind=notification", {{"headline", "hi"}});
        return b.report().value("watched", 0) >= 1;
      },
      20s));

  // Types that are neither declared shareable nor shared by config stay home.
  CHECK(b.post("/events/probe.watch", {{"pattern", "secret.>"}})["watching"] == "secret.>");
  std::this_thread::sleep_for(1s);  // let the subscription reach ra
  const auto watched = b.report()["watched"].get<int>();
  const auto sent_remote = a.stats()["events"]["sent_remote"].get<std::uint64_t>();
  for (int i = 0; i < 5; ++i) a.post("/events/secret.plan?kind=notification", {{"x", i}});
  a.post("/events/news.flash?kind=notification", {{"headline", "after"}});  // shared: a marker
  REQUIRE(wait_until([&] { return b.report()["watched"].get<int>() >= watched + 1; }, 10s));
  CHECK(b.report()["watched"].get<int>() == watched + 1);
  CHECK(a.stats()["events"]["sent_remote"].get<std::uint64_t>() == sent_remote + 1);

  // Link stats on both ends.
  json la = a.link();
  CHECK(la["peer"] == "hub");
  CHECK(la["gaps"] == 0);
  CHECK(la["acked_seq"].get<std::uint64_t>() <= la["sent_seq"].get<std::uint64_t>());
  json hs = hub.post("/events/probe.none");  // the switch's own router knows no probe
  CHECK(hs["_status"] == 404);
  {
    probe::HttpClient http(a.port);
    const std::string metrics = http.call("GET", "/metrics").body;
    CHECK_THAT(metrics, Catch::Contains("edri_link_up{peer=\"hub\"} 1\n"));
    CHECK_THAT(metrics, Catch::Contains("edri_link_gaps_total{peer=\"hub\"} 0\n"));
  }
  json links = hub.stats()["links"];
  REQUIRE(links.size() == 2);
  for (auto& l : links) CHECK(l["state"] == "up");

  stop_all({&a, &b, &hub});
}

TEST_CASE("200 000 notifications through links cut every 50-500 ms arrive exactly once and in order") {
  Cluster c;
  Node hub = c.start_switch();
  probe::FaultProxy proxy_a(hub.link_port), proxy_b(hub.link_port);
  Node b = c.start_router("rb", proxy_b.port(), kConsumer, kShare);
  Node a = c.start_router("ra", proxy_a.port(), kProducer, kShare);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);

  proxy_a.start_cutting(50ms, 500ms);
  proxy_b.start_cutting(50ms, 500ms);
  constexpr std::uint64_t kTotal = 200'000;
  for (int batch = 0; batch < 8; ++batch) {
    // The producer's router takes every event even while its link is down.
    CHECK(a.post("/events/probe.start", {{"count", kTotal / 8}})["sent"] == (batch + 1) * kTotal / 8);
    std::this_thread::sleep_for(250ms);
  }
  wait_received(b, kTotal, 180s);
  proxy_a.stop_cutting();
  proxy_b.stop_cutting();

  json report = b.report();
  check_exactly_once(report, kTotal);
  CHECK(report["senders"]["producer"] == kTotal);
  INFO("cuts: " << proxy_a.cuts() << " + " << proxy_b.cuts());
  CHECK(proxy_a.cuts() + proxy_b.cuts() >= 4);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  json la = a.link(), lb = b.link();
  CHECK(la["reconnects"].get<int>() >= 1);
  CHECK(la["gaps"] == 0);
  CHECK(lb["gaps"] == 0);
  CHECK(la["events_lost"] == 0);

  stop_all({&a, &b, &hub});
}

TEST_CASE("a consumer far slower than its producer holds the producer back across the switch and loses nothing") {
  // Without backpressure the switch would overflow its buffer toward rb.
  Cluster c;
  Node hub = c.start_switch(kSmallReplay);
  Node b = c.start_router("rb", hub.link_port, slow_consumer(100), kShare + kSmallReplay);
  Node a = c.start_router("ra", hub.link_port, kProducer, kShare + kSmallReplay);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);

  constexpr std::uint64_t kTotal = 20'000;
  CHECK(a.post("/events/probe.start", {{"count", kTotal}})["sent"] == kTotal);
  wait_received(b, kTotal, 120s);
  json report = b.report();
  check_exactly_once(report, kTotal);

  json la = a.link(), lb = b.link();
  INFO("ra link: " << la.dump() << "\nrb link: " << lb.dump() << "\nhub: " << hub.stats()["links"].dump());
  CHECK(la["publisher_waits"].get<std::uint64_t>() > 0);  // the producer was held back
  CHECK(la["replay_dropped"] == 0);
  CHECK(la["gaps"] == 0);
  CHECK(lb["gaps"] == 0);
  CHECK(la["reconnects"] == 0);
  json hub_links = hub.stats()["links"];
  for (auto& l : hub_links) {
    CHECK(l["replay_dropped"] == 0);
    CHECK(l["gaps"] == 0);
  }

  stop_all({&a, &b, &hub});
}

TEST_CASE("a slow consumer whose link is cut every 50-200 ms still gets everything from a flooding producer") {
  // While rb's link is down the switch must hold ra back too, or its
  // buffer toward rb overflows.
  Cluster c;
  Node hub = c.start_switch(kSmallReplay);
  probe::FaultProxy proxy_a(hub.link_port), proxy_b(hub.link_port);
  Node b = c.start_router("rb", proxy_b.port(), slow_consumer(20), kShare + kSmallReplay);
  Node a = c.start_router("ra", proxy_a.port(), kProducer, kShare + kSmallReplay);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);

  proxy_a.start_cutting(50ms, 200ms);
  proxy_b.start_cutting(50ms, 200ms);
  constexpr std::uint64_t kTotal = 40'000;
  for (int batch = 0; batch < 4; ++batch) {
    json sent = a.post("/events/probe.start", {{"count", kTotal / 4}});
    INFO("probe.start answered " << sent.dump());
    CHECK(sent["sent"] == (batch + 1) * kTotal / 4);
  }
  wait_received(b, kTotal, 120s);
  proxy_a.stop_cutting();
  proxy_b.stop_cutting();

  json report = b.report();
  check_exactly_once(report, kTotal);
  INFO("cuts: " << proxy_a.cuts() << " + " << proxy_b.cuts());
  CHECK(proxy_a.cuts() + proxy_b.cuts() >= 4);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  json hub_links = hub.stats()["links"];
  INFO("hub links: " << hub_links.dump());
  for (auto& l : hub_links) CHECK(l["replay_dropped"] == 0);
  CHECK(a.link()["replay_dropped"] == 0);
  CHECK(b.link()["gaps"] == 0);

  stop_all({&a, &b, &hub});
}

TEST_CASE("the switch stopped for 10 s and started again loses nothing and duplicates nothing") {
  Cluster c;
  Node hub = c.start_switch();
  const unsigned short link_port = hub.link_port;
  Node b = c.start_router("rb", link_port, kConsumer, kShare);
  Node a = c.start_router("ra", link_port, kProducer, kShare);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);

  json first = a.post("/events/probe.start", {{"count", 50'000}});
  INFO("probe.start answered " << first.dump());
  CHECK(first["sent"] == 50'000);
  hub.process->signal(SIGTERM);  // while those are still flowing
  REQUIRE(hub.process->wait_exit(15s) == 0);
  // During the outage the producer keeps sending into its replay buffer.
  CHECK(a.post("/events/probe.start", {{"count", 50'000}})["sent"] == 100'000);
  std::this_thread::sleep_for(10s);
  CHECK(a.link()["state"] != "up");
  CHECK(a.link()["replay_frames"].get<std::uint64_t>() > 0);

  Node hub2 = c.start_switch("", link_port, "switch2");
  wait_received(b, 100'000, 60s);
  json report = b.report();
  check_exactly_once(report, 100'000);
  // The first switch drained before it went: no gap to report.
  CHECK(b.link()["gaps"] == 0);
  CHECK(a.link()["gaps"] == 0);
  CHECK(a.link()["reconnects"].get<int>() >= 1);

  stop_all({&a, &b, &hub2});
}

TEST_CASE("a wrong secret is refused and a 2 GiB frame closes only its own link while the switch keeps serving") {
  Cluster c;
  c.dir.write("cluster.key", "correct horse battery staple\n");
  c.dir.write("wrong.key", "not the secret\n");
  ::chmod((c.dir.path() / "cluster.key").c_str(), 0600);
  ::chmod((c.dir.path() / "wrong.key").c_str(), 0600);
  Node hub = c.start_switch("  secret_file: cluster.key\n");
  Node b = c.start_router("rb", hub.link_port, kConsumer, kShare + "  secret_file: cluster.key\n");
  Node a = c.start_router("ra", hub.link_port, kProducer, kShare + "  secret_file: cluster.key\n");
  Node intruder = c.start_router("rx", hub.link_port, kProducer, kShare + "  secret_file: wrong.key\n");
  Node nosecret = c.start_router("rn", hub.link_port, kProducer, kShare);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);

  REQUIRE(hub.process->wait_output("authentication refused: wrong secret", 10s));
  REQUIRE(hub.process->wait_output("authentication refused: the peer sent no credentials", 10s));
  CHECK(intruder.link()["state"] != "up");
  CHECK(nosecret.link()["state"] != "up");
  CHECK(hub.stats()["links"].size() == 2);  // only ra and rb were admitted

  // A raw client claims a frame of 2 GiB: the switch closes that connection
  // without reserving memory for it.
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), hub.link_port});
    const unsigned char head[5] = {0x00, 0x00, 0x00, 0x80, 0x01};
    boost::asio::write(s, boost::asio::buffer(head));
    std::array<char, 4096> buf{};
    boost::system::error_code ec;
    std::size_t total = 0;
    for (;;) {  // the hello, maybe a close frame, then end of stream
      const std::size_t n = s.read_some(boost::asio::buffer(buf), ec);
      total += n;
      if (ec) break;
    }
    CHECK((ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset));
  }
  REQUIRE(hub.process->wait_output("frame length 2147483648 out of range", 10s));
  std::ifstream status("/proc/" + std::to_string(hub.process->pid()) + "/status");
  std::string line;
  long rss_kb = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss_kb = std::stol(line.substr(6));
  }
  CHECK(rss_kb > 0);
  CHECK(rss_kb < 256 * 1024);

  // Garbage instead of a hello is refused the same way.
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), hub.link_port});
    boost::asio::write(s, boost::asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    std::array<char, 4096> buf{};
    boost::system::error_code ec;
    while (!ec) s.read_some(boost::asio::buffer(buf), ec);
  }

  // The admitted routers never noticed.
  CHECK(a.post("/events/probe.start", {{"count", 500}})["sent"] == 500);
  wait_received(b, 500, 20s);
  CHECK(a.post("/events/demo.echo", {{"text", "still here"}})["text"] == "still here");
  CHECK(link_up(a));
  CHECK(link_up(b));

  stop_all({&a, &b, &intruder, &nosecret, &hub});
}

TEST_CASE("a tunnel crosses the switch through a link cut every 50-500 ms with every byte in order") {
  Cluster c;
  Node hub = c.start_switch();
  probe::FaultProxy proxy(hub.link_port);
  const std::string share = "  share: [\"bytes.>\", \"demo.>\"]\n";
  Node b = c.start_router("rb", hub.link_port,
                          "  - {name: sink, plugin: tunnel_probe, executor: {type: thread, workers: 2}, config: {role: sink, delay_ms: 1}}\n"
                          "  - {name: echo, plugin: echo}\n",
                          share);
  Node a = c.start_router("ra", proxy.port(),
                          "  - {name: source, plugin: tunnel_probe, executor: {type: process, workers: 1}, config: {role: source}}\n",
                          share);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);

  proxy.start_cutting(50ms, 500ms);
  // 2048 messages that take the receiver 1 ms or more each: the stream
  // outlives many cuts.
  constexpr std::uint64_t kBytes = 64ull << 20;
  json sent = a.post("/events/source.stream?timeout_ms=170000", {{"bytes", kBytes}, {"chunk", 32768}});
  INFO(sent.dump());
  REQUIRE(sent["ok"] == true);
  json got;
  REQUIRE(wait_until(
      [&] {
        got = b.post("/events/sink.report");
        return got["done"] == true;
      },
      60s));
  proxy.stop_cutting();
  CHECK(got["status"] == "ok");
  CHECK(got["bytes"] == kBytes);
  CHECK(got["checksum"] == sent["checksum"]);
  CHECK(got["from"] == "source");
  INFO("cuts: " << proxy.cuts());
  CHECK(proxy.cuts() >= 3);
  CHECK(a.link()["reconnects"].get<int>() >= 3);
  CHECK(a.stats()["tunnels"]["accepted"] == 1);
  CHECK(b.stats()["tunnels"]["bytes"].get<std::uint64_t>() == kBytes);

  stop_all({&a, &b, &hub});
}

TEST_CASE("SIGHUP with changed connector settings keeps the link and says they need a restart") {
  Cluster c;
  Node hub = c.start_switch();
  Node b = c.start_router("rb", hub.link_port, kConsumer, kShare);
  REQUIRE(wait_until([&] { return link_up(b); }, 20s));
  const auto reconnects = b.link()["reconnects"].get<int>();
  // The same file with one more shared pattern.
  const std::string cfg = (c.dir.path() / "rb.yaml").string();
  std::ifstream in(cfg);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("\"news.>\""), 8, "\"news.>\", \"more.>\"");
  c.dir.write("rb.yaml", text);
  b.process->signal(SIGHUP);
  REQUIRE(b.process->wait_output("take effect at the next restart", 10s));
  CHECK(link_up(b));
  CHECK(b.link()["reconnects"].get<int>() == reconnects);
  stop_all({&b, &hub});
}

#include "cluster/link_auth.hpp"
#include "cluster/link_session.hpp"
#include "cluster/link_state.hpp"
#include "cluster/wire.hpp"
#include "event/event.hpp"
#include "support/event_frames.hpp"

namespace {

// A local process that speaks the link protocol itself: it links to the
// switch under its own id (the shipped example switch has no secret, so any
// local process may) and then sends whatever frames it likes.
class RawPeer : public edrid::cluster::LinkHooks {
 public:
  RawPeer(unsigned short link_port, const std::string& id) : state_("hub", edrid::cluster::ReplayLimits{}) {
    using namespace edrid::cluster;
    boost::asio::ip::tcp::socket socket(io_);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), link_port});
    Hello self;
    self.role = Role::router;
    self.incarnation = random_incarnation();
    self.router_id = id;
    session_ = std::make_shared<LinkSession>(edrid::cluster::LinkStream(std::move(socket)), settings_, self, Role::switch_, *this);
    session_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RawPeer() override {
    boost::asio::post(io_, [this] { session_->close("test over", false); });
    work_.reset();
    thread_.join();
  }
  bool wait_up(std::chrono::milliseconds within) {
    return wait_until([&] { return up_.load(); }, within);
  }
  void send(const std::string& frame) {
    REQUIRE(state_.enqueue(frame, true));
    boost::asio::post(io_, [this] { session_->flush(); });
  }
  void send_control(std::string frame) {
    boost::asio::post(io_, [this, frame = std::move(frame)]() mutable { session_->send_control(std::move(frame)); });
  }

  edrid::cluster::LinkState* attach(edrid::cluster::LinkSession&, const edrid::cluster::Hello&, std::string*) override {
    return &state_;
  }
  void established(edrid::cluster::LinkSession&) override { up_ = true; }
  void subscriptions(edrid::cluster::LinkSession&, std::vector<edrid::cluster::SubscriptionEntry>) override {}
  bool event(edrid::cluster::LinkSession&, const edrid::cluster::WireEvent& e, const std::uint8_t*, std::size_t) override {
    if (e.kind == EDRI_KIND_NOTIFICATION) ++notifications_;
    return true;
  }
  std::uint64_t notifications() const { return notifications_.load(); }
  void gap(edrid::cluster::LinkSession&, const edrid::cluster::Gap&) override {}
  void closed(edrid::cluster::LinkSession&, const std::string&) override {}

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  edrid::cluster::LinkSettings settings_;  // the session keeps a reference
  edrid::cluster::LinkState state_;
  std::shared_ptr<edrid::cluster::LinkSession> session_;
  std::atomic<bool> up_{false};
  std::atomic<std::uint64_t> notifications_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("an event forged with another router's origin is dropped at the switch, and that router is not cut off") {
  Cluster c;
  Node hub = c.start_switch();
  Node b = c.start_router("rb", hub.link_port, kConsumer, kShare);
  Node a = c.start_router("ra", hub.link_port, kProducer, kShare);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);

  {
    RawPeer mallory(hub.link_port, "mallory");
    REQUIRE(mallory.wait_up(10s));
    // The largest incarnation there is: were it believed, rb would take
    // every real event of ra as stale, for good.
    mallory.send(probe::event_frame({.type = "probe.seq",
                                     .payload = {{"from", "producer"}, {"n", 1}},
                                     .origin = "ra",
                                     .sender = "producer",
                                     .incarnation = ~std::uint64_t{0}}));
    REQUIRE(hub.process->wait_output("sent an event claiming origin 'ra'", 10s));
    // Patterns that do not parse (here: not even UTF-8) are ignored, not
    // passed on to other routers or written to the membership file.
    mallory.send_control(edrid::cluster::encode_subscriptions(
        {{EDRI_KIND_NOTIFICATION, "\xff.news"}, {EDRI_KIND_NOTIFICATION, "mallory.news"}}));
    REQUIRE(hub.process->wait_output("subscribed to a malformed pattern", 10s));
    REQUIRE(wait_until(
        [&] {
          std::ifstream in(c.dir.path() / "switch-hub.json");
          std::stringstream all;
          all << in.rdbuf();
          return all.str().find("mallory.news") != std::string::npos;
        },
        10s));
  }
  CHECK_THAT(hub.process->output(), Catch::Contains("router 'mallory'"));

  CHECK(a.post("/events/probe.start", {{"count", 500}})["sent"] == 500);
  wait_received(b, 500, 20s);
  check_exactly_once(b.report(), 500);
  bool counted = false;
  json links = hub.stats()["links"];
  INFO(links.dump());
  for (auto& l : links) counted = counted || (l["peer"] == "mallory" && l["refused_frames"] == 1);
  CHECK(counted);
  stop_all({&a, &b, &hub});
}

TEST_CASE("unauthenticated connections cost a few KiB each, are capped, and must finish the handshake in time") {
  Cluster c;
  c.dir.write("cluster.key", "correct horse battery staple\n");
  ::chmod((c.dir.path() / "cluster.key").c_str(), 0600);
  Node hub = c.start_switch("  secret_file: cluster.key\n");
  Node b = c.start_router("rb", hub.link_port, kConsumer, kShare + "  secret_file: cluster.key\n");
  Node a = c.start_router("ra", hub.link_port, kProducer, kShare + "  secret_file: cluster.key\n");
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);

  boost::asio::io_context io;
  auto connect = [&] {
    auto s = std::make_unique<boost::asio::ip::tcp::socket>(io);
    s->connect({boost::asio::ip::make_address("127.0.0.1"), hub.link_port});
    return s;
  };
  // A frame far over the pre-auth limit (but under max_frame_bytes) is
  // refused before a byte of it is buffered.
  {
    auto s = connect();
    const unsigned char head[5] = {0x01, 0x00, 0x10, 0x00, 0x01};  // 1 MiB + 1
    boost::asio::write(*s, boost::asio::buffer(head));
    REQUIRE(hub.process->wait_output("frame length 1048577 out of range (limit 4096)", 10s));
  }
  // One that sends a byte a second is never silent long enough to be a dead
  // peer, and is closed for not finishing its handshake (shipped 10 s).
  auto drip = connect();
  std::atomic<bool> dripping{true};
  std::thread dripper([&] {
    boost::system::error_code ec;
    const unsigned char head[4] = {100, 0, 0, 0};  // a 100-byte frame, then its body a byte at a time
    boost::asio::write(*drip, boost::asio::buffer(head), ec);
    const char byte = 1;
    while (dripping && !ec) {
      boost::asio::write(*drip, boost::asio::buffer(&byte, 1), ec);
      std::this_thread::sleep_for(1s);
    }
  });
  // 80 connections that never speak: past 64, refused at once.
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> idle;
  for (int i = 0; i < 80; ++i) idle.push_back(connect());
  CHECK(hub.process->wait_output("64 connections are still handshaking; refusing 127.0.0.1", 10s));
  CHECK(hub.process->wait_output("handshake not finished within 10000 ms", 20s));
  dripping = false;
  dripper.join();

  std::ifstream status("/proc/" + std::to_string(hub.process->pid()) + "/status");
  long rss_kb = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss_kb = std::stol(line.substr(6));
  }
  CHECK(rss_kb < 256 * 1024);
  // The admitted routers never noticed.
  CHECK(a.post("/events/probe.start", {{"count", 500}})["sent"] == 500);
  wait_received(b, 500, 20s);
  CHECK(link_up(a));
  CHECK(link_up(b));
  stop_all({&a, &b, &hub});
}

namespace {

void pause(const Node& n) { n.process->signal(SIGSTOP); }
void resume(const Node& n) { n.process->signal(SIGCONT); }

// Stops a node with `sig` and waits for it to be gone.
void stop_node(Node& n, int sig) {
  n.process->signal(sig);
  const int rc = n.process->wait_exit(30s);
  CHECK(rc == (sig == SIGKILL ? 128 + SIGKILL : 0));
}

const char* signal_name(int sig) { return sig == SIGKILL ? "SIGKILL" : "SIGTERM"; }

}  // namespace

TEST_CASE("a switch restart loses and duplicates nothing in either order of re-attachment (shipped defaults)") {
  const int sig = GENERATE(SIGKILL, SIGTERM);
  const bool publisher_first = GENERATE(true, false);
  INFO("switch stopped with " << signal_name(sig) << ", " << (publisher_first ? "publisher" : "subscriber")
                              << " re-attaches first");
  Cluster c;
  c.fast_links = false;
  Node hub = c.start_switch();
  const unsigned short link_port = hub.link_port;
  Routers r = start_routers(c, link_port);
  Node& a = r.a;
  Node& b = r.b;
  CHECK(a.post("/events/probe.start", {{"count", 1000}})["sent"] == 1000);
  wait_received(b, 1000, 30s);

  stop_node(hub, sig);
  // Accepted while the switch is away: in ra's replay buffer.
  CHECK(a.post("/events/probe.start", {{"count", 2000}})["sent"] == 3000);
  Node& late = publisher_first ? b : a;
  pause(late);
  Node hub2 = c.start_switch("", link_port, "switch2");
  Node& early = publisher_first ? a : b;
  REQUIRE(wait_until([&] { return link_up(early); }, 30s));
  // The switch settles (2 s) and the early one has resent; the late one is
  // still away for a while, as a slow restart or a long backoff would be.
  std::this_thread::sleep_for(6s);
  std::thread answer;
  json echoed;
  if (publisher_first) {
    // The publisher is not told "nobody subscribes" because the switch is
    // young: it sends into rb's buffer at the switch, and a request waits
    // for rb within its deadline.
    CHECK(a.post("/events/probe.start", {{"count", 1000}})["sent"] == 4000);
    answer = std::thread([&] { echoed = a.post("/events/demo.echo?timeout_ms=20000", {{"text", "wait for rb"}}); });
    std::this_thread::sleep_for(2s);
  }
  resume(late);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 30s));
  if (!publisher_first) CHECK(a.post("/events/probe.start", {{"count", 1000}})["sent"] == 4000);
  wait_received(b, 4000, 60s);
  check_exactly_once(b.report(), 4000);
  if (answer.joinable()) {
    answer.join();
    CHECK(echoed["_status"] == 200);
    CHECK(echoed["text"] == "wait for rb");
  }
  if (sig == SIGTERM) {
    // A switch that drained before it went has nothing to report. One that
    // was killed cannot say what it held: each router is told of a possible
    // gap (counted, logged, published as link.gap), though here none was lost.
    CHECK(b.link()["gaps"] == 0);
    CHECK(a.link()["gaps"] == 0);
  }
  stop_all({&a, &b, &hub2});
}

TEST_CASE("a router stopped (SIGTERM or SIGKILL) and started again finds what was sent to it meanwhile") {
  const int sig = GENERATE(SIGTERM, SIGKILL);
  INFO("rb stopped with " << signal_name(sig));
  Cluster c;
  c.fast_links = false;
  Node hub = c.start_switch();
  Routers r = start_routers(c, hub.link_port);
  Node& a = r.a;
  Node& b = r.b;
  CHECK(a.post("/events/probe.start", {{"count", 1000}})["sent"] == 1000);
  wait_received(b, 1000, 30s);  // its queue is empty: a SIGKILL loses nothing of these

  stop_node(b, sig);
  // Sent while rb is down: the switch keeps rb's interest and buffers them.
  json sent = a.post("/events/probe.start", {{"count", 2000}});
  CHECK(sent["sent"] == 3000);
  std::this_thread::sleep_for(3s);
  Node b2 = c.start_router("rb", hub.link_port, kConsumer, kShare);
  REQUIRE(wait_until([&] { return link_up(b2); }, 30s));
  wait_received(b2, 2000, 60s);
  json report = b2.report();
  INFO(report.dump());
  CHECK(report["received"] == 2000);  // a new process counts from 0: 1001..3000
  CHECK(report["duplicates"] == 0);
  CHECK(report["out_of_order"].get<int>() <= 1);  // its first event is 1001, not 1
  CHECK(report["senders"]["producer"] == 3000);
  stop_all({&a, &b2, &hub});
}

TEST_CASE("a second router with an id already linked is refused, named on both sides, and the first keeps its link") {
  Cluster c;
  Node hub = c.start_switch();
  Node b = c.start_router("rb", hub.link_port, kConsumer, kShare);
  Node a = c.start_router("ra", hub.link_port, kProducer, kShare);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 20s));
  wait_for_route(a);
  Node twin = c.start_router("rb", hub.link_port, kConsumer, kShare);
  REQUIRE(hub.process->wait_output("refused a second router with id 'rb'", 20s));
  REQUIRE(twin.process->wait_output("router id 'rb' is already linked", 20s));
  std::this_thread::sleep_for(2s);  // the twin keeps trying; it never gets in
  CHECK(twin.link()["state"] != "up");
  CHECK(a.post("/events/probe.start", {{"count", 1000}})["sent"] == 1000);
  wait_received(b, 1000, 20s);
  check_exactly_once(b.report(), 1000);
  CHECK(twin.report()["received"] == 0);
  CHECK(b.link()["reconnects"] == 0);
  stop_all({&a, &b, &twin, &hub});
}

TEST_CASE("a random schedule of switch restarts and paused routers loses and duplicates nothing") {
  // EDRI_CHAOS_ROUNDS=N runs longer; EDRI_CHAOS_SEED=S repeats a schedule.
  const int rounds = std::getenv("EDRI_CHAOS_ROUNDS") ? std::atoi(std::getenv("EDRI_CHAOS_ROUNDS")) : 4;
  const unsigned seed = std::getenv("EDRI_CHAOS_SEED") ? static_cast<unsigned>(std::atoi(std::getenv("EDRI_CHAOS_SEED")))
                                                       : std::random_device{}();
  std::mt19937 rng(seed);
  WARN("chaos: " << rounds << " rounds, seed " << seed);
  Cluster c;
  c.fast_links = false;
  std::optional<Node> hub(c.start_switch());
  const unsigned short link_port = hub->link_port;
  Routers r = start_routers(c, link_port);
  Node& a = r.a;
  Node& b = r.b;
  std::uint64_t sent = 0;
  auto send = [&](int n) {
    json r = a.post("/events/probe.start", {{"count", n}});
    REQUIRE(r["_status"] == 200);
    sent = r["sent"].get<std::uint64_t>();
  };
  auto ms = [&](int lo, int hi) { return std::chrono::milliseconds(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int round = 0; round < rounds; ++round) {
    send(std::uniform_int_distribution<int>(100, 5000)(rng));
    const int fault = std::uniform_int_distribution<int>(0, 4)(rng);
    static constexpr const char* kFaults[] = {"switch SIGKILL", "switch SIGTERM", "subscriber paused",
                                              "publisher paused", "switch paused"};
    WARN("round " << round << ": " << kFaults[fault] << " (sent " << sent << ", dir " << c.dir.path().string() << ")");
    switch (fault) {
      case 0:
      case 1: {  // the switch killed or stopped, away for a while, back on its port
        stop_node(*hub, fault == 0 ? SIGKILL : SIGTERM);
        send(500);
        std::this_thread::sleep_for(ms(0, 4000));
        // Sometimes one router is slow to come back.
        Node* slow = std::uniform_int_distribution<int>(0, 2)(rng) == 0 ? &b : nullptr;
        if (slow) pause(*slow);
        hub.emplace(c.start_switch("", link_port, "switch" + std::to_string(round)));
        if (slow) {
          std::this_thread::sleep_for(ms(1000, 8000));
          send(300);
          resume(*slow);
        }
        break;
      }
      case 2:  // the subscriber paused
        pause(b);
        send(500);
        std::this_thread::sleep_for(ms(500, 7000));
        resume(b);
        break;
      case 3:  // the publisher paused with events in flight
        pause(a);
        std::this_thread::sleep_for(ms(500, 7000));
        resume(a);
        break;
      case 4:  // the switch paused
        pause(*hub);
        std::this_thread::sleep_for(ms(500, 7000));
        resume(*hub);
        break;
    }
    REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 60s));
    // Caught up before the next fault: events a switch keeps for a router
    // that was away live in its memory only, and a SIGKILL of the switch
    // loses them (protocol.md, "What each stop keeps"). In flight between
    // linked routers, nothing is lost, and the next round's fault strikes
    // right after a burst.
    wait_received(b, sent, 120s);
  }
  send(100);
  wait_received(b, sent, 120s);
  check_exactly_once(b.report(), sent);
  stop_all({&a, &b, &*hub});
}

TEST_CASE("a switch killed with thousands of events in flight to a slow router loses none of them") {
  Cluster c;
  c.fast_links = false;
  Node hub = c.start_switch();
  const unsigned short link_port = hub.link_port;
  Routers r = start_routers(c, link_port, slow_consumer(50));
  Node& a = r.a;
  Node& b = r.b;
  // The producer is held back by the slow consumer (end-to-end acks), so the
  // post lasts about as long as rb takes: the switch dies while it runs,
  // once rb has some of the events and well before it has them all.
  json started;
  std::thread producer([&] { started = a.post("/events/probe.start?timeout_ms=120000", {{"count", 30'000}}); });
  std::uint64_t before = 0;
  REQUIRE(wait_until([&] { return (before = b.report().value("received", std::uint64_t{0})) >= 2'000; }, 60s));
  INFO("rb had " << before << " when the switch was killed");
  CHECK(before < 30'000);
  stop_node(hub, SIGKILL);
  Node hub2 = c.start_switch("", link_port, "switch2");
  wait_received(b, 30'000, 120s);
  producer.join();
  CHECK(started["sent"] == 30'000);
  check_exactly_once(b.report(), 30'000);
  stop_all({&a, &b, &hub2});
}

TEST_CASE("a publishing router stopped with SIGTERM mid-stream delivers everything it accepted before it exits") {
  Cluster c;
  c.fast_links = false;
  Node hub = c.start_switch();
  Routers r = start_routers(c, hub.link_port);
  Node& a = r.a;
  Node& b = r.b;
  // Accepted (sent returned) and at once told to stop: ra drains its link
  // before it exits.
  CHECK(a.post("/events/probe.start", {{"count", 50'000}})["sent"] == 50'000);
  stop_node(a, SIGTERM);
  wait_received(b, 50'000, 60s);
  // Back as a new incarnation (its producer under another name, as its
  // numbering starts again): events flow at once.
  Node a2 = c.start_router("ra", hub.link_port,
                           "  - {name: producer2, plugin: cluster_probe, config: {role: producer}}\n", kShare);
  REQUIRE(wait_until([&] { return link_up(a2); }, 30s));
  wait_for_route(a2);
  CHECK(a2.post("/events/probe.start", {{"count", 1000}})["sent"] == 1000);
  wait_received(b, 51'000, 60s);
  json report = b.report();
  INFO(report.dump());
  CHECK(report["duplicates"] == 0);
  CHECK(report["out_of_order"] == 0);
  CHECK(report["senders"]["producer"] == 50'000);
  CHECK(report["senders"]["producer2"] == 1000);
  stop_all({&a2, &b, &hub});
}

TEST_CASE("a publisher killed with events waiting on a paused router comes back and is acknowledged as before") {
  Cluster c;
  c.fast_links = false;
  Node hub = c.start_switch();
  Routers r = start_routers(c, hub.link_port);
  Node& a = r.a;
  Node& b = r.b;
  // rb stops reading: ra's events wait at the switch for rb's acks, so ra's
  // are held back too, when ra dies.
  pause(b);
  CHECK(a.post("/events/probe.start", {{"count", 2000}})["sent"] == 2000);
  std::this_thread::sleep_for(300ms);
  stop_node(a, SIGKILL);
  Node a2 = c.start_router("ra", hub.link_port,
                           "  - {name: producer2, plugin: cluster_probe, config: {role: producer}}\n", kShare);
  REQUIRE(wait_until([&] { return link_up(a2); }, 30s));
  // Its new numbering starts again while the old incarnation's frames still
  // wait on rb (paused for less than dead_peer_ms).
  std::this_thread::sleep_for(500ms);
  CHECK(a2.post("/events/probe.start", {{"count", 1000}})["sent"] == 1000);
  resume(b);
  // More than the old incarnation sent: its numbering passes the old one's.
  CHECK(a2.post("/events/probe.start", {{"count", 4000}})["sent"] == 5000);
  REQUIRE(wait_until([&] { return b.report()["senders"].value("producer2", 0) == 5000; }, 30s));
  // The new incarnation's frames are acknowledged end to end like any.
  CHECK(wait_until(
      [&] {
        json l = a2.link();
        return l.value("acked_seq", 0) == l.value("sent_seq", 1);
      },
      20s));
  stop_all({&a2, &b, &hub});
}

namespace {
std::string tls_yaml(const std::filesystem::path& ca, const probe::TlsCerts::Pair* own) {
  std::string y = "  tls:\n";
  if (!ca.empty()) y += "    ca: \"" + ca.string() + "\"\n";
  if (own) y += "    cert: \"" + own->cert.string() + "\"\n    key: \"" + own->key.string() + "\"\n";
  return y;
}
}  // namespace

TEST_CASE("links over mutual TLS carry events exactly once, also through link cuts (shipped defaults)") {
  Cluster c;
  c.fast_links = false;
  probe::TlsCerts certs(c.dir.path(), "edri");
  Node hub = c.start_switch(tls_yaml(certs.ca(), &certs.server()));
  // The routers reach the switch as "localhost" (its certificate's name)
  // through proxies that cut the connections now and then.
  probe::FaultProxy proxy_a(hub.link_port), proxy_b(hub.link_port);
  const std::string router_tls = tls_yaml(certs.ca(), &certs.client()) + "    server_name: localhost\n";
  Node b = c.start_router("rb", proxy_b.port(), kConsumer, kShare + router_tls);
  Node a = c.start_router("ra", proxy_a.port(), kProducer, kShare + router_tls);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 30s));
  wait_for_route(a);
  proxy_a.start_cutting(300ms, 1500ms);
  constexpr std::uint64_t kTotal = 20'000;
  for (int batch = 0; batch < 4; ++batch) {
    CHECK(a.post("/events/probe.start", {{"count", kTotal / 4}})["sent"] == (batch + 1) * kTotal / 4);
    std::this_thread::sleep_for(400ms);
  }
  wait_received(b, kTotal, 120s);
  proxy_a.stop_cutting();
  check_exactly_once(b.report(), kTotal);
  CHECK(proxy_a.cuts() >= 1);
  // Requests cross too.
  auto echo = a.post("/events/demo.echo", {{"text", "over tls"}});
  CHECK(echo["text"] == "over tls");
  stop_all({&a, &b, &hub});
}

TEST_CASE("a TLS switch turns away plain, unknown-CA and certificate-less routers, and goes on serving") {
  Cluster c;
  probe::TlsCerts certs(c.dir.path(), "edri");
  probe::TlsCerts rogue(c.dir.path(), "rogue");
  Node hub = c.start_switch(tls_yaml(certs.ca(), &certs.server()));
  // Plain TCP to a TLS switch.
  Node plain = c.start_router("plain", hub.link_port, kConsumer);
  // A router that trusts another CA: the switch's certificate does not verify.
  Node doubter = c.start_router("doubter", hub.link_port, kConsumer,
                                tls_yaml(rogue.ca(), &rogue.client()) + "    server_name: localhost\n");
  // A router without a client certificate, to a switch that requires one.
  Node anonymous = c.start_router("anonymous", hub.link_port, kConsumer,
                                  tls_yaml(certs.ca(), nullptr) + "    server_name: localhost\n");
  // A router with a certificate from another CA.
  Node stranger = c.start_router("stranger", hub.link_port, kConsumer,
                                 tls_yaml(certs.ca(), &rogue.client()) + "    server_name: localhost\n");
  // One that does everything right links while the others keep failing.
  Node good = c.start_router("good", hub.link_port, kConsumer,
                             tls_yaml(certs.ca(), &certs.client()) + "    server_name: localhost\n");
  REQUIRE(wait_until([&] { return link_up(good); }, 20s));
  REQUIRE(wait_until([&] { return doubter.process->output().find("certificate verify failed") != std::string::npos; },
                     20s));
  REQUIRE(wait_until([&] { return hub.process->output().find("TLS handshake with 127.0.0.1 failed") != std::string::npos; },
                     20s));
  for (Node* n : {&plain, &doubter, &anonymous, &stranger}) {
    INFO(n->process->output());
    CHECK_FALSE(link_up(*n));
  }
  CHECK(hub.stats()["links"].size() == 1);
  stop_all({&plain, &doubter, &anonymous, &stranger, &good, &hub});
}

TEST_CASE("a TLS file that does not load is a config error at its line") {
  probe::TempDir dir;
  auto cfg = dir.write("tls.yaml", "router: {id: r}\nswitch:\n  listen: \"127.0.0.1:0\"\n  tls:\n"
                                   "    cert: nowhere.pem\n    key: nowhere-key.pem\nmanagers: []\n");
  auto [rc, out] = probe::run_to_end({kEdrid, "--check-config", "-c", cfg.string()}, dir.path() / "check.log");
  CHECK(rc != 0);
  CHECK_THAT(out, Catch::Contains(cfg.string() + ":5:5: tls: cannot load certificate " + (dir.path() / "nowhere.pem").string()));
}

TEST_CASE("a TLS switch closes a connection that never finishes its TLS handshake (shipped 10 s)") {
  Cluster c;
  probe::TlsCerts certs(c.dir.path(), "edri");
  Node hub = c.start_switch(tls_yaml(certs.ca(), &certs.server()));
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket silent(io);
  silent.connect({boost::asio::ip::make_address("127.0.0.1"), hub.link_port});
  const auto start = std::chrono::steady_clock::now();
  char b;
  boost::system::error_code ec;
  silent.read_some(boost::asio::buffer(&b, 1), ec);  // blocks until the switch gives up
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK((ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset));
  CHECK(waited >= 9s);
  CHECK(hub.process->wait_output("TLS handshake with 127.0.0.1 failed", 5s));
  stop_all({&hub});
}

namespace {
// A group of three workers over two routers: w1 and w2 on rb, w3 on ra next
// to the producer and the sink that counts what the workers finished. rb
// also runs a consumer outside the group: it must still get every event.
const std::string kWorkersB = "  - {name: consumer, plugin: cluster_probe, config: {role: consumer}}\n"
                              "  - {name: w1, plugin: cluster_probe, group: crunch, config: {role: worker, delay_us: 400}}\n"
                              "  - {name: w2, plugin: cluster_probe, group: crunch, config: {role: worker, delay_us: 400}}\n";
const std::string kWorkersA = kProducer +
                              "  - {name: sink, plugin: cluster_probe, config: {role: sink}}\n"
                              "  - {name: w3, plugin: cluster_probe, group: crunch, config: {role: worker, delay_us: 400}}\n";
const std::string kShareWork = "  share: [\"demo.>\", \"probe.>\"]\n";

json tally(const Node& n) { return n.post("/events/probe.tally"); }

void wait_tally(const Node& n, std::uint64_t distinct, std::chrono::milliseconds within) {
  json last;
  const bool ok = wait_until(
      [&] {
        last = tally(n);
        return last.value("distinct", std::uint64_t{0}) >= distinct;
      },
      within);
  INFO("last tally: " << last.dump());
  REQUIRE(ok);
}

// The link to `peer` as the switch sees it.
json hub_link(const Node& hub, const std::string& peer) {
  for (auto& l : hub.stats().value("links", json::array())) {
    if (l.value("peer", "") == peer) return l;
  }
  return json::object();
}
}  // namespace

TEST_CASE("a group over two routers takes each event once, shares it by load, and a member router that goes stops "
          "getting work (shipped defaults)") {
  Cluster c;
  c.fast_links = false;
  Node hub = c.start_switch();
  Node b = c.start_router("rb", hub.link_port, kWorkersB, kShareWork);
  Node a = c.start_router("ra", hub.link_port, kWorkersA, kShareWork);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 30s));
  // ra knows rb's members: requests to the group are answered by all three in turn.
  std::set<std::string> answered;
  REQUIRE(wait_until(
      [&] {
        json who = a.post("/events/probe.who");
        if (who["_status"] == 200) answered.insert(who.value("by", ""));
        return answered.size() == 3;
      },
      30s));

  // The handlers' 400 us dominate what an event costs the routers, so the
  // three members are equally fast even on a loaded machine.
  constexpr std::uint64_t kEvents = 15'000;
  CHECK(a.post("/events/probe.start", {{"count", kEvents}})["sent"] == kEvents);
  wait_tally(a, kEvents, 120s);
  json t = tally(a);
  INFO("tally: " << t.dump());
  CHECK(t["distinct"] == kEvents);
  CHECK(t["duplicates"] == 0);
  // Least work per member: equal workers get shares within 20 % of a third.
  const double third = kEvents / 3.0;
  for (const char* w : {"w1", "w2", "w3"}) {
    CHECK(t["by"].value(w, 0.0) >= 0.8 * third);
    CHECK(t["by"].value(w, 0.0) <= 1.2 * third);
  }
  // Outside the group, fan-out as before: rb's consumer has every event.
  wait_received(b, kEvents, 60s);
  check_exactly_once(b.report(), kEvents);
  const std::uint64_t w3_before = t["by"].value("w3", std::uint64_t{0});

  // rb goes; once the switch knows, all group work stays with w3 on ra.
  stop_node(b, SIGKILL);
  REQUIRE(wait_until([&] { return hub_link(hub, "rb").value("state", "") != "up"; }, 30s));
  REQUIRE(wait_until([&] { return a.post("/events/probe.who").value("by", "") == "w3"; }, 10s));
  CHECK(a.post("/events/probe.start", {{"count", 3000}})["sent"] == kEvents + 3000);
  wait_tally(a, kEvents + 3000, 60s);
  t = tally(a);
  CHECK(t["by"]["w3"] == w3_before + 3000);
  CHECK(t["duplicates"] == 0);

  // rb comes back: the group spreads again.
  Node b2 = c.start_router("rb", hub.link_port, kWorkersB, kShareWork);
  REQUIRE(wait_until([&] { return link_up(b2); }, 30s));
  answered.clear();
  REQUIRE(wait_until(
      [&] {
        answered.insert(a.post("/events/probe.who").value("by", ""));
        return answered.count("w1") + answered.count("w2") > 0;
      },
      30s));
  CHECK(a.post("/events/probe.start", {{"count", 3000}})["sent"] == kEvents + 6000);
  wait_tally(a, kEvents + 6000, 60s);
  t = tally(a);
  INFO("tally: " << t.dump());
  CHECK(t["duplicates"] == 0);
  CHECK(t["by"]["w3"].get<std::uint64_t>() < w3_before + 3000 + 3000);
  stop_all({&a, &b2, &hub});
}

TEST_CASE("100 000 at-least-once events over a group on two routers, one member segfaulting every 10th event and its "
          "router killed mid-run, are each finished (shipped defaults)") {
  Cluster c;
  c.fast_links = false;
  Node hub = c.start_switch();
  const std::string members =
      "  - {name: w1, plugin: cluster_probe, group: crunch, delivery: at_least_once,"
      " config: {role: worker, delay_us: 20}}\n"
      "  - {name: w2, plugin: cluster_probe, group: crunch, delivery: at_least_once,"
      " executor: {type: process, workers: 2}, config: {role: worker, delay_us: 20, crash_every: 10}}\n";
  Node b = c.start_router("rb", hub.link_port, members, kShareWork);
  Node a = c.start_router("ra", hub.link_port,
                          kProducer + "  - {name: sink, plugin: cluster_probe, config: {role: sink}}\n"
                                      "  - {name: w3, plugin: cluster_probe, group: crunch, delivery: at_least_once,"
                                      " config: {role: worker, delay_us: 20}}\n",
                          kShareWork);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 30s));
  std::set<std::string> answered;
  REQUIRE(wait_until(
      [&] {
        answered.insert(a.post("/events/probe.who").value("by", ""));
        return answered.count("w1") + answered.count("w2") > 0;
      },
      30s));

  constexpr std::uint64_t kEvents = 100'000, kChunk = 10'000;
  std::uint64_t sent = 0;
  bool killed = false;
  while (sent < kEvents) {
    json r = a.post("/events/probe.start", {{"count", kChunk}});
    REQUIRE(r["_status"] == 200);
    sent += kChunk;
    if (!killed && tally(a).value("distinct", 0) >= 30'000) {
      // Mid-run: rb dies with work queued, running and finished but not yet settled.
      b.process->signal(SIGKILL);
      CHECK(b.process->wait_exit(30s) == 128 + SIGKILL);
      killed = true;
    }
  }
  if (!killed) {
    b.process->signal(SIGKILL);
    b.process->wait_exit(30s);
  }
  wait_tally(a, kEvents, 300s);
  json t = tally(a);
  INFO("tally: " << t.dump());
  CHECK(t["distinct"] == kEvents);
  CHECK(t["by"].value("w3", 0) > 0);
  CHECK(t["by"].value("w1", 0) + t["by"].value("w2", 0) > 0);
  // What rb held went to w3; what it finished but had not said so may be done twice.
  CHECK(hub.process->wait_output("placing them on other members", 10s));
  CHECK(b.process->output().find("killed by signal 11") != std::string::npos);
  stop_all({&a, &hub});
}

TEST_CASE("a member router stopped with SIGTERM hands its unstarted at-least-once group work to the other router") {
  Cluster c;
  Node hub = c.start_switch();
  const std::string slow_member = "  - {name: w1, plugin: cluster_probe, group: crunch, delivery: at_least_once,"
                                  " config: {role: worker, delay_us: 10000}}\n";
  Node b = c.start_router("rb", hub.link_port, slow_member, kShareWork);
  Node a = c.start_router("ra", hub.link_port,
                          kProducer + "  - {name: sink, plugin: cluster_probe, config: {role: sink}}\n"
                                      "  - {name: w3, plugin: cluster_probe, group: crunch, delivery: at_least_once,"
                                      " config: {role: worker, delay_us: 10000}}\n",
                          kShareWork);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 30s));
  REQUIRE(wait_until([&] { return a.post("/events/probe.who").value("by", "") == "w1"; }, 30s));
  constexpr std::uint64_t kEvents = 2000;  // 10 s of work for each of the two
  CHECK(a.post("/events/probe.start", {{"count", kEvents}})["sent"] == kEvents);
  std::this_thread::sleep_for(500ms);
  stop_node(b, SIGTERM);  // the shipped stop_grace_ms, 5000: w1 finishes about half, hands back the rest
  wait_tally(a, kEvents, 60s);
  json t = tally(a);
  INFO("tally: " << t.dump() << "\nrb:\n" << b.process->output());
  CHECK(t["distinct"] == kEvents);
  CHECK(t["duplicates"] == 0);  // a stop settles what it finished before it says goodbye
  CHECK(t["by"].value("w1", 0) > 0);
  CHECK(t["by"].value("w1", 0) < 900);
  CHECK(t["by"].value("w3", 0) > 1100);
  CHECK(b.process->output().find("handing them back") != std::string::npos);
  stop_all({&a, &hub});
}

TEST_CASE("at-least-once group requests the switch places back on their own router are settled there, so the "
          "switch holds nothing once they are answered (shipped defaults)") {
  Cluster c;
  c.fast_links = false;
  Node hub = c.start_switch();
  const std::string member = "  - {name: w1, plugin: cluster_probe, group: crunch, delivery: at_least_once,"
                             " config: {role: worker}}\n";
  Node b = c.start_router("rb", hub.link_port, member, kShareWork);
  Node a = c.start_router("ra", hub.link_port,
                          kProducer + "  - {name: w3, plugin: cluster_probe, group: crunch, delivery: at_least_once,"
                                      " config: {role: worker}}\n",
                          kShareWork);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 30s));
  std::map<std::string, int> by;
  REQUIRE(wait_until(
      [&] {
        json who = a.post("/events/probe.who");
        if (who["_status"] == 200) ++by[who.value("by", "")];
        return by["w1"] >= 5 && by["w3"] >= 5;
      },
      30s));
  // Each answered request's work is over on both routers: nothing stays
  // held at the switch, and ra waits for no response.
  json ra, rb;
  const bool settled = wait_until(
      [&] {
        ra = hub_link(hub, "ra");
        rb = hub_link(hub, "rb");
        return ra.value("held_work", -1) == 0 && rb.value("held_work", -1) == 0;
      },
      30s);
  INFO("ra link: " << ra.dump() << "\nrb link: " << rb.dump() << "\nw1 " << by["w1"] << " w3 " << by["w3"]);
  CHECK(settled);
  CHECK(a.stats()["events"]["pending_requests"] == 0);
  // Killing rb now places nothing again: every request was answered.
  stop_node(b, SIGKILL);
  REQUIRE(wait_until([&] { return hub_link(hub, "rb").value("state", "") != "up"; }, 30s));
  std::this_thread::sleep_for(500ms);
  CHECK_FALSE(hub.process->output().find("placing them on other members") != std::string::npos);
  stop_all({&a, &hub});
}

TEST_CASE("a content filter travels with its subscription: events no router takes stay on the publishing router "
          "(shipped defaults)") {
  Cluster c;
  c.fast_links = false;
  Node hub = c.start_switch();
  Node b = c.start_router("rb", hub.link_port,
                          "  - {name: consumer, plugin: cluster_probe, config: {role: consumer},\n"
                          "     filters: {probe.seq: {n: {lte: 1000}}}}\n"
                          "  - {name: echo, plugin: echo}\n",
                          kShareWork);
  Node a = c.start_router("ra", hub.link_port, kProducer, kShareWork);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b); }, 30s));
  wait_for_route(a);
  CHECK(a.post("/events/probe.start", {{"count", 5000}})["sent"] == 5000);
  wait_received(b, 1000, 60s);
  std::this_thread::sleep_for(500ms);
  check_exactly_once(b.report(), 1000);
  // The other 4000 never left ra: its link carried the first 1000 only.
  json events = a.stats()["events"];
  INFO("ra events: " << events.dump());
  CHECK(events["filtered_remote"] == 4000);
  CHECK(events["sent_remote"].get<std::uint64_t>() >= 1000);
  CHECK(events["sent_remote"].get<std::uint64_t>() < 1000 + 20);
  // rb's own view: nothing arrived that its filter had to drop.
  for (auto& m : b.stats()["managers"]) {
    if (m["name"] == "consumer") CHECK(m["filtered"] == 0);
  }
  stop_all({&a, &b, &hub});
}

TEST_CASE("a group whose members filter differently on two routers: the switch gives each event to the router whose "
          "filter takes it, and only there") {
  Cluster c;
  Node hub = c.start_switch();
  Node b = c.start_router("rb", hub.link_port,
                          "  - {name: w1, plugin: cluster_probe, group: crunch, config: {role: worker},\n"
                          "     filters: {probe.seq: {n: {lte: 3000}}}}\n",
                          kShareWork);
  Node d = c.start_router("rd", hub.link_port,
                          "  - {name: w2, plugin: cluster_probe, group: crunch, config: {role: worker},\n"
                          "     filters: {probe.seq: {n: {gt: 3000}}}}\n",
                          kShareWork);
  Node a = c.start_router("ra", hub.link_port, kProducer + "  - {name: sink, plugin: cluster_probe, config: {role: sink}}\n",
                          kShareWork);
  REQUIRE(wait_until([&] { return link_up(a) && link_up(b) && link_up(d); }, 30s));
  // Both members known at ra: its requests to the group reach both.
  std::set<std::string> answered;
  REQUIRE(wait_until(
      [&] {
        json who = a.post("/events/probe.who");
        if (who["_status"] == 200) answered.insert(who.value("by", ""));
        return answered.size() == 2;
      },
      30s));
  CHECK(a.post("/events/probe.start", {{"count", 5000}})["sent"] == 5000);
  wait_tally(a, 5000, 60s);
  json t = tally(a);
  INFO("tally: " << t.dump());
  CHECK(t["duplicates"] == 0);
  CHECK(t["by"]["w1"] == 3000);
  CHECK(t["by"]["w2"] == 2000);
  // Each router got only what its filter takes (a few probe.who aside).
  const auto to_b = hub_link(hub, "rb")["sent_seq"].get<std::uint64_t>();
  const auto to_d = hub_link(hub, "rd")["sent_seq"].get<std::uint64_t>();
  INFO("frames to rb " << to_b << ", to rd " << to_d);
  CHECK(to_b >= 3000);
  CHECK(to_b < 3000 + 50);
  CHECK(to_d >= 2000);
  CHECK(to_d < 2000 + 50);
  stop_all({&a, &b, &d, &hub});
}

TEST_CASE("a content filter that does not compile, sent by a peer, is logged and counts as no filter, and a good "
          "one still filters") {
  Cluster c;
  Node hub = c.start_switch();
  Node a = c.start_router("ra", hub.link_port, kProducer, kShareWork);
  REQUIRE(wait_until([&] { return link_up(a); }, 20s));
  RawPeer mallory(hub.link_port, "mallory");
  RawPeer trent(hub.link_port, "trent");
  REQUIRE(mallory.wait_up(10s));
  REQUIRE(trent.wait_up(10s));
  // An operator this edrid does not know (a newer router's, or a hostile
  // peer's): the switch and ra both log it and send mallory everything.
  mallory.send_control(edrid::cluster::encode_subscriptions(
      {{EDRI_KIND_NOTIFICATION, "probe.seq", "", R"({"n":{"between":[1,2]}})"}}));
  trent.send_control(edrid::cluster::encode_subscriptions(
      {{EDRI_KIND_NOTIFICATION, "probe.seq", "", R"({"n":{"lte":50}})"}}));
  REQUIRE(hub.process->wait_output("router 'mallory' sent a content filter for 'probe.seq' that does not compile", 10s));
  REQUIRE(a.process->wait_output("advertised a content filter for 'probe.seq' that does not compile", 10s));
  CHECK(a.post("/events/probe.start", {{"count", 200}})["sent"] == 200);
  CHECK(wait_until([&] { return mallory.notifications() == 200 && trent.notifications() == 50; }, 20s));
  std::this_thread::sleep_for(300ms);
  CHECK(mallory.notifications() == 200);
  CHECK(trent.notifications() == 50);
  // The switch counts what each router's filters turned away.
  CHECK(hub_link(hub, "trent")["filtered"] == 150);
  CHECK(hub_link(hub, "mallory")["filtered"] == 0);
  CHECK(hub_link(hub, "mallory")["held_work"] == 0);
  CHECK_THAT(probe::HttpClient(hub.port).call("GET", "/metrics").body,
             Catch::Contains("edri_link_filtered_total{peer=\"trent\"} 150"));
  stop_all({&a, &hub});
}
