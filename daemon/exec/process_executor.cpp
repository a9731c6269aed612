#include "exec/process_executor.hpp"

#include "exec/execution_site.hpp"
#include "exec/worker_channel.hpp"
#include "plugin/manager_error.hpp"
#include "timer/timer_service.hpp"
#include "tunnel/tunnel_table.hpp"
#include "log/logging.hpp"
#include "plugin/dispatch_context.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <future>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

extern char** environ;

namespace edrid {
namespace {

using nlohmann::json;

constexpr int kWorkerFd = 3;
constexpr int kReadyTimeoutMs = 10'000;

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "worker killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "worker exited with status " + std::to_string(WEXITSTATUS(status));
  return "worker ended";
}

// A request a worker sent: its responses go back over the worker's channel.
struct WorkerRequest {
  std::shared_ptr<worker::Channel> channel;
  std::uint64_t rid;
};

// The send options a worker's notify or request frame carries.
edri_send_options send_options_of(const worker::SendOptions& f) {
  edri_send_options o{sizeof(edri_send_options), f.priority, f.has_priority, f.timeout_ms, f.flags, 0, {0, 0}};
  if (f.trace) {
    o.has_trace_id = 1;
    o.trace_id = *f.trace;
  }
  return o;
}

void answer_worker(void* user, const edri_event* resp, int is_last) {
  auto* r = static_cast<WorkerRequest*>(user);
  const auto& h = resp->header;
  worker::Response f{r->rid, h.status, h.message ? h.message : "", h.sender ? h.sender : "", h.type ? h.type : "",
                     h.id, h.correlation_id, is_last != 0, std::nullopt};
  std::string err;
  f.payload = worker::payload_of(*resp, &err);
  if (!f.payload) {
    f.status = EDRI_STATUS_ERROR;
    f.message = err;
  }
  r->channel->send(f);  // a worker that is gone no longer cares
  if (is_last) delete r;
}

// The way to tunnel ends whose handlers run in one worker: frames on its
// channel, in the order the tunnel produced them.
class WorkerTunnelSink final : public TunnelSink {
 public:
  explicit WorkerTunnelSink(std::shared_ptr<worker::Channel> ch) : channel_(std::move(ch)) {}
  void message(const edri_id128& tid, int side, const std::uint8_t* data, std::size_t len) override {
    channel_->send(worker::TunnelMsg{tid, side, std::string_view(reinterpret_cast<const char*>(data), len)});
  }
  void credit(const edri_id128& tid, int side, std::size_t bytes) override {
    channel_->send(worker::TunnelCredit{tid, side, bytes});
  }
  void peer_closed(const edri_id128& tid, int side, std::uint32_t status, const std::string& reason,
                   bool over) override {
    channel_->send(worker::TunnelPeerClosed{tid, side, status, reason, over});
  }
  void opened(std::uint64_t rid, std::uint32_t status, const std::string& reason, const Tunnel* t) {
    channel_->send(worker::TunnelOpened{rid, status, reason, t ? t->id() : edri_id128{0, 0}, t ? t->window() : 0});
  }

 private:
  std::shared_ptr<worker::Channel> channel_;
};

}  // namespace

struct ProcessExecutor::Worker : std::enable_shared_from_this<ProcessExecutor::Worker> {
  std::size_t slot = 0;
  pid_t pid = -1;
  std::shared_ptr<worker::Channel> channel;
  std::unique_ptr<worker::FrameStream> frames;  // read by spawn, then by the watcher
  std::shared_ptr<WorkerTunnelSink> tunnels;  // for tunnel ends running in this worker
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

  const Event* running() const { return tasks.empty() ? nullptr : tasks.front().delivery.event.get(); }
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
}  // namespace

