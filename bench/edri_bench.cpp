// edri-bench: in-process figures for the router. Each scenario prints one
// JSON line with its parameters and results.
//
//   edri-bench [inproc-notify|inproc-request|executor-thread|executor-process|switch|switch-notify|switch-request|switch-replay|queued-memory|all]
//              [--events N] [--size BYTES] [--rate REQUESTS_PER_S] [--fanout SINKS]
//              [--coalesce-us US] [--payload string|bytes] [--group at_most_once|at_least_once] [--filter]
//              [--sync always|batch|os] [--producers N]
//
// --group makes the sinks one work group with that delivery: inproc-notify
// then sends each event to one of --fanout members (scenario inproc-group),
// switch-notify to one of two members on router B, placed by the switch
// (switch-group; at_least_once: with receipts and settlements).
// --rate makes inproc-request open-loop: requests leave at that fixed rate
// and latency counts from when each was due. --fanout runs inproc-notify
// with that many sinks only (by default 1, then 4). --payload bytes sends
// the payload of inproc-notify, switch-notify and queued-memory as an
// edri::ByteString written by a Draft instead of a std::string. --filter
// gives the sinks a content filter every event passes (inproc-notify: the
// cost of evaluating one; the typed payload is then encoded once per event).
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
#include "support/fault_proxy.hpp"

#include "bench_events.hpp"
#include "spsc_ring.hpp"

#include <demo/events.hpp>
#include <edri/edri.hpp>

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

namespace bench {

bool g_payload_bytes = false;

struct Sink;
std::atomic<std::uint64_t> g_received{0};
std::promise<void>* g_done = nullptr;
std::uint64_t g_expect = 0;
edri::Context* g_driver = nullptr;

struct Driver : edri::Manager {
  Driver(edri::Context& ctx, const edri::Config&) : Manager(ctx) { g_driver = &ctx; }
};

// Scenarios with one sender and one sink number their events (the first 8
// bytes of the payload) so the sink can count duplicates and reordering.
bool g_numbered = false;
std::atomic<std::uint64_t> g_duplicates{0}, g_out_of_order{0};

std::string numbered(std::string payload, std::uint64_t n) {
  std::memcpy(payload.data(), &n, sizeof n);
  return payload;
}

struct Sink : edri::Manager {
  Sink(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_notification<Blob>([this](const Blob& b) { receive(b.data); });
    ctx.on_notification<Chunk>([this](const Chunk& c) { receive(c.data); });
    ctx.on_request<Blob>([](const Blob& b, edri::Reply<Blob>& r) { r.set(b); });
  }
  void receive(std::string_view data) {
    if (g_numbered) {
      std::uint64_t n = 0;
      std::memcpy(&n, data.data(), sizeof n);
      if (n <= last_) {
        g_duplicates.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      if (n != last_ + 1) g_out_of_order.fetch_add(1, std::memory_order_relaxed);
      last_ = n;
    }
    if (g_received.fetch_add(1, std::memory_order_relaxed) + 1 == g_expect) g_done->set_value();
  }
  std::uint64_t last_ = 0;
};

// One notification of `payload` from the driver, as --payload says.
void send_payload(const std::string& payload) {
  if (g_payload_bytes) {
    auto d = g_driver->draft<Chunk>(payload.size());
    d->data = d.bytes(payload);
    g_driver->notify(std::move(d));
  } else {
    g_driver->notify(Blob{payload});
  }
}
const char* payload_name() { return g_payload_bytes ? "edri::ByteString in a Draft" : "std::string"; }

// One JSON line per scenario; each names the allocator, which moves these
// figures more than most code changes.
void emit(nlohmann::json j) {
  j["allocator"] = edrid::allocator_name();
  std::cout << j.dump() << std::endl;
}

// Latency samples, sorted once, read by percentile.
class Percentiles {
 public:
  explicit Percentiles(std::vector<double> us) : us_(std::move(us)) { std::sort(us_.begin(), us_.end()); }
  double at(double p) const { return us_.empty() ? 0 : us_[static_cast<std::size_t>(p * (us_.size() - 1))]; }
  double max() const { return us_.empty() ? 0 : us_.back(); }

