#include "event/content_filter.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using edrid::ContentFilter;
using edrid::FilterError;
using nlohmann::json;

namespace {

bool passes(const char* filter, const json& payload) {
  auto f = ContentFilter::compile(json::parse(filter));
  const std::vector<std::uint8_t> bytes = json::to_msgpack(payload);
  return f->matches(bytes.data(), bytes.size());
}

// The path a compile error names, joined with '/'.
std::string error_path(const char* filter) {
  try {
    ContentFilter::compile(json::parse(filter));
  } catch (const FilterError& e) {
    std::string out;
    for (const auto& p : e.path()) out += "/" + p;
    return out.empty() ? "/" : out;
  }
  return "compiled";
}

const json kOrder = {{"id", 987650},
                     {"amount", 120.5},
                     {"country", "FR"},
                     {"sku", "BK-1042"},
                     {"note", "urgent: call first"},
                     {"gift", false},
                     {"coupon", nullptr},
                     {"tags", {"new", "vip"}},
                     {"customer", {{"tier", "gold"}, {"since", 2019}}}};

}  // namespace

TEST_CASE("a field equals a scalar: strings, integers, floats, booleans, null") {
  CHECK(passes(R"({"country": "FR"})", kOrder));
  CHECK_FALSE(passes(R"({"country": "DE"})", kOrder));
  CHECK(passes(R"({"id": 987650})", kOrder));
  CHECK(passes(R"({"amount": 120.5})", kOrder));
  CHECK(passes(R"({"gift": false})", kOrder));
  CHECK(passes(R"({"coupon": null})", kOrder));
  // Integers and floats of equal value are equal; a string is not a number.
  CHECK(passes(R"({"id": 987650.0})", kOrder));
  CHECK_FALSE(passes(R"({"id": "987650"})", kOrder));
  // Large integers compare exactly, not through a double.
  CHECK(passes(R"({"big": 9007199254740993})", json{{"big", 9007199254740993ULL}}));
  CHECK_FALSE(passes(R"({"big": 9007199254740992})", json{{"big", 9007199254740993ULL}}));
  CHECK(passes(R"({"neg": -5})", json{{"neg", -5}}));
}

TEST_CASE("every field of a filter must hold, and nested fields are dotted paths") {
  CHECK(passes(R"({"country": "FR", "customer.tier": "gold"})", kOrder));
  CHECK_FALSE(passes(R"({"country": "FR", "customer.tier": "silver"})", kOrder));
  CHECK_FALSE(passes(R"({"customer.tier.x": "gold"})", kOrder));
  CHECK_FALSE(passes(R"({"missing.field": "gold"})", kOrder));
}

TEST_CASE("one_of, ne and the list shorthand") {
  CHECK(passes(R"({"country": ["DE", "FR"]})", kOrder));
  CHECK(passes(R"({"country": {"one_of": ["DE", "FR"]}})", kOrder));
  CHECK_FALSE(passes(R"({"country": {"one_of": ["DE", "IT"]}})", kOrder));
  CHECK(passes(R"({"country": {"ne": "DE"}})", kOrder));
  CHECK_FALSE(passes(R"({"country": {"ne": "FR"}})", kOrder));
  // An absent field is not equal to anything.
  CHECK(passes(R"({"absent": {"ne": "x"}})", kOrder));
}

TEST_CASE("numeric and string comparisons") {
  CHECK(passes(R"({"amount": {"gt": 100}})", kOrder));
  CHECK(passes(R"({"amount": {"gte": 120.5, "lte": 120.5}})", kOrder));
  CHECK_FALSE(passes(R"({"amount": {"lt": 100}})", kOrder));
  CHECK(passes(R"({"customer.since": {"lt": 2020, "gte": 2019}})", kOrder));
  // ISO timestamps compare as strings.
  CHECK(passes(R"({"at": {"gt": "2020-01-01"}})", json{{"at", "2020-05-04T15:53:27"}}));
  CHECK_FALSE(passes(R"({"at": {"gt": "2021-01-01"}})", json{{"at", "2020-05-04T15:53:27"}}));
  // A number against a string bound does not compare, so it does not pass.
  CHECK_FALSE(passes(R"({"amount": {"gt": "1"}})", kOrder));
  CHECK_FALSE(passes(R"({"gift": {"lt": 1}})", kOrder));
}

TEST_CASE("prefix, suffix, contains and regex on strings") {
  CHECK(passes(R"({"sku": {"prefix": "BK-"}})", kOrder));
  CHECK_FALSE(passes(R"({"sku": {"prefix": "XX-"}})", kOrder));
  CHECK(passes(R"({"sku": {"suffix": "42"}})", kOrder));
  CHECK(passes(R"({"note": {"contains": "call"}})", kOrder));
  CHECK(passes(R"({"note": {"regex": "^(urgent|asap)\\b"}})", kOrder));
  CHECK_FALSE(passes(R"({"note": {"regex": "^later"}})", kOrder));
  CHECK_FALSE(passes(R"({"id": {"prefix": "98"}})", kOrder));
}

