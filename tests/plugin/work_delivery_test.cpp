// Work shared by a group of managers and delivered at least once: one member
// per event, chosen by load; a failed handler gets its event again after the
// backoff, with the attempt number; used-up events become dead letters.
#include "event/content_filter.hpp"
#include "support/probe_managers.hpp"
#include "support/router_fixture.hpp"
#include "support/wait_until.hpp"

#include <edri/edri.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>
#include <thread>

using edri::json;
using probe::Registry;
using probe::wait_until;
using namespace std::chrono_literals;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A worker for job.run (notifications) and job.ask (requests). It records
// each delivery it gets — member, n, attempt, time — and fails while the
// attempt is at most the event's fail_until (or its own config's).
class Member : public edri::Manager {
 public:
  Member(edri::Context& ctx, const edri::Config& cfg) : Manager(ctx), cfg_(cfg.raw()) {
    ctx.on_notification("job.run", [this](const edri::GenericEvent& ev) { work(ev); });
    ctx.on_request("job.ask", [this](const edri::GenericEvent& ev, edri::Reply<json>& r) {
      work(ev);
      r.set({{"by", this->ctx().name()}, {"attempt", this->ctx().attempt()}});
    });
  }

 private:
  void work(const edri::GenericEvent& ev) {
    const json& d = ev.data();
    const std::uint32_t attempt = ctx().attempt();
    Registry::get().record({ctx().name(), std::string(ev.type()),
                            json{{"n", d.value("n", -1)}, {"attempt", attempt}, {"at_ms", now_ms()}},
                            ev.info().trace_id(), 0});
    if (auto ms = cfg_.value("sleep_ms", 0)) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (static_cast<int>(attempt) <= d.value("later_until", 0)) {
      later_ok_ = ctx().retry_later(std::chrono::milliseconds(d.value("later_ms", 0)));
      return;
    }
    const auto fail_until = std::max(d.value("fail_until", 0), cfg_.value("fail_until", 0));
    if (static_cast<int>(attempt) <= fail_until) {
      throw std::runtime_error("refused delivery " + std::to_string(attempt));
    }
  }
  json cfg_;

 public:
  bool later_ok_ = false;
};

const edri_plugin_descriptor* member() { return edri::descriptor_of<Member>("member", "1"); }

edrid::WorkSettings grouped(std::string group, edrid::DeliveryMode mode = edrid::DeliveryMode::at_most_once) {
  edrid::WorkSettings w;
  w.group = std::move(group);
  w.delivery = mode;
  return w;
}

edrid::WorkSettings at_least_once(std::string group = "", std::uint32_t max = 5, std::int64_t initial_ms = 10) {
  edrid::WorkSettings w;
  w.group = std::move(group);
  w.delivery = edrid::DeliveryMode::at_least_once;
  w.max_deliveries = max;
  w.retry.initial = std::chrono::milliseconds(initial_ms);
  return w;
}

std::vector<probe::Seen> seen_of_type(const std::string& type) {
  std::vector<probe::Seen> out;
  for (auto& s : Registry::get().seen()) {
    if (s.type == type) out.push_back(s);
  }
  return out;
}

using Rig = probe::StartedRouter;

}  // namespace