 private:
  std::vector<double> us_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// --group: the sinks are one work group (at_most_once or at_least_once).
std::string g_group_delivery;
// --filter: the sinks take the payload types only through a content filter
// every event passes (what evaluating one costs per event and receiver).
bool g_filter = false;

edrid::WorkSettings sink_work() {
  edrid::WorkSettings w;
  if (g_filter) {
    w.filters.push_back({*edrid::Pattern::parse("bench.*"),
                         edrid::ContentFilter::compile(nlohmann::json::parse(R"({"data": {"prefix": "x"}})"))});
  }
  if (g_group_delivery.empty()) return w;
  w.group = "sinks";
  w.delivery = g_group_delivery == "at_least_once" ? edrid::DeliveryMode::at_least_once : edrid::DeliveryMode::at_most_once;
  return w;
}

std::unique_ptr<edrid::Router> make_router(int sinks) {
  edrid::RouterOptions o;
  o.id = "bench";
  auto r = std::make_unique<edrid::Router>(o);
  edrid::QueueSettings q{edrid::QueueOrder::fifo, 65536, edrid::WhenFull::block};
  r->add_manager("driver", edri::descriptor_of<Driver>("driver", "1"), "driver", q, "{}");
  for (int i = 0; i < sinks; ++i) {
    r->add_manager("sink" + std::to_string(i), edri::descriptor_of<Sink>("sink", "1"), "sink", q, "{}", {},
                   sink_work());
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
  // A group takes each event once, whatever its size.
  g_expect = n * static_cast<std::uint64_t>(g_group_delivery.empty() ? fanout : 1);
  const std::uint64_t expected = g_expect;
  const std::string payload(size, 'x');
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) send_payload(payload);
  await_deliveries(done);
  const double s = seconds_since(t0);
  nlohmann::json st;
  router->stats_json(st);
  emit(nlohmann::json{{"scenario", g_group_delivery.empty() ? "inproc-notify" : "inproc-group"},
                              {"delivery", g_group_delivery.empty() ? "fan-out" : g_group_delivery},
                              {"filter", g_filter},
                              {"size", size},
                              {"payload", payload_name()},
                              {"fanout", fanout},
                              {"events", n},
                              {"deliveries", expected},
                              {"seconds", s},
                              {"events_per_s", n / s},
                              {"deliveries_per_s", expected / s},
                              {"lost", expected - std::min(expected, g_received.load())},
                              {"encoded", st["events"]["encoded"]}});
}

// Sequential requests with the SDK's call(), which waits a few microseconds
// before sleeping, and then with request().get(), whose std::future sleeps at
// once (the wake-up is most of its round trip on a VM).
void inproc_request(std::uint64_t n, std::size_t size) {
  auto router = make_router(1);
  const std::string payload(size, 'x');
  std::uint64_t failed = 0;
  auto measure = [&](std::uint64_t count, auto&& one) {
    std::vector<double> us;
    us.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
      const auto a = std::chrono::steady_clock::now();
      failed += !one().ok();
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
    }
    return Percentiles(std::move(us));
  };
  const auto t0 = std::chrono::steady_clock::now();
  const Percentiles pct = measure(n, [&] { return g_driver->call(Blob{payload}); });
  const double s = seconds_since(t0);
  const Percentiles fut = measure(n, [&] { return g_driver->request(Blob{payload}).get(); });
  emit(nlohmann::json{{"scenario", "inproc-request"},
                              {"size", size},
                              {"api", "call"},
                              {"requests", n},
                              {"seconds", s},
                              {"requests_per_s", n / s},
                              {"p50_us", pct.at(0.50)},
                              {"p99_us", pct.at(0.99)},
                              {"max_us", pct.max()},
                              {"future_p50_us", fut.at(0.50)},
                              {"future_p99_us", fut.at(0.99)},
                              {"failed", failed}});
}

// Open-loop latency: requests leave at a fixed rate whatever the answers
// do, and each latency counts from when its request was due, so a stall
// shows in every request it delays (no coordinated omission).
void inproc_request_at_rate(std::uint64_t n, std::size_t size, double rate) {
  auto router = make_router(1);
  const std::string payload(size, 'x');
  struct Pending {
    std::chrono::steady_clock::time_point due;
    std::future<edri::Response<Blob>> answer;
  };
  std::deque<Pending> pending;
  std::mutex m;
  std::condition_variable cv;
  bool sent_all = false;
  std::vector<double> us;
  us.reserve(n);
  std::uint64_t failed = 0;
  std::thread collector([&] {
    for (;;) {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return !pending.empty() || sent_all; });
      if (pending.empty()) return;
      Pending p = std::move(pending.front());
      pending.pop_front();
      lock.unlock();
      failed += !p.answer.get().ok();
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - p.due).count());
    }
  });
  // Timer slack (50 us by default) would make every request late; spinning
  // all the way to the due time would take a core from the router.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const auto period = std::chrono::duration<double>(1.0 / rate);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto due = t0 + std::chrono::duration_cast<std::chrono::nanoseconds>(period * static_cast<double>(i));
    // Sleep most of the gap and spin the last 20 us, so requests leave on time.
    std::this_thread::sleep_until(due - std::chrono::microseconds(20));
    while (std::chrono::steady_clock::now() < due) {
    }
    auto answer = g_driver->request(Blob{payload});
    {
      std::lock_guard lock(m);
      pending.push_back(Pending{due, std::move(answer)});
    }
    cv.notify_one();
  }
  {
    std::lock_guard lock(m);
    sent_all = true;
  }
  cv.notify_one();
  collector.join();
  const double s = seconds_since(t0);
  const Percentiles pct(std::move(us));
  emit(nlohmann::json{{"scenario", "inproc-request-rate"},
                      {"size", size},
                      {"requests", n},
                      {"rate_target", rate},
                      {"rate_achieved", n / s},
                      {"seconds", s},
                      {"p50_us", pct.at(0.50)},
                      {"p99_us", pct.at(0.99)},
                      {"p999_us", pct.at(0.999)},
                      {"max_us", pct.max()},
                      {"failed", failed}});
}

