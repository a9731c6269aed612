// An in-process Router with probe managers, for tests.
#pragma once

#include "probe_managers.hpp"
#include "router/router.hpp"

#include <functional>
#include <memory>
#include <string>

namespace probe {

inline const edri_plugin_descriptor* probe_descriptor() {
  return edri::descriptor_of<Probe>("probe", "1.0.0");
}

struct RouterFixture {
  edrid::RouterOptions options;
  std::unique_ptr<edrid::Router> router;

  RouterFixture() {
    Registry::get().reset();
    options.id = "test-router";
    options.stop_grace = std::chrono::milliseconds(2000);
    router = std::make_unique<edrid::Router>(options);
  }
  ~RouterFixture() {
    Registry::get().open_gate();
    router.reset();
  }
  RouterFixture& add(const std::string& name, edri::json config,
                     edrid::QueueSettings q = {}) {
    router->add_manager(name, probe_descriptor(), "probe", q, config.dump());
    return *this;
  }
  void reopen(const edrid::RouterOptions& o) {
    options = o;
    router = std::make_unique<edrid::Router>(options);
  }
  edri::Context& ctx(const std::string& name) { return Registry::get().context(name); }
  edri::json stats() {
    edri::json j;
    router->stats_json(j);
    return j;
  }
  edri::json manager_stats(const std::string& name) {
    const edri::json all = stats();  // keep the document alive while iterating it
    for (const auto& m : all["managers"]) {
      if (m["name"] == name) return m;
    }
    return nullptr;
  }
};

// A started router with the managers `add` puts in it.
struct StartedRouter : RouterFixture {
  explicit StartedRouter(const std::function<void(edrid::Router&)>& add) {
    add(*router);
    router->start();
  }
};

}  // namespace probe
