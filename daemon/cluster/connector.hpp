// The router side of clustering: one link to a switch, kept up with
// reconnects and backoff. Local events other routers want leave through it
// (ClusterUplink); events from the switch enter the local router. The link's
// state outlives connections, so an outage loses nothing the replay buffer
// still holds.
#pragma once

#include "cluster/link_stream.hpp"
#include "cluster/link_session.hpp"
#include "cluster/origin_filter.hpp"
#include "event/pattern.hpp"
#include "router/router.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace edrid::cluster {

class Connector final : public ClusterUplink,
                        public LinkHooks,
                        public std::enable_shared_from_this<Connector> {
 public:
  Connector(Router& router, ConnectorSettings settings);
  ~Connector() override;

  // Starts the io thread and the first connection attempt.
  void start();
  // Stops taking events from the switch (it keeps them for this router's
  // next incarnation); call before the router stops its managers.
  void pause_inbound();
  // Waits up to `grace` for the switch to acknowledge everything sent, says
  // goodbye and ends the io thread.
  void stop(std::chrono::milliseconds grace);
  void links(std::vector<LinkSnapshot>& out) const;

  // ClusterUplink (router threads).
  RemoteRoute remote_route(edri_kind kind, std::string_view type) const override;
  std::vector<std::string> remote_groups(edri_kind kind, std::string_view type) const override;
  std::vector<std::shared_ptr<const ContentFilter>> remote_filters(edri_kind kind,
                                                                   std::string_view type) const override;
  bool send(const Event& ev, bool may_wait, const std::vector<std::string>* groups = nullptr) override;
  bool congested() const override;
  void send_tunnel_open(const Event& offer) override;
  void local_subscriptions(std::vector<LocalPattern> patterns) override;

  // LinkHooks (io thread).
  LinkState* attach(LinkSession& s, const Hello& peer, std::string* refusal) override;
  void established(LinkSession& s) override;
  void subscriptions(LinkSession& s, std::vector<SubscriptionEntry> entries) override;
  bool event(LinkSession& s, const WireEvent& e, const std::uint8_t* frame, std::size_t len) override;
  void gap(LinkSession& s, const Gap& g) override;
  void closed(LinkSession& s, const std::string& reason) override;
  void acked(LinkSession& s) override;

 private:
  class SettleDesk;
  // io thread: tells the switch of the settlements whose router's own
  // events before them the switch has acknowledged: the work's results (the
  // events its handler sent) are never behind its settlement.
  void send_settled();
  struct GroupPattern {
    Pattern pattern;
    std::string group;
  };
  // What the other routers subscribe to, as the switch last said.
  struct Interest {
    std::vector<Pattern> notifications;
    std::vector<Pattern> requests;
    std::vector<Pattern> tunnels;
    // The content filters of notifications and requests, one per pattern
    // (null: none).
    std::vector<std::shared_ptr<const ContentFilter>> notification_filters, request_filters;
    // Work groups' patterns: a member's router is linked to the switch.
    std::vector<GroupPattern> group_notifications;
    std::vector<GroupPattern> group_requests;
  };
  std::shared_ptr<const Interest> interest() const;
  // While the link is down nobody can place group work: this router's own
  // members take it all until the switch states the groups again.
  void forget_remote_groups();
  // Every load_report period: this router's work per group to the switch
  // when it changed (and once a second regardless).
  void report_load();
  class RemoteTunnelSink;
  std::shared_ptr<RemoteTunnelSink> tunnel_sink(const std::string& router);
  void on_tunnel_frame(const WireEvent& e);
  static void on_served(void* user, const edri_event* response, int is_last);
  void send_response(const Event& request, const Event& response, bool last);
  void enqueue(std::string_view frame);
  void connect();
  // TLS: the handshake, bounded by the link's handshake time; then start().
  void secure_then_start(boost::asio::ip::tcp::socket socket);
  void start_session(LinkStream stream);
  void schedule_reconnect();
  std::string subscriptions_frame() const;

  Router& router_;
  const ConnectorSettings settings_;
  const std::uint64_t incarnation_;
  std::vector<Pattern> share_, local_;
  LinkState state_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // null: plain TCP

  boost::asio::io_context io_;
  // Keeps run() going while no socket or timer is pending (between
  // connections, or after the last goodbye), so posted work always runs.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer load_timer_;
  std::vector<GroupLoad> load_sent_;                // io thread only
  // Group events received from the switch on this link, per group.
  std::map<std::string, std::uint64_t, std::less<>> group_received_;  // io thread only
  std::chrono::steady_clock::time_point load_sent_at_;  // io thread only
  std::chrono::milliseconds backoff_;
  std::uint64_t failed_attempts_ = 0;
  std::shared_ptr<LinkSession> session_;  // io thread only
  bool stopping_ = false;                 // io thread only
  bool inbound_paused_ = false;           // io thread only
  OriginFilter seen_;                     // io thread only

  // The receipt of every group event placed here: it gathers their
  // settlements for send_settled (refcounted: events may outlive this).
  SettleDesk* desk_;

  std::mutex sinks_mutex_;
  std::map<std::string, std::shared_ptr<RemoteTunnelSink>, std::less<>> sinks_;

  mutable std::mutex mutex_;  // guards the two below
  std::shared_ptr<const Interest> interest_ = std::make_shared<Interest>();
  std::vector<SubscriptionEntry> local_patterns_;
  bool subscriptions_frozen_ = false;  // under mutex_: set once stopping begins
};

}  // namespace edrid::cluster
