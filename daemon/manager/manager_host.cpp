#include "manager/manager_host.hpp"

#include "manager/manager_runtime.hpp"
#include "manager/router_port.hpp"
#include "timer/timer_service.hpp"
#include "tunnel/tunnel_table.hpp"

#include <algorithm>
#include <future>
#include <limits>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace edrid {

ManagerHost::ManagerHost(ManagerRuntime& manager, RouterPort& router, spdlog::logger& logger)
    : manager_(manager), router_(router), logger_(logger) {}

const edri_plugin_descriptor* ManagerHost::plugin() const noexcept { return manager_.plugin(); }

int ManagerHost::notify(EventPtr ev, const edri_send_options* opts, std::uint32_t* delivered) {
  return router_.notify(&manager_, std::move(ev), opts, delivered);
}

int ManagerHost::request(EventPtr ev, const edri_send_options* opts, edri_response_fn fn,
                            void* user, std::uint32_t delivery, edri_id128* id_out) {
  return router_.request(&manager_, std::move(ev), opts, fn, user, delivery, id_out);
}

int ManagerHost::request_cancel(const edri_id128& id) {
  return router_.cancel(&manager_, id) ? EDRI_OK : EDRI_E_INVALID;
}

bool ManagerHost::log_enabled(std::uint32_t level) {
  return logger_.should_log(
      static_cast<spdlog::level::level_enum>(std::min<std::uint32_t>(level, EDRI_LOG_CRITICAL)));
}

void ManagerHost::log(std::uint32_t level, std::string_view msg) {
  logger_.log(static_cast<spdlog::level::level_enum>(std::min<std::uint32_t>(level, EDRI_LOG_CRITICAL)),
               "{}", msg);
}

edri_tunnel* ManagerHost::tunnel_open(const char* type, EventPtr initial, const edri_tunnel_handlers& handlers,
                                         std::int64_t timeout_ms, std::uint32_t* status, std::string* reason) {
  struct Result {
    std::uint32_t status;
    std::string reason;
    std::shared_ptr<Tunnel> tunnel;
  };
  auto result = std::make_shared<std::promise<Result>>();
  auto future = result->get_future();
  router_.open_tunnel(&manager_, std::move(initial), type, TunnelBinding{&manager_, handlers, nullptr}, timeout_ms,
                      [result](std::uint32_t st, const std::string& why, std::shared_ptr<Tunnel> t) {
                        result->set_value(Result{st, why, std::move(t)});
                      });
  Result r = future.get();
  if (!r.tunnel) {
    *status = r.status;
    *reason = r.reason;
    return nullptr;
  }
  return new LocalTunnelEnd(std::move(r.tunnel), Tunnel::kOpener);
}

edri_tunnel* ManagerHost::tunnel_accept(const edri_event* offer, const edri_tunnel_handlers& handlers) {
  auto t = router_.tunnels().find(offer->header.id);
  if (!t || !t->accept(TunnelBinding{&manager_, handlers, nullptr})) return nullptr;
  return new LocalTunnelEnd(std::move(t), Tunnel::kAcceptor);
}

void ManagerHost::tunnel_refuse(const edri_event* offer, const char* reason) {
  if (auto t = router_.tunnels().find(offer->header.id)) t->refuse(EDRI_STATUS_REJECTED, reason);
}

std::string ManagerHost::metrics_text() { return router_.metrics_text(); }

std::string ManagerHost::stats_json() {
  nlohmann::json j;
  router_.stats_json(j);
  return j.dump();
}

bool ManagerHost::response_handler_for(std::string_view type, std::uint32_t* handler_id) {
  std::lock_guard lock(subs_mutex_);
  int best = -1;
  for (const auto& s : subs_) {
    if (s.kind == EDRI_KIND_RESPONSE && s.pattern.specificity() > best && s.pattern.matches(type)) {
      best = s.pattern.specificity();
      *handler_id = s.handler_id;
    }
  }
  return best >= 0;
}

