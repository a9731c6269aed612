#include "cluster/connector.hpp"

#include "cluster/gap_notice.hpp"
#include "cluster/link_auth.hpp"
#include "cluster/link_tls.hpp"
#include "log/logging.hpp"
#include "event/pattern.hpp"

#include <pthread.h>

#include <algorithm>
#include <future>
#include <random>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace edrid::cluster {
namespace {

std::vector<Pattern> parse_patterns(const std::vector<std::string>& texts) {
  std::vector<Pattern> out;
  for (const auto& t : texts) {
    if (auto p = Pattern::parse(t)) out.push_back(std::move(*p));
  }
  return out;
}

// A request served here on behalf of another router: where its responses go.
struct RemoteCall {
  std::weak_ptr<Connector> connector;
  EventPtr request;
};

}  // namespace

// The far end of a tunnel on another router: what the local Tunnel would
// hand to that end goes out as tunnel frames addressed to its router.
class Connector::RemoteTunnelSink final : public TunnelSink {
 public:
  RemoteTunnelSink(std::weak_ptr<Connector> c, std::string router) : c_(std::move(c)), router_(std::move(router)) {}
  void message(const edri_id128& tid, int, const std::uint8_t* data, std::size_t len) override {
    send(kWireTunnelData, tid, 0, "", data, len);
  }
  void credit(const edri_id128& tid, int, std::size_t bytes) override {
    send(kWireTunnelCredit, tid, static_cast<std::uint32_t>(bytes), "");
  }
  void peer_closed(const edri_id128& tid, int, std::uint32_t status, const std::string& reason, bool over) override {
    send(over ? kWireTunnelClose : kWireTunnelShutdown, tid, status, reason);
  }
  void send(std::uint8_t kind, const edri_id128& tid, std::uint32_t status, std::string_view message,
            const std::uint8_t* data = nullptr, std::size_t len = 0) {
    if (auto c = c_.lock()) {
      c->enqueue(encode_tunnel_frame(kind, tid, status, message, router_, c->router_.id(), c->incarnation_, data, len));
    }
  }

 private:
  std::weak_ptr<Connector> c_;
  std::string router_;
};

// The receipt of every group event a switch placed here for an
// at-least-once group: the switch waits to hear when each one's work is
// over, to place it elsewhere if this router goes first. One object for all
// of them, counted, so a receipt costs an event no allocation; it gathers the
// settlements until the connector's io thread sends them.
class Connector::SettleDesk final : public WorkReceipt {
 public:
  struct Pending {
    Settlement settlement;
    std::uint64_t after_seq;  // the last event this router had sent by then
  };
  explicit SettleDesk(Connector* c) : owner_(c) {}
  void attach(Event& ev) {
    refs_.fetch_add(1, std::memory_order_relaxed);
    event_text(ev).receipt.store(this, std::memory_order_release);
  }
  void settle(const Event& ev, bool handed_back) noexcept override {
    std::shared_ptr<Connector> wake;
    {
      std::lock_guard lock(mutex_);
      if (owner_) {
        pending_.push_back({Settlement{ev.header.id, handed_back}, owner_->state_.last_sent()});
        if (!posted_ && (wake = owner_->weak_from_this().lock())) posted_ = true;
      }
    }
    if (wake) boost::asio::post(wake->io_, [wake] { wake->send_settled(); });
    release();
  }
  // The settlements whose router's earlier events the switch has acknowledged.
  std::vector<Settlement> take(std::uint64_t acked) {
    std::lock_guard lock(mutex_);
    posted_ = false;
    std::size_t n = 0;
    while (n < pending_.size() && pending_[n].after_seq <= acked) ++n;
    std::vector<Settlement> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(pending_[i].settlement);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    return out;
  }
  bool any() {
    std::lock_guard lock(mutex_);
    return !pending_.empty();
  }
  void clear() {
    std::lock_guard lock(mutex_);
    pending_.clear();
    posted_ = false;
  }
  // The connector goes: later settlements go nowhere.
  void orphan() {
    {
      std::lock_guard lock(mutex_);
      owner_ = nullptr;
      pending_.clear();
    }
    release();
  }

 private:
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  std::atomic<std::uint64_t> refs_{1};  // the connector's, and one per event
  std::mutex mutex_;
  Connector* owner_;
  std::vector<Pending> pending_;  // oldest first
  bool posted_ = false;
};

