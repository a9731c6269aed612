// The router with managers compiled into the test binary: routing by
// pattern, request/response correlation, not_found, timeout, failures,
// queue policies, liveness and trace ids.
#include "router/pending_requests.hpp"
#include "support/router_fixture.hpp"
#include "support/wait_until.hpp"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using edri::json;
using probe::Registry;
using probe::RouterFixture;
using namespace std::chrono_literals;

namespace {
std::set<std::string> managers_of(const std::vector<probe::Seen>& seen) {
  std::set<std::string> out;
  for (const auto& s : seen) out.insert(s.manager);
  return out;
}
}  // namespace

TEST_CASE("notifications fan out to every matching pattern, once per manager") {
  RouterFixture f;
  f.add("driver", json::object())
      .add("exact", {{"notifications", {"file.uploaded"}}})
      .add("star", {{"notifications", {"file.*"}}})
      .add("tail", {{"notifications", {">"}}})
      .add("both", {{"notifications", {"file.uploaded", "file.>"}}})
      .add("other", {{"notifications", {"file.deleted", "mail.*"}}});
  f.router->start();

  const auto delivered = f.ctx("driver").notify("file.uploaded", {{"name", "a.txt"}});
  CHECK(delivered == 4);
  for (auto m : {"exact", "star", "tail", "both"}) REQUIRE(Registry::get().wait_for(m, 1));
  std::this_thread::sleep_for(50ms);
  const auto seen = Registry::get().seen();
  CHECK(seen.size() == 4);  // "both" got it once, not twice
  CHECK(managers_of(seen) == std::set<std::string>{"exact", "star", "tail", "both"});
  CHECK(seen.front().data == json{{"name", "a.txt"}});

  // file.> and > match a deeper name; file.uploaded and file.* do not.
  CHECK(f.ctx("driver").notify("file.uploaded.big", json::object()) == 2);
  REQUIRE(Registry::get().wait_for("tail", 2));
  REQUIRE(Registry::get().wait_for("both", 2));
}

TEST_CASE("a request reaches every responder and each response returns to the sender") {
  RouterFixture f;
  f.add("driver", json::object())
      .add("r1", {{"requests", {"calc.add"}}})
      .add("r2", {{"requests", {"calc.*"}}})
      .add("bystander", {{"notifications", {"calc.add"}}});
  f.router->start();

  std::mutex m;
  std::vector<std::pair<std::string, json>> responses;
  std::promise<void> done;
  f.ctx("driver").request("calc.add", {{"a", 1}}, [&](const edri::Response<json>& r) {
    std::lock_guard lock(m);
    REQUIRE(r.ok());
    responses.emplace_back(std::string(r.info().sender()), *r.data());
    if (responses.size() == 2) done.set_value();
  });
  REQUIRE(done.get_future().wait_for(5s) == std::future_status::ready);
  std::lock_guard lock(m);
  std::set<std::string> by;
  for (auto& [sender, data] : responses) {
    by.insert(sender);
    CHECK(data["by"] == sender);
    CHECK(data["echo"] == json{{"a", 1}});
  }
  CHECK(by == std::set<std::string>{"r1", "r2"});
  CHECK(Registry::get().seen("bystander").empty());  // a request is not a notification
}

TEST_CASE("a request nobody serves gets not_found at once") {
  RouterFixture f;
  f.add("driver", json::object()).add("r1", {{"requests", {"calc.add"}}});
  f.router->start();
  auto fut = f.ctx("driver").request("calc.mul", json::object());
  REQUIRE(fut.wait_for(1s) == std::future_status::ready);
  auto r = fut.get();
  CHECK(r.status() == edri::Status::not_found);
  CHECK_THAT(r.message(), Catch::Contains("calc.mul"));
  CHECK(f.stats()["events"]["not_found"] == 1);
}