ProcessExecutor::ProcessExecutor(ExecutionSite& site, ExecutorSettings settings)
    : site_(site),
      settings_(std::move(settings)),
      slots_(settings_.slots()),
      depth_(settings_.ordering == Ordering::concurrent ? kPipelineDepth : 1),
      max_in_flight_(slots_ * depth_) {
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
      // Interleaved, so the first tasks spread over all workers.
      std::lock_guard lock(mutex_);
      for (std::size_t d = 0; d < depth_; ++d) {
        for (std::size_t i = 0; i < settings_.workers; ++i) idle_.push_back(i);
      }
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
      if (stopping_) return;
    }
    try {
      auto fresh = spawn(slot);
      {
        std::lock_guard lock(mutex_);
        workers_[slot] = fresh;  // stop() shuts it down if it began meanwhile
        if (!stopping_) idle_.insert(idle_.end(), depth_, slot);
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
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw ManagerError("manager '" + site_.name() + "': socketpair: " + std::strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], kWorkerFd);  // clears close-on-exec on fd 3
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);  // edrid blocks signals for sigwait
  posix_spawnattr_setsigdefault(&attr, &all);
  // A process group of its own: a Ctrl-C in the terminal, or a signal to
  // edrid's group, reaches only edrid, which drains the workers and stops
  // them in order; it used to kill them mid-task as well, and edrid then
  // started replacements while it was stopping.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::vector<std::string> args{program_, "--worker", settings_.plugin_path.string(),
                                site_.name(), std::to_string(kWorkerFd)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program_.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    throw ManagerError("manager '" + site_.name() + "': cannot start worker " + program_ +
                       ": " + std::strerror(rc));
  }
  auto w = std::make_shared<Worker>();
  w->slot = slot;
  w->pid = pid;
  w->channel = std::make_shared<worker::Channel>(sv[0]);
  w->frames = std::make_unique<worker::FrameStream>(sv[0]);
  w->tunnels = std::make_shared<WorkerTunnelSink>(w->channel);
  spawned_.fetch_add(1, std::memory_order_relaxed);

  auto fail = [&](const std::string& why) -> std::shared_ptr<Worker> {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    w->channel->close();
    throw ManagerError("manager '" + site_.name() + "': worker did not start: " + why);
  };
  std::uint32_t level = 0;
  while (level < EDRI_LOG_CRITICAL && !site_.host().log_enabled(level)) ++level;
  w->channel->send(worker::Init{site_.config_json(), level});
  pollfd p{sv[0], POLLIN, 0};
  if (::poll(&p, 1, kReadyTimeoutMs) != 1) return fail("no answer within 10 s");
  std::string err;
  auto first = w->frames->next(&err);
  if (!first) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    w->channel->close();
    throw ManagerError("manager '" + site_.name() + "': worker did not start: " +
                       (err.empty() ? describe_exit(status) : err));
  }
  if (!std::holds_alternative<worker::Ready>(*first)) {
    const auto* refused = std::get_if<worker::InitError>(&*first);
    return fail(refused ? std::string(refused->message) : std::string("bad first frame"));
  }
  // Under the lock: a worker that dies at once has its watcher retire the
  // handle (under the same lock) only after it is stored.
  std::lock_guard lock(mutex_);
  w->watcher = std::thread([this, w] { watch(w); });
  ++live_watchers_;
  return w;
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
    changed_.wait(lock, [&] { return (in_flight_ < max_in_flight_ && backlog_.empty()) || stopping_; });
    ++in_flight_;
    lock.unlock();
    site_.execute(d, slots_);
    d = Delivery();
    lock.lock();
    --in_flight_;
    lock.unlock();
    start_waiting();
    return;
  }
  const std::size_t capacity = kBacklogPerWorker * settings_.workers;
  changed_.wait(lock, [&] { return backlog_.size() < capacity || stopping_; });
  if (stopping_) {
    lock.unlock();
    reject_stopping(d);
    return;
  }
  backlog_.push_back(std::move(d));
  lock.unlock();
  start_waiting();
}

// Hands waiting tasks to idle workers while slots allow; any thread.
void ProcessExecutor::start_waiting() {
  for (;;) {
    std::shared_ptr<Worker> w;
    Delivery d;
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || backlog_.empty() || idle_.empty() || in_flight_ >= max_in_flight_) break;
      w = workers_[idle_.front()];
      idle_.pop_front();
      ++in_flight_;
      d = std::move(backlog_.front());
      backlog_.pop_front();
    }
    changed_.notify_all();  // backlog room for the dispatch loop
    assign(w, std::move(d));
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
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
    }
    release_position(*w);
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
                            *payload};
    w->tasks.push_back({std::move(d), seq});
    if (w->tasks.size() == 1) begin_front(*w);
    // If the worker is gone, its watcher answers the task with the cause.
    w->channel->send(task);
  }
}

