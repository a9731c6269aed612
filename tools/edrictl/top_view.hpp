// edrictl top: one screen of a router's /stats, a line per manager.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace edrictl {

// The router's line, then a header and a line per manager: health, queue,
// rates in, out and of errors, handler p50/p99 and wait p99 (us), and the
// durable queue's depth ("-" for a manager without one).
std::string render_top(const nlohmann::json& stats);

}  // namespace edrictl
