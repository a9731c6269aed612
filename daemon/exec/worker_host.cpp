#include "exec/worker_host.hpp"

#include "exec/worker_channel.hpp"
#include "exec/worker_tunnels.hpp"
#include "plugin/dispatch_context.hpp"
#include "plugin/abi_sizes.hpp"
#include "plugin/host_api.hpp"
#include "plugin/host_backend.hpp"
#include "plugin/plugin_library.hpp"
#include "event/pattern.hpp"

#include <sys/prctl.h>
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <set>
#include <thread>
#include <variant>

#include <spdlog/spdlog.h>

namespace edrid {
namespace {

class WorkerHost final : public HostBackend {
 public:
  WorkerHost(std::string manager, int fd)
      : manager_(std::move(manager)),
        channel_(fd),
        frames_(fd),
        tunnels_(channel_, [this](std::function<void()> job) { push(std::move(job)); }) {}

  int serve(const edri_plugin_descriptor* plugin) {
    std::string err;
    auto first = frames_.next(&err);
    const auto* init = first ? std::get_if<worker::Init>(&*first) : nullptr;
    if (!init) {
      std::fprintf(stderr, "edrid worker: no init frame: %s\n", err.empty() ? "another frame came first" : err.c_str());
      return 1;
    }
    log_level_ = init->log_level;
    const std::string config(init->config);
    edri_error e{sizeof(edri_error), {}, {}};
    plugin_ = plugin;
    instance_ = plugin->create(&host_api(), &ctx_, manager_.c_str(), config.data(), config.size(), &e);
    if (!instance_) {
      channel_.send(worker::InitError{e.message[0] ? e.message : "create failed"});
      return 1;
    }
    channel_.send(worker::Ready{});
    std::thread io([this] { read_frames(); });
    run_inbox();
    io.join();
    plugin_->destroy(instance_);
    return 0;
  }

  // ---- HostBackend
  const edri_plugin_descriptor* plugin() const noexcept override { return plugin_; }
  int subscribe(edri_kind kind, const char* pattern, std::uint32_t handler_id,
                edri_error* err) override {
    std::string why;
    auto p = Pattern::parse(pattern ? pattern : "", &why);
    if (!p) {
      if (err) std::snprintf(err->message, sizeof err->message, "%s", why.c_str());
      return EDRI_E_INVALID;
    }
    std::lock_guard lock(mutex_);
    for (const auto& s : subs_) {
      if (s.kind == kind && s.pattern.text() == p->text()) return EDRI_E_DUPLICATE;
    }
    // Routing is decided in the router process; the worker keeps response
    // patterns to pick handlers for detached responses.
    subs_.push_back({kind, std::move(*p), handler_id});
    return EDRI_OK;
  }
  int unsubscribe(edri_kind kind, const char* pattern) override {
    std::lock_guard lock(mutex_);
    std::erase_if(subs_, [&](const Sub& s) { return s.kind == kind && s.pattern.text() == pattern; });
    return EDRI_OK;
  }

  // The router process's instance of the plugin sets the same filters, and
  // routing is decided there.
  int set_filter(const char*, const char*, edri_error*) override { return EDRI_OK; }

  int notify(EventPtr ev, const edri_send_options* opts, std::uint32_t* delivered) override {
    if (!is_valid_type_name(ev->payload_type)) return EDRI_E_INVALID;
    const std::uint64_t rid = next_rid_++;
    std::string err;
    const auto payload = worker::payload_of(*ev, &err);
    if (!payload) return EDRI_E_ENCODE;
    const worker::Notify f{rid, options_of(opts), *payload};
    {
      std::lock_guard lock(mutex_);
      notified_[rid] = std::nullopt;
    }
    if (!channel_.send(f)) return EDRI_E_REJECTED;
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return notified_[rid].has_value() || closed_; });
    auto result = notified_[rid].value_or(std::pair<int, std::uint32_t>{EDRI_E_REJECTED, 0});
    notified_.erase(rid);
    if (delivered) *delivered = result.second;
    return result.first;
  }

