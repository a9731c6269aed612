// Cron parsing and next-run computation, and the job table's timing rules.
#include "job_table.hpp"

#include <catch2/catch.hpp>

using namespace edri_scheduler;
using namespace std::chrono_literals;

namespace {
Time utc(const char* text) {
  auto t = parse_time(text, TimeZone::utc);
  REQUIRE(t);
  return *t;
}
std::string next(const char* expr, const char* after) {
  std::string why;
  auto c = Cron::parse(expr, &why);
  INFO(why);
  REQUIRE(c);
  auto n = c->next_after(utc(after), TimeZone::utc);
  return n ? format_time(*n) : "none";
}
}  // namespace

TEST_CASE("cron next run: steps, ranges, lists") {
  CHECK(next("*/15 * * * *", "2026-11-22T10:07:30Z") == "2026-11-22T10:15:00.000Z");
  CHECK(next("*/15 * * * *", "2026-11-22T10:45:00Z") == "2026-11-22T11:00:00.000Z");
  CHECK(next("0,30 8-10 * * *", "2026-11-22T10:30:00Z") == "2026-11-23T08:00:00.000Z");
  CHECK(next("5/20 * * * *", "2026-11-22T10:06:00Z") == "2026-11-22T10:25:00.000Z");
  CHECK(next("0 9 * * 1-5", "2026-11-21T12:00:00Z") == "2026-11-23T09:00:00.000Z");  // Sat -> Mon
  CHECK(next("0 0 * * 7", "2026-11-22T00:00:00Z") == "2026-11-29T00:00:00.000Z");    // 7 = Sunday
  CHECK(next("* * * * *", "2026-11-22T23:59:59Z") == "2026-11-23T00:00:00.000Z");
}

TEST_CASE("cron next run across month ends and leap years") {
  CHECK(next("0 0 31 * *", "2026-01-31T00:00:00Z") == "2026-03-31T00:00:00.000Z");  // Feb has no 31st
  CHECK(next("0 0 31 * *", "2026-04-01T00:00:00Z") == "2026-05-31T00:00:00.000Z");
  CHECK(next("0 0 29 2 *", "2026-03-01T00:00:00Z") == "2028-02-29T00:00:00.000Z");
  CHECK(next("0 12 1 * *", "2026-12-15T00:00:00Z") == "2027-01-01T12:00:00.000Z");
  CHECK(next("0 0 30 2 *", "2026-01-01T00:00:00Z") == "none");
}

TEST_CASE("cron with both day fields restricted runs on either (classic cron)") {
  // The 13th, or any Friday.
  CHECK(next("0 0 13 * 5", "2026-11-01T00:00:00Z") == "2026-11-06T00:00:00.000Z");
  CHECK(next("0 0 13 * 5", "2026-11-10T00:00:00Z") == "2026-11-13T00:00:00.000Z");
}

TEST_CASE("bad cron expressions are refused with the reason") {
  std::string why;
  CHECK_FALSE(Cron::parse("* * * *", &why));
  CHECK_THAT(why, Catch::Contains("needs 5 fields"));
  CHECK_FALSE(Cron::parse("60 * * * *", &why));
  CHECK(why == "minute field '60': out of range 0-59");
  CHECK_FALSE(Cron::parse("* * 0 * *", &why));
  CHECK_THAT(why, Catch::Contains("day-of-month field '0'"));
  CHECK_FALSE(Cron::parse("*/0 * * * *", &why));
  CHECK_THAT(why, Catch::Contains("bad step"));
  CHECK_FALSE(Cron::parse("5-1 * * * *", &why));
  CHECK_THAT(why, Catch::Contains("backwards"));
  CHECK_FALSE(Cron::parse("a * * * *", &why));
}

TEST_CASE("interval jobs keep their phase and skip missed runs instead of bursting") {
  JobTable t(TimeZone::utc);
  const Time t0 = utc("2026-11-22T10:00:00Z");
  Job j = job_from_json({{"name", "tick"}, {"every_ms", 1000}, {"event", "x.tick"}}, TimeZone::utc, t0);
  t.add(std::move(j), t0);
  CHECK(t.next_due() == t0 + 1s);
  CHECK(t.take_due(t0 + 999ms).empty());
  CHECK(t.take_due(t0 + 1050ms).size() == 1);  // fired 50 ms late...
  CHECK(t.next_due() == t0 + 2s);              // ...but the next stays on the grid
  // A 10.5 s stall: one run, not ten, and still on the grid.
  CHECK(t.take_due(t0 + 12500ms).size() == 1);
  CHECK(t.next_due() == t0 + 13s);
}

