#include "router/router.hpp"

#include "router/stats_render.hpp"

#include "event/ids.hpp"
#include "log/logging.hpp"
#include "plugin/abi_sizes.hpp"
#include "plugin/dispatch_context.hpp"
#include "plugin/host_api.hpp"
#include "timer/clock.hpp"

#include <algorithm>
#include <unordered_map>

#include <boost/container/small_vector.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace edrid {
namespace {
// Table versions are unique across every Router in the process, so a
// thread's cache can never mistake one router's table for another's.
std::atomic<std::uint64_t> g_table_versions{0};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

}  // namespace

// Per publishing thread: the routes already resolved against the current
// table. Checking it costs one atomic load; no lock is shared by publishers.
struct Router::RouteCache {
  static constexpr std::size_t kMaxTypes = 4096;
  std::uint64_t version = 0;
  std::shared_ptr<const SubscriptionTable> table;
  std::unordered_map<std::string, CachedRoutes, StringHash, std::equal_to<>> routes[3];
  // The last lookup per kind: a sender mostly sends one type in a row, and
  // comparing its name is cheaper than hashing it. `type` views the map's key.
  struct Last {
    std::string_view type;
    CachedRoutes* routes = nullptr;
  } last[3];
};

Router::Router(RouterOptions options) : options_(std::move(options)), tunnels_(options_.tunnels) {
  table_ = std::make_shared<SubscriptionTable>(std::vector<Subscription>{},
                                               ++g_table_versions);
  table_version_.store(table_->version(), std::memory_order_release);
}

Router::~Router() {
  stop();
  timers_.stop();
  // Managers go before the plugins (owned by the caller) are unloaded; the
  // queues and pending requests hold events whose payloads live in plugins.
  for (auto it = managers_.rbegin(); it != managers_.rend(); ++it) (*it)->destroy();
  managers_.clear();
  retired_.clear();
}

const edri_host_api* Router::host_api() const noexcept { return &edrid::host_api(); }

ManagerRuntime& Router::add_manager(const std::string& name, const edri_plugin_descriptor* plugin,
                                    const std::string& plugin_label, QueueSettings queue,
                                    const std::string& config_json, ExecutorSettings executor, WorkSettings work) {
  if (find(name)) throw ManagerError("manager '" + name + "' is defined twice");
  auto m = create_manager(name, plugin, plugin_label, queue, config_json, std::move(executor), std::move(work));
  std::unique_lock lock(managers_mutex_);
  managers_.push_back(std::move(m));
  return *managers_.back();
}

std::unique_ptr<ManagerRuntime> Router::create_manager(const std::string& name, const edri_plugin_descriptor* plugin,
                                                       const std::string& plugin_label, QueueSettings queue,
                                                       const std::string& config_json, ExecutorSettings executor,
                                                       WorkSettings work) {
  const auto dedupe = work.dedupe;
  const std::string window_key = work.group.empty() ? "manager:" + name : "group:" + work.group;
  auto m = std::make_unique<ManagerRuntime>(*this, name, plugin, plugin_label, queue, std::move(executor),
                                            std::move(work));
  if (dedupe.count() > 0) {
    // One window per group: a member must skip what another finished.
    std::lock_guard lock(dedupe_mutex_);
    auto& w = dedupe_windows_[window_key];
    if (!w) w = std::make_shared<DedupeWindow>(dedupe);
    m->set_dedupe(w);
  }
  m->create(config_json);
  return m;
}

void Router::adopt(std::unique_ptr<ManagerRuntime> m) {
  if (find(m->name())) throw ManagerError("manager '" + m->name() + "' is defined twice");
  std::unique_lock lock(managers_mutex_);
  managers_.push_back(std::move(m));
}

void Router::start_manager(std::unique_ptr<ManagerRuntime> m) {
  if (find(m->name())) throw ManagerError("manager '" + m->name() + "' is running already");
  ManagerRuntime& ref = *m;
  {
    std::unique_lock lock(managers_mutex_);
    managers_.push_back(std::move(m));
  }
  ref.start();
  subscriptions_changed();
  ref.after_start();
}

void Router::replace_manager(std::unique_ptr<ManagerRuntime> m) {
  ManagerRuntime& fresh = *m;
  std::unique_ptr<ManagerRuntime> old;
  {
    std::unique_lock lock(managers_mutex_);
    auto it = std::find_if(managers_.begin(), managers_.end(), [&](const auto& x) { return x->name() == fresh.name(); });
    if (it == managers_.end()) {
      lock.unlock();
      return start_manager(std::move(m));
    }
    old = std::move(*it);
    *it = std::move(m);
  }
  // One table change moves the types from the old to the new: no event goes
  // to both, and none finds nobody. The new one's queue holds them while the
  // old one finishes its own.
  fresh.route_before_start();
  subscriptions_changed();
  if (old->started()) old->stop(options_.stop_grace);
  {
    std::unique_lock lock(managers_mutex_);
    retired_.push_back(std::move(old));
  }
  try {
    fresh.start();
  } catch (...) {
    // Its types find nobody again; what queued meanwhile is not handled
    // (requests among it time out at their deadlines).
    fresh.route_before_start(false);
    subscriptions_changed();
    throw;
  }
  subscriptions_changed();
  fresh.after_start();
}

