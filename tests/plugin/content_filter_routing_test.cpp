// Content filters in one router: a manager gets only the events of its types
// whose payload passes its filter (YAML filters or Context::filter), a group
// gives each event to a member whose filter passes, a request nobody's filter
// takes is answered not_found, and what a filter kept away is counted.
#include "support/probe_managers.hpp"
#include "support/router_fixture.hpp"
#include "support/wait_until.hpp"

#include <edri/edri.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <set>
#include <thread>

using edri::json;
using probe::Registry;
using probe::wait_until;
using namespace std::chrono_literals;

namespace {

// Records job.run notifications and answers job.ask. Its config's `filter`
// becomes its filter for job.* through the SDK; a sieve.refilter
// notification sets a new one (or clears it: {"clear": true}).
class Sieve : public edri::Manager {
 public:
  Sieve(edri::Context& ctx, const edri::Config& cfg) : Manager(ctx) {
    const json c = cfg.raw();
    if (c.contains("filter")) ctx.filter("job.*", c["filter"]);
    ctx.on_notification("job.run", [this](const edri::GenericEvent& ev) {
      Registry::get().record({this->ctx().name(), std::string(ev.type()), ev.data(), ev.info().trace_id(), 0});
    });
    ctx.on_request("job.ask", [this](const edri::GenericEvent& ev, edri::Reply<json>& r) {
      Registry::get().record({this->ctx().name(), std::string(ev.type()), ev.data(), ev.info().trace_id(), 0});
      r.set({{"by", this->ctx().name()}});
    });
    ctx.on_notification("sieve.refilter", [this](const edri::GenericEvent& ev) {
      if (ev.data().value("clear", false)) {
        this->ctx().clear_filter("job.*");
      } else {
        this->ctx().filter("job.*", ev.data()["filter"]);
      }
      Registry::get().record({this->ctx().name(), "sieve.refilter", ev.data(), ev.info().trace_id(), 0});
    });
  }
};

const edri_plugin_descriptor* sieve() { return edri::descriptor_of<Sieve>("sieve", "1"); }

edrid::WorkSettings filtered(const char* pattern, const char* filter, std::string group = "") {
  edrid::WorkSettings w;
  w.group = std::move(group);
  w.filters.push_back({*edrid::Pattern::parse(pattern), edrid::ContentFilter::compile(json::parse(filter))});
  return w;
}

std::vector<probe::Seen> seen_by(const std::string& manager, const std::string& type = "job.run") {
  std::vector<probe::Seen> out;
  for (auto& s : Registry::get().seen()) {
    if (s.manager == manager && s.type == type) out.push_back(s);
  }
  return out;
}

std::set<int> numbers(const std::vector<probe::Seen>& seen) {
  std::set<int> out;
  for (const auto& s : seen) out.insert(s.data["n"].get<int>());
  return out;
}

using Rig = probe::StartedRouter;

}  // namespace

TEST_CASE("a manager's filter lets through only the events whose payload passes, the others still reach everyone else") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("big", sieve(), "sieve", {}, "{}", {}, filtered("job.run", R"({"n": {"gte": 50}, "lane": ["a", "b"]})"));
    r.add_manager("all", sieve(), "sieve", {}, "{}");
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  std::uint32_t delivered = 0;
  for (int n = 0; n < 100; ++n) {
    const char* lane = n % 3 == 0 ? "a" : n % 3 == 1 ? "b" : "c";
    delivered += ctx.notify("job.run", {{"n", n}, {"lane", lane}});
  }
  std::set<int> want;
  for (int n = 50; n < 100; ++n) {
    if (n % 3 != 2) want.insert(n);
  }
  // The sender is told how many managers took each event.
  CHECK(delivered == 100 + want.size());
  REQUIRE(wait_until([&] { return seen_by("all").size() == 100 && seen_by("big").size() == want.size(); }));
  std::this_thread::sleep_for(50ms);
  CHECK(numbers(seen_by("big")) == want);
  CHECK(seen_by("big").size() == want.size());
  const json st = rig.manager_stats("big");
  CHECK(st["filtered"] == 100 - want.size());
  CHECK(st["received"] == want.size());
  REQUIRE(st["filters"].size() == 1);
  CHECK(st["filters"][0]["pattern"] == "job.run");
  CHECK(st["filters"][0]["filter"]["n"]["gte"] == 50);
  CHECK(rig.manager_stats("all")["filtered"] == 0);
  const std::string metrics = rig.router->metrics_text();
  CHECK_THAT(metrics, Catch::Contains("edri_manager_filtered_total{manager=\"big\"} " + std::to_string(100 - want.size())));
}

