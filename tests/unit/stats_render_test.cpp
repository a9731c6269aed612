// The /stats and /metrics renderers, on a snapshot made by hand.
#include "router/stats_render.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <sstream>

using edrid::Health;
using edrid::LinkSnapshot;
using edrid::ManagerSnapshot;
using edrid::RouterSnapshot;

namespace {

RouterSnapshot sample() {
  RouterSnapshot s;
  s.router = "r1";
  s.uptime_ms = 1234;
  s.events.notifications = 12'345'678'901ull;  // past a double's 6 printed digits
  s.events.requests = 7;
  s.events.pending_requests = 2;
  ManagerSnapshot m;
  m.name = "say \"hi\"\\now";
  m.plugin = "echo";
  m.health = Health::warning;
  m.handled = 1'000'001;
  m.handled_per_s = 12.5;
  m.queue.order = "fifo";
  m.queue.when_full = "block";
  m.queue.depth = 3;
  m.queue.capacity = 1024;
  m.executor_type = "process";
  m.ordering = "concurrent";
  m.workers = 2;
  m.executor.slots = 2;
  m.executor.processes = edrid::ExecutorSnapshot::Processes{1, {101, -1}, 3, 1, 500};
  m.last_errors = {"demo.echo: boom"};
  s.managers.push_back(m);
  s.types.push_back({"demo.echo", "request", 42});
  LinkSnapshot l;
  l.role = "connector";
  l.peer = "hub";
  l.state = "up";
  l.bytes_in = 99;
  l.switch_address = "127.0.0.1:4222";
  l.incarnation = 5;
  s.links.push_back(l);
  return s;
}

// The sample lines of one metric family.
std::vector<std::string> samples(const std::string& text, const std::string& metric) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(metric + " ", 0) == 0 || line.rfind(metric + "{", 0) == 0) out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_CASE("stats render: Prometheus counters are written in full, labels escaped, families typed once") {
  const std::string text = edrid::to_prometheus(sample());
  CHECK(samples(text, "edri_events_total") ==
        std::vector<std::string>{"edri_events_total{kind=\"notification\"} 12345678901",
                                 "edri_events_total{kind=\"request\"} 7", "edri_events_total{kind=\"response\"} 0"});
  CHECK(samples(text, "edri_manager_handled_total") ==
        std::vector<std::string>{R"(edri_manager_handled_total{manager="say \"hi\"\\now"} 1000001)"});
  CHECK(samples(text, "edri_manager_handled_per_second") ==
        std::vector<std::string>{R"(edri_manager_handled_per_second{manager="say \"hi\"\\now"} 12.5)"});
  CHECK(samples(text, "edri_manager_health") ==
        std::vector<std::string>{R"(edri_manager_health{manager="say \"hi\"\\now"} 1)"});
  CHECK(samples(text, "edri_events_by_type_total") ==
        std::vector<std::string>{"edri_events_by_type_total{type=\"demo.echo\",kind=\"request\"} 42"});
  CHECK(samples(text, "edri_link_up") == std::vector<std::string>{"edri_link_up{peer=\"hub\"} 1"});
  CHECK(samples(text, "edri_link_bytes_in_total") == std::vector<std::string>{"edri_link_bytes_in_total{peer=\"hub\"} 99"});
  CHECK(samples(text, "edri_pending_requests") == std::vector<std::string>{"edri_pending_requests 2"});
  std::size_t types = 0;
  for (std::size_t at = 0; (at = text.find("# TYPE edri_events_total ", at)) != std::string::npos; ++at) ++types;
  CHECK(types == 1);
  CHECK_THAT(text, Catch::Contains("# TYPE edri_manager_queue_depth gauge\n"));
  CHECK(text.back() == '\n');
}

