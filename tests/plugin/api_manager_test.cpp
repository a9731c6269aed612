// The api manager with real HTTP clients: routes, the generic endpoint, the
// status mapping, limits and errors, auth, keep-alive, /metrics and /stats.
#include "app/daemon.hpp"
#include "support/http_client.hpp"
#include "support/router_fixture.hpp"
#include "support/temp_file.hpp"

#include "route_table.hpp"

#include <catch2/catch.hpp>

#include <set>

#include <regex>
#include <sstream>

using edri::json;
using probe::HttpClient;
using probe::Registry;
using namespace std::chrono_literals;

namespace {

// A middleware: needs header x-api-key: k; /users/7/notes gets its text
// replaced; a call for user 666 is refused with 451.
class Guard : public edri::Manager {
 public:
  Guard(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_request("api.guard", [](const edri::GenericEvent& ev, edri::Reply<json>& r) {
      const json& call = ev.data();
      Registry::get().record({"guard", call.value("transport", ""), call, "", 0});
      if (call["headers"].value("x-api-key", "") != "k" && call["transport"] == "http") {
        return r.set({{"action", "stop"}, {"status", 401}, {"body", {{"error", "no key"}}}});
      }
      if (call["data"].is_object() && call["data"].value("id", "") == "666") {
        return r.set({{"action", "stop"}, {"status", 451}, {"body", {{"error", "unavailable"}}}});
      }
      if (call["path"] == "/users/7/notes") {
        json data = call["data"];
        data["text"] = "[redacted]";
        return r.set({{"action", "replace"}, {"data", data}});
      }
      r.set({{"action", "continue"}});
    });
  }
};

// A response middleware: wraps /users/5's answer, breaks /users/6 and /users/9,
// and lets the rest through, noting each status it saw.
class AfterGuard : public edri::Manager {
 public:
  AfterGuard(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_request("api.after", [](const edri::GenericEvent& ev, edri::Reply<json>& r) {
      const json& call = ev.data();
      Registry::get().record({"after", call["path"], call["response"], "", 0});
      if (call["path"] == "/users/5") {
        const json body{{"wrapped", call["response"]["body"]}, {"was", call["response"]["status"]}};
        const json response{{"status", 203}, {"headers", {{"X-Seen", "yes"}}}, {"body", body}};
        return r.set({{"action", "replace"}, {"response", response}});
      }
      if (call["path"] == "/users/6") return r.set({{"action", "bogus"}});
      if (call["path"] == "/users/9") return r.set({{"action", "replace"}, {"response", {{"status", 42}}}});
      r.set({{"action", "continue"}});
    });
  }
};

// Chooses its HTTP answers (edri::HttpAnswer), by data.case.
class Answerer : public edri::Manager {
 public:
  Answerer(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_request("page.answer", [](const edri::GenericEvent& ev, edri::Reply<json>& r) {
      const std::string c = ev.data().value("case", "");
      if (c == "created") {
        r.set(edri::HttpAnswer(201).header("Location", "/users/8").cookie("sid=abc; Path=/; HttpOnly").body({{"id", 8}}));
      } else if (c == "html") {
        r.set(edri::HttpAnswer().body("<h1>hi</h1>", "text/html; charset=utf-8"));
      } else if (c == "redirect") {
        r.set(edri::HttpAnswer().redirect("/login"));
      } else if (c == "teapot") {
        r.set(json{{"$http", {{"status", 418}}}, {"short", true}});  // the rest of the data is the body
      } else if (c == "split") {
        r.set(edri::HttpAnswer().header("X-A", "1\r\nSet-Cookie: evil=1"));
      } else if (c == "status") {
        r.set(edri::HttpAnswer(99));
      } else {
        r.set(edri::HttpAnswer().header("Content-Length", "5"));
      }
    });
  }
};

struct ApiRig {
  probe::TempDir dir;
  unsigned short port = probe::free_port();
  std::unique_ptr<edrid::Daemon> daemon;

