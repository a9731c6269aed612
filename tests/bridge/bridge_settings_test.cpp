// The bridge's settings and subject mapping, without a server: defaults,
// every refusal naming its key path, and the type <-> subject rule.
#include "nats_bridge_settings.hpp"
#include "subject_map.hpp"

#include <catch2/catch.hpp>

using edri_bridge::parse_settings;
using edri_bridge::SettingsError;
using nlohmann::json;

namespace {

// The key path of the error parse_settings throws for `config`.
std::string refused_key(const json& config, std::string* message = nullptr) {
  try {
    parse_settings(config, "br");
  } catch (const SettingsError& e) {
    if (message) *message = e.what();
    return e.key();
  }
  return "(accepted)";
}

json with_nats(json j) {
  j["nats"] = {{"servers", {"nats://127.0.0.1:4222"}}};
  return j;
}

}  // namespace

TEST_CASE("settings: a minimal bridge gets the documented defaults") {
  const auto s = parse_settings(with_nats({{"inbound", {{{"subject", "orders.>"}, {"stream", "O"}, {"consumer", "c"}}}}}), "br");
  CHECK(s.prefix == "edri");
  CHECK(s.stats_type == "br.stats");
  CHECK(s.stats_log_interval == std::chrono::milliseconds(60000));
  CHECK(s.nats.reconnect_wait == std::chrono::milliseconds(2000));
  CHECK(s.nats.client_name == "edri");
  REQUIRE(s.inbound.size() == 1);
  const auto& in = s.inbound[0];
  CHECK(in.jetstream());
  CHECK_FALSE(in.as_request);
  CHECK(in.max_inflight == 256);
  CHECK(in.batch == 64);
  CHECK(in.ack_wait == std::chrono::milliseconds(30000));
  CHECK(in.nak_delay == std::chrono::milliseconds(1000));
  CHECK(in.max_deliver == -1);
}

TEST_CASE("settings: each mistake is refused with the path of its key") {
  std::string why;
  CHECK(refused_key(json::object()) == "nats");
  CHECK(refused_key({{"nats", {{"servers", json::array()}}}}) == "nats.servers");
  CHECK(refused_key({{"nats", {{"servers", {"nats://a:1", "http://b:2"}}}}}, &why) == "nats.servers.1");
  CHECK(why == "nats.servers.1: 'http://b:2' is not a nats:// or tls:// URL");
  CHECK(refused_key(with_nats(json::object())) == "inbound");
  CHECK(refused_key(with_nats({{"inbound", {{{"subject", "a"}}, {{"subject", "a.>.b"}}}}})) == "inbound.1.subject");
  CHECK(refused_key(with_nats({{"inbound", {{{"subject", "a"}, {"stream", "S"}}}}}), &why) == "inbound.0.consumer");
  CHECK(refused_key(with_nats({{"inbound", {{{"subject", "a"}, {"stream", "S"}, {"consumer", "c.d"}}}}})) ==
        "inbound.0.consumer");
  CHECK(refused_key(with_nats({{"inbound", {{{"subject", "a"}, {"max_inflight", 4}}}}}), &why) ==
        "inbound.0.max_inflight");
  CHECK(why == "inbound.0.max_inflight is for JetStream routes (set inbound.0.stream)");
  CHECK(refused_key(with_nats({{"inbound", {{{"subject", "a"}, {"as", "maybe"}}}}})) == "inbound.0.as");
  CHECK(refused_key(with_nats({{"inbound", {{{"subject", "a"}, {"sbject", "b"}}}}}), &why) == "inbound.0.sbject");
  CHECK_THAT(why, Catch::StartsWith("unknown key inbound.0.sbject (known: subject, type,"));
  CHECK(refused_key(with_nats({{"outbound", {{{"type", "x.*"}, {"jetstream", true}, {"requests", true}}}}})) ==
        "outbound.0.requests");
  CHECK(refused_key(with_nats({{"outbound", {{{"type", "x"}, {"subject", "y.*"}}}}})) == "outbound.0.subject");
  CHECK(refused_key({{"nats", {{"servers", {"nats://a:1"}}, {"password", "p"}}}, {"outbound", {{{"type", "x"}}}}}) ==
        "nats.password");
  CHECK(refused_key({{"nats", {{"servers", {"nats://a:1"}}, {"tls", {{"cert", "c.pem"}}}}}, {"outbound", {{{"type", "x"}}}}}) ==
        "nats.tls.cert");
  CHECK(refused_key(with_nats({{"inbound", {{{"subject", "edri.>"}}, {{"subject", "edri.shop.*"}}}}}), &why) ==
        "inbound.1.subject");
  CHECK(why == "inbound.1.subject 'edri.shop.*' overlaps inbound.0.subject 'edri.>': a message on both would reach edri twice");
  CHECK(refused_key(with_nats({{"inbound", {{{"subject", "a.*"}}, {{"subject", "b.*"}}}}})) == "(accepted)");
  CHECK(refused_key(with_nats({{"inbound", {{{"subject", "a.>"}, {"stream", "S"}, {"consumer", "c"}},
                                            {{"subject", "a.x"}, {"stream", "S"}, {"consumer", "c"}}}}})) ==
        "inbound.1.consumer");
}

TEST_CASE("subjects: an edri type lives under the prefix and comes back from it") {
  using namespace edri_bridge;
  CHECK(subject_for_type("edri", "shop.paid") == "edri.shop.paid");
  CHECK(subject_for_type("", "shop.paid") == "shop.paid");
  CHECK(type_for_subject("edri", "edri.shop.paid") == "shop.paid");
  CHECK(type_for_subject("edri", "edrix.shop") == "edrix.shop");  // not under the prefix: as it is
  CHECK(type_for_subject("edri", "edri") == "edri");
  CHECK(type_for_subject("a.b", "a.b.c") == "c");
  CHECK(valid_subject("a.*.c", true));
  CHECK(valid_subject("a.>", true));
  CHECK_FALSE(valid_subject("a.>", false));
  CHECK_FALSE(valid_subject("a.>.c", true));
  CHECK_FALSE(valid_subject("a..c", true));
  CHECK_FALSE(valid_subject("a b", true));
  CHECK_FALSE(valid_subject("a*.b", true));
  CHECK_FALSE(valid_subject("", true));
  CHECK(subjects_overlap("a.>", "a.b.c"));
  CHECK(subjects_overlap("a.*.c", "a.b.*"));
  CHECK(subjects_overlap(">", "x"));
  CHECK(subjects_overlap("a.b", "a.b"));
  CHECK_FALSE(subjects_overlap("a.>", "a"));  // '>' needs one token at least
  CHECK_FALSE(subjects_overlap("a.*", "a.b.c"));
  CHECK_FALSE(subjects_overlap("a.b", "a.c"));
  CHECK_FALSE(subjects_overlap("a.*", "b.*"));
}
