// Typed events to and from MessagePack without a JSON document, against
// nlohmann: the writer gives the same bytes for every scalar and container
// form and the same value for whole structs (only the order of a struct's
// keys may differ); the reader gives the same struct, or fails where
// nlohmann fails, for well-formed, odd and broken input alike.
#include <edri/detail/msgpack_writer.hpp>
#include <edri/event.hpp>
#include <edri/tunnel.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <map>

namespace wtest {

enum class Color { red, green };
NLOHMANN_JSON_SERIALIZE_ENUM(Color, {{Color::red, "red"}, {Color::green, "green"}})
enum Plain { zero, one };

struct Point {
  double x = 0;
  float y = 0;
};
EDRI_EVENT(Point, "wtest.point", x, y)

struct Everything {
  bool flag = false;
  std::int8_t i8 = 0;
  std::uint16_t u16 = 0;
  std::int64_t i64 = 0;
  std::uint64_t u64 = 0;
  char letter = 'a';
  double ratio = 0;
  std::string text;
  std::optional<std::string> maybe;
  std::optional<int> none;
  std::vector<int> numbers;
  std::vector<bool> bits;
  std::vector<std::uint8_t> raw;
  std::vector<Point> points;
  Point origin;
  Color color = Color::red;
  Plain plain = zero;
  std::map<std::string, int> counts;
  nlohmann::json extra;
};
EDRI_EVENT(Everything, "wtest.everything", flag, i8, u16, i64, u64, letter, ratio, text, maybe, none, numbers,
           bits, raw, points, origin, color, plain, counts, extra)

struct Empty {};
EDRI_EVENT(Empty, "wtest.empty")

struct Outer {
  Point where{7.0, 8.0f};  // a nested object's absent fields get Point{}'s values
  std::optional<Point> maybe_point;
  int count = 3;
};
EDRI_EVENT(Outer, "wtest.outer", where, maybe_point, count)

// The direct reader's result equals nlohmann's (both through json(value)),
// or both fail.
template <class T>
void check_reads_like_nlohmann(const std::vector<std::uint8_t>& bytes) {
  std::optional<nlohmann::json> old_way, new_way;
  try {
    old_way = nlohmann::json(edri::detail::from_msgpack(bytes.data(), bytes.size()).get<T>());
  } catch (const std::exception&) {
  }
  try {
    new_way = nlohmann::json(edri::detail::read_msgpack<T>(bytes.data(), bytes.size()));
  } catch (const std::exception&) {
  }
  INFO("input " << nlohmann::json::binary(bytes).dump());
  CHECK(old_way.has_value() == new_way.has_value());
  if (old_way && new_way) CHECK(*old_way == *new_way);
}

template <class T>
void check_reads_like_nlohmann(const nlohmann::json& doc) {
  INFO("document " << doc.dump());
  check_reads_like_nlohmann<T>(nlohmann::json::to_msgpack(doc));
}

template <class T>
std::vector<std::uint8_t> direct(const T& v) {
  std::vector<std::uint8_t> out;
  edri::detail::MsgpackWriter w(out);
  edri::detail::write_msgpack_value(w, v);
  return out;
}

template <class T>
std::vector<std::uint8_t> via_json(const T& v) {
  return nlohmann::json::to_msgpack(nlohmann::json(v));
}

}  // namespace wtest

using wtest::direct;
using wtest::via_json;

