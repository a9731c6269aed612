// The SDK's MessagePack reader must decode exactly what nlohmann's does, and
// refuse what it refuses.
#include <edri/detail/msgpack_reader.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using nlohmann::json;
using edri::detail::from_msgpack;
using edri::detail::MsgpackError;
using Bytes = std::vector<std::uint8_t>;

namespace {

json reference(const Bytes& b) { return json::from_msgpack(b.begin(), b.end()); }
json ours(const Bytes& b) { return from_msgpack(b.data(), b.size()); }

// A value of every kind, at sizes that cross each encoding's width.
json every_kind() {
  return json{
      {"fixint", 5},
      {"uint8", 200},
      {"uint16", 60000},
      {"uint32", 4000000000u},
      {"uint64", 18000000000000000000ull},
      {"negfix", -3},
      {"int8", -100},
      {"int16", -30000},
      {"int32", -2000000000},
      {"int64", -9000000000000000000ll},
      {"double", 3.25},
      {"float_like", 1e300},
      {"null", nullptr},
      {"true", true},
      {"false", false},
      {"empty", ""},
      {"str31", std::string(31, 'a')},
      {"str32", std::string(32, 'b')},
      {"str255", std::string(255, 'c')},
      {"str256", std::string(256, 'd')},
      {"str65536", std::string(65536, 'e')},
      {"bin", json::binary(Bytes(300, 9))},
      {"bin_subtype", json::binary(Bytes{1, 2, 3}, 7)},
      {"ext1", json::binary(Bytes{1}, 3)},
      {"ext16", json::binary(Bytes(16, 4), 200)},
      {"ext17", json::binary(Bytes(17, 4), 1)},
      {"array16", json(std::vector<int>(20, 1))},
      {"array_big", json(std::vector<int>(70000, 2))},
      {"nested", {{"a", {1, {2, {3, {{"b", nullptr}}}}}}, {"c", json::object()}, {"d", json::array()}}},
      {"map16", [] {
         json m = json::object();
         for (int i = 0; i < 40; ++i) m["k" + std::to_string(i)] = i;
         return m;
       }()},
  };
}

json random_value(std::mt19937_64& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 3 ? 6 : 8);
  switch (kind(rng)) {
    case 0: return nullptr;
    case 1: return static_cast<bool>(rng() & 1);
    case 2: return static_cast<std::int64_t>(rng()) >> (rng() % 64);
    case 3: return static_cast<std::uint64_t>(rng()) >> (rng() % 64);
    case 4: return std::uniform_real_distribution<double>(-1e9, 1e9)(rng);
    case 5: return std::string(rng() % 300, static_cast<char>('a' + rng() % 26));
    case 6: return json::binary(Bytes(rng() % 100, static_cast<std::uint8_t>(rng())));
    case 7: {
      json a = json::array();
      for (std::size_t i = rng() % 20; i > 0; --i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      json m = json::object();
      for (std::size_t i = rng() % 20; i > 0; --i) m["f" + std::to_string(rng() % 50)] = random_value(rng, depth + 1);
      return m;
    }
  }
}

}  // namespace

TEST_CASE("the MessagePack reader decodes every kind of value as nlohmann does") {
  const json v = every_kind();
  const Bytes b = json::to_msgpack(v);
  const json got = ours(b);
  CHECK(got == reference(b));
  CHECK(got == v);
  CHECK(got["bin_subtype"].get_binary().subtype() == 7);
  CHECK(got["ext16"].get_binary().subtype() == 200);
  CHECK(got["int8"].is_number_integer());
  CHECK(got["uint64"].is_number_unsigned());
}

TEST_CASE("the MessagePack reader agrees with nlohmann on random documents") {
  std::mt19937_64 rng(20261123);
  for (int i = 0; i < 500; ++i) {
    const Bytes b = json::to_msgpack(random_value(rng, 0));
    REQUIRE(ours(b) == reference(b));
  }
}

TEST_CASE("the MessagePack reader reads single-precision floats and the last of duplicate keys") {
  // float32 1.5; a map with key "a" twice (nlohmann never writes either).
  const Bytes f{0xca, 0x3f, 0xc0, 0x00, 0x00};
  CHECK(ours(f) == reference(f));
  CHECK(ours(f).get<double>() == 1.5);
  const Bytes dup{0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02};
  CHECK(ours(dup) == reference(dup));
  CHECK(ours(dup)["a"] == 2);
}

TEST_CASE("the MessagePack reader refuses truncated and malformed input") {
  const Bytes whole = json::to_msgpack(every_kind());
  // Every proper prefix at a spread of cut points is an error, never a value.
  for (std::size_t cut = 0; cut < whole.size(); cut += 1 + cut / 7) {
    const Bytes part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
    CHECK_THROWS_AS(ours(part), MsgpackError);
  }
  Bytes trailing = json::to_msgpack(json{{"a", 1}});
  trailing.push_back(0x00);
  CHECK_THROWS_AS(ours(trailing), MsgpackError);
  CHECK_THROWS_AS(ours(Bytes{0xc1}), MsgpackError);
  CHECK_THROWS_AS(ours(Bytes{0x81, 0x01, 0x02}), MsgpackError);  // key 1 is not a string
  // An array that claims 4 G elements in 5 bytes fails before reserving them.
  CHECK_THROWS_AS(ours(Bytes{0xdd, 0xff, 0xff, 0xff, 0xff}), MsgpackError);
  // Nesting deeper than the reader's limit is refused, not recursed into.
  Bytes deep(100000, 0x91);
  deep.push_back(0xc0);
  CHECK_THROWS_AS(ours(deep), MsgpackError);
  Bytes shallow(100, 0x91);
  shallow.push_back(0xc0);
  CHECK(ours(shallow) == reference(shallow));
}
