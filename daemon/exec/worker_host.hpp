// The worker side of the process executor: `edrid --worker PLUGIN MANAGER FD`.
// Loads the plugin, creates the manager with the config the router sends,
// then runs the tasks it is given and forwards what the handlers send.
#pragma once

#include <string>

namespace edrid {

// Runs until the router closes the channel; returns the process exit code.
int run_worker(const std::string& plugin_path, const std::string& manager, int fd);

}  // namespace edrid