TEST_CASE("a group gives each notification to exactly one member, while a manager outside it gets every one") {
  Rig rig([](edrid::Router& r) {
    for (const char* name : {"m1", "m2", "m3"}) {
      r.add_manager(name, member(), "member", {}, json{{"sleep_ms", 1}}.dump(), {}, grouped("workers"));
    }
    r.add_manager("audit", probe::probe_descriptor(), "probe", {}, json{{"notifications", {"job.run"}}}.dump());
  });
  auto& ctx = Registry::get().context("audit");
  constexpr int kEvents = 300;
  for (int n = 0; n < kEvents; ++n) CHECK(ctx.notify("job.run", {{"n", n}}) == 2);  // one member + audit
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 2 * kEvents; }));
  std::map<std::string, int> per_member;
  std::set<int> handled;
  int audited = 0;
  for (const auto& s : seen_of_type("job.run")) {
    if (s.manager == "audit") {
      ++audited;
      continue;
    }
    ++per_member[s.manager];
    CHECK(handled.insert(s.data["n"].get<int>()).second);  // never twice
  }
  CHECK(audited == kEvents);
  CHECK(handled.size() == kEvents);
  REQUIRE(per_member.size() == 3);
  // Three equal members share it: none idles while another has a backlog.
  for (const auto& [name, n] : per_member) {
    INFO(name << " handled " << n);
    CHECK(n >= kEvents / 6);
  }
  json st;
  rig.router->stats_json(st);
  for (const auto& m : st["managers"]) {
    if (m["name"] == "m1") CHECK(m["group"] == "workers");
  }
}

TEST_CASE("a group gives more work to the member that finishes sooner") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("slow", member(), "member", {}, json{{"sleep_ms", 20}}.dump(), {}, grouped("g"));
    r.add_manager("fast", member(), "member", {}, json{{"sleep_ms", 1}}.dump(), {}, grouped("g"));
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  for (int n = 0; n < 200; ++n) {
    ctx.notify("job.run", {{"n", n}});
    std::this_thread::sleep_for(500us);
  }
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 200; }));
  int slow = 0;
  for (const auto& s : seen_of_type("job.run")) slow += s.manager == "slow";
  INFO("the slow member handled " << slow << " of 200");
  CHECK(slow < 60);
}

TEST_CASE("a request to a group is answered by one member") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("a", member(), "member", {}, "{}", {}, grouped("g"));
    r.add_manager("b", member(), "member", {}, "{}", {}, grouped("g"));
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  std::set<std::string> by;
  for (int n = 0; n < 20; ++n) {
    auto answer = ctx.call("job.ask", {{"n", n}});
    REQUIRE(answer.ok());
    by.insert((*answer.data())["by"].get<std::string>());
  }
  CHECK(seen_of_type("job.ask").size() == 20);  // never both
  CHECK(by.size() == 2);                         // and not always the same one
}

TEST_CASE("at least once: a failed notification goes again with its attempt number until a delivery succeeds") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("worker", member(), "member", {}, "{}", {}, at_least_once());
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  ctx.notify("job.run", {{"n", 7}, {"fail_until", 2}});
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 3; }));
  std::this_thread::sleep_for(100ms);  // and no fourth
  const auto seen = seen_of_type("job.run");
  REQUIRE(seen.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(seen[i].data["attempt"] == i + 1);
    CHECK(seen[i].data["n"] == 7);
  }
  json st;
  rig.router->stats_json(st);
  CHECK(st["events"]["redeliveries"] == 2);
  CHECK(st["dead_letters"]["max_deliveries"] == 0);
}

TEST_CASE("at least once with the default retry: deliveries wait 100 ms, then 200 ms") {
  edrid::WorkSettings defaults;
  defaults.delivery = edrid::DeliveryMode::at_least_once;  // retry and max_deliveries as shipped
  Rig rig([&](edrid::Router& r) {
    r.add_manager("worker", member(), "member", {}, "{}", {}, defaults);
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  Registry::get().context("driver").notify("job.run", {{"n", 1}, {"fail_until", 2}});
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 3; }));
  const auto seen = seen_of_type("job.run");
  const auto at = [&](int i) { return seen[i].data["at_ms"].get<std::int64_t>(); };
  CHECK(at(1) - at(0) >= 100);
  CHECK(at(2) - at(1) >= 200);
}