  explicit ApiRig(const std::string& extra_api_config = "") {
    Registry::get().reset();
    auto file = dir.write(
        "edrid.yaml",
        "router:\n  id: api-test\n  log: {level: warn}\n  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR "]\nmanagers:\n"
        "  - name: echo\n    plugin: echo\n"
        "  - name: api\n    plugin: api\n    config:\n      port: " + std::to_string(port) + "\n"
        "      body_limit_bytes: 4096\n      timeout_ms: 2000\n" + extra_api_config +
        "      routes:\n"
        "        - {method: GET, path: \"/users/{id}\", event: user.get}\n"
        "        - {method: POST, path: \"/users/{id}/notes\", event: user.note}\n"
        "        - {method: GET, path: \"/users/me\", event: user.me}\n"
        "        - {method: GET, path: \"/items/{n:int}/{ratio:number}\", event: user.item,"
        " query: {verbose: bool, limit: int}}\n"
        "        - {method: GET, path: \"/slow\", event: work.slow, timeout_ms: 100}\n"
        "        - {method: GET, path: \"/broken\", event: work.broken}\n"
        "        - {method: GET, path: \"/nobody\", event: nobody.serves}\n");
    daemon = std::make_unique<edrid::Daemon>(edrid::load_config(file));
    daemon->build();
    auto& r = daemon->router();
    r.add_manager("users", probe::probe_descriptor(), "probe", {},
                  json{{"requests", {"user.*", "work.broken"}}, {"throw_on", "boom"}}.dump());
    r.add_manager("slow", probe::probe_descriptor(), "probe", {}, json{{"requests", {"work.slow"}}, {"sleep_ms", 400}}.dump());
    r.add_manager("sink1", probe::probe_descriptor(), "probe", {}, json{{"notifications", {"audit.*"}}}.dump());
    r.add_manager("sink2", probe::probe_descriptor(), "probe", {}, json{{"notifications", {"audit.>"}}}.dump());
    r.add_manager("guard", edri::descriptor_of<Guard>("guard", "1"), "guard", {}, "{}");
    r.add_manager("answerer", edri::descriptor_of<Answerer>("answerer", "1"), "answerer", {}, "{}");
    r.add_manager("after", edri::descriptor_of<AfterGuard>("after", "1"), "after", {}, "{}");
    edrid::WorkSettings once;
    once.dedupe = std::chrono::milliseconds(60'000);
    r.add_manager("once", probe::probe_descriptor(), "probe", {}, json{{"notifications", {"order.*"}}}.dump(), {},
                  once);
    daemon->start();
  }
  ~ApiRig() { daemon->stop(); }
};

}  // namespace

TEST_CASE("route parameters, query and body become the event's data") {
  ApiRig rig;
  HttpClient c(rig.port);
  auto r = c.call("GET", "/users/42?verbose=1&name=J%C3%BCrgen+K");
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body) == json{{"by", "users"}, {"echo", {{"id", "42"}, {"verbose", "1"}, {"name", "Jürgen K"}}}});
  CHECK(r.headers["Content-Type"] == "application/json");

  r = c.call("POST", "/users/7/notes", R"({"text":"hello","id":"overridden"})");
  CHECK(json::parse(r.body)["echo"] == json{{"id", "7"}, {"text", "hello"}});
  // A literal segment wins over a parameter.
  CHECK(json::parse(c.call("GET", "/users/me").body)["echo"] == json::object());
  CHECK(Registry::get().seen("users").at(2).type == "user.me");
}

TEST_CASE("typed path and query parameters arrive as numbers and booleans, and a bad one is a 400 naming it") {
  ApiRig rig;
  HttpClient c(rig.port);
  auto r = c.call("GET", "/items/-5/0.25?verbose=true&limit=3&other=7");
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["echo"] ==
        json{{"n", -5}, {"ratio", 0.25}, {"verbose", true}, {"limit", 3}, {"other", "7"}});
  CHECK(json::parse(c.call("GET", "/items/1/2?verbose=0").body)["echo"] ==
        json{{"n", 1}, {"ratio", 2.0}, {"verbose", false}});
  struct Bad {
    std::string target, parameter, in, message;
  };
  for (const auto& bad : {
           Bad{"/items/abc/1", "n", "path", "path parameter 'n' must be an integer, not 'abc'"},
           Bad{"/items/99999999999999999999/1", "n", "path", "must be an integer"},
           Bad{"/items/1.5/1", "n", "path", "must be an integer"},
           Bad{"/items/1/inf", "ratio", "path", "path parameter 'ratio' must be a number, not 'inf'"},
           Bad{"/items/1/2?limit=ten", "limit", "query", "query parameter 'limit' must be an integer, not 'ten'"},
           Bad{"/items/1/2?verbose=yes", "verbose", "query", "must be true or false"},
       }) {
    INFO(bad.target);
    auto e = c.call("GET", bad.target);
    CHECK(e.status == 400);
    const auto body = json::parse(e.body);
    CHECK(body["parameter"] == bad.parameter);
    CHECK(body["in"] == bad.in);
    CHECK_THAT(body["message"].get<std::string>(), Catch::Contains(bad.message));
  }
  CHECK(Registry::get().seen("users").size() == 2);  // the bad ones were never routed
}