TEST_CASE("present and absent fields") {
  CHECK(passes(R"({"coupon": {"present": true}})", kOrder));
  CHECK(passes(R"({"voucher": {"present": false}})", kOrder));
  CHECK_FALSE(passes(R"({"sku": {"present": false}})", kOrder));
  CHECK(passes(R"({"customer.tier": {"present": true}})", kOrder));
}

TEST_CASE("a list field passes when one of its elements does") {
  CHECK(passes(R"({"tags": "vip"})", kOrder));
  CHECK(passes(R"({"tags": {"prefix": "ne"}})", kOrder));
  CHECK_FALSE(passes(R"({"tags": "old"})", kOrder));
  CHECK(passes(R"({"tags": {"ne": "old"}})", kOrder));
  CHECK_FALSE(passes(R"({"tags": {"ne": "vip"}})", kOrder));
}

TEST_CASE("$and, $or and $not combine filters") {
  CHECK(passes(R"({"$or": [{"country": "DE"}, {"amount": {"gt": 100}}]})", kOrder));
  CHECK_FALSE(passes(R"({"$or": [{"country": "DE"}, {"amount": {"gt": 200}}]})", kOrder));
  CHECK(passes(R"({"$and": [{"country": "FR"}, {"$not": {"customer.tier": "silver"}}]})", kOrder));
  CHECK_FALSE(passes(R"({"$not": {"country": "FR"}})", kOrder));
  CHECK(passes(R"({"country": "FR", "$not": {"$or": [{"gift": true}, {"sku": {"prefix": "ZZ"}}]}})", kOrder));
}

TEST_CASE("payloads that are not maps, or not MessagePack, pass no filter") {
  auto f = ContentFilter::compile(json::parse(R"({"a": {"present": false}})"));
  const std::vector<std::uint8_t> list = json::to_msgpack(json::array({1, 2}));
  CHECK_FALSE(f->matches(list.data(), list.size()));
  CHECK_FALSE(f->matches(nullptr, 0));
  // A map header promising more entries than there are bytes.
  const std::uint8_t truncated[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'a'};
  CHECK_FALSE(f->matches(truncated, sizeof truncated));
  auto g = ContentFilter::compile(json::parse(R"({"b": 1})"));
  // {"a": [[[[...]]]] 100 000 deep, "b": 1}: skipped without recursion.
  std::vector<std::uint8_t> deep = {0x82, 0xa1, 'a'};
  deep.insert(deep.end(), 100'000, 0x91);
  deep.push_back(0xc0);
  deep.insert(deep.end(), {0xa1, 'b', 0x01});
  CHECK(g->matches(deep.data(), deep.size()));
  deep.pop_back();
  CHECK_FALSE(g->matches(deep.data(), deep.size()));
}

TEST_CASE("a regex that backtracks without end on a hostile string gives up, not the router") {
  auto f = ContentFilter::compile(json::parse(R"({"s": {"regex": "^(a+)+$"}})"));
  const std::vector<std::uint8_t> bytes = json::to_msgpack(json{{"s", std::string(5000, 'a') + "b"}});
  CHECK_FALSE(f->matches(bytes.data(), bytes.size()));
}

TEST_CASE("filters that do not compile name the offending key") {
  CHECK(error_path(R"({"amount": {"gtt": 5}})") == "/amount/gtt");
  CHECK(error_path(R"({"amount": {"gt": true}})") == "/amount/gt");
  CHECK(error_path(R"({"country": {"one_of": ["FR", {"x": 1}]}})") == "/country/one_of/1");
  CHECK(error_path(R"({"$or": [{"a": 1}, 5]})") == "/$or/1");
  CHECK(error_path(R"({"$xor": []})") == "/$xor");
  CHECK(error_path(R"({"note": {"regex": "(unclosed"}})") == "/note/regex");
  CHECK(error_path(R"({"a..b": 1})") == "/a..b");
  CHECK(error_path(R"({})") == "/");
  CHECK(error_path(R"([1])") == "/");
  CHECK(error_path(R"({"a": {"present": "yes"}})") == "/a/present");
  std::string deep = "{\"a\": 1}";
  for (int i = 0; i < 40; ++i) deep = "{\"$not\": " + deep + "}";
  CHECK_FALSE(error_path(deep.c_str()) == "compiled");
}

TEST_CASE("a filter's text is canonical and parses back to the same filter") {
  auto a = ContentFilter::compile(json::parse(R"({"b": 1, "a": {"lt": 5, "gt": 1}})"));
  auto b = ContentFilter::compile(json::parse(R"({"a": {"gt": 1, "lt": 5}, "b": 1})"));
  CHECK(a->text() == b->text());
  auto c = ContentFilter::parse(a->text());
  CHECK(c->text() == a->text());
  const std::vector<std::uint8_t> bytes = json::to_msgpack(json{{"a", 3}, {"b", 1}});
  CHECK(c->matches(bytes.data(), bytes.size()));
  CHECK_THROWS_AS(ContentFilter::parse("{not json"), FilterError);
}
