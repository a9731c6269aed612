// The switch: accepts routers' links, learns each router's subscription
// patterns, and forwards every event frame only to the routers that want it,
// never back to its origin. It forwards frames as they came (only the link
// sequence is rewritten), so it never decodes a payload. All link work runs
// on one io thread.
//
// It acknowledges a router's frames once they are in the destination
// routers' replay buffers; a stopping switch first stops reading, then waits
// for the routers to acknowledge what it still holds, so a restart loses
// nothing. After start it waits `settle` for routers to come back and state
// their subscriptions before it takes events, so resent events find them.
#pragma once

#include "cluster/link_stream.hpp"
#include "cluster/link_session.hpp"
#include "cluster/switch_membership.hpp"
#include "event/content_filter.hpp"
#include "event/ids.hpp"
#include "event/pattern.hpp"

#include <boost/container/small_vector.hpp>

#include <chrono>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json_fwd.hpp>

namespace edrid {
class Router;
}

namespace edrid::cluster {

class Switch final : public LinkHooks {
 public:
  Switch(Router& router, SwitchSettings settings);
  ~Switch() override;

  // Binds (throws std::runtime_error when it cannot) and starts the io thread.
  void start();
  // Stops taking events, waits up to `grace` for routers to acknowledge
  // what is buffered for them, says goodbye and ends the io thread.
  void stop(std::chrono::milliseconds grace);
  std::uint16_t port() const noexcept { return bound_port_; }
  void links(std::vector<LinkSnapshot>& out) const;

  // LinkHooks (io thread).
  LinkState* attach(LinkSession& s, const Hello& peer, std::string* refusal) override;
  void established(LinkSession& s) override;
  void subscriptions(LinkSession& s, std::vector<SubscriptionEntry> entries) override;
  void load(LinkSession& s, std::vector<GroupLoad> loads) override;
  void settled(LinkSession& s, std::vector<Settlement> settled) override;
  bool event(LinkSession& s, const WireEvent& e, const std::uint8_t* frame, std::size_t len) override;
  void acked(LinkSession& s) override;
  void gap(LinkSession& s, const Gap& g) override;
  void closed(LinkSession& s, const std::string& reason) override;