TEST_CASE("a handler chooses its HTTP answer: status, headers, cookies, redirect, content type") {
  ApiRig rig;
  HttpClient c(rig.port);
  auto ask = [&](const std::string& which) {
    return c.call("POST", "/events/page.answer", json{{"case", which}}.dump());
  };
  auto created = ask("created");
  CHECK(created.status == 201);
  CHECK(created.headers["Location"] == "/users/8");
  CHECK(created.headers["Set-Cookie"] == "sid=abc; Path=/; HttpOnly");
  CHECK(json::parse(created.body) == json{{"id", 8}});
  CHECK(created.headers.count("x-trace-id") + created.headers.count("X-Trace-Id") == 1);  // still traced
  auto html = ask("html");
  CHECK(html.status == 200);
  CHECK(html.headers["Content-Type"] == "text/html; charset=utf-8");
  CHECK(html.body == "<h1>hi</h1>");
  auto redirect = ask("redirect");
  CHECK(redirect.status == 302);
  CHECK(redirect.headers["Location"] == "/login");
  CHECK(redirect.body.empty());
  auto teapot = ask("teapot");
  CHECK(teapot.status == 418);
  CHECK(json::parse(teapot.body) == json{{"short", true}});
  // What HTTP cannot carry, or what would split the answer, is refused: 502.
  for (const char* bad : {"split", "status", "framing"}) {
    INFO(bad);
    auto r = ask(bad);
    CHECK(r.status == 502);
    CHECK_THAT(r.body, Catch::Contains("the handler's HTTP answer is malformed"));
    CHECK(r.headers.count("evil") == 0);
  }
  CHECK(c.call("GET", "/users/3").status == 200);  // other routes are untouched
  // Over a WebSocket the data is what it is.
  probe::WsClient ws(rig.port);
  ws.send({{"op", "request"}, {"type", "page.answer"}, {"data", {{"case", "teapot"}}}, {"id", 1}});
  auto frame = ws.expect();
  CHECK(frame["status"] == "ok");
  CHECK(frame["data"] == json{{"$http", {{"status", 418}}}, {"short", true}});
}

TEST_CASE("response middlewares see each routed answer and may replace it") {
  ApiRig rig("      response_middlewares: [api.after]\n");
  HttpClient c(rig.port);
  auto wrapped = c.call("GET", "/users/5?x=1");
  CHECK(wrapped.status == 203);
  CHECK(wrapped.headers["X-Seen"] == "yes");
  CHECK(json::parse(wrapped.body) ==
        json{{"wrapped", {{"by", "users"}, {"echo", {{"id", "5"}, {"x", "1"}}}}}, {"was", 200}});
  auto plain = c.call("GET", "/users/7");
  CHECK(plain.status == 200);
  CHECK(json::parse(plain.body)["by"] == "users");
  // It sees errors too (404 from nobody serving the type, 500 from a throwing handler).
  CHECK(c.call("GET", "/nobody").status == 404);
  CHECK(c.call("POST", "/users/7/notes", R"({"text":"boom"})").status == 500);
  auto bogus = c.call("GET", "/users/6");
  CHECK(bogus.status == 502);
  CHECK_THAT(bogus.body, Catch::Contains("answered unknown action 'bogus'"));
  auto malformed = c.call("GET", "/users/9");
  CHECK(malformed.status == 502);
  CHECK_THAT(malformed.body, Catch::Contains("status must be an integer from 200 to 599"));
  std::vector<int> seen;
  for (const auto& s : Registry::get().seen("after")) seen.push_back(s.data["status"]);
  CHECK(seen == std::vector<int>{200, 200, 404, 500, 200, 200});
  CHECK(c.call("GET", "/healthz").status == 200);  // the api's own endpoints are not routed calls
  CHECK(Registry::get().seen("after").size() == 6);
}

