#include "exec/process_executor.hpp"

#include "exec/execution_site.hpp"
#include "exec/worker_bridge.hpp"
#include "exec/worker_process.hpp"
#include "log/logging.hpp"
#include "plugin/host_backend.hpp"
#include "plugin/manager_error.hpp"
#include "timer/timer_service.hpp"
#include "tunnel/tunnel_table.hpp"

#include <future>

#include <spdlog/spdlog.h>

namespace edrid {

struct ProcessExecutor::Worker : std::enable_shared_from_this<ProcessExecutor::Worker> {
  Worker(ExecutionSite& site, std::size_t slot, WorkerProcess p)
      : slot(slot), pid(p.pid), channel(std::move(p.channel)), frames(std::move(p.frames)), bridge(site, pid, channel) {}
  const std::size_t slot;
  const pid_t pid;
  const std::shared_ptr<worker::Channel> channel;
  const std::unique_ptr<worker::FrameStream> frames;  // read by its watcher
  WorkerBridge bridge;
  std::thread watcher;
  struct Sent {
    Delivery delivery;
    std::uint64_t seq;
  };
  std::mutex mutex;  // guards tasks, timer_id, gone; held while a task frame is written
  // Tasks sent to the worker, in the order it runs them: the front one is
  // running, the others wait in its inbox.
  std::deque<Sent> tasks;
  std::uint64_t timer_id = 0;  // the front task's timeout
  bool gone = false;           // its watcher has taken the tasks back
  std::atomic<bool> timed_out{false};

  EventPtr running() const { return tasks.empty() ? EventPtr() : tasks.front().delivery.event; }
};

namespace {
// Tasks waiting for a worker, per worker. A worker that finishes takes the
// next one itself (on its watcher thread), so a task costs no wake-up of
// the dispatch loop; the loop only waits when this backlog is full.
constexpr std::size_t kBacklogPerWorker = 32;
// Tasks a worker holds at once when ordering is concurrent: the one it runs
// and the next, already in its inbox, so it never sits idle for a round trip
// to this process between tasks. Deeper would let one slow task hold more
// work back from an idle worker.
constexpr std::size_t kPipelineDepth = 2;
std::size_t depth(const ExecutorSettings& s) { return s.ordering == Ordering::concurrent ? kPipelineDepth : 1; }
}  // namespace

ProcessExecutor::ProcessExecutor(ExecutionSite& site, ExecutorSettings settings)
    : site_(site),
      settings_(std::move(settings)),
      slots_(settings_.slots()),
      pool_(settings_.workers, depth(settings_), slots_ * depth(settings_), kBacklogPerWorker) {
  program_ = settings_.worker_program.empty()
                 ? std::filesystem::read_symlink("/proc/self/exe").string()
                 : settings_.worker_program.string();
}

ProcessExecutor::~ProcessExecutor() { stop(std::chrono::milliseconds(0)); }

void ProcessExecutor::start() {
  if (settings_.plugin_path.empty()) {
    throw ManagerError("manager '" + site_.name() +
                       "': the process executor needs a plugin loaded from a file");
  }
  workers_.resize(settings_.workers);
  keeper_ = std::thread([this] { keep(); });
  std::promise<void> started;
  auto done = started.get_future();
  post([&] {
    try {
      for (std::size_t i = 0; i < settings_.workers; ++i) {
        auto w = spawn(i);
        std::lock_guard lock(mutex_);
        workers_[i] = w;
      }
      std::lock_guard lock(mutex_);
      pool_.all_ready();
      started.set_value();
    } catch (...) {
      started.set_exception(std::current_exception());
    }
  });
  done.get();  // rethrows a spawn failure
}

void ProcessExecutor::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  jobs_changed_.notify_one();
}

void ProcessExecutor::keep() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      jobs_changed_.wait(lock, [&] { return !jobs_.empty() || keeper_done_; });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

// A new worker takes the slot; retried while spawning fails (for example a
// plugin whose constructor fails only sometimes), until stop.
void ProcessExecutor::respawn(std::size_t slot) {
  for (int attempt = 0;; ++attempt) {
    {
      std::lock_guard lock(mutex_);
      if (pool_.stopping()) return;
    }
    try {
      auto fresh = spawn(slot);
      {
        std::lock_guard lock(mutex_);
        workers_[slot] = fresh;  // stop() shuts it down if it began meanwhile
        pool_.worker_ready(slot);
      }
      changed_.notify_all();
      start_waiting();
      return;
    } catch (const std::exception& e) {
      site_.logger().error("{}", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 5))));
    }
  }
}