Connector::Connector(Router& router, ConnectorSettings settings)
    : router_(router),
      settings_(std::move(settings)),
      incarnation_(random_incarnation()),
      share_(parse_patterns(settings_.share)),
      local_(parse_patterns(settings_.local)),
      state_(settings_.host + ":" + std::to_string(settings_.port), settings_.link.replay, settings_.link.dead_peer),
      tls_(settings_.link.tls.enabled ? make_tls_context(settings_.link.tls, false) : nullptr),
      reconnect_timer_(io_),
      load_timer_(io_),
      backoff_(settings_.reconnect_min),
      desk_(new SettleDesk(this)) {}

Connector::~Connector() {
  if (thread_.joinable()) stop(std::chrono::milliseconds(0));
  desk_->orphan();
}

void Connector::start() {
  boost::asio::post(io_, [this] {
    connect();
    report_load();
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "edri-connector");
    io_.run();
  });
}

void Connector::connect() {
  if (stopping_) return;
  state_.set_state("connecting");
  auto socket = std::make_shared<boost::asio::ip::tcp::socket>(io_);
  auto resolver = std::make_shared<boost::asio::ip::tcp::resolver>(io_);
  resolver->async_resolve(
      settings_.host, std::to_string(settings_.port),
      [this, socket, resolver](const boost::system::error_code& ec,
                               const boost::asio::ip::tcp::resolver::results_type& results) {
        if (ec) {
          if (failed_attempts_++ == 0) {
            spdlog::warn("connector: cannot resolve {}: {}", settings_.host, ec.message());
          }
          schedule_reconnect();
          return;
        }
        boost::asio::async_connect(
            *socket, results,
            [this, socket](const boost::system::error_code& ec2, const boost::asio::ip::tcp::endpoint&) {
              if (stopping_) return;
              if (ec2) {
                if (failed_attempts_++ == 0) {
                  spdlog::warn("connector: cannot reach the switch at {}:{}: {} (retrying)", settings_.host,
                               settings_.port, ec2.message());
                }
                schedule_reconnect();
                return;
              }
              if (tls_) return secure_then_start(std::move(*socket));
              start_session(LinkStream(std::move(*socket)));
            });
      });
}

void Connector::secure_then_start(boost::asio::ip::tcp::socket socket) {
  state_.set_state("tls handshake");
  auto stream = std::make_shared<LinkStream>(std::move(socket), *tls_);
  const std::string name = settings_.link.tls.server_name.empty() ? settings_.host : settings_.link.tls.server_name;
  stream->async_handshake(true, name, settings_.link.handshake, [this, stream](const boost::system::error_code& ec) {
    if (stopping_) return;
    if (ec) {
      // Said every time: a certificate that does not verify will not start
      // to by itself, and the operator needs to see why.
      spdlog::error("connector: TLS with the switch at {}:{} failed: {} (retrying)", settings_.host, settings_.port,
                    ec.message());
      ++failed_attempts_;
      schedule_reconnect();
      return;
    }
    start_session(std::move(*stream));
  });
}

void Connector::start_session(LinkStream stream) {
  Hello self;
  self.role = Role::router;
  self.incarnation = incarnation_;
  self.router_id = router_.id();
  session_ = std::make_shared<LinkSession>(std::move(stream), settings_.link, std::move(self), Role::switch_, *this);
  state_.set_state("handshake");
  session_->start();
}

void Connector::schedule_reconnect() {
  if (stopping_) return;
  state_.set_state("down");
  // Full jitter keeps many routers from reconnecting in step after a switch
  // restart.
  thread_local std::minstd_rand rng{std::random_device{}()};
  const auto ms = backoff_.count();
  const auto delay = std::chrono::milliseconds(ms / 2 + static_cast<long>(rng() % static_cast<unsigned>(ms / 2 + 1)));
  backoff_ = std::min(backoff_ * 2, settings_.reconnect_max);
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) connect();
  });
}

LinkState* Connector::attach(LinkSession& s, const Hello& peer, std::string*) {
  state_.set_peer_id(peer.router_id);
  group_received_.clear();  // the switch counts what it places per link too
  if (inbound_paused_) s.pause_events();
  // Subscriptions go before the resume: a settling switch needs them first.
  s.send_control(subscriptions_frame());
  return &state_;
}