void Router::retire_manager(std::string_view name) {
  std::unique_ptr<ManagerRuntime> m;
  {
    std::unique_lock lock(managers_mutex_);
    auto it = std::find_if(managers_.begin(), managers_.end(), [&](const auto& x) { return x->name() == name; });
    if (it == managers_.end()) return;
    m = std::move(*it);
    managers_.erase(it);
  }
  subscriptions_changed();  // no new events for it
  if (m->started()) m->stop(options_.stop_grace);
  std::unique_lock lock(managers_mutex_);
  retired_.push_back(std::move(m));
}

ManagerRuntime* Router::find(std::string_view name) const {
  std::shared_lock lock(managers_mutex_);
  for (const auto& m : managers_) {
    if (m->name() == name) return m.get();
  }
  return nullptr;
}

void Router::start() {
  for (auto& m : managers_) {
    m->start();
    spdlog::debug("manager '{}' started", m->name());
  }
  subscriptions_changed();
  for (auto& m : managers_) m->after_start();
  liveness_on_.store(true);
  schedule_liveness();
}

void Router::schedule_liveness() {
  std::lock_guard lock(liveness_mutex_);
  if (!liveness_on_.load()) return;
  liveness_timer_ = timers_.schedule(
      std::chrono::steady_clock::now() + options_.liveness_interval, [this] {
        std::shared_lock lock(managers_mutex_);
        const std::int64_t now = steady_ns();
        const bool log_stats = options_.stats_log.count() > 0 &&
                               now - stats_logged_ns_ >= options_.stats_log.count() * 1'000'000 - 1'000'000;
        if (log_stats) stats_logged_ns_ = now;
        for (auto& m : managers_) {
          if (!m->started()) continue;
          m->sample_rates(now);
          m->check_liveness(options_.liveness_warning, options_.liveness_error);
          if (log_stats) m->log_stats();
        }
        tunnels_.sweep();
        schedule_liveness();
      });
}

void Router::stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(liveness_mutex_);
    liveness_on_.store(false);
    timers_.cancel(liveness_timer_);
  }
  for (std::size_t i = managers_.size(); i-- > 0;) {
    if (!managers_[i]->started()) continue;
    managers_[i]->stop(options_.stop_grace);
    subscriptions_changed();  // senders now get not_found instead of a closed queue
    spdlog::debug("manager '{}' stopped", managers_[i]->name());
  }
}

void Router::subscriptions_changed() {
  std::vector<Subscription> all;
  {
    std::shared_lock lock(managers_mutex_);
    for (auto& m : managers_) {
      if (!m->routable()) continue;
      auto subs = m->routing_subscriptions();
      all.insert(all.end(), subs.begin(), subs.end());
    }
  }
  std::vector<LocalPattern> patterns;
  for (const auto& sub : all) {
    if (sub.kind == EDRI_KIND_RESPONSE) continue;
    std::string filter;
    if (sub.kind != EDRI_KIND_TUNNEL) {
      if (auto f = sub.manager->filter_covering(sub.pattern)) filter = f->text();
    }
    patterns.push_back(LocalPattern{sub.kind, sub.pattern.text(),
                                    sub.kind == EDRI_KIND_TUNNEL ? std::string() : sub.manager->work().group,
                                    std::move(filter)});
  }
  auto table = std::make_shared<SubscriptionTable>(std::move(all), ++g_table_versions);
  {
    std::lock_guard lock(table_mutex_);
    table_ = std::move(table);
    table_version_.store(table_->version(), std::memory_order_release);
  }
  if (auto* up = uplink_.load(std::memory_order_acquire)) up->local_subscriptions(std::move(patterns));
}

TypeCounter* Router::type_counter(edri_kind kind, std::string_view type) {
  std::lock_guard lock(type_counts_mutex_);
  auto key = std::make_pair(static_cast<int>(kind), std::string(type));
  if (auto it = type_counts_.find(key); it != type_counts_.end()) return it->second.get();
  if (type_counts_.size() >= kMaxCountedTypes) key.second = "(other)";
  auto& slot = type_counts_[key];
  if (!slot) slot = std::make_unique<TypeCounter>();
  return slot.get();
}

Router::CachedRoutes Router::group_routes(std::vector<Route> resolved, edri_kind kind) {
  CachedRoutes out;
  if (kind == EDRI_KIND_TUNNEL) {
    out.routes = std::move(resolved);
    return out;
  }
  for (const Route& r : resolved) {
    const std::string& group = r.manager->work().group;
    // A filtered member of a group makes the group's pick per event.
    if (group.empty()) {
      out.routes.push_back(r);
      continue;
    }
    auto g = std::find_if(out.groups.begin(), out.groups.end(),
                          [&](const RouteGroup& x) { return x.members.front().manager->work().group == group; });
    if (g == out.groups.end()) g = out.groups.insert(out.groups.end(), RouteGroup{});
    g->members.push_back(r);
    g->filtered = g->filtered || r.filter;
  }
  return out;
}

const std::string& Router::RouteGroup::name() const noexcept { return members.front().manager->work().group; }

