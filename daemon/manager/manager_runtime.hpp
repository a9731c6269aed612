// One running manager: its plugin instance, its queue, its dispatch loops,
// its subscriptions, timers and counters. Handlers run where its executor
// says (on the loop, one at a time in queue order, by default).
#pragma once

#include "exec/execution_site.hpp"
#include "exec/executor.hpp"
#include "manager/manager_host.hpp"
#include "manager/manager_snapshot.hpp"
#include "manager/manager_stats.hpp"
#include "manager/work_settings.hpp"
#include "plugin/manager_error.hpp"
#include "queue/manager_queue.hpp"
#include "event/pattern.hpp"
#include "manager/dedupe_window.hpp"
#include "manager/durable_settings.hpp"
#include "manager/router_port.hpp"
#include "manager/subscription.hpp"

#include <edri/abi.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace spdlog {
class logger;
}

namespace edrid {

class DurableQueue;

// A type pattern and the priority this manager gives the events it matches.
struct TypePriority {
  Pattern pattern;
  std::int32_t priority;
};

struct QueueSettings {
  QueueOrder order = QueueOrder::fifo;
  std::size_t capacity = 1024;
  WhenFull when_full = WhenFull::block;
  // Priority chosen by the receiver (queue.priorities): the first pattern
  // that matches an event's type sets its priority here, whatever the
  // sender asked. Empty: the sender's priority.
  std::vector<TypePriority> priorities;
  // queue.durable: the queue is kept on disk too.
  DurableSettings durable;
};

class ManagerRuntime final : public ExecutionSite {
 public:
  ManagerRuntime(RouterPort& router, std::string name, const edri_plugin_descriptor* plugin,
                 std::string plugin_label, QueueSettings queue, ExecutorSettings executor = {},
                 WorkSettings work = {});
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
  // The window of finished event ids this manager shares with its group
  // (work.dedupe); set before start.
  void set_dedupe(std::shared_ptr<DedupeWindow> window) { dedupe_ = std::move(window); }
  // The priority this manager gives events of `type`, if it chose one.
  std::optional<std::int32_t> priority_for(std::string_view type) const noexcept {
    for (const auto& p : priorities_) {
      if (p.pattern.matches(type)) return p.priority;
    }
    return std::nullopt;
  }
  // The content filter events of `type` must pass here, or null.
  const ContentFilter* filter_for(std::string_view type) { return host_.filter_for(type); }
  // ---- queue.durable: the journal that keeps this manager's queue on disk.
  bool durable() const noexcept { return journal_ != nullptr; }
  // Before an event goes into the queue: on disk as the sync policy says.
  // `written` false: it was there already (a redelivery). False when it
  // cannot be kept (the file is full): the queue must refuse the event.
  bool journal_accept(const Event& ev, std::int32_t priority, bool* written);
  // The work on ev is over here (handled, given up, skipped or refused).
  void journal_done(const Event& ev) noexcept {
    if (journal_) journal_forget(ev);
  }
  // ev goes again later, here: its record counts the delivery.
  void journal_retried(const Event& again) noexcept;
  // ev waits on disk for this manager's next start.
  void journal_keep(const Event& ev) noexcept;
  static bool journaled_kind(const Event& ev) noexcept {
    return ev.header.kind == EDRI_KIND_NOTIFICATION || ev.header.kind == EDRI_KIND_REQUEST;
  }
  std::shared_ptr<const ContentFilter> filter_covering(const Pattern& subscription) const {
    return host_.filter_covering(subscription);
  }
  const std::string& name() const noexcept override { return name_; }
  const char* name_cstr() const noexcept { return name_.c_str(); }
  const std::string& plugin_label() const noexcept { return plugin_label_; }
  edri_host_ctx* host_ctx() noexcept { return host_.ctx(); }
  // True while the calling thread runs this manager's work (any executor):
  // blocking on this manager's own full queue would then deadlock.
  bool runs_here() const noexcept;
  bool started() const noexcept { return started_.load(std::memory_order_acquire); }
  // Routed to before it starts: its queue takes events meanwhile (a manager
  // replacing another on reload, so nothing is answered not_found between).
  void route_before_start(bool on = true) noexcept { route_early_.store(on, std::memory_order_release); }
  bool routable() const noexcept { return started() || route_early_.load(std::memory_order_acquire); }
  ManagerStats& stats() noexcept { return stats_; }
  spdlog::logger& logger() noexcept override { return *logger_; }

  // What its plugin calls.
  ManagerHost& plugin_host() noexcept { return host_; }
  // Notification, request and tunnel subscriptions, for the router's table.
  std::vector<Subscription> routing_subscriptions() { return host_.routing_subscriptions(); }