void Connector::established(LinkSession& s) {
  spdlog::info("connector: link to switch '{}' ({}) is up", s.peer().router_id, s.address());
  failed_attempts_ = 0;
  backoff_ = settings_.reconnect_min;
}

void Connector::subscriptions(LinkSession&, std::vector<SubscriptionEntry> entries) {
  auto fresh = std::make_shared<Interest>();
  for (const auto& e : entries) {
    auto p = Pattern::parse(e.pattern);
    if (!p) {
      spdlog::warn("connector: switch advertised a malformed pattern '{}'; ignored", e.pattern);
      continue;
    }
    if (!e.group.empty() && e.kind != EDRI_KIND_TUNNEL) {
      (e.kind == EDRI_KIND_REQUEST ? fresh->group_requests : fresh->group_notifications)
          .push_back(GroupPattern{std::move(*p), e.group});
      continue;
    }
    std::string why;
    auto filter = e.kind == EDRI_KIND_TUNNEL ? nullptr : ContentFilter::from_peer(e.filter, &why);
    if (!why.empty()) {
      spdlog::warn("connector: switch advertised a content filter for '{}' that does not compile ({}); "
                   "events go there unfiltered",
                   e.pattern, why);
    }
    if (e.kind == EDRI_KIND_REQUEST) fresh->request_filters.push_back(filter);
    if (e.kind == EDRI_KIND_NOTIFICATION) fresh->notification_filters.push_back(std::move(filter));
    (e.kind == EDRI_KIND_REQUEST  ? fresh->requests
     : e.kind == EDRI_KIND_TUNNEL ? fresh->tunnels
                                  : fresh->notifications)
        .push_back(std::move(*p));
  }
  {
    std::lock_guard lock(mutex_);
    interest_ = std::move(fresh);
  }
  router_.refresh_routes();
}

bool Connector::event(LinkSession& s, const WireEvent& e, const std::uint8_t*, std::size_t) {
  std::uint64_t known = 0;
  // A group event placed here again comes after what its origin sent since:
  // the link's own sequence has checked it is no duplicate.
  if (!(e.flags & kFlagRedelivered) && !seen_.accept(e.origin_router, e.origin_incarnation, e.origin_seq, &known)) {
    state_.count_duplicate();
    return true;
  }
  if (known != 0 && known != e.origin_incarnation) {
    // That router restarted: its ends of our tunnels are gone.
    std::shared_ptr<RemoteTunnelSink> sink;
    {
      std::lock_guard lock(sinks_mutex_);
      if (auto it = sinks_.find(e.origin_router); it != sinks_.end()) sink = it->second;
    }
    if (sink) router_.tunnels().sink_gone(sink.get(), "router '" + std::string(e.origin_router) + "' restarted");
  }
  if (e.kind == kWireTunnelOpen || is_tunnel_control(e.kind)) {
    on_tunnel_frame(e);
    return true;
  }
  if (e.kind == kWireFanout) {
    router_.remote_fanout(e.correlation_id, e.status);
    return true;
  }
  EventPtr ev = make_event(e);
  logging::TraceScope trace(ev->header.trace_id);
  const GroupAssignment assigned{e.groups, (e.flags & kFlagGroupsOnly) != 0};
  const GroupAssignment* groups = (e.flags & kFlagGroups) ? &assigned : nullptr;
  for (std::string_view g : e.groups) {  // placed here by the switch, which counts them too
    auto it = group_received_.find(g);
    if (it == group_received_.end()) it = group_received_.emplace(std::string(g), 0).first;
    ++it->second;
  }
  if ((e.flags & kFlagReceipt) && (e.kind == EDRI_KIND_NOTIFICATION || e.kind == EDRI_KIND_REQUEST)) {
    desk_->attach(*ev);
  }
  switch (e.kind) {
    case EDRI_KIND_NOTIFICATION:
      router_.deliver_remote(std::move(ev), groups);
      break;
    case EDRI_KIND_REQUEST: {
      if (groups && e.origin_router == router_.id()) {
        router_.serve_placed_back(std::move(ev), *groups);
        break;
      }
      auto* call = new RemoteCall{weak_from_this(), ev};
      router_.serve_remote(std::move(ev), &Connector::on_served, call, groups);
      break;
    }
    case EDRI_KIND_RESPONSE:
      if (e.target_router != router_.id()) {
        spdlog::warn("connector: response for router '{}' arrived at '{}' from '{}'; dropped", e.target_router,
                     router_.id(), s.peer().router_id);
        return true;
      }
      router_.remote_response(std::move(ev), (e.flags & kFlagLast) != 0);
      break;
    default:
      break;
  }
  return true;
}

