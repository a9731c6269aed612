// Hostile input against a real edrid on the shipped api defaults: malformed
// and deeply nested frames and bodies, foreign web pages, unexposed types,
// floods, and config files built to recurse or explode. Each case asserts
// the daemon is still up and still answering afterwards.
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/temp_file.hpp"
#include "support/tls_certs.hpp"
#include "support/tls_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <fstream>
#include <set>

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kEdrid = EDRID_BIN;

// edrid with the api on its defaults (only the port chosen), echo and a store.
struct Edrid {
  probe::TempDir dir;
  unsigned short port = probe::free_port();
  std::unique_ptr<probe::ChildProcess> proc;

  // `more_managers`: YAML list items started before the api.
  explicit Edrid(const std::string& api_extra = "", const std::string& more_managers = "") {
    auto cfg = dir.write("edrid.yaml", "router:\n  id: hostile\n  log: {level: info}\nmanagers:\n"
                                       "  - name: echo\n    plugin: echo\n"
                                       "  - name: store\n    plugin: store\n" +
                                           more_managers + "  - name: api\n    plugin: api\n    config:\n      port: " +
                                           std::to_string(port) + "\n" + api_extra);
    proc = std::make_unique<probe::ChildProcess>(std::vector<std::string>{kEdrid, "-c", cfg.string()},
                                                 dir.path() / "out.log");
    REQUIRE(proc->wait_output("router 'hostile' running ", 20s));
  }
  ~Edrid() {
    proc->signal(SIGTERM);
    const int rc = proc->wait_exit(20s);
    INFO(proc->output());
    CHECK(rc == 0);
  }
  // Still up and routing: a fresh connection gets an echo back.
  void still_serving() const {
    CHECK(::kill(proc->pid(), 0) == 0);
    probe::HttpClient c(port);
    auto r = c.call("POST", "/events/demo.echo", R"({"text":"alive"})");
    REQUIRE(r.status == 200);
    CHECK(json::parse(r.body) == json{{"text", "alive"}});
  }
};

}  // namespace

TEST_CASE("every WebSocket op with every field of a wrong type gets an error frame, and the client goes on") {
  Edrid edrid;
  probe::WsClient ws(edrid.port);
  const std::vector<std::string> ops{"send", "request", "subscribe", "unsubscribe", "dance"};
  const std::vector<std::string> fields{"op", "type", "data", "id", "where", "extra"};
  const std::vector<json> bad{123,      nullptr, true,    json::array(), json::object(), "",
                              "a..b",   ">.a",   -1.5,    std::string(300, 'x'), json::array({json::array()})};
  int frames = 0, errors = 0;
  for (const auto& op : ops) {
    for (const auto& field : fields) {
      for (const auto& value : bad) {
        json f{{"op", op}, {"type", "demo.echo"}, {"id", "f" + std::to_string(frames)}};
        if (op == "subscribe") f["type"] = "audit.>";
        f[field] = value;
        ws.send(f);
        ++frames;
        // Exactly one answer per frame: an error, or the op's own answer
        // when the value happens to be valid there (data: 123 for a send).
        auto a = ws.expect();
        INFO(f.dump() << " -> " << a.dump());
        REQUIRE(a.contains("op"));
        REQUIRE(a["op"].is_string());
        if (a["op"] == "error") {
          ++errors;
          CHECK(a["message"].is_string());
        } else {
          CHECK((a["op"] == "sent" || a["op"] == "response" || a["op"] == "subscribed" || a["op"] == "unsubscribed"));
        }
        if (a["op"] == "subscribed") {  // take it back so names stay free
          ws.send({{"op", "unsubscribe"}, {"id", a["subscription"]}});
          CHECK(ws.expect()["op"] == "unsubscribed");
        }
      }
    }
  }
  CHECK(frames == 330);
  CHECK(errors > 250);
  // The finding that crashed edrid: a type that is not a string.
  for (const json& type : {json(123), json(nullptr), json::object()}) {
    ws.send({{"op", "send"}, {"type", type}});
    auto a = ws.expect();
    CHECK(a["op"] == "error");
    CHECK(a["message"] == (type.is_null() || type.is_number() || type.is_object() ? "\"type\" must be a string" : ""));
  }
  ws.send_text("{}");
  CHECK(ws.expect()["message"] == "a frame needs \"op\" (a string)");
  ws.send_text("[1,2");
  CHECK_THAT(ws.expect()["message"].get<std::string>(), Catch::StartsWith("malformed JSON"));
  ws.send({{"op", "request"}, {"type", "demo.echo"}, {"data", {{"text", "after"}}}, {"id", 1}});
  CHECK(ws.expect()["data"] == json{{"text", "after"}});
  edrid.still_serving();
}

