#include "event/pattern.hpp"
#include "router/subscription_table.hpp"

#include <catch2/catch.hpp>

using edrid::Pattern;

namespace {
bool match(const char* pattern, const char* type) {
  auto p = Pattern::parse(pattern);
  REQUIRE(p);
  return p->matches(type);
}
}  // namespace

TEST_CASE("literal patterns match exactly") {
  CHECK(match("store.get", "store.get"));
  CHECK_FALSE(match("store.get", "store.getx"));
  CHECK_FALSE(match("store.get", "store"));
  CHECK_FALSE(match("store.get", "store.get.x"));
}

TEST_CASE("* matches exactly one token") {
  CHECK(match("store.*", "store.get"));
  CHECK_FALSE(match("store.*", "store"));
  CHECK_FALSE(match("store.*", "store.get.x"));
  CHECK(match("*.get", "store.get"));
  CHECK(match("a.*.c", "a.b.c"));
  CHECK_FALSE(match("a.*.c", "a.b.d"));
  CHECK(match("*", "x"));
  CHECK_FALSE(match("*", "x.y"));
}

TEST_CASE("> matches one or more trailing tokens") {
  CHECK(match("store.>", "store.get"));
  CHECK(match("store.>", "store.get.deep.er"));
  CHECK_FALSE(match("store.>", "store"));
  CHECK(match(">", "anything.at.all"));
  CHECK(match("*.x.>", "a.x.b"));
  CHECK_FALSE(match("*.x.>", "a.x"));
}

TEST_CASE("malformed patterns are refused with a reason") {
  std::string why;
  CHECK_FALSE(Pattern::parse("a.>.b", &why));
  CHECK_THAT(why, Catch::Contains("last token"));
  CHECK_FALSE(Pattern::parse("a..b", &why));
  CHECK_THAT(why, Catch::Contains("empty token"));
  CHECK_FALSE(Pattern::parse("", &why));
  CHECK_FALSE(Pattern::parse("a b", &why));
  CHECK_FALSE(Pattern::parse("a.b*", &why));
}

TEST_CASE("type names are validated") {
  CHECK(edrid::is_valid_type_name("store.get"));
  CHECK(edrid::is_valid_type_name("a-b_c.D9"));
  CHECK_FALSE(edrid::is_valid_type_name(""));
  CHECK_FALSE(edrid::is_valid_type_name("a..b"));
  CHECK_FALSE(edrid::is_valid_type_name(".a"));
  CHECK_FALSE(edrid::is_valid_type_name("a."));
  CHECK_FALSE(edrid::is_valid_type_name("a.*"));
  CHECK_FALSE(edrid::is_valid_type_name(std::string(300, 'a')));
}

TEST_CASE("the table gives each manager its most specific handler once") {
  auto* m1 = reinterpret_cast<edrid::ManagerRuntime*>(0x10);
  auto* m2 = reinterpret_cast<edrid::ManagerRuntime*>(0x20);
  std::vector<edrid::Subscription> subs{
      {EDRI_KIND_NOTIFICATION, *Pattern::parse(">"), m1, 1},
      {EDRI_KIND_NOTIFICATION, *Pattern::parse("a.*"), m1, 2},
      {EDRI_KIND_NOTIFICATION, *Pattern::parse("a.b"), m1, 3},
      {EDRI_KIND_NOTIFICATION, *Pattern::parse("a.>"), m2, 4},
      {EDRI_KIND_REQUEST, *Pattern::parse("a.b"), m2, 5},
  };
  edrid::SubscriptionTable t(subs, 1);
  auto r = t.resolve(EDRI_KIND_NOTIFICATION, "a.b");
  REQUIRE(r.size() == 2);
  CHECK(r[0].manager == m1);
  CHECK(r[0].handler_id == 3);
  CHECK(r[1].handler_id == 4);
  auto r2 = t.resolve(EDRI_KIND_NOTIFICATION, "a.c");
  REQUIRE(r2.size() == 2);
  CHECK(r2[0].handler_id == 2);
  auto r3 = t.resolve(EDRI_KIND_NOTIFICATION, "z");
  REQUIRE(r3.size() == 1);
  CHECK(r3[0].handler_id == 1);
  auto req = t.resolve(EDRI_KIND_REQUEST, "a.b");
  REQUIRE(req.size() == 1);
  CHECK(req[0].handler_id == 5);
  CHECK(t.resolve(EDRI_KIND_REQUEST, "a.c").empty());
}
