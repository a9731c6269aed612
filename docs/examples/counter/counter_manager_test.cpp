// The plugin guide's counter manager under test, with edri::testing: the
// manager runs on a real router in this process; the test is a manager too.
#include "counter_events.hpp"

#include <edri/testing.hpp>

#include <catch2/catch.hpp>

extern "C" const edri_plugin_descriptor* edri_plugin_entry(void);  // counter_manager.cpp's EDRI_PLUGIN

TEST_CASE("the counter counts hits per key and answers get") {
  edri::testing::TestRouter router;
  router.add("counter", edri_plugin_entry()).start();
  auto& test = router.ctx();
  CHECK(test.notify(counter::Hit{"apples", 2}) == 1);  // one manager got it
  test.notify(counter::Hit{"apples", 3});
  test.notify(counter::Hit{"pears", 1});
  // Requests queue behind the notifications: the counts are in.
  auto apples = test.call(counter::Get{"apples"});
  REQUIRE(apples.ok());
  CHECK(apples.data()->value == 5);
  CHECK(test.call(counter::Get{"plums"}).data()->value == 0);
  auto empty = test.call(counter::Get{""});
  CHECK(empty.status() == edri::Status::error);
  CHECK(empty.message() == "key must not be empty");
}

TEST_CASE("the counter keeps at most max_keys keys and counts the refused hit as an error") {
  edri::testing::TestRouter router;
  router.add("counter", edri_plugin_entry(), {{"max_keys", 2}}).start();
  auto& test = router.ctx();
  test.notify(counter::Hit{"apples", 1});
  test.notify(counter::Hit{"pears", 1});
  test.notify(counter::Hit{"plums", 1});  // a third key: the handler throws
  CHECK(test.call(counter::Get{"pears"}).data()->value == 1);
  CHECK(test.call(counter::Get{"plums"}).data()->value == 0);
  const auto stats = router.manager_stats("counter");
  CHECK(stats["errors"] == 1);
  CHECK(stats["handled"] == 5);  // three hits and two gets, the failed hit among them
}

TEST_CASE("a config the counter's schema or constructor refuses is an error naming the key") {
  edri::testing::TestRouter unknown;
  CHECK_THROWS_WITH(unknown.add("counter", edri_plugin_entry(), {{"max_key", 2}}),
                    "manager 'counter': unknown config key 'max_key'");
  edri::testing::TestRouter zero;
  zero.add("counter", edri_plugin_entry(), {{"max_keys", 0}});
  CHECK_THROWS_WITH(zero.start(), Catch::Contains("max_keys must be at least 1") && Catch::Contains("'max_keys'"));
}