TEST_CASE("GET /openapi.json describes the routes with their typed parameters, and /events") {
  probe::TempDir tokens;
  const auto file = tokens.write("tokens", "secret-1\n");
  ApiRig rig("      tokens_file: " + file.string() + "\n");
  HttpClient c(rig.port);
  CHECK(c.call("GET", "/openapi.json").status == 401);  // tokens apply
  auto r = c.call("GET", "/openapi.json", "", {{"Authorization", "Bearer secret-1"}});
  REQUIRE(r.status == 200);
  const auto doc = json::parse(r.body);
  CHECK(doc["openapi"] == "3.0.3");
  const auto& items = doc["paths"]["/items/{n}/{ratio}"]["get"];
  CHECK(items["operationId"] == "get:user.item");
  CHECK(items["parameters"] ==
        json::parse(R"([{"name":"n","in":"path","required":true,"schema":{"type":"integer","format":"int64"}},
                        {"name":"ratio","in":"path","required":true,"schema":{"type":"number","format":"double"}},
                        {"name":"limit","in":"query","required":false,"schema":{"type":"integer","format":"int64"}},
                        {"name":"verbose","in":"query","required":false,"schema":{"type":"boolean"}}])"));
  CHECK_FALSE(items.contains("requestBody"));
  const auto& notes = doc["paths"]["/users/{id}/notes"]["post"];
  CHECK(notes["requestBody"]["content"]["application/json"]["schema"] == json{{"type", "object"}});
  CHECK(notes["parameters"][0]["schema"] == json{{"type", "string"}});
  CHECK(doc["paths"]["/users/me"].contains("get"));
  CHECK(doc["paths"]["/events/{type}"]["post"]["responses"].contains("202"));
  CHECK(doc["paths"]["/events/{type}"]["post"]["responses"]["504"]["description"] == "no response in time");
  CHECK(doc["security"] == json::parse(R"([{"bearer":[]}])"));
  CHECK(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
  // Every operation has an id, and ids are unique.
  std::set<std::string> ids;
  std::size_t ops = 0;
  for (const auto& [path, methods] : doc["paths"].items()) {
    for (const auto& [method, op] : methods.items()) {
      ++ops;
      ids.insert(op["operationId"].get<std::string>());
    }
  }
  CHECK(ids.size() == ops);
  CHECK(ops == 8);
}

TEST_CASE("response statuses map to HTTP codes") {
  ApiRig rig;
  HttpClient c(rig.port);
  CHECK(c.call("GET", "/users/1").status == 200);
  CHECK(c.call("GET", "/nobody").status == 404);
  auto err = c.call("GET", "/broken?text=boom");
  CHECK(err.status == 500);
  CHECK(json::parse(err.body) == json{{"status", "error"}, {"message", "probe refuses 'boom'"}});
  auto slow = c.call("GET", "/slow");
  CHECK(slow.status == 504);
  CHECK(json::parse(slow.body)["status"] == "timeout");
}

TEST_CASE("the generic endpoint sends requests and notifications") {
  ApiRig rig;
  HttpClient c(rig.port);
  auto r = c.call("POST", "/events/demo.echo", R"({"text":"hi"})");
  CHECK(r.status == 200);
  CHECK(json::parse(r.body) == json{{"text", "hi"}});
  auto n = c.call("POST", "/events/audit.login?kind=notification", R"({"user":"ada"})");
  CHECK(n.status == 202);
  CHECK(json::parse(n.body) == json{{"delivered", 2}});
  REQUIRE(Registry::get().wait_for("sink2", 1));
  CHECK(Registry::get().seen("sink2")[0].data == json{{"user", "ada"}});
  CHECK(c.call("POST", "/events/nobody.home", "{}").status == 404);
  CHECK(c.call("POST", "/events/bad..type", "{}").status == 400);
  CHECK(c.call("GET", "/events/demo.echo").status == 405);
}

TEST_CASE("bad requests get 400, 404, 405 and 413 without disturbing other clients") {
  ApiRig rig;
  HttpClient other(rig.port);
  CHECK(other.call("GET", "/users/1").status == 200);
  {
    HttpClient c(rig.port);
    auto bad = c.call("POST", "/events/demo.echo", "{not json");
    CHECK(bad.status == 400);
    CHECK_THAT(json::parse(bad.body)["message"].get<std::string>(), Catch::StartsWith("malformed JSON body"));
    CHECK(c.call("GET", "/no/such/route").status == 404);
    CHECK(c.call("DELETE", "/users/1").status == 405);
  }
  {
    HttpClient c(rig.port);
    auto big = c.call("POST", "/events/demo.echo", std::string(10000, ' '));
    CHECK(big.status == 413);
  }
  CHECK(other.call("GET", "/users/2").status == 200);  // same connection, still fine
}

TEST_CASE("pipelined requests are answered in order") {
  ApiRig rig;
  HttpClient c(rig.port);
  namespace http = boost::beast::http;
  // Three requests written back to back before any answer is read.
  for (int i = 0; i < 3; ++i) {
    http::request<http::string_body> req{http::verb::post, "/events/demo.echo", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = json{{"text", "p" + std::to_string(i)}}.dump();
    req.prepare_payload();
    http::write(c.stream(), req);
  }
  boost::beast::flat_buffer buf;
  for (int i = 0; i < 3; ++i) {
    http::response<http::string_body> res;
    http::read(c.stream(), buf, res);
    CHECK(res.result_int() == 200);
    CHECK(json::parse(res.body())["text"] == "p" + std::to_string(i));
  }
}

TEST_CASE("keep-alive serves many requests on one connection") {
  ApiRig rig;
  HttpClient c(rig.port);
  for (int i = 0; i < 50; ++i) {
    auto r = c.call("POST", "/events/demo.echo", json{{"text", std::to_string(i)}}.dump());
    REQUIRE(r.status == 200);
    REQUIRE(json::parse(r.body)["text"] == std::to_string(i));
  }
}

TEST_CASE("with a tokens file, requests need a known bearer token") {
  probe::TempDir tokens;
  const auto file = tokens.write("tokens", "# one token per line\nsecret-1\n");
  ApiRig rig("      tokens_file: " + file.string() + "\n");
  HttpClient c(rig.port);
  auto none = c.call("GET", "/users/1");
  CHECK(none.status == 401);
  CHECK(none.headers["WWW-Authenticate"] == "Bearer");
  CHECK(c.call("GET", "/users/1", "", {{"Authorization", "Bearer wrong"}}).status == 401);
  CHECK(c.call("GET", "/users/1", "", {{"Authorization", "Bearer secret-1"}}).status == 200);
  CHECK(c.call("GET", "/healthz").status == 200);  // probes need no token
}

TEST_CASE("CORS: a page on an allowed origin gets its preflight answered and may read answers, and others get nothing") {
  probe::TempDir tokens;
  const auto file = tokens.write("tokens", "secret-1\n");
  ApiRig rig("      tokens_file: " + file.string() + "\n      allowed_origins: [\"https://app.example\"]\n");
  HttpClient c(rig.port);
  const std::map<std::string, std::string> app{{"Origin", "https://app.example"}};
  auto preflight = [&](const std::string& origin, const std::string& target, const std::string& method,
                       const std::string& headers) {
    std::map<std::string, std::string> h{{"Origin", origin}, {"Access-Control-Request-Method", method}};
    if (!headers.empty()) h["Access-Control-Request-Headers"] = headers;
    return c.call("OPTIONS", target, "", h);
  };
  // A preflight needs no token (browsers never send one with it).
  auto ok = preflight("https://app.example", "/users/7/notes", "POST", "Content-Type, Authorization");
  CHECK(ok.status == 204);
  CHECK(ok.headers["Access-Control-Allow-Origin"] == "https://app.example");
  CHECK(ok.headers["Access-Control-Allow-Methods"] == "POST");
  CHECK(ok.headers["Access-Control-Allow-Headers"] == "content-type, authorization");
  CHECK(ok.headers["Access-Control-Max-Age"] == "600");
  CHECK(ok.headers["Vary"] == "Origin");
  CHECK(ok.headers.count("Access-Control-Allow-Credentials") == 0);
  CHECK(preflight("https://app.example", "/events/demo.echo", "POST", "").status == 204);
  auto users = preflight("https://app.example", "/users/7", "GET", "");
  CHECK(users.headers["Access-Control-Allow-Methods"] == "GET");
  // Refused: a method the path does not take, a header not listed, an origin not allowed.
  auto bad_method = preflight("https://app.example", "/users/7", "DELETE", "");
  CHECK(bad_method.status == 403);
  CHECK_THAT(bad_method.body, Catch::Contains("method DELETE is not served here (GET)"));
  auto bad_header = preflight("https://app.example", "/users/7", "GET", "X-Secret");
  CHECK(bad_header.status == 403);
  CHECK_THAT(bad_header.body, Catch::Contains("request header 'x-secret' is not allowed"));
  auto evil = preflight("https://evil.example", "/users/7", "GET", "");
  CHECK(evil.status == 403);
  CHECK(evil.headers.count("Access-Control-Allow-Origin") == 0);
  CHECK(preflight("https://app.example", "/nowhere", "GET", "").status == 404);
  // A plain OPTIONS lists the methods.
  auto plain = c.call("OPTIONS", "/users/7/notes");
  CHECK(plain.status == 204);
  CHECK(plain.headers["Allow"] == "OPTIONS, POST");
  // The call itself: the answer carries the origin, and the trace headers are readable.
  auto h = app;
  h["Authorization"] = "Bearer secret-1";
  auto call = c.call("GET", "/users/7", "", h);
  CHECK(call.status == 200);
  CHECK(call.headers["Access-Control-Allow-Origin"] == "https://app.example");
  CHECK(call.headers["Access-Control-Expose-Headers"] == "traceparent, x-trace-id");
  // Still no way in without the token; the 401 is readable by the page too.
  auto no_token = c.call("GET", "/users/7", "", app);
  CHECK(no_token.status == 401);
  CHECK(no_token.headers["Access-Control-Allow-Origin"] == "https://app.example");
  // Same-origin and non-browser calls get no CORS headers.
  auto plain_call = c.call("GET", "/users/7", "", {{"Authorization", "Bearer secret-1"}});
  CHECK(plain_call.headers.count("Access-Control-Allow-Origin") == 0);
}

TEST_CASE("/healthz, /stats and /metrics") {
  ApiRig rig;
  HttpClient c(rig.port);
  c.call("POST", "/events/demo.echo", R"({"text":"x"})");
  c.call("GET", "/nobody");
  CHECK(c.call("GET", "/healthz").status == 200);
  auto stats = json::parse(c.call("GET", "/stats").body);
  CHECK(stats["router"] == "api-test");
  CHECK(stats["managers"].size() == 10);  // the ApiRig's managers

  auto m = c.call("GET", "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8");
  // A strict reading of the text format: comments, or name{labels} value.
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$)");
  const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  std::istringstream lines(m.body);
  int samples = 0;
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK((std::regex_match(line, sample) || std::regex_match(line, comment)));
    samples += line[0] != '#';
  }
  CHECK(samples > 20);
  CHECK_THAT(m.body, Catch::Contains("edri_manager_handled_total{manager=\"echo\"} 1\n"));
  CHECK_THAT(m.body, Catch::Contains("# TYPE edri_manager_handled_per_second gauge\n"));
  CHECK_THAT(m.body, Catch::Contains("edri_manager_received_per_second{manager=\"echo\"} "));
  CHECK_THAT(m.body, Catch::Contains("edri_http_requests_total{code=\"404\"} 1\n"));
  CHECK_THAT(m.body, Catch::Contains("edri_events_total{kind=\"request\"}"));
  CHECK_THAT(m.body, Catch::Contains("edri_events_by_type_total{type=\"demo.echo\",kind=\"request\"} 1\n"));
  CHECK_THAT(m.body, Catch::Contains("edri_events_by_type_total{type=\"nobody.serves\",kind=\"request\"} 1\n"));
}

