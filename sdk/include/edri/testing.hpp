// Unit tests for a manager without running edrid: a real edri router in the
// test's own process, with the manager under test and one more manager,
// `test`, that is the test's hands. The test sends through ctx() as any
// manager would (notify, request, call) and reads what was sent to `test`.
// Link the test with the `edri::testing` library.
//
//   edri::testing::TestRouter router;
//   router.add("counter", edri_plugin_entry(), {{"max_keys", 2}})  // or add<CounterManager>("counter")
//         .watch("counter.>")
//         .start();
//   router.ctx().notify(counter::Hit{"apples", 2});
//   auto count = router.ctx().call(counter::Get{"apples"});
#pragma once

#include <edri/abi.h>
#include <edri/context.hpp>
#include <edri/plugin.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edri::testing {

// A notification that reached the `test` manager.
struct Received {
  std::string type;
  std::string sender;  // the manager that sent it
  json data;
};

class TestRouter {
 public:
  TestRouter();
  ~TestRouter();  // stops every manager (stop() runs, queues drain)
  TestRouter(const TestRouter&) = delete;
  TestRouter& operator=(const TestRouter&) = delete;

  // Adds a manager from its plugin descriptor (what EDRI_PLUGIN's
  // edri_plugin_entry() returns). The config is checked against the
  // plugin's schema as edrid would: defaults filled in; unknown or missing
  // required keys throw std::invalid_argument. The constructor's own errors
  // (edri::ConfigError) throw std::runtime_error naming the key.
  TestRouter& add(const std::string& name, const edri_plugin_descriptor* plugin, const json& config = json::object());
  // The same for a manager class compiled into the test.
  template <class M>
  TestRouter& add(const std::string& name, const json& config = json::object()) {
    return add(name, ::edri::descriptor_of<M>("test-build", "0"), config);
  }
  // Notifications of types matching `pattern` (edrid patterns: `*`, `>`)
  // are delivered to `test` and kept. Before start().
  TestRouter& watch(const std::string& pattern);
  // Starts the managers in the order added (start, then after_start).
  TestRouter& start();

  // The test's hands: the `test` manager's context. Its request callbacks
  // run on the router's thread for `test`; futures and call() wait here.
  Context& ctx();
  // What `test` received so far, in order; only types matching `pattern`.
  std::vector<Received> received(std::string_view pattern = ">") const;
  // Waits until `test` has received n notifications matching `pattern`;
  // false if the time ran out first.
  bool wait_for(std::size_t n, std::string_view pattern = ">",
                std::chrono::milliseconds within = std::chrono::seconds(5)) const;
  // The router's /stats document (managers' counters, errors, queues).
  json stats() const;
  // One manager's part of stats(); null when there is no such manager.
  json manager_stats(std::string_view name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edri::testing