 private:
  // A group event placed on a router that owes a settlement for it: the
  // copy it was sent, and the groups it serves there.
  struct HeldWork {
    std::string frame;
    boost::container::small_vector<std::string, 1> groups;
  };
  struct Slot {
    std::string id;
    std::unique_ptr<LinkState> state;
    std::shared_ptr<LinkSession> session;
    std::vector<SubscriptionEntry> entries;
    std::vector<Pattern> notifications, requests, tunnels;  // outside any group
    // Their content filters, one per pattern (null: none).
    std::vector<std::shared_ptr<const ContentFilter>> notification_filters, request_filters;
    struct GroupPattern {
      Pattern pattern;
      std::string group;
      std::shared_ptr<const ContentFilter> filter;
    };
    std::vector<GroupPattern> group_notifications, group_requests;
    // Per group on this link: its members here and their unfinished work,
    // as last reported; the events placed here, and how many of them the
    // router had received by that report: the rest are on their way.
    struct GroupState {
      std::uint32_t members = 1;
      std::uint32_t outstanding = 0;
      std::uint64_t placed = 0;
      std::uint64_t received = 0;
      bool at_least_once = false;
      std::uint64_t load() const noexcept { return outstanding + (placed > received ? placed - received : 0); }
    };
    std::map<std::string, GroupState, std::less<>> work;
    // At-least-once group events placed here and not settled yet, by id:
    // placed again elsewhere if this router goes first.
    std::unordered_map<edri_id128, HeldWork, IdHash, IdEq> held;
    // For stats, read without the io thread: held.size() and the events
    // this router's filters turned away.
    std::atomic<std::uint64_t> held_count{0};
    std::atomic<std::uint64_t> filtered{0};
    std::vector<SubscriptionEntry> interest_sent;
    bool interest_known = false;
    bool flush_posted = false;
    std::chrono::steady_clock::time_point down_since;
    // End-to-end acks. `inbound`: this router's frames that routers still
    // linked have not acknowledged yet, oldest first, with how many of them
    // each waits for. `watches`: frames forwarded to this router that a
    // sender's frame waits on, by this link's sequence.
    struct Pending {
      std::uint64_t seq;
      std::uint32_t waiting;
    };
    struct Watch {
      std::uint64_t seq;
      Slot* from;
      std::uint64_t from_seq;
    };
    std::deque<Pending> inbound;
    std::deque<Watch> watches;
    std::uint64_t ack_limit = LinkState::kNoAckLimit;
  };
  void accept();
  // Forwards `from`'s frame `seq` to `to`; counts in *waiting when its ack
  // must wait for `to`'s.
  void forward(Slot& to, const std::uint8_t* frame, std::size_t len, Slot& from, std::uint64_t seq,
               std::uint32_t* waiting);
  void track(Slot& from, std::uint64_t seq, std::uint32_t waiting);
  // `to` acknowledged up to `seq` (or went down: everything): the frames
  // waiting on it wait no more.
  void release_watches(Slot& to, std::uint64_t seq);
  void settle_inbound(Slot& from);
  // `from` is gone or came back as a new incarnation: its frames' sequence
  // numbers start again, so what was pending for the old ones is dropped.
  void forget_inbound(Slot& from);
  void flush_soon(Slot& to);
  void answer(Slot& to, const WireEvent& request, std::uint32_t status, const std::string& message);
  void send_fanout(Slot& to, const WireEvent& request, std::uint32_t routers);
  void update_interest();
  void send_interest(Slot& slot);
  Slot& add_slot(const std::string& id);
  void set_entries(Slot& slot, std::vector<SubscriptionEntry> entries);
  // Writes the membership file soon (changes come in bursts: one write).
  void save_membership_soon();
  void save_membership();
  void sweep();
  // Gives sessions held by backpressure another try (a link drained or went down).
  void retry_held();
  // Per event: most clusters have a handful of routers, kept off the heap.
  using Targets = boost::container::small_vector<Slot*, 8>;
  // Where one notification or request goes: each router, with the groups it
  // serves the event for there (a group event only).
  struct Placement {
    struct To {
      Slot* slot;
      boost::container::small_vector<std::string_view, 2> groups;
    };
    boost::container::small_vector<To, 8> to;
    boost::container::small_vector<std::pair<Slot*, std::string_view>, 2> picks;
    bool grouped = false;  // copies carry a group section
    std::uint32_t unplaced = 0;  // groups with no member linked
    bool filtered = false;  // a router subscribed to the type, but no filter took the payload
  };
  // Every router outside `from` that subscribes to e's type outside a group,
  // and, for each group the event is to be placed in, the linked member
  // router with the least unfinished work per member (`from` too).
  Placement place(Slot& from, const WireEvent& e);
  // The linked router serving group `name` for `type` with the least work
  // per member, not `exclude`; looking from the start'th router, so ties
  // go round. Null when there is none.
  // With `e`, only a router whose filter for the group takes e's payload.
  Slot* least_loaded(std::string_view name, std::string_view type, bool request, const Slot* exclude,
                     std::size_t start, const WireEvent* e = nullptr);
  // Whether some router (linked or not) has a member of group `name` whose
  // filter takes e.
  bool group_wants(std::string_view name, const WireEvent& e);
  // Whether `to` owes a settlement for an event it serves these groups of.
  static bool wants_receipt(const Slot& to, std::span<const std::string_view> groups);
  void hold_work(Slot& to, const edri_id128& id, std::string frame, std::span<const std::string_view> groups);
  // `gone` will not handle the held event: its groups go to other members
  // (or wait in homeless_ until one is linked).
  void place_again(HeldWork work, const Slot* gone);
  // A router was linked: held events waiting for a member try again.
  void place_homeless();
  // The placement was carried out: count the picks against their routers.
  static void commit(const Placement& p);
  static bool live(const Slot& s) noexcept { return s.session && s.session->established(); }
  Slot* slot_of(LinkSession& s);
  Targets others_matching(const Slot& from, std::vector<Pattern> Slot::*patterns, std::string_view type);

  Router& router_;
  const SwitchSettings settings_;
  const std::uint64_t incarnation_;
  boost::asio::io_context io_;
  // Keeps run() going while no socket or timer is pending (between
  // connections, or after the last goodbye), so posted work always runs.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer settle_timer_;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer accept_pause_;
  boost::asio::steady_timer membership_timer_;
  MembershipFile membership_;
  bool membership_save_posted_ = false;
  std::thread thread_;
  std::uint16_t bound_port_ = 0;
  bool settling_ = true;
  bool stopping_ = false;
  std::uint64_t unroutable_ = 0;
  std::uint64_t unplaced_ = 0;
  std::uint64_t placed_again_ = 0;
  std::vector<HeldWork> homeless_;
  std::uint64_t place_rr_ = 0;  // ties in load go round
  logging::Throttle unplaced_log_;
  logging::Throttle forged_log_;
  logging::Throttle handshake_cap_log_;
  logging::Throttle accept_log_;
  static constexpr std::size_t kMaxHandshaking = 64;
  // TLS: handshakes under way (they count against kMaxHandshaking too).
  std::size_t tls_handshaking_ = 0;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // null: plain TCP
  logging::Throttle tls_log_;
  void secure_then_start(boost::asio::ip::tcp::socket socket);
  void start_session(LinkStream stream);
  std::uint64_t tunnel_rr_ = 0;

  mutable std::mutex slots_mutex_;  // writers: the io thread; readers: stats
  std::map<std::string, std::unique_ptr<Slot>, std::less<>> slots_;
  std::vector<std::shared_ptr<LinkSession>> handshaking_;
  // Sessions whose events wait for a congested link to drain.
  std::vector<std::weak_ptr<LinkSession>> held_;
};

}  // namespace edrid::cluster