TEST_CASE("JSON nested 120 000 deep is refused over HTTP and WebSocket without harm") {
  Edrid edrid;
  const std::string deep = std::string(120'000, '[') + std::string(120'000, ']');
  probe::HttpClient c(edrid.port);
  auto r = c.call("POST", "/events/anything", deep);
  CHECK(r.status == 400);
  CHECK_THAT(json::parse(r.body)["message"].get<std::string>(), Catch::Contains("nested deeper than 128 levels"));
  // Brackets inside strings are text, not nesting.
  r = c.call("POST", "/events/demo.echo", json{{"text", std::string(5000, '[')}}.dump());
  CHECK(r.status == 200);
  // 128 levels pass; 129 do not (the outer object is one).
  auto nested = [](int levels) {
    json v = "x";
    for (int i = 1; i < levels; ++i) v = json{{"v", v}};
    return json{{"text", "deep"}, {"more", v}}.dump();
  };
  CHECK(c.call("POST", "/events/demo.echo", nested(128)).status == 200);
  CHECK(c.call("POST", "/events/demo.echo", nested(129)).status == 400);

  probe::WsClient ws(edrid.port);
  ws.send_text(R"({"op":"send","type":"a.b","data":)" + deep + "}");
  auto a = ws.expect();
  CHECK(a["op"] == "error");
  CHECK_THAT(a["message"].get<std::string>(), Catch::Contains("nested deeper"));
  edrid.still_serving();
}

TEST_CASE("a foreign web page can neither open a WebSocket nor post, nor reach the api under another name") {
  Edrid edrid;
  const std::string own = "http://127.0.0.1:" + std::to_string(edrid.port);
  CHECK_THROWS(probe::WsClient(edrid.port, {{"Origin", "http://evil.example"}}));
  CHECK_THROWS(probe::WsClient(edrid.port, {{"Origin", "null"}}));
  probe::WsClient same(edrid.port, {{"Origin", own}});  // the api's own pages may
  same.send({{"op", "request"}, {"type", "demo.echo"}, {"data", {{"text", "t"}}}, {"id", 1}});
  CHECK(same.expect()["status"] == "ok");

  probe::HttpClient c(edrid.port);
  // A form post needs no CORS preflight: refused for its origin...
  auto r = c.call("POST", "/events/demo.echo", R"({"text":"x"})",
                  {{"Origin", "http://evil.example"}, {"Content-Type", "text/plain"}});
  CHECK(r.status == 403);
  CHECK_THAT(r.body, Catch::Contains("origin 'http://evil.example' may not call this api"));
  // ...and for its type, even with no Origin at all.
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})", {{"Content-Type", "text/plain"}}).status == 415);
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})",
               {{"Content-Type", "application/x-www-form-urlencoded"}}).status == 415);
  // An <img> or a navigation from another site carries no Origin, but the
  // browser marks it.
  CHECK(c.call("GET", "/stats", "", {{"Sec-Fetch-Site", "cross-site"}}).status == 403);
  CHECK(c.call("GET", "/stats", "", {{"Sec-Fetch-Site", "same-origin"}}).status == 200);
  CHECK(c.call("GET", "/stats", "", {{"Sec-Fetch-Site", "none"}}).status == 200);
  // DNS rebinding: the page's own name pointed at 127.0.0.1.
  r = c.call("GET", "/stats", "", {{"Host", "evil.example:" + std::to_string(edrid.port)}});
  CHECK(r.status == 403);
  CHECK_THAT(r.body, Catch::Contains("host 'evil.example:"));
  CHECK(c.call("GET", "/stats", "", {{"Host", "localhost:" + std::to_string(edrid.port)}}).status == 200);
  CHECK(c.call("GET", "/stats", "", {{"Host", "[::1]:" + std::to_string(edrid.port)}}).status == 200);
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})", {{"Origin", own}}).status == 200);
  // A page that keeps trying fills no disk: about one line a second.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 300; ++i) c.call("GET", "/stats", "", {{"Host", "evil.example"}});
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
  const std::string out = edrid.proc->output();
  std::size_t lines = 0;
  for (auto at = out.find("refused GET /stats"); at != std::string::npos; at = out.find("refused GET /stats", at + 1)) {
    ++lines;
  }
  CHECK(lines <= static_cast<std::size_t>(seconds) + 4);
  CHECK_THAT(out, Catch::Contains("more refused since the last line"));
  edrid.still_serving();
}

TEST_CASE("configured hosts and origins are let in") {
  Edrid edrid("      allowed_hosts: [edri.internal]\n      allowed_origins: [\"https://console.example\"]\n");
  probe::HttpClient c(edrid.port);
  CHECK(c.call("GET", "/stats", "", {{"Host", "edri.internal"}}).status == 200);
  CHECK(c.call("GET", "/stats", "", {{"Host", "other.internal"}}).status == 403);
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})", {{"Origin", "https://console.example"}}).status == 200);
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})", {{"Origin", "https://console.example:8443"}}).status ==
        403);
  probe::WsClient ws(edrid.port, {{"Origin", "https://console.example"}});
}

TEST_CASE("by default the built-in namespaces are not exposed to /events or WebSocket") {
  // A route is the operator's own mapping: it reaches the store whatever expose says.
  Edrid edrid("      routes: [{method: POST, path: \"/kv/{key}\", event: store.set}]\n");
  probe::HttpClient c(edrid.port);
  for (const std::string type : {"store.delete", "store.set", "store.list", "scheduler.add", "edri.dead_letter",
                                 "link.gap"}) {
    INFO(type);
    auto r = c.call("POST", "/events/" + type, R"({"key":"k","value":1})");
    CHECK(r.status == 403);
    CHECK_THAT(r.body, Catch::Contains("is not exposed"));
    CHECK(c.call("POST", "/events/" + type + "?kind=notification", "{}").status == 403);
  }
  probe::WsClient ws(edrid.port);
  ws.send({{"op", "request"}, {"type", "store.list"}, {"data", {{"prefix", ""}}}, {"id", 1}});
  auto a = ws.expect();
  CHECK(a["op"] == "error");
  CHECK(a["status"] == 403);
  ws.send({{"op", "subscribe"}, {"type", "store.>"}, {"id", "s"}});
  CHECK(ws.expect()["status"] == 403);
  // Wildcard subscriptions get the exposed types only: store.changed, which
  // this route's store.set publishes, never reaches them.
  ws.send({{"op", "subscribe"}, {"type", ">"}, {"id", "all"}});
  CHECK(ws.expect()["op"] == "subscribed");
  ws.send({{"op", "subscribe"}, {"type", "*.changed"}, {"id", "changed"}});
  CHECK(ws.expect()["op"] == "subscribed");
  CHECK(c.call("POST", "/kv/k", R"({"value":1})").status == 200);
  ws.send({{"op", "send"}, {"type", "app.changed"}, {"data", {{"n", 1}}}, {"id", 2}});
  int events = 0;
  for (int i = 0; i < 3; ++i) {
    auto f = ws.expect();
    INFO(f.dump());
    CHECK(f["type"] != "store.changed");
    events += f["op"] == "event" && f["type"] == "app.changed";
  }
  CHECK(events == 2);  // through "all" and "changed"
  edrid.still_serving();
}