TEST_CASE("at least once: a used-up notification becomes a dead letter with its reason, payload and attempts") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("worker", member(), "member", {}, json{{"fail_until", 99}}.dump(), {},
                  at_least_once("crunch", 3, 5));
    r.add_manager("morgue", probe::probe_descriptor(), "probe", {},
                  json{{"notifications", {"edri.dead_letter"}}}.dump());
  });
  Registry::get().context("morgue").notify("job.run", {{"n", 42}});
  REQUIRE(wait_until([] { return seen_of_type("edri.dead_letter").size() == 1; }));
  CHECK(seen_of_type("job.run").size() == 3);
  const json letter = seen_of_type("edri.dead_letter")[0].data;
  CHECK(letter["type"] == "job.run");
  CHECK(letter["kind"] == "notification");
  CHECK(letter["reason"] == "max_deliveries");
  CHECK(letter["attempts"] == 3);
  CHECK(letter["manager"] == "worker");
  CHECK(letter["group"] == "crunch");
  CHECK(letter["sender"] == "morgue");
  CHECK(letter["payload"] == json{{"n", 42}});
  CHECK_THAT(letter["error"].get<std::string>(), Catch::Contains("refused delivery 3"));
  json st;
  rig.router->stats_json(st);
  CHECK(st["dead_letters"]["max_deliveries"] == 1);
  // Re-injecting it is publishing its type with its payload.
  Registry::get().context("morgue").notify(letter["type"].get<std::string>(), letter["payload"]);
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 6; }));
}

TEST_CASE("at least once: a request one member fails is answered by another member of its group") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("broken", member(), "member", {}, json{{"fail_until", 99}}.dump(), {}, at_least_once("g"));
    r.add_manager("sound", member(), "member", {}, "{}", {}, at_least_once("g"));
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  for (int n = 0; n < 10; ++n) {
    auto answer = ctx.call("job.ask", {{"n", n}});
    INFO(answer.message());
    REQUIRE(answer.ok());
    CHECK((*answer.data())["by"] == "sound");
  }
}

TEST_CASE("at least once: a request whose deliveries are used up is answered with the last error, once") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("worker", member(), "member", {}, json{{"fail_until", 99}}.dump(), {}, at_least_once("", 2, 5));
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto answer = Registry::get().context("driver").call("job.ask", {{"n", 1}});
  CHECK(answer.status() == edri::Status::error);
  CHECK_THAT(answer.message(), Catch::Contains("refused delivery 2"));
  CHECK(seen_of_type("job.ask").size() == 2);
  json st;
  rig.router->stats_json(st);
  CHECK(st["dead_letters"]["max_deliveries"] == 1);
}

TEST_CASE("at most once, the default: a failed handler's event is not delivered again") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("worker", member(), "member", {}, json{{"fail_until", 1}}.dump());
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  Registry::get().context("driver").notify("job.run", {{"n", 1}});
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 1; }));
  std::this_thread::sleep_for(150ms);
  CHECK(seen_of_type("job.run").size() == 1);
}

TEST_CASE("retry later: a handler that says not now gets its request again after the delay it asked") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("worker", member(), "member", {}, "{}", {}, at_least_once("", 5, 1));
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto answer = Registry::get().context("driver").call("job.ask", {{"n", 1}, {"later_until", 2}, {"later_ms", 80}});
  REQUIRE(answer.ok());
  CHECK((*answer.data())["attempt"] == 3);
  const auto seen = seen_of_type("job.ask");
  REQUIRE(seen.size() == 3);
  // The delay asked, not the 1 ms backoff.
  CHECK(seen[1].data["at_ms"].get<std::int64_t>() - seen[0].data["at_ms"].get<std::int64_t>() >= 80);
  CHECK(seen[2].data["at_ms"].get<std::int64_t>() - seen[1].data["at_ms"].get<std::int64_t>() >= 80);
  json st;
  rig.router->stats_json(st);
  CHECK(st["events"]["redeliveries"] == 2);
  CHECK(st["managers"][0]["errors"] == 0);  // not now is no failure
}

