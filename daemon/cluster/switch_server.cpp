#include "cluster/switch_server.hpp"

#include "cluster/link_tls.hpp"
#include "cluster/gap_notice.hpp"
#include "cluster/link_auth.hpp"
#include "log/logging.hpp"
#include "event/ids.hpp"
#include "router/router.hpp"

#include <pthread.h>

#include <algorithm>
#include <future>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace edrid::cluster {
Switch::Switch(Router& router, SwitchSettings settings)
    : router_(router),
      settings_(std::move(settings)),
      incarnation_(random_incarnation()),
      acceptor_(io_),
      settle_timer_(io_),
      sweep_timer_(io_),
      accept_pause_(io_),
      membership_timer_(io_),
      membership_(settings_.membership_file),
      tls_(settings_.link.tls.enabled ? make_tls_context(settings_.link.tls, true) : nullptr) {}

Switch::~Switch() {
  if (thread_.joinable()) stop(std::chrono::milliseconds(0));
}

void Switch::start() {
  using boost::asio::ip::tcp;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(settings_.host, ec);
  if (ec) throw std::runtime_error("switch: bad listen address '" + settings_.host + "': " + ec.message());
  const tcp::endpoint ep(address, settings_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("switch: cannot listen on " + settings_.host + ":" + std::to_string(settings_.port) +
                             ": " + ec.message());
  }
  bound_port_ = acceptor_.local_endpoint().port();
  // The routers linked before a restart, with what they subscribe to: until
  // each is back (or forgotten after replay.max_age_ms, as a router that
  // crashed), its events wait in its replay buffer here.
  const auto known = membership_.load();
  std::string names;
  for (const auto& m : known) {
    Slot& slot = add_slot(m.id);
    set_entries(slot, m.entries);
    names += (names.empty() ? "" : ", ") + m.id;
  }
  if (!known.empty()) {
    spdlog::info("switch: {} router(s) known from {}: {}; their events are kept until they return", known.size(),
                 membership_.path().string(), names);
  }
  spdlog::info("switch '{}' listening on {}:{} (incarnation {}, settling {} ms)", router_.id(), settings_.host,
               bound_port_, incarnation_, settings_.settle.count());
  accept();
  settle_timer_.expires_after(settings_.settle);
  settle_timer_.async_wait([this](const boost::system::error_code& e) {
    if (e) return;
    settling_ = false;
    for (auto& [id, slot] : slots_) {
      if (slot->session) slot->session->release_resume();
    }
  });
  sweep();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "edri-switch");
    io_.run();
  });
}

void Switch::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == boost::asio::error::operation_aborted || stopping_) return;
      // Out of file descriptors, accept fails at once each time: retrying
      // at once would spin a core and flood the log.
      accept_log_.warn([&](std::uint64_t more) {
        spdlog::warn("switch: accept: {}; retrying every 100 ms ({} more failures since the last line)", ec.message(),
                     more);
      });
      accept_pause_.expires_after(std::chrono::milliseconds(100));
      accept_pause_.async_wait([this](const boost::system::error_code& e) {
        if (!e && !stopping_) accept();
      });
      return;
    }
    if (stopping_) return;
    // Connections that have not authenticated yet are capped: each costs
    // little (see LinkSettings::kPreAuthFrame), but not nothing.
    if (handshaking_.size() + tls_handshaking_ >= kMaxHandshaking) {
      handshake_cap_log_.warn([&](std::uint64_t more) {
        boost::system::error_code ec;
        const auto peer = socket.remote_endpoint(ec);
        spdlog::warn("switch: {} connections are still handshaking; refusing {} ({} more refused since the last line)",
                     kMaxHandshaking, ec ? std::string("(unknown)") : peer.address().to_string(), more);
      });
      boost::system::error_code ignored;
      socket.close(ignored);
      accept();
      return;
    }
    if (tls_) {
      secure_then_start(std::move(socket));
    } else {
      start_session(LinkStream(std::move(socket)));
    }
    accept();
  });
}