TEST_CASE("a request past its deadline gets timeout") {
  RouterFixture f;
  f.add("driver", json::object()).add("slow", {{"requests", {"slow.op"}}, {"sleep_ms", 400}});
  f.router->start();
  auto fut = f.ctx("driver").request("slow.op", json::object(), edri::SendOptions{.timeout = 50ms});
  REQUIRE(fut.wait_for(3s) == std::future_status::ready);
  auto r = fut.get();
  CHECK(r.status() == edri::Status::timeout);
  CHECK_THAT(r.message(), Catch::Contains("50 ms"));
  CHECK(f.stats()["events"]["timeouts"] == 1);
  // The late answer is counted, not delivered.
  std::this_thread::sleep_for(500ms);
  CHECK(f.stats()["events"]["late_responses"] == 1);
}

TEST_CASE("a short timeout sent after a long one still times out at its own deadline") {
  RouterFixture f;
  f.add("driver", json::object()).add("slow", {{"requests", {"slow.op"}}, {"sleep_ms", 400}});
  f.router->start();
  auto first = f.ctx("driver").request("slow.op", json::object(), edri::SendOptions{.timeout = 5s});
  auto second = f.ctx("driver").request("slow.op", json::object(), edri::SendOptions{.timeout = 50ms});
  // The slow manager is busy with the first for 400 ms; the second must not
  // wait for a deadline check armed for the first.
  REQUIRE(second.wait_for(300ms) == std::future_status::ready);
  CHECK(second.get().status() == edri::Status::timeout);
  CHECK(first.get().ok());
  CHECK(f.stats()["events"]["timeouts"] == 1);
  CHECK(f.stats()["events"]["pending_requests"] == 0);
}