// Memory held per queued event: a manager stuck in its first handler while
// `n` more events wait in its queue; the process's resident set before and
// after sending them.
std::promise<void>* g_gate = nullptr;
struct Holder : edri::Manager {
  Holder(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_notification<Blob>([this](const Blob&) { take(); });
    ctx.on_notification<Chunk>([this](const Chunk&) { take(); });
  }
  void take() {
    if (!held_) {
      held_ = true;
      g_gate->get_future().wait();
    }
    if (g_received.fetch_add(1, std::memory_order_relaxed) + 1 == g_expect) g_done->set_value();
  }
  bool held_ = false;
};

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

void queued_memory(std::uint64_t n, std::size_t size) {
  edrid::RouterOptions o;
  o.id = "bench";
  auto router = std::make_unique<edrid::Router>(o);
  edrid::QueueSettings q{edrid::QueueOrder::fifo, n + 16, edrid::WhenFull::block};
  router->add_manager("driver", edri::descriptor_of<Driver>("driver", "1"), "driver", q, "{}");
  router->add_manager("holder", edri::descriptor_of<Holder>("holder", "1"), "holder", q, "{}");
  router->start();
  std::promise<void> gate, done;
  g_gate = &gate;
  g_done = &done;
  g_received = 0;
  g_expect = n + 1;
  const std::string payload(size, 'x');
  send_payload(payload);  // the holder takes it and waits
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::size_t before = resident_bytes();
  for (std::uint64_t i = 0; i < n; ++i) send_payload(payload);
  const std::size_t after = resident_bytes();
  gate.set_value();
  await_deliveries(done);
  emit(nlohmann::json{{"scenario", "queued-memory"},
                      {"size", size},
                      {"payload", payload_name()},
                      {"queued", n},
                      {"rss_before_bytes", before},
                      {"rss_after_bytes", after},
                      {"bytes_per_queued_event", static_cast<double>(after - before) / static_cast<double>(n)},
                      {"lost", n + 1 - std::min(n + 1, g_received.load())}});
}