bool GroupAssignment::serves(std::string_view group) const noexcept {
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

// The receivers of one event: every manager outside a group, and one member
// of each group (unless the switch places it). A copy: enqueueing may run a
// dropped request's response, which can refresh this thread's route cache.
Router::RouteCopy Router::receivers(CachedRoutes& cached, FilterPayload& payload, bool leaves,
                                   const GroupAssignment* assigned) {
  RouteCopy out;
  if (!assigned || !assigned->only) {
    for (const Route& r : cached.routes) {
      if (passes(r, payload)) out.push_back(r);
    }
  }
  for (RouteGroup& g : cached.groups) {
    if (assigned ? !assigned->serves(g.name()) : g.placed && leaves) continue;
    if (const Route* r = pick(g, payload)) out.push_back(*r);
  }
  return out;
}

bool Router::passes(const Route& r, FilterPayload& payload) {
  if (!r.filter || payload.passes(*r.filter)) return true;
  r.manager->stats().filtered.fetch_add(1, std::memory_order_relaxed);
  return false;
}

const Route* Router::pick(RouteGroup& g, FilterPayload& payload) {
  if (!g.filtered) return &pick(g);
  // Members of one group nearly always share their filter: each distinct
  // filter is evaluated once.
  boost::container::small_vector<std::pair<const ContentFilter*, bool>, 2> verdicts;
  auto admitted = [&](const Route& r) {
    if (!r.filter) return true;
    for (const auto& [f, ok] : verdicts) {
      if (f == r.filter) return ok;
    }
    const bool ok = payload.passes(*r.filter);
    verdicts.emplace_back(r.filter, ok);
    return ok;
  };
  const std::size_t n = g.members.size();
  const std::size_t start = g.turn++ % n;
  const Route* best = nullptr;
  std::size_t best_load = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Route& r = g.members[(start + i) % n];
    if (!admitted(r)) continue;
    const std::size_t load = r.manager->load();
    if (!best || load < best_load) {
      best = &r;
      best_load = load;
    }
  }
  if (!best) g.members.front().manager->stats().filtered.fetch_add(1, std::memory_order_relaxed);
  return best;
}

std::vector<GroupWork> Router::group_work() const {
  std::vector<GroupWork> out;
  std::shared_lock lock(managers_mutex_);
  for (const auto& m : managers_) {
    const std::string& group = m->work().group;
    if (group.empty() || !m->routable()) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const GroupWork& w) { return w.group == group; });
    if (it == out.end()) it = out.insert(out.end(), GroupWork{group, 0, 0, false});
    ++it->members;
    it->at_least_once = it->at_least_once || m->work().any_at_least_once();
    it->outstanding += static_cast<std::uint32_t>(std::min<std::size_t>(m->load(), 1u << 30));
  }
  return out;
}

const Route& Router::pick(RouteGroup& g) noexcept {
  const std::size_t n = g.members.size();
  // One member here (the usual shape when a group spans routers): nothing to
  // weigh, and no reading of a queue depth its consumer keeps writing.
  if (n == 1) return g.members.front();
  const std::size_t start = g.turn++ % n;
  const Route* best = &g.members[start];
  std::size_t best_load = best->manager->load();
  for (std::size_t i = 1; i < n && best_load > 0; ++i) {
    const Route& r = g.members[(start + i) % n];
    const std::size_t load = r.manager->load();
    if (load < best_load) {
      best = &r;
      best_load = load;
    }
  }
  return *best;
}

Router::CachedRoutes& Router::routes_for(edri_kind kind, std::string_view type) {
  thread_local RouteCache cache;
  const std::uint64_t v = table_version_.load(std::memory_order_acquire);
  if (cache.version != v) {
    std::lock_guard lock(table_mutex_);
    cache.table = table_;
    cache.version = table_->version();
    for (auto& m : cache.routes) m.clear();
    for (auto& l : cache.last) l = {};
  }
  const int k = kind == EDRI_KIND_REQUEST ? 1 : kind == EDRI_KIND_TUNNEL ? 2 : 0;
  auto& last = cache.last[k];
  if (last.routes && last.type == type) return *last.routes;
  auto& map = cache.routes[k];
  auto it = map.find(type);
  if (it == map.end()) {
    if (map.size() >= RouteCache::kMaxTypes) map.clear();
    ClusterUplink* up = uplink_.load(std::memory_order_acquire);
    std::vector<Route> resolved = cache.table->resolve(kind, type);
    for (Route& r : resolved) {
      if (kind != EDRI_KIND_TUNNEL) r.filter = r.manager->filter_for(type);
      if (auto p = r.manager->priority_for(type)) {
        r.fixed_priority = true;
        r.priority = *p;
      }
    }
    CachedRoutes routes = group_routes(std::move(resolved), kind);
    routes.counter = type_counter(kind, type);
    routes.remote = up ? up->remote_route(kind, type) : RemoteRoute::none;
    if (up && kind != EDRI_KIND_TUNNEL && routes.remote != RemoteRoute::none) {
      routes.placed = up->remote_groups(kind, type);
      if (routes.placed.empty()) routes.remote_filters = up->remote_filters(kind, type);
      for (RouteGroup& g : routes.groups) {
        g.placed = std::find(routes.placed.begin(), routes.placed.end(), g.name()) != routes.placed.end();
      }
    }
    it = map.emplace(std::string(type), std::move(routes)).first;
  }
  last = {it->first, &it->second};
  return it->second;
}

