// The window of finished event ids behind dedupe_ms: an id is remembered for
// the window, then forgotten; finishing it again starts a new window; the
// number remembered is bounded, oldest forgotten first.
#include "manager/dedupe_window.hpp"

#include <catch2/catch.hpp>

using edrid::DedupeWindow;
using namespace std::chrono_literals;

TEST_CASE("a dedupe window remembers an id for its window, again when finished again, and at most max_ids") {
  DedupeWindow w(100ms, 3);
  constexpr std::int64_t ms = 1'000'000;
  const edri_id128 a{1, 1}, b{1, 2}, c{1, 3}, d{1, 4};
  CHECK_FALSE(w.finished(a, 0));
  w.finish(a, 0);
  CHECK(w.finished(a, 99 * ms));
  CHECK_FALSE(w.finished(a, 100 * ms));  // the window is over
  CHECK(w.size() == 0);

  w.finish(a, 200 * ms);
  w.finish(a, 250 * ms);  // finished again: a new window from here
  CHECK(w.finished(a, 320 * ms));
  CHECK_FALSE(w.finished(a, 350 * ms));

  w.finish(a, 400 * ms);
  w.finish(b, 401 * ms);
  w.finish(c, 402 * ms);
  w.finish(d, 403 * ms);  // a fourth: the oldest goes
  CHECK(w.size() == 3);
  CHECK_FALSE(w.finished(a, 404 * ms));
  CHECK(w.finished(b, 404 * ms));
  CHECK(w.finished(d, 404 * ms));
}