TEST_CASE("retry later under at most once is refused with an error that says why, logged once") {
  Rig rig([](edrid::Router& r) {
    r.add_manager("worker", member(), "member", {}, "{}");
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& driver = Registry::get().context("driver");
  for (int i = 0; i < 3; ++i) {
    auto answer = driver.call("job.ask", {{"n", i}, {"later_until", 1}, {"later_ms", 10}});
    CHECK(answer.status() == edri::Status::error);
    CHECK_THAT(answer.message(), Catch::Contains("retry_later needs delivery: at_least_once"));
  }
  driver.notify("job.run", {{"n", 9}, {"later_until", 1}});
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 1; }));
  std::this_thread::sleep_for(50ms);
  CHECK(seen_of_type("job.run").size() == 1);  // dropped, not delivered again
  json st;
  rig.router->stats_json(st);
  const json& m = st["managers"][0];
  CHECK(m["errors"] == 4);
  CHECK(m["last_errors"].size() == 1);  // said once
}

TEST_CASE("a group member retired with a backlog hands its unstarted events to another member, each handled once") {
  probe::RouterFixture f;
  auto o = f.options;
  o.stop_grace = 100ms;  // the retiring member gets through a few only
  f.reopen(o);
  f.router->add_manager("m1", member(), "member", {}, json{{"sleep_ms", 20}}.dump(), {}, grouped("g"));
  f.router->add_manager("m2", member(), "member", {}, json{{"sleep_ms", 20}}.dump(), {}, grouped("g"));
  f.router->add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  f.router->start();
  auto& ctx = Registry::get().context("driver");
  constexpr int kEvents = 60;
  for (int n = 0; n < kEvents; ++n) ctx.notify("job.run", {{"n", n}});
  f.router->retire_manager("m1");
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() >= kEvents; }, 20s));
  std::this_thread::sleep_for(100ms);  // nothing more comes
  std::set<int> handled;
  int by_m1 = 0;
  for (const auto& s : seen_of_type("job.run")) {
    CHECK(handled.insert(s.data["n"].get<int>()).second);
    by_m1 += s.manager == "m1";
  }
  CHECK(handled.size() == kEvents);
  INFO("m1 handled " << by_m1);
  CHECK(by_m1 < kEvents / 2);  // it had half the backlog and 100 ms for it
}

TEST_CASE("a receiver's queue.priorities put its urgent types first, whatever the sender asked") {
  Rig rig([](edrid::Router& r) {
    edrid::QueueSettings q;
    q.order = edrid::QueueOrder::priority;
    q.priorities.push_back({*edrid::Pattern::parse("job.urgent"), -10});
    q.priorities.push_back({*edrid::Pattern::parse("job.>"), 5});
    r.add_manager("worker", probe::probe_descriptor(), "probe", q,
                  json{{"notifications", {"job.>"}}, {"gate", true}}.dump());
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  Registry::get().close_gate();
  ctx.notify("job.first", {{"n", 0}});  // taken at once: the handler waits on the gate
  auto& worker = *rig.router->find("worker");
  REQUIRE(wait_until([&] { return worker.queue().depth() == 0; }));
  // The sender asks for the opposite order; the receiver's choice wins.
  ctx.notify("job.run", {{"n", 1}}, {.priority = -100});
  ctx.notify("job.run", {{"n", 2}}, {.priority = -100});
  ctx.notify("job.urgent", {{"n", 3}}, {.priority = 100});
  Registry::get().open_gate();
  REQUIRE(wait_until([] { return Registry::get().seen("worker").size() == 4; }));
  std::vector<std::string> order;
  for (const auto& s : Registry::get().seen("worker")) order.push_back(s.type);
  CHECK(order == std::vector<std::string>{"job.first", "job.urgent", "job.run", "job.run"});
}

namespace {
// An event as it arrives from another router: its id is the sender's, so
// the same event can arrive twice (resent, placed again).
edrid::EventPtr arriving(const std::string& type, edri_kind kind, const edri_id128& id, const json& data) {
  const auto bytes = json::to_msgpack(data);
  const edrid::WireText text{type, "elsewhere", "sender", ""};
  edrid::EventPtr ev(edrid::event_from_bytes(type, bytes.data(), bytes.size(), &text));
  auto& h = ev->header;
  h.id = id;
  h.trace_id = id;
  h.kind = kind;
  h.timestamp_ns = 1;
  h.deadline_ns = kind == EDRI_KIND_REQUEST ? std::numeric_limits<std::int64_t>::max() : 0;
  return ev;
}
}  // namespace

TEST_CASE("dedupe_ms: an event a group finished is skipped when it comes again, one that failed is not") {
  auto work = at_least_once("g");
  work.dedupe = std::chrono::milliseconds(60'000);
  Rig rig([&](edrid::Router& r) {
    r.add_manager("m1", member(), "member", {}, "{}", {}, work);
    r.add_manager("m2", member(), "member", {}, "{}", {}, work);
  });
  auto& router = *rig.router;
  const edri_id128 done_id{7, 1}, failed_id{7, 2};
  router.deliver_remote(arriving("job.run", EDRI_KIND_NOTIFICATION, done_id, {{"n", 1}}));
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 1; }));
  // The same event again, to either member: the group finished it.
  router.deliver_remote(arriving("job.run", EDRI_KIND_NOTIFICATION, done_id, {{"n", 1}}));
  router.deliver_remote(arriving("job.run", EDRI_KIND_NOTIFICATION, done_id, {{"n", 1}}));
  // One whose first delivery failed goes again (attempt 2), and is then done.
  router.deliver_remote(arriving("job.run", EDRI_KIND_NOTIFICATION, failed_id, {{"n", 2}, {"fail_until", 1}}));
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 3; }));
  std::this_thread::sleep_for(100ms);
  CHECK(seen_of_type("job.run").size() == 3);  // n=1 once; n=2 twice (failed, then done)
  json st;
  router.stats_json(st);
  std::uint64_t skipped = 0;
  for (const auto& m : st["managers"]) skipped += m["deduplicated"].get<std::uint64_t>();
  CHECK(skipped == 2);
}