std::shared_ptr<Connector::RemoteTunnelSink> Connector::tunnel_sink(const std::string& router) {
  std::lock_guard lock(sinks_mutex_);
  auto& s = sinks_[router];
  if (!s) s = std::make_shared<RemoteTunnelSink>(weak_from_this(), router);
  return s;
}

void Connector::on_tunnel_frame(const WireEvent& e) {
  const std::string origin(e.origin_router);
  auto sink = tunnel_sink(origin);
  if (e.kind == kWireTunnelOpen) {
    EventPtr ev = make_event(e);
    ev->header.kind = EDRI_KIND_TUNNEL;
    const edri_id128 tid = ev->header.id;
    router_.serve_remote_tunnel(std::move(ev), sink,
                                [sink, tid](std::uint32_t status, const std::string& reason, std::shared_ptr<Tunnel> t) {
                                  if (t) {
                                    sink->send(kWireTunnelAccept, tid, EDRI_STATUS_OK, "");
                                  } else {
                                    sink->send(kWireTunnelRefuse, tid, status, reason);
                                  }
                                });
    return;
  }
  auto t = router_.tunnels().find(e.correlation_id);
  if (!t) return;  // over already
  if (e.kind == kWireTunnelAccept) {
    if (!t->accept(TunnelBinding{nullptr, {}, sink})) {
      sink->send(kWireTunnelClose, e.correlation_id, EDRI_STATUS_ERROR, "the opener gave up waiting");
    }
    return;
  }
  if (e.kind == kWireTunnelRefuse) {
    t->refuse(e.status, std::string(e.message));
    return;
  }
  const int side = t->side_of(sink.get());
  if (side < 0) {
    spdlog::warn("connector: router '{}' sent a tunnel frame for a tunnel it is not part of", origin);
    return;
  }
  switch (e.kind) {
    case kWireTunnelData: {
      std::string reason;
      t->send(side, e.payload, e.payload_len, 0, &reason, true);
      break;
    }
    case kWireTunnelCredit:
      t->consumed(side, e.status);
      break;
    case kWireTunnelShutdown:
      t->shutdown(side);
      break;
    case kWireTunnelClose:
      t->close(side, e.status, std::string(e.message));
      break;
    default:
      break;
  }
}

void Connector::send_tunnel_open(const Event& offer) {
  std::string frame;
  std::string error;
  if (!encode_event(offer, kWireTunnelOpen, 0, "", incarnation_, frame, &error)) {
    if (auto t = router_.tunnels().find(offer.header.id)) t->refuse(EDRI_STATUS_ERROR, error);
    return;
  }
  enqueue(frame);
}

void Connector::on_served(void* user, const edri_event* response, int is_last) {
  auto* call = static_cast<RemoteCall*>(user);
  if (auto c = call->connector.lock()) c->send_response(*call->request, *response, is_last != 0);
  if (is_last) delete call;
}

void Connector::send_response(const Event& request, const Event& response, bool last) {
  std::string frame;
  std::string error;
  if (!encode_event(response, EDRI_KIND_RESPONSE, last ? kFlagLast : 0, request.header.origin_router, incarnation_,
                    frame, &error)) {
    // The requester must still hear the end of this router's part.
    spdlog::error("connector: response to {} could not be encoded: {}", request.payload_type, error);
    EventPtr plain(event_from_bytes("", nullptr, 0));
    plain->header = response.header;
    plain->header.status = EDRI_STATUS_ERROR;
    plain->header.message = event_set_message(*plain, "response could not be encoded: " + error);
    plain->header.payload_type = "";
    if (!is_valid_type_name(plain->header.type ? plain->header.type : "")) {
      plain->header.type = event_set_type(*plain, request.header.type ? request.header.type : "");
    }
    if (!encode_event(*plain, EDRI_KIND_RESPONSE, last ? kFlagLast : 0, request.header.origin_router, incarnation_,
                      frame, &error)) {
      return;
    }
  }
  enqueue(frame);
}