// Requests to the echo example plugin run by a thread or process executor
// with 2 workers: pipelined throughput (512 in flight) and sequential latency.
// The request is the plugin's own typed demo::Echo, as a plugin built against
// the same header sends it: in process it is read in place, so the figure is
// the executor's and the router's, not a codec's; worker processes get it
// MessagePack-encoded, as they must.
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
  const demo::Echo text{std::string(256, 'x')};

  std::uint64_t failed = 0;
  std::deque<std::future<edri::Response<demo::Echo>>> window;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (window.size() >= 512) {
      failed += !window.front().get().ok();
      window.pop_front();
    }
    window.push_back(g_driver->request(text));
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
    failed += !g_driver->request(text).get().ok();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  const Percentiles pct(std::move(us));
  emit(nlohmann::json{{"scenario", std::string("executor-") + std::string(edrid::to_string(kind))},
                              {"workers", 2},
                              {"size", 256},
                              {"payload", "typed demo::Echo"},
                              {"tasks", n},
                              {"seconds", s},
                              {"tasks_per_s", n / s},
                              {"latency_samples", m},
                              {"p50_us", pct.at(0.5)},
                              {"p99_us", pct.at(0.99)},
                              {"failed", failed}});
  router.reset();
}

// Three routers in this process linked over loopback TCP as in a cluster:
// a switch, router A (the driver) and router B (the sink); with `faulty`,
// each router's link runs through a proxy that can cut it.
// --coalesce-us: the links' coalesce_us (default: LinkSettings's).
long g_coalesce_us = -1;

long coalesce_us() {
  return g_coalesce_us >= 0 ? g_coalesce_us : edrid::cluster::LinkSettings{}.coalesce.count();
}