  int request(EventPtr ev, const edri_send_options* opts, edri_response_fn fn, void* user,
              std::uint32_t delivery, edri_id128* id_out) override {
    if (id_out) *id_out = edri_id128{0, 0};
    if (!is_valid_type_name(ev->payload_type)) {
      answer_locally(ev->payload_type, fn, user, delivery,
                     "invalid event type name '" + std::string(ev->payload_type) + "'");
      return EDRI_E_INVALID;
    }
    const std::uint64_t rid = next_rid_++;
    std::string err;
    const auto payload = worker::payload_of(*ev, &err);
    if (!payload) {
      answer_locally(ev->payload_type, fn, user, delivery, err);
      return EDRI_E_ENCODE;
    }
    const worker::Request f{rid, options_of(opts), *payload};
    {
      std::lock_guard lock(mutex_);
      requests_[rid] = {fn, user, delivery};
    }
    if (!channel_.send(f)) {
      {
        std::lock_guard lock(mutex_);
        requests_.erase(rid);
      }
      answer_locally(ev->payload_type, fn, user, delivery, "router connection lost");
      return EDRI_E_REJECTED;
    }
    return EDRI_OK;
  }

  // A request from a worker process is known by its id in the router
  // process only (request() gives the plugin a zero id): nothing to cancel.
  int request_cancel(const edri_id128&) override { return EDRI_E_INVALID; }

  bool log_enabled(std::uint32_t level) override { return level >= log_level_; }
  void log(std::uint32_t level, std::string_view msg) override {
    if (level < log_level_) return;
    channel_.send(worker::Log{level, msg});
  }
  // Timers belong to the manager's instance in the router process: one
  // that the constructor or start hook set up here is that instance's too,
  // and fires there. One started by a handler here would never fire: it
  // fails, and says why, instead of waiting for nothing.
  std::uint64_t timer_start(std::int64_t, std::int64_t, edri_timer_fn, void*) override {
    if (current_dispatch().event) {
      log(EDRI_LOG_ERROR,
          "a timer started by a handler in a worker process would never fire (executor: process); start it in the "
          "constructor or after_start, which run in the router process, or use executor: thread");
      return 0;
    }
    return next_timer_++;
  }
  void timer_cancel(std::uint64_t) override {}
  std::string stats_json() override { return "{}"; }
  std::string metrics_text() override { return {}; }

  edri_tunnel* tunnel_open(const char* type, EventPtr initial, const edri_tunnel_handlers& handlers,
                           std::int64_t timeout_ms, std::uint32_t* status, std::string* reason) override {
    std::string err;
    const auto payload = worker::payload_of(*initial, &err);
    if (!payload) {
      *status = EDRI_STATUS_ERROR;
      *reason = err;
      return nullptr;
    }
    return tunnels_.open(type, *payload, handlers, timeout_ms, status, reason);
  }
  edri_tunnel* tunnel_accept(const edri_event* offer, const edri_tunnel_handlers& handlers) override {
    return tunnels_.accept(offer, handlers);
  }
  void tunnel_refuse(const edri_event* offer, const char* reason) override { tunnels_.refuse(offer, reason); }

 private:
  struct Sub {
    edri_kind kind;
    Pattern pattern;
    std::uint32_t handler_id;
  };
  struct PendingRequest {
    edri_response_fn fn;
    void* user;
    std::uint32_t delivery;
  };
  // An event to run a handler on, made from its task frame.
  struct Task {
    EventPtr event;
    std::uint32_t handler;
    std::uint64_t seq;
    std::size_t window;  // tunnel offers
  };
  struct Callback {
    edri_response_fn fn;
    void* user;
    EventPtr event;
    bool last;
  };
  struct Detached {
    EventPtr event;
  };
  // Work for the handler thread that is none of the above (tunnel traffic).
  using Job = std::function<void()>;
  using Item = std::variant<Task, Callback, Detached, Job>;
  static worker::SendOptions options_of(const edri_send_options* o) {
    worker::SendOptions out;
    out.priority = o ? o->priority : 0;
    out.has_priority = o ? o->has_priority : 0u;
    out.timeout_ms = o ? o->timeout_ms : 0;
    out.flags = abi::send_flags(o);
    if (const edri_id128* trace = abi::send_trace_id(o)) out.trace = *trace;
    out.dedupe_key = std::string(abi::send_dedupe_key(o).substr(0, 255));
    return out;
  }