TEST_CASE("expose names the types a deployment opens, separately for publish and subscribe") {
  Edrid edrid("      expose: {publish: [\"store.set\", \"store.get\", \"app.>\"], subscribe: [\"store.changed\"]}\n");
  probe::HttpClient c(edrid.port);
  CHECK(c.call("POST", "/events/store.set", R"({"key":"k","value":1})").status == 200);
  CHECK(json::parse(c.call("POST", "/events/store.get", R"({"key":"k"})").body)["value"] == 1);
  CHECK(c.call("POST", "/events/store.delete", R"({"key":"k"})").status == 403);
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})").status == 403);
  probe::WsClient ws(edrid.port);
  ws.send({{"op", "subscribe"}, {"type", "app.>"}, {"id", "a"}});
  CHECK(ws.expect()["status"] == 403);
  ws.send({{"op", "subscribe"}, {"type", "store.*"}, {"id", "s"}});
  CHECK(ws.expect()["op"] == "subscribed");
  CHECK(c.call("POST", "/events/store.set", R"({"key":"k","value":2})").status == 200);
  auto e = ws.expect();
  CHECK(e["type"] == "store.changed");
  CHECK(e["data"]["key"] == "k");
}

TEST_CASE("with tokens, only GET /healthz goes without one") {
  probe::TempDir t;
  const auto file = t.write("tokens", "s3cret\n");
  Edrid edrid("      tokens_file: " + file.string() + "\n      routes: [{method: POST, path: \"/{key}\", event: demo.echo}]\n");
  probe::HttpClient c(edrid.port);
  CHECK(c.call("GET", "/healthz").status == 200);
  CHECK(c.call("POST", "/healthz", R"({"text":"x"})").status == 401);
  CHECK(c.call("GET", "/healthz?x=1").status == 200);
  // The scheme is case-insensitive.
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})", {{"Authorization", "bearer s3cret"}}).status == 200);
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})", {{"Authorization", "Bearer wrong"}}).status == 401);
}

TEST_CASE("a WebSocket client cannot flood subscriptions or requests past its caps") {
  Edrid edrid("      ws_max_subscriptions: 50\n");
  probe::WsClient ws(edrid.port);
  for (int i = 0; i < 50; ++i) ws.send({{"op", "subscribe"}, {"type", "flood." + std::to_string(i)}, {"id", i}});
  for (int i = 0; i < 50; ++i) REQUIRE(ws.expect()["op"] == "subscribed");
  ws.send({{"op", "subscribe"}, {"type", "flood.x"}, {"id", "one-too-many"}});
  auto a = ws.expect();
  CHECK(a["status"] == 429);
  CHECK_THAT(a["message"].get<std::string>(), Catch::Contains("ws_max_subscriptions 50"));
  ws.send({{"op", "unsubscribe"}, {"id", 0}});
  CHECK(ws.expect()["op"] == "unsubscribed");
  ws.send({{"op", "subscribe"}, {"type", "flood.x"}, {"id", "now-fits"}});
  CHECK(ws.expect()["op"] == "subscribed");
  edrid.still_serving();
}

TEST_CASE("a WebSocket request answered by several responders frees its one place once") {
  // Two responders answer each request: two response frames, one place.
  // Freeing it per answer wrapped the client's count below zero, and every
  // later request of that client was refused as a flood.
  Edrid edrid("      ws_max_in_flight: 4\n", "  - name: echo2\n    plugin: echo\n");
  probe::WsClient ws(edrid.port);
  for (int i = 0; i < 10; ++i) {
    INFO(i);
    ws.send({{"op", "request"}, {"type", "demo.echo"}, {"data", {{"text", "twice"}}}, {"id", i}});
    for (int answer = 0; answer < 2; ++answer) {
      auto a = ws.expect();
      REQUIRE(a["op"] == "response");
      CHECK(a["id"] == i);
      CHECK(a["status"] == "ok");
    }
  }
}

TEST_CASE("?timeout_ms= is bounded and parsed strictly") {
  Edrid edrid;
  probe::HttpClient c(edrid.port);
  for (const std::string bad : {"9223372036854775807", "0", "-5", "12abc", "", "300001"}) {
    INFO(bad);
    auto r = c.call("POST", "/events/demo.echo?timeout_ms=" + bad, R"({"text":"x"})");
    CHECK(r.status == 400);
    CHECK_THAT(r.body, Catch::Contains("timeout_ms must be an integer from 1 to 300000"));
  }
  CHECK(c.call("POST", "/events/demo.echo?timeout_ms=300000", R"({"text":"x"})").status == 200);
}

TEST_CASE("?priority= is bounded and parsed strictly, and a good one is taken") {
  Edrid edrid;
  probe::HttpClient c(edrid.port);
  for (const std::string bad : {"high", "1000001", "-1000001", "1.5", "", "7x"}) {
    INFO(bad);
    auto r = c.call("POST", "/events/demo.echo?priority=" + bad, R"({"text":"x"})");
    CHECK(r.status == 400);
    CHECK_THAT(r.body, Catch::Contains("priority must be an integer from -1000000 to 1000000"));
  }
  CHECK(c.call("POST", "/events/demo.echo?priority=-20", R"({"text":"x"})").status == 200);
  CHECK(c.call("POST", "/events/demo.echo?kind=notification&priority=5", R"({"text":"x"})").status == 202);
}

namespace {
std::string api_with_config(const std::string& config_yaml) {
  return "managers:\n  - name: api\n    plugin: api\n    config:\n" + config_yaml;
}
}  // namespace