int ManagerHost::subscribe(edri_kind kind, const char* pattern, std::uint32_t handler_id,
                              edri_error* err) {
  auto fail = [&](int code, const std::string& msg) {
    if (err) std::snprintf(err->message, sizeof err->message, "%s", msg.c_str());
    return code;
  };
  if (kind != EDRI_KIND_NOTIFICATION && kind != EDRI_KIND_REQUEST && kind != EDRI_KIND_RESPONSE &&
      kind != EDRI_KIND_TUNNEL) {
    return fail(EDRI_E_INVALID, "manager '" + manager_.name() + "': cannot subscribe to event kind " +
                                    std::to_string(kind));
  }
  std::string why;
  auto p = Pattern::parse(pattern ? pattern : "", &why);
  if (!p) return fail(EDRI_E_INVALID, "manager '" + manager_.name() + "': " + why);
  {
    std::lock_guard lock(subs_mutex_);
    for (const auto& s : subs_) {
      if (s.kind == kind && s.pattern.text() == p->text()) {
        static constexpr const char* kKinds[] = {"notification", "request", "response", "tunnel"};
        return fail(EDRI_E_DUPLICATE, "manager '" + manager_.name() + "' registers two " + kKinds[kind] +
                                          " handlers for '" + p->text() + "'");
      }
    }
    subs_.push_back({kind, std::move(*p), handler_id});
  }
  if (manager_.started() && kind != EDRI_KIND_RESPONSE) router_.subscriptions_changed();
  return EDRI_OK;
}

int ManagerHost::unsubscribe(edri_kind kind, const char* pattern) {
  bool removed = false;
  {
    std::lock_guard lock(subs_mutex_);
    std::erase_if(subs_, [&](const LocalSubscription& s) {
      const bool hit = s.kind == kind && s.pattern.text() == pattern;
      removed = removed || hit;
      return hit;
    });
  }
  if (removed && manager_.started() && kind != EDRI_KIND_RESPONSE) router_.subscriptions_changed();
  return removed ? EDRI_OK : EDRI_E_INVALID;
}

void ManagerHost::clear_subscriptions() {
  std::lock_guard lock(subs_mutex_);
  subs_.clear();
}

int ManagerHost::set_filter(const char* pattern, const char* filter_json, edri_error* err) {
  auto fail = [&](const std::string& msg) {
    if (err) std::snprintf(err->message, sizeof err->message, "%s", msg.c_str());
    return EDRI_E_INVALID;
  };
  std::string why;
  auto p = Pattern::parse(pattern ? pattern : "", &why);
  if (!p) return fail("manager '" + manager_.name() + "': " + why);
  std::shared_ptr<const ContentFilter> filter;
  if (filter_json && *filter_json) {
    try {
      filter = ContentFilter::parse(filter_json);
    } catch (const FilterError& e) {
      std::string at;
      for (const auto& part : e.path()) at += (at.empty() ? "" : ".") + part;
      return fail("manager '" + manager_.name() + "': filter for '" + p->text() + "'" +
                  (at.empty() ? "" : " at " + at) + ": " + e.what());
    }
  }
  {
    std::lock_guard lock(subs_mutex_);
    auto it = std::find_if(filters_.begin(), filters_.end(),
                           [&](const TypeFilter& f) { return f.pattern.text() == p->text(); });
    if (it != filters_.end()) {
      retired_filters_.push_back(it->filter);
      if (filter) {
        it->filter = std::move(filter);
      } else {
        filters_.erase(it);
      }
    } else if (filter) {
      filters_.push_back(TypeFilter{std::move(*p), std::move(filter)});
    }
  }
  if (manager_.started()) router_.subscriptions_changed();
  return EDRI_OK;
}

void ManagerHost::add_filters(const std::vector<TypeFilter>& filters) {
  std::lock_guard lock(subs_mutex_);
  filters_.insert(filters_.end(), filters.begin(), filters.end());
}

const ContentFilter* ManagerHost::filter_for(std::string_view type) {
  std::lock_guard lock(subs_mutex_);
  for (const auto& f : filters_) {
    if (f.pattern.matches(type)) return f.filter.get();
  }
  return nullptr;
}