std::shared_ptr<ProcessExecutor::Worker> ProcessExecutor::spawn(std::size_t slot) {
  std::uint32_t level = 0;
  while (level < EDRI_LOG_CRITICAL && !site_.host().log_enabled(level)) ++level;
  auto w = std::make_shared<Worker>(
      site_, slot,
      launch_worker(WorkerLaunch{program_, settings_.plugin_path.string(), site_.name(), site_.config_json(), level}));
  spawned_.fetch_add(1, std::memory_order_relaxed);
  // Under the lock: a worker that dies at once has its watcher retire the
  // handle (under the same lock) only after it is stored.
  std::lock_guard lock(mutex_);
  w->watcher = std::thread([this, w] { watch(w); });
  ++live_watchers_;
  return w;
}

void ProcessExecutor::note_load() {
  load_.store(pool_.in_flight() + pool_.waiting(), std::memory_order_relaxed);
}

bool ProcessExecutor::current(const Worker& w) const {
  return workers_.size() > w.slot && workers_[w.slot].get() == &w;
}

void ProcessExecutor::reject_stopping(Delivery& d) {
  edri_response resp;
  resp.status = EDRI_STATUS_REJECTED;
  resp.message = "manager '" + site_.name() + "' is stopping";
  site_.task_finished(*d.event, nullptr, &resp);
}

void ProcessExecutor::run(Delivery&& d, std::size_t) {
  const bool in_worker =
      d.kind() == Delivery::Kind::event && d.event->header.kind != EDRI_KIND_RESPONSE;
  if (in_worker && !site_.admit(d)) return;
  std::unique_lock lock(mutex_);
  if (!in_worker) {
    // Timer ticks and response callbacks belong to the instance in this
    // process; they still take a slot, after the tasks before them, so
    // `sequential` stays one at a time in arrival order.
    changed_.wait(lock, [&] { return pool_.local_may_start() || pool_.stopping(); });
    pool_.local_started();
    lock.unlock();
    site_.execute(d, slots_);
    d = Delivery();
    lock.lock();
    pool_.local_ended();
    lock.unlock();
    start_waiting();
    return;
  }
  changed_.wait(lock, [&] { return !pool_.backlog_full() || pool_.stopping(); });
  if (pool_.stopping()) {
    lock.unlock();
    reject_stopping(d);
    return;
  }
  pool_.enqueue(std::move(d));
  note_load();
  lock.unlock();
  start_waiting();
}

// Hands waiting tasks to idle workers while slots allow; any thread.
void ProcessExecutor::start_waiting() {
  for (;;) {
    std::shared_ptr<Worker> w;
    std::optional<WorkerPool::Assignment> a;
    {
      std::lock_guard lock(mutex_);
      a = pool_.next();
      if (!a) break;
      w = workers_[a->slot];
    }
    changed_.notify_all();  // backlog room for the dispatch loop
    assign(w, std::move(a->task));
  }
}

void ProcessExecutor::assign(const std::shared_ptr<Worker>& w, Delivery&& d) {
  const Event& ev = *d.event;
  const auto& h = ev.header;
  std::string err;
  const auto payload = worker::payload_of(ev, &err);
  if (!payload) {
    site_.task_finished(ev, ("cannot encode the event for a worker process: " + err).c_str(), nullptr);
    d = Delivery();
    task_ended(*w);
    return;
  }
  {
    // Held while writing: the worker must read tasks in the order listed.
    std::unique_lock lock(w->mutex);
    if (w->gone) {
      lock.unlock();
      std::deque<Delivery> one;
      one.push_back(std::move(d));
      requeue(std::move(one));
      return;
    }
    const std::uint64_t seq = task_seq_.fetch_add(1, std::memory_order_relaxed) + 1;
    const worker::Task task{seq,
                            d.handler_id,
                            h.kind,
                            h.type,
                            h.id,
                            h.trace_id,
                            h.priority,
                            h.sender ? h.sender : "",
                            h.origin_router ? h.origin_router : "",
                            h.timestamp_ns,
                            h.deadline_ns,
                            h.kind == EDRI_KIND_TUNNEL ? site_.tunnels().settings().window : 0,
                            event_attempt(ev),
                            *payload};
    w->tasks.push_back({std::move(d), seq});
    if (w->tasks.size() == 1) begin_front(*w);
    // If the worker is gone, its watcher answers the task with the cause.
    w->channel->send(task);
  }
}