TEST_CASE("edrid --check-config refuses a YAML alias cycle and an alias bomb with file:line:col, quickly") {
  probe::TempDir dir;
  auto cycle = dir.write("cycle.yaml", api_with_config("      routes: &a [*a]\n"));
  auto [rc, out] = probe::run_to_end({kEdrid, "--check-config", "-c", cycle.string()}, dir.path() / "a.log");
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains(cycle.string() + ":"));
  CHECK_THAT(out, Catch::Contains("nested deeper than 64 levels"));

  // "Billion laughs": 9 levels of 9 aliases each, 383 bytes that expand to
  // 9^9 values.
  std::string bomb = "      routes:\n        - &a0 [x,x,x,x,x,x,x,x,x]\n";
  for (int i = 1; i <= 9; ++i) {
    bomb += "        - &a" + std::to_string(i) + " [";
    for (int j = 0; j < 9; ++j) bomb += (j ? ",*a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  auto boom = dir.write("bomb.yaml", api_with_config(bomb));
  const auto start = std::chrono::steady_clock::now();
  std::tie(rc, out) = probe::run_to_end({kEdrid, "--check-config", "-c", boom.string()}, dir.path() / "b.log");
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains("expands to more than 100000 values"));
  CHECK_THAT(out, Catch::Matches("(.|\n)*" + boom.string() + ":\\d+:\\d+: (.|\n)*"));
  // Not a timing assertion on speed: it must finish rather than grow to
  // gigabytes until the kernel kills it (the 30 s bound is run_to_end's).
  CHECK(std::chrono::steady_clock::now() - start < 30s);
}

TEST_CASE("SIGHUP with an alias cycle in a plugin's config changes nothing and edrid keeps serving") {
  Edrid edrid;
  const auto file = edrid.dir.path() / "edrid.yaml";
  std::string bad = "router:\n  id: hostile\nmanagers:\n  - name: api\n    plugin: api\n    config:\n"
                    "      port: " + std::to_string(edrid.port) + "\n      routes: &a [*a]\n";
  edrid.dir.write("edrid.yaml", bad);
  edrid.proc->signal(SIGHUP);
  REQUIRE(edrid.proc->wait_output("still running the previous configuration", 20s));
  CHECK_THAT(edrid.proc->output(), Catch::Contains("nested deeper than 64 levels"));
  edrid.still_serving();
}

TEST_CASE("edrid keeps running when the pipe its logs go to is closed") {
  probe::TempDir dir;
  const unsigned short port = probe::free_port();
  auto cfg = dir.write("edrid.yaml", "router:\n  id: piped\nmanagers:\n  - name: echo\n    plugin: echo\n"
                                     "  - name: api\n    plugin: api\n    config: {port: " + std::to_string(port) + "}\n");
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<std::string> argv{kEdrid, "-c", cfg.string()};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  REQUIRE(::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  std::string seen;
  char buf[4096];
  while (seen.find("running 2 managers") == std::string::npos) {
    const auto n = ::read(fds[0], buf, sizeof buf);
    REQUIRE(n > 0);
    seen.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);  // the log collector goes away
  // Things that log: a reload (at warn) and refused requests.
  ::kill(pid, SIGHUP);
  probe::HttpClient c(port);
  for (int i = 0; i < 20; ++i) c.call("GET", "/stats", "", {{"Host", "evil.example"}});
  std::this_thread::sleep_for(300ms);
  int status = 0;
  CHECK(::waitpid(pid, &status, WNOHANG) == 0);  // still running
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})").status == 200);
  ::kill(pid, SIGTERM);
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a token removed from tokens_file is refused within seconds, without a reload") {
  probe::TempDir t;
  const auto file = t.write("tokens", "keep-me\nrevoke-me\n");
  Edrid edrid("      tokens_file: " + file.string() + "\n");
  probe::HttpClient c(edrid.port);
  auto with = [&](const std::string& token) {
    return c.call("POST", "/events/demo.echo", R"({"text":"x"})", {{"Authorization", "Bearer " + token}}).status;
  };
  CHECK(with("revoke-me") == 200);
  t.write("tokens", "keep-me\n");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (with("revoke-me") != 401 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  CHECK(with("revoke-me") == 401);
  CHECK(with("keep-me") == 200);
  // A file emptied by mistake does not open the api, nor lock everyone out.
  t.write("tokens", "# nothing yet\n");
  // It is read again when a request needs it, at most once a second.
  for (int i = 0; i < 30 && edrid.proc->output().find("holds no token; keeping") == std::string::npos; ++i) {
    CHECK(with("keep-me") == 200);
    std::this_thread::sleep_for(200ms);
  }
  CHECK_THAT(edrid.proc->output(), Catch::Contains("holds no token; keeping the tokens read before"));
  CHECK(with("keep-me") == 200);
  CHECK(with("revoke-me") == 401);
}

namespace {
// One request from a chosen loopback source address; the status, or 0 when
// the connection was closed without an answer.
unsigned status_from(const std::string& source, unsigned short port, const std::string& request) {
  boost::asio::io_context io;
  boost::beast::tcp_stream s(io);
  s.socket().open(boost::asio::ip::tcp::v4());
  s.socket().bind({boost::asio::ip::make_address(source), 0});
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  s.expires_after(20s);
  boost::asio::write(s.socket(), boost::asio::buffer(request));
  boost::beast::flat_buffer buf;
  boost::beast::http::response<boost::beast::http::string_body> res;
  boost::beast::error_code ec;
  boost::beast::http::read(s, buf, res, ec);
  return ec ? 0 : res.result_int();
}
}  // namespace