TEST_CASE("route templates and query strings are parsed exactly") {
  edri_api::RouteTable t;
  t.add({"GET", "/a/{x}/b", "e.1", {}});
  t.add({"GET", "/a/c/b", "e.2", {}});
  CHECK(t.match("GET", "/a/zz/b")->route->event == "e.1");
  CHECK(t.match("GET", "/a/zz/b")->params.at("x") == "zz");
  CHECK(t.match("GET", "/a/c/b")->route->event == "e.2");
  CHECK_FALSE(t.match("GET", "/a/zz"));
  CHECK_FALSE(t.match("POST", "/a/zz/b"));
  CHECK(t.path_known("/a/zz/b"));
  CHECK_THROWS_WITH(t.add({"GET", "/a/{x}/b", "e.3", {}}), "route GET /a/{x}/b is defined twice");
  CHECK_THROWS_WITH(t.add({"GET", "/a/x{y}", "e", {}}), Catch::Contains("a parameter must be a whole segment"));
  CHECK_THROWS_WITH(t.add({"GET", "rel", "e", {}}), Catch::Contains("must start with /"));
  CHECK_THROWS_WITH(t.add({"GET", "/t/{x:uuid}", "e", {}}),
                    Catch::Contains("parameter type 'uuid' is not one of str, int, number, bool"));
  CHECK_THROWS_WITH(t.add({"GET", "/t/{:int}", "e", {}}), Catch::Contains("a parameter needs a name"));
  t.add({"GET", "/t/{id:int}/{name}", "e.4", {}});
  auto typed = t.match("GET", "/t/12/x%20y");
  REQUIRE(typed);
  CHECK(typed->params.at("id") == "12");  // typed when the api builds the event
  CHECK(typed->types.at("id") == edri_api::ParamType::integer);
  CHECK(typed->types.at("name") == edri_api::ParamType::string);
  using edri_api::ParamType;
  using edri_api::typed_param;
  CHECK(typed_param(ParamType::integer, "-9223372036854775808") == json(INT64_MIN));
  CHECK_FALSE(typed_param(ParamType::integer, "9223372036854775808"));
  CHECK_FALSE(typed_param(ParamType::integer, ""));
  CHECK_FALSE(typed_param(ParamType::integer, "+1"));
  CHECK(typed_param(ParamType::number, "1e3") == json(1000.0));
  CHECK_FALSE(typed_param(ParamType::number, "nan"));
  CHECK_FALSE(typed_param(ParamType::number, "1e999"));
  CHECK(typed_param(ParamType::boolean, "1") == json(true));
  CHECK_FALSE(typed_param(ParamType::boolean, "True"));
  CHECK(typed_param(ParamType::string, "") == json(""));
  auto q = edri_api::parse_query("a=1&b=x%20y&c&d=%zz&e=a+b");
  CHECK(q == std::map<std::string, std::string>{{"a", "1"}, {"b", "x y"}, {"c", ""}, {"d", "%zz"}, {"e", "a b"}});
}

