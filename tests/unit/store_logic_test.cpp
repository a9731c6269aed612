// The store's rules on both backends, with a clock the test controls.
#include "kv_store.hpp"
#include "support/temp_file.hpp"

#include <catch2/catch.hpp>

using edri_store::KvStore;
using edri_store::StoreError;
using nlohmann::json;

namespace {
struct Rig {
  probe::TempDir dir;
  std::int64_t now = 1'000'000;
  std::unique_ptr<KvStore> store;
  Rig(bool lmdb, edri_store::Limits limits = {}) {
    auto backend = lmdb ? edri_store::make_lmdb_backend((dir.path() / "db").string(), 64 << 20)
                        : edri_store::make_memory_backend();
    store = std::make_unique<KvStore>(std::move(backend), limits, [this] { return now; });
  }
};
}  // namespace

TEST_CASE("set, get, delete, incr and list behave the same on memory and LMDB") {
  for (bool lmdb : {false, true}) {
    INFO((lmdb ? "lmdb" : "memory"));
    Rig r(lmdb);
    auto& s = *r.store;
    s.set("user.1", {{"name", "ada"}}, std::nullopt);
    s.set("user.2", "bob", std::nullopt);
    s.set("visits", 41, std::nullopt);
    CHECK(s.get("user.1") == json{{"name", "ada"}});
    CHECK_FALSE(s.get("nobody"));
    CHECK(s.incr("visits", 1) == 42);
    CHECK(s.incr("fresh", -5) == -5);
    CHECK_THROWS_WITH(s.incr("user.2", 1), "value of 'user.2' is not an integer (it is string)");
    CHECK(s.get("user.2") == "bob");  // a refused incr changes nothing
    bool truncated = true;
    auto items = s.list("user.", &truncated);
    REQUIRE(items.size() == 2);
    CHECK(items[0].first == "user.1");
    CHECK(items[1].second == "bob");
    CHECK_FALSE(truncated);
    CHECK(s.erase("user.1"));
    CHECK_FALSE(s.erase("user.1"));
    CHECK(s.list("", nullptr).size() == 3);
  }
}

TEST_CASE("entries expire after their ttl and sweep reports them") {
  for (bool lmdb : {false, true}) {
    INFO((lmdb ? "lmdb" : "memory"));
    Rig r(lmdb);
    auto& s = *r.store;
    s.set("short", 1, 100);
    s.set("long", 2, 10'000);
    s.set("forever", 3, std::nullopt);
    r.now += 99;
    CHECK(s.get("short") == 1);
    r.now += 1;
    CHECK_FALSE(s.get("short"));
    CHECK(s.incr("short", 5) == 5);  // an expired value counts as absent
    r.now += 20'000;
    CHECK(s.list("", nullptr).size() == 2);  // "short" (re-created by incr) and "forever"
    auto gone = s.sweep();
    std::sort(gone.begin(), gone.end());
    // "short" was re-created by incr after it expired, so it has no ttl now.
    CHECK(gone == std::vector<std::string>{"long"});
    CHECK(s.get("forever") == 3);
  }
}

TEST_CASE("limits and bad input are refused without changing anything") {
  edri_store::Limits limits;
  limits.max_key_bytes = 8;
  limits.max_value_bytes = 32;
  limits.max_list = 2;
  Rig r(false, limits);
  auto& s = *r.store;
  CHECK_THROWS_AS(s.set("", 1, std::nullopt), StoreError);
  CHECK_THROWS_WITH(s.set("toolongkey", 1, std::nullopt), "key of 10 bytes exceeds max_key_bytes 8");
  CHECK_THROWS_WITH(s.set("k", std::string(40, 'x'), std::nullopt),
                    "value of 42 bytes exceeds max_value_bytes 32");
  CHECK_THROWS_WITH(s.set("k", 1, 0), "ttl_ms must be a positive integer");
  CHECK_FALSE(s.get("k"));
  s.set("a", 1, std::nullopt);
  s.set("b", 1, std::nullopt);
  s.set("c", 1, std::nullopt);
  bool truncated = false;
  CHECK(s.list("", &truncated).size() == 2);
  CHECK(truncated);
  s.set("max", std::numeric_limits<std::int64_t>::max(), std::nullopt);
  CHECK_THROWS_WITH(s.incr("max", 1), "incrementing 'max' would overflow");
}

TEST_CASE("LMDB keeps entries across closing and reopening") {
  probe::TempDir dir;
  const auto path = (dir.path() / "db").string();
  {
    KvStore s(edri_store::make_lmdb_backend(path, 64 << 20), {}, [] { return std::int64_t{0}; });
    s.set("k", {{"deep", {1, 2, 3}}}, std::nullopt);
    s.incr("n", 7);
  }
  KvStore again(edri_store::make_lmdb_backend(path, 64 << 20), {}, [] { return std::int64_t{0}; });
  CHECK(again.get("k") == json{{"deep", {1, 2, 3}}});
  CHECK(again.get("n") == 7);
  CHECK_THROWS_WITH(edri_store::make_lmdb_backend("/proc/nope/db", 1 << 20),
                    Catch::Contains("store path /proc/nope/db"));
}