TEST_CASE("slow clients from one address cannot lock others out (shipped limits: 256 per address, 10 s heads)") {
  Edrid edrid;
  boost::asio::io_context io;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> slow;
  for (int i = 0; i < 256; ++i) {
    auto s = std::make_unique<boost::asio::ip::tcp::socket>(io);
    s->connect({boost::asio::ip::make_address("127.0.0.1"), edrid.port});
    boost::asio::write(*s, boost::asio::buffer(std::string("GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")));
    slow.push_back(std::move(s));
  }
  std::this_thread::sleep_for(500ms);
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  CHECK(status_from("127.0.0.1", edrid.port, get) == 503);  // that address has used its share
  CHECK(status_from("127.0.0.2", edrid.port, get) == 200);  // another address has not
  // Each slow head is cut off 10 s after its first byte; the address may connect again.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  unsigned again = 0;
  while ((again = status_from("127.0.0.1", edrid.port, get)) != 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(500ms);
  }
  CHECK(again == 200);
  int closed = 0;
  for (auto& s : slow) {
    char b;
    boost::system::error_code ec;
    s->non_blocking(true);
    s->read_some(boost::asio::buffer(&b, 1), ec);
    closed += ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }
  CHECK(closed == 256);
  edrid.still_serving();
}

TEST_CASE("a URL that does not decode to UTF-8 gets a clear 400 and the connection stays usable") {
  Edrid edrid("      routes: [{method: GET, path: \"/echo/{text}\", event: demo.echo}]\n");
  probe::HttpClient c(edrid.port);
  for (const std::string target : {"/events/%ff", "/echo/%ff", "/echo/ok?x=%c3", "/events/demo.echo?%ff=1"}) {
    INFO(target);
    auto r = c.call("POST", target, R"({"text":"x"})");
    if (target.rfind("/echo/", 0) == 0) r = c.call("GET", target);
    CHECK(r.status == 400);
    CHECK_THAT(json::parse(r.body)["message"].get<std::string>(), Catch::Contains("UTF-8"));
  }
  CHECK(json::parse(c.call("GET", "/echo/J%C3%BCrgen").body)["text"] == "J\xC3\xBCrgen");
}

TEST_CASE("YAML nested past the reader's limit and a plugin file that is no library get clear messages") {
  probe::TempDir dir;
  auto deep = dir.write("deep.yaml", "managers: " + std::string(5000, '[') + std::string(5000, ']') + "\n");
  auto [rc, out] = probe::run_to_end({kEdrid, "--check-config", "-c", deep.string()}, dir.path() / "a.log");
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains(deep.string() + ":1:"));
  CHECK_THAT(out, Catch::Contains("nested deeper than the YAML reader allows"));
  CHECK_THAT(out, !Catch::Contains("bad file"));

  auto garbage = dir.write("libgarbage.so", std::string(4096, '\x7f'));
  auto cfg = dir.write("plugin.yaml", "managers:\n  - name: x\n    plugin: " + garbage.string() + "\n");
  std::tie(rc, out) = probe::run_to_end({kEdrid, "--check-config", "-c", cfg.string()}, dir.path() / "b.log");
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains(cfg.string() + ":3:13: manager 'x': " + garbage.string() + ": cannot load: "));
  CHECK_THAT(out, !Catch::Contains("Bad file descriptor"));
}

TEST_CASE("a token limited to patterns reaches only those types, over HTTP and WebSocket") {
  probe::TempDir t;
  const auto file = t.write("tokens", "# token, then the patterns it may reach (none: all that expose allows)\n"
                                      "admin\norders-svc orders.> demo.echo\n");
  Edrid edrid("      tokens_file: " + file.string() + "\n      routes: [{method: GET, path: \"/echo/{text}\", event: demo.echo}]\n");
  probe::HttpClient c(edrid.port);
  auto as = [](const std::string& token) { return std::map<std::string, std::string>{{"Authorization", "Bearer " + token}}; };
  CHECK(c.call("POST", "/events/demo.echo", R"({"text":"x"})", as("orders-svc")).status == 200);
  CHECK(c.call("POST", "/events/orders.new?kind=notification", "{}", as("orders-svc")).status == 202);
  auto r = c.call("POST", "/events/audit.login?kind=notification", "{}", as("orders-svc"));
  CHECK(r.status == 403);
  CHECK_THAT(r.body, Catch::Contains("this token may not reach event type 'audit.login'"));
  CHECK(c.call("POST", "/events/audit.login?kind=notification", "{}", as("admin")).status == 202);
  // Scopes do not reach into built-in namespaces expose keeps closed.
  CHECK(c.call("POST", "/events/store.get", R"({"key":"k"})", as("admin")).status == 403);

  probe::WsClient ws(edrid.port, as("orders-svc"));
  ws.send({{"op", "subscribe"}, {"type", "audit.>"}, {"id", "a"}});
  auto e = ws.expect();
  CHECK(e["status"] == 403);
  CHECK(e["message"] == "this token may not reach pattern 'audit.>'");
  ws.send({{"op", "subscribe"}, {"type", ">"}, {"id", "all"}});
  CHECK(ws.expect()["op"] == "subscribed");
  ws.send({{"op", "request"}, {"type", "audit.read"}, {"id", 1}});
  CHECK(ws.expect()["status"] == 403);
  // Through ">", only its own types arrive: audit.login (sent by admin) does not.
  CHECK(c.call("POST", "/events/audit.login?kind=notification", "{}", as("admin")).status == 202);
  CHECK(c.call("POST", "/events/orders.shipped?kind=notification", R"({"n":1})", as("admin")).status == 202);
  auto got = ws.expect();
  CHECK(got["type"] == "orders.shipped");
}

namespace {
// edrid with echo, a cluster_probe consumer "busy" that spends `delay_us`
// on each event (its queue as `queue_yaml` says), and the api last (with
// `api_extra` under its config).
struct BusyEdrid {
  probe::TempDir dir;
  unsigned short port = probe::free_port();
  std::unique_ptr<probe::ChildProcess> proc;