// The front task starts running in the worker: busy time and timeout count
// from here. w->mutex held.
void ProcessExecutor::begin_front(Worker& w) {
  site_.task_started(w.slot);
  if (settings_.timeout.count() <= 0) return;
  std::weak_ptr<Worker> weak = w.weak_from_this();
  const std::uint64_t seq = w.tasks.front().seq;
  w.timer_id = site_.timers().schedule(std::chrono::steady_clock::now() + settings_.timeout,
                                                    [weak, seq] {
                                                      auto sw = weak.lock();
                                                      if (!sw) return;
                                                      std::lock_guard l(sw->mutex);
                                                      if (sw->tasks.empty() || sw->tasks.front().seq != seq) return;
                                                      sw->timed_out = true;
                                                      kill_worker(sw->pid, *sw->channel);
                                                    });
}

// The worker answered its front task: record it, start the timer of the
// next, and take one more task in the same step, so the dispatch loop is
// woken once, not once for the slot and again for the worker.
void ProcessExecutor::complete(Worker& w, const char* error, edri_response* resp, std::int64_t retry_after_ms) {
  std::optional<Delivery> task;
  {
    std::lock_guard lock(w.mutex);
    if (w.tasks.empty()) {
      site_.logger().warn("worker {} answered a task it was not given", w.pid);
      return;
    }
    task.emplace(std::move(w.tasks.front().delivery));
    w.tasks.pop_front();
    if (w.timer_id) site_.timers().cancel(w.timer_id);
    w.timer_id = 0;
    site_.task_stopped(w.slot);
    if (!w.tasks.empty()) begin_front(w);
  }
  if (retry_after_ms >= 0 && !error) {
    site_.task_later(*task->event, retry_after_ms);
  } else {
    site_.task_finished(*task->event, error, resp);
  }
  task.reset();
  task_ended(w);
}

// A task w held ended: one more may go to w, if it still holds its slot.
void ProcessExecutor::task_ended(Worker& w) {
  {
    std::lock_guard lock(mutex_);
    pool_.task_ended(w.slot, current(w));
    note_load();
  }
  changed_.notify_all();
  start_waiting();
}

// Tasks that never started in a worker go back to the front of the backlog,
// in order, or are rejected when stopping.
void ProcessExecutor::requeue(std::deque<Delivery> unstarted) {
  if (unstarted.empty()) return;
  std::deque<Delivery> refused;
  {
    std::lock_guard lock(mutex_);
    refused = pool_.requeue(std::move(unstarted));
    note_load();
  }
  for (auto& d : refused) reject_stopping(d);
  changed_.notify_all();
  start_waiting();
}

void ProcessExecutor::on_done(Worker& w, const worker::Done& f) {
  if (f.tunnel) {
    EventPtr offer;
    {
      std::lock_guard lock(w.mutex);
      offer = w.running();
    }
    if (offer) w.bridge.decide_tunnel(*offer, *f.tunnel);
  }
  edri_response resp;
  resp.status = f.status;
  resp.message = f.message;
  if (f.payload) resp.data = worker::event_of(*f.payload);
  const std::string error = f.error ? std::string(*f.error) : "";
  complete(w, f.error ? error.c_str() : nullptr, &resp, f.retry_after_ms.value_or(-1));
}

void ProcessExecutor::on_frame(Worker& w, const worker::Frame& frame) {
  if (const auto* done = std::get_if<worker::Done>(&frame)) return on_done(w, *done);
  EventPtr running;
  {
    std::lock_guard lock(w.mutex);
    running = w.running();
  }
  w.bridge.serve(frame, running.get());
}

