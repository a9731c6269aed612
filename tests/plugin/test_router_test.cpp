// edri::testing::TestRouter, as a plugin author uses it: a manager class
// compiled into the test, driven by the test's own manager.
#include <edri/edri.hpp>
#include <edri/testing.hpp>

#include <catch2/catch.hpp>

using edri::json;

namespace {

// Greets on request, and tells everyone it did.
class Greeter : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    return edri::ConfigSchema{}
        .required("greeting", edri::FieldType::string, "what to say")
        .field("loud", edri::FieldType::boolean, false, "shout");
  }
  Greeter(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx), greeting_(config.get<std::string>("greeting")), loud_(config.get<bool>("loud")) {
    ctx.on_request("greet.say", [this](const edri::GenericEvent& ev, edri::Reply<json>& reply) {
      const std::string text = greeting_ + ", " + ev.data().value("name", "you") + (loud_ ? "!" : "");
      this->ctx().notify("greet.said", {{"text", text}});
      reply.set({{"text", text}});
    });
  }

 private:
  std::string greeting_;
  bool loud_;
};

// Serves and hears a few types until told to stop hearing them.
class Quitter : public edri::Manager {
 public:
  Quitter(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_notification("news.*", [](const edri::GenericEvent&) {});
    ctx.on_notification("gossip.>", [](const edri::GenericEvent&) {});
    ctx.on_request("quit.notifications", [this](const edri::GenericEvent&, edri::Reply<json>& r) {
      this->ctx().unsubscribe_all(EDRI_KIND_NOTIFICATION);
      r.set(json{{"quit", "notifications"}});
    });
    ctx.on_request("quit.all", [this](const edri::GenericEvent&, edri::Reply<json>& r) {
      this->ctx().unsubscribe_all();
      r.set(json{{"quit", "all"}});
    });
  }
};

}  // namespace

TEST_CASE("unsubscribe_all drops every subscription of a kind, or all of them") {
  edri::testing::TestRouter router;
  router.add<Quitter>("quitter", json::object()).start();
  CHECK(router.ctx().notify("news.today", json::object()) == 1);
  CHECK(router.ctx().notify("gossip.a.b", json::object()) == 1);
  REQUIRE(router.ctx().call("quit.notifications", json::object()).ok());
  CHECK(router.ctx().notify("news.today", json::object()) == 0);
  CHECK(router.ctx().notify("gossip.a.b", json::object()) == 0);
  // Its requests are still served, until it drops those too.
  REQUIRE(router.ctx().call("quit.all", json::object()).ok());
  auto gone = router.ctx().call("quit.all", json::object());
  CHECK(gone.status() == edri::Status::not_found);
}

TEST_CASE("a test router runs a manager class, fills its defaults, and shows the test what it sent") {
  edri::testing::TestRouter router;
  router.add<Greeter>("greeter", {{"greeting", "hello"}}).watch("greet.*").start();
  auto answer = router.ctx().call("greet.say", {{"name", "ada"}});
  REQUIRE(answer.ok());
  CHECK((*answer.data())["text"] == "hello, ada");  // loud: false, the default
  REQUIRE(router.wait_for(1, "greet.said"));
  const auto said = router.received("greet.said");
  REQUIRE(said.size() == 1);
  CHECK(said[0].sender == "greeter");
  CHECK(said[0].data == json{{"text", "hello, ada"}});
  CHECK(router.received("other.>").empty());
  CHECK_FALSE(router.wait_for(2, ">", std::chrono::milliseconds(50)));
  CHECK(router.manager_stats("greeter")["handled"] == 1);
  CHECK(router.manager_stats("nobody").is_null());
}

TEST_CASE("a test router refuses a config without a required key, and misuse, clearly") {
  edri::testing::TestRouter router;
  CHECK_THROWS_WITH(router.add<Greeter>("greeter"), "manager 'greeter': config key 'greeting' is required");
  CHECK_THROWS_WITH(router.add<Greeter>("test", {{"greeting", "hi"}}),
                    "the name 'test' is the test's own manager");
  CHECK_THROWS_AS(router.ctx(), std::logic_error);  // not started
  router.add<Greeter>("greeter", {{"greeting", "hi"}, {"loud", true}}).start();
  CHECK((*router.ctx().call("greet.say", json::object()).data())["text"] == "hi, you!");
  CHECK_THROWS_AS(router.watch("x.>"), std::logic_error);
}

TEST_CASE("a manager reads the router's metrics as Prometheus text through the host (ABI 1.4)") {
  edri::testing::TestRouter router;
  router.add<Greeter>("greeter", {{"greeting", "hello"}}).start();
  REQUIRE(router.ctx().call("greet.say", json::object()).ok());
  const std::string text = router.ctx().router_metrics();
  CHECK_THAT(text, Catch::Contains("# TYPE edri_manager_handled_total counter\n"));
  CHECK_THAT(text, Catch::Contains("edri_manager_handled_total{manager=\"greeter\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("edri_events_by_type_total{type=\"greet.say\",kind=\"request\"} 1\n"));
  // The same counters as the JSON document.
  CHECK(router.ctx().router_stats()["events"]["requests"] == 1);
}