  explicit BusyEdrid(int delay_us, const std::string& queue_yaml = "", const std::string& api_extra = "") {
    auto cfg = dir.write("edrid.yaml", "router:\n  id: busy\n  log: {level: info}\n  plugin_dirs: [" EDRI_TEST_FIXTURE_DIR
                                       "]\nmanagers:\n  - name: echo\n    plugin: echo\n"
                                       "  - name: busy\n    plugin: cluster_probe\n"
                                       "    config: {role: consumer, delay_us: " + std::to_string(delay_us) + "}\n" +
                                           queue_yaml + "  - name: api\n    plugin: api\n    config:\n      port: " +
                                           std::to_string(port) + "\n" + api_extra);
    proc = std::make_unique<probe::ChildProcess>(std::vector<std::string>{kEdrid, "-c", cfg.string()},
                                                 dir.path() / "out.log");
    REQUIRE(proc->wait_output("running 3 managers", 20s));
  }
};
}  // namespace

TEST_CASE("a receiver stuck on a full when_full=block queue never stalls the api's I/O threads") {
  // A consumer that spends 3 s on each event, behind a queue of one that
  // makes senders wait (shipped when_full: block). A client sending to it
  // waits for room; nobody else does: without this, the waiting send held
  // an HTTP I/O thread and every other client with it.
  BusyEdrid edrid(3'000'000, "    queue: {capacity: 1, when_full: block}\n");
  const unsigned short port = edrid.port;
  auto& proc = *edrid.proc;
  auto seq = [](int n) { return json{{"from", "web"}, {"n", n}}.dump(); };
  probe::HttpClient c(port);
  // One being handled, one queued (the queue is full for senders that
  // wait), one in the place kept for senders that must not.
  for (int n = 1; n <= 3; ++n) {
    auto r = c.call("POST", "/events/probe.seq?kind=notification", seq(n));
    REQUIRE(r.status == 202);
    CHECK(json::parse(r.body)["delivered"] == 1);
  }
  std::atomic<bool> third_answered{false};
  probe::HttpResult third;
  std::thread waiting([&] {
    probe::HttpClient w(port);
    third = w.call("POST", "/events/probe.seq?kind=notification", seq(4));
    third_answered = true;
  });
  probe::WsClient ws(port);
  ws.send({{"op", "send"}, {"type", "probe.seq"}, {"data", json::parse(seq(5))}, {"id", "parked"}});
  // Meanwhile everyone else is served, over many connections (more than
  // the api has I/O threads).
  for (int i = 0; i < 8; ++i) {
    probe::HttpClient other(port);
    auto e = other.call("POST", "/events/demo.echo", R"({"text":"alive"})");
    CHECK(e.status == 200);
  }
  CHECK_FALSE(third_answered.load());  // still waiting for room: the consumer takes 3 s an event
  // A request that finds no room within its own timeout: 503.
  auto busy = c.call("POST", "/events/probe.report?timeout_ms=300", "{}");
  CHECK(busy.status == 503);
  CHECK_THAT(busy.body, Catch::Contains("stayed full"));
  // The waiting sends go once there is room: nothing was refused or lost.
  waiting.join();
  CHECK(third.status == 202);
  CHECK(json::parse(third.body)["delivered"] == 1);
  auto sent = ws.expect();
  CHECK(sent["op"] == "sent");
  CHECK(sent["delivered"] == 1);
  auto metrics = c.call("GET", "/metrics").body;
  CHECK_THAT(metrics, Catch::Contains("edri_rejected_total 0"));
  CHECK_THAT(metrics, !Catch::Contains("edri_would_wait_total 0"));
  proc.signal(SIGTERM);
  CHECK(proc.wait_exit(60s) == 0);
}

TEST_CASE("a client that leaves while its request waits gives its connection back at once") {
  // A consumer busy for 4 s on each event; requests queued behind it wait.
  // With max_connections 3, three clients that send such a request and
  // leave would lock everyone out until their requests are answered.
  BusyEdrid edrid(4'000'000, "", "      max_connections: 3\n");
  const unsigned short port = edrid.port;
  auto& proc = *edrid.proc;
  {
    probe::HttpClient c(port);
    REQUIRE(c.call("POST", "/events/probe.seq?kind=notification", R"({"from":"web","n":1})").status == 202);
  }
  boost::asio::io_context io;
  for (int i = 0; i < 3; ++i) {
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::asio::write(s, boost::asio::buffer(std::string(
                              "POST /events/probe.report?timeout_ms=60000 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")));
    std::this_thread::sleep_for(100ms);  // read and routed before the client goes
  }  // each socket closes here
  // Seen gone (code 499), their places are free well before the consumer
  // gets to their requests.
  std::string metrics;
  for (int i = 0; i < 40 && metrics.find("code=\"499\"} 3") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
    probe::HttpClient m(port);
    metrics = m.call("GET", "/metrics").body;
  }
  CHECK_THAT(metrics, Catch::Contains("edri_http_requests_total{code=\"499\"} 3"));
  probe::HttpClient c(port);
  auto r = c.call("POST", "/events/demo.echo", R"({"text":"in"})");
  CHECK(r.status == 200);
  // So do a WebSocket client's requests when it goes.
  {
    probe::WsClient ws(port);
    for (int i = 0; i < 2; ++i) ws.send({{"op", "request"}, {"type", "probe.report"}, {"data", json::object()}, {"id", i}});
    std::this_thread::sleep_for(200ms);
  }
  // Their requests are cancelled, not left for the consumer: once it is
  // done with the first event it skips all five instead of spending 20 s.
  json busy;
  for (int i = 0; i < 200; ++i) {
    const json stats = json::parse(c.call("GET", "/stats").body);
    for (const auto& m : stats["managers"]) {
      if (m["name"] == "busy") busy = m;
    }
    if (busy["cancelled"] == 5) break;
    std::this_thread::sleep_for(50ms);
  }
  CHECK(busy["cancelled"] == 5);
  CHECK(busy["handled"] == 1);
  CHECK(busy["queue"]["depth"] == 0);
  CHECK(json::parse(c.call("GET", "/stats").body)["events"]["cancelled"] == 5);
  CHECK_THAT(c.call("GET", "/metrics").body, Catch::Contains("edri_cancelled_total 5"));
  proc.signal(SIGTERM);
  CHECK(proc.wait_exit(30s) == 0);
}