TEST_CASE("a sender cancels its request: it hears cancelled last, a queued copy is skipped, a late answer is dropped") {
  RouterFixture f;
  f.add("driver", json::object()).add("other", json::object()).add("gated", {{"requests", {"slow.op"}}, {"gate", true}});
  f.router->start();
  Registry::get().close_gate();
  auto& driver = f.ctx("driver");
  std::mutex m;
  std::vector<std::pair<char, edri::Status>> heard;
  std::condition_variable cv;
  auto listen = [&](char which) {
    return [&, which](const edri::Response<json>& r) {
      std::lock_guard lock(m);
      heard.emplace_back(which, r.status());
      cv.notify_all();
    };
  };
  const auto a = driver.request("slow.op", {{"n", 1}}, listen('a'));
  // a is in the handler (held at the gate) before b is sent: b waits in the queue.
  for (int i = 0; i < 200 && f.manager_stats("gated")["running"] != 1; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(f.manager_stats("gated")["running"] == 1);
  const auto b = driver.request("slow.op", {{"n", 2}}, listen('b'));
  CHECK(f.manager_stats("gated")["queue"]["depth"] == 1);

  CHECK_FALSE(f.ctx("other").cancel_request(a));  // only its sender may cancel it
  CHECK(driver.cancel_request(b));
  CHECK_FALSE(driver.cancel_request(b));  // nothing waits for it any more
  CHECK(driver.cancel_request(a));
  {
    std::unique_lock lock(m);
    REQUIRE(cv.wait_for(lock, 2s, [&] { return heard.size() == 2; }));
  }
  Registry::get().open_gate();
  // a's handler finishes: its answer comes too late to matter; b never runs.
  REQUIRE(Registry::get().wait_for("gated", 1));
  for (int i = 0; i < 200 && f.stats()["events"]["late_responses"] != 1; ++i) std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock(m);
  CHECK(heard == std::vector<std::pair<char, edri::Status>>{{'b', edri::Status::cancelled}, {'a', edri::Status::cancelled}});
  CHECK(Registry::get().seen("gated").size() == 1);
  CHECK(Registry::get().seen("gated").front().data == json{{"n", 1}});
  CHECK(f.manager_stats("gated")["cancelled"] == 1);
  CHECK(f.manager_stats("gated")["queue"]["depth"] == 0);
  CHECK(f.stats()["events"]["cancelled"] == 2);
  CHECK(f.stats()["events"]["late_responses"] == 1);
  CHECK(f.stats()["events"]["pending_requests"] == 0);
}

TEST_CASE("call waits for the first response, whether it comes at once or after the caller went to sleep") {
  RouterFixture f;
  f.add("driver", json::object())
      .add("quick", {{"requests", {"calc.add"}}})
      .add("slow", {{"requests", {"slow.op"}}, {"sleep_ms", 50}});
  f.router->start();
  auto& ctx = f.ctx("driver");
  for (int i = 0; i < 200; ++i) {
    const auto r = ctx.call("calc.add", {{"i", i}});
    REQUIRE(r.ok());
    REQUIRE((*r.data())["echo"] == json{{"i", i}});
  }
  // 50 ms is far past the watch: the answer has to wake the sleeping caller.
  const auto t0 = std::chrono::steady_clock::now();
  const auto slow = ctx.call("slow.op", {{"x", 1}});
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  CHECK(slow.ok());
  CHECK((*slow.data())["by"] == "slow");
  CHECK(ctx.call("calc.mul", json::object()).status() == edri::Status::not_found);
  CHECK(ctx.call("slow.op", json::object(), edri::SendOptions{.timeout = 10ms}).status() == edri::Status::timeout);
  CHECK_THROWS(ctx.call("bad..type", json::object()));
  std::this_thread::sleep_for(100ms);  // the late answer to the timed-out call
  CHECK(f.stats()["events"]["pending_requests"] == 0);
}

TEST_CASE("a handler that throws gives an error response, is counted, and the manager goes on") {
  RouterFixture f;
  f.add("driver", json::object()).add("picky", {{"requests", {"picky.op"}}, {"throw_on", "bad"}});
  f.router->start();
  auto bad = f.ctx("driver").request("picky.op", {{"text", "bad"}}).get();
  CHECK(bad.status() == edri::Status::error);
  CHECK_THAT(bad.message(), Catch::Contains("probe refuses 'bad'"));
  auto good = f.ctx("driver").request("picky.op", {{"text", "fine"}}).get();
  CHECK(good.ok());
  auto st = f.manager_stats("picky");
  CHECK(st["errors"] == 1);
  CHECK(st["handled"] == 2);
  REQUIRE(st["last_errors"].size() == 1);
  CHECK_THAT(st["last_errors"][0].get<std::string>(), Catch::Contains("probe refuses"));
}

TEST_CASE("a priority queue serves lower numbers first and equal priorities in arrival order") {
  RouterFixture f;
  f.add("driver", json::object())
      .add("prio", {{"notifications", {"job.>"}}, {"gate", true}},
           {edrid::QueueOrder::priority, 100, edrid::WhenFull::block});
  f.router->start();
  Registry::get().close_gate();
  auto& d = f.ctx("driver");
  d.notify("job.first", json::object(), {.priority = 0});  // taken at once, waits at the gate
  std::this_thread::sleep_for(50ms);
  d.notify("job.p5", json::object(), {.priority = 5});
  d.notify("job.p1a", json::object(), {.priority = 1});
  d.notify("job.p3", json::object(), {.priority = 3});
  d.notify("job.p1b", json::object(), {.priority = 1});
  d.notify("job.pneg", json::object(), {.priority = -2});
  Registry::get().open_gate();
  REQUIRE(Registry::get().wait_for("prio", 6));
  std::vector<std::string> order;
  for (auto& s : Registry::get().seen("prio")) order.push_back(s.type);
  CHECK(order == std::vector<std::string>{"job.first", "job.pneg", "job.p1a", "job.p1b", "job.p3",
                                          "job.p5"});
}

TEST_CASE("a full queue with when_full=reject answers rejected and counts it") {
  RouterFixture f;
  f.add("driver", json::object())
      .add("small", {{"requests", {"work.>"}}, {"gate", true}},
           {edrid::QueueOrder::fifo, 2, edrid::WhenFull::reject});
  f.router->start();
  Registry::get().close_gate();
  std::vector<std::future<edri::Response<json>>> futs;
  futs.push_back(f.ctx("driver").request("work.a", json::object()));  // being handled
  std::this_thread::sleep_for(50ms);
  for (int i = 0; i < 4; ++i) futs.push_back(f.ctx("driver").request("work.b", json::object()));
  // Two fit in the queue, two are rejected at once.
  int rejected = 0;
  for (std::size_t i = 1; i < futs.size(); ++i) {
    if (futs[i].wait_for(100ms) == std::future_status::ready) {
      CHECK(futs[i].get().status() == edri::Status::rejected);
      ++rejected;
    }
  }
  CHECK(rejected == 2);
  Registry::get().open_gate();
  CHECK(futs[0].get().ok());
  CHECK(f.manager_stats("small")["queue"]["rejected"] == 2);
  CHECK(f.stats()["events"]["rejected"] == 2);
}

TEST_CASE("a full queue with when_full=drop_oldest drops the oldest and counts it") {
  RouterFixture f;
  f.add("driver", json::object())
      .add("lossy", {{"notifications", {"tick.>"}}, {"gate", true}},
           {edrid::QueueOrder::fifo, 2, edrid::WhenFull::drop_oldest});
  f.router->start();
  Registry::get().close_gate();
  f.ctx("driver").notify("tick.0", json::object());
  std::this_thread::sleep_for(50ms);
  for (int i = 1; i <= 5; ++i) f.ctx("driver").notify("tick." + std::to_string(i), json::object());
  Registry::get().open_gate();
  REQUIRE(Registry::get().wait_for("lossy", 3));
  std::this_thread::sleep_for(50ms);
  std::vector<std::string> order;
  for (auto& s : Registry::get().seen("lossy")) order.push_back(s.type);
  CHECK(order == std::vector<std::string>{"tick.0", "tick.4", "tick.5"});
  CHECK(f.manager_stats("lossy")["queue"]["dropped"] == 3);
}

TEST_CASE("a full queue with when_full=block holds the sender until there is room, losing nothing") {
  RouterFixture f;
  f.add("driver", json::object())
      .add("tight", {{"notifications", {"n.>"}}, {"gate", true}},
           {edrid::QueueOrder::fifo, 1, edrid::WhenFull::block});
  f.router->start();
  Registry::get().close_gate();
  std::atomic<int> sent{0};
  std::thread sender([&] {
    for (int i = 0; i < 5; ++i) {
      f.ctx("driver").notify("n." + std::to_string(i), json::object());
      ++sent;
    }
  });
  std::this_thread::sleep_for(150ms);
  CHECK(sent.load() == 2);  // one being handled, one queued, the third blocks
  Registry::get().open_gate();
  sender.join();
  REQUIRE(Registry::get().wait_for("tight", 5));
  CHECK(f.manager_stats("tight")["queue"]["rejected"] == 0);
}

TEST_CASE("try_notify and try_request send nothing where a when_full=block queue would hold the sender") {
  RouterFixture f;
  f.add("driver", json::object())
      .add("tight", {{"notifications", {"n.>"}}, {"requests", {"r.>"}}, {"gate", true}},
           {edrid::QueueOrder::fifo, 1, edrid::WhenFull::block})
      .add("roomy", {{"notifications", {"n.>"}}});
  f.router->start();
  Registry::get().close_gate();
  auto& driver = f.ctx("driver");
  std::uint32_t delivered = 0;
  CHECK(driver.try_notify("n.0", json::object(), &delivered) == edri::SendResult::sent);  // being handled
  CHECK(delivered == 2);
  std::this_thread::sleep_for(50ms);
  CHECK(driver.try_notify("n.1", json::object(), &delivered) == edri::SendResult::sent);  // queued
  // Full for senders that wait; one more place for those that must not.
  CHECK(driver.try_notify("n.2", json::object(), &delivered) == edri::SendResult::sent);
  CHECK(f.manager_stats("tight")["queue"]["depth"] == 2);
  // Past that: notify would block until the gate opens. Nothing is sent,
  // not even to the receiver with room (the caller tries again).
  CHECK(driver.try_notify("n.3", json::object(), &delivered) == edri::SendResult::would_wait);
  CHECK(delivered == 0);
  bool called = false;
  CHECK(driver.try_request("r.x", json::object(), [&](const edri::Response<json>&) { called = true; }) ==
        edri::SendResult::would_wait);
  CHECK(f.stats()["events"]["would_wait"] == 2);
  CHECK(f.stats()["events"]["notifications"] == 3);  // the turned-back ones are not counted as sent
  CHECK(f.stats()["events"]["requests"] == 0);
  CHECK(f.manager_stats("tight")["queue"]["rejected"] == 0);
  Registry::get().open_gate();
  REQUIRE(Registry::get().wait_for("tight", 3));
  REQUIRE(Registry::get().wait_for("roomy", 3));
  std::this_thread::sleep_for(50ms);
  std::vector<std::string> order;
  for (auto& s : Registry::get().seen()) order.push_back(s.manager + ":" + s.type);
  std::sort(order.begin(), order.end());
  CHECK(order == std::vector<std::string>{"roomy:n.0", "roomy:n.1", "roomy:n.2", "tight:n.0", "tight:n.1",
                                          "tight:n.2"});
  CHECK_FALSE(called);
  // With room again, it goes.
  CHECK(driver.try_notify("n.4", json::object(), &delivered) == edri::SendResult::sent);
  CHECK(delivered == 2);
}

TEST_CASE("an event queued for a handler that was unsubscribed is skipped, even when its slot is reused") {
  RouterFixture f;
  f.add("driver", json::object()).add("m", {{"notifications", {"old.x"}}, {"gate", true}});
  f.router->start();
  Registry::get().close_gate();
  auto& driver = f.ctx("driver");
  CHECK(driver.notify("old.x", json::object()) == 1);  // held in the handler by the gate
  std::this_thread::sleep_for(50ms);
  CHECK(driver.notify("old.x", json::object()) == 1);  // queued behind it
  // The manager's loop is held in the handler: nothing dispatches meanwhile.
  auto& m = f.ctx("m");
  m.unsubscribe(EDRI_KIND_NOTIFICATION, "old.x");
  std::atomic<int> wrong{0};
  m.on_notification("new.y", [&](const edri::GenericEvent& ev) {
    if (ev.type() != "new.y") ++wrong;  // the old event reaching the slot's new handler
  });
  Registry::get().open_gate();
  CHECK(driver.notify("new.y", json::object()) == 1);
  std::this_thread::sleep_for(200ms);
  CHECK(wrong == 0);
  CHECK(Registry::get().seen("m").size() == 1);  // only the first old.x, which was running
}

TEST_CASE("two handlers for the same kind and pattern are refused at load") {
  RouterFixture f;
  try {
    f.router->add_manager("dup", edri::descriptor_of<probe::Duplicate>("dup", "1"), "dup", {}, "{}");
    FAIL("duplicate handlers were accepted");
  } catch (const edrid::ManagerError& e) {
    CHECK_THAT(e.what(), Catch::Contains("two request handlers for 'dup.x'"));
  }
}

TEST_CASE("a manager stuck in a handler turns warning, then error, then ok again") {
  edrid::RouterOptions o;
  o.liveness_interval = 20ms;
  o.liveness_warning = 100ms;
  o.liveness_error = 300ms;
  RouterFixture f;
  f.reopen(o);
  f.add("driver", json::object()).add("stuck", {{"notifications", {"x"}}, {"gate", true}});
  f.router->start();
  Registry::get().close_gate();
  f.ctx("driver").notify("x", json::object());
  auto health = [&] { return f.manager_stats("stuck")["health"].get<std::string>(); };
  auto wait_health = [&](const std::string& want) {
    for (int i = 0; i < 200 && health() != want; ++i) std::this_thread::sleep_for(10ms);
    return health();
  };
  CHECK(wait_health("warning") == "warning");
  CHECK(wait_health("error") == "error");
  Registry::get().open_gate();
  CHECK(wait_health("ok") == "ok");
  CHECK(f.manager_stats("stuck")["last_errors"].size() >= 2);
}

TEST_CASE("the trace id is kept across every hop") {
  RouterFixture f;
  f.add("driver", json::object())
      .add("first", {{"notifications", {"order.placed"}}, {"forward", "stock.reserve"}})
      .add("second", {{"requests", {"stock.reserve"}}});
  f.router->start();
  f.ctx("driver").notify("order.placed", {{"id", 7}});
  // "first" records after it forwards, so "second" may finish first.
  REQUIRE(Registry::get().wait_for("second", 1));
  REQUIRE(Registry::get().wait_for("first", 1));
  const auto a = Registry::get().seen("first").at(0);
  const auto b = Registry::get().seen("second").at(0);
  CHECK(a.trace_id.size() == 32);
  CHECK(a.trace_id == b.trace_id);
  CHECK(b.data == json{{"id", 7}});
}

TEST_CASE("invalid type names are refused") {
  RouterFixture f;
  f.add("driver", json::object());
  f.router->start();
  CHECK_THROWS_AS(f.ctx("driver").notify("bad..name", json::object()), std::invalid_argument);
  // The host still answers the request (with error) so nothing attached to
  // it leaks, and the SDK reports the programming error by throwing.
  CHECK_THROWS_AS(f.ctx("driver").request("bad name", json::object()), std::invalid_argument);
  CHECK(f.stats()["events"]["invalid"] == 2);
}

TEST_CASE("stop drains queued events before the manager's stop hook") {
  RouterFixture f;
  f.add("driver", json::object()).add("sink", {{"notifications", {"d.>"}}, {"sleep_ms", 5}});
  f.router->start();
  for (int i = 0; i < 50; ++i) f.ctx("driver").notify("d.x", {{"i", i}});
  f.router->stop();
  CHECK(Registry::get().seen("sink").size() == 50);
}

namespace rt {
struct Answer {
  std::string text;
};
EDRI_EVENT(Answer, "rt.answer", text)
struct Question {
  using response = Answer;
  std::string text;
};
EDRI_EVENT(Question, "rt.question", text)

// Asks without a callback; the answer arrives at its on_response handler.
class Asker : public edri::Manager {
 public:
  Asker(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    probe::Registry::get().set_context(ctx.name(), &ctx);
    ctx.on_notification("ask.go", [this](const edri::GenericEvent& ev) {
      this->ctx().request_detached(Question{ev.data().value("text", "")});
    });
    ctx.on_response<Question>([this](const edri::Response<Answer>& r) {
      probe::Registry::get().record({this->ctx().name(), std::string(r.info().type()),
                                     {{"status", edri::to_string(r.status())},
                                      {"text", r.data() ? r.data()->text : ""}},
                                     r.info().trace_id(), 0});
    });
  }
};

class Answerer : public edri::Manager {
 public:
  Answerer(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_request<Question>(
        [](const Question& q, edri::Reply<Answer>& reply) { reply.set(Answer{q.text + "!"}); });
  }
};
}  // namespace rt

TEST_CASE("responses to detached requests reach the sender's response handlers") {
  RouterFixture f;
  f.add("driver", json::object());
  f.router->add_manager("asker", edri::descriptor_of<rt::Asker>("asker", "1"), "asker", {}, "{}");
  f.router->add_manager("answerer", edri::descriptor_of<rt::Answerer>("answerer", "1"), "answerer",
                        {}, "{}");
  f.router->start();
  f.ctx("driver").notify("ask.go", {{"text", "why"}});
  f.ctx("driver").notify("ask.go", {{"text", "how"}});
  REQUIRE(Registry::get().wait_for("asker", 2));
  auto seen = Registry::get().seen("asker");
  CHECK(seen[0].type == "rt.question");
  CHECK(seen[0].data == json{{"status", "ok"}, {"text", "why!"}});
  CHECK(seen[1].data == json{{"status", "ok"}, {"text", "how!"}});

  // Without an answerer, the handler gets not_found.
  f.router->find("answerer")->plugin_host().unsubscribe(EDRI_KIND_REQUEST, "rt.question");
  f.ctx("driver").notify("ask.go", {{"text", "who"}});
  REQUIRE(Registry::get().wait_for("asker", 3));
  CHECK(Registry::get().seen("asker")[2].data["status"] == "not_found");
}

TEST_CASE("a manager reads the router's stats through its context") {
  RouterFixture f;
  f.add("driver", json::object()).add("r1", {{"requests", {"calc.add"}}});
  f.router->start();
  REQUIRE(f.ctx("driver").request("calc.add", json::object()).get().ok());
  const json st = f.ctx("driver").router_stats();
  CHECK(st["router"] == "test-router");
  CHECK(st["events"]["requests"] == 1);
  REQUIRE(st["managers"].size() == 2);
  CHECK(st["managers"][1]["name"] == "r1");
  CHECK(st["managers"][1]["handled"] == 1);
  CHECK(st["managers"][1]["health"] == "ok");
}

TEST_CASE("per-second rates follow a burst and fall back to zero") {
  RouterFixture f;
  f.options.liveness_interval = std::chrono::milliseconds(200);
  f.reopen(f.options);
  f.add("driver", json::object()).add("sink", {{"notifications", {"rate.*"}}, {"throw_on", "bad"}});
  f.router->start();
  std::this_thread::sleep_for(300ms);  // a first sample, before the burst
  for (int i = 0; i < 200; ++i) f.ctx("driver").notify("rate.hit", {{"text", i % 4 == 0 ? "bad" : "ok"}});
  REQUIRE(Registry::get().wait_for("sink", 150));
  // Seen within the next ticks: 200 events in one 200 ms interval is about 1000/s.
  double handled = 0, errors = 0;
  for (int i = 0; i < 40 && handled == 0; ++i) {
    std::this_thread::sleep_for(50ms);
    const auto rates = f.manager_stats("sink")["rates"];
    handled = rates["handled_per_s"];
    errors = rates["errors_per_s"];
  }
  CHECK(handled > 100);
  CHECK(errors > 0);
  CHECK(errors < handled);
  // Nothing more arrives: the next intervals say so.
  for (int i = 0; i < 40 && handled > 0; ++i) {
    std::this_thread::sleep_for(50ms);
    handled = f.manager_stats("sink")["rates"]["handled_per_s"];
  }
  CHECK(handled == 0);
}

TEST_CASE("a request id that is waiting already is not tracked twice, and its deadline is taken once") {
  edrid::PendingRequests pending;
  auto first = std::make_shared<edrid::PendingRequest>();
  first->id = edri_id128{7, 9};
  auto again = std::make_shared<edrid::PendingRequest>();
  again->id = first->id;
  CHECK(pending.add(first, 100));
  CHECK_FALSE(pending.add(again, 50));
  CHECK(pending.size() == 1);
  CHECK(pending.find(first->id) == first);
  CHECK(pending.earliest() == 100);
  CHECK(pending.take_due(1000).size() == 1);
  CHECK(pending.take_due(1000).empty());
}

TEST_CASE("a manager's latency histograms sample its handlers' time and its events' wait since their send") {
  RouterFixture f;
  f.add("driver", json::object()).add("slow", {{"notifications", {"job.run"}}, {"sleep_ms", 3}});
  f.router->start();
  constexpr int kEvents = 48;  // 6 samples at one in 8
  for (int i = 0; i < kEvents; ++i) f.ctx("driver").notify("job.run", {{"n", i}});
  REQUIRE(Registry::get().wait_for("slow", kEvents));
  REQUIRE(probe::wait_until([&] { return f.manager_stats("slow")["handled"] == kEvents; }));
  const json lat = f.manager_stats("slow")["latency"];
  INFO(lat.dump());
  CHECK(lat["handler"]["samples"] == kEvents / 8);
  // A handler that sleeps 3 ms takes at least that.
  CHECK(lat["handler"]["p50_us"].get<double>() >= 3000);
  CHECK(lat["handler"]["mean_us"].get<double>() >= 3000);
  // All 48 were sent at once: the later ones waited behind the earlier ones' 3 ms each.
  CHECK(lat["wait"]["samples"] == kEvents / 8);
  CHECK(lat["wait"]["p99_us"].get<double>() >= 3000.0 * (kEvents - 8));
  const json other = f.manager_stats("driver")["latency"];
  CHECK(other["handler"]["samples"] == 0);
}