std::shared_ptr<const Connector::Interest> Connector::interest() const {
  std::lock_guard lock(mutex_);
  return interest_;
}

RemoteRoute Connector::remote_route(edri_kind kind, std::string_view type) const {
  if (type == kGapEventType || matches_any(local_, type)) return RemoteRoute::none;
  const auto interest = this->interest();
  const auto& patterns = kind == EDRI_KIND_REQUEST  ? interest->requests
                        : kind == EDRI_KIND_TUNNEL ? interest->tunnels
                                                   : interest->notifications;
  if (!matches_any(patterns, type) && remote_groups(kind, type).empty()) return RemoteRoute::none;
  return matches_any(share_, type) ? RemoteRoute::always : RemoteRoute::if_shareable;
}

std::vector<std::string> Connector::remote_groups(edri_kind kind, std::string_view type) const {
  std::vector<std::string> out;
  if (kind == EDRI_KIND_TUNNEL || type == kGapEventType || matches_any(local_, type)) return out;
  const auto interest = this->interest();
  for (const auto& g : kind == EDRI_KIND_REQUEST ? interest->group_requests : interest->group_notifications) {
    if (g.pattern.matches(type) && std::find(out.begin(), out.end(), g.group) == out.end()) out.push_back(g.group);
  }
  return out;
}

std::vector<std::shared_ptr<const ContentFilter>> Connector::remote_filters(edri_kind kind,
                                                                            std::string_view type) const {
  std::vector<std::shared_ptr<const ContentFilter>> out;
  if (kind == EDRI_KIND_TUNNEL) return out;
  const auto interest = this->interest();
  const bool request = kind == EDRI_KIND_REQUEST;
  const auto& patterns = request ? interest->requests : interest->notifications;
  const auto& filters = request ? interest->request_filters : interest->notification_filters;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (!patterns[i].matches(type)) continue;
    if (!filters[i]) return {};  // one router takes every event of the type
    out.push_back(filters[i]);
  }
  return out;
}

void Connector::forget_remote_groups() {
  {
    std::lock_guard lock(mutex_);
    if (interest_->group_notifications.empty() && interest_->group_requests.empty()) return;
    auto plain = std::make_shared<Interest>(*interest_);
    plain->group_notifications.clear();
    plain->group_requests.clear();
    interest_ = std::move(plain);
  }
  router_.refresh_routes();
}

void Connector::report_load() {
  if (stopping_) return;
  std::vector<GroupLoad> loads;
  for (auto& w : router_.group_work()) {
    auto r = group_received_.find(w.group);
    loads.push_back(GroupLoad{std::move(w.group), w.members, w.outstanding, w.at_least_once,
                              r == group_received_.end() ? 0 : r->second});
  }
  const auto now = std::chrono::steady_clock::now();
  if (session_ && session_->established() &&
      (loads != load_sent_ || (!loads.empty() && now - load_sent_at_ >= std::chrono::seconds(1)))) {
    session_->send_control(encode_load(loads));
    load_sent_ = std::move(loads);
    load_sent_at_ = now;
  }
  load_timer_.expires_after(settings_.load_report);
  load_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) report_load();
  });
}

bool Connector::send(const Event& ev, bool may_wait, const std::vector<std::string>* groups) {
  // Publishers wait for a slow link rather than overflow its replay buffer;
  // the io thread never waits (it is what reads the acks).
  if (!may_wait) {
    if (state_.congested()) return false;
  } else if (!io_.get_executor().running_in_this_thread()) {
    state_.wait_for_room(settings_.link.dead_peer);
  }
  // The replay buffer keeps its own copy: this thread's last frame lends
  // its storage to the next one.
  thread_local std::string spare;
  std::string frame = std::move(spare);
  std::string error;
  if (!encode_event(ev, static_cast<std::uint8_t>(ev.header.kind), 0, "", incarnation_, frame, &error, groups)) {
    spdlog::error("connector: {} not sent to other routers: {}", ev.payload_type, error);
    return false;
  }
  enqueue(frame);
  if (frame.capacity() <= 64 * 1024) spare = std::move(frame);  // not a rare huge one for good
  return true;
}

