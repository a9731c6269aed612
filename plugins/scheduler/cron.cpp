#include "cron.hpp"

#include <charconv>
#include <ctime>
#include <vector>

namespace edri_scheduler {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

bool number(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Sets the bits of one field; `name` and [lo, hi] are for messages and checks.
template <std::size_t N>
bool parse_field(std::string_view text, int lo, int hi, const char* name, std::bitset<N>& bits,
                 std::string* error) {
  auto fail = [&](const std::string& why) {
    if (error) *error = std::string(name) + " field '" + std::string(text) + "': " + why;
    return false;
  };
  for (std::string_view part : split(text, ',')) {
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      if (!number(part.substr(slash + 1), &step) || step < 1) return fail("bad step");
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part == "*") {
      // the whole range
    } else if (auto dash = part.find('-'); dash != std::string_view::npos) {
      if (!number(part.substr(0, dash), &a) || !number(part.substr(dash + 1), &b)) return fail("bad range");
      if (a > b) return fail("range runs backwards");
    } else {
      if (!number(part, &a)) return fail("not a number");
      b = step > 1 ? hi : a;  // "5/15" means from 5 every 15
    }
    if (a < lo || b > hi) {
      return fail("out of range " + std::to_string(lo) + "-" + std::to_string(hi));
    }
    for (int v = a; v <= b; v += step) bits.set(static_cast<std::size_t>(v));
  }
  return true;
}

std::tm to_tm(std::time_t t, TimeZone tz) {
  std::tm tm{};
  if (tz == TimeZone::utc) {
    gmtime_r(&t, &tm);
  } else {
    localtime_r(&t, &tm);
  }
  return tm;
}

std::time_t from_tm(std::tm tm, TimeZone tz) {
  if (tz == TimeZone::utc) return timegm(&tm);
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

}  // namespace

std::optional<Cron> Cron::parse(std::string_view text, std::string* error) {
  std::vector<std::string_view> fields;
  for (auto f : split(text, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) {
    if (error) *error = "cron expression '" + std::string(text) + "' needs 5 fields (minute hour day month weekday), has " + std::to_string(fields.size());
    return std::nullopt;
  }
  Cron c;
  c.text_ = std::string(text);
  std::bitset<8> wd;
  if (!parse_field(fields[0], 0, 59, "minute", c.minutes_, error) ||
      !parse_field(fields[1], 0, 23, "hour", c.hours_, error) ||
      !parse_field(fields[2], 1, 31, "day-of-month", c.days_, error) ||
      !parse_field(fields[3], 1, 12, "month", c.months_, error) ||
      !parse_field(fields[4], 0, 7, "day-of-week", wd, error)) {
    return std::nullopt;
  }
  if (wd.test(7)) wd.set(0);
  wd.reset(7);
  c.weekdays_ = wd;
  c.days_any_ = fields[2] == "*";
  c.weekdays_any_ = fields[4] == "*";
  return c;
}

bool Cron::day_matches(int mday, int month, int wday) const {
  if (!months_.test(static_cast<std::size_t>(month))) return false;
  const bool d = days_.test(static_cast<std::size_t>(mday));
  const bool w = weekdays_.test(static_cast<std::size_t>(wday));
  if (days_any_ && weekdays_any_) return true;
  if (days_any_) return w;
  if (weekdays_any_) return d;
  return d || w;
}

std::optional<std::chrono::system_clock::time_point> Cron::next_after(
    std::chrono::system_clock::time_point after, TimeZone tz) const {
  using namespace std::chrono;
  // Start at the next whole minute, then skip whole days, hours and minutes
  // that cannot match; mktime/timegm normalise the overflowing fields.
  std::time_t t = system_clock::to_time_t(floor<minutes>(after)) + 60;
  const std::time_t limit = t + 8LL * 366 * 24 * 3600;
  while (t < limit) {
    std::tm tm = to_tm(t, tz);
    if (!day_matches(tm.tm_mday, tm.tm_mon + 1, tm.tm_wday)) {
      tm.tm_mday += 1;
      tm.tm_hour = 0;
      tm.tm_min = 0;
      tm.tm_sec = 0;
      t = from_tm(tm, tz);
      continue;
    }
    if (!hours_.test(static_cast<std::size_t>(tm.tm_hour))) {
      tm.tm_hour += 1;
      tm.tm_min = 0;
      tm.tm_sec = 0;
      t = from_tm(tm, tz);
      continue;
    }
    if (!minutes_.test(static_cast<std::size_t>(tm.tm_min))) {
      t += 60;
      continue;
    }
    return system_clock::from_time_t(t);
  }
  return std::nullopt;
}

}  // namespace edri_scheduler
