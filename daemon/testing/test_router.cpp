// edri::testing::TestRouter (sdk/include/edri/testing.hpp): a Router in the
// test's process with the test's own manager in it.
#include <edri/testing.hpp>

#include "plugin/manager_error.hpp"
#include "router/router.hpp"

#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace edri::testing {
namespace {

// What the test's manager keeps: the notifications it received, and its
// context once created.
struct Inbox {
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<Received> received;
  Context* ctx = nullptr;
};

// The test's hands. Its config names the inbox (an address: both live in
// this process) and the patterns it watches.
class TestManager : public Manager {
 public:
  TestManager(Context& ctx, const Config& config)
      : Manager(ctx), inbox_(*reinterpret_cast<Inbox*>(config.get<std::uintptr_t>("inbox"))) {
    for (const auto& p : config.raw().value("watch", json::array())) {
      ctx.on_notification(p.get<std::string>(), [this](const GenericEvent& ev) {
        {
          std::lock_guard lock(inbox_.mutex);
          inbox_.received.push_back({std::string(ev.type()), std::string(ev.info().sender()), ev.data()});
        }
        inbox_.changed.notify_all();
      });
    }
    std::lock_guard lock(inbox_.mutex);
    inbox_.ctx = &ctx;
  }

 private:
  Inbox& inbox_;
};

std::size_t count_matching(const std::vector<Received>& all, std::string_view pattern) {
  std::size_t n = 0;
  for (const auto& r : all) n += ::edri::matches(pattern, r.type);
  return n;
}

// The plugin's config as edrid would hand it over: defaults filled in,
// unknown and missing required keys refused.
json checked_config(const std::string& name, const edri_plugin_descriptor* plugin, const json& config) {
  if (!config.is_object()) throw std::invalid_argument("manager '" + name + "': config must be an object");
  const json schema = json::parse(plugin->config_schema_json ? plugin->config_schema_json : "{}");
  json out = config;
  for (const auto& [key, value] : config.items()) {
    bool known = false;
    for (const auto& f : schema.value("fields", json::array())) known = known || f.value("name", "") == key;
    if (!known) throw std::invalid_argument("manager '" + name + "': unknown config key '" + key + "'");
  }
  for (const auto& f : schema.value("fields", json::array())) {
    const std::string key = f.value("name", "");
    if (out.contains(key)) continue;
    if (f.value("required", false)) {
      throw std::invalid_argument("manager '" + name + "': config key '" + key + "' is required");
    }
    if (!f.value("default", json()).is_null()) out[key] = f["default"];
  }
  return out;
}

}  // namespace

struct TestRouter::Impl {
  edrid::Router router{edrid::RouterOptions{.id = "test"}};
  Inbox inbox;
  std::vector<std::string> watched;
  std::vector<std::pair<std::string, std::pair<const edri_plugin_descriptor*, json>>> managers;
  bool started = false;
};

TestRouter::TestRouter() : impl_(std::make_unique<Impl>()) {}

TestRouter::~TestRouter() {
  if (impl_->started) impl_->router.stop();
}

TestRouter& TestRouter::add(const std::string& name, const edri_plugin_descriptor* plugin, const json& config) {
  if (impl_->started) throw std::logic_error("TestRouter: add before start()");
  if (name == "test") throw std::invalid_argument("the name 'test' is the test's own manager");
  impl_->managers.push_back({name, {plugin, checked_config(name, plugin, config)}});
  return *this;
}

TestRouter& TestRouter::watch(const std::string& pattern) {
  if (impl_->started) throw std::logic_error("TestRouter: watch before start()");
  impl_->watched.push_back(pattern);
  return *this;
}

TestRouter& TestRouter::start() {
  if (impl_->started) throw std::logic_error("TestRouter: started twice");
  auto& r = impl_->router;
  try {
    const json test_config{{"inbox", reinterpret_cast<std::uintptr_t>(&impl_->inbox)}, {"watch", impl_->watched}};
    r.add_manager("test", ::edri::descriptor_of<TestManager>("test", "1"), "edri::testing", {}, test_config.dump());
    for (const auto& [name, plugin] : impl_->managers) {
      r.add_manager(name, plugin.first, name, {}, plugin.second.dump());
    }
    r.start();
  } catch (const edrid::ManagerError& e) {
    throw std::runtime_error(e.config_key().empty() ? e.what() : std::string(e.what()) + " (config key '" +
                                                                     e.config_key() + "')");
  }
  impl_->started = true;
  return *this;
}

Context& TestRouter::ctx() {
  std::lock_guard lock(impl_->inbox.mutex);
  if (!impl_->inbox.ctx) throw std::logic_error("TestRouter: ctx() after start()");
  return *impl_->inbox.ctx;
}

std::vector<Received> TestRouter::received(std::string_view pattern) const {
  std::lock_guard lock(impl_->inbox.mutex);
  std::vector<Received> out;
  for (const auto& r : impl_->inbox.received) {
    if (::edri::matches(pattern, r.type)) out.push_back(r);
  }
  return out;
}

bool TestRouter::wait_for(std::size_t n, std::string_view pattern, std::chrono::milliseconds within) const {
  std::unique_lock lock(impl_->inbox.mutex);
  return impl_->inbox.changed.wait_for(lock, within,
                                       [&] { return count_matching(impl_->inbox.received, pattern) >= n; });
}

json TestRouter::stats() const {
  json out;
  impl_->router.stats_json(out);
  return out;
}

json TestRouter::manager_stats(std::string_view name) const {
  const json all = stats();
  for (const auto& m : all["managers"]) {
    if (m["name"] == name) return m;
  }
  return nullptr;
}

}  // namespace edri::testing
