// A lost stretch of events on a link is never silent: it is logged, counted
// on the link, and published on the local router as a `link.gap`
// notification {peer, reason, lost, unknown, from_seq, to_seq}.
#pragma once

#include "cluster/link_state.hpp"

namespace edrid {
class Router;
}

namespace edrid::cluster {

constexpr const char* kGapEventType = "link.gap";

void publish_gap(Router& router, const Gap& gap);

}  // namespace edrid::cluster
