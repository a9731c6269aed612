// The host side of one manager: what its plugin calls (subscribe, send,
// cancel, log, timers, tunnels), answered for that manager. The delivery
// side — queue, dispatch loops, executor — is ManagerRuntime, which owns
// this; the router sees the runtime, the plugin sees this.
#pragma once

#include "event/pattern.hpp"
#include "manager/subscription.hpp"
#include "manager/work_settings.hpp"
#include "plugin/host_backend.hpp"

#include <edri/abi.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace edrid {

class ManagerRuntime;
class RouterPort;

// A plugin timer; its ticks are deliveries in the manager's queue.
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

class ManagerHost final : public HostBackend {
 public:
  ManagerHost(ManagerRuntime& manager, RouterPort& router, spdlog::logger& logger);
  ManagerHost(const ManagerHost&) = delete;
  ManagerHost& operator=(const ManagerHost&) = delete;

  edri_host_ctx* ctx() noexcept { return &ctx_; }

  // ---- HostBackend
  const edri_plugin_descriptor* plugin() const noexcept override;
  int subscribe(edri_kind kind, const char* pattern, std::uint32_t handler_id, edri_error* err) override;
  int unsubscribe(edri_kind kind, const char* pattern) override;
  int set_filter(const char* pattern, const char* filter_json, edri_error* err) override;
  int notify(EventPtr ev, const edri_send_options* opts, std::uint32_t* delivered) override;
  int request(EventPtr ev, const edri_send_options* opts, edri_response_fn fn, void* user, std::uint32_t delivery,
              edri_id128* id_out) override;
  int request_cancel(const edri_id128& id) override;
  bool log_enabled(std::uint32_t level) override;
  void log(std::uint32_t level, std::string_view msg) override;
  std::uint64_t timer_start(std::int64_t delay_ms, std::int64_t interval_ms, edri_timer_fn fn, void* user) override;
  void timer_cancel(std::uint64_t id) override;
  std::string stats_json() override;
  std::string metrics_text() override;
  edri_tunnel* tunnel_open(const char* type, EventPtr initial, const edri_tunnel_handlers& handlers,
                           std::int64_t timeout_ms, std::uint32_t* status, std::string* reason) override;
  edri_tunnel* tunnel_accept(const edri_event* offer, const edri_tunnel_handlers& handlers) override;
  void tunnel_refuse(const edri_event* offer, const char* reason) override;

  // ---- For the delivery side.
  // Notification, request and tunnel subscriptions, for the router's table.
  std::vector<Subscription> routing_subscriptions();
  // The content filter events of `type` must pass to reach this manager,
  // or null. Valid while the manager lives: a filter replaced or removed is
  // kept, since routes cached on other threads may still point at it.
  const ContentFilter* filter_for(std::string_view type);
  // The filter that holds for every type `subscription` matches, or null
  // when none does or they differ (the switch is then told no filter, and
  // this router's own routing still filters each event).
  std::shared_ptr<const ContentFilter> filter_covering(const Pattern& subscription) const;
  // YAML filters, in order; before start.
  void add_filters(const std::vector<TypeFilter>& filters);
  // The filters in force, first match first (stats, the cluster's interest).
  std::vector<TypeFilter> filters() const;
  // The most specific response handler for `type`.
  bool response_handler_for(std::string_view type, std::uint32_t* handler_id);
  // A plugin whose create failed leaves nothing subscribed.
  void clear_subscriptions();
  // A one-shot timer's tick is running: it is no longer listed.
  void forget_timer(const PluginTimer& t);
  // Stopping: every timer ends and no new one starts.
  void cancel_all_timers();

 private:
  struct LocalSubscription {
    edri_kind kind;
    Pattern pattern;
    std::uint32_t handler_id;
  };
  void fire_timer(const std::shared_ptr<PluginTimer>& t);

  ManagerRuntime& manager_;
  RouterPort& router_;
  spdlog::logger& logger_;
  edri_host_ctx ctx_{this};

  mutable std::mutex subs_mutex_;
  std::vector<LocalSubscription> subs_;
  std::vector<TypeFilter> filters_;  // under subs_mutex_
  std::vector<std::shared_ptr<const ContentFilter>> retired_filters_;  // under subs_mutex_

  std::mutex timers_mutex_;
  std::map<std::uint64_t, std::shared_ptr<PluginTimer>> timers_;
  std::uint64_t next_timer_id_ = 1;
  bool timers_closed_ = false;
};

}  // namespace edrid
