// The manager's view of the router: register handlers, send events, get
// responses, log, and run timers. One Context per manager instance.
#pragma once

#include <edri/detail/cpu_relax.hpp>
#include <edri/draft.hpp>
#include <edri/event_ref.hpp>
#include <edri/log.hpp>
#include <edri/reply.hpp>
#include <edri/tunnel.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace edri {

using TimerId = std::uint64_t;

class Context {
 public:
  Context(const edri_host_api* host, edri_host_ctx* ctx, std::string name)
      : host_(host), ctx_(ctx), name_(std::move(name)), log_(host, ctx) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() {
    for (auto& [id, fn] : timers_) host_->timer_cancel(ctx_, id);
  }

  const std::string& name() const noexcept { return name_; }
  Logger& log() noexcept { return log_; }

  // ---- Handlers. Register them in the manager's constructor (or later, from
  // a handler). One handler per kind and pattern; a second one is an error.

  // f(const T&)
  template <TypedEvent T, class F>
  void on_notification(F f) {
    add(EDRI_KIND_NOTIFICATION, type_decl<T>().type_name,
        [this, f = std::move(f)](const edri_event* ev, edri_response*) {
          detail::PayloadView<T> v(host_, ev);
          f(*v.get());
        });
  }
  // f(const GenericEvent&)
  template <class F>
  void on_notification(std::string_view pattern, F f) {
    add(EDRI_KIND_NOTIFICATION, pattern,
        [this, f = std::move(f)](const edri_event* ev, edri_response*) {
          f(GenericEvent(host_, ev));
        });
  }
  // f(const T&, Reply<response_t<T>>&). Returning without setting anything
  // answers ok with no data.
  template <TypedEvent T, class F>
  void on_request(F f) {
    add(EDRI_KIND_REQUEST, type_decl<T>().type_name,
        [this, f = std::move(f)](const edri_event* ev, edri_response* resp) {
          detail::PayloadView<T> v(host_, ev);
          Reply<response_t<T>> reply(host_, ctx_, resp);
          f(*v.get(), reply);
        });
  }
  // f(const GenericEvent&, Reply<json>&)
  template <class F>
  void on_request(std::string_view pattern, F f) {
    add(EDRI_KIND_REQUEST, pattern,
        [this, f = std::move(f)](const edri_event* ev, edri_response* resp) {
          Reply<json> reply(host_, ctx_, resp);
          f(GenericEvent(host_, ev), reply);
        });
  }
  // Responses to requests sent without a callback. f(const Response<R>&)
  template <TypedEvent T, class F>
  void on_response(F f) {
    add(EDRI_KIND_RESPONSE, type_decl<T>().type_name,
        [this, f = std::move(f)](const edri_event* ev, edri_response*) {
          f(Response<response_t<T>>(host_, ev));
        });
  }
  // f(const Response<json>&)
  template <class F>
  void on_response(std::string_view pattern, F f) {
    add(EDRI_KIND_RESPONSE, pattern,
        [this, f = std::move(f)](const edri_event* ev, edri_response*) {
          f(Response<json>(host_, ev));
        });
  }
  // Tunnels offered under `pattern`: f(TunnelOffer&) accepts or refuses.
  template <class F>
  void on_tunnel(std::string_view pattern, F f) {
    add(EDRI_KIND_TUNNEL, pattern, [this, f = std::move(f)](const edri_event* ev, edri_response*) {
      TunnelOffer offer(host_, ctx_, ev, &log_);
      f(offer);
    });
  }
  // Opens a tunnel to the manager serving `type`, offering `data`. Blocks
  // until it is accepted or refused (at most `timeout`; 0 = the router's
  // request timeout). Do not call it from the serving manager's own handler.
  OpenedTunnel open_tunnel(std::string_view type, const json& data, TunnelHandlers handlers,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    return open_tunnel_event(type, make_generic(type, data), std::move(handlers), timeout);
  }
  template <TypedEvent T>
  OpenedTunnel open_tunnel(std::string_view type, T data, TunnelHandlers handlers,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    return open_tunnel_event(type, make_event(std::move(data)), std::move(handlers), timeout);
  }