TEST_CASE("WebSocket clients subscribe with filters, send, request and unsubscribe") {
  ApiRig rig;
  probe::WsClient ws(rig.port);
  ws.send({{"op", "subscribe"}, {"type", "audit.*"}, {"id", "all-audit"}});
  CHECK(ws.expect() == json{{"op", "subscribed"}, {"id", "all-audit"}, {"subscription", "all-audit"}});
  ws.send({{"op", "subscribe"}, {"type", "audit.>"}, {"id", "ada-only"}, {"where", {{"user", "ada"}}}});
  CHECK(ws.expect()["op"] == "subscribed");

  auto& driver = Registry::get().context("users");
  driver.notify("audit.login", {{"user", "bob"}});
  driver.notify("audit.login", {{"user", "ada"}});
  std::vector<json> events;
  for (int i = 0; i < 3; ++i) events.push_back(ws.expect());
  CHECK(events[0] == json{{"op", "event"}, {"subscription", "all-audit"}, {"type", "audit.login"}, {"data", {{"user", "bob"}}}});
  CHECK(events[1]["data"] == json{{"user", "ada"}});
  CHECK(events[2]["data"] == json{{"user", "ada"}});
  CHECK(std::set<std::string>{events[1]["subscription"], events[2]["subscription"]} ==
        std::set<std::string>{"all-audit", "ada-only"});

  ws.send({{"op", "request"}, {"type", "demo.echo"}, {"data", {{"text", "over ws"}}}, {"id", 7}});
  json response = ws.expect();
  CHECK(response["trace"].get<std::string>().size() == 32);  // the request's trace id, to find it in logs
  response.erase("trace");
  CHECK(response == json{{"op", "response"}, {"id", 7}, {"type", "demo.echo"}, {"status", "ok"},
                         {"message", ""}, {"data", {{"text", "over ws"}}}});
  ws.send({{"op", "send"}, {"type", "audit.logout"}, {"data", {{"user", "cy"}}}, {"id", 8}});
  // The client itself is subscribed: its own notification comes back too.
  std::vector<json> two{ws.expect(), ws.expect()};
  CHECK(std::count(two.begin(), two.end(), json{{"op", "sent"}, {"id", 8}, {"delivered", 3}}) == 1);

  ws.send({{"op", "unsubscribe"}, {"id", "all-audit"}});
  CHECK(ws.expect()["op"] == "unsubscribed");
  ws.send({{"op", "unsubscribe"}, {"id", "ada-only"}});
  CHECK(ws.expect()["op"] == "unsubscribed");
  CHECK(driver.notify("audit.login", {{"user", "ada"}}) == 2);  // sink1 and sink2 only
  ws.send({{"op", "request"}, {"type", "demo.echo"}, {"data", {{"text", "still here"}}}, {"id", 9}});
  CHECK(ws.expect()["id"] == 9);  // and no event arrived before the response

  ws.send({{"op", "dance"}});
  CHECK(ws.expect()["message"] == "unknown op 'dance'");
  ws.send({{"op", "subscribe"}, {"type", "a.>.b"}});
  CHECK(ws.expect()["message"] == "invalid pattern 'a.>.b'");
}

