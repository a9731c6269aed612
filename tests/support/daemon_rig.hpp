// Starts an in-process daemon from a YAML text, with test managers added
// before start, and stops it at the end of the test.
#pragma once

#include "app/daemon.hpp"
#include "support/probe_managers.hpp"
#include "support/temp_file.hpp"

#include <functional>
#include <memory>
#include <string>

namespace probe {

struct DaemonRig {
  TempDir dir;
  std::unique_ptr<edrid::Daemon> daemon;

  // Clears the probe registry first: the probes this rig adds register in it.
  DaemonRig(const std::string& yaml, const std::function<void(edrid::Router&)>& add_managers) {
    Registry::get().reset();
    daemon = std::make_unique<edrid::Daemon>(edrid::load_config(dir.write("edrid.yaml", yaml)));
    daemon->build();
    add_managers(daemon->router());
    daemon->start();
  }
  ~DaemonRig() { daemon->stop(); }
};

}  // namespace probe