  // Events already queued for the handler are skipped; its captures are
  // freed here, so subscribing and unsubscribing many patterns over a
  // manager's life keeps only a few bytes per pattern. Like registering,
  // call it from this manager's handlers (or before start).
  void unsubscribe(edri_kind kind, std::string_view pattern) {
    const std::string p(pattern);
    host_->unsubscribe(ctx_, kind, p.c_str());
    auto it = handler_ids_.find({static_cast<std::uint32_t>(kind), p});
    if (it == handler_ids_.end()) return;
    const std::uint32_t slot = it->second & kSlotMask;
    handlers_[slot].fn = nullptr;
    free_slots_.push_back(slot);
    handler_ids_.erase(it);
  }

  // ---- Sending. Safe from any thread of this manager. Each takes an event
  // or a Draft of one.

  // An event of type T to build in place, with `room` bytes in the same
  // allocation for its ByteString fields (see edri/draft.hpp).
  template <TypedEvent T>
  Draft<T> draft(std::size_t room = 0) {
    return Draft<T>(host_, ctx_, room);
  }

  // Returns how many managers it was delivered to.
  template <Sendable T>
  std::uint32_t notify(T ev, const SendOptions& opts = {}) {
    return send_notification(make_event(std::move(ev)), opts);
  }
  std::uint32_t notify(std::string_view type, const json& data, const SendOptions& opts = {}) {
    return send_notification(make_generic(type, data), opts);
  }

  // Sends a request; on_response(const Response<R>&) runs on this manager's
  // dispatch loop once per responder (or once with not_found / timeout).
  // Returns its id, for cancel_request.
  template <Sendable T, class F>
    requires std::is_invocable_v<F, const Response<response_t<payload_t<T>>>&>
  RequestId request(T ev, F on_response, const SendOptions& opts = {}) {
    RequestId id{0, 0};
    send_request_cb<response_t<payload_t<T>>>(make_event(std::move(ev)), std::move(on_response), opts, 0, &id);
    return id;
  }
  template <class F>
    requires std::is_invocable_v<F, const Response<json>&>
  RequestId request(std::string_view type, const json& data, F on_response,
                    const SendOptions& opts = {}) {
    RequestId id{0, 0};
    send_request_cb<json>(make_generic(type, data), std::move(on_response), opts, 0, &id);
    return id;
  }
  // Stops waiting for a request this manager sent with a callback (say, its
  // client went away): on_response runs once more, last, with
  // Status::cancelled; managers in this router that have not started on it
  // skip it; answers still to come are dropped. It still runs on other
  // routers it went to. Returns false when nothing was waiting (already
  // answered, timed out or cancelled), or the router predates plugin ABI 1.3
  // or the manager runs in worker processes (executor: process).
  bool cancel_request(const RequestId& id) {
    if (host_->struct_size < offsetof(edri_host_api, request_cancel) + sizeof host_->request_cancel) return false;
    return host_->request_cancel(ctx_, &id) == EDRI_OK;
  }
  // notify and request (with a callback) that never wait for room (plugin
  // ABI 1.3): where a full receiver queue (when_full: block) or a congested
  // cluster link would hold this thread, they send nothing and return
  // SendResult::would_wait, and on_response is never called; try again
  // later, for example from a timer. For threads that must not stall.
  // Routers older than ABI 1.3 wait as notify and request do.
  template <Sendable T>
  SendResult try_notify(T ev, std::uint32_t* delivered = nullptr, const SendOptions& opts = {}) {
    return try_send_notification(make_event(std::move(ev)), opts, delivered);
  }
  SendResult try_notify(std::string_view type, const json& data, std::uint32_t* delivered = nullptr,
                        const SendOptions& opts = {}) {
    return try_send_notification(make_generic(type, data), opts, delivered);
  }
  template <Sendable T, class F>
    requires std::is_invocable_v<F, const Response<response_t<payload_t<T>>>&>
  SendResult try_request(T ev, F on_response, const SendOptions& opts = {}, RequestId* id = nullptr) {
    return send_request_cb<response_t<payload_t<T>>>(make_event(std::move(ev)), std::move(on_response), opts,
                                                     EDRI_SEND_NO_WAIT, id);
  }
  template <class F>
    requires std::is_invocable_v<F, const Response<json>&>
  SendResult try_request(std::string_view type, const json& data, F on_response, const SendOptions& opts = {},
                         RequestId* id = nullptr) {
    return send_request_cb<json>(make_generic(type, data), std::move(on_response), opts, EDRI_SEND_NO_WAIT, id);
  }