  // ---- ExecutionSite: what its executor asks of it.
  void execute(Delivery& d, std::size_t slot) override;
  // Also resolves response handlers.
  bool admit(Delivery& d) override;
  void task_started(std::size_t slot) noexcept override;
  void task_stopped(std::size_t slot) noexcept override;
  void task_finished(const Event& ev, const char* error, edri_response* resp) override;
  using ExecutionSite::task_finished;
  void task_later(const Event& ev, std::int64_t delay_ms) override;
  std::size_t running_tasks() const noexcept override;
  void count_crash() noexcept override { stats_.crashes.fetch_add(1, std::memory_order_relaxed); }
  HostBackend& host() noexcept override { return host_; }
  TimerService& timers() noexcept override;
  TunnelTable& tunnels() noexcept override;
  void open_tunnel(EventPtr offer, const std::string& type, TunnelBinding opener, std::int64_t timeout_ms,
                   Tunnel::OpenDone done) override;
  // ---- TunnelOwner
  bool post_tunnel_work(Delivery&& d) override;

  std::size_t busy_slots() const noexcept { return busy_slots_; }
  // Requests this manager sent whose final response has not been handed to
  // it yet (kept by the router): stop() waits for them, within its grace.
  void request_started() noexcept { requests_outstanding_.fetch_add(1, std::memory_order_relaxed); }
  void request_ended() noexcept { requests_outstanding_.fetch_sub(1, std::memory_order_release); }
  const std::string& config_json() const noexcept override { return config_json_; }
  const ExecutorSettings& executor_settings() const noexcept { return executor_settings_; }
  const WorkSettings& work() const noexcept { return work_; }
  // Work taken and not finished: queued, handed to workers or running. A
  // group gives each event to its member with the least.
  std::size_t load() const noexcept { return queue_.depth() + executor_->load(); }
  const edri_plugin_descriptor* plugin() const noexcept { return plugin_; }
  void* instance() const noexcept { return instance_; }

  // Samples the per-second rates (the router's liveness tick).
  void sample_rates(std::int64_t now_ns) noexcept;
  // One "stats" line in its log: rates, queue, running handlers, health.
  void log_stats();
  // Marks the manager warning/error when one handler runs too long.
  void check_liveness(std::chrono::milliseconds warning, std::chrono::milliseconds error);
  Health health() const noexcept { return health_.load(std::memory_order_relaxed); }
  ManagerSnapshot snapshot() const;
  std::optional<DurableStats> durable_stats() const;

 private:
  void run(std::size_t loop);
  void handle_event(Delivery& d, std::size_t slot);
  bool admissible(Delivery& d);
  bool any_busy() const noexcept;
  void hand_back(Delivery& d);

  RouterPort& router_;
  const std::string name_;
  const edri_plugin_descriptor* plugin_;
  const std::string plugin_label_;
  void* instance_ = nullptr;
  std::atomic<std::uint32_t> requests_outstanding_{0};
  std::atomic<bool> route_early_{false};
  ManagerQueue queue_;
  ManagerStats stats_;
  std::shared_ptr<spdlog::logger> logger_;
  ManagerHost host_;  // after logger_, which it uses

  std::vector<std::thread> loops_;  // the dispatch loops (Executor::loops())
  std::atomic<bool> started_{false};
  ExecutorSettings executor_settings_;
  const WorkSettings work_;
  std::unique_ptr<Executor> executor_;  // set in the constructor, never replaced
  std::string config_json_;
  // Per executor slot: steady-clock start of the running handler, 0 = idle.
  // One extra slot for work a process executor runs in this process.
  std::size_t busy_slots_;
  std::unique_ptr<std::atomic<std::int64_t>[]> busy_since_ns_;
  // Per executor slot, touched only by the thread running that slot's task:
  // which task is sampled for the latency histograms, and its start.
  struct alignas(64) SlotTiming {
    std::uint32_t tasks = 0;
    std::int64_t started_ns = 0;  // 0: this task is not sampled
  };
  std::unique_ptr<SlotTiming[]> timing_;
  std::atomic<Health> health_{Health::ok};
  std::atomic<bool> retry_later_refused_{false};  // logged once
  const std::vector<TypePriority> priorities_;
  std::shared_ptr<DedupeWindow> dedupe_;
  std::atomic<std::uint64_t> handed_back_{0};  // queued events a stop did not handle
  std::atomic<std::uint64_t> handed_over_{0};  // of those, given to its group
  std::atomic<std::uint64_t> kept_{0};         // of those, kept in the durable queue
  const DurableSettings durable_settings_;
  std::shared_ptr<DurableQueue> journal_;  // queue.durable; opened by create()
  std::atomic<bool> journal_full_said_{false};  // one error line per episode of a full file
  // Queues what the durable queue holds and no queue here does (start()).
  void restore_journal();
  void journal_forget(const Event& ev) noexcept;

};

}  // namespace edrid
