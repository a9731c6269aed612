// edri-bench: in-process figures for the router. Each scenario prints one
// JSON line with its parameters and results.
//
//   edri-bench [inproc-notify|inproc-request|executor-thread|executor-process|switch|all]
//              [--events N] [--size BYTES]
//
// `switch` runs three routers in this process, linked over loopback TCP as in
// a cluster: a switch, router A (the driver) and router B (the sink).
#include "cluster/connector.hpp"
#include "cluster/switch_server.hpp"
#include "exec/worker_host.hpp"
#include "log/logging.hpp"
#include "memory/allocator.hpp"
#include "plugin/plugin_library.hpp"
#include "router/router.hpp"

#include <edri/edri.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <future>
#include <iostream>
#include <string>
#include <vector>

namespace bench {

struct Blob {
  static constexpr bool shareable = true;  // crosses the switch in the cluster scenarios
  std::string data;
};
EDRI_EVENT(Blob, "bench.blob", data)

struct Sink;
std::atomic<std::uint64_t> g_received{0};
std::promise<void>* g_done = nullptr;
std::uint64_t g_expect = 0;
edri::Context* g_driver = nullptr;

struct Driver : edri::Manager {
  Driver(edri::Context& ctx, const edri::Config&) : Manager(ctx) { g_driver = &ctx; }
};

struct Sink : edri::Manager {
  Sink(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_notification<Blob>([](const Blob&) {
      if (g_received.fetch_add(1, std::memory_order_relaxed) + 1 == g_expect) g_done->set_value();
    });
    ctx.on_request<Blob>([](const Blob& b, edri::Reply<Blob>& r) { r.set(b); });
  }
};

// One JSON line per scenario; each names the allocator, which moves these
// figures more than most code changes.
void emit(nlohmann::json j) {
  j["allocator"] = edrid::allocator_name();
  std::cout << j.dump() << std::endl;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::unique_ptr<edrid::Router> make_router(int sinks) {
  edrid::RouterOptions o;
  o.id = "bench";
  auto r = std::make_unique<edrid::Router>(o);
  edrid::QueueSettings q{edrid::QueueOrder::fifo, 65536, edrid::WhenFull::block};
  r->add_manager("driver", edri::descriptor_of<Driver>("driver", "1"), "driver", q, "{}");
  for (int i = 0; i < sinks; ++i) {
    r->add_manager("sink" + std::to_string(i), edri::descriptor_of<Sink>("sink", "1"), "sink", q, "{}");
  }
  r->start();
  return r;
}

// Waits for every delivery, but gives up after 10 s without progress, so a
// run that loses events reports them ("lost") instead of hanging.
void await_deliveries(std::promise<void>& done) {
  auto f = done.get_future();
  std::uint64_t last = g_received.load();
  auto progress_at = std::chrono::steady_clock::now();
  while (f.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
    const std::uint64_t now_received = g_received.load();
    if (now_received != last) {
      last = now_received;
      progress_at = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - progress_at > std::chrono::seconds(10)) {
      std::fprintf(stderr, "edri-bench: no delivery for 10 s; %llu of %llu arrived\n",
                   static_cast<unsigned long long>(now_received), static_cast<unsigned long long>(g_expect));
      g_expect = ~std::uint64_t{0};  // late arrivals must not touch the promise
      return;
    }
  }
}

void inproc_notify(std::uint64_t n, std::size_t size, int fanout) {
  auto router = make_router(fanout);
  std::promise<void> done;
  g_done = &done;
  g_received = 0;
  g_expect = n * static_cast<std::uint64_t>(fanout);
  const std::uint64_t expected = g_expect;
  const std::string payload(size, 'x');
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) g_driver->notify(Blob{payload});
  await_deliveries(done);
  const double s = seconds_since(t0);
  nlohmann::json st;
  router->stats_json(st);
  emit(nlohmann::json{{"scenario", "inproc-notify"},
                              {"size", size},
                              {"fanout", fanout},
                              {"events", n},
                              {"deliveries", expected},
                              {"seconds", s},
                              {"events_per_s", n / s},
                              {"deliveries_per_s", expected / s},
                              {"lost", expected - std::min(expected, g_received.load())},
                              {"encoded", st["events"]["encoded"]}});
}

void inproc_request(std::uint64_t n, std::size_t size) {
  auto router = make_router(1);
  const std::string payload(size, 'x');
  std::vector<double> us;
  us.reserve(n);
  std::uint64_t failed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto a = std::chrono::steady_clock::now();
    auto r = g_driver->request(Blob{payload}).get();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
    failed += !r.ok();
  }
  const double s = seconds_since(t0);
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<std::size_t>(p * (us.size() - 1))]; };
  emit(nlohmann::json{{"scenario", "inproc-request"},
                              {"size", size},
                              {"requests", n},
                              {"seconds", s},
                              {"requests_per_s", n / s},
                              {"p50_us", pct(0.50)},
                              {"p99_us", pct(0.99)},
                              {"max_us", us.back()},
                              {"failed", failed}});
}