  // Sends a request; the future holds the first response. It always becomes
  // ready: at the latest with status timeout at the deadline.
  template <Sendable T>
  std::future<Response<response_t<payload_t<T>>>> request(T ev, const SendOptions& opts = {}) {
    return send_request_future<response_t<payload_t<T>>>(make_event(std::move(ev)), opts);
  }
  std::future<Response<json>> request(std::string_view type, const json& data,
                                      const SendOptions& opts = {}) {
    return send_request_future<json>(make_generic(type, data), opts);
  }
  // Sends a request and waits for its first response (at the latest, status
  // timeout at the deadline), like request(ev).get(), but cheaper when the
  // answer is quick: it watches for it for a few microseconds before going to
  // sleep, and a responder that answers within them does not have to wake a
  // sleeping thread (a futex wake, the larger part of an in-process round
  // trip). As with get(), never wait for a manager that needs this thread.
  template <Sendable T>
  Response<response_t<payload_t<T>>> call(T ev, const SendOptions& opts = {}) {
    return send_request_wait<response_t<payload_t<T>>>(make_event(std::move(ev)), opts);
  }
  Response<json> call(std::string_view type, const json& data, const SendOptions& opts = {}) {
    return send_request_wait<json>(make_generic(type, data), opts);
  }
  // Sends a request whose responses go to the on_response handlers.
  template <Sendable T>
  void request_detached(T ev, const SendOptions& opts = {}) {
    auto o = to_c(opts);
    check_send(host_->request(ctx_, make_event(std::move(ev)), &o, nullptr, nullptr,
                              EDRI_DELIVER_QUEUED, nullptr));
  }

  // The event being handled on this thread, if any.
  std::optional<EventInfo> current() const {
    const edri_event* ev = host_->current_event(ctx_);
    if (!ev) return std::nullopt;
    return EventInfo(*host_->event_header(ev));
  }
  // Which delivery of the event being handled this is: 1, or 2 and more
  // when a manager with `delivery: at_least_once` gets it again after a
  // failure (plugin ABI 1.4; 1 on older routers and outside a handler).
  std::uint32_t attempt() const {
    const edri_event* ev = host_->current_event(ctx_);
    if (!ev || host_->struct_size < offsetof(edri_host_api, event_attempt) + sizeof host_->event_attempt) return 1;
    return host_->event_attempt(ev);
  }
  // Inside a handler: "not now, try again in `delay`" (SQS's retry-later,
  // JetStream's Nak with delay). After the handler returns, its event goes
  // again, counted against max_deliveries; a request's sender waits for the
  // outcome. Only for managers with `delivery: at_least_once`; elsewhere
  // the event fails with an error saying so. False outside a handler and on
  // routers older than plugin ABI 1.4.
  bool retry_later(std::chrono::milliseconds delay) {
    if (host_->struct_size < offsetof(edri_host_api, retry_later) + sizeof host_->retry_later) return false;
    return host_->retry_later(ctx_, delay.count()) == EDRI_OK;
  }

