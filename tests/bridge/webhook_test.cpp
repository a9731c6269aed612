// The webhook plugin against a real HTTP server: signed POSTs, redelivery
// with edri's backoff after failures, a receiver's final no, dead letters
// when a URL never answers, and hooks added at run time.
#include "app/daemon.hpp"
#include "webhook_settings.hpp"
#include "support/daemon_rig.hpp"
#include "support/http_receiver.hpp"
#include "support/router_fixture.hpp"
#include "support/wait_until.hpp"

#include <openssl/hmac.h>

#include <catch2/catch.hpp>

#include <set>

using edri::json;
using probe::Registry;
using probe::wait_until;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "a-webhook-secret-of-32-bytes-abc";

std::string hmac_hex(const std::string& key, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), mac, &len);
  std::string out;
  char b[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", mac[i]);
    out += b;
  }
  return out;
}

struct WebhookRig : probe::DaemonRig {
  WebhookRig(const std::string& config, const std::string& work_keys)
      : DaemonRig("router:\n  id: hooks-test\n  log: {level: warn}\n  plugin_dirs: [" EDRI_TEST_PLUGIN_DIR "]\n"
                  "managers:\n  - name: hooks\n    plugin: webhook\n" + work_keys + "    config: " + config + "\n",
                  [](edrid::Router& r) {
                    r.add_manager("driver", probe::probe_descriptor(), "probe", {}, "{}");
                    r.add_manager("dead", probe::probe_descriptor(), "probe", {},
                                  json{{"notifications", {"edri.dead_letter"}}}.dump());
                  }) {}
  edri::Response<json> ask(const std::string& type, const json& data) {
    return Registry::get().context("driver").request(type, data, {.timeout = 10s}).get();
  }
};

}  // namespace

TEST_CASE("webhooks: every event is POSTed signed and the failed ones go again until taken") {
  // Fails the first POST of every n divisible by 10 with 503, and answers
  // 400 to n == 7: a final no.
  std::mutex m;
  std::map<int, int> seen;
  probe::HttpReceiver receiver([&](const probe::ReceivedRequest& r, std::size_t) {
    const int n = json::parse(r.body).at("n").get<int>();
    std::lock_guard lock(m);
    const int times = ++seen[n];
    if (n == 7) return 400;
    return n % 10 == 0 && times == 1 ? 503 : 200;
  });
  probe::TempDir dir;
  const auto secret = dir.write("hook.key", std::string(kSecret) + "\n");
  WebhookRig rig("{secret_file: " + secret.string() + ", hooks: [{type: 'shop.>', url: '" + receiver.url("/in/shop") +
                     "', headers: {X-Team: blue}}]}",
                 "    delivery: at_least_once\n    retry: {initial_ms: 20, max_ms: 200}\n");
  constexpr int kTotal = 500;
  for (int n = 0; n < kTotal; ++n) Registry::get().context("driver").notify("shop.paid", json{{"n", n}});
  REQUIRE(wait_until([&] { return receiver.count() >= kTotal + kTotal / 10; }, 60s));
  std::this_thread::sleep_for(300ms);  // a late extra POST would show here
  const auto requests = receiver.requests();
  CHECK(requests.size() == kTotal + kTotal / 10);
  std::set<int> ns;
  for (const auto& r : requests) {
    ns.insert(json::parse(r.body).at("n").get<int>());
    CHECK(r.target == "/in/shop");
    CHECK(r.headers.at("content-type") == "application/json");
    CHECK(r.headers.at("x-edri-type") == "shop.paid");
    CHECK(r.headers.at("x-team") == "blue");
    CHECK(r.headers.at("x-edri-event-id").size() == 32);
    // The receiver's check: HMAC-SHA256 of "<timestamp>.<body>".
    CHECK(r.headers.at("x-edri-signature") ==
          "sha256=" + hmac_hex(kSecret, r.headers.at("x-edri-timestamp") + "." + r.body));
  }
  CHECK(ns.size() == kTotal);
  {
    std::lock_guard lock(m);
    CHECK(seen.at(10) == 2);
    CHECK(seen.at(11) == 1);
    CHECK(seen.at(7) == 1);  // a 400 is not asked again
  }
  const json stats = *rig.ask("hooks.stats", json::object()).data();
  CHECK(stats["signed"] == true);
  CHECK(stats["hooks"][0]["delivered"] == kTotal - 1);
  CHECK(stats["hooks"][0]["failed"] == kTotal / 10);
  CHECK(stats["hooks"][0]["rejected"] == 1);
  CHECK(Registry::get().seen("dead").empty());
}