void Switch::secure_then_start(boost::asio::ip::tcp::socket socket) {
  ++tls_handshaking_;
  // Taken now: a handshake that times out has closed the socket by the end.
  boost::system::error_code peer_ec;
  const auto peer_ep = socket.remote_endpoint(peer_ec);
  const std::string peer = peer_ec ? std::string("(unknown)") : peer_ep.address().to_string();
  auto stream = std::make_shared<LinkStream>(std::move(socket), *tls_);
  stream->async_handshake(false, "", settings_.link.handshake, [this, stream, peer](const boost::system::error_code& ec) {
    --tls_handshaking_;
    if (stopping_) return;
    if (ec) {
      tls_log_.warn([&](std::uint64_t more) {
        spdlog::warn("switch: TLS handshake with {} failed: {} ({} more failed since the last line)", peer,
                     ec.message(), more);
      });
      stream->close();
      return;
    }
    start_session(std::move(*stream));
  });
}

void Switch::start_session(LinkStream stream) {
  Hello self;
  self.role = Role::switch_;
  self.incarnation = incarnation_;
  self.router_id = router_.id();
  auto s = std::make_shared<LinkSession>(std::move(stream), settings_.link, std::move(self), Role::router, *this);
  handshaking_.push_back(s);
  s->start();
}

Switch::Slot* Switch::slot_of(LinkSession& s) {
  if (!s.state()) return nullptr;
  auto it = slots_.find(s.peer().router_id);
  if (it == slots_.end() || it->second->session.get() != &s) return nullptr;
  return it->second.get();
}

