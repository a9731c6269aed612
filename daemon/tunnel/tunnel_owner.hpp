// The manager an end of a tunnel belongs to, as the tunnel sees it: a name
// for /stats and the queue its end's callbacks run from, like any other work
// of that manager (so in order, on its executor).
#pragma once

#include "queue/delivery.hpp"

#include <string>

namespace edrid {

class TunnelOwner {
 public:
  virtual const std::string& name() const noexcept = 0;
  // Queues one tunnel callback; false when the manager is stopping.
  virtual bool post_tunnel_work(Delivery&& d) = 0;

 protected:
  ~TunnelOwner() = default;
};

}  // namespace edrid