std::shared_ptr<const ContentFilter> ManagerHost::filter_covering(const Pattern& subscription) const {
  std::lock_guard lock(subs_mutex_);
  if (subscription.is_literal()) {
    for (const auto& f : filters_) {
      if (f.pattern.matches(subscription.text())) return f.filter;
    }
    return nullptr;
  }
  // A wildcard subscription: only a filter for that very pattern (or for
  // every type) covers it, and only when no filter before it may take some
  // of its types.
  for (const auto& f : filters_) {
    if (f.pattern.text() == subscription.text() || f.pattern.text() == ">") return f.filter;
    if (!f.pattern.is_literal() || subscription.matches(f.pattern.text())) return nullptr;
  }
  return nullptr;
}

std::vector<TypeFilter> ManagerHost::filters() const {
  std::lock_guard lock(subs_mutex_);
  return filters_;
}

std::vector<Subscription> ManagerHost::routing_subscriptions() {
  std::vector<Subscription> out;
  std::lock_guard lock(subs_mutex_);
  for (const auto& s : subs_) {
    if (s.kind == EDRI_KIND_RESPONSE) continue;
    out.push_back({s.kind, s.pattern, &manager_, s.handler_id});
  }
  return out;
}

std::uint64_t ManagerHost::timer_start(std::int64_t delay_ms, std::int64_t interval_ms,
                                          edri_timer_fn fn, void* user) {
  if (!fn || delay_ms < 0 || interval_ms < 0) return 0;
  auto t = std::make_shared<PluginTimer>();
  t->fn = fn;
  t->user = user;
  t->interval = std::chrono::milliseconds(interval_ms);
  t->next = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
  {
    std::lock_guard lock(timers_mutex_);
    if (timers_closed_) return 0;
    t->id = next_timer_id_++;
    timers_.emplace(t->id, t);
  }
  std::lock_guard lock(t->mutex);
  t->service_id = router_.timers().schedule(t->next, [this, t] { fire_timer(t); });
  return t->id;
}

void ManagerHost::fire_timer(const std::shared_ptr<PluginTimer>& t) {
  if (t->cancelled.load(std::memory_order_acquire)) return;
  // A tick still waiting in the queue absorbs this one: a slow manager gets
  // one tick when it catches up, not a burst.
  if (!t->tick_queued.exchange(true, std::memory_order_acq_rel)) {
    Delivery d;
    d.set_timer(t);
    d.priority = std::numeric_limits<std::int32_t>::min();
    if (manager_.queue().push(std::move(d), true, false, nullptr) != ManagerQueue::Push::accepted) {
      t->tick_queued.store(false, std::memory_order_relaxed);
      if (t->interval.count() == 0) forget_timer(*t);
    }
  }
  // A one-shot timer stays listed until its tick has run, so a cancel that
  // comes while the tick waits in the queue still stops it (the plugin frees
  // the callback's state on cancel).
  if (t->interval.count() == 0) return;
  std::lock_guard lock(t->mutex);
  if (t->cancelled.load(std::memory_order_acquire)) return;
  // next = previous + interval keeps a repeating timer from drifting; after a
  // long stall (suspend) it resumes from now instead of replaying every miss.
  const auto now = std::chrono::steady_clock::now();
  t->next += t->interval;
  if (t->next < now) t->next = now + t->interval;
  t->service_id = router_.timers().schedule(t->next, [this, t] { fire_timer(t); });
}

void ManagerHost::forget_timer(const PluginTimer& t) {
  std::lock_guard lock(timers_mutex_);
  auto it = timers_.find(t.id);
  if (it != timers_.end() && it->second.get() == &t) timers_.erase(it);
}

void ManagerHost::timer_cancel(std::uint64_t id) {
  std::shared_ptr<PluginTimer> t;
  {
    std::lock_guard lock(timers_mutex_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    t = it->second;
    timers_.erase(it);
  }
  t->cancelled.store(true, std::memory_order_release);
  std::lock_guard lock(t->mutex);
  router_.timers().cancel(t->service_id);
}

void ManagerHost::cancel_all_timers() {
  std::map<std::uint64_t, std::shared_ptr<PluginTimer>> all;
  {
    std::lock_guard lock(timers_mutex_);
    timers_closed_ = true;
    all.swap(timers_);
  }
  for (auto& [id, t] : all) {
    t->cancelled.store(true, std::memory_order_release);
    std::lock_guard lock(t->mutex);
    router_.timers().cancel(t->service_id);
  }
}

}  // namespace edrid
