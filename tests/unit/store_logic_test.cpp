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

namespace {
// Counts what the store asks of its backend.
class CountingBackend : public edri_store::Backend {
 public:
  explicit CountingBackend(std::unique_ptr<edri_store::Backend> inner) : inner_(std::move(inner)) {}
  std::optional<edri_store::Entry> get(const std::string& key) override {
    ++gets;
    return inner_->get(key);
  }
  void put(const std::string& key, const edri_store::Entry& e) override { inner_->put(key, e); }
  bool erase(const std::string& key) override { return inner_->erase(key); }
  void visit(const std::string& prefix, const Visitor& fn) override {
    inner_->visit(prefix, [&](std::string k, edri_store::Entry e) {
      ++visited;
      return fn(std::move(k), std::move(e));
    });
  }
  edri_store::Entry update(const std::string& key,
                           const std::function<edri_store::Entry(std::optional<edri_store::Entry>)>& c) override {
    return inner_->update(key, c);
  }
  std::size_t gets = 0, visited = 0;

 private:
  std::unique_ptr<edri_store::Backend> inner_;
};
}  // namespace

TEST_CASE("sweeping costs what expired and not what is stored, and list stops at its limit") {
  auto counting = std::make_unique<CountingBackend>(edri_store::make_memory_backend());
  auto* backend = counting.get();
  std::int64_t now = 1'000;
  edri_store::Limits limits;
  limits.max_list = 5;
  KvStore s(std::move(counting), limits, [&] { return now; });
  for (int i = 0; i < 10'000; ++i) s.set("k" + std::to_string(i), i, std::nullopt);
  s.set("t1", 1, 50);
  s.set("t2", 2, 5'000);
  backend->visited = backend->gets = 0;
  now += 100;
  CHECK(s.sweep() == std::vector<std::string>{"t1"});
  CHECK(backend->visited == 0);
  CHECK(backend->gets == 1);
  CHECK(s.sweep().empty());
  CHECK(backend->gets == 1);  // nothing due: nothing read

  bool truncated = false;
  CHECK(s.list("k", &truncated).size() == 5);
  CHECK(truncated);
  CHECK(backend->visited == 6);
}

TEST_CASE("a time to live survives a restart of an LMDB store, and absurd ones are refused") {
  probe::TempDir dir;
  const auto path = (dir.path() / "db").string();
  std::int64_t now = 1'000;
  {
    KvStore s(edri_store::make_lmdb_backend(path, 64 << 20), {}, [&] { return now; });
    s.set("session", "x", 500);
    CHECK_THROWS_WITH(s.set("k", 1, std::numeric_limits<std::int64_t>::max()),
                      Catch::StartsWith("ttl_ms must be at most"));
    CHECK_FALSE(s.get("k"));
  }
  KvStore again(edri_store::make_lmdb_backend(path, 64 << 20), {}, [&] { return now; });
  now += 600;
  CHECK(again.sweep() == std::vector<std::string>{"session"});

  edri_store::Limits big;
  big.max_key_bytes = 1024;
  CHECK_THROWS_WITH(KvStore(edri_store::make_lmdb_backend(path, 64 << 20), big, [&] { return now; }),
                    "max_key_bytes 1024 exceeds the longest key the backend can hold (511)");
  KvStore lmdb(edri_store::make_lmdb_backend(path, 64 << 20), {}, [&] { return now; });
  CHECK_THROWS_WITH(lmdb.set(std::string(512, 'k'), 1, std::nullopt), "key of 512 bytes exceeds max_key_bytes 511");
  lmdb.set(std::string(511, 'k'), 1, std::nullopt);
  CHECK(lmdb.get(std::string(511, 'k')) == 1);
}
