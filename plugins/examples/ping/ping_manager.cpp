// Sends demo.ping requests on an interval and logs each round trip.
#include <demo/events.hpp>
#include <edri/edri.hpp>

#include <chrono>

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class PingManager : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    return edri::ConfigSchema{}
        .field("interval_ms", edri::FieldType::integer, 1000, "time between pings")
        .field("count", edri::FieldType::integer, 0, "pings to send; 0 = no limit")
        .field("timeout_ms", edri::FieldType::integer, 2000, "how long to wait for a pong");
  }

  PingManager(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx),
        interval_(config.get<std::int64_t>("interval_ms")),
        count_(config.get<std::int64_t>("count")),
        timeout_(config.get<std::int64_t>("timeout_ms")) {
    if (interval_.count() < 1) throw edri::ConfigError("interval_ms", "interval_ms must be at least 1");
    if (count_ < 0) throw edri::ConfigError("count", "count must not be negative");
    if (timeout_.count() < 1) throw edri::ConfigError("timeout_ms", "timeout_ms must be at least 1");
  }

  void after_start() override {
    timer_ = ctx().every(interval_, [this] { ping(); });
  }

  void stop() override {
    log().info("sent ", sent_, " pings, ", answered_, " answered, ", failed_, " failed");
  }

 private:
  void ping() {
    if (count_ > 0 && sent_ >= static_cast<std::uint64_t>(count_)) {
      ctx().cancel(timer_);
      return;
    }
    const std::uint64_t seq = ++sent_;
    ctx().request(
        demo::Ping{seq, now_ns()},
        [this, seq, sent = now_ns()](const edri::Response<demo::Pong>& r) {
          const auto rtt_us = (now_ns() - sent) / 1000;
          if (r.ok() && r.data()) {
            ++answered_;
            log().info("pong ", r.data()->seq, " from ", r.data()->by, " in ", rtt_us, " us");
          } else {
            ++failed_;
            log().warn("ping ", seq, " failed: ", edri::to_string(r.status()), " ", r.message());
          }
        },
        edri::SendOptions{.timeout = timeout_});
  }

  std::chrono::milliseconds interval_;
  std::int64_t count_;
  std::chrono::milliseconds timeout_;
  edri::TimerId timer_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t answered_ = 0;
  std::uint64_t failed_ = 0;
};

}  // namespace

EDRI_PLUGIN(PingManager, "ping", "1.0.0")
