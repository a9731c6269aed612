// Renders a RouterSnapshot: the JSON document of /stats (and of a plugin's
// router_stats call) and the Prometheus text format 0.0.4 of /metrics (and
// of router_metrics). Each metric family is written once, here.
#pragma once

#include "router/router_snapshot.hpp"

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace edrid {

void to_json(nlohmann::json& out, const RouterSnapshot& s);
std::string to_prometheus(const RouterSnapshot& s);

}  // namespace edrid