namespace {
// Ends a worker and whatever it started: the worker leads its own process
// group, so a handler that forked takes its children with it. The channel is
// shut down too, so the watcher's read ends even if a child that left the
// group (setsid) still holds the socket open.
void kill_worker(pid_t pid, worker::Channel& channel) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  channel.shutdown();
}
}  // namespace

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
void ProcessExecutor::complete(Worker& w, const char* error, edri_response* resp) {
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
  site_.task_finished(*task->event, error, resp);
  task.reset();
  {
    std::lock_guard lock(mutex_);
    --in_flight_;
  }
  release_position(w);
}

// One more task may go to w, if it is still the worker in its slot.
void ProcessExecutor::release_position(Worker& w) {
  {
    std::lock_guard lock(mutex_);
    if (workers_.size() > w.slot && workers_[w.slot].get() == &w && !stopping_) idle_.push_back(w.slot);
  }
  changed_.notify_all();
  start_waiting();
}

// Tasks that never started in a worker go back to the front of the backlog,
// in order, or are rejected when stopping.
void ProcessExecutor::requeue(std::deque<Delivery> unstarted) {
  if (unstarted.empty()) return;
  {
    std::lock_guard lock(mutex_);
    in_flight_ -= unstarted.size();
    if (!stopping_) {
      backlog_.insert(backlog_.begin(), std::make_move_iterator(unstarted.begin()),
                      std::make_move_iterator(unstarted.end()));
      unstarted.clear();
    }
  }
  for (auto& d : unstarted) reject_stopping(d);
  changed_.notify_all();
  start_waiting();
}

void ProcessExecutor::on_done(Worker& w, const worker::Done& f) {
  if (f.tunnel) decide_tunnel(w, *f.tunnel);
  edri_response resp;
  resp.status = f.status;
  resp.message = f.message;
  if (f.payload) resp.data = worker::event_of(*f.payload);
  const std::string error = f.error ? std::string(*f.error) : "";
  complete(w, f.error ? error.c_str() : nullptr, &resp);
}

void ProcessExecutor::on_frame(Worker& w, const worker::Frame& frame) {
  if (const auto* done = std::get_if<worker::Done>(&frame)) return on_done(w, *done);
  // Events the worker sends carry the trace of the task it is running.
  EventPtr current;
  {
    std::lock_guard lock(w.mutex);
    if (!w.tasks.empty()) current = w.tasks.front().delivery.event;
  }
  DispatchScope scope(&site_.host(), current.get());
  std::optional<logging::TraceScope> trace;
  if (current) trace.emplace(current->header.trace_id);
  if (const auto* f = std::get_if<worker::Log>(&frame)) {
    site_.host().log(f->level, f->message);
  } else if (const auto* f = std::get_if<worker::Notify>(&frame)) {
    const edri_send_options o = send_options_of(f->options);
    std::uint32_t delivered = 0;
    const int rc = site_.host().notify(worker::event_of(f->payload), &o, &delivered);
    w.channel->send(worker::Notified{f->rid, rc, delivered});
  } else if (const auto* f = std::get_if<worker::Request>(&frame)) {
    const edri_send_options o = send_options_of(f->options);
    auto* r = new WorkerRequest{w.channel, f->rid};
    if (site_.host().request(worker::event_of(f->payload), &o, &answer_worker, r, EDRI_DELIVER_DIRECT, nullptr) ==
        EDRI_E_AGAIN) {
      // The worker's request already returned: it learns as a response.
      worker::Response refused;
      refused.rid = r->rid;
      refused.status = EDRI_STATUS_REJECTED;
      refused.message = "a receiver's queue is full (sent with no_wait)";
      w.channel->send(refused);
      delete r;
    }
  } else {
    on_tunnel_frame(w, frame);
  }
}

void ProcessExecutor::decide_tunnel(Worker& w, const worker::TunnelDecision& decision) {
  std::shared_ptr<Tunnel> t;
  {
    std::lock_guard lock(w.mutex);
    const Event* running = w.running();
    if (!running || running->header.kind != EDRI_KIND_TUNNEL) return;
    t = site_.tunnels().find(running->header.id);
  }
  if (!t) return;
  if (decision.accepted) {
    if (!t->accept(TunnelBinding{&site_, {}, w.tunnels})) {
      w.tunnels->peer_closed(t->id(), Tunnel::kAcceptor, EDRI_STATUS_ERROR, "the opener gave up waiting", true);
    }
  } else {
    t->refuse(EDRI_STATUS_REJECTED, decision.reason.empty() ? std::string("refused") : std::string(decision.reason));
  }
}