LinkState* Switch::attach(LinkSession& s, const Hello& peer, std::string* refusal) {
  if (stopping_) {
    *refusal = "the switch is stopping";
    return nullptr;
  }
  // Incarnations are start times (random_incarnation): one far in the
  // future would outrank every real restart of that router.
  const auto now = random_incarnation();
  constexpr std::uint64_t kDayOfIncarnations = (86'400ull * 1'000'000ull) << 12;
  if (peer.incarnation > now + kDayOfIncarnations) {
    *refusal = "incarnation " + std::to_string(peer.incarnation) + " lies more than a day ahead of the switch's clock";
    return nullptr;
  }
  auto it = slots_.find(peer.router_id);
  Slot& slot = it == slots_.end() ? add_slot(peer.router_id) : *it->second;
  const bool restarted = slot.state->peer_incarnation() != 0 && slot.state->peer_incarnation() != peer.incarnation;
  if (slot.session && slot.session.get() != &s && !slot.session->is_closed() &&
      slot.session->peer().incarnation != peer.incarnation &&
      std::chrono::steady_clock::now() - slot.session->last_heard() < 2 * settings_.link.heartbeat) {
    // Another process with the same id, while the first one is alive: two
    // routers with one name would evict each other and split the traffic.
    *refusal = "router id '" + peer.router_id + "' is already linked from " + slot.session->address() +
               " (incarnation " + std::to_string(slot.session->peer().incarnation) + ")";
    spdlog::warn("switch: refused a second router with id '{}' from {} (incarnation {}): {}", peer.router_id,
                 s.address(), peer.incarnation, *refusal);
    return nullptr;
  }
  std::shared_ptr<LinkSession> self;
  for (auto h = handshaking_.begin(); h != handshaking_.end(); ++h) {
    if (h->get() == &s) {
      self = *h;
      handshaking_.erase(h);
      break;
    }
  }
  if (slot.session && slot.session.get() != &s) {
    // The router reconnected (or restarted) before its old connection timed
    // out, and that one has been silent for two heartbeats.
    auto old = std::move(slot.session);
    old->close("replaced by a newer connection from the same router", true);
  }
  if (restarted) forget_inbound(slot);
  slot.session = std::move(self);
  slot.work.clear();  // group counts are per link: the router starts its own again
  slot.interest_sent.clear();
  slot.interest_known = false;
  if (settling_) s.set_hold_resume(true);
  send_interest(slot);
  return slot.state.get();
}

void Switch::established(LinkSession& s) {
  spdlog::info("switch: router '{}' ({}) linked", s.peer().router_id, s.address());
  update_interest();  // its groups take work again
  place_homeless();
  // Its resume acknowledged what it had of ours.
  if (Slot* slot = slot_of(s); slot && !slot->watches.empty()) release_watches(*slot, slot->state->peer_acked());
}

void Switch::subscriptions(LinkSession& s, std::vector<SubscriptionEntry> entries) {
  Slot* slot = slot_of(s);
  if (!slot) return;
  set_entries(*slot, std::move(entries));
  update_interest();
  save_membership_soon();
}

void Switch::load(LinkSession& s, std::vector<GroupLoad> loads) {
  Slot* slot = slot_of(s);
  if (!slot) return;
  for (auto& [name, w] : slot->work) w.members = 0;  // a group not reported has no member here any more
  for (const auto& l : loads) {
    Slot::GroupState& w = slot->work[l.group];
    w.members = std::max<std::uint32_t>(1, l.members);
    w.outstanding = l.outstanding;
    w.received = l.received;
    w.at_least_once = l.at_least_once;
  }
  std::erase_if(slot->work, [](const auto& kv) { return kv.second.members == 0 && kv.second.placed <= kv.second.received; });
  for (auto& [name, w] : slot->work) w.members = std::max<std::uint32_t>(1, w.members);
}

Switch::Slot& Switch::add_slot(const std::string& id) {
  auto slot = std::make_unique<Slot>();
  slot->id = id;
  slot->state = std::make_unique<LinkState>(id, settings_.link.replay, settings_.link.dead_peer);
  slot->down_since = std::chrono::steady_clock::now();
  Slot& out = *slot;
  {
    std::lock_guard lock(slots_mutex_);
    slots_.emplace(id, std::move(slot));
  }
  save_membership_soon();
  return out;
}

void Switch::set_entries(Slot& slot, std::vector<SubscriptionEntry> entries) {
  std::vector<Pattern> notifications, requests, tunnels;
  std::vector<std::shared_ptr<const ContentFilter>> notification_filters, request_filters;
  std::vector<Slot::GroupPattern> group_notifications, group_requests;
  // Only what parses is kept: it is all other routers are told of and all
  // the membership file holds.
  std::erase_if(entries, [&](const SubscriptionEntry& e) {
    std::string error;
    auto p = Pattern::parse(e.pattern, &error);
    if (!p) {
      spdlog::warn("switch: router '{}' subscribed to a malformed pattern '{}': {}; ignored", slot.id, e.pattern,
                   error);
      return true;
    }
    std::string why;
    auto filter = ContentFilter::from_peer(e.filter, &why);
    if (!why.empty()) {
      spdlog::warn("switch: router '{}' sent a content filter for '{}' that does not compile ({}); its events "
                   "go there unfiltered",
                   slot.id, e.pattern, why);
    }
    if (!e.group.empty()) {
      (e.kind == EDRI_KIND_REQUEST ? group_requests : group_notifications)
          .push_back(Slot::GroupPattern{std::move(*p), e.group, std::move(filter)});
      return false;
    }
    if (e.kind == EDRI_KIND_REQUEST) request_filters.push_back(filter);
    if (e.kind == EDRI_KIND_NOTIFICATION) notification_filters.push_back(filter);
    (e.kind == EDRI_KIND_REQUEST ? requests : e.kind == EDRI_KIND_TUNNEL ? tunnels : notifications)
        .push_back(std::move(*p));
    return false;
  });
  slot.group_notifications = std::move(group_notifications);
  slot.group_requests = std::move(group_requests);
  {
    std::lock_guard lock(slots_mutex_);
    slot.entries = std::move(entries);
  }
  slot.notifications = std::move(notifications);
  slot.requests = std::move(requests);
  slot.notification_filters = std::move(notification_filters);
  slot.request_filters = std::move(request_filters);
  slot.tunnels = std::move(tunnels);
}

void Switch::save_membership_soon() {
  if (membership_save_posted_ || membership_.path().empty()) return;
  membership_save_posted_ = true;
  membership_timer_.expires_after(std::chrono::milliseconds(100));
  membership_timer_.async_wait([this](const boost::system::error_code& ec) {
    membership_save_posted_ = false;
    if (!ec) save_membership();
  });
}

void Switch::save_membership() {
  std::vector<Member> members;
  for (const auto& [id, slot] : slots_) members.push_back(Member{id, slot->entries});
  membership_.save(members);
}

void Switch::update_interest() {
  for (auto& [id, slot] : slots_) send_interest(*slot);
}

// What a router needs to know: the union of every other router's patterns.
// A group's patterns only while that router is linked: a member that is
// away takes no group work (its other events wait here for it).
void Switch::send_interest(Slot& slot) {
  if (!slot.session || slot.session->is_closed()) return;
  std::vector<SubscriptionEntry> union_;
  for (const auto& [id, other] : slots_) {
    if (other.get() == &slot) continue;
    const bool linked = live(*other);
    for (const auto& e : other->entries) {
      if (e.group.empty() || linked) union_.push_back(e);
    }
  }
  std::sort(union_.begin(), union_.end());
  union_.erase(std::unique(union_.begin(), union_.end()), union_.end());
  if (slot.interest_known && union_ == slot.interest_sent) return;
  slot.session->send_control(encode_subscriptions(union_));
  slot.interest_sent = std::move(union_);
  slot.interest_known = true;
}

void Switch::forward(Slot& to, const std::uint8_t* frame, std::size_t len, Slot& from, std::uint64_t seq,
                     std::uint32_t* waiting) {
  std::uint64_t out_seq = 0;
  to.state->enqueue(std::string_view(reinterpret_cast<const char*>(frame), len), false, nullptr, &out_seq);
  // To a router that is linked, the sender's ack waits for this one's. To one
  // that is away, the frame waits in its replay buffer here, and the sender
  // is acknowledged at once: a dead router must not stall the others.
  if (out_seq && to.session && to.session->established()) {
    to.watches.push_back(Slot::Watch{out_seq, &from, seq});
    ++*waiting;
  }
  flush_soon(to);
}

void Switch::track(Slot& from, std::uint64_t seq, std::uint32_t waiting) {
  if (waiting == 0 && from.inbound.empty()) return;
  from.inbound.push_back(Slot::Pending{seq, waiting});
  settle_inbound(from);
}

void Switch::settle_inbound(Slot& from) {
  while (!from.inbound.empty() && from.inbound.front().waiting == 0) from.inbound.pop_front();
  const std::uint64_t limit = from.inbound.empty() ? LinkState::kNoAckLimit : from.inbound.front().seq - 1;
  if (limit == from.ack_limit) return;
  from.ack_limit = limit;
  from.state->set_ack_limit(limit);
  if (from.session && from.session->established()) from.session->ack_soon();
}

void Switch::forget_inbound(Slot& from) {
  for (auto& [id, other] : slots_) {
    std::erase_if(other->watches, [&](const Slot::Watch& w) { return w.from == &from; });
  }
  from.inbound.clear();
  settle_inbound(from);
}

void Switch::release_watches(Slot& to, std::uint64_t seq) {
  boost::container::small_vector<Slot*, 8> touched;
  while (!to.watches.empty() && to.watches.front().seq <= seq) {
    const Slot::Watch w = to.watches.front();
    to.watches.pop_front();
    auto& in = w.from->inbound;
    auto it = std::lower_bound(in.begin(), in.end(), w.from_seq,
                               [](const Slot::Pending& p, std::uint64_t s) { return p.seq < s; });
    if (it != in.end() && it->seq == w.from_seq && it->waiting > 0) --it->waiting;
    if (std::find(touched.begin(), touched.end(), w.from) == touched.end()) touched.push_back(w.from);
  }
  for (Slot* from : touched) settle_inbound(*from);
}

// One read brings hundreds of frames: writing each on arrival would start
// a write per frame; flushing after the read's frames are all forwarded
// writes them together.
void Switch::flush_soon(Slot& to) {
  if (to.flush_posted || !to.session || !to.session->established()) return;
  to.flush_posted = true;
  boost::asio::post(io_, [this, id = to.id] {
    auto it = slots_.find(id);
    if (it == slots_.end()) return;
    Slot& slot = *it->second;
    slot.flush_posted = false;
    if (slot.session && slot.session->established()) slot.session->flush();
  });
}

void Switch::answer(Slot& to, const WireEvent& request, std::uint32_t status, const std::string& message) {
  EventPtr resp(event_from_bytes("", nullptr, 0));
  auto& h = resp->header;
  h.id = next_id();
  h.trace_id = request.trace_id;
  h.correlation_id = request.id;
  h.type = event_set_type(*resp, request.type);
  h.payload_type = "";
  h.kind = EDRI_KIND_RESPONSE;
  h.priority = request.priority;
  h.origin_router = router_.id().c_str();
  h.sender = "";
  h.status = status;
  h.message = event_set_message(*resp, message);
  std::string frame;
  if (!encode_event(*resp, EDRI_KIND_RESPONSE, kFlagLast, request.origin_router, incarnation_, frame, nullptr)) return;
  to.state->enqueue(frame, true);
  flush_soon(to);
}

void Switch::send_fanout(Slot& to, const WireEvent& request, std::uint32_t routers) {
  to.state->enqueue(encode_fanout(request.id, request.trace_id, routers, router_.id(), incarnation_), true);
}

// Every router but `from` with a pattern in `patterns` that matches `type`.
Switch::Targets Switch::others_matching(const Slot& from, std::vector<Pattern> Slot::*patterns,
                                        std::string_view type) {
  Targets out;
  for (auto& [id, slot] : slots_) {
    if (slot.get() != &from && matches_any((*slot).*patterns, type)) out.push_back(slot.get());
  }
  return out;
}

namespace {
bool admits(const std::shared_ptr<const ContentFilter>& f, const WireEvent& e) noexcept {
  return !f || f->matches(e.payload, e.payload_len);
}
}  // namespace

Switch::Placement Switch::place(Slot& from, const WireEvent& e) {
  const bool request = e.kind == EDRI_KIND_REQUEST;
  Placement p;
  for (auto& [id, slot] : slots_) {
    if (slot.get() == &from) continue;
    const auto& patterns = request ? slot->requests : slot->notifications;
    const auto& filters = request ? slot->request_filters : slot->notification_filters;
    bool subscribed = false, wanted = false;
    for (std::size_t i = 0; i < patterns.size() && !wanted; ++i) {
      if (!patterns[i].matches(e.type)) continue;
      subscribed = true;
      wanted = admits(filters[i], e);
    }
    if (wanted) {
      p.to.push_back({slot.get(), {}});
    } else if (subscribed) {
      p.filtered = true;
      slot->filtered.fetch_add(1, std::memory_order_relaxed);
    }
  }
  const auto groups_of = [request](Slot& s) -> const std::vector<Slot::GroupPattern>& {
    return request ? s.group_requests : s.group_notifications;
  };
  boost::container::small_vector<std::string_view, 4> names;
  if (e.flags & kFlagGroups) {
    names.assign(e.groups.begin(), e.groups.end());
    p.grouped = true;
  } else {
    // The origin knew of no group for the type: the switch places each one
    // it knows (the origin has no member of any).
    for (auto& [id, slot] : slots_) {
      for (const auto& g : groups_of(*slot)) {
        if (g.pattern.matches(e.type) && std::find(names.begin(), names.end(), g.group) == names.end()) {
          names.push_back(g.group);
        }
      }
    }
    p.grouped = !names.empty();
  }
  if (names.empty()) return p;
  const std::size_t start = place_rr_++;
  for (std::string_view name : names) {
    Slot* best = least_loaded(name, e.type, request, nullptr, start, &e);
    if (!best) {
      // No member anywhere wants it: filtered, not waiting for a member.
      if (!group_wants(name, e)) {
        p.filtered = true;
        continue;
      }
      ++p.unplaced;
      continue;
    }
    auto to = std::find_if(p.to.begin(), p.to.end(), [&](const Placement::To& t) { return t.slot == best; });
    if (to == p.to.end()) to = p.to.insert(p.to.end(), Placement::To{best, {}});
    to->groups.push_back(name);
    p.picks.emplace_back(best, name);
  }
  return p;
}

bool Switch::group_wants(std::string_view name, const WireEvent& e) {
  const bool request = e.kind == EDRI_KIND_REQUEST;
  for (auto& [id, slot] : slots_) {
    for (const auto& g : request ? slot->group_requests : slot->group_notifications) {
      if (g.group == name && g.pattern.matches(e.type) && admits(g.filter, e)) return true;
    }
  }
  return false;
}

Switch::Slot* Switch::least_loaded(std::string_view name, std::string_view type, bool request, const Slot* exclude,
                                   std::size_t start, const WireEvent* e) {
  if (slots_.empty()) return nullptr;
  boost::container::small_vector<Slot*, 8> all;
  for (auto& [id, slot] : slots_) all.push_back(slot.get());
  Slot* best = nullptr;
  std::uint64_t best_load = 0, best_members = 1;
  for (std::size_t i = 0; i < all.size(); ++i) {
    Slot* s = all[(start + i) % all.size()];
    if (s == exclude || !live(*s)) continue;
    const auto& gs = request ? s->group_requests : s->group_notifications;
    if (std::none_of(gs.begin(), gs.end(), [&](const Slot::GroupPattern& g) {
          return g.group == name && g.pattern.matches(type) && (!e || admits(g.filter, *e));
        })) {
      continue;
    }
    std::uint64_t load = 0, members = 1;
    if (auto w = s->work.find(name); w != s->work.end()) {
      load = w->second.load();
      members = w->second.members;
    }
    // Least work per member: load/members < best_load/best_members.
    if (!best || load * best_members < best_load * members) {
      best = s;
      best_load = load;
      best_members = members;
    }
  }
  return best;
}

bool Switch::wants_receipt(const Slot& to, std::span<const std::string_view> groups) {
  return std::any_of(groups.begin(), groups.end(), [&](std::string_view g) {
    auto w = to.work.find(g);
    return w != to.work.end() && w->second.at_least_once;
  });
}

void Switch::hold_work(Slot& to, const edri_id128& id, std::string frame, std::span<const std::string_view> groups) {
  HeldWork& h = to.held[id];
  to.held_count.store(to.held.size(), std::memory_order_relaxed);
  h.frame = std::move(frame);
  for (std::string_view g : groups) {
    if (std::find(h.groups.begin(), h.groups.end(), g) == h.groups.end()) h.groups.emplace_back(g);
  }
}

void Switch::settled(LinkSession& s, std::vector<Settlement> settled) {
  Slot* slot = slot_of(s);
  if (!slot) return;
  for (const Settlement& st : settled) {
    auto it = slot->held.find(st.id);
    if (it == slot->held.end()) continue;  // placed elsewhere already (the link went meanwhile)
    HeldWork work = std::move(it->second);
    slot->held.erase(it);
    slot->held_count.store(slot->held.size(), std::memory_order_relaxed);
    if (st.handed_back) place_again(std::move(work), slot);
  }
}

void Switch::place_again(HeldWork work, const Slot* gone) {
  const auto* whole = reinterpret_cast<const std::uint8_t*>(work.frame.data());
  WireEvent e;
  std::string error;
  if (work.frame.size() < kFrameHead || !decode_event(whole + kFrameHead, work.frame.size() - kFrameHead, e, &error)) {
    spdlog::error("switch: a held group event does not decode ({}); dropped", error);
    return;
  }
  const bool request = e.kind == EDRI_KIND_REQUEST;
  for (const std::string& g : work.groups) {
    Slot* to = least_loaded(g, e.type, request, gone, place_rr_++);
    if (!to) {
      homeless_.push_back(HeldWork{work.frame, {g}});
      unplaced_log_.warn([&](std::uint64_t more) {
        spdlog::warn("switch: {} for group '{}' waits for a member to be linked ({} more since the last line)", e.type,
                     g, more);
      });
      continue;
    }
    const std::string_view name[] = {g};
    const bool receipt = wants_receipt(*to, name);
    std::string copy = with_groups(whole, work.frame.size(), e, name, true,
                                   kFlagRedelivered | (receipt ? kFlagReceipt : 0));
    set_event_redeliveries(copy, static_cast<std::uint16_t>(std::min<std::uint32_t>(e.redeliveries + 1u, 0xffff)));
    to->state->enqueue(copy, false);
    flush_soon(*to);
    auto w = to->work.find(g);
    if (w == to->work.end()) w = to->work.emplace(g, Slot::GroupState{}).first;
    ++w->second.placed;
    ++placed_again_;
    {
      logging::TraceScope trace(e.trace_id);
      spdlog::debug("switch: {} for group '{}' placed again on router '{}' (delivery {})", e.type, g, to->id,
                   e.redeliveries + 2);
    }
    if (receipt) hold_work(*to, e.id, std::move(copy), name);
  }
}

void Switch::place_homeless() {
  if (homeless_.empty()) return;
  std::vector<HeldWork> waiting;
  waiting.swap(homeless_);
  for (auto& w : waiting) place_again(std::move(w), nullptr);
}

void Switch::commit(const Placement& p) {
  for (const auto& [slot, name] : p.picks) {
    auto w = slot->work.find(name);
    if (w == slot->work.end()) w = slot->work.emplace(std::string(name), Slot::GroupState{}).first;
    ++w->second.placed;
  }
}

// An event goes nowhere while a router it goes to has half its replay budget
// unacknowledged: the sending router's session holds it (and, unacknowledged,
// its own publishers wait) until that router catches up. Forwarding anyway
// would overflow the buffer and lose events.
bool Switch::event(LinkSession& s, const WireEvent& e, const std::uint8_t* frame, std::size_t len) {
  Slot* from = slot_of(s);
  if (!from) return true;
  // An event's origin is the router whose link it arrives on, whatever the
  // frame says: one forged frame claiming another router's id (and a huge
  // incarnation) would otherwise make every router drop that router's real
  // events as stale, for good. Dropped once and acknowledged: resending it
  // would not make it true.
  if (e.origin_router != from->id || e.origin_incarnation != s.peer().incarnation) {
    from->state->count_refused();
    forged_log_.warn([&](std::uint64_t more) {
      spdlog::warn("switch: router '{}' ({}) sent an event claiming origin '{}' incarnation {} (its own: {}); "
                   "dropped ({} more since the last line)",
                   from->id, s.address(), e.origin_router, e.origin_incarnation, s.peer().incarnation, more);
    });
    return true;
  }
  auto hold = [&] {
    held_.push_back(s.weak_from_this());
    return false;
  };
  std::uint32_t waiting = 0;
  switch (e.kind) {
    case EDRI_KIND_NOTIFICATION:
    case EDRI_KIND_REQUEST: {
      const Placement p = place(*from, e);
      if (p.unplaced) {
        unplaced_ += p.unplaced;
        unplaced_log_.warn([&](std::uint64_t more) {
          spdlog::warn("switch: {} from router '{}' has a group with no linked member; that group does not get it "
                       "({} more since the last line)",
                       e.type, from->id, more);
        });
      }
      if (e.kind == EDRI_KIND_REQUEST && p.to.empty()) {
        answer(*from, e, EDRI_STATUS_NOT_FOUND,
               p.filtered ? "no router's content filter in the cluster takes this '" + std::string(e.type) + "'"
                          : "no router in the cluster serves '" + std::string(e.type) + "'");
        break;
      }
      if (std::any_of(p.to.begin(), p.to.end(), [](const Placement::To& t) { return t.slot->state->congested(); })) {
        return hold();
      }
      commit(p);
      // The fanout precedes every response on the requester's link.
      if (e.kind == EDRI_KIND_REQUEST) send_fanout(*from, e, static_cast<std::uint32_t>(p.to.size()));
      for (const Placement::To& t : p.to) {
        if (!p.grouped) {
          forward(*t.slot, frame, len, *from, e.seq, &waiting);
          continue;
        }
        const bool receipt = wants_receipt(*t.slot, t.groups);
        std::string copy = with_groups(frame, len, e, t.groups, t.slot == from, receipt ? kFlagReceipt : 0);
        forward(*t.slot, reinterpret_cast<const std::uint8_t*>(copy.data()), copy.size(), *from, e.seq, &waiting);
        if (receipt) hold_work(*t.slot, e.id, std::move(copy), t.groups);
      }
      break;
    }
    case kWireTunnelOpen: {
      // A tunnel has one server: the routers that serve its type take turns.
      const Targets targets = others_matching(*from, &Slot::tunnels, e.type);
      if (targets.empty()) {
        from->state->enqueue(encode_tunnel_frame(kWireTunnelRefuse, e.id, EDRI_STATUS_NOT_FOUND,
                                                 "no router in the cluster serves tunnel '" + std::string(e.type) + "'",
                                                 e.origin_router, router_.id(), incarnation_),
                             true);
        if (from->session && from->session->established()) from->session->flush();
        break;
      }
      Slot* to = targets[tunnel_rr_ % targets.size()];
      if (to->state->congested()) return hold();
      ++tunnel_rr_;
      forward(*to, frame, len, *from, e.seq, &waiting);
      break;
    }
    case kWireTunnelAccept:
    case kWireTunnelRefuse:
    case kWireTunnelData:
    case kWireTunnelCredit:
    case kWireTunnelShutdown:
    case kWireTunnelClose:
    case EDRI_KIND_RESPONSE: {
      auto it = slots_.find(e.target_router);
      if (it == slots_.end()) {
        ++unroutable_;
        spdlog::debug("switch: response for unknown router '{}' dropped", e.target_router);
        break;
      }
      if (it->second->state->congested()) return hold();
      forward(*it->second, frame, len, *from, e.seq, &waiting);
      break;
    }
    default:
      spdlog::warn("switch: router '{}' sent an event frame of kind {}; ignored", from->id, e.kind);
      break;
  }
  track(*from, e.seq, waiting);
  return true;
}

void Switch::acked(LinkSession& s) {
  Slot* slot = slot_of(s);
  if (slot && !slot->watches.empty()) release_watches(*slot, slot->state->peer_acked());
  if (held_.empty()) return;
  if (slot && slot->state->has_room()) retry_held();
}

void Switch::retry_held() {
  std::vector<std::weak_ptr<LinkSession>> held;
  held.swap(held_);
  for (auto& w : held) {
    if (auto session = w.lock(); session && !session->is_closed()) session->retry_held();
  }
}

void Switch::gap(LinkSession&, const Gap& g) { publish_gap(router_, g); }

void Switch::closed(LinkSession& s, const std::string& reason) {
  handshaking_.erase(std::remove_if(handshaking_.begin(), handshaking_.end(),
                                    [&](const auto& h) { return h.get() == &s; }),
                     handshaking_.end());
  Slot* slot = slot_of(s);
  if (!slot) {
    if (!stopping_ && s.state() == nullptr) spdlog::info("switch: connection from {} ended: {}", s.address(), reason);
    return;
  }
  if (slot->state->peer_leaving()) {
    spdlog::info("switch: router '{}' ({}) left after saying goodbye", slot->id, s.address());
  } else if (!stopping_) {
    spdlog::warn("switch: router '{}' ({}) link down: {}", slot->id, s.address(), reason);
  }
  slot->down_since = std::chrono::steady_clock::now();
  // What waits in its replay buffer now waits here, not at its senders.
  release_watches(*slot, ~std::uint64_t{0});
  // Keep the session object alive until its handlers finish.
  boost::asio::post(io_, [keep = std::move(slot->session)] {});
  update_interest();  // its group members take no more work
  // What it held of at-least-once group work goes to the other members now.
  // Should it come back and handle some of it too, that work is done twice:
  // at least once, not exactly once.
  auto held = std::move(slot->held);
  slot->held.clear();
  slot->held_count.store(0, std::memory_order_relaxed);
  if (!held.empty()) {
    spdlog::warn("switch: router '{}' held {} group event(s) it had not finished; placing them on other members",
                 slot->id, held.size());
  }
  for (auto& [id, work] : held) place_again(std::move(work), slot);
  slot->work.clear();
  // A link that is down takes events into its replay buffer again.
  boost::asio::post(io_, [this] { retry_held(); });
}

// A router gone for longer than the replay age has nothing left to resume:
// forget it, and stop sending its events anywhere.
void Switch::sweep() {
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    bool changed = false;
    for (auto it = slots_.begin(); it != slots_.end();) {
      Slot& slot = *it->second;
      slot.state->expire(now);
      if (!slot.session && now - slot.down_since > settings_.link.replay.max_age) {
        spdlog::warn("switch: router '{}' has been away for over {} ms; forgetting it", slot.id,
                     settings_.link.replay.max_age.count());
        release_watches(slot, ~std::uint64_t{0});
        forget_inbound(slot);
        std::lock_guard lock(slots_mutex_);
        it = slots_.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    if (changed) {
      update_interest();
      save_membership_soon();
    }
    if (!held_.empty()) retry_held();
    sweep();
  });
}

void Switch::stop(std::chrono::milliseconds grace) {
  if (!thread_.joinable()) return;
  auto on_io = [this](auto fn) {
    std::promise<void> done;
    auto f = done.get_future();
    boost::asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    f.wait();
  };
  on_io([this] {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    accept_pause_.cancel();
    settle_timer_.cancel();
    for (auto& h : handshaking_) h->close("the switch is stopping", true);
    for (auto& [id, slot] : slots_) {
      if (slot->session) slot->session->pause_events();
    }
  });
  const auto until = std::chrono::steady_clock::now() + grace;
  auto drained = [this] {
    std::lock_guard lock(slots_mutex_);
    return std::all_of(slots_.begin(), slots_.end(), [](const auto& kv) { return kv.second->state->drained(); });
  };
  while (!drained() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!drained()) spdlog::warn("switch: stopping with events routers have not acknowledged");
  on_io([this] {
    sweep_timer_.cancel();
    membership_timer_.cancel();
    save_membership();
    for (auto& [id, slot] : slots_) {
      slot->state->close_for_good();
      if (slot->session) slot->session->goodbye();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  work_.reset();
  io_.stop();
  thread_.join();
}

void Switch::links(std::vector<LinkSnapshot>& out) const {
  std::lock_guard lock(slots_mutex_);
  for (const auto& [id, slot] : slots_) {
    LinkSnapshot& s = out.emplace_back();
    slot->state->snapshot(s);
    s.role = "switch";
    s.patterns = slot->entries.size();
    s.held_work = slot->held_count.load(std::memory_order_relaxed);
    s.filtered = slot->filtered.load(std::memory_order_relaxed);
  }
}

}  // namespace edrid::cluster
