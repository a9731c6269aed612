// One running manager: its plugin instance, its queue, its dispatch loop,
// its subscriptions, timers and counters. Handlers run on the dispatch loop
// one at a time in queue order (the inline executor).
#pragma once

#include "manager/manager_stats.hpp"
#include "queue/manager_queue.hpp"
#include "router/pattern.hpp"
#include "router/subscription_table.hpp"

#include <edri/abi.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace spdlog {
class logger;
}

namespace edrid {
class ManagerRuntime;
}

struct edri_host_ctx {
  edrid::ManagerRuntime* manager;
};

struct edri_response {
  std::uint32_t status = EDRI_STATUS_OK;
  std::string message;
  edrid::EventPtr data;
};

namespace edrid {

class Router;

// A lifecycle step of a manager failed; what() names the manager and why.
class ManagerError : public std::runtime_error {
 public:
  ManagerError(const std::string& what, std::string config_key = {})
      : std::runtime_error(what), config_key_(std::move(config_key)) {}
  const std::string& config_key() const noexcept { return config_key_; }

 private:
  std::string config_key_;
};

struct QueueSettings {
  QueueOrder order = QueueOrder::fifo;
  std::size_t capacity = 1024;
  WhenFull when_full = WhenFull::block;
};

struct PluginTimer {
  std::uint64_t id = 0;
  edri_timer_fn fn = nullptr;
  void* user = nullptr;
  std::chrono::milliseconds interval{0};
  std::chrono::steady_clock::time_point next;
  std::atomic<bool> cancelled{false};
  std::atomic<bool> tick_queued{false};
  std::mutex mutex;  // guards service_id and next
  std::uint64_t service_id = 0;
};

class ManagerRuntime {
 public:
  ManagerRuntime(Router& router, std::string name, const edri_plugin_descriptor* plugin,
                 std::string plugin_label, QueueSettings queue);
  ~ManagerRuntime();
  ManagerRuntime(const ManagerRuntime&) = delete;
  ManagerRuntime& operator=(const ManagerRuntime&) = delete;

  // ---- Control plane; each throws ManagerError.
  void create(const std::string& config_json);
  void start();
  void after_start();
  // Stops timers, waits up to `grace` for the queue to drain, hands back what
  // is left (requests get `rejected`), joins the loop and calls plugin stop.
  void stop(std::chrono::milliseconds grace);
  void destroy() noexcept;

  // ---- Data plane.
  ManagerQueue& queue() noexcept { return queue_; }
  const std::string& name() const noexcept { return name_; }
  const char* name_cstr() const noexcept { return name_.c_str(); }
  const std::string& plugin_label() const noexcept { return plugin_label_; }
  edri_host_ctx* host_ctx() noexcept { return &host_ctx_; }
  Router& router() noexcept { return router_; }
  bool on_dispatch_thread() const noexcept {
    return dispatch_thread_id_.load(std::memory_order_relaxed) == std::this_thread::get_id();
  }
  bool started() const noexcept { return started_.load(std::memory_order_acquire); }
  ManagerStats& stats() noexcept { return stats_; }
  spdlog::logger& logger() noexcept { return *logger_; }

  int subscribe(edri_kind kind, const char* pattern, std::uint32_t handler_id, edri_error* err);
  int unsubscribe(edri_kind kind, const char* pattern);
  // Notification and request subscriptions, for the router's table.
  std::vector<Subscription> routing_subscriptions();

  std::uint64_t timer_start(std::int64_t delay_ms, std::int64_t interval_ms, edri_timer_fn fn,
                            void* user);
  void timer_cancel(std::uint64_t id);

  // Marks the manager warning/error when one handler runs too long.
  void check_liveness(std::chrono::milliseconds warning, std::chrono::milliseconds error);
  Health health() const noexcept { return health_.load(std::memory_order_relaxed); }
  void stats_json(nlohmann::json& out) const;

 private:
  struct LocalSubscription {
    edri_kind kind;
    Pattern pattern;
    std::uint32_t handler_id;
  };

  void run();
  void execute(Delivery& d);
  void handle_event(Delivery& d);
  void hand_back(Delivery& d);
  void fire_timer(const std::shared_ptr<PluginTimer>& t);
  void cancel_all_timers();
  bool response_handler_for(std::string_view type, std::uint32_t* handler_id);

  Router& router_;
  const std::string name_;
  const edri_plugin_descriptor* plugin_;
  const std::string plugin_label_;
  void* instance_ = nullptr;
  edri_host_ctx host_ctx_{this};
  ManagerQueue queue_;
  ManagerStats stats_;
  std::shared_ptr<spdlog::logger> logger_;

  std::thread thread_;
  std::atomic<std::thread::id> dispatch_thread_id_{};
  std::atomic<bool> started_{false};
  std::atomic<std::int64_t> busy_since_ns_{0};  // steady clock; 0 = idle
  std::atomic<Health> health_{Health::ok};

  std::mutex subs_mutex_;
  std::vector<LocalSubscription> subs_;

  std::mutex timers_mutex_;
  std::map<std::uint64_t, std::shared_ptr<PluginTimer>> timers_;
  std::uint64_t next_timer_id_ = 1;
  bool timers_closed_ = false;
};

}  // namespace edrid
