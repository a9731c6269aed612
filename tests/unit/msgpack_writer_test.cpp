// The direct MessagePack writer against nlohmann's: the same bytes for every
// scalar and container form, and the same decoded value for whole typed
// events (only the order of a struct's keys may differ).
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