struct SwitchRig {
  explicit SwitchRig(bool faulty) {
    edrid::QueueSettings q{edrid::QueueOrder::fifo, 65536, edrid::WhenFull::block};
    edrid::RouterOptions so;
    so.id = "hub";
    hub = std::make_unique<edrid::Router>(so);
    hub->start();
    edrid::cluster::SwitchSettings ss;
    ss.port = 0;
    ss.settle = std::chrono::milliseconds(0);
    ss.link.coalesce = std::chrono::microseconds(coalesce_us());
    sw = std::make_unique<edrid::cluster::Switch>(*hub, ss);
    sw->start();
    edrid::RouterOptions bo;
    bo.id = "rb";
    rb = std::make_unique<edrid::Router>(bo);
    // In a group, two members: the switch places each event on rb for the group.
    for (int i = 0; i < (g_group_delivery.empty() ? 1 : 2); ++i) {
      rb->add_manager("sink" + std::to_string(i), edri::descriptor_of<Sink>("sink", "1"), "sink", q, "{}", {},
                      sink_work());
    }
    rb->start();
    edrid::RouterOptions ao;
    ao.id = "ra";
    ra = std::make_unique<edrid::Router>(ao);
    ra->add_manager("driver", edri::descriptor_of<Driver>("driver", "1"), "driver", q, "{}");
    ra->start();
    edrid::cluster::ConnectorSettings cs;
    cs.reconnect_min = std::chrono::milliseconds(10);
    cs.reconnect_max = std::chrono::milliseconds(50);
    cs.link.coalesce = std::chrono::microseconds(coalesce_us());
    if (faulty) {
      proxy_a = std::make_unique<probe::FaultProxy>(sw->port());
      proxy_b = std::make_unique<probe::FaultProxy>(sw->port());
    }
    cs.port = faulty ? proxy_b->port() : sw->port();
    cb = std::make_shared<edrid::cluster::Connector>(*rb, cs);
    rb->set_uplink(cb.get());
    cb->start();
    cs.port = faulty ? proxy_a->port() : sw->port();
    ca = std::make_shared<edrid::cluster::Connector>(*ra, cs);
    ra->set_uplink(ca.get());
    ca->start();
    // Until B's subscriptions reach A through the switch, requests fail.
    while (!g_driver->request(Blob{"ready?"}).get().ok()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~SwitchRig() {
    if (proxy_a) proxy_a->stop_cutting();
    if (proxy_b) proxy_b->stop_cutting();
    ca->pause_inbound();
    cb->pause_inbound();
    ra->stop();
    rb->stop();
    ca->stop(std::chrono::milliseconds(1000));
    cb->stop(std::chrono::milliseconds(1000));
    ra->set_uplink(nullptr);
    rb->set_uplink(nullptr);
    sw->stop(std::chrono::milliseconds(1000));
  }
  std::uint64_t link_counter(std::uint64_t edrid::LinkSnapshot::*field) const {
    std::vector<edrid::LinkSnapshot> links;
    sw->links(links);
    std::uint64_t sum = 0;
    for (const auto& l : links) sum += l.*field;
    return sum;
  }

  std::unique_ptr<edrid::Router> hub, ra, rb;
  std::unique_ptr<edrid::cluster::Switch> sw;
  std::unique_ptr<probe::FaultProxy> proxy_a, proxy_b;
  std::shared_ptr<edrid::cluster::Connector> ca, cb;
};

// Router A's driver sends to router B's sink through a switch, over real
// loopback TCP links: notification throughput.
void switch_notify(std::uint64_t n, std::size_t size) {
  const std::string payload(size, 'x');
  std::promise<void> done;
  g_done = &done;
  g_received = 0;
  g_expect = n;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) send_payload(payload);
  await_deliveries(done);
  const double s = seconds_since(t0);
  emit(nlohmann::json{{"scenario", g_group_delivery.empty() ? "switch-notify" : "switch-group"},
                      {"delivery", g_group_delivery.empty() ? "fan-out" : g_group_delivery},
                      {"coalesce_us", coalesce_us()},
                      {"size", size},
                      {"payload", payload_name()},
                      {"events", n},
                      {"seconds", s},
                      {"events_per_s", n / s},
                      {"lost", n - std::min(n, g_received.load())}});
}

// Sequential requests for p50/p99, then `m * 5` with 512 in flight.
void switch_request(std::uint64_t m, std::size_t size) {
  const std::string payload(size, 'x');
  std::vector<double> us;
  std::uint64_t failed = 0;
  for (std::uint64_t i = 0; i < m; ++i) {
    const auto a = std::chrono::steady_clock::now();
    failed += !g_driver->request(Blob{payload}).get().ok();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  const Percentiles pct(std::move(us));
  std::deque<std::future<edri::Response<Blob>>> window;
  const auto t0 = std::chrono::steady_clock::now();
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
  const double s = seconds_since(t0);
  emit(nlohmann::json{{"scenario", "switch-request"},
                      {"coalesce_us", coalesce_us()},
                      {"size", size},
                      {"latency_samples", m},
                      {"p50_us", pct.at(0.5)},
                      {"p99_us", pct.at(0.99)},
                      {"pipelined_requests", m * 5},
                      {"requests_per_s", m * 5 / s},
                      {"failed", failed}});
}

void across_switch(std::uint64_t n, std::size_t size, bool notify, bool request) {
  SwitchRig rig(false);
  if (notify) switch_notify(n, size);
  if (request) switch_request(std::max<std::uint64_t>(n / 50, 1000), size);
}

// switch-notify while a proxy cuts both routers' links every 200 ms: the
// replay buffers and resume must deliver every event once, in order.
void switch_replay(std::uint64_t n, std::size_t size) {
  SwitchRig rig(true);
  const std::string payload(std::max<std::size_t>(size, 8), 'x');
  std::promise<void> done;
  g_done = &done;
  g_received = 0;
  g_expect = n;
  g_numbered = true;
  g_duplicates = 0;
  g_out_of_order = 0;
  rig.proxy_a->start_cutting(std::chrono::milliseconds(200), std::chrono::milliseconds(200));
  rig.proxy_b->start_cutting(std::chrono::milliseconds(200), std::chrono::milliseconds(200));
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 1; i <= n; ++i) g_driver->notify(Blob{numbered(payload, i)});
  await_deliveries(done);
  const double s = seconds_since(t0);
  rig.proxy_a->stop_cutting();
  rig.proxy_b->stop_cutting();
  g_numbered = false;
  emit(nlohmann::json{{"scenario", "switch-replay"},
                      {"coalesce_us", coalesce_us()},
                      {"size", size},
                      {"events", n},
                      {"seconds", s},
                      {"events_per_s", n / s},
                      {"cut_every_ms", 200},
                      {"cuts", rig.proxy_a->cuts() + rig.proxy_b->cuts()},
                      {"lost", n - std::min(n, g_received.load())},
                      {"duplicates", g_duplicates.load()},
                      {"out_of_order", g_out_of_order.load()},
                      {"switch_duplicates_dropped", rig.link_counter(&edrid::LinkSnapshot::duplicates_dropped)}});
}

}  // namespace bench