TEST_CASE("a group gives each event to a member whose filter passes it, none twice, none lost") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("fr", sieve(), "sieve", {}, "{}", {}, filtered("job.*", R"({"country": "FR"})", "g"));
    r.add_manager("de", sieve(), "sieve", {}, "{}", {}, filtered("job.*", R"({"country": "DE"})", "g"));
    r.add_manager("any", sieve(), "sieve", {}, "{}", {}, filtered("job.*", R"({"country": {"present": true}})", "g"));
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  constexpr int kEvents = 300;
  int taken = 0;
  for (int n = 0; n < kEvents; ++n) {
    json ev = {{"n", n}};
    if (n % 4 == 0) ev["country"] = "FR";
    if (n % 4 == 1) ev["country"] = "DE";
    if (n % 4 == 2) ev["country"] = "IT";
    taken += static_cast<int>(ctx.notify("job.run", ev));  // n % 4 == 3: no country, no member takes it
  }
  CHECK(taken == kEvents * 3 / 4);
  REQUIRE(wait_until([&] {
    return seen_by("fr").size() + seen_by("de").size() + seen_by("any").size() == static_cast<std::size_t>(taken);
  }));
  std::this_thread::sleep_for(50ms);
  std::set<int> all;
  for (const char* m : {"fr", "de", "any"}) {
    for (const auto& s : seen_by(m)) {
      CHECK(all.insert(s.data["n"].get<int>()).second);
      const std::string country = s.data.value("country", "");
      if (std::string(m) == "fr") CHECK(country == "FR");
      if (std::string(m) == "de") CHECK(country == "DE");
      CHECK(!country.empty());
    }
  }
  CHECK(all.size() == static_cast<std::size_t>(taken));
  // IT only passes "any"'s filter: it got all of them, and a share of the rest.
  int italian = 0;
  for (const auto& s : seen_by("any")) italian += s.data.value("country", "") == "IT";
  CHECK(italian == kEvents / 4);
}

TEST_CASE("a request no responder's filter takes is answered not_found saying so, and one that passes is served") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("svc", sieve(), "sieve", {}, "{}", {}, filtered("job.ask", R"({"$or": [{"tier": "gold"}, {"amount": {"gt": 1000}}]})"));
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  auto no = ctx.request("job.ask", {{"n", 1}, {"tier", "silver"}, {"amount", 10}}, {.timeout = 5s}).get();
  CHECK(no.status() == edri::Status::not_found);
  CHECK_THAT(no.message(), Catch::Contains("content filter"));
  auto yes = ctx.request("job.ask", {{"n", 2}, {"tier", "silver"}, {"amount", 5000}}, {.timeout = 5s}).get();
  REQUIRE(yes.ok());
  CHECK((*yes.data())["by"] == "svc");
  CHECK(numbers(seen_by("svc", "job.ask")) == std::set<int>{2});
}

TEST_CASE("Context::filter sets a manager's filter from its plugin, and changing it at run time takes effect at once") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("s", sieve(), "sieve", {}, json{{"filter", {{"n", {{"lt", 10}}}}}}.dump());
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  for (int n = 0; n < 20; ++n) ctx.notify("job.run", {{"n", n}});
  REQUIRE(wait_until([&] { return seen_by("s").size() == 10; }));
  // The handler sets the new filter; events sent after it has run see it.
  ctx.notify("sieve.refilter", {{"filter", {{"n", {{"gte", 100}}}}}});
  REQUIRE(wait_until([&] { return seen_by("s", "sieve.refilter").size() == 1; }));
  for (int n = 20; n < 120; n += 10) ctx.notify("job.run", {{"n", n}});
  ctx.notify("sieve.refilter", {{"clear", true}});
  REQUIRE(wait_until([&] { return seen_by("s", "sieve.refilter").size() == 2; }));
  ctx.notify("job.run", {{"n", 7000}});
  REQUIRE(wait_until([&] { return seen_by("s").size() == 13; }));
  std::this_thread::sleep_for(50ms);
  CHECK(numbers(seen_by("s")) == std::set<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 110, 7000});
}

TEST_CASE("Context::filter refuses a filter that does not compile, naming where") {
  probe::RouterFixture fx;
  CHECK_THROWS_WITH(fx.router->add_manager("s", sieve(), "sieve", {}, json{{"filter", {{"n", {{"between", 1}}}}}}.dump()),
                    Catch::Contains("unknown filter operator 'between'") && Catch::Contains("n.between"));
}