  // ---- Timers, run on this manager's dispatch loop.
  TimerId every(std::chrono::milliseconds interval, std::function<void()> fn) {
    return start_timer(interval, interval, std::move(fn));
  }
  TimerId after(std::chrono::milliseconds delay, std::function<void()> fn) {
    return start_timer(delay, std::chrono::milliseconds{0}, std::move(fn));
  }
  void cancel(TimerId id) {
    host_->timer_cancel(ctx_, id);
    std::unique_ptr<TimerHolder> gone;
    std::lock_guard lock(timers_mutex_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    if (it->second.get() == running_) {
      it->second->cancelled = true;  // its callback is running (maybe this call): free it after
      return;
    }
    gone = std::move(it->second);
    timers_.erase(it);
  }

  json router_stats() const {
    std::string out;
    host_->router_stats(
        ctx_, [](void* s, const char* d, std::size_t n) { static_cast<std::string*>(s)->append(d, n); },
        &out);
    return json::parse(out);
  }

  // The router's statistics in the Prometheus text format 0.0.4: the metric
  // families of edrid's /metrics, ready to serve. Empty in a worker process
  // and on an edrid older than ABI 1.4.
  // A content filter (ABI 1.5): events of the types `pattern` matches reach
  // this manager only when their payload passes `filter`, evaluated by the
  // router (and by the switch, for events from other routers) before the
  // event is queued here. The language is that of YAML `filters:`
  // (docs/configuration.md): {"amount": {"gte": 100}, "country": ["FR", "DE"]}.
  // Replaces the filter set for the same pattern; clear_filter removes it.
  // Throws std::invalid_argument when it does not compile, std::logic_error
  // on a host older than ABI 1.5.
  void filter(std::string_view pattern, const json& filter) { set_filter(pattern, filter.dump().c_str()); }
  void clear_filter(std::string_view pattern) { set_filter(pattern, nullptr); }
  // unsubscribe for every pattern this manager subscribed to, or for those
  // of one kind only (EDRI_KIND_NOTIFICATION, _REQUEST, _RESPONSE, _TUNNEL).
  void unsubscribe_all() { unsubscribe_where([](std::uint32_t) { return true; }); }
  void unsubscribe_all(edri_kind kind) {
    unsubscribe_where([kind](std::uint32_t k) { return k == static_cast<std::uint32_t>(kind); });
  }
  std::string router_metrics() const {
    std::string out;
    if (host_->struct_size < offsetof(edri_host_api, router_metrics) + sizeof host_->router_metrics) return out;
    host_->router_metrics(
        ctx_, [](void* s, const char* d, std::size_t n) { static_cast<std::string*>(s)->append(d, n); },
        &out);
    return out;
  }

  // ---- Used by the plugin glue (edri/plugin.hpp).
  int dispatch(std::uint32_t handler_id, const edri_event* ev, edri_response* resp) {
    // An event queued before its handler was unsubscribed (and its slot
    // perhaps reused) carries an older generation: it is skipped.
    const std::uint32_t slot = handler_id & kSlotMask;
    if (slot >= handlers_.size()) return EDRI_OK;
    const HandlerSlot& h = handlers_[slot];
    if (h.generation == handler_id >> kSlotBits && h.fn) h.fn(ev, resp);
    return EDRI_OK;
  }
  const edri_host_api* host() const noexcept { return host_; }
  edri_host_ctx* host_ctx() const noexcept { return ctx_; }

 private:
  using Handler = std::function<void(const edri_event*, edri_response*)>;

  struct TimerHolder {
    std::function<void()> fn;
    Logger* log;
    Context* owner;
    TimerId id;
    bool once;
    bool cancelled;  // cancelled from inside its own callback: freed after it
  };
  TimerHolder* running_ = nullptr;  // the timer whose callback runs now

  template <class Pick>
  void unsubscribe_where(Pick pick) {
    std::vector<std::pair<std::uint32_t, std::string>> picked;
    for (const auto& entry : handler_ids_) {
      if (pick(entry.first.first)) picked.push_back(entry.first);
    }
    for (const auto& [kind, pattern] : picked) unsubscribe(static_cast<edri_kind>(kind), pattern);
  }

  void set_filter(std::string_view pattern, const char* text) {
    if (host_->struct_size < offsetof(edri_host_api, set_filter) + sizeof host_->set_filter) {
      throw std::logic_error("edri: content filters need a host with ABI 1.5 or later");
    }
    edri_error err{sizeof(edri_error), {}, {}};
    const std::string p(pattern);
    if (host_->set_filter(ctx_, p.c_str(), text, &err) != EDRI_OK) throw std::invalid_argument(err.message);
  }

  void add(edri_kind kind, std::string_view pattern, Handler h) {
    edri_error err{sizeof(edri_error), {}, {}};
    // A handler id is its slot and the slot's generation: slots freed by
    // unsubscribe are reused, so churning patterns costs no memory.
    std::uint32_t slot;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      if (handlers_.size() > kSlotMask) throw std::length_error("edri: too many handlers");
      slot = static_cast<std::uint32_t>(handlers_.size());
      handlers_.emplace_back();
    }
    HandlerSlot& s = handlers_[slot];
    s.generation = (s.generation + 1) & (0xffffffffu >> kSlotBits);
    s.fn = std::move(h);
    const std::uint32_t id = slot | (s.generation << kSlotBits);
    std::string p(pattern);
    if (host_->subscribe(ctx_, kind, p.c_str(), id, &err) != EDRI_OK) {
      s.fn = nullptr;
      free_slots_.push_back(slot);
      throw std::invalid_argument(err.message);
    }
    handler_ids_[{static_cast<std::uint32_t>(kind), std::move(p)}] = id;
  }

