#include "manager/manager_runtime.hpp"

#include "event/ids.hpp"
#include "manager/durable_queue.hpp"
#include "log/logging.hpp"
#include "plugin/dispatch_context.hpp"
#include "timer/clock.hpp"
#include "timer/timer_service.hpp"
#include "tunnel/tunnel_table.hpp"

#include <future>

#include <spdlog/spdlog.h>

namespace edrid {
namespace {

constexpr std::size_t kBatch = 64;

edri_error empty_error() noexcept { return edri_error{sizeof(edri_error), {}, {}}; }

}  // namespace

ManagerRuntime::ManagerRuntime(RouterPort& router, std::string name,
                               const edri_plugin_descriptor* plugin, std::string plugin_label,
                               QueueSettings q, ExecutorSettings e, WorkSettings w)
    : router_(router),
      name_(std::move(name)),
      plugin_(plugin),
      plugin_label_(std::move(plugin_label)),
      queue_(q.order, q.capacity, q.when_full),
      logger_(logging::get(name_)),
      host_(*this, router, *logger_),
      executor_settings_(std::move(e)),
      work_(std::move(w)),
      busy_slots_(executor_settings_.slots() + 1),
      busy_since_ns_(std::make_unique<std::atomic<std::int64_t>[]>(busy_slots_)),
      timing_(std::make_unique<SlotTiming[]>(busy_slots_)),
      priorities_(std::move(q.priorities)),
      durable_settings_(q.durable) {
  for (std::size_t i = 0; i < busy_slots_; ++i) busy_since_ns_[i].store(0);
  host_.add_filters(work_.filters);
  // Made here and never replaced: stats read it from other threads, also
  // while a reload starts this manager.
  executor_ = make_executor(*this, executor_settings_);
}

ManagerRuntime::~ManagerRuntime() {
  queue_.close();
  for (auto& t : loops_) t.join();
  executor_->stop(std::chrono::milliseconds(0));
  destroy();
}

bool ManagerRuntime::runs_here() const noexcept { return current_dispatch().host == &host_; }

bool ManagerRuntime::any_busy() const noexcept {
  for (std::size_t i = 0; i < busy_slots_; ++i) {
    if (busy_since_ns_[i].load(std::memory_order_relaxed) != 0) return true;
  }
  return false;
}

std::size_t ManagerRuntime::running_tasks() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < busy_slots_; ++i) n += busy_since_ns_[i].load(std::memory_order_relaxed) != 0;
  return n;
}

void ManagerRuntime::create(const std::string& config_json) {
  config_json_ = config_json;
  if (durable_settings_.enabled && !journal_) {
    try {
      journal_ = DurableQueue::open(durable_settings_.dir, durable_settings_);
    } catch (const DurableError& e) {
      // Its work is on disk: starting without it would drop that silently.
      throw ManagerError("manager '" + name_ + "': durable queue: " + e.what() +
                         "; the manager does not start (move the directory aside to start it empty)");
    }
  }
  edri_error err = empty_error();
  instance_ = plugin_->create(router_.host_api(), host_.ctx(), name_.c_str(), config_json.data(),
                              config_json.size(), &err);
  if (!instance_) {
    host_.clear_subscriptions();
    throw ManagerError("manager '" + name_ + "' (" + plugin_label_ + "): " +
                           (err.message[0] ? err.message : "create failed"),
                       err.key);
  }
}

void ManagerRuntime::start() {
  executor_->start();
  // The plugin's start hook runs before any handler: events routed to this
  // manager early (a manager replaced on reload) wait in its queue.
  edri_error err = empty_error();
  if (plugin_->start(instance_, &err) != EDRI_OK) {
    throw ManagerError("manager '" + name_ + "': start failed: " + err.message);
  }
  if (journal_) restore_journal();
  for (std::size_t i = 0; i < executor_->loops(); ++i) loops_.emplace_back([this, i] { run(i); });
  started_.store(true, std::memory_order_release);
}

void ManagerRuntime::after_start() {
  edri_error err = empty_error();
  if (plugin_->after_start(instance_, &err) != EDRI_OK) {
    throw ManagerError("manager '" + name_ + "': after_start failed: " + err.message);
  }
}

