// Five-field cron expressions: minute hour day-of-month month day-of-week,
// each `*`, a number, a range `a-b`, a list `a,b,c`, or a step `*/n` /
// `a-b/n`. Day-of-week 0 or 7 is Sunday. When both day fields are
// restricted, a day matching either runs (classic cron).
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace edri_scheduler {

enum class TimeZone { local, utc };

class Cron {
 public:
  // nullopt with the reason in *error when the text is not a valid expression.
  static std::optional<Cron> parse(std::string_view text, std::string* error);

  // The first matching minute strictly after `after`, or nullopt if none
  // within eight years (e.g. "0 0 30 2 *").
  std::optional<std::chrono::system_clock::time_point> next_after(
      std::chrono::system_clock::time_point after, TimeZone tz) const;

  const std::string& text() const noexcept { return text_; }

 private:
  bool day_matches(int mday, int month, int wday) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<8> weekdays_; // 0..6
  bool days_any_ = true;
  bool weekdays_any_ = true;
};

}  // namespace edri_scheduler