  template <TypedEvent T>
  edri_event* make_event(T&& value) {
    return detail::make_typed_event(host_, ctx_, std::move(value));
  }
  template <class T>
  static edri_event* make_event(Draft<T>&& draft) noexcept {
    return draft.take();
  }
  edri_event* make_generic(std::string_view type, const json& data) {
    std::vector<std::uint8_t> bytes = json::to_msgpack(data);
    edri_event* ev = host_->event_from_bytes(ctx_, std::string(type).c_str(),
                                             EDRI_FORMAT_MSGPACK, bytes.data(), bytes.size());
    if (!ev) throw std::bad_alloc();
    return ev;
  }
  // Routing type name for generic events travels in the payload type; the host
  // uses it as the event type.

  OpenedTunnel open_tunnel_event(std::string_view type, edri_event* ev, TunnelHandlers handlers,
                                 std::chrono::milliseconds timeout) {
    auto* box = new detail::TunnelBox{std::move(handlers), &log_};
    const auto c = detail::TunnelBox::make(box);
    edri_error err{sizeof(edri_error), {}, {}};
    std::uint32_t status = EDRI_STATUS_ERROR;
    edri_tunnel* t =
        host_->tunnel_open(ctx_, std::string(type).c_str(), ev, &c, timeout.count(), &status, &err);
    OpenedTunnel out;
    if (!t) {
      delete box;  // the host never took it
      out.status = static_cast<Status>(status);
      out.reason = err.message;
      return out;
    }
    out.tunnel = std::make_shared<Tunnel>(host_, t);
    out.status = Status::ok;
    return out;
  }

  static edri_send_options to_c(const SendOptions& o, std::uint32_t flags = 0) {
    return edri_send_options{sizeof(edri_send_options),
                             o.priority.value_or(0),
                             o.priority ? 1u : 0u,
                             static_cast<std::int64_t>(o.timeout.count()),
                             flags,
                             o.trace_id ? 1u : 0u,
                             o.trace_id.value_or(edri_id128{0, 0}),
                             o.dedupe_key.empty() ? nullptr : o.dedupe_key.c_str()};
  }
  static void check_send(int rc) {
    if (rc == EDRI_E_INVALID) throw std::invalid_argument("edri: invalid event type name");
  }