TEST_CASE("the direct MessagePack writer gives nlohmann's bytes for every number form") {
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{127}, std::int64_t{128}, std::int64_t{255},
                         std::int64_t{256}, std::int64_t{65535}, std::int64_t{65536}, std::int64_t{4294967295},
                         std::int64_t{4294967296}, std::int64_t{-1}, std::int64_t{-32}, std::int64_t{-33},
                         std::int64_t{-128}, std::int64_t{-129}, std::int64_t{-32768}, std::int64_t{-32769},
                         std::int64_t{std::numeric_limits<std::int32_t>::min()},
                         std::int64_t{std::numeric_limits<std::int32_t>::min()} - 1,
                         std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()}) {
    INFO(v);
    CHECK(direct(v) == via_json(v));
    if (v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max()) {
      CHECK(direct(static_cast<std::int32_t>(v)) == via_json(static_cast<std::int32_t>(v)));
    }
    if (v >= 0) CHECK(direct(static_cast<std::uint64_t>(v)) == via_json(static_cast<std::uint64_t>(v)));
  }
  CHECK(direct(std::numeric_limits<std::uint64_t>::max()) == via_json(std::numeric_limits<std::uint64_t>::max()));
  CHECK(direct(std::int8_t{-100}) == via_json(std::int8_t{-100}));
  CHECK(direct(std::uint8_t{200}) == via_json(std::uint8_t{200}));
  for (double d : {0.0, -0.0, 0.5, 0.1, -2.25, 1e300, -1e-300, 3.4028234663852886e38, 1e39,
                   std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::denorm_min()}) {
    INFO(d);
    CHECK(direct(d) == via_json(d));
    CHECK(direct(static_cast<float>(d)) == via_json(static_cast<float>(d)));
  }
  CHECK(direct(true) == via_json(true));
  CHECK(direct(false) == via_json(false));
}

TEST_CASE("the direct MessagePack writer gives nlohmann's bytes for strings and arrays of every length form") {
  for (std::size_t n : {0u, 1u, 31u, 32u, 255u, 256u, 65535u, 65536u}) {
    INFO(n);
    const std::string s(n, 'q');
    CHECK(direct(s) == via_json(s));
    const std::vector<int> a(n, 7);
    CHECK(direct(a) == via_json(a));
  }
  const std::vector<std::vector<std::string>> nested{{"a", "b"}, {}, {std::string(40, 'z')}};
  CHECK(direct(nested) == via_json(nested));
  CHECK(direct(std::optional<int>{}) == via_json(std::optional<int>{}));
  CHECK(direct(std::optional<int>{-5}) == via_json(std::optional<int>{-5}));
}

TEST_CASE("a typed event written directly decodes to the value nlohmann encodes") {
  wtest::Everything e;
  e.flag = true;
  e.i8 = -7;
  e.u16 = 60000;
  e.i64 = -5'000'000'000;
  e.u64 = 18'000'000'000'000'000'000u;
  e.letter = 'z';
  e.ratio = 0.1;
  e.text = std::string(300, 't');
  e.maybe = "here";
  e.numbers = {1, -1, 1000, -100000};
  e.bits = {true, false, true};
  e.raw = {0, 255, 16};
  e.points = {{1.5, 2.5f}, {-0.1, 3.0f}};
  e.origin = {0.0, -1.0f};
  e.color = wtest::Color::green;
  e.plain = wtest::one;
  e.counts = {{"b", 2}, {"a", 1}};
  e.extra = {{"k", {1, "two", nullptr}}};

  const auto bytes = direct(e);
  CHECK(nlohmann::json::from_msgpack(bytes) == nlohmann::json(e));
  CHECK(edri::detail::from_msgpack(bytes.data(), bytes.size()) == nlohmann::json(e));
  // A struct's keys come in declaration order (nlohmann sorts them), so the
  // bytes differ while the value does not.
  CHECK(bytes.size() == via_json(e).size());

  const auto back = edri::decode<wtest::Everything>(edri::encode(e));
  CHECK(back.u64 == e.u64);
  CHECK(back.i64 == e.i64);
  CHECK(back.text == e.text);
  CHECK(back.points.size() == 2);
  CHECK(back.points[1].y == 3.0f);
  CHECK(back.color == wtest::Color::green);
  CHECK(back.counts.at("b") == 2);
  CHECK(back.extra == e.extra);
  CHECK_FALSE(back.none.has_value());

  CHECK(direct(wtest::Empty{}) == via_json(wtest::Empty{}));
}