TEST_CASE("dedupe_ms with a sender's dedupe key: sends of one key are one piece of work, other keys and no key are not") {
  auto work = grouped("g");
  work.dedupe = std::chrono::milliseconds(60'000);
  Rig rig([&](edrid::Router& r) {
    r.add_manager("m1", member(), "member", {}, "{}", {}, work);
    r.add_manager("m2", member(), "member", {}, "{}", {}, work);
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  // Each send waits for the one before to finish: the window remembers
  // finished work (two sends at once would both run).
  auto send = [&](int n, const std::string& key) {
    const auto before = seen_of_type("job.run").size();
    ctx.notify("job.run", {{"n", n}}, {.dedupe_key = key});
    wait_until([&] { return seen_of_type("job.run").size() > before; }, 300ms);
  };
  send(1, "order-1");
  send(2, "order-1");  // a publisher sending the same order again
  send(3, "order-1");
  send(4, "order-2");
  send(5, "");
  send(6, "");
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 4; }));
  std::this_thread::sleep_for(100ms);
  std::set<int> handled;
  for (const auto& s : seen_of_type("job.run")) handled.insert(s.data["n"].get<int>());
  CHECK(handled == std::set<int>{1, 4, 5, 6});
  json st;
  rig.router->stats_json(st);
  std::uint64_t skipped = 0;
  for (const auto& m : st["managers"]) skipped += m.value("deduplicated", std::uint64_t{0});
  CHECK(skipped == 2);
  // A request with a key that was done: ok, with the note, and no work.
  auto first = ctx.request("job.ask", {{"n", 7}}, {.timeout = 5s, .dedupe_key = "ask-7"}).get();
  CHECK(first.ok());
  auto again = ctx.request("job.ask", {{"n", 8}}, {.timeout = 5s, .dedupe_key = "ask-7"}).get();
  CHECK(again.ok());
  CHECK_THAT(again.message(), Catch::Contains("handled already"));
  CHECK(seen_of_type("job.ask").size() == 1);
}

