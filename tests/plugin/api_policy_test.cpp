// The api's plain logic for hostile input: frame checks, the expose policy,
// the cross-site guard and bounded JSON parsing.
#include "cors.hpp"
#include "cross_site_guard.hpp"
#include "expose_policy.hpp"
#include "http_answer.hpp"
#include "ws_frame.hpp"
#include "ws_requests.hpp"

#include <edri/http_answer.hpp>
#include <edri/json_text.hpp>

#include <catch2/catch.hpp>

using edri_api::CrossSiteGuard;
using edri_api::ExposePolicy;
using nlohmann::json;

TEST_CASE("json_depth_within counts brackets outside strings only") {
  CHECK(edri::json_depth_within("[[[]]]", 3));
  CHECK_FALSE(edri::json_depth_within("[[[]]]", 2));
  CHECK(edri::json_depth_within(R"({"a":"[[[[[[\"[["})", 1));
  CHECK_FALSE(edri::json_depth_within(R"({"a":"\\",[[]]})", 2));  // an escaped backslash ends the escape
  CHECK(edri::json_depth_within(std::string(100000, ']'), 1));
  CHECK_THROWS_AS(edri::parse_json(std::string(200, '[') + std::string(200, ']')), edri::JsonTooDeep);
  CHECK(edri::parse_json("[[1]]") == json::parse("[[1]]"));
  CHECK_THROWS_AS(edri::parse_json("[1,"), json::parse_error);
}

TEST_CASE("WebSocket frames are checked field by field") {
  auto err = [](std::string_view text) {
    auto r = edri_api::parse_ws_frame(text, 16);
    auto* e = std::get_if<edri_api::WsFrameError>(&r);
    return e ? e->message : std::string("(accepted)");
  };
  CHECK(err(R"({"op":"send","type":123})") == "\"type\" must be a string");
  CHECK(err(R"({"op":"send","type":null})") == "\"type\" must be a string");
  CHECK(err(R"({"op":"send"})") == "invalid event type ''");
  CHECK(err(R"({"op":7})") == "a frame needs \"op\" (a string)");
  CHECK(err(R"([])") == "a frame must be a JSON object");
  CHECK(err(R"({"op":"send","type":"a.b","id":{}})") == "\"id\" must be a string of at most 256 bytes, an integer or null");
  CHECK(err(R"({"op":"subscribe","type":"a.>","where":[1]})") == "\"where\" must be an object");
  CHECK(err(R"({"op":"subscribe","type":"a.>.b"})") == "invalid pattern 'a.>.b'");
  CHECK(err(R"({"op":"send","type":"a.b","where":{}})") == "unknown field 'where' for op 'send'");
  CHECK(err(R"({"op":"unsubscribe"})") == "unsubscribe needs \"id\" or \"type\"");
  CHECK_THAT(err(std::string(20, '[') + std::string(20, ']')), Catch::Contains("nested deeper than 16"));
  CHECK(err(R"({"op":"request","type":"a.b","data":[1,{"x":null}],"id":5})") == "(accepted)");
  // A priority for a receiver with a priority queue: an integer in range, on send and request only.
  CHECK(err(R"({"op":"send","type":"a.b","priority":"high"})") == "\"priority\" must be an integer from -1000000 to 1000000");
  CHECK(err(R"({"op":"send","type":"a.b","priority":2000000})") == "\"priority\" must be an integer from -1000000 to 1000000");
  CHECK(err(R"({"op":"subscribe","type":"a.>","priority":1})") == "unknown field 'priority' for op 'subscribe'");
  {
    auto ok = edri_api::parse_ws_frame(R"({"op":"request","type":"a.b","priority":-5})", 16);
    CHECK(std::get<edri_api::WsFrame>(ok).priority == -5);
    auto none = edri_api::parse_ws_frame(R"({"op":"request","type":"a.b"})", 16);
    CHECK_FALSE(std::get<edri_api::WsFrame>(none).priority.has_value());
  }

  auto r = edri_api::parse_ws_frame(R"({"op":"subscribe","type":"a.*","id":7,"where":{"k":1}})", 16);
  auto& f = std::get<edri_api::WsFrame>(r);
  CHECK(f.op == edri_api::WsOp::subscribe);
  CHECK(f.subscription() == "7");
  CHECK(f.where == json{{"k", 1}});
  // The id of a bad frame is echoed when it could be read.
  auto bad = edri_api::parse_ws_frame(R"({"op":"send","type":1,"id":"x"})", 16);
  CHECK(std::get<edri_api::WsFrameError>(bad).id == "x");
}

TEST_CASE("patterns overlap when some type matches both") {
  using edri_api::patterns_overlap;
  CHECK(patterns_overlap(">", "a"));
  CHECK(patterns_overlap("a.>", "*.b"));
  CHECK(patterns_overlap("a.*", "*.b"));
  CHECK_FALSE(patterns_overlap("a.*", "a"));
  CHECK_FALSE(patterns_overlap("a.>", "a"));
  CHECK_FALSE(patterns_overlap("a.b", "a.c"));
  CHECK_FALSE(patterns_overlap("a.*", "a.b.c"));
  CHECK(patterns_overlap("a.*.c", "a.b.>"));
}

TEST_CASE("the default expose policy keeps wildcards out of the built-in namespaces") {
  ExposePolicy all;
  CHECK(all.allows("demo.echo"));
  CHECK(all.allows("storage.x"));  // a token that merely starts like one
  for (const char* t : {"store.set", "store", "scheduler.add", "edri.dead_letter", "link.gap"}) {
    INFO(t);
    CHECK_FALSE(all.allows(t));
  }
  CHECK(all.allows_pattern(">"));
  CHECK(all.allows_pattern("*.changed"));
  CHECK_FALSE(all.allows_pattern("store.>"));
  CHECK_FALSE(all.allows_pattern("link.*"));

  ExposePolicy some({"store.get", "store.list", "app.>"});
  CHECK(some.allows("store.get"));
  CHECK_FALSE(some.allows("store.set"));
  CHECK(some.allows("app.x.y"));
  CHECK_FALSE(some.allows("demo.echo"));
  CHECK(some.allows_pattern("store.*"));
  CHECK_FALSE(some.allows_pattern("scheduler.>"));

  ExposePolicy none(std::vector<std::string>{});
  CHECK_FALSE(none.allows("demo.echo"));
  CHECK_THROWS_WITH(ExposePolicy({"a..b"}), "invalid pattern 'a..b'");
}

TEST_CASE("the cross-site guard") {
  CrossSiteGuard g({}, {});
  CHECK(g.check("127.0.0.1:8080", "", "").empty());
  CHECK(g.check("localhost", "", "").empty());
  CHECK(g.check("[::1]:8080", "", "").empty());
  CHECK(g.check("", "", "").empty());  // HTTP/1.0, no Host
  CHECK_THAT(g.check("evil.example:8080", "", ""), Catch::Contains("host 'evil.example:8080'"));
  CHECK(g.check("127.0.0.1:8080", "http://127.0.0.1:8080", "same-origin").empty());
  CHECK(g.check("LOCALHOST", "http://localhost:80", "").empty());  // default port, any case
  CHECK_FALSE(g.check("127.0.0.1:8080", "http://127.0.0.1:8081", "").empty());
  CHECK_FALSE(g.check("127.0.0.1:8080", "https://127.0.0.1:8080", "").empty());
  CHECK_FALSE(g.check("127.0.0.1:8080", "null", "").empty());
  CHECK_FALSE(g.check("127.0.0.1:8080", "", "cross-site").empty());
  CHECK_FALSE(g.check("127.0.0.1:8080", "", "same-site").empty());
  CHECK(g.check("127.0.0.1:8080", "", "none").empty());

  CrossSiteGuard open({"edri.lan"}, {"https://ops.example/"});
  CHECK(open.check("EDRI.lan:80", "", "").empty());
  CHECK(open.check("127.0.0.1", "https://ops.example", "cross-site").empty());
  CHECK_FALSE(open.check("127.0.0.1", "https://ops.example.evil", "").empty());
  CrossSiteGuard any({"*"}, {"*"});
  CHECK(any.check("whatever", "http://x", "cross-site").empty());
}

#include "route_table.hpp"

TEST_CASE("valid_utf8 accepts text and refuses what JSON cannot hold") {
  using edri_api::valid_utf8;
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain"));
  CHECK(valid_utf8("J\xC3\xBCrgen \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(valid_utf8("\xff"));
  CHECK_FALSE(valid_utf8("\xC3"));               // cut short
  CHECK_FALSE(valid_utf8("\xC0\xAF"));           // overlong '/'
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));       // a surrogate
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));   // past U+10FFFF
  CHECK_FALSE(valid_utf8("ok\xE2\x82"));
}

#include "support/temp_file.hpp"
#include "token_file.hpp"

TEST_CASE("a tokens file names tokens and, optionally, the patterns each is limited to") {
  probe::TempDir dir;
  const auto file = dir.write("tokens", "# comment\nall-access\n  scoped   orders.>  demo.echo \r\n\n");
  edri_api::TokenFile tokens(file.string());
  CHECK(tokens.enabled());
  auto all = tokens.find("all-access");
  CHECK(all.known);
  CHECK_FALSE(all.scope);
  auto scoped = tokens.find("scoped");
  REQUIRE(scoped.known);
  REQUIRE(scoped.scope);
  CHECK(scoped.scope->allows("orders.new"));
  CHECK_FALSE(scoped.scope->allows("audit.x"));
  CHECK_FALSE(tokens.find("orders.>").known);
  CHECK_FALSE(tokens.find("# comment").known);

  const auto bad = dir.write("bad", "ok\nbroken a..b\n");
  CHECK_THROWS_WITH(edri_api::TokenFile(bad.string()), Catch::Contains("line 2: invalid pattern 'a..b'"));
  CHECK_FALSE(edri_api::TokenFile("").enabled());
}

TEST_CASE("a WebSocket client's places: one per request until its last answer, and its waiting requests on close") {
  auto requests = std::make_shared<edri_api::WsRequests>(2);
  auto a = requests->reserve();
  auto b = requests->reserve();
  REQUIRE(a);
  REQUIRE(b);
  CHECK_FALSE(requests->reserve());  // two in flight: full
  CHECK(a->sent({0, 1}));
  {
    auto callback_copy = a;  // a request's callbacks share its place
    a.reset();
    CHECK_FALSE(requests->reserve());  // one copy still holds it
  }
  auto c = requests->reserve();  // a's last copy is gone: its place is free
  REQUIRE(c);
  CHECK(b->sent({0, 2}));
  CHECK(c->sent({0, 3}));
  b.reset();
  const auto waiting = requests->close();
  REQUIRE(waiting.size() == 1);
  CHECK(waiting.front().lo == 3);
  CHECK_FALSE(requests->reserve());  // closed
  auto late = std::make_shared<edri_api::WsRequests>(1);
  auto d = late->reserve();
  CHECK(late->close().empty());
  CHECK_FALSE(d->sent({0, 4}));  // sent after the client left: the caller cancels it
}

TEST_CASE("CORS preflights name methods and headers exactly, and answers carry the origin") {
  edri_api::CorsPolicy cors({{"Content-Type", "X-Api-Key"}, std::chrono::seconds(60), true});
  auto ok = cors.preflight("https://a.example", "PUT", " content-type ,x-api-key", {"GET", "PUT"});
  REQUIRE(ok.refusal.empty());
  const std::map<std::string, std::string> h(ok.headers.begin(), ok.headers.end());
  CHECK(h.at("Access-Control-Allow-Origin") == "https://a.example");
  CHECK(h.at("Access-Control-Allow-Methods") == "GET, PUT");
  CHECK(h.at("Access-Control-Allow-Headers") == "content-type, x-api-key");
  CHECK(h.at("Access-Control-Max-Age") == "60");
  CHECK(h.at("Access-Control-Allow-Credentials") == "true");
  CHECK(cors.preflight("https://a.example", "GET", "", {"GET"}).refusal.empty());
  CHECK(cors.preflight("https://a.example", "GET", ",,", {"GET"}).refusal.empty());
  CHECK(cors.preflight("https://a.example", "get", "", {"GET"}).refusal == "method get is not served here (GET)");
  CHECK(cors.preflight("https://a.example", "GET", "cookie", {"GET"}).refusal ==
        "request header 'cookie' is not allowed (content-type, x-api-key)");
  CrossSiteGuard g({}, {"https://App.example/"});
  CHECK(g.listed("https://app.example"));
  CHECK_FALSE(g.listed("https://app.example.evil"));
  CHECK_FALSE(g.listed(""));
  CHECK(CrossSiteGuard({}, {"*"}).listed("null"));
}

TEST_CASE("a chosen HTTP answer is checked member by member") {
  using edri_api::http_answer_of;
  auto err = [](const json& data) {
    auto r = http_answer_of(data);
    auto* e = std::get_if<std::string>(&r);
    return e ? *e : std::string("(accepted)");
  };
  CHECK(err({{"$http", {{"status", 600}}}}) == "status must be an integer from 200 to 599");
  CHECK(err({{"$http", {{"status", -1}}}}) == "status must be an integer from 200 to 599");
  CHECK(err({{"$http", {{"stauts", 201}}}}) == "unknown member 'stauts' (status, headers, cookies, redirect, content_type, body)");
  CHECK(err({{"$http", {{"headers", {{"Bad Name", "x"}}}}}}) == "header name 'Bad Name' is not a token");
  CHECK(err({{"$http", {{"headers", {{"X-A", "a\nb"}}}}}}) == "header 'X-A' must be a string on one line");
  CHECK(err({{"$http", {{"headers", {{"X-A", 5}}}}}}) == "header 'X-A' must be a string on one line");
  CHECK_THAT(err({{"$http", {{"headers", {{"transfer-encoding", "chunked"}}}}}}), Catch::Contains("is set by the api"));
  CHECK(err({{"$http", {{"cookies", {"no-equals"}}}}}) ==
        "a cookie must be a Set-Cookie value on one line (name=value; attributes)");
  CHECK(err({{"$http", {{"redirect", "/a\r\nX: y"}}}}) == "redirect must be a URL on one line");
  CHECK(err({{"$http", {{"content_type", "text/plain"}, {"body", {{"a", 1}}}}}}) ==
        "a body sent as text/plain must be a string");
  auto ok = std::get<edri_api::HttpAnswer>(http_answer_of(
      edri::HttpAnswer(204).header("X-A", "1").cookie("a=1").cookie("b=2")));
  CHECK(ok.status == 204);
  CHECK(ok.body.empty());
  CHECK(ok.headers == std::vector<std::pair<std::string, std::string>>{{"X-A", "1"}, {"Set-Cookie", "a=1"},
                                                                       {"Set-Cookie", "b=2"}});
  CHECK(edri_api::wants_http_answer(json{{"$http", json::object()}}));
  CHECK_FALSE(edri_api::wants_http_answer(json{{"$http", 1}}));
  CHECK_FALSE(edri_api::wants_http_answer(json::array()));
  auto plain = std::get<edri_api::HttpAnswer>(http_answer_of(json{{"$http", json::object()}, {"a", 1}}));
  CHECK(plain.status == 200);
  CHECK(plain.body == R"({"a":1})");
}