void ManagerRuntime::stop(std::chrono::milliseconds grace) {
  host_.cancel_all_timers();
  if (!loops_.empty()) {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    // Answers to its requests still to come count as work: an api stopping
    // with HTTP requests in flight answers them before it closes.
    while (std::chrono::steady_clock::now() < deadline &&
           (queue_.depth() > 0 || any_busy() || !executor_->idle() ||
            requests_outstanding_.load(std::memory_order_acquire) > 0)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    queue_.close();
    auto left = queue_.take_all();
    for (auto& d : left) hand_back(d);
    for (auto& t : loops_) t.join();  // a loop hands back what it took and had not started
    loops_.clear();
    if (const auto n = handed_back_.load(std::memory_order_relaxed)) {
      logger_->warn("stopping with {} queued event(s) not handled within {} ms; handing them back", n, grace.count());
    }
    if (const auto n = handed_over_.load(std::memory_order_relaxed)) {
      logger_->info("{} of them went to other members of group '{}'", n, work_.group);
    }
    if (const auto n = kept_.load(std::memory_order_relaxed)) {
      logger_->info("{} of them wait in the durable queue for the next start", n);
    }
    executor_->stop(grace);
  } else {
    queue_.close();
  }
  // Its tunnel ends can run no more: their peers are told.
  router_.tunnels().owner_gone(this);
  started_.store(false, std::memory_order_release);
  if (instance_) plugin_->stop(instance_);
}

bool ManagerRuntime::journal_accept(const Event& ev, std::int32_t priority, bool* written) {
  *written = false;
  if (!journaled_kind(ev)) return true;
  std::string error;
  switch (journal_->append(ev, priority, &error)) {
    case DurableQueue::Append::written:
      *written = true;
      journal_full_said_.store(false, std::memory_order_relaxed);
      return true;
    case DurableQueue::Append::known:
      return true;
    case DurableQueue::Append::full:
      // The queue logs the episode; the manager's last errors show it too.
      if (!journal_full_said_.exchange(true, std::memory_order_relaxed)) stats_.record_error(error);
      return false;
    case DurableQueue::Append::failed:
      logging::TraceScope trace(ev.header.trace_id);
      logger_->error("{} not accepted: the durable queue cannot keep it: {}", ev.header.type, error);
      return false;
  }
  return false;
}

void ManagerRuntime::journal_forget(const Event& ev) noexcept {
  if (journaled_kind(ev)) journal_->done(ev.header.id);
}

void ManagerRuntime::journal_retried(const Event& again) noexcept {
  if (!journal_ || !journaled_kind(again)) return;
  journal_->retried(again, priority_for(again.header.type ? again.header.type : "").value_or(again.header.priority));
}

void ManagerRuntime::journal_keep(const Event& ev) noexcept {
  if (journal_ && journaled_kind(ev)) journal_->release(ev.header.id);
}

std::optional<DurableStats> ManagerRuntime::durable_stats() const {
  return journal_ ? std::optional<DurableStats>(journal_->stats()) : std::nullopt;
}

void ManagerRuntime::restore_journal() {
  std::vector<JournalRecord> records;
  try {
    records = journal_->take_unqueued();
  } catch (const DurableError& e) {
    throw ManagerError("manager '" + name_ + "': durable queue: " + e.what());
  }
  if (records.empty()) return;
  const auto subs = host_.routing_subscriptions();
  std::size_t unhandled = 0;
  for (JournalRecord& rec : records) {
    Event& ev = *rec.event;
    // The handler for its type now: a plugin may have changed since.
    const Subscription* best = nullptr;
    for (const Subscription& s : subs) {
      if (s.kind == static_cast<edri_kind>(ev.header.kind) && s.pattern.matches(ev.header.type) &&
          (!best || s.pattern.specificity() > best->pattern.specificity())) {
        best = &s;
      }
    }
    if (!best) {
      ++unhandled;
      journal_->done(ev.header.id);
      continue;
    }
    // Whether its handler had started before edrid went is not known: it
    // counts as delivered once more.
    event_text(ev).attempt += 1;
    Delivery d;
    d.handler_id = best->handler_id;
    d.priority = rec.priority;
    d.event = std::move(rec.event);
    queue_.push(std::move(d), true, false, nullptr);
    stats_.received.fetch_add(1, std::memory_order_relaxed);
  }
  logger_->info("{} event(s) from the durable queue {} queued again", records.size() - unhandled,
                durable_settings_.dir.string());
  if (unhandled) {
    logger_->warn("{} event(s) in the durable queue have a type this manager no longer handles; removed", unhandled);
  }
}

void ManagerRuntime::destroy() noexcept {
  if (!instance_) return;
  plugin_->destroy(instance_);
  instance_ = nullptr;
}

void ManagerRuntime::hand_back(Delivery& d) {
  handed_back_.fetch_add(1, std::memory_order_relaxed);
  if (journal_ && d.kind() == Delivery::Kind::event && d.event->header.kind == EDRI_KIND_NOTIFICATION) {
    // On disk it outlives this run: the next start handles it here.
    journal_keep(*d.event);
    kept_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Whoever takes it (or its refusal) ends it here.
  struct Over {
    ManagerRuntime& m;
    const Delivery& d;
    ~Over() {
      if (d.kind() == Delivery::Kind::event && d.event) m.journal_done(*d.event);
    }
  } over{*this, d};
  // Another member of its group here takes it; else a switch places a group
  // event with a receipt on another router (a request is answered from there).
  if (d.kind() == Delivery::Kind::event && (router_.hand_over(d.event, *this) || event_hand_back(*d.event))) {
    handed_over_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (d.kind() == Delivery::Kind::event && d.event->header.kind == EDRI_KIND_REQUEST) {
    router_.respond(*d.event, EDRI_STATUS_REJECTED, "manager '" + name_ + "' stopped before handling the request",
                    *this);
  } else if (d.kind() == Delivery::Kind::response_callback) {
    // The requester is this manager and it is stopping; let the plugin free
    // what it attached to the request.
    DispatchScope scope(&host_, d.event.get());
    d.run_callback();
  }
}

void ManagerRuntime::run(std::size_t loop) {
  std::vector<Delivery> batch;
  batch.reserve(kBatch);
  if (executor_->loops() == 1) {
    while (queue_.pop_batch(batch, kBatch)) {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        // Stopping past its grace: what this loop took but has not started
        // goes back as the queue's rest does (to its group, or refused).
        if (i > 0 && queue_.closed()) {
          for (std::size_t j = i; j < batch.size(); ++j) hand_back(batch[j]);
          break;
        }
        executor_->run(std::move(batch[i]), loop);
      }
      batch.clear();
    }
    return;
  }
  // Several loops take one item at a time: a batch would wait behind a slow
  // handler while another loop had nothing to do.
  int spin_checks = ManagerQueue::kSpinChecks;
  while (queue_.pop_shared(batch, 1, spin_checks)) {
    executor_->run(std::move(batch.front()), loop);
    batch.clear();
  }
}

void ManagerRuntime::execute(Delivery& d, std::size_t slot) {
  switch (d.kind()) {
    case Delivery::Kind::timer: {
      d.timer().tick_queued.store(false, std::memory_order_relaxed);
      if (d.timer().cancelled.load(std::memory_order_acquire)) return;
      if (d.timer().interval.count() == 0) host_.forget_timer(d.timer());
      DispatchScope scope(&host_, nullptr);
      task_started(slot);
      d.timer().fn(d.timer().user);
      busy_since_ns_[slot].store(0, std::memory_order_relaxed);
      return;
    }
    case Delivery::Kind::response_callback: {
      DispatchScope scope(&host_, d.event.get());
      logging::TraceScope trace(d.event->header.trace_id);
      task_started(slot);
      d.run_callback();
      busy_since_ns_[slot].store(0, std::memory_order_relaxed);
      return;
    }
    case Delivery::Kind::event:
      if (admit(d)) handle_event(d, slot);
      return;
    case Delivery::Kind::tunnel: {
      DispatchScope scope(&host_, nullptr);
      task_started(slot);
      d.tunnel().run_end(d.tunnel_side);
      busy_since_ns_[slot].store(0, std::memory_order_relaxed);
      return;
    }
  }
}

bool ManagerRuntime::admit(Delivery& d) {
  if (admissible(d)) return true;
  journal_done(*d.event);  // skipped: that is its end here
  return false;
}

bool ManagerRuntime::admissible(Delivery& d) {
  const Event& ev = *d.event;
  const auto kind = static_cast<edri_kind>(ev.header.kind);
  if (kind == EDRI_KIND_RESPONSE) {
    if (!host_.response_handler_for(ev.header.type, &d.handler_id)) {
      logger_->debug("response to {} dropped: no response handler", ev.header.type);
      return false;
    }
  } else if (kind == EDRI_KIND_REQUEST && ev.cancelled.load(std::memory_order_relaxed)) {
    // Its sender gave up on it (the client left): nobody reads the answer.
    stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
    logging::TraceScope trace(ev.header.trace_id);
    logger_->debug("request {} skipped: cancelled by its sender", ev.header.type);
    return false;
  } else if (dedupe_ && (kind == EDRI_KIND_NOTIFICATION || kind == EDRI_KIND_REQUEST) &&
             dedupe_->finished(event_dedupe_id(ev), steady_ns())) {
    // Its first delivery finished: doing it again is what dedupe_ms avoids.
    stats_.deduplicated.fetch_add(1, std::memory_order_relaxed);
    logging::TraceScope trace(ev.header.trace_id);
    logger_->debug("{} skipped: finished within dedupe_ms already", ev.header.type);
    if (kind == EDRI_KIND_REQUEST) {
      router_.respond(ev, EDRI_STATUS_OK, "duplicate: this request was handled already (dedupe_ms)", *this);
    }
    return false;
  } else if ((kind == EDRI_KIND_REQUEST || kind == EDRI_KIND_TUNNEL) && ev.header.deadline_ns != 0 &&
             realtime_ns() > ev.header.deadline_ns) {
    // The requester already got `timeout`; doing the work now helps nobody.
    stats_.expired.fetch_add(1, std::memory_order_relaxed);
    logging::TraceScope trace(ev.header.trace_id);
    logger_->debug("request {} skipped: deadline passed while queued", ev.header.type);
    return false;
  }
  return true;
}

// Busy time is read per task, twice, on every executor: the coarse clock
// keeps that off the dispatch loop's profile. Liveness compares it with
// steady_ns() (the same clock), so a stuck handler is seen a tick late at most.
void ManagerRuntime::task_started(std::size_t slot) noexcept {
  busy_since_ns_[slot].store(coarse_steady_ns(), std::memory_order_relaxed);
  SlotTiming& t = timing_[slot];
  if (++t.tasks % ManagerStats::kLatencySample == 0) t.started_ns = steady_ns();
}

void ManagerRuntime::task_stopped(std::size_t slot) noexcept {
  SlotTiming& timing = timing_[slot];
  if (timing.started_ns != 0) {
    stats_.handler_latency.record(steady_ns() - timing.started_ns);
    timing.started_ns = 0;
  }
  const std::int64_t t0 = busy_since_ns_[slot].exchange(0, std::memory_order_relaxed);
  if (t0 != 0) {
    stats_.busy_ns.fetch_add(static_cast<std::uint64_t>(coarse_steady_ns() - t0), std::memory_order_relaxed);
  }
}

void ManagerRuntime::task_finished(const Event& ev, const char* error, edri_response* resp) {
  stats_.handled.fetch_add(1, std::memory_order_relaxed);
  const bool is_request = ev.header.kind == EDRI_KIND_REQUEST;
  if (error) {
    stats_.errors.fetch_add(1, std::memory_order_relaxed);
    logging::TraceScope trace(ev.header.trace_id);
    logger_->error("handler for {} failed: {}", ev.header.type, error);
    stats_.record_error(std::string(ev.header.type) + ": " + error);
  }
  if (ev.header.kind == EDRI_KIND_TUNNEL) {
    // A tunnel handler that neither accepted nor refused refuses.
    if (auto t = router_.tunnels().find(ev.header.id)) {
      t->refuse(EDRI_STATUS_REJECTED, error ? std::string("the tunnel handler failed: ") + error
                                            : "the tunnel handler neither accepted nor refused");
    }
    return;
  }
  if (!error && dedupe_) dedupe_->finish(event_dedupe_id(ev), steady_ns());
  // At least once: a failure is not the end; the router sends it again.
  if (error && work_.at_least_once(ev.header.type) && (is_request || ev.header.kind == EDRI_KIND_NOTIFICATION) &&
      router_.retry(ev, *this, error)) {
    return;
  }
  journal_done(ev);
  if (!is_request) return;
  edri_response failed;
  if (error || !resp) {
    failed.status = EDRI_STATUS_ERROR;
    failed.message = error ? error : "handler gave no response";
    resp = &failed;
  }
  router_.respond(ev, std::move(*resp), *this);
}

void ManagerRuntime::task_later(const Event& ev, std::int64_t delay_ms) {
  stats_.handled.fetch_add(1, std::memory_order_relaxed);
  const bool is_request = ev.header.kind == EDRI_KIND_REQUEST;
  logging::TraceScope trace(ev.header.trace_id);
  if (!work_.at_least_once(ev.header.type) || (!is_request && ev.header.kind != EDRI_KIND_NOTIFICATION)) {
    // A configuration mistake, the same for every event: said once.
    stats_.errors.fetch_add(1, std::memory_order_relaxed);
    const std::string why = "retry_later needs delivery: at_least_once; the " + std::string(ev.header.type) +
                            " event is dropped";
    if (!retry_later_refused_.exchange(true, std::memory_order_relaxed)) {
      logger_->error("a handler asked to retry {} later, but manager '{}' has delivery: {}; such events are dropped "
                     "(set delivery: at_least_once); said once",
                     ev.header.type, name_, to_string(work_.delivery_for(ev.header.type)));
      stats_.record_error(why);
    }
    if (is_request) router_.respond(ev, EDRI_STATUS_ERROR, why, *this);
    journal_done(ev);
    return;
  }
  if (router_.retry(ev, *this, "the handler asked to retry later", delay_ms)) return;
  journal_done(ev);
  if (!is_request) return;
  router_.respond(ev, EDRI_STATUS_ERROR,
                  "the handler asked to retry later after " + std::to_string(event_attempt(ev)) +
                      " deliveries: max_deliveries used up",
                  *this);
}

void ManagerRuntime::handle_event(Delivery& d, std::size_t slot) {
  Event& ev = *d.event;
  const bool is_request = ev.header.kind == EDRI_KIND_REQUEST;
  logging::TraceScope trace(ev.header.trace_id);
  DispatchScope scope(&host_, &ev);
  edri_response resp;
  edri_error err = empty_error();
  task_started(slot);
  if (timing_[slot].started_ns != 0 && ev.header.timestamp_ns != 0) {
    // Send time is the sender's wall clock: on another machine, as good as
    // the two clocks agree.
    stats_.wait_latency.record(realtime_ns() - ev.header.timestamp_ns);
  }
  const int rc = plugin_->handle(instance_, d.handler_id, &ev, is_request ? &resp : nullptr, &err);
  if (const std::int64_t later = scope.retry_after_ms(); later >= 0 && rc == EDRI_OK) {
    task_stopped(slot);
    task_later(ev, later);
    return;
  }
  const char* why = rc == EDRI_OK ? nullptr : err.message[0] ? err.message : "handler failed";
  task_finished(slot, ev, why, &resp);
}

TimerService& ManagerRuntime::timers() noexcept { return router_.timers(); }
TunnelTable& ManagerRuntime::tunnels() noexcept { return router_.tunnels(); }

void ManagerRuntime::open_tunnel(EventPtr offer, const std::string& type, TunnelBinding opener,
                                 std::int64_t timeout_ms, Tunnel::OpenDone done) {
  router_.open_tunnel(this, std::move(offer), type, std::move(opener), timeout_ms, std::move(done));
}

bool ManagerRuntime::post_tunnel_work(Delivery&& d) {
  return queue_.push(std::move(d), true, false, nullptr) == ManagerQueue::Push::accepted;
}

void ManagerRuntime::sample_rates(std::int64_t now_ns) noexcept {
  stats_.received_rate.sample(stats_.received.load(std::memory_order_relaxed), now_ns);
  stats_.handled_rate.sample(stats_.handled.load(std::memory_order_relaxed), now_ns);
  stats_.error_rate.sample(stats_.errors.load(std::memory_order_relaxed), now_ns);
}

void ManagerRuntime::log_stats() {
  const auto handler = stats_.handler_latency.snapshot();
  logger_->info("stats: received {:.1f}/s, handled {:.1f}/s, errors {:.1f}/s; queue {}/{}; running {}; health {}; "
                "handler p50 {:.0f} us, p99 {:.0f} us",
                stats_.received_rate.per_second(), stats_.handled_rate.per_second(),
                stats_.error_rate.per_second(), queue_.depth(), queue_.capacity(), running_tasks(),
                to_string(health()), handler.percentile_us(0.5), handler.percentile_us(0.99));
}

void ManagerRuntime::check_liveness(std::chrono::milliseconds warning,
                                    std::chrono::milliseconds error) {
  std::int64_t since = 0;
  for (std::size_t i = 0; i < busy_slots_; ++i) {
    const std::int64_t s = busy_since_ns_[i].load(std::memory_order_relaxed);
    if (s != 0 && (since == 0 || s < since)) since = s;
  }
  const std::int64_t busy_ms = since == 0 ? 0 : (steady_ns() - since) / 1'000'000;
  Health h = Health::ok;
  if (since != 0 && busy_ms >= error.count()) {
    h = Health::error;
  } else if (since != 0 && busy_ms >= warning.count()) {
    h = Health::warning;
  }
  const Health old = health_.exchange(h, std::memory_order_relaxed);
  if (old == h) return;
  if (h == Health::ok) {
    logger_->info("health back to ok");
  } else {
    logger_->log(h == Health::error ? spdlog::level::err : spdlog::level::warn,
                 "health {}: one handler has been running for {} ms", to_string(h), busy_ms);
    stats_.record_error(std::string("health ") + to_string(h) + ": handler running for " +
                        std::to_string(busy_ms) + " ms");
  }
}

ManagerSnapshot ManagerRuntime::snapshot() const {
  ManagerSnapshot s;
  std::int64_t since = 0;
  for (std::size_t i = 0; i < busy_slots_; ++i) {
    const std::int64_t t = busy_since_ns_[i].load(std::memory_order_relaxed);
    if (t != 0) ++s.running;
    if (t != 0 && (since == 0 || t < since)) since = t;
  }
  s.name = name_;
  s.plugin = plugin_label_;
  s.health = health();
  s.busy_for_ms = since == 0 ? 0 : (steady_ns() - since) / 1'000'000;
  s.crashes = stats_.crashes.load();
  s.queue = {to_string(queue_.order()), to_string(queue_.when_full()), queue_.depth(), queue_.capacity(),
             queue_.high_water(), queue_.rejected(), queue_.dropped()};
  s.executor_type = to_string(executor_settings_.kind);
  s.ordering = to_string(executor_settings_.ordering);
  s.workers = executor_settings_.workers;
  s.group = work_.group;
  s.delivery = work_.delivery_name();
  s.executor = executor_->snapshot();
  s.received = stats_.received.load();
  s.handled = stats_.handled.load();
  s.errors = stats_.errors.load();
  s.expired = stats_.expired.load();
  s.deduplicated = stats_.deduplicated.load();
  s.filtered = stats_.filtered.load();
  for (const auto& f : host_.filters()) s.filters.emplace_back(f.pattern.text(), f.filter->text());
  s.cancelled = stats_.cancelled.load();
  s.busy_ms = stats_.busy_ns.load() / 1'000'000;
  s.received_per_s = stats_.received_rate.per_second();
  s.handled_per_s = stats_.handled_rate.per_second();
  s.errors_per_s = stats_.error_rate.per_second();
  s.last_errors = stats_.last_errors();
  s.handler_latency = stats_.handler_latency.snapshot();
  s.wait_latency = stats_.wait_latency.snapshot();
  s.durable = durable_stats();
  return s;
}

}  // namespace edrid