namespace bench {

// --sync: a durable queue (queue.durable) in front of one sink, fed by
// --producers threads at once (durable-notify). Each notify returns once its
// event is committed as the policy says, so throughput is what the commits
// allow; concurrent producers share commits (group commit).
std::string g_sync = "always";
int g_producers = 4;

void durable_notify(std::uint64_t n, std::size_t size) {
  char tmpl[] = "/tmp/edri-bench-durable-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(tmpl);
  edrid::RouterOptions o;
  o.id = "bench";
  auto router = std::make_unique<edrid::Router>(o);
  edrid::QueueSettings plain{edrid::QueueOrder::fifo, 65536, edrid::WhenFull::block};
  router->add_manager("driver", edri::descriptor_of<Driver>("driver", "1"), "driver", plain, "{}");
  edrid::QueueSettings q = plain;
  q.durable.enabled = true;
  q.durable.sync = g_sync == "batch" ? edrid::SyncPolicy::batch
                   : g_sync == "os"  ? edrid::SyncPolicy::os
                                     : edrid::SyncPolicy::always;
  q.durable.dir = dir / "queues" / "sink";
  auto& sink = router->add_manager("sink", edri::descriptor_of<Sink>("sink", "1"), "sink", q, "{}");
  router->start();
  std::promise<void> done;
  g_done = &done;
  g_received = 0;
  g_expect = n;
  const std::string payload(size, 'x');
  const std::uint64_t per = n / static_cast<std::uint64_t>(g_producers);
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(g_producers));
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> producers;
  for (int p = 0; p < g_producers; ++p) {
    producers.emplace_back([&, p] {
      const std::uint64_t mine = p + 1 == g_producers ? n - per * static_cast<std::uint64_t>(p) : per;
      auto& us = lat[static_cast<std::size_t>(p)];
      for (std::uint64_t i = 0; i < mine; ++i) {
        const auto s0 = std::chrono::steady_clock::now();
        g_driver->notify(Blob{payload});
        if (i % 8 == 0) us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s0).count());
      }
    });
  }
  for (auto& t : producers) t.join();
  const double sent_s = seconds_since(t0);
  await_deliveries(done);
  const double s = seconds_since(t0);
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  const Percentiles p(std::move(all));
  const auto d = sink.durable_stats();
  emit(nlohmann::json{{"scenario", "durable-notify"},
                      {"sync", g_sync},
                      {"producers", g_producers},
                      {"size", size},
                      {"events", n},
                      {"events_per_s", n / s},
                      {"accepted_per_s", n / sent_s},
                      {"notify_p50_us", p.at(0.5)},
                      {"notify_p99_us", p.at(0.99)},
                      {"commits", d ? d->commits : 0},
                      {"commit_p50_us", d ? d->commit_p50_us : 0},
                      {"commit_p99_us", d ? d->commit_p99_us : 0},
                      {"lost", n - std::min<std::uint64_t>(n, g_received.load())}});
  router.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace bench

