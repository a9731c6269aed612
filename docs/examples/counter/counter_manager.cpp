// The complete manager from docs/plugin-guide.md.
#include "counter_events.hpp"
#include "counter_table.hpp"

#include <edri/edri.hpp>

namespace counter {

class CounterManager : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    return edri::ConfigSchema{}.field("max_keys", edri::FieldType::integer, 1000,
                                      "how many distinct counters to keep");
  }

  CounterManager(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx), table_(max_keys(config)) {
    ctx.on_notification<Hit>([this](const Hit& hit) {
      const auto value = table_.add(hit.key, hit.by);
      log().debug("counter ", hit.key, " is now ", value);
    });
    ctx.on_request<Get>([this](const Get& get, edri::Reply<Count>& reply) {
      if (get.key.empty()) {
        reply.error("key must not be empty");
        return;
      }
      reply.set(Count{get.key, table_.get(get.key).value_or(0)});
    });
  }

  void stop() override { log().info("stopping with ", table_.size(), " counters"); }

 private:
  static std::size_t max_keys(const edri::Config& config) {
    const auto n = config.get<std::int64_t>("max_keys");
    if (n < 1) throw edri::ConfigError("max_keys", "max_keys must be at least 1");
    return static_cast<std::size_t>(n);
  }

  CounterTable table_;
};

}  // namespace counter

EDRI_PLUGIN(counter::CounterManager, "counter", "1.0.0")