TEST_CASE("a job first at a time, then every interval, runs on the grid that starts there") {
  JobTable t(TimeZone::utc);
  const Time t0 = utc("2026-11-22T10:00:00Z");
  t.add(job_from_json({{"name", "later"}, {"at", "2026-11-22T10:00:10Z"}, {"every_ms", 1000}, {"event", "x.tick"}},
                      TimeZone::utc, t0),
        t0);
  CHECK(t.next_due() == t0 + 10s);
  CHECK(t.take_due(t0 + 9s).empty());
  CHECK(t.take_due(t0 + 10s).size() == 1);
  CHECK(t.next_due() == t0 + 11s);
  CHECK(t.take_due(t0 + 13500ms).size() == 1);  // a stall: one run, back on the grid
  CHECK(t.next_due() == t0 + 14s);
  // A start already past: the next point of its grid after now, not now.
  t.add(job_from_json({{"name", "past"}, {"at", "2026-11-22T09:59:57Z"}, {"every_ms", 2000}, {"event", "x.tick"}},
                      TimeZone::utc, t0),
        t0);
  CHECK(format_time(*t.find("past")->next) == "2026-11-22T10:00:01.000Z");  // 09:59:57, :59, then 10:00:01
  const auto j = job_to_json(*t.find("past"));
  CHECK(j["every_ms"] == 2000);
  CHECK(j["at"] == "2026-11-22T09:59:57.000Z");
}

TEST_CASE("jobs are added, refused, updated, listed and cancelled by name") {
  JobTable t(TimeZone::utc);
  const Time now = utc("2026-11-22T10:00:00Z");
  t.add(job_from_json({{"name", "a"}, {"at", "2026-11-22T11:00:00+01:00"}, {"event", "x.a"}}, TimeZone::utc, now), now);
  CHECK(t.next_due() == now);  // 11:00+01:00 is 10:00Z
  CHECK_THROWS_WITH(t.add(job_from_json({{"name", "a"}, {"every_ms", 5}, {"event", "x"}}, TimeZone::utc, now), now),
                    "a job named 'a' exists already");
  CHECK(t.take_due(now).size() == 1);
  CHECK_FALSE(t.next_due());  // a one-shot runs once
  t.update(job_from_json({{"name", "a"}, {"cron", "30 10 * * *"}, {"event", "x.a"}}, TimeZone::utc, now), now);
  CHECK(format_time(*t.next_due()) == "2026-11-22T10:30:00.000Z");
  CHECK_THROWS_WITH(t.update(job_from_json({{"name", "zz"}, {"every_ms", 5}, {"event", "x"}}, TimeZone::utc, now), now),
                    "no job named 'zz'");
  CHECK(t.jobs().size() == 1);
  CHECK(t.cancel("a"));
  CHECK_FALSE(t.cancel("a"));
  CHECK_FALSE(t.next_due());
}

TEST_CASE("job descriptions are checked") {
  const Time now = Clock::now();
  auto bad = [&](const nlohmann::json& j) {
    try {
      job_from_json(j, TimeZone::utc, now);
    } catch (const JobError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string one_of = "a job needs exactly one of every_ms, at, cron (or at with every_ms: first at, then every)";
  CHECK(bad({{"event", "x"}}) == one_of);
  CHECK(bad({{"every_ms", 5}, {"cron", "* * * * *"}, {"event", "x"}}) == one_of);
  CHECK(bad({{"at", "2026-11-22T10:00:00Z"}, {"cron", "* * * * *"}, {"event", "x"}}) == one_of);
  CHECK(bad({{"at", "2026-11-22T10:00:00Z"}, {"every_ms", 1000}, {"event", "x"}}) == "accepted");
  CHECK(bad({{"every_ms", 0}, {"event", "x"}}) == "'every_ms' must be a positive integer");
  CHECK(bad({{"every_ms", 5}}) == "a job needs 'event' (the type to send)");
  CHECK(bad({{"every_ms", 5}, {"event", "x"}, {"kind", "shout"}}) == "'kind' must be notification or request");
  CHECK(bad({{"every_ms", 5}, {"event", "x"}, {"colour", 1}}) == "unknown job key 'colour'");
  CHECK_THAT(bad({{"at", "tomorrow"}, {"event", "x"}}), Catch::StartsWith("'at' must look like"));
  CHECK(bad({{"cron", "* *"}, {"event", "x"}}).find("needs 5 fields") != std::string::npos);
}
