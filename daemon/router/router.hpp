// The router: owns the managers, the subscription table and the pending
// requests, and moves events between managers. Publishing runs on the
// sender's thread and goes straight into each receiver's queue; there is no
// central router thread to wait for.
#pragma once

#include "manager/manager_runtime.hpp"
#include "manager/router_port.hpp"
#include "metrics/sharded_counter.hpp"
#include "router/cluster_uplink.hpp"
#include "router/dead_letters.hpp"
#include "router/filter_payload.hpp"
#include "router/request_tracker.hpp"
#include "router/router_counters.hpp"
#include "router/router_snapshot.hpp"
#include "router/subscription_table.hpp"
#include "timer/timer_service.hpp"
#include "tunnel/tunnel_table.hpp"

#include <boost/container/small_vector.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace edrid {

struct RouterOptions {
  std::string id = "edrid";
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds liveness_interval{1'000};
  std::chrono::milliseconds liveness_warning{5'000};
  std::chrono::milliseconds liveness_error{30'000};
  // A "stats" log line per manager this often (rates, queue, health); 0: never.
  std::chrono::milliseconds stats_log{0};
  std::chrono::milliseconds stop_grace{5'000};
  TunnelSettings tunnels;
};

// How many events of one type were sent, by kind. On a line of its own, so
// publishers of different types never share one.
struct alignas(64) TypeCounter {
  std::atomic<std::uint64_t> sent{0};
};

class Router final : public RouterPort {
 public:
  explicit Router(RouterOptions options);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // ---- Control plane (throws ManagerError).
  // Creates a manager from a plugin descriptor and its validated config JSON.
  ManagerRuntime& add_manager(const std::string& name, const edri_plugin_descriptor* plugin,
                              const std::string& plugin_label, QueueSettings queue,
                              const std::string& config_json, ExecutorSettings executor = {},
                              WorkSettings work = {});
  // Starts managers in the order they were added, then runs after_start.
  void start();
  // Stops managers in reverse order, draining each; safe to call twice.
  void stop();
  ManagerRuntime* find(std::string_view name) const;

  // ---- Changing the running set (config reload).
  // Creates a manager that is not routed yet; add it with start_manager().
  std::unique_ptr<ManagerRuntime> create_manager(const std::string& name, const edri_plugin_descriptor* plugin,
                                                 const std::string& plugin_label, QueueSettings queue,
                                                 const std::string& config_json, ExecutorSettings executor = {},
                              WorkSettings work = {});
  // Adds a created manager to be started by start().
  void adopt(std::unique_ptr<ManagerRuntime> m);
  // Starts a created manager, routes to it, and runs its after_start.
  void start_manager(std::unique_ptr<ManagerRuntime> m);
  // Drains and stops a running manager and takes it out of routing. The
  // object lives on (retired) until the router ends, as events and caches
  // may still point at it.
  void retire_manager(std::string_view name);
  // Starts m in place of the running manager of the same name (reload): the
  // types move to m at once and queue there until the old one has stopped.
  void replace_manager(std::unique_ptr<ManagerRuntime> m);

  // ---- Data plane. Each takes over the event reference.
  // Returns the number of managers the notification was queued for.
  int notify(ManagerRuntime* sender, EventPtr ev, const edri_send_options* opts,
             std::uint32_t* delivered) override;
  // Responses go to fn (per `delivery`) or, with fn NULL, to the sender's
  // response handlers. Always answers: not_found, rejected or timeout at worst.
  int request(ManagerRuntime* sender, EventPtr ev, const edri_send_options* opts,
              edri_response_fn fn, void* user, std::uint32_t delivery, edri_id128* id_out) override;
  // The sender of a pending request gives up on it: its callback gets a last
  // response with status cancelled, local receivers skip it, later answers
  // are dropped. False when it is not pending or `sender` did not send it.
  bool cancel(ManagerRuntime* sender, const edri_id128& request_id) override;
  // A responder's answer to `request`.
  void respond(const Event& request, edri_response&& resp, ManagerRuntime& responder) override;
  using RouterPort::respond;
  bool retry(const Event& ev, ManagerRuntime& failed, const std::string& error, std::int64_t delay_ms = -1) override;
  bool hand_over(const EventPtr& ev, ManagerRuntime& from) override;
  // Offers a tunnel of `type` to a manager serving it (not the opener);
  // `done` runs once: accepted, refused, not_found or timeout.
  void open_tunnel(ManagerRuntime* opener, EventPtr offer, const std::string& type, TunnelBinding binding,
                   std::int64_t timeout_ms, Tunnel::OpenDone done) override;
  TunnelTable& tunnels() noexcept override { return tunnels_; }

  void subscriptions_changed() override;

  // ---- Clustering. The uplink is set once the router runs and cleared
  // before it goes away; events from other routers come in through the
  // *_remote calls, which deliver locally only (never back to the cluster).
  void set_uplink(ClusterUplink* uplink);
  // Re-resolves every type's routes (the set of remote subscribers changed).
  void refresh_routes();
  // A notification from another router. `assigned`: the groups the switch
  // gave it to here (null: every local group takes it, one member each).
  void deliver_remote(EventPtr ev, const GroupAssignment* assigned = nullptr);
  // A request from another router, served by local managers only; every
  // response goes to fn (on the completing thread, is_last on the final one).
  void serve_remote(EventPtr ev, edri_response_fn fn, void* user, const GroupAssignment* assigned = nullptr);
  // One of this router's own requests that the switch placed back here, on
  // the members of `assigned` here: its responses go to the request's own
  // pending entry, as a local member's would, and not over the link.
  void serve_placed_back(EventPtr ev, const GroupAssignment& assigned);
  // Each work group with members here: how many, and their unfinished work.
  std::vector<GroupWork> group_work() const;
  // A response from another router to a request sent from here; `last` ends
  // that router's part.
  void remote_response(EventPtr response, bool last);
  // A tunnel offer from another router, for local managers only; `opener`
  // reaches the other end; `done` reports the decision.
  void serve_remote_tunnel(EventPtr offer, std::shared_ptr<TunnelSink> opener, Tunnel::OpenDone done);
  // The switch forwarded request `id` to `routers` routers.
  void remote_fanout(const edri_id128& id, std::uint32_t routers);
  // Supplies the links part of the stats.
  void set_link_stats(std::function<void(std::vector<LinkSnapshot>&)> fn);
  TimerService& timers() noexcept override { return timers_; }
  const edri_host_api* host_api() const noexcept override;
  const std::string& id() const noexcept { return options_.id; }
  const RouterOptions& options() const noexcept { return options_; }
  const RouterCounters& counters() const noexcept { return counters_; }
  std::size_t pending_requests() const { return requests_.size(); }
  // Everything /stats and /metrics show, taken once.
  RouterSnapshot snapshot() const;
  void stats_json(nlohmann::json& out) const override;
  std::string metrics_text() const override;

 private:
  struct RouteCache;
  // Managers of one group subscribed to a type: one of them gets each event.
  struct RouteGroup {
    std::vector<Route> members;
    std::uint32_t turn = 0;  // breaks ties in load, per publishing thread
    // Members on other routers too: when the event leaves, the switch picks
    // the router (maybe this one), not this router.
    bool placed = false;
    bool filtered = false;  // a member has a content filter for the type
    const std::string& name() const noexcept;
  };
  struct CachedRoutes {
    std::vector<Route> routes;  // each gets the event (tunnels: every server)
    std::vector<RouteGroup> groups;  // notifications and requests only
    // Groups with members on other routers, for the switch to place.
    std::vector<std::string> placed;
    TypeCounter* counter;
    RemoteRoute remote = RemoteRoute::none;
    // Set when every other router's subscription to the type has a content
    // filter: the event leaves only when its payload passes one.
    std::vector<std::shared_ptr<const ContentFilter>> remote_filters;
    // What to tell the switch of groups when the event leaves: null when no
    // group anywhere subscribes to the type.
    const std::vector<std::string>* section() const noexcept {
      return groups.empty() && placed.empty() ? nullptr : &placed;
    }
  };
  // The receivers of one event, copied (see receivers()).
  using RouteCopy = boost::container::small_vector<Route, 4>;
  // `leaves`: the event goes to the switch, which places the placed groups.
  // `assigned`: an event from another router, for the groups listed there.
  static RouteCopy receivers(CachedRoutes& cached, FilterPayload& payload, bool leaves = false,
                             const GroupAssignment* assigned = nullptr);
  static void hand_back_unserved(CachedRoutes& cached, const GroupAssignment* assigned, const Event& ev);
  // The member of g with the least work taken and not finished.
  static const Route& pick(RouteGroup& g) noexcept;
  // pick() among the members whose content filter ev passes; null if none does.
  static const Route* pick(RouteGroup& g, FilterPayload& payload);
  // Whether the event passes r's content filter (none: it does); a miss is
  // counted on r's manager.
  static bool passes(const Route& r, FilterPayload& payload);
  // What resolve() found, with group members gathered into their groups.
  static CachedRoutes group_routes(std::vector<Route> resolved, edri_kind kind);
  CachedRoutes& routes_for(edri_kind kind, std::string_view type);
  TypeCounter* type_counter(edri_kind kind, std::string_view type);
  bool prepare(ManagerRuntime* sender, Event& ev, edri_kind kind, const edri_send_options* opts);
  // True when sending to these routes would wait for room (a full queue
  // under when_full: block, a congested link): EDRI_SEND_NO_WAIT.
  static bool would_wait(const CachedRoutes& cached, const ClusterUplink* up) noexcept;
  // may_wait false: a full queue refuses even under when_full: block.
  bool enqueue(const Route& r, EventPtr ev, ManagerRuntime* sender, bool may_wait = true);
  void dispatch_request(ManagerRuntime* sender, const EventPtr& ev, std::span<const Route> routes,
                        ClusterUplink* remote, edri_response_fn fn, void* user, std::uint32_t delivery,
                        bool may_wait, const std::vector<std::string>* groups = nullptr);
  // The uplink to send ev through when it should leave this router, else
  // nullptr. Read once per event, so a concurrent set_uplink(nullptr) is safe.
  ClusterUplink* remote_uplink(const CachedRoutes& cached, const Event& ev, FilterPayload& payload);
  void schedule_liveness();
  // A retry's time came: ev goes to `last` again, or to another member of its group.
  void redeliver(EventPtr ev, ManagerRuntime& last, const std::string& error);
  void dead_letter(const DeadLetter& letter);

  RouterOptions options_;
  TimerService timers_;
  // Guards the list (not the managers): reload changes it while stats,
  // liveness and run-time subscriptions read it.
  mutable std::shared_mutex managers_mutex_;
  std::vector<std::unique_ptr<ManagerRuntime>> managers_;
  std::vector<std::unique_ptr<ManagerRuntime>> retired_;
  bool stopped_ = false;

  mutable std::mutex table_mutex_;
  std::shared_ptr<const SubscriptionTable> table_;
  std::atomic<std::uint64_t> table_version_{0};

  TunnelTable tunnels_;
  std::atomic<std::uint64_t> tunnel_rr_{0};
  std::atomic<ClusterUplink*> uplink_{nullptr};
  mutable std::mutex link_stats_mutex_;
  std::function<void(std::vector<LinkSnapshot>&)> link_stats_;
  // Per type and kind, for /metrics. Bounded: past kMaxCountedTypes, new
  // types share the "(other)" counter.
  static constexpr std::size_t kMaxCountedTypes = 10000;
  mutable std::mutex type_counts_mutex_;
  std::map<std::pair<int, std::string>, std::unique_ptr<TypeCounter>> type_counts_;
  RouterCounters counters_;
  DeadLetters dead_letters_;
  std::mutex dedupe_mutex_;
  std::map<std::string, std::shared_ptr<DedupeWindow>> dedupe_windows_;
  RequestTracker requests_{options_.id, timers_, counters_};
  std::atomic<bool> liveness_on_{false};
  std::uint64_t liveness_timer_ = 0;
  std::int64_t stats_logged_ns_ = 0;  // on the liveness tick only
  std::mutex liveness_mutex_;
  const std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
};

}  // namespace edrid