  std::uint32_t send_notification(edri_event* ev, const SendOptions& opts) {
    auto o = to_c(opts);
    std::uint32_t delivered = 0;
    check_send(host_->notify(ctx_, ev, &o, &delivered));
    return delivered;
  }

  SendResult try_send_notification(edri_event* ev, const SendOptions& opts, std::uint32_t* delivered) {
    auto o = to_c(opts, EDRI_SEND_NO_WAIT);
    std::uint32_t n = 0;
    const int rc = host_->notify(ctx_, ev, &o, &n);
    if (delivered) *delivered = n;
    if (rc == EDRI_E_AGAIN) return SendResult::would_wait;
    check_send(rc);
    return SendResult::sent;
  }

  template <class R, class F>
  SendResult send_request_cb(edri_event* ev, F fn, const SendOptions& opts, std::uint32_t flags = 0,
                             RequestId* id = nullptr) {
    struct Holder {
      const edri_host_api* host;
      F fn;
      Logger* log;
    };
    auto* holder = new Holder{host_, std::move(fn), &log_};
    auto o = to_c(opts, flags);
    edri_response_fn tramp = [](void* user, const edri_event* resp, int is_last) {
      auto* h = static_cast<Holder*>(user);
      try {
        h->fn(Response<R>(h->host, resp));
      } catch (const std::exception& e) {
        h->log->error("response callback threw: ", e.what());
      } catch (...) {
        h->log->error("response callback threw a non-standard exception");
      }
      if (is_last) delete h;
    };
    // On failure the host still calls back (with rejected), so the holder is
    // always released by the trampoline; but not after EDRI_E_AGAIN.
    const int rc = host_->request(ctx_, ev, &o, tramp, holder, EDRI_DELIVER_QUEUED, id);
    if (rc == EDRI_E_AGAIN) {
      delete holder;
      return SendResult::would_wait;
    }
    check_send(rc);
    return SendResult::sent;
  }

  template <class R>
  std::future<Response<R>> send_request_future(edri_event* ev, const SendOptions& opts) {
    struct Holder {
      const edri_host_api* host;
      std::promise<Response<R>> promise;
      bool set = false;
    };
    auto* holder = new Holder{host_, {}, false};
    auto fut = holder->promise.get_future();
    auto o = to_c(opts);
    edri_response_fn tramp = [](void* user, const edri_event* resp, int is_last) {
      auto* h = static_cast<Holder*>(user);
      if (!h->set) {
        h->set = true;
        try {
          h->promise.set_value(Response<R>(h->host, resp));
        } catch (...) {
          h->promise.set_exception(std::current_exception());
        }
      }
      if (is_last) delete h;
    };
    check_send(host_->request(ctx_, ev, &o, tramp, holder, EDRI_DELIVER_DIRECT, nullptr));
    return fut;
  }