bool Connector::congested() const { return state_.congested(); }

void Connector::enqueue(std::string_view frame) {
  bool wake = false;
  if (!state_.enqueue(frame, true, &wake) || !wake) return;
  boost::asio::post(io_, [this] {
    if (session_) session_->flush();
  });
}

std::string Connector::subscriptions_frame() const {
  std::lock_guard lock(mutex_);
  return encode_subscriptions(local_patterns_);
}

void Connector::local_subscriptions(std::vector<LocalPattern> patterns) {
  std::vector<SubscriptionEntry> entries;
  for (auto& p : patterns) {
    entries.push_back(SubscriptionEntry{static_cast<std::uint8_t>(p.kind), std::move(p.pattern), std::move(p.group),
                                        std::move(p.filter)});
  }
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  {
    std::lock_guard lock(mutex_);
    // While stopping, managers withdraw their subscriptions one by one; the
    // switch must keep this router's interest (and take its events into its
    // replay buffer) as it does for a router that crashed, so a restart
    // finds them.
    if (subscriptions_frozen_ || entries == local_patterns_) return;
    local_patterns_ = std::move(entries);
  }
  boost::asio::post(io_, [self = shared_from_this()] {
    if (self->session_ && !self->session_->is_closed() && self->session_->state()) {
      self->session_->send_control(self->subscriptions_frame());
    }
  });
}

void Connector::gap(LinkSession&, const Gap& g) { publish_gap(router_, g); }

void Connector::acked(LinkSession&) {
  if (desk_->any()) send_settled();
}

void Connector::send_settled() {
  if (!session_ || !session_->established()) {
    // The switch placed this router's group work elsewhere when the link
    // went: nobody waits for these any more.
    desk_->clear();
    return;
  }
  const auto ready = desk_->take(state_.peer_acked());
  if (!ready.empty()) session_->send_control(encode_settled(ready));
}

void Connector::closed(LinkSession& s, const std::string& reason) {
  if (session_.get() != &s) return;
  if (state_.peer_leaving()) {
    spdlog::info("connector: the switch at {} is stopping; reconnecting", s.address());
  } else if (!stopping_) {
    spdlog::warn("connector: link to switch {} closed: {}", s.address(), reason);
  }
  // Freed after its handlers are done with it.
  boost::asio::post(io_, [keep = std::move(session_)] {});
  load_sent_.clear();  // the next link hears the load at once
  forget_remote_groups();
  schedule_reconnect();
}

void Connector::pause_inbound() {
  {
    std::lock_guard lock(mutex_);
    subscriptions_frozen_ = true;
  }
  if (!thread_.joinable()) return;
  std::promise<void> done;
  auto f = done.get_future();
  boost::asio::post(io_, [this, &done] {
    inbound_paused_ = true;
    if (session_) session_->pause_events();
    done.set_value();
  });
  f.wait();
}

void Connector::stop(std::chrono::milliseconds grace) {
  if (!thread_.joinable()) return;
  const auto until = std::chrono::steady_clock::now() + grace;
  while (!state_.drained() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!state_.drained()) {
    spdlog::warn("connector: stopping with events the switch has not acknowledged");
  }
  state_.close_for_good();
  {
    std::lock_guard lock(sinks_mutex_);
    sinks_.clear();
  }
  std::promise<void> done;
  auto f = done.get_future();
  boost::asio::post(io_, [this, &done] {
    stopping_ = true;
    reconnect_timer_.cancel();
    load_timer_.cancel();
    if (session_) session_->goodbye();
    done.set_value();
  });
  f.wait();
  // Let the goodbye reach the wire, then end.
  const auto flush_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < flush_until) {
    std::promise<bool> gone;
    auto fg = gone.get_future();
    boost::asio::post(io_, [this, &gone] { gone.set_value(!session_ || session_->finished()); });
    if (fg.get()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  work_.reset();
  io_.stop();
  thread_.join();
  session_.reset();
}

void Connector::links(std::vector<LinkSnapshot>& out) const {
  LinkSnapshot& s = out.emplace_back();
  state_.snapshot(s);
  s.role = "connector";
  s.switch_address = settings_.host + ":" + std::to_string(settings_.port);
  s.incarnation = incarnation_;
}

}  // namespace edrid::cluster
