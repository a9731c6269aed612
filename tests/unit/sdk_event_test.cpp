// What EDRI_EVENT generates: JSON and MessagePack round trips, defaults for
// missing fields, and fingerprints that change with the declaration.
#include <edri/edri.hpp>

#include "event/pattern.hpp"

#include <catch2/catch.hpp>

namespace sample {
struct Inner {
  int a = 1;
};
EDRI_EVENT(Inner, "sample.inner", a)

struct Order {
  std::string id;
  std::int64_t qty = 3;
  std::optional<std::string> note;
  std::vector<Inner> lines;
};
EDRI_EVENT(Order, "sample.order", id, qty, note, lines)

struct Empty {};
EDRI_EVENT(Empty, "sample.empty")

struct Shared {
  static constexpr bool shareable = true;
  int x = 0;
};
EDRI_EVENT(Shared, "sample.shared", x)

struct OrderV2 {
  static constexpr int schema_version = 2;
  std::string id;
  std::int64_t qty = 3;
  std::optional<std::string> note;
  std::vector<Inner> lines;
};
EDRI_EVENT(OrderV2, "sample.order", id, qty, note, lines)

struct Query {
  using response = Order;
  std::string id;
};
EDRI_EVENT(Query, "sample.query", id)
}  // namespace sample

TEST_CASE("a declared event round-trips through JSON and MessagePack") {
  sample::Order o{"o-1", 7, "fragile", {{5}, {6}}};
  edri::json j = o;
  CHECK(j == edri::json{{"id", "o-1"}, {"qty", 7}, {"note", "fragile"}, {"lines", {{{"a", 5}}, {{"a", 6}}}}});
  auto back = edri::json::from_msgpack(edri::json::to_msgpack(j)).get<sample::Order>();
  CHECK(back.id == "o-1");
  CHECK(back.qty == 7);
  CHECK(back.note == "fragile");
  REQUIRE(back.lines.size() == 2);
  CHECK(back.lines[1].a == 6);
}

TEST_CASE("missing fields decode to defaults, wrong types throw") {
  auto o = edri::json{{"id", "x"}}.get<sample::Order>();
  CHECK(o.qty == 3);
  CHECK_FALSE(o.note);
  CHECK_THROWS(edri::json{{"qty", "many"}}.get<sample::Order>());
  CHECK_THROWS(edri::json::array().get<sample::Order>());
  CHECK(edri::json(sample::Empty{}) == edri::json::object());
}

TEST_CASE("type names, response types and fingerprints come from the declaration") {
  STATIC_REQUIRE(edri::TypedEvent<sample::Order>);
  STATIC_REQUIRE_FALSE(edri::TypedEvent<int>);
  STATIC_REQUIRE(std::is_same_v<edri::response_t<sample::Query>, sample::Order>);
  STATIC_REQUIRE(std::is_same_v<edri::response_t<sample::Order>, sample::Order>);
  CHECK(std::string(edri::type_decl<sample::Order>().type_name) == "sample.order");
  CHECK(std::string(edri::type_ops<sample::Order>()->type_name) == "sample.order");
  CHECK(edri::fingerprint<sample::Order>() == edri::fingerprint<sample::Order>());
  CHECK(edri::fingerprint<sample::Order>() != edri::fingerprint<sample::OrderV2>());
  CHECK(edri::fingerprint<sample::Order>() != edri::fingerprint<sample::Query>());
}

TEST_CASE("type ops encode to MessagePack and destroy in place") {
  const edri_type_ops* ops = edri::type_ops<sample::Order>();
  alignas(sample::Order) unsigned char storage[sizeof(sample::Order)];
  auto* o = ::new (storage) sample::Order{"z", 1, std::nullopt, {}};
  std::vector<std::uint8_t> bytes;
  auto write = [](void* sink, const std::uint8_t* d, std::size_t n) {
    static_cast<std::vector<std::uint8_t>*>(sink)->insert(static_cast<std::vector<std::uint8_t>*>(sink)->end(), d, d + n);
  };
  REQUIRE(ops->encode(o, EDRI_FORMAT_MSGPACK, write, &bytes, nullptr) == EDRI_OK);
  CHECK(edri::json::from_msgpack(bytes)["id"] == "z");
  CHECK(ops->encode(o, 99, write, &bytes, nullptr) == EDRI_E_ENCODE);
  ops->destroy(o);
}

TEST_CASE("the SDK's pattern matcher agrees with the router's") {
  STATIC_REQUIRE(edri::matches("a.*", "a.b"));
  const char* patterns[] = {"a", "a.b", "a.*", "*.b", "a.>", ">", "*", "a.*.c", "*.*.>"};
  const char* types[] = {"a", "b", "a.b", "a.c", "a.b.c", "x.b", "a.x.c", "a.b.c.d"};
  for (const char* p : patterns) {
    for (const char* t : types) {
      INFO(p << " vs " << t);
      CHECK(edri::matches(p, t) == edrid::Pattern::parse(p)->matches(t));
    }
  }
}

TEST_CASE("only types declared shareable carry the shareable flag to the host") {
  CHECK((edri::type_ops<sample::Shared>()->flags & EDRI_TYPE_SHAREABLE) != 0);
  CHECK((edri::type_ops<sample::Order>()->flags & EDRI_TYPE_SHAREABLE) == 0);
  CHECK(edri::type_ops<sample::Shared>()->struct_size == sizeof(edri_type_ops));
}