bool Router::prepare(ManagerRuntime* sender, Event& ev, edri_kind kind,
                     const edri_send_options* opts) {
  // A sender mostly sends one type in a row: check each name once per run.
  thread_local std::string last_valid_type;
  if (ev.payload_type != last_valid_type) {
    if (!is_valid_type_name(ev.payload_type)) {
      counters_.invalid.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("refused to send an event with invalid type name '{}'", ev.payload_type);
      return false;
    }
    last_valid_type = ev.payload_type;
  }
  auto& h = ev.header;
  // Set from locals, never read back: the header's memory was last written
  // by the thread that freed it, and a load of a field just stored here
  // waits for that cache line to arrive (12 % of the publisher's time when
  // trace_id was copied from h.id).
  const edri_id128 id = next_id();
  const std::int64_t now = realtime_ns();
  const DispatchContext& cur = current_dispatch();
  h.id = id;
  if (const edri_id128* chosen = abi::send_trace_id(opts)) {
    h.trace_id = *chosen;
  } else {
    h.trace_id = cur.event ? cur.event->header.trace_id : id;
  }
  h.type = ev.payload_type.data();
  h.payload_type = ev.payload_type.data();
  h.kind = kind;
  h.priority = opts && opts->has_priority ? opts->priority : 0;
  if (const std::string_view key = abi::send_dedupe_key(opts); !key.empty()) {
    EventText& t = event_text(ev);
    t.dedupe_id = dedupe_id_of(key.substr(0, 255));
    t.has_dedupe = true;
  }
  h.origin_router = options_.id.c_str();
  h.sender = sender ? sender->name_cstr() : "";
  h.timestamp_ns = now;
  h.message = "";
  if (kind == EDRI_KIND_REQUEST) {
    const std::int64_t timeout_ms = opts && opts->timeout_ms > 0
                                        ? opts->timeout_ms
                                        : options_.request_timeout.count();
    h.deadline_ns = now + timeout_ms * 1'000'000;
  }
  return true;
}

namespace {
// The sender asked never to wait for room (EDRI_SEND_NO_WAIT, ABI 1.3).
bool no_wait(const edri_send_options* o) noexcept { return (abi::send_flags(o) & EDRI_SEND_NO_WAIT) != 0; }

// A queue under when_full: block keeps a quarter of its capacity more for
// senders that must not wait: the senders that do wait are woken as soon as
// there is room and fill it at once, so a sender that only tries again later
// would never get in while they keep sending (an api call starved behind a
// flood from a link).
std::size_t no_wait_limit(const ManagerQueue& q) noexcept { return q.capacity() + std::max<std::size_t>(1, q.capacity() / 4); }
}  // namespace

bool Router::would_wait(const CachedRoutes& cached, const ClusterUplink* up) noexcept {
  auto full = [](const Route& r) {
    const ManagerQueue& q = r.manager->queue();
    return q.when_full() == WhenFull::block && q.depth() >= no_wait_limit(q) && !r.manager->runs_here();
  };
  for (const Route& r : cached.routes) {
    if (full(r)) return true;
  }
  // A group waits only when every member would.
  for (const RouteGroup& g : cached.groups) {
    if (std::all_of(g.members.begin(), g.members.end(), full)) return true;
  }
  return up && up->congested();
}