TEST_CASE("a WebSocket client that stops reading is dropped while another keeps working") {
  ApiRig rig("      ws_buffer_bytes: 65536\n");
  probe::WsClient slow(rig.port);
  probe::WsClient fast(rig.port);
  slow.send({{"op", "subscribe"}, {"type", "flood.>"}});
  CHECK(slow.expect()["op"] == "subscribed");
  auto& driver = Registry::get().context("users");
  const std::string blob(4096, 'x');
  for (int i = 0; i < 5000; ++i) driver.notify("flood.data", {{"i", i}, {"blob", blob}});  // ~20 MB
  fast.send({{"op", "request"}, {"type", "demo.echo"}, {"data", {{"text", "ok"}}}, {"id", 1}});
  CHECK(fast.expect()["status"] == "ok");
  // The slow client finds what the kernel buffered, then the close.
  int received = 0;
  while (slow.next(10s)) ++received;
  CHECK(received < 5000);
  CHECK(slow.close_reason() == "client too slow");
  CHECK(slow.close_code() == 1008);
}

TEST_CASE("WebSocket upgrades need the bearer token too") {
  probe::TempDir tokens;
  const auto file = tokens.write("tokens", "secret-1\n");
  ApiRig rig("      tokens_file: " + file.string() + "\n");
  CHECK_THROWS(probe::WsClient(rig.port));
  probe::WsClient ok(rig.port, {{"Authorization", "Bearer secret-1"}});
  ok.send({{"op", "request"}, {"type", "demo.echo"}, {"data", {{"text", "t"}}}, {"id", 1}});
  CHECK(ok.expect()["status"] == "ok");
}