// Requests to the echo example plugin run by a thread or process executor
// with 2 workers: pipelined throughput (512 in flight) and sequential latency.
void executor(edrid::ExecutorKind kind, std::uint64_t n) {
  auto lib = edrid::PluginLibrary::load(EDRI_BENCH_PLUGIN_DIR "/libedri_echo.so");
  edrid::RouterOptions o;
  o.id = "bench";
  auto router = std::make_unique<edrid::Router>(o);
  edrid::QueueSettings q{edrid::QueueOrder::fifo, 65536, edrid::WhenFull::block};
  router->add_manager("driver", edri::descriptor_of<Driver>("driver", "1"), "driver", q, "{}");
  edrid::ExecutorSettings ex;
  ex.kind = kind;
  ex.workers = 2;
  ex.ordering = edrid::Ordering::concurrent;
  ex.plugin_path = lib->path();
  router->add_manager("echo", lib->descriptor(), "echo", q, "{}", ex);
  router->start();
  const edri::json text = {{"text", std::string(256, 'x')}};

  std::uint64_t failed = 0;
  std::deque<std::future<edri::Response<edri::json>>> window;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (window.size() >= 512) {
      failed += !window.front().get().ok();
      window.pop_front();
    }
    window.push_back(g_driver->request("demo.echo", text));
  }
  while (!window.empty()) {
    failed += !window.front().get().ok();
    window.pop_front();
  }
  const double s = seconds_since(t0);

  std::vector<double> us;
  const std::uint64_t m = std::min<std::uint64_t>(n, 5000);
  for (std::uint64_t i = 0; i < m; ++i) {
    const auto a = std::chrono::steady_clock::now();
    failed += !g_driver->request("demo.echo", text).get().ok();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<std::size_t>(p * (us.size() - 1))]; };
  emit(nlohmann::json{{"scenario", std::string("executor-") + std::string(edrid::to_string(kind))},
                              {"workers", 2},
                              {"size", 256},
                              {"tasks", n},
                              {"seconds", s},
                              {"tasks_per_s", n / s},
                              {"latency_samples", m},
                              {"p50_us", pct(0.5)},
                              {"p99_us", pct(0.99)},
                              {"failed", failed}});
  router.reset();
}

