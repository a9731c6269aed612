// What the router needs from the cluster connector: whether an event may and
// should leave this router, a way to send it, and a view of the links. The
// connector implements it; the router knows nothing of sockets.
#pragma once

#include "event/content_filter.hpp"
#include "event/event.hpp"

#include <edri/abi.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edrid {

enum class RemoteRoute : std::uint8_t {
  none,            // no other router wants it, or the type is local by config
  if_shareable,    // wanted; leaves only if its type was declared shareable
  always,          // wanted and shared by config
};

struct LocalPattern {
  edri_kind kind;
  std::string pattern;
  std::string group;  // the manager's work group, "" for none
  std::string filter;  // the content filter for every type of the pattern (its text), "" for none
};

// One work group's share of this router: members here and the events they
// have taken and not finished (what the switch places group work by).
struct GroupWork {
  std::string group;
  std::uint32_t members = 0;
  std::uint32_t outstanding = 0;
  bool at_least_once = false;  // some member here has delivery: at_least_once
};

// Which groups a switch gave an event from another router to this router.
struct GroupAssignment {
  std::span<const std::string_view> groups;
  bool only = false;  // to these groups only: the other subscribers had it already
  bool serves(std::string_view group) const noexcept;
};

class ClusterUplink {
 public:
  virtual ~ClusterUplink() = default;
  // Called when a type's routes are first resolved (then cached until
  // Router::refresh_routes()); must be cheap and thread-safe.
  virtual RemoteRoute remote_route(edri_kind kind, std::string_view type) const = 0;
  // The work groups with members on other routers whose subscriptions match
  // (notifications and requests): the switch picks one member router of each.
  // Same caching as remote_route.
  virtual std::vector<std::string> remote_groups(edri_kind kind, std::string_view type) const = 0;
  // The content filters of the other routers' subscriptions to `type`
  // (outside groups), when every one of them has one: an event whose
  // payload passes none of them need not leave. Empty: no such limit.
  // Same caching as remote_route.
  virtual std::vector<std::shared_ptr<const ContentFilter>> remote_filters(edri_kind kind,
                                                                           std::string_view type) const = 0;
  // A local notification or request (header complete) for other routers.
  // Waits while the link is congested, unless !may_wait: then a congested
  // link refuses the event (returns false). `groups`, when given, are the
  // groups the switch is to place (maybe none: then it places none).
  virtual bool send(const Event& ev, bool may_wait, const std::vector<std::string>* groups = nullptr) = 0;
  // True while send(ev, true) would wait for the link.
  virtual bool congested() const = 0;
  // A tunnel offer (header complete) for the router serving its type; the
  // answer comes back as Tunnel::accept or refuse on the tunnel with its id.
  virtual void send_tunnel_open(const Event& offer) = 0;
  // The patterns this router's managers subscribe to, after every change.
  virtual void local_subscriptions(std::vector<LocalPattern> patterns) = 0;
};

}  // namespace edrid
