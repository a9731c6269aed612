// How a bridge's connection and intake threads report what they see:
// (level 0 info, 1 warn, 2 error, text), routed to the manager's logger.
#pragma once

#include <functional>
#include <string>

namespace edri_bridge {

using LinkLog = std::function<void(int, const std::string&)>;

}  // namespace edri_bridge