TEST_CASE("the direct MessagePack reader gives the struct nlohmann gives, or fails where it fails") {
  using nlohmann::json;
  using wtest::check_reads_like_nlohmann;
  check_reads_like_nlohmann<wtest::Everything>(json::object());
  check_reads_like_nlohmann<wtest::Everything>(nullptr);
  check_reads_like_nlohmann<wtest::Everything>(json::array());
  check_reads_like_nlohmann<wtest::Everything>(42);
  check_reads_like_nlohmann<wtest::Everything>({{"unknown", {1, 2, {{"x", nullptr}}}}, {"text", "kept"}});
  check_reads_like_nlohmann<wtest::Everything>({{"i64", 2.7}, {"u16", -1}, {"ratio", 3}, {"i8", 300}});
  check_reads_like_nlohmann<wtest::Everything>({{"i64", true}});
  check_reads_like_nlohmann<wtest::Everything>({{"flag", 1}});
  check_reads_like_nlohmann<wtest::Everything>({{"text", 5}});
  check_reads_like_nlohmann<wtest::Everything>({{"text", nullptr}});
  check_reads_like_nlohmann<wtest::Everything>({{"maybe", nullptr}, {"none", 4}});
  check_reads_like_nlohmann<wtest::Everything>({{"numbers", "no"}});
  check_reads_like_nlohmann<wtest::Everything>({{"numbers", {1, 2.5, -3}}});
  check_reads_like_nlohmann<wtest::Everything>({{"numbers", {1, "x"}}});
  check_reads_like_nlohmann<wtest::Everything>({{"points", {{{"x", 1}}, nullptr, json::object()}}});
  check_reads_like_nlohmann<wtest::Everything>({{"points", {1}}});
  check_reads_like_nlohmann<wtest::Everything>({{"color", "green"}, {"plain", 1}, {"counts", {{"a", 1}}}});
  check_reads_like_nlohmann<wtest::Everything>({{"color", 7}});
  check_reads_like_nlohmann<wtest::Everything>({{"letter", 65}, {"bits", {true, false}}, {"raw", {1, 2}}});
  check_reads_like_nlohmann<wtest::Outer>({{"where", {{"y", 1.5}}}});
  check_reads_like_nlohmann<wtest::Outer>({{"where", nullptr}, {"maybe_point", {{"x", 2}}}});
  check_reads_like_nlohmann<wtest::Outer>({{"maybe_point", nullptr}, {"count", -9}});
  check_reads_like_nlohmann<wtest::Outer>(json::object());
  {
    // The last of duplicate keys counts, as in nlohmann's document.
    const std::vector<std::uint8_t> dup{0x82, 0xa5, 'c', 'o', 'u', 'n', 't', 0x01, 0xa5, 'c', 'o', 'u', 'n', 't', 0x02};
    check_reads_like_nlohmann<wtest::Outer>(dup);
    CHECK(edri::detail::read_msgpack<wtest::Outer>(dup.data(), dup.size()).count == 2);
  }

  wtest::Everything e;
  e.text = std::string(300, 't');
  e.numbers = {1, 2, 3};
  e.points = {{1.5, 2.5f}};
  e.extra = {{"k", 1}};
  auto bytes = wtest::direct(e);
  check_reads_like_nlohmann<wtest::Everything>(bytes);
  // Every truncation fails, and so do trailing bytes and a key that is not a string.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("cut at " << n);
    CHECK_THROWS(edri::detail::read_msgpack<wtest::Everything>(bytes.data(), n));
  }
  bytes.push_back(0xc0);
  CHECK_THROWS_AS(edri::detail::read_msgpack<wtest::Everything>(bytes.data(), bytes.size()),
                  edri::detail::MsgpackError);
  const std::vector<std::uint8_t> int_key{0x81, 0x01, 0x02};
  CHECK_THROWS_AS(edri::detail::read_msgpack<wtest::Outer>(int_key.data(), int_key.size()), edri::detail::MsgpackError);
  // A count larger than the input is refused before anything is reserved.
  const std::vector<std::uint8_t> liar{0x81, 0xa7, 'n', 'u', 'm', 'b', 'e', 'r', 's', 0xdd, 0x7f, 0xff, 0xff, 0xff};
  CHECK_THROWS_AS(edri::detail::read_msgpack<wtest::Everything>(liar.data(), liar.size()), edri::detail::MsgpackError);
}