TEST_CASE("dedupe_ms: a request that comes again after it was answered gets ok with a note, not the work again") {
  auto work = grouped("g");
  work.dedupe = std::chrono::milliseconds(60'000);
  Rig rig([&](edrid::Router& r) { r.add_manager("m1", member(), "member", {}, "{}", {}, work); });
  const edri_id128 id{9, 9};
  std::vector<std::pair<std::uint32_t, std::string>> answers;
  std::mutex m;
  auto fn = [](void* user, const edri_event* resp, int) {
    auto* p = static_cast<std::pair<std::vector<std::pair<std::uint32_t, std::string>>*, std::mutex*>*>(user);
    std::lock_guard lock(*p->second);
    p->first->emplace_back(resp->header.status, resp->header.message ? resp->header.message : "");
  };
  std::pair<std::vector<std::pair<std::uint32_t, std::string>>*, std::mutex*> user{&answers, &m};
  rig.router->serve_remote(arriving("job.ask", EDRI_KIND_REQUEST, id, {{"n", 1}}), fn, &user);
  REQUIRE(wait_until([&] {
    std::lock_guard lock(m);
    return answers.size() == 1;
  }));
  rig.router->serve_remote(arriving("job.ask", EDRI_KIND_REQUEST, id, {{"n", 1}}), fn, &user);
  REQUIRE(wait_until([&] {
    std::lock_guard lock(m);
    return answers.size() == 2;
  }));
  CHECK(seen_of_type("job.ask").size() == 1);
  CHECK(answers[0].first == EDRI_STATUS_OK);
  CHECK(answers[1].first == EDRI_STATUS_OK);
  CHECK_THAT(answers[1].second, Catch::Contains("handled already"));
}

TEST_CASE("delivery per type: an at-least-once type goes again, an at-most-once one of the same manager does not") {
  edrid::WorkSettings work;
  work.delivery_by_type.emplace_back(*edrid::Pattern::parse("job.run"), edrid::DeliveryMode::at_least_once);
  work.retry.initial = std::chrono::milliseconds(10);
  Rig rig([&](edrid::Router& r) {
    r.add_manager("m", member(), "member", {}, "{}", {}, work);
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  ctx.notify("job.run", {{"n", 1}, {"fail_until", 1}});
  auto answer = ctx.request("job.ask", {{"n", 2}, {"fail_until", 1}}, {.timeout = 5s}).get();
  CHECK(answer.status() == edri::Status::error);  // at most once: the error is the answer
  REQUIRE(wait_until([] { return seen_of_type("job.run").size() == 2; }));
  CHECK(seen_of_type("job.run")[1].data["attempt"] == 2);
  std::this_thread::sleep_for(100ms);
  CHECK(seen_of_type("job.ask").size() == 1);
}

TEST_CASE("at least once: a failed event goes again only to group members whose content filter takes it") {
  Rig rig([](edrid::Router& r) {
    auto only = [](const char* country) {
      edrid::WorkSettings w = at_least_once("g", 3);
      w.filters.push_back({*edrid::Pattern::parse("job.>"),
                           edrid::ContentFilter::compile(json{{"country", country}})});
      return w;
    };
    r.add_manager("fr", member(), "member", {}, json{{"fail_until", 99}}.dump(), {}, only("FR"));
    r.add_manager("de", member(), "member", {}, "{}", {}, only("DE"));
    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
  });
  auto& ctx = Registry::get().context("driver");
  ctx.notify("job.run", {{"n", 1}, {"country", "FR"}});
  REQUIRE(wait_until([] { return Registry::get().seen("fr").size() == 3; }));
  json st;
  REQUIRE(wait_until([&] {
    rig.router->stats_json(st);
    return st["dead_letters"]["max_deliveries"] == 1;
  }));
  // Its three deliveries went to the member whose filter takes FR; the
  // healthy DE member never got it.
  CHECK(Registry::get().seen("de").empty());
  ctx.notify("job.run", {{"n", 2}, {"country", "DE"}});
  REQUIRE(wait_until([] { return Registry::get().seen("de").size() == 1; }));
  CHECK(Registry::get().seen("fr").size() == 3);
}