// Router A's driver sends to router B's sink through a switch, over real
// loopback TCP links: notification throughput, then request latency
// (sequential) and throughput (512 in flight).
void across_switch(std::uint64_t n, std::size_t size) {
  edrid::QueueSettings q{edrid::QueueOrder::fifo, 65536, edrid::WhenFull::block};
  edrid::RouterOptions so;
  so.id = "hub";
  edrid::Router hub(so);
  hub.start();
  edrid::cluster::SwitchSettings ss;
  ss.port = 0;
  ss.settle = std::chrono::milliseconds(0);
  edrid::cluster::Switch sw(hub, ss);
  sw.start();

  edrid::RouterOptions bo;
  bo.id = "rb";
  edrid::Router rb(bo);
  rb.add_manager("sink", edri::descriptor_of<Sink>("sink", "1"), "sink", q, "{}");
  rb.start();
  edrid::RouterOptions ao;
  ao.id = "ra";
  edrid::Router ra(ao);
  ra.add_manager("driver", edri::descriptor_of<Driver>("driver", "1"), "driver", q, "{}");
  ra.start();
  edrid::cluster::ConnectorSettings cs;
  cs.port = sw.port();
  auto cb = std::make_shared<edrid::cluster::Connector>(rb, cs);
  rb.set_uplink(cb.get());
  cb->start();
  auto ca = std::make_shared<edrid::cluster::Connector>(ra, cs);
  ra.set_uplink(ca.get());
  ca->start();

  const std::string payload(size, 'x');
  while (!g_driver->request(Blob{"ready?"}).get().ok()) std::this_thread::sleep_for(std::chrono::milliseconds(10));

  std::promise<void> done;
  g_done = &done;
  g_received = 0;
  g_expect = n;
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) g_driver->notify(Blob{payload});
  await_deliveries(done);
  double s = seconds_since(t0);
  emit(nlohmann::json{{"scenario", "switch-notify"},
                      {"size", size},
                      {"events", n},
                      {"seconds", s},
                      {"events_per_s", n / s},
                      {"lost", n - std::min(n, g_received.load())}});

  const std::uint64_t m = std::max<std::uint64_t>(n / 50, 1000);
  std::vector<double> us;
  std::uint64_t failed = 0;
  for (std::uint64_t i = 0; i < m; ++i) {
    const auto a = std::chrono::steady_clock::now();
    failed += !g_driver->request(Blob{payload}).get().ok();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<std::size_t>(p * (us.size() - 1))]; };
  std::deque<std::future<edri::Response<Blob>>> window;
  t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < m * 5; ++i) {
    if (window.size() >= 512) {
      failed += !window.front().get().ok();
      window.pop_front();
    }
    window.push_back(g_driver->request(Blob{payload}));
  }
  while (!window.empty()) {
    failed += !window.front().get().ok();
    window.pop_front();
  }
  s = seconds_since(t0);
  emit(nlohmann::json{{"scenario", "switch-request"},
                              {"size", size},
                              {"latency_samples", m},
                              {"p50_us", pct(0.5)},
                              {"p99_us", pct(0.99)},
                              {"pipelined_requests", m * 5},
                              {"requests_per_s", m * 5 / s},
                              {"failed", failed}});

  ca->pause_inbound();
  cb->pause_inbound();
  ra.stop();
  rb.stop();
  ca->stop(std::chrono::milliseconds(1000));
  cb->stop(std::chrono::milliseconds(1000));
  ra.set_uplink(nullptr);
  rb.set_uplink(nullptr);
  sw.stop(std::chrono::milliseconds(1000));
}

}  // namespace bench

int main(int argc, char** argv) {
  // Process-executor workers are started as this program with --worker.
  if (argc == 5 && std::strcmp(argv[1], "--worker") == 0) {
    return edrid::run_worker(argv[2], argv[3], std::atoi(argv[4]));
  }
  std::string scenario = "all";
  std::uint64_t events = 1'000'000;
  std::size_t size = 256;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--events") && i + 1 < argc) {
      events = std::stoull(argv[++i]);
    } else if (!std::strcmp(argv[i], "--size") && i + 1 < argc) {
      size = std::stoul(argv[++i]);
    } else if (argv[i][0] != '-') {
      scenario = argv[i];
    } else {
      std::cerr << "usage: edri-bench [inproc-notify|inproc-request|executor-thread|executor-process|switch|all] "
                   "[--events N] [--size BYTES]\n";
      return 2;
    }
  }
  edrid::logging::setup({"warn", "text"});
  if (scenario == "inproc-notify" || scenario == "all") {
    bench::inproc_notify(events, size, 1);
    bench::inproc_notify(events / 4, size, 4);
  }
  if (scenario == "inproc-request" || scenario == "all") bench::inproc_request(events / 20, size);
  if (scenario == "executor-thread" || scenario == "all") {
    bench::executor(edrid::ExecutorKind::thread, events / 10);
  }
  if (scenario == "executor-process" || scenario == "all") {
    bench::executor(edrid::ExecutorKind::process, events / 20);
  }
  if (scenario == "switch" || scenario == "all") bench::across_switch(events / 4, size);
  return 0;
}