TEST_CASE("the api serves https and wss with tls_cert and tls_key, and plain HTTP on that port gets nowhere") {
  probe::TempDir dir;
  probe::TlsCerts certs(dir.path(), "api");
  const unsigned short port = probe::free_port();
  auto cfg = dir.write("edrid.yaml", "router:\n  id: tls\nmanagers:\n  - name: echo\n    plugin: echo\n"
                                     "  - name: api\n    plugin: api\n    config:\n      port: " +
                                         std::to_string(port) + "\n      tls_cert: \"" + certs.server().cert.string() +
                                         "\"\n      tls_key: \"" + certs.server().key.string() + "\"\n");
  probe::ChildProcess proc({kEdrid, "-c", cfg.string()}, dir.path() / "out.log");
  REQUIRE(proc.wait_output("listening on https://127.0.0.1:", 20s));
  auto r = probe::https_call(port, certs.ca(), "POST", "/events/demo.echo", R"({"text":"sealed"})");
  CHECK(r.status == 200);
  CHECK(json::parse(r.body) == json{{"text", "sealed"}});
  // Plain HTTP to the TLS port: no HTTP answer, and nothing else is harmed.
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::asio::write(s, boost::asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")));
    std::string got(256, '\0');
    boost::system::error_code ec;
    const auto n = s.read_some(boost::asio::buffer(got), ec);
    CHECK(got.substr(0, n).find("HTTP/1.1 200") == std::string::npos);
  }
  // A client that does not trust the certificate's CA cannot talk to it.
  probe::TlsCerts other(dir.path(), "other");
  CHECK_THROWS(probe::https_call(port, other.ca(), "GET", "/healthz"));
  probe::WssClient ws(port, certs.ca());
  ws.send({{"op", "request"}, {"type", "demo.echo"}, {"data", {{"text", "wss"}}}, {"id", 1}});
  auto a = ws.expect();
  CHECK(a["status"] == "ok");
  CHECK(a["data"]["text"] == "wss");
  CHECK(probe::https_call(port, certs.ca(), "GET", "/healthz").status == 200);
  proc.signal(SIGTERM);
  CHECK(proc.wait_exit(20s) == 0);
}

TEST_CASE("an api certificate that does not load is a config error at its line") {
  probe::TempDir dir;
  auto cfg = dir.write("edrid.yaml", "router:\n  id: tls\nmanagers:\n  - name: api\n    plugin: api\n    config:\n"
                                     "      tls_cert: /nonexistent/cert.pem\n      tls_key: /nonexistent/key.pem\n");
  auto [rc, out] = probe::run_to_end({kEdrid, "--check-config", "-c", cfg.string()}, dir.path() / "check.log");
  CHECK(rc != 0);
  CHECK_THAT(out, Catch::Contains(cfg.string() + ":7:7: manager 'api'"));
  CHECK_THAT(out, Catch::Contains("cannot load certificate /nonexistent/cert.pem"));
}

TEST_CASE("a route parameter of an unknown type is a config error at its line") {
  probe::TempDir dir;
  auto cfg = dir.write("edrid.yaml", "router:\n  id: typed\nmanagers:\n  - name: api\n    plugin: api\n    config:\n"
                                     "      routes:\n        - {path: \"/a/{n:integer}\", event: a.get}\n");
  auto [rc, out] = probe::run_to_end({kEdrid, "--check-config", "-c", cfg.string()}, dir.path() / "check.log");
  CHECK(rc != 0);
  CHECK_THAT(out, Catch::Contains(cfg.string() + ":7:7: manager 'api'"));
  CHECK_THAT(out, Catch::Contains("parameter type 'integer' is not one of str, int, number, bool"));
  cfg = dir.write("edrid.yaml", "router:\n  id: typed\nmanagers:\n  - name: api\n    plugin: api\n    config:\n"
                                "      routes:\n        - {path: /a, event: a.get, query: {limit: long}}\n");
  std::tie(rc, out) = probe::run_to_end({kEdrid, "--check-config", "-c", cfg.string()}, dir.path() / "check2.log");
  CHECK(rc != 0);
  CHECK_THAT(out, Catch::Contains("query parameter 'limit': type must be str, int, number or bool"));
}

namespace {
long rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}
}  // namespace

TEST_CASE("subscribing and unsubscribing ever new patterns does not grow edrid") {
  Edrid edrid("      ws_max_subscriptions: 10\n");
  probe::WsClient ws(edrid.port);
  auto churn = [&](int from, int n) {
    for (int i = from; i < from + n; ++i) {
      const std::string p = "churn.p" + std::to_string(i) + ".>";
      ws.send({{"op", "subscribe"}, {"type", p}, {"id", "s"}});
      REQUIRE(ws.expect()["op"] == "subscribed");
      ws.send({{"op", "unsubscribe"}, {"id", "s"}});
      REQUIRE(ws.expect()["op"] == "unsubscribed");
    }
  };
  churn(0, 5000);  // warm up: pools and tables at their working size
  const long before = rss_kib(edrid.proc->pid());
  churn(5000, 20000);
  const long after = rss_kib(edrid.proc->pid());
  INFO("RSS " << before << " KiB -> " << after << " KiB over 20 000 patterns");
  // Each pattern used to leave its handler behind in the SDK (a slot and
  // its captures) and an entry in the api: about 50 B a pattern.
  CHECK(after - before < 512);
  edrid.still_serving();
}