TEST_CASE("middlewares see each call first and may continue, stop or replace it") {
  ApiRig rig("      middlewares: [api.guard]\n");
  HttpClient c(rig.port);
  auto refused = c.call("GET", "/users/1");
  CHECK(refused.status == 401);
  CHECK(json::parse(refused.body) == json{{"error", "no key"}});
  CHECK(Registry::get().seen("users").empty());  // never routed

  const std::map<std::string, std::string> key{{"x-api-key", "k"}};
  auto ok = c.call("GET", "/users/1", "", key);
  CHECK(ok.status == 200);
  CHECK(c.call("GET", "/users/666", "", key).status == 451);
  auto replaced = c.call("POST", "/users/7/notes", R"({"text":"secret"})", key);
  CHECK(json::parse(replaced.body)["echo"] == json{{"id", "7"}, {"text", "[redacted]"}});
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"hi"})", key).status == 200);

  const auto seen = Registry::get().seen("guard");
  REQUIRE(seen.size() == 5);
  CHECK(seen[1].data["method"] == "GET");
  CHECK(seen[1].data["path"] == "/users/1");
  CHECK(seen[1].data["type"] == "user.get");
  CHECK(seen[4].data["type"] == "demo.echo");

  probe::WsClient ws(rig.port);
  ws.send({{"op", "request"}, {"type", "user.get"}, {"data", {{"id", "666"}}}, {"id", 1}});
  auto stopped = ws.expect();
  CHECK(stopped["op"] == "error");
  CHECK(stopped["status"] == 451);
  ws.send({{"op", "request"}, {"type", "demo.echo"}, {"data", {{"text", "ws"}}}, {"id", 2}});
  CHECK(ws.expect()["status"] == "ok");
  CHECK(Registry::get().seen("guard").back().data["transport"] == "ws");
}

TEST_CASE("a failing middleware answers 502 and nothing is routed") {
  ApiRig rig("      middlewares: [nobody.guards]\n");
  HttpClient c(rig.port);
  auto r = c.call("GET", "/users/1");
  CHECK(r.status == 502);
  CHECK(json::parse(r.body)["message"] == "middleware nobody.guards failed: not_found");
  CHECK(Registry::get().seen("users").empty());
}

TEST_CASE("Idempotency-Key makes repeated POSTs one piece of work for a receiver with dedupe_ms, and is bounded") {
  ApiRig rig;
  HttpClient c(rig.port);
  std::size_t expected = 0;
  // Each POST waits for the one before to be handled (or skipped): the
  // window remembers finished work.
  auto post = [&](int n, const std::string& key, bool handled) {
    std::map<std::string, std::string> headers{{"content-type", "application/json"}};
    if (!key.empty()) headers["Idempotency-Key"] = key;
    auto r = c.call("POST", "/events/order.placed?kind=notification", json{{"n", n}}.dump(), headers);
    CHECK(r.status == 202);
    if (handled) CHECK(Registry::get().wait_for("once", ++expected));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  };
  post(1, "order-1", true);
  post(2, "order-1", false);  // a client retrying after a lost answer
  post(3, "order-2", true);
  post(4, "", true);
  std::set<int> handled;
  for (const auto& s : Registry::get().seen()) {
    if (s.manager == "once") handled.insert(s.data["n"].get<int>());
  }
  CHECK(handled == std::set<int>{1, 3, 4});
  auto r = c.call("POST", "/events/order.placed?kind=notification", "{}",
                  {{"content-type", "application/json"}, {"Idempotency-Key", std::string(256, 'k')}});
  CHECK(r.status == 400);
  CHECK_THAT(r.body, Catch::Contains("Idempotency-Key must be 1 to 255 bytes"));
}