namespace {
// The tunnel a worker's frame is about, for the frames that name one.
std::optional<edri_id128> tunnel_of(const worker::Frame& frame) {
  return std::visit(
      [](const auto& f) -> std::optional<edri_id128> {
        if constexpr (requires { f.tid; f.side; }) {
          return f.tid;
        } else {
          return std::nullopt;
        }
      },
      frame);
}
}  // namespace

void ProcessExecutor::on_tunnel_frame(Worker& w, const worker::Frame& frame) {
  if (const auto* f = std::get_if<worker::TunnelOpen>(&frame)) {
    auto sink = w.tunnels;
    const std::uint64_t rid = f->rid;
    site_.open_tunnel(worker::event_of(f->payload), std::string(f->type),
                                  TunnelBinding{&site_, {}, sink}, f->timeout_ms,
                                  [sink, rid](std::uint32_t status, const std::string& reason, std::shared_ptr<Tunnel> tn) {
                                    sink->opened(rid, status, reason, tn.get());
                                  });
    return;
  }
  const char* name = worker::frame_type_name(static_cast<std::uint8_t>(frame.index() + 1));
  const auto tid = tunnel_of(frame);
  if (!tid) {
    site_.logger().warn("worker {} sent a '{}' frame, which only edrid sends", w.pid, name);
    return;
  }
  auto tunnel = site_.tunnels().find(*tid);
  if (!tunnel) return;  // over already: late frames are harmless
  // The side is the one this worker holds, whatever the frame says.
  const int side = tunnel->side_of(w.tunnels.get());
  if (side < 0) {
    site_.logger().warn("worker {} sent '{}' for a tunnel it does not hold", w.pid, name);
    return;
  }
  if (const auto* f = std::get_if<worker::TunnelSend>(&frame)) {
    std::string reason;
    tunnel->send(side, reinterpret_cast<const std::uint8_t*>(f->data.data()), f->data.size(), 0, &reason, true);
  } else if (const auto* f = std::get_if<worker::TunnelConsumed>(&frame)) {
    tunnel->consumed(side, f->bytes);
  } else if (std::holds_alternative<worker::TunnelShutdown>(frame)) {
    tunnel->shutdown(side);
  } else if (const auto* f = std::get_if<worker::TunnelClose>(&frame)) {
    tunnel->close(side, f->status, std::string(f->reason));
  } else if (std::holds_alternative<worker::TunnelRelease>(frame)) {
    tunnel->release(side);
  } else {
    site_.logger().warn("worker {} sent a '{}' frame, which only edrid sends", w.pid, name);
  }
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
    if (workers_.size() > w->slot && workers_[w->slot] == w) std::erase(idle_, w->slot);
  }
  // A worker that exited on its own may have left children in its group.
  // Before the wait: until it is reaped, its pid (the group's id) cannot be
  // reused, so this reaches only what it started.
  ::kill(-w->pid, SIGKILL);
  int status = 0;
  while (::waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
  }
  w->channel->close();
  const std::string why = w->timed_out
                              ? "worker timed out after " + std::to_string(settings_.timeout.count()) +
                                    " ms and was killed"
                              : describe_exit(status);
  bool stopping;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
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
    --in_flight_;
  }
  requeue(std::move(taken));
  site_.tunnels().sink_gone(w->tunnels.get(), why);
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
  return in_flight_ == 0 && backlog_.empty();
}

void ProcessExecutor::stop(std::chrono::milliseconds grace) {
  std::deque<Delivery> unstarted;
  {
    std::unique_lock lock(mutex_);
    if (stopping_ && !keeper_.joinable()) return;
    changed_.wait_for(lock, grace, [&] { return in_flight_ == 0 && backlog_.empty(); });
    stopping_ = true;
    keeper_done_ = true;
    unstarted.swap(backlog_);
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
    idle_.clear();
  }
  for (auto& t : retired) {
    if (t.joinable()) t.join();
  }
}

void ProcessExecutor::stats_json(nlohmann::json& out) const {
  std::lock_guard lock(mutex_);
  json pids = json::array();
  for (const auto& w : workers_) pids.push_back(w ? w->pid : -1);
  out = {{"slots", slots_},
         {"in_flight", in_flight_},
         {"waiting", backlog_.size()},
         {"worker_pids", std::move(pids)},
         {"spawned", spawned_.load()},
         {"timeouts", timeouts_.load()},
         {"timeout_ms", settings_.timeout.count()}};
}

}  // namespace edrid
