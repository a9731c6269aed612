// The two ends of the multi-process benchmark (bench/multiprocess.sh), each
// loaded by its own edrid as a user's plugin would be.
//   role: sink    counts bench.blob events; says bench.go every 20 ms until
//                 the first one arrives; when `count` arrived (or `idle_ms`
//                 passed without one) writes one JSON line to `result`
//   role: source  on the first bench.go, sends `count` bench.blob events of
//                 `size` bytes, numbered, as fast as the router takes them
// The figure is taken at the receiving plugin: first to last arrival.
#include "bench_events.hpp"

#include <edri/edri.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

class BenchProbe : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    return edri::ConfigSchema{}
        .required("role", edri::FieldType::string, "source or sink")
        .field("count", edri::FieldType::integer, 1000000, "events to send or to wait for")
        .field("size", edri::FieldType::integer, 256, "source: payload bytes")
        .field("result", edri::FieldType::string, "", "sink: the file the JSON line goes to")
        .field("scenario", edri::FieldType::string, "edri-3proc", "sink: the scenario name in the JSON line")
        .field("idle_ms", edri::FieldType::integer, 20000, "sink: give up after this long without an event");
  }

  BenchProbe(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx),
        sink_(config.get<std::string>("role") == "sink"),
        count_(static_cast<std::uint64_t>(config.get<std::int64_t>("count"))),
        size_(static_cast<std::size_t>(config.get<std::int64_t>("size"))),
        result_(config.get<std::string>("result")),
        scenario_(config.get<std::string>("scenario")),
        idle_(config.get<std::int64_t>("idle_ms")) {
    if (sink_) {
      if (result_.empty()) throw edri::ConfigError("result", "a sink needs a result file");
      ctx.on_notification<bench::Blob>([this](const bench::Blob& b) { receive(b.data); });
      return;
    }
    if (size_ < sizeof(std::uint64_t)) throw edri::ConfigError("size", "size must be at least 8 (the number)");
    ctx.on_notification<bench::Go>([this](const bench::Go&) {
      if (!started_.exchange(true)) sender_ = std::thread([this] { send_all(); });
    });
  }

  ~BenchProbe() override {
    if (sender_.joinable()) sender_.join();
  }

  void after_start() override {
    if (!sink_) return;
    ctx().every(std::chrono::milliseconds(20), [this] {
      if (received_ == 0) ctx().notify(bench::Go{1});
      if (!written_ && received_ > 0 && Clock::now() - last_ > std::chrono::milliseconds(idle_)) write();
    });
  }

 private:
  void send_all() {
    std::string payload(size_, 'x');
    for (std::uint64_t n = 1; n <= count_; ++n) {
      std::memcpy(payload.data(), &n, sizeof n);
      ctx().notify(bench::Blob{payload});
    }
  }

  // The sink's handler runs on its manager's one dispatch thread.
  void receive(const std::string& data) {
    const auto now = Clock::now();
    if (received_ == 0) first_ = now;
    last_ = now;
    std::uint64_t n = 0;
    std::memcpy(&n, data.data(), sizeof n);
    if (n <= top_) {
      ++duplicates_;
      return;
    }
    if (n != top_ + 1) ++out_of_order_;
    top_ = n;
    if (++received_ == count_) write();
  }

  void write() {
    written_ = true;
    const double secs = std::chrono::duration<double>(last_ - first_).count();
    const edri::json line{{"scenario", scenario_},
                          {"events", count_},
                          {"seconds", secs},
                          {"events_per_s", secs > 0 ? static_cast<double>(received_) / secs : 0.0},
                          {"lost", count_ - received_},
                          {"duplicates", duplicates_},
                          {"out_of_order", out_of_order_}};
    std::ofstream(result_, std::ios::app) << line.dump() << "\n";
  }

  bool sink_;
  std::uint64_t count_;
  std::size_t size_;
  std::string result_, scenario_;
  std::int64_t idle_;
  std::atomic<bool> started_{false};
  std::thread sender_;
  Clock::time_point first_{}, last_{};
  std::uint64_t received_ = 0, top_ = 0, duplicates_ = 0, out_of_order_ = 0;
  bool written_ = false;
};

}  // namespace

EDRI_PLUGIN(BenchProbe, "bench_probe", "1.0.0")
