// Reads one Redis stream through a consumer group on a thread of its own,
// never more than max_inflight entries unsettled at once. At start it first
// delivers what this consumer had read and not acknowledged (its pending
// list: an edrid killed mid-work), then new entries; now and then it claims
// entries other consumers left pending longer than claim_idle. Settled
// entries are acknowledged together (one XACK per pass of the intake's
// loop); a failed one goes again after retry_delay.
#pragma once

#include "link_log.hpp"
#include "redis_bridge_settings.hpp"
#include "redis_connection.hpp"
#include "route_stats.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

namespace edri_bridge {

struct StreamEntry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
  int attempt = 1;  // deliveries by this intake (1 after a restart or a claim)
  const std::string* field(std::string_view name) const {
    for (const auto& [k, v] : fields) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

class RedisStreamIntake {
 public:
  // deliver(entry) hands it to edri; whoever ends that calls settle once.
  using Deliver = std::function<void(StreamEntry)>;

  RedisStreamIntake(const RedisSettings& redis, const RedisInbound& route, RouteStats& stats, LinkLog log,
                    Deliver deliver);
  ~RedisStreamIntake();
  RedisStreamIntake(const RedisStreamIntake&) = delete;
  RedisStreamIntake& operator=(const RedisStreamIntake&) = delete;

  void start();
  void stop();
  // ok: acknowledged; otherwise delivered again after retry_delay. Any thread.
  void settle(StreamEntry entry, bool ok);

 private:
  void run();
  void read_once(bool& history, std::string& history_from);
  void claim_idle();
  void deliver_all(const redisReply* entries, bool claimed);
  void deliver_due_retries();
  void flush_acks();
  void report(const std::string& text);

  RedisInbound route_;
  RouteStats& stats_;
  LinkLog log_;
  Deliver deliver_;
  std::chrono::milliseconds reconnect_wait_;
  RedisConnection reader_;                  // the intake's thread only
  std::mutex mutex_;
  std::vector<std::string> acks_;           // settled, to acknowledge in one XACK
  std::unordered_set<std::string> in_flight_;  // handed to edri, not settled
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<std::pair<std::chrono::steady_clock::time_point, StreamEntry>> retries_;
  bool group_ready_ = false;
  std::chrono::steady_clock::time_point last_claim_{};
  std::string last_problem_;
  std::thread thread_;
};

}  // namespace edri_bridge
