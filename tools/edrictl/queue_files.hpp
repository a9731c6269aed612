// edrictl queue ...: a durable queue's directory on this machine, read or
// moved aside without an edrid (docs/operations.md, "Durable queues on disk").
#pragma once

#include <string>
#include <vector>

namespace edrictl {

// words: "queue", "inspect"|"aside", DIR. Returns the exit code; throws
// std::invalid_argument for wrong arguments.
int queue_command(const std::vector<std::string>& words, long count);

}  // namespace edrictl