TEST_CASE("stats render: the JSON document carries every part of the snapshot") {
  nlohmann::json j;
  edrid::to_json(j, sample());
  CHECK(j["router"] == "r1");
  CHECK(j["events"]["notifications"] == 12'345'678'901ull);
  CHECK(j["events"]["pending_requests"] == 2);
  const auto& m = j["managers"][0];
  CHECK(m["health"] == "warning");
  CHECK(m["queue"]["capacity"] == 1024);
  CHECK(m["executor"]["type"] == "process");
  CHECK(m["executor"]["worker_pids"] == nlohmann::json::array({101, -1}));
  CHECK(m["executor"]["timeout_ms"] == 500);
  CHECK_FALSE(m["executor"].contains("threads"));
  CHECK(m["rates"]["handled_per_s"] == 12.5);
  CHECK(m["last_errors"] == nlohmann::json::array({"demo.echo: boom"}));
  CHECK(j["types"][0] == nlohmann::json{{"type", "demo.echo"}, {"kind", "request"}, {"sent", 42}});
  const auto& l = j["links"][0];
  CHECK(l["role"] == "connector");
  CHECK(l["switch"] == "127.0.0.1:4222");
  CHECK(l["incarnation"] == 5);
  CHECK_FALSE(l.contains("patterns"));
}

TEST_CASE("latency histograms: percentiles within a bucket of the truth, Prometheus buckets cumulative up to +Inf, "
          "and the durable queue's figures, in both renderings") {
  edrid::LatencyHistogram h;
  for (int i = 1; i <= 1000; ++i) h.record(static_cast<std::int64_t>(i) * 1000);  // 1 us ... 1 ms, evenly
  h.record(-5);  // a clock that went back counts as 0
  auto snap = h.snapshot();
  CHECK(snap.count == 1001);
  // A bucket is a quarter octave: the bound is at most 19 % above the truth.
  CHECK(snap.percentile_us(0.5) >= 500);
  CHECK(snap.percentile_us(0.5) <= 500 * 1.19);
  CHECK(snap.percentile_us(0.99) >= 990);
  CHECK(snap.percentile_us(0.99) <= 990 * 1.19);
  CHECK(snap.mean_us() == Approx(500.0).epsilon(0.01));
  CHECK(edrid::LatencyHistogram::Snapshot{}.percentile_us(0.99) == 0);

  RouterSnapshot s = sample();
  s.managers[0].handler_latency = snap;
  edrid::DurableStats d;
  d.path = "/var/lib/edri/queues/x/data.mdb";
  d.sync = edrid::SyncPolicy::batch;
  d.depth = 17;
  d.commit_p99_us = 250;
  s.managers[0].durable = d;
  const std::string text = edrid::to_prometheus(s);
  const auto buckets = samples(text, "edri_manager_handler_seconds_bucket");
  REQUIRE(buckets.size() > 10);
  std::uint64_t last = 0;
  for (const auto& b : buckets) {
    const std::uint64_t v = std::stoull(b.substr(b.rfind(' ') + 1));
    CHECK(v >= last);
    last = v;
  }
  CHECK_THAT(buckets.back(), Catch::Contains("le=\"+Inf\"} 1001"));
  CHECK_THAT(text, Catch::Contains(R"(edri_manager_handler_seconds_bucket{manager="say \"hi\"\\now",le="0.001024"} 1001)"));
  CHECK_THAT(text, Catch::Contains(R"(edri_manager_handler_seconds_bucket{manager="say \"hi\"\\now",le="0.000512"} 513)"));
  CHECK(samples(text, "edri_manager_handler_seconds_count") ==
        std::vector<std::string>{R"(edri_manager_handler_seconds_count{manager="say \"hi\"\\now"} 1001)"});
  CHECK_THAT(text, Catch::Contains("# TYPE edri_manager_wait_seconds histogram\n"));
  CHECK(samples(text, "edri_durable_queue_depth") ==
        std::vector<std::string>{R"(edri_durable_queue_depth{manager="say \"hi\"\\now",sync="batch"} 17)"});

  nlohmann::json j;
  edrid::to_json(j, s);
  const auto& lat = j["managers"][0]["latency"]["handler"];
  CHECK(lat["samples"] == 1001);
  CHECK(lat["p50_us"].get<double>() >= 500);
  CHECK(j["managers"][0]["latency"]["wait"]["samples"] == 0);
  CHECK(j["managers"][0]["durable"]["sync"] == "batch");
  CHECK(j["managers"][0]["durable"]["commit_p99_us"] == 250);
  CHECK(j["managers"][0]["durable"]["path"] == d.path);
}