TEST_CASE("webhooks: a URL that never answers makes dead letters after max_deliveries and the other URL gets each once") {
  probe::HttpReceiver good([](const probe::ReceivedRequest&, std::size_t) { return 204; });
  const auto closed_port = probe::free_port();  // nothing listens there
  WebhookRig rig("{timeout_ms: 500, hooks: [{type: 'alert.>', url: '" + good.url("/ok") +
                     "'}, {type: 'alert.>', url: 'http://127.0.0.1:" + std::to_string(closed_port) + "/down'}]}",
                 "    delivery: at_least_once\n    max_deliveries: 3\n    retry: {initial_ms: 20, max_ms: 100}\n");
  for (int n = 0; n < 5; ++n) Registry::get().context("driver").notify("alert.fire", json{{"n", n}});
  REQUIRE(Registry::get().wait_for("dead", 5, 30s));
  CHECK(good.count() == 5);  // not POSTed again when the other URL failed
  const auto dead = Registry::get().seen("dead");
  CHECK_THAT(dead.at(0).data.dump(), Catch::Contains("/down"));
  const json stats = *rig.ask("hooks.stats", json::object()).data();
  CHECK(stats["signed"] == false);
  CHECK(stats["hooks"][1]["failed"] == 15);
  CHECK(stats["hooks"][1]["last_status"] == 0);
}

TEST_CASE("webhooks: hooks are added listed and removed at run time") {
  probe::HttpReceiver receiver([](const probe::ReceivedRequest&, std::size_t) { return 200; });
  WebhookRig rig("{}", "");
  CHECK(rig.ask("hooks.subscribe", {{"type", "order.*"}, {"url", "ftp://x"}}).message() ==
        "subscribe.url must be an http:// or https:// URL with a host");
  REQUIRE(rig.ask("hooks.subscribe", {{"type", "order.*"}, {"url", receiver.url("/o")}}).ok());
  Registry::get().context("driver").notify("order.new", json{{"id", 1}});
  REQUIRE(wait_until([&] { return receiver.count() == 1; }));
  CHECK((*rig.ask("hooks.list", json::object()).data())["hooks"].size() == 1);
  CHECK((*rig.ask("hooks.unsubscribe", {{"type", "order.*"}, {"url", receiver.url("/o")}}).data())["removed"] == true);
  Registry::get().context("driver").notify("order.new", json{{"id", 2}});
  std::this_thread::sleep_for(300ms);
  CHECK(receiver.count() == 1);
}

TEST_CASE("webhooks: settings refuse what cannot work and name the key") {
  using edri_bridge::parse_http_url;
  const auto u = parse_http_url("https://hooks.example.com:8443/a/b?x=1");
  REQUIRE(u);
  CHECK(u->tls);
  CHECK(u->host == "hooks.example.com");
  CHECK(u->port == "8443");
  CHECK(u->target == "/a/b?x=1");
  CHECK(parse_http_url("http://h")->port == "80");
  CHECK(parse_http_url("http://h")->target == "/");
  CHECK_FALSE(parse_http_url("http://"));
  CHECK_FALSE(parse_http_url("http://u:p@h/"));
  CHECK_FALSE(parse_http_url("http://h:99999/"));
  CHECK_FALSE(parse_http_url("mailto:a@b"));
  auto refused = [](const json& cfg) {
    try {
      edri_bridge::parse_webhook_settings(cfg, "hooks", [](const std::string&) { return std::string("short"); });
    } catch (const edri_bridge::SettingsError& e) {
      return e.key();
    }
    return std::string("(accepted)");
  };
  CHECK(refused({{"hooks", {{{"type", "a"}, {"url", "http://h/"}}, {{"type", "a..b"}, {"url", "http://h/"}}}}}) == "hooks.1.type");
  CHECK(refused({{"hooks", {{{"type", "a"}, {"url", "http://h/"}, {"headers", {{"X-A", 1}}}}}}}) == "hooks.0.headers.X-A");
  CHECK(refused({{"secret_file", "k"}}) == "secret_file");  // fewer than 16 bytes
  CHECK(refused({{"hooks", json::array()}}) == "(accepted)");
}