TEST_CASE("SIGTERM answers the HTTP requests in flight before the api closes") {
  // The request waits ~2 s behind an event the consumer is busy with; the
  // stop comes meanwhile. The api stops first (it is listed last) and must
  // wait for the answer (within stop_grace_ms, 5 s by default).
  BusyEdrid edrid(2'000'000);
  const unsigned short port = edrid.port;
  auto& proc = *edrid.proc;
  probe::HttpClient c(port);
  REQUIRE(c.call("POST", "/events/probe.seq?kind=notification", R"({"from":"web","n":1})").status == 202);
  probe::HttpResult answer;
  std::thread in_flight([&] {
    try {
      probe::HttpClient w(port);
      answer = w.call("POST", "/events/probe.report", "{}");
    } catch (const std::exception& e) {
      answer.body = e.what();  // cut off: status stays 0
    }
  });
  std::this_thread::sleep_for(300ms);
  proc.signal(SIGTERM);
  in_flight.join();
  CHECK(answer.status == 200);
  CHECK_THAT(answer.body, Catch::Contains("\"received\":1"));
  CHECK(proc.wait_exit(20s) == 0);
}

TEST_CASE("a manager restarted by SIGHUP answers every request meanwhile, none with 404") {
  probe::TempDir dir;
  const unsigned short port = probe::free_port();
  auto config = [&](int capacity) {
    return "router:\n  id: reload\n  log: {level: info}\nmanagers:\n"
           "  - name: echo\n    plugin: echo\n    queue: {capacity: " + std::to_string(capacity) + "}\n"
           "  - name: api\n    plugin: api\n    config: {port: " + std::to_string(port) + "}\n";
  };
  auto cfg = dir.write("edrid.yaml", config(1024));
  probe::ChildProcess proc({kEdrid, "-c", cfg.string()}, dir.path() / "out.log");
  REQUIRE(proc.wait_output("running 2 managers", 20s));
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::map<unsigned, int> other;
  std::thread load([&] {
    probe::HttpClient c(port);
    while (!stop) {
      auto r = c.call("POST", "/events/demo.echo", R"({"text":"x"})");
      if (r.status == 200) {
        ++ok;
      } else {
        ++other[r.status];
      }
    }
  });
  for (int round = 0; round < 5; ++round) {
    while (ok < (round + 1) * 200) std::this_thread::sleep_for(5ms);
    dir.write("edrid.yaml", config(round % 2 == 0 ? 512 : 1024));  // echo changed: restarted
    const auto seen = proc.output().size();
    proc.signal(SIGHUP);
    bool reloaded = false;
    for (int i = 0; i < 500 && !reloaded; ++i) {
      reloaded = proc.output().find("restarted: echo", seen) != std::string::npos;
      if (!reloaded) std::this_thread::sleep_for(20ms);
    }
    REQUIRE(reloaded);
  }
  const int at_end = ok + 200;
  while (ok < at_end) std::this_thread::sleep_for(5ms);
  stop = true;
  load.join();
  std::string others;
  for (const auto& [status, n] : other) others += std::to_string(status) + ": " + std::to_string(n) + " ";
  INFO("answered 200: " << ok << "; others: " << others);
  CHECK(other.empty());
  proc.signal(SIGTERM);
  CHECK(proc.wait_exit(20s) == 0);
}

TEST_CASE("a W3C traceparent's trace id is kept through the router and a worker process, and every answer names it") {
  probe::TempDir dir;
  const unsigned short port = probe::free_port();
  auto cfg = dir.write("edrid.yaml", "router:\n  id: traced\n  log: {level: info}\nmanagers:\n"
                                     "  - name: echo\n    plugin: echo\n    executor: {type: process, workers: 1}\n"
                                     "  - name: api\n    plugin: api\n    config: {port: " + std::to_string(port) + "}\n");
  probe::ChildProcess proc({kEdrid, "-c", cfg.string()}, dir.path() / "out.log");
  REQUIRE(proc.wait_output("running 2 managers", 20s));
  probe::HttpClient c(port);
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string parent = "00-" + trace + "-00f067aa0ba902b7-01";
  auto r = c.call("POST", "/events/demo.echo", R"({"text":"traced"})", {{"traceparent", parent}});
  CHECK(r.status == 200);
  CHECK(r.headers["x-trace-id"] == trace);
  CHECK_THAT(r.headers["traceparent"], Catch::StartsWith("00-" + trace + "-"));
  // A handler that fails in the worker logs under the caller's trace id.
  auto bad = c.call("POST", "/events/demo.echo", R"({"text":5})", {{"traceparent", parent}});
  CHECK(bad.status == 500);
  CHECK(bad.headers["x-trace-id"] == trace);
  CHECK(proc.wait_output("trace=" + trace, 10s));
  // Malformed or invalid ones are ignored: a new trace, never an error.
  std::set<std::string> fresh;
  for (const std::string& p : std::vector<std::string>{"00-" + trace, "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                              "ff-" + trace + "-00f067aa0ba902b7-01", "00-" + trace + "-0000000000000000-01",
                              "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "nonsense"}) {
    INFO(p);
    auto a = c.call("POST", "/events/demo.echo", R"({"text":"x"})", {{"traceparent", p}});
    CHECK(a.status == 200);
    CHECK(a.headers["x-trace-id"].size() == 32);
    CHECK(a.headers["x-trace-id"] != trace);
    fresh.insert(a.headers["x-trace-id"]);
  }
  CHECK(fresh.size() == 6);
  // Without one, each call gets its own; answers the api gives itself too.
  auto none = c.call("POST", "/events/demo.echo", R"({"text":"x"})");
  CHECK(none.headers["x-trace-id"].size() == 32);
  CHECK(c.call("GET", "/no-such-route").headers.count("x-trace-id") == 1);
  proc.signal(SIGTERM);
  CHECK(proc.wait_exit(20s) == 0);
}