  const char* intern(const std::string& s) {
    std::lock_guard lock(mutex_);
    return strings_.insert(s).first->c_str();
  }

  EventPtr response_event(std::string_view type, std::uint32_t status, const std::string& message,
                          const std::string& sender, EventPtr data) {
    EventPtr ev = data ? std::move(data) : EventPtr(event_from_bytes("", nullptr, 0));
    auto& h = ev->header;
    h.type = event_set_type(*ev, type);
    h.payload_type = ev->payload_type.data();
    h.kind = EDRI_KIND_RESPONSE;
    h.status = status;
    h.message = event_set_message(*ev, message);
    h.sender = intern(sender);
    h.origin_router = intern("");
    return ev;
  }

  void answer_locally(std::string_view type, edri_response_fn fn, void* user,
                      std::uint32_t delivery, const std::string& why) {
    if (!fn) return;
    EventPtr ev = response_event(type, EDRI_STATUS_ERROR, why, manager_, EventPtr());
    if (delivery == EDRI_DELIVER_DIRECT) {
      fn(user, ev.get(), 1);
    } else {
      push(Callback{fn, user, std::move(ev), true});
    }
  }

  void push(Item item) {
    {
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(item));
    }
    changed_.notify_all();
  }

  void read_frames() {
    std::string err;
    while (auto frame = frames_.next(&err)) {
      if (const auto* f = std::get_if<worker::Task>(&*frame)) {
        push(task_of(*f));
      } else if (const auto* f = std::get_if<worker::Notified>(&*frame)) {
        std::lock_guard lock(mutex_);
        notified_[f->rid] = std::make_pair(f->rc, f->delivered);
        changed_.notify_all();
      } else if (const auto* f = std::get_if<worker::Response>(&*frame)) {
        on_response(*f);
      } else if (const auto* f = std::get_if<worker::TunnelOpened>(&*frame)) {
        tunnels_.on_opened(*f);
      } else if (const auto* f = std::get_if<worker::TunnelMsg>(&*frame)) {
        tunnels_.on_message(*f);
      } else if (const auto* f = std::get_if<worker::TunnelCredit>(&*frame)) {
        tunnels_.on_credit(*f);
      } else if (const auto* f = std::get_if<worker::TunnelPeerClosed>(&*frame)) {
        tunnels_.on_peer_closed(*f);
      }
    }
    if (!err.empty()) std::fprintf(stderr, "edrid worker %s: %s\n", manager_.c_str(), err.c_str());
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
    tunnels_.router_lost();
  }

  void on_response(const worker::Response& f) {
    PendingRequest p{};
    {
      std::lock_guard lock(mutex_);
      auto it = requests_.find(f.rid);
      if (it == requests_.end()) return;
      p = it->second;
      if (f.last) requests_.erase(it);
    }
    EventPtr ev = response_event(f.type, f.status, std::string(f.message), std::string(f.sender),
                                 f.payload ? worker::event_of(*f.payload) : EventPtr());
    ev->header.id = f.id;
    ev->header.correlation_id = f.correlation_id;
    if (!p.fn) {
      push(Detached{std::move(ev)});
    } else if (p.delivery == EDRI_DELIVER_DIRECT) {
      p.fn(p.user, ev.get(), f.last ? 1 : 0);
    } else {
      push(Callback{p.fn, p.user, std::move(ev), f.last});
    }
  }

  Task task_of(const worker::Task& f) {
    EventPtr ev = worker::event_of(f.payload);
    auto& h = ev->header;
    h.id = f.id;
    h.trace_id = f.trace;
    h.type = event_set_type(*ev, f.type);
    h.payload_type = ev->payload_type.data();
    h.kind = f.kind;
    h.priority = f.priority;
    h.sender = intern(std::string(f.sender));
    h.origin_router = intern(std::string(f.origin));
    h.timestamp_ns = f.timestamp_ns;
    h.deadline_ns = f.deadline_ns;
    h.message = "";
    if (f.attempt > 1) event_text(*ev).attempt = f.attempt;
    return Task{std::move(ev), f.handler, f.seq, static_cast<std::size_t>(f.window)};
  }

  void run_inbox() {
    for (;;) {
      Item item;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !inbox_.empty() || closed_; });
        if (inbox_.empty()) return;
        item = std::move(inbox_.front());
        inbox_.pop_front();
      }
      if (auto* t = std::get_if<Task>(&item)) {
        run_task(*t);
      } else if (auto* c = std::get_if<Callback>(&item)) {
        DispatchScope scope(nullptr, c->event.get());
        c->fn(c->user, c->event.get(), c->last ? 1 : 0);
      } else if (auto* d = std::get_if<Detached>(&item)) {
        run_detached(*d->event);
      } else if (auto* job = std::get_if<Job>(&item)) {
        (*job)();
      }
    }
  }

  void run_task(Task& task) {
    Event& ev = *task.event;
    const auto& h = ev.header;
    const bool is_request = h.kind == EDRI_KIND_REQUEST;
    const bool is_tunnel = h.kind == EDRI_KIND_TUNNEL;
    if (is_tunnel) tunnels_.begin_offer(h.id, task.window);
    edri_response resp;
    edri_error err{sizeof(edri_error), {}, {}};
    int rc;
    std::int64_t later;
    {
      DispatchScope scope(nullptr, &ev);
      rc = plugin_->handle(instance_, task.handler, &ev, is_request ? &resp : nullptr, &err);
      later = scope.retry_after_ms();
    }
    worker::Done done{task.seq, resp.status, resp.message, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
    if (later >= 0 && rc == EDRI_OK) done.retry_after_ms = later;
    std::string reason;  // outlives done's view of it
    if (is_tunnel) {
      if (auto decided = tunnels_.end_offer()) {
        reason = std::move(decided->second);
        done.tunnel = worker::TunnelDecision{decided->first, reason};
      }
    }
    std::string error;
    if (rc != EDRI_OK) error = err.message[0] ? err.message : "handler failed";
    if (resp.data) {
      done.payload = worker::payload_of(*resp.data, &error);
    }
    if (!error.empty()) done.error = error;
    channel_.send(done);
  }

  void run_detached(const Event& ev) {
    std::uint32_t handler = 0;
    int best = -1;
    {
      std::lock_guard lock(mutex_);
      for (const auto& s : subs_) {
        if (s.kind == EDRI_KIND_RESPONSE && s.pattern.specificity() > best && s.pattern.matches(ev.header.type)) {
          best = s.pattern.specificity();
          handler = s.handler_id;
        }
      }
    }
    if (best < 0) return;
    edri_error err{sizeof(edri_error), {}, {}};
    DispatchScope scope(nullptr, &ev);
    if (plugin_->handle(instance_, handler, &ev, nullptr, &err) != EDRI_OK) {
      log(EDRI_LOG_ERROR, std::string("response handler failed: ") + err.message);
    }
  }

  std::string manager_;
  worker::Channel channel_;
  worker::FrameStream frames_;  // read by serve, then by the reader thread
  WorkerTunnels tunnels_;
  edri_host_ctx ctx_{this};
  const edri_plugin_descriptor* plugin_ = nullptr;
  void* instance_ = nullptr;
  std::uint32_t log_level_ = EDRI_LOG_INFO;
  std::atomic<std::uint64_t> next_rid_{1};
  std::uint64_t next_timer_ = 1;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> inbox_;
  bool closed_ = false;
  std::vector<Sub> subs_;
  std::map<std::uint64_t, PendingRequest> requests_;
  std::map<std::uint64_t, std::optional<std::pair<int, std::uint32_t>>> notified_;
  std::set<std::string> strings_;
};

}  // namespace

int run_worker(const std::string& plugin_path, const std::string& manager, int fd) {
  // Die with the router even if it is killed with no chance to close us.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return 1;
  try {
    auto lib = PluginLibrary::load(plugin_path);
    WorkerHost host(manager, fd);
    return host.serve(lib->descriptor());
  } catch (const std::exception& e) {
    worker::Channel ch(fd);
    ch.send(worker::InitError{e.what()});
    std::fprintf(stderr, "edrid worker: %s\n", e.what());
    return 1;
  }
}

}  // namespace edrid