bool Router::enqueue(const Route& r, EventPtr ev, ManagerRuntime* sender, bool may_wait) {
  Delivery d;
  d.handler_id = r.handler_id;
  d.priority = r.fixed_priority ? r.priority : ev->header.priority;
  // A durable queue has it on disk before its sender hears it was taken.
  bool journaled = false;
  if (r.manager->durable() && !r.manager->journal_accept(*ev, d.priority, &journaled)) {
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const EventPtr undo = journaled ? ev : EventPtr();  // a refused push may have consumed d
  d.event = std::move(ev);
  std::optional<Delivery> dropped;
  const bool may_block = may_wait && !r.manager->runs_here();
  ManagerQueue& q = r.manager->queue();
  // A sender that must not wait goes into a block queue's headroom.
  const bool headroom = !may_wait && q.when_full() == WhenFull::block && q.depth() < no_wait_limit(q);
  const auto res = q.push(std::move(d), headroom, may_block, &dropped);
  if (dropped) {
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    if (dropped->kind() == Delivery::Kind::event) r.manager->journal_done(*dropped->event);
    if (dropped->kind() == Delivery::Kind::event &&
        dropped->event->header.kind == EDRI_KIND_REQUEST) {
      respond(*dropped->event, EDRI_STATUS_REJECTED,
              "dropped from the full queue of manager '" + r.manager->name() + "'", *r.manager);
    }
  }
  if (res == ManagerQueue::Push::accepted) {
    r.manager->stats().received.fetch_add(1, std::memory_order_relaxed);
    counters_.deliveries.add();
    return true;
  }
  counters_.rejected.fetch_add(1, std::memory_order_relaxed);
  (void)sender;
  if (undo) r.manager->journal_done(*undo);  // refused: its sender hears so
  return false;
}

int Router::notify(ManagerRuntime* sender, EventPtr ev, const edri_send_options* opts,
                   std::uint32_t* delivered) {
  if (delivered) *delivered = 0;
  if (!prepare(sender, *ev, EDRI_KIND_NOTIFICATION, opts)) return EDRI_E_INVALID;
  std::uint32_t n = 0;
  CachedRoutes& cached = routes_for(EDRI_KIND_NOTIFICATION, ev->payload_type);
  // Read by the routes' filters before each is given the event: the last
  // route may take the sender's reference.
  FilterPayload payload(*ev);
  ClusterUplink* const up = remote_uplink(cached, *ev, payload);
  const bool may_wait = !no_wait(opts);
  if (!may_wait && would_wait(cached, up)) {  // turned back: not sent, not counted as sent
    counters_.would_wait.fetch_add(1, std::memory_order_relaxed);
    return EDRI_E_AGAIN;
  }
  counters_.notifications.add();
  cached.counter->sent.fetch_add(1, std::memory_order_relaxed);
  // The last local receiver takes the sender's reference when no link needs
  // the event after it: two atomic operations fewer for one receiver.
  const std::size_t routes = cached.routes.size();
  const std::size_t groups = cached.groups.size();
  for (std::size_t i = 0; i < routes; ++i) {
    const Route& r = cached.routes[i];
    if (!passes(r, payload)) continue;
    if (enqueue(r, i + 1 == routes && groups == 0 && !up ? std::move(ev) : ev, sender, may_wait)) ++n;
  }
  for (std::size_t i = 0; i < groups; ++i) {
    RouteGroup& g = cached.groups[i];
    if (g.placed && up) continue;  // the switch picks its router
    const Route* r = pick(g, payload);
    if (r && enqueue(*r, i + 1 == groups && !up ? std::move(ev) : ev, sender, may_wait)) ++n;
  }
  if (up) {
    // After the local receivers: a congested link holds the sender here.
    if (up->send(*ev, may_wait, cached.section())) {
      counters_.sent_remote.add();
      ++n;
    } else {
      counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (delivered) *delivered = n;
  return EDRI_OK;
}

ClusterUplink* Router::remote_uplink(const CachedRoutes& cached, const Event& ev, FilterPayload& payload) {
  if (cached.remote == RemoteRoute::none) return nullptr;
  if (cached.remote != RemoteRoute::always && !ev.shareable) return nullptr;
  if (!cached.remote_filters.empty()) {
    if (std::none_of(cached.remote_filters.begin(), cached.remote_filters.end(),
                     [&](const auto& f) { return payload.passes(*f); })) {
      // No other router wants it: it does not cross the network.
      counters_.filtered_remote.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
  }
  return uplink_.load(std::memory_order_acquire);
}

int Router::request(ManagerRuntime* sender, EventPtr ev, const edri_send_options* opts,
                    edri_response_fn fn, void* user, std::uint32_t delivery,
                    edri_id128* id_out) {
  if (!prepare(sender, *ev, EDRI_KIND_REQUEST, opts)) {
    // Still answer, so a callback attached to the request is released.
    ev->header.type = ev->payload_type.data();
    ev->header.payload_type = ev->header.type;
    ev->header.origin_router = options_.id.c_str();
    ev->header.sender = sender ? sender->name_cstr() : "";
    ev->header.message = "";
    requests_.reply_now(sender, *ev, fn, user, delivery, EDRI_STATUS_ERROR,
                        "invalid event type name '" + std::string(ev->payload_type) + "'");
    return EDRI_E_INVALID;
  }
  // Copy: enqueueing may run a dropped request's response, which can refresh
  // this thread's route cache.
  CachedRoutes& cached = routes_for(EDRI_KIND_REQUEST, ev->payload_type);
  FilterPayload payload(*ev);
  ClusterUplink* const remote = remote_uplink(cached, *ev, payload);
  if (no_wait(opts) && would_wait(cached, remote)) {  // turned back: not sent, not counted as sent
    counters_.would_wait.fetch_add(1, std::memory_order_relaxed);
    return EDRI_E_AGAIN;
  }
  counters_.requests.add();
  if (id_out) *id_out = ev->header.id;
  cached.counter->sent.fetch_add(1, std::memory_order_relaxed);
  const RouteCopy routes = receivers(cached, payload, remote != nullptr);
  if (routes.empty() && !remote) {
    counters_.not_found.fetch_add(1, std::memory_order_relaxed);
    const bool filtered = !cached.routes.empty() || !cached.groups.empty() || !cached.remote_filters.empty();
    requests_.reply_now(sender, *ev, fn, user, delivery, EDRI_STATUS_NOT_FOUND,
                        filtered ? "no manager's content filter takes this '" + std::string(ev->payload_type) + "'"
                                 : "no manager serves '" + std::string(ev->payload_type) + "'");
    return EDRI_OK;
  }
  dispatch_request(sender, ev, routes, remote, fn, user, delivery, !no_wait(opts), cached.section());
  return EDRI_OK;
}

void Router::dispatch_request(ManagerRuntime* sender, const EventPtr& ev, std::span<const Route> routes,
                              ClusterUplink* remote, edri_response_fn fn, void* user, std::uint32_t delivery,
                              bool may_wait, const std::vector<std::string>* groups) {
  auto p = std::make_shared<PendingRequest>();
  p->id = ev->header.id;
  p->sender = sender;
  p->fn = fn;
  p->user = user;
  p->delivery = delivery;
  // The other routers count as one responder until the switch says how many
  // routers it asked (remote_fanout).
  p->expected = static_cast<std::uint32_t>(routes.size()) + (remote ? 1 : 0);
  p->timeout_ms = std::max<std::int64_t>(
      1, (ev->header.deadline_ns - realtime_ns() + 999'999) / 1'000'000);
  p->request = ev;
  const std::int64_t deadline = steady_ns() + p->timeout_ms * 1'000'000;
  if (!requests_.track(p, deadline)) {
    // Ids are random 128-bit values: only a peer that reuses one gets here.
    spdlog::warn("router: request {} from '{}' reuses the id of a request still waiting here; refused",
                 ev->payload_type, ev->header.origin_router ? ev->header.origin_router : "");
    requests_.reply_now(sender, *ev, fn, user, delivery, EDRI_STATUS_ERROR,
                        "a request with this id is waiting already");
    return;
  }
  if (sender) sender->request_started();
  if (remote) {
    if (remote->send(*ev, may_wait, groups)) {
      counters_.sent_remote.add();
    } else {
      counters_.rejected.fetch_add(1, std::memory_order_relaxed);
      requests_.complete(p->id, requests_.make_response(*ev, EDRI_STATUS_REJECTED,
                                                        "the link to other routers is congested", "", EventPtr()));
    }
  }
  for (const Route& r : routes) {
    if (!enqueue(r, ev, sender, may_wait)) {
      requests_.complete(p->id, requests_.make_response(*ev, EDRI_STATUS_REJECTED,
                                                        "queue of manager '" + r.manager->name() + "' is full",
                                                        r.manager->name_cstr(), EventPtr()));
    }
  }
}

void Router::open_tunnel(ManagerRuntime* opener, EventPtr ev, const std::string& type, TunnelBinding binding,
                         std::int64_t timeout_ms, Tunnel::OpenDone done) {
  if (!is_valid_type_name(type)) {
    done(EDRI_STATUS_ERROR, "invalid tunnel type name '" + type + "'", nullptr);
    return;
  }
  if (!prepare(opener, *ev, EDRI_KIND_TUNNEL, nullptr)) {
    done(EDRI_STATUS_ERROR, "invalid payload type name '" + std::string(ev->payload_type) + "'", nullptr);
    return;
  }
  // The offer routes by the tunnel type; its payload keeps its own type.
  ev->header.type = event_set_type(*ev, type);
  const std::int64_t ms = timeout_ms > 0 ? timeout_ms : options_.request_timeout.count();
  ev->header.deadline_ns = ev->header.timestamp_ns + ms * 1'000'000;
  const CachedRoutes& cached = routes_for(EDRI_KIND_TUNNEL, type);
  cached.counter->sent.fetch_add(1, std::memory_order_relaxed);
  std::vector<Route> candidates;
  for (const Route& r : cached.routes) {
    if (r.manager != opener) candidates.push_back(r);
  }
  // Local servers first; another router only when none is here.
  FilterPayload unfiltered(*ev);  // tunnels have no content filters
  ClusterUplink* const up = candidates.empty() ? remote_uplink(cached, *ev, unfiltered) : nullptr;
  if (candidates.empty() && !up) {
    done(EDRI_STATUS_NOT_FOUND,
         cached.routes.empty() ? "no manager serves tunnel '" + type + "'"
                               : "a manager cannot open a tunnel to itself ('" + type + "')",
         nullptr);
    return;
  }
  auto t = tunnels_.create(ev->header.id, type, std::move(binding), std::move(done));
  std::weak_ptr<Tunnel> weak = t;
  timers_.schedule(std::chrono::steady_clock::now() + std::chrono::milliseconds(ms), [weak, ms] {
    if (auto s = weak.lock()) s->refuse(EDRI_STATUS_TIMEOUT, "no answer within " + std::to_string(ms) + " ms");
  });
  if (up) {
    counters_.sent_remote.add();
    up->send_tunnel_open(*ev);
    return;
  }
  const Route r = candidates[tunnel_rr_.fetch_add(1, std::memory_order_relaxed) % candidates.size()];
  if (!enqueue(r, ev, opener)) {
    t->refuse(EDRI_STATUS_REJECTED, "queue of manager '" + r.manager->name() + "' is full");
  }
}

void Router::serve_remote_tunnel(EventPtr ev, std::shared_ptr<TunnelSink> opener, Tunnel::OpenDone done) {
  counters_.received_remote.add();
  const std::string type = ev->header.type;
  const auto& cached = routes_for(EDRI_KIND_TUNNEL, type).routes;
  const RouteCopy routes(cached.begin(), cached.end());
  if (routes.empty()) {
    done(EDRI_STATUS_NOT_FOUND, "no manager on router '" + options_.id + "' serves tunnel '" + type + "'", nullptr);
    return;
  }
  const Route r = routes[tunnel_rr_.fetch_add(1, std::memory_order_relaxed) % routes.size()];
  auto t = tunnels_.create(ev->header.id, type, TunnelBinding{nullptr, {}, std::move(opener)}, std::move(done));
  const std::int64_t ms =
      std::max<std::int64_t>(1, (ev->header.deadline_ns - realtime_ns() + 999'999) / 1'000'000);
  std::weak_ptr<Tunnel> weak = t;
  timers_.schedule(std::chrono::steady_clock::now() + std::chrono::milliseconds(ms), [weak, ms] {
    if (auto s = weak.lock()) s->refuse(EDRI_STATUS_TIMEOUT, "no answer within " + std::to_string(ms) + " ms");
  });
  if (!enqueue(r, ev, nullptr)) {
    t->refuse(EDRI_STATUS_REJECTED, "queue of manager '" + r.manager->name() + "' is full");
  }
}

void Router::set_uplink(ClusterUplink* uplink) {
  uplink_.store(uplink, std::memory_order_release);
  refresh_routes();
  if (uplink) subscriptions_changed();
}

void Router::refresh_routes() {
  std::lock_guard lock(table_mutex_);
  table_ = std::make_shared<SubscriptionTable>(table_->subscriptions(), ++g_table_versions);
  table_version_.store(table_->version(), std::memory_order_release);
}

// A group the switch gave an event to here that has no member here any more
// (it changed meanwhile): the event goes back, to be placed again.
void Router::hand_back_unserved(CachedRoutes& cached, const GroupAssignment* assigned, const Event& ev) {
  if (!assigned) return;
  for (std::string_view name : assigned->groups) {
    if (std::none_of(cached.groups.begin(), cached.groups.end(), [&](const RouteGroup& g) { return g.name() == name; })) {
      event_hand_back(ev);
      return;
    }
  }
}

void Router::deliver_remote(EventPtr ev, const GroupAssignment* assigned) {
  counters_.received_remote.add();
  counters_.notifications.add();
  CachedRoutes& cached = routes_for(EDRI_KIND_NOTIFICATION, ev->payload_type);
  hand_back_unserved(cached, assigned, *ev);
  FilterPayload payload(*ev);
  for (const Route& r : receivers(cached, payload, false, assigned)) {
    if (!enqueue(r, ev, nullptr)) event_hand_back(*ev);
  }
}

void Router::serve_remote(EventPtr ev, edri_response_fn fn, void* user, const GroupAssignment* assigned) {
  counters_.received_remote.add();
  counters_.requests.add();
  CachedRoutes& cached = routes_for(EDRI_KIND_REQUEST, ev->payload_type);
  hand_back_unserved(cached, assigned, *ev);
  FilterPayload payload(*ev);
  const RouteCopy routes = receivers(cached, payload, false, assigned);
  if (routes.empty()) {
    counters_.not_found.fetch_add(1, std::memory_order_relaxed);
    requests_.reply_now(nullptr, *ev, fn, user, EDRI_DELIVER_DIRECT, EDRI_STATUS_NOT_FOUND,
                        "no manager on router '" + options_.id + "' serves '" + std::string(ev->payload_type) + "'");
    return;
  }
  dispatch_request(nullptr, ev, routes, nullptr, fn, user, EDRI_DELIVER_DIRECT, true);
}

void Router::serve_placed_back(EventPtr ev, const GroupAssignment& assigned) {
  counters_.received_remote.add();
  CachedRoutes& cached = routes_for(EDRI_KIND_REQUEST, ev->payload_type);
  hand_back_unserved(cached, &assigned, *ev);
  FilterPayload payload(*ev);
  const RouteCopy routes = receivers(cached, payload, false, &assigned);
  const edri_id128 id = ev->header.id;
  if (routes.empty()) {
    counters_.not_found.fetch_add(1, std::memory_order_relaxed);
    requests_.complete(id, requests_.make_response(*ev, EDRI_STATUS_NOT_FOUND,
                                                   "no member of its group is on router '" + options_.id + "' now",
                                                   options_.id.c_str(), EventPtr()));
    return;
  }
  // The switch counted this router as one responder; each member here answers.
  requests_.add_remote_responders(id, static_cast<std::uint32_t>(routes.size()));
  for (const Route& r : routes) {
    if (!enqueue(r, ev, nullptr)) {
      requests_.complete(id, requests_.make_response(*ev, EDRI_STATUS_REJECTED,
                                                     "queue of manager '" + r.manager->name() + "' is full",
                                                     r.manager->name_cstr(), EventPtr()));
    }
  }
}

void Router::remote_response(EventPtr response, bool last) {
  counters_.received_remote.add();
  counters_.responses.add();
  const edri_id128 id = response->header.correlation_id;
  requests_.complete(id, std::move(response), last);
}

void Router::remote_fanout(const edri_id128& id, std::uint32_t routers) {
  requests_.add_remote_responders(id, routers);
}

void Router::set_link_stats(std::function<void(std::vector<LinkSnapshot>&)> fn) {
  std::lock_guard lock(link_stats_mutex_);
  link_stats_ = std::move(fn);
}

void Router::respond(const Event& request, edri_response&& resp, ManagerRuntime& responder) {
  counters_.responses.add();
  requests_.complete(request.header.id, requests_.make_response(request, resp.status, std::move(resp.message),
                                                                responder.name_cstr(), std::move(resp.data)));
}

bool Router::retry(const Event& ev, ManagerRuntime& failed, const std::string& error, std::int64_t delay_ms) {
  // Its sender gave up on it: nobody would read the answer.
  if (ev.header.kind == EDRI_KIND_REQUEST && ev.cancelled.load(std::memory_order_relaxed)) return false;
  const WorkSettings& work = failed.work();
  const std::uint32_t made = event_attempt(ev);
  if (made >= work.max_deliveries) {
    dead_letter({ev, DeadReason::max_deliveries, made, failed.name(), work.group, error});
    return false;
  }
  std::string why;
  // A group's member carries on the work's receipt, if it came with one.
  EventPtr again = event_redelivery(ev, made + 1, &why, !work.group.empty());
  if (!again) {
    dead_letter({ev, DeadReason::undeliverable, made, failed.name(), work.group, why});
    return false;
  }
  counters_.redeliveries.fetch_add(1, std::memory_order_relaxed);
  failed.journal_retried(*again);
  const auto delay = delay_ms >= 0 ? std::chrono::milliseconds(delay_ms) : work.backoff(made + 1);
  {
    logging::TraceScope trace(ev.header.trace_id);
    failed.logger().info("{} goes again in {} ms (delivery {} of {})", ev.header.type, delay.count(), made + 1,
                         work.max_deliveries);
  }
  timers_.schedule(std::chrono::steady_clock::now() + delay,
                   [this, again = std::move(again), m = &failed, error]() mutable { redeliver(std::move(again), *m, error); });
  return true;
}

bool Router::hand_over(const EventPtr& ev, ManagerRuntime& from) {
  const std::string& group = from.work().group;
  const auto kind = static_cast<edri_kind>(ev->header.kind);
  if (group.empty() || (kind != EDRI_KIND_NOTIFICATION && kind != EDRI_KIND_REQUEST)) return false;
  std::optional<Route> to;
  FilterPayload payload(*ev);
  for (const RouteGroup& g : routes_for(kind, ev->header.type).groups) {
    if (g.name() != group) continue;
    for (const Route& r : g.members) {
      // A member whose content filter turns the event away is no member for it.
      if (r.manager != &from && r.manager->started() && (!to || r.manager->load() < to->manager->load()) &&
          passes(r, payload)) {
        to = r;
      }
    }
  }
  // Never waits: the stopping manager's thread must not block on another's queue.
  return to && enqueue(*to, ev, nullptr, false);
}

void Router::redeliver(EventPtr ev, ManagerRuntime& last, const std::string& error) {
  const auto& h = ev->header;
  const WorkSettings& work = last.work();
  const std::uint32_t attempt = event_attempt(*ev);
  const bool is_request = h.kind == EDRI_KIND_REQUEST;
  auto give_up = [&](DeadReason reason, const std::string& why) {
    last.journal_done(*ev);
    dead_letter({*ev, reason, attempt - 1, last.name(), work.group, why});
    if (is_request) respond(*ev, EDRI_STATUS_ERROR, why, last);
  };
  if (is_request && h.deadline_ns != 0 && realtime_ns() > h.deadline_ns) {
    give_up(DeadReason::expired, "deadline passed before delivery " + std::to_string(attempt) + "; last error: " + error);
    return;
  }
  CachedRoutes& cached = routes_for(static_cast<edri_kind>(h.kind), h.type);
  std::optional<Route> to;
  if (work.group.empty()) {
    for (const Route& r : cached.routes) {
      if (r.manager == &last) to = r;
    }
  } else {
    FilterPayload payload(*ev);
    for (RouteGroup& g : cached.groups) {
      if (g.members.front().manager->work().group != work.group) continue;
      // Another member if there is one whose content filter takes it: the
      // failure may be this member's own.
      std::optional<Route> again;
      for (const Route& r : g.members) {
        if (r.manager == &last) {
          again = r;
        } else if ((!to || r.manager->load() < to->manager->load()) && passes(r, payload)) {
          to = r;
        }
      }
      if (!to) to = again;
    }
  }
  if (!to) {
    give_up(DeadReason::no_receiver, "no manager left to deliver it to; last error: " + error);
    return;
  }
  if (to->manager == &last && last.durable() && !last.routable()) {
    // Its manager stopped meanwhile: the next start delivers it from disk.
    last.journal_keep(*ev);
    return;
  }
  // From the timer thread, which must not wait: a full queue is one more
  // failed delivery.
  const bool moved = enqueue(*to, ev, nullptr, false);
  if (to->manager != &last) last.journal_done(*ev);  // another member has it now (or refused it)
  if (moved) return;
  const std::string full = "queue of manager '" + to->manager->name() + "' is full";
  if (!retry(*ev, *to->manager, full) && is_request) respond(*ev, EDRI_STATUS_REJECTED, full, *to->manager);
}

void Router::dead_letter(const DeadLetter& l) {
  dead_letters_.count(l.reason);
  {
    logging::TraceScope trace(l.event.header.trace_id);
    spdlog::warn("dead letter: {} after {} deliveries to manager '{}' ({}): {}", l.event.header.type, l.attempts,
                 l.manager, to_string(l.reason), l.error);
  }
  if (EventPtr letter = DeadLetters::make(l)) notify(nullptr, std::move(letter), nullptr, nullptr);
}

bool Router::cancel(ManagerRuntime* sender, const edri_id128& request_id) {
  return requests_.cancel(sender, request_id);
}

RouterSnapshot Router::snapshot() const {
  RouterSnapshot s;
  s.router = options_.id;
  s.uptime_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_at_).count();
  auto& e = s.events;
  e.notifications = counters_.notifications.load();
  e.requests = counters_.requests.load();
  e.responses = counters_.responses.load();
  e.deliveries = counters_.deliveries.load();
  e.not_found = counters_.not_found.load();
  e.timeouts = counters_.timeouts.load();
  e.cancelled = counters_.cancelled.load();
  e.rejected = counters_.rejected.load();
  e.would_wait = counters_.would_wait.load();
  e.filtered_remote = counters_.filtered_remote.load();
  e.dropped = counters_.dropped.load();
  e.late_responses = counters_.late_responses.load();
  e.invalid = counters_.invalid.load();
  e.sent_remote = counters_.sent_remote.load();
  e.received_remote = counters_.received_remote.load();
  e.encoded = encode_count();
  e.pending_requests = requests_.size();
  e.redeliveries = counters_.redeliveries.load();
  for (std::size_t r = 0; r < static_cast<std::size_t>(DeadReason::count_); ++r) {
    const auto reason = static_cast<DeadReason>(r);
    s.dead_letters.emplace_back(to_string(reason), dead_letters_.counted(reason));
  }
  {
    std::shared_lock lock(managers_mutex_);
    s.managers.reserve(managers_.size());
    for (const auto& m : managers_) s.managers.push_back(m->snapshot());
  }
  {
    std::lock_guard lock(type_counts_mutex_);
    s.types.reserve(type_counts_.size());
    for (const auto& [key, counter] : type_counts_) {
      const char* kind = key.first == EDRI_KIND_REQUEST  ? "request"
                         : key.first == EDRI_KIND_TUNNEL ? "tunnel"
                                                         : "notification";
      s.types.push_back({key.second, kind, counter->sent.load(std::memory_order_relaxed)});
    }
  }
  {
    std::lock_guard lock(link_stats_mutex_);
    if (link_stats_) link_stats_(s.links);
  }
  return s;
}

void Router::stats_json(nlohmann::json& out) const {
  to_json(out, snapshot());
  nlohmann::json tunnels;
  tunnels_.stats_json(tunnels);
  out["tunnels"] = std::move(tunnels);
}

std::string Router::metrics_text() const { return to_prometheus(snapshot()); }

}  // namespace edrid