  template <class R>
  Response<R> send_request_wait(edri_event* ev, const SendOptions& opts) {
    // Shared by the caller and the response callback; the last to let go
    // frees it (the callback may run once more, with is_last, after the
    // caller has returned).
    struct Waiter {
      const edri_host_api* host;
      std::optional<Response<R>> value;
      std::exception_ptr error;
      bool set = false;  // callback side only
      std::atomic<bool> answered{false};
      std::atomic<int> refs{2};
      std::mutex mutex;
      std::condition_variable cv;
      void release() {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
      }
    };
    auto* w = new Waiter{host_};
    edri_response_fn tramp = [](void* user, const edri_event* resp, int is_last) {
      auto* h = static_cast<Waiter*>(user);
      if (!h->set) {
        h->set = true;
        try {
          h->value.emplace(h->host, resp);
        } catch (...) {
          h->error = std::current_exception();
        }
        {
          // Under the lock, so a caller between its check and its sleep
          // cannot miss the notification.
          std::lock_guard lock(h->mutex);
          h->answered.store(true, std::memory_order_release);
        }
        h->cv.notify_one();
      }
      if (is_last) h->release();
    };
    auto o = to_c(opts);
    const int rc = host_->request(ctx_, ev, &o, tramp, w, EDRI_DELIVER_DIRECT, nullptr);
    if (rc != EDRI_OK) {
      // Whatever answer the host still gives goes to a callback that frees
      // the waiter; nobody waits for it here.
      w->release();
      check_send(rc);
      throw std::runtime_error("edri: the request could not be sent");
    }
    struct Release {
      Waiter* w;
      ~Release() { w->release(); }
    } release{w};
    // About the time a responder spinning on its queue takes to answer: long
    // enough to catch it, short enough not to matter next to a slow one.
    constexpr auto kWatch = std::chrono::microseconds(30);
    const auto until = std::chrono::steady_clock::now() + kWatch;
    for (unsigned i = 1; !w->answered.load(std::memory_order_acquire); ++i) {
      if (i % 64 == 0 && std::chrono::steady_clock::now() > until) {
        std::unique_lock lock(w->mutex);
        w->cv.wait(lock, [&] { return w->answered.load(std::memory_order_acquire); });
        break;
      }
      detail::cpu_relax();
    }
    if (w->error) std::rethrow_exception(w->error);
    return std::move(*w->value);
  }

  TimerId start_timer(std::chrono::milliseconds delay, std::chrono::milliseconds interval,
                      std::function<void()> fn) {
    auto holder = std::make_unique<TimerHolder>(TimerHolder{std::move(fn), &log_, this, 0, interval.count() == 0, false});
    TimerHolder* raw = holder.get();
    edri_timer_fn tramp = [](void* user) {
      auto* h = static_cast<TimerHolder*>(user);
      Context* owner = h->owner;
      owner->begin_run(h);
      try {
        h->fn();
      } catch (const std::exception& e) {
        h->log->error("timer callback threw: ", e.what());
      }
      owner->end_run(h);  // may free *h: a one-shot, or cancelled while running
    };
    // Held while starting so a timer firing at once finds itself registered.
    std::lock_guard lock(timers_mutex_);
    TimerId id = host_->timer_start(ctx_, delay.count(), interval.count(), tramp, raw);
    if (id == 0) throw std::runtime_error("edri: timer could not be started");
    raw->id = id;
    timers_.emplace(id, std::move(holder));
    return id;
  }

  void begin_run(TimerHolder* h) {
    std::lock_guard lock(timers_mutex_);
    running_ = h;
  }
  void end_run(TimerHolder* h) {
    std::unique_ptr<TimerHolder> gone;
    std::lock_guard lock(timers_mutex_);
    running_ = nullptr;
    if (h->once || h->cancelled) {
      if (auto it = timers_.find(h->id); it != timers_.end()) {
        gone = std::move(it->second);
        timers_.erase(it);
      }
    }
  }


  const edri_host_api* host_;
  edri_host_ctx* ctx_;
  std::string name_;
  Logger log_;
  struct HandlerSlot {
    Handler fn;
    std::uint32_t generation = 0;
  };
  static constexpr std::uint32_t kSlotBits = 20;  // up to ~1M live handlers
  static constexpr std::uint32_t kSlotMask = (1u << kSlotBits) - 1;
  std::vector<HandlerSlot> handlers_;
  std::vector<std::uint32_t> free_slots_;
  std::map<std::pair<std::uint32_t, std::string>, std::uint32_t> handler_ids_;  // (kind, pattern) → handler id
  std::mutex timers_mutex_;
  std::map<TimerId, std::unique_ptr<TimerHolder>> timers_;
};

}  // namespace edri