void ProcessExecutor::watch(std::shared_ptr<Worker> w) {
  std::string err;
  while (auto f = w->frames->next(&err)) {
    try {
      on_frame(*w, *f);
    } catch (const std::exception& e) {
      err = std::string("bad frame: ") + e.what();
      break;
    }
  }
  if (!err.empty()) {
    site_.logger().error("worker {}: {}; killing it", w->pid, err);
    kill_worker(w->pid, *w->channel);
  }
  {
    // A worker that died right after answering may already be listed as
    // idle; take it out so its replacement is listed once.
    std::lock_guard lock(mutex_);
    if (current(*w)) pool_.worker_lost(w->slot);
  }
  // A worker that exited on its own may have left children in its group.
  const int status = reap_worker(w->pid);
  w->channel->close();
  const std::string why = w->timed_out
                              ? "worker timed out after " + std::to_string(settings_.timeout.count()) +
                                    " ms and was killed"
                              : describe_exit(status);
  bool stopping;
  {
    std::lock_guard lock(mutex_);
    stopping = pool_.stopping();
  }
  // The worker ran its tasks in order, so only the front one had started:
  // it fails with the cause; the others go to another worker.
  std::deque<Delivery> taken;
  {
    std::lock_guard lock(w->mutex);
    w->gone = true;
    for (auto& t : w->tasks) taken.push_back(std::move(t.delivery));
    w->tasks.clear();
    if (w->timer_id) site_.timers().cancel(w->timer_id);
    w->timer_id = 0;
  }
  std::optional<Delivery> crashed;
  if (!taken.empty()) {
    crashed.emplace(std::move(taken.front()));
    taken.pop_front();
  }
  if (crashed || !stopping) {
    site_.count_crash();
    if (w->timed_out) timeouts_.fetch_add(1, std::memory_order_relaxed);
    std::optional<logging::TraceScope> trace;
    if (crashed) trace.emplace(crashed->event->header.trace_id);
    site_.logger().error("{} (pid {}){}", why, w->pid, stopping ? "" : "; starting another");
  }
  if (crashed) {
    site_.task_finished(w->slot, *crashed->event, why.c_str(), nullptr);
    crashed.reset();
    std::lock_guard lock(mutex_);
    pool_.task_ended(w->slot, false);
    note_load();
  }
  requeue(std::move(taken));
  w->bridge.gone(why);
  if (!stopping) post([this, slot = w->slot] { respawn(slot); });
  changed_.notify_all();
  retire_watcher(*w);
}

// The watcher's handle moves to retired_ in the same step that makes
// stop() count this watcher as done: stop() then joins it from retired_.
// Had the handle been taken out first and listed later, stop() could finish
// in between and the executor die with this thread unjoined (std::terminate).
void ProcessExecutor::retire_watcher(Worker& w) {
  std::vector<std::thread> older;
  {
    std::lock_guard lock(mutex_);
    older.swap(retired_);
    retired_.push_back(std::move(w.watcher));
    --live_watchers_;
  }
  // From here on this thread touches nothing of the executor's. Earlier
  // watchers are past this point too; joining them frees their stacks.
  for (auto& o : older) {
    if (o.joinable()) o.join();
  }
}

bool ProcessExecutor::idle() const {
  std::lock_guard lock(mutex_);
  return pool_.idle();
}

void ProcessExecutor::stop(std::chrono::milliseconds grace) {
  std::deque<Delivery> unstarted;
  {
    std::unique_lock lock(mutex_);
    if (pool_.stopping() && !keeper_.joinable()) return;
    changed_.wait_for(lock, grace, [&] { return pool_.idle(); });
    keeper_done_ = true;
    unstarted = pool_.stop();
    note_load();
  }
  for (auto& d : unstarted) reject_stopping(d);
  changed_.notify_all();
  jobs_changed_.notify_all();
  // After this no worker is spawned any more.
  if (keeper_.joinable()) keeper_.join();

  // Shutting the channel down is the worker's signal to exit; one that does
  // not within the grace period is killed. Watchers reap them.
  {
    std::lock_guard lock(mutex_);
    for (auto& w : workers_) {
      if (w) w->channel->shutdown();
    }
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::max(grace, std::chrono::milliseconds(100));
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      // Counted, not looked up in workers_: the watcher of a worker already
      // replaced there may still be finishing.
      if (live_watchers_ == 0) break;
      if (std::chrono::steady_clock::now() > deadline) {
        for (auto& w : workers_) {
          if (w && w->watcher.joinable()) kill_worker(w->pid, *w->channel);
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<std::thread> retired;
  {
    std::lock_guard lock(mutex_);
    retired.swap(retired_);
    workers_.clear();
  }
  for (auto& t : retired) {
    if (t.joinable()) t.join();
  }
}

ExecutorSnapshot ProcessExecutor::snapshot() const {
  ExecutorSnapshot s;
  ExecutorSnapshot::Processes p;
  std::lock_guard lock(mutex_);
  for (const auto& w : workers_) p.worker_pids.push_back(w ? w->pid : -1);
  s.slots = slots_;
  s.in_flight = pool_.in_flight();
  p.waiting = pool_.waiting();
  p.spawned = spawned_.load();
  p.timeouts = timeouts_.load();
  p.timeout_ms = settings_.timeout.count();
  s.processes = std::move(p);
  return s;
}

}  // namespace edrid