namespace bench {

// The two-thread ring inproc-notify is measured against, in the same run.
void spsc_ring(std::uint64_t n, std::size_t size) {
  const SpscFigure f = spsc_ring_run(n, size);
  emit({{"scenario", "spsc-ring"},
        {"size", size},
        {"events", n},
        {"batch", 64},
        {"seconds", f.seconds},
        {"events_per_s", static_cast<double>(n) / f.seconds},
        {"checksum", f.checksum}});
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
  double rate = 0;
  int fanout = 0;  // inproc-notify: 0 = both 1 and 4
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--events") && i + 1 < argc) {
      events = std::stoull(argv[++i]);
    } else if (!std::strcmp(argv[i], "--rate") && i + 1 < argc) {
      rate = std::stod(argv[++i]);
    } else if (!std::strcmp(argv[i], "--fanout") && i + 1 < argc) {
      fanout = std::stoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--coalesce-us") && i + 1 < argc) {
      bench::g_coalesce_us = std::stol(argv[++i]);
    } else if (!std::strcmp(argv[i], "--payload") && i + 1 < argc) {
      const std::string_view p = argv[++i];
      if (p != "string" && p != "bytes") {
        std::cerr << "edri-bench: --payload is string or bytes\n";
        return 2;
      }
      bench::g_payload_bytes = p == "bytes";
    } else if (!std::strcmp(argv[i], "--filter")) {
      bench::g_filter = true;
    } else if (!std::strcmp(argv[i], "--group") && i + 1 < argc) {
      bench::g_group_delivery = argv[++i];
      if (bench::g_group_delivery != "at_most_once" && bench::g_group_delivery != "at_least_once") {
        std::cerr << "edri-bench: --group is at_most_once or at_least_once\n";
        return 2;
      }
    } else if (!std::strcmp(argv[i], "--sync") && i + 1 < argc) {
      bench::g_sync = argv[++i];
      if (bench::g_sync != "always" && bench::g_sync != "batch" && bench::g_sync != "os") {
        std::cerr << "edri-bench: --sync is always, batch or os\n";
        return 2;
      }
    } else if (!std::strcmp(argv[i], "--producers") && i + 1 < argc) {
      bench::g_producers = std::max(1, std::stoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--size") && i + 1 < argc) {
      size = std::stoul(argv[++i]);
    } else if (argv[i][0] != '-') {
      scenario = argv[i];
    } else {
      std::cerr << "usage: edri-bench [inproc-notify|spsc-ring|inproc-request|executor-thread|executor-process|switch|switch-notify|switch-request|switch-replay|queued-memory|durable-notify|all] "
                   "[--events N] [--size BYTES] [--rate REQUESTS_PER_S] [--fanout SINKS] [--coalesce-us US] [--payload string|bytes] [--group at_most_once|at_least_once] [--filter] [--sync always|batch|os] [--producers N]\n";
      return 2;
    }
  }
  edrid::logging::setup({"warn", "text"});
  if (scenario == "inproc-notify" || scenario == "all") {
    if (fanout > 0) {
      bench::inproc_notify(events / static_cast<std::uint64_t>(fanout), size, fanout);
    } else {
      bench::inproc_notify(events, size, 1);
      bench::inproc_notify(events / 4, size, 4);
    }
  }
  if (scenario == "inproc-request" || scenario == "all") {
    if (rate > 0) {
      bench::inproc_request_at_rate(events / 20, size, rate);
    } else {
      bench::inproc_request(events / 20, size);
    }
  }
  if (scenario == "queued-memory" || scenario == "all") bench::queued_memory(events / 4, size);
  if (scenario == "executor-thread" || scenario == "all") {
    bench::executor(edrid::ExecutorKind::thread, events / 10);
  }
  if (scenario == "executor-process" || scenario == "all") {
    bench::executor(edrid::ExecutorKind::process, events / 20);
  }
  if (scenario == "switch" || scenario == "switch-notify" || scenario == "switch-request" || scenario == "all") {
    bench::across_switch(events / 4, size, scenario != "switch-request", scenario != "switch-notify");
  }
  if (scenario == "switch-replay" || scenario == "all") bench::switch_replay(events / 4, size);
  if (scenario == "durable-notify") bench::durable_notify(events, size);
  if (scenario == "spsc-ring" || scenario == "all") bench::spsc_ring(events * 10, size);
  return 0;
}
