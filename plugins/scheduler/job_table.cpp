#include "job_table.hpp"

#include <cstdio>
#include <ctime>

namespace edri_scheduler {

std::optional<Time> parse_time(const std::string& text, TimeZone tz) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::string rest = text.substr(static_cast<std::size_t>(consumed));
  std::time_t t;
  if (rest == "Z") {
    t = timegm(&tm);
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int hh = 0, mm = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    const int offset = (hh * 60 + mm) * 60 * (rest[0] == '+' ? 1 : -1);
    t = timegm(&tm) - offset;
  } else if (rest.empty()) {
    if (tz == TimeZone::utc) {
      t = timegm(&tm);
    } else {
      tm.tm_isdst = -1;
      t = std::mktime(&tm);
    }
  } else {
    return std::nullopt;
  }
  return Clock::from_time_t(t);
}

std::string format_time(Time t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

Job job_from_json(const nlohmann::json& j, TimeZone tz, Time now) {
  if (!j.is_object()) throw JobError("a job must be an object");
  Job job;
  auto str = [&](const char* key) -> std::optional<std::string> {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    if (!j[key].is_string()) throw JobError(std::string("'") + key + "' must be a string");
    return j[key].get<std::string>();
  };
  static const char* kKeys[] = {"name", "every_ms", "at", "cron", "event", "kind", "data", "overlap", "priority"};
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (const char* key : kKeys) known = known || k == key;
    if (!known) throw JobError("unknown job key '" + k + "'");
  }
  job.name = str("name").value_or("");
  const int kinds = j.contains("every_ms") + j.contains("at") + j.contains("cron");
  // at with every_ms: first at that time, then on that interval.
  const bool first_then_every = kinds == 2 && j.contains("every_ms") && j.contains("at");
  if (kinds != 1 && !first_then_every) {
    throw JobError("a job needs exactly one of every_ms, at, cron (or at with every_ms: first at, then every)");
  }
  if (j.contains("every_ms")) {
    if (!j["every_ms"].is_number_integer() || j["every_ms"].get<std::int64_t>() < 1) {
      throw JobError("'every_ms' must be a positive integer");
    }
    job.every = std::chrono::milliseconds(j["every_ms"].get<std::int64_t>());
  }
  if (auto at = str("at")) {
    job.at = parse_time(*at, tz);
    if (!job.at) throw JobError("'at' must look like 2026-11-22T05:30:00Z (or +01:00, or no zone for the scheduler's)");
  } else if (!job.every) {
    std::string why;
    job.cron = Cron::parse(str("cron").value_or(""), &why);
    if (!job.cron) throw JobError(why);
  }
  auto event = str("event");
  if (!event || event->empty()) throw JobError("a job needs 'event' (the type to send)");
  job.event = *event;
  const auto kind = str("kind").value_or("notification");
  if (kind != "notification" && kind != "request") throw JobError("'kind' must be notification or request");
  job.request = kind == "request";
  if (j.contains("data")) job.data = j["data"];
  const auto overlap = str("overlap").value_or("skip");
  if (overlap != "skip" && overlap != "queue") throw JobError("'overlap' must be skip or queue");
  job.overlap = overlap == "skip" ? Overlap::skip : Overlap::queue;
  if (j.contains("priority") && !j["priority"].is_null()) {
    const auto& p = j["priority"];
    if (!p.is_number_integer() || p.get<std::int64_t>() < -1'000'000 || p.get<std::int64_t>() > 1'000'000) {
      throw JobError("'priority' must be an integer from -1000000 to 1000000 (lower is sooner)");
    }
    job.priority = p.get<int>();
  }
  (void)now;
  return job;
}

nlohmann::json job_to_json(const Job& job) {
  nlohmann::json j{{"name", job.name},
                   {"event", job.event},
                   {"kind", job.request ? "request" : "notification"},
                   {"data", job.data},
                   {"overlap", job.overlap == Overlap::skip ? "skip" : "queue"},
                   {"priority", job.priority ? nlohmann::json(*job.priority) : nlohmann::json()},
                   {"runs", job.runs},
                   {"skipped", job.skipped},
                   {"awaiting_response", job.awaiting}};
  if (job.every) j["every_ms"] = job.every->count();
  if (job.at) j["at"] = format_time(*job.at);
  if (job.cron) j["cron"] = job.cron->text();
  if (job.next) {
    j["next_run"] = format_time(*job.next);
    j["next_run_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(job.next->time_since_epoch()).count();
  } else {
    j["next_run"] = nullptr;
  }
  if (!job.last_status.empty()) j["last_status"] = job.last_status;
  return j;
}

void JobTable::schedule(Job& job, Time now, bool first) {
  if (job.every) {
    if ((first || !job.next) && job.at) {
      // On the grid that starts at `at`: a start already past runs next at
      // its first point after now.
      Time next = *job.at;
      if (next < now) next += *job.every * ((now - next) / *job.every + 1);
      job.next = next;
    } else if (first || !job.next) {
      job.next = now + *job.every;
    } else {
      // next = previous + interval keeps the phase (no drift); runs missed
      // while the process was stalled are skipped, not replayed.
      Time next = *job.next + *job.every;
      if (next <= now) {
        const auto behind = (now - next) / *job.every + 1;
        next += *job.every * behind;
      }
      job.next = next;
    }
  } else if (job.at) {
    job.next = first ? std::optional<Time>(*job.at) : std::nullopt;
  } else {
    job.next = job.cron->next_after(first ? now : std::max(now, *job.next), tz_);
  }
}

void JobTable::check_interval(const Job& job) const {
  if (job.every && *job.every < limits_.min_interval) {
    throw JobError("every_ms " + std::to_string(job.every->count()) + " is below min_interval_ms " +
                   std::to_string(limits_.min_interval.count()));
  }
}

const Job& JobTable::add(Job job, Time now) {
  if (jobs_.count(job.name)) throw JobError("a job named '" + job.name + "' exists already");
  if (jobs_.size() >= limits_.max_jobs) {
    throw JobError("the scheduler holds max_jobs " + std::to_string(limits_.max_jobs) + " jobs already");
  }
  check_interval(job);
  schedule(job, now, true);
  const std::string name = job.name;
  return jobs_.emplace(name, std::move(job)).first->second;
}

const Job& JobTable::update(Job job, Time now) {
  auto it = jobs_.find(job.name);
  if (it == jobs_.end()) throw JobError("no job named '" + job.name + "'");
  check_interval(job);
  job.runs = it->second.runs;
  job.skipped = it->second.skipped;
  job.awaiting = it->second.awaiting;
  schedule(job, now, true);
  it->second = std::move(job);
  return it->second;
}

bool JobTable::cancel(const std::string& name) { return jobs_.erase(name) > 0; }

std::vector<const Job*> JobTable::jobs() const {
  std::vector<const Job*> out;
  for (const auto& [n, j] : jobs_) out.push_back(&j);
  return out;
}

Job* JobTable::find(const std::string& name) {
  auto it = jobs_.find(name);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::optional<Time> JobTable::next_due() const {
  std::optional<Time> best;
  for (const auto& [n, j] : jobs_) {
    if (j.next && (!best || *j.next < *best)) best = j.next;
  }
  return best;
}

std::vector<Job*> JobTable::take_due(Time now) {
  std::vector<Job*> due;
  for (auto& [n, j] : jobs_) {
    if (j.next && *j.next <= now) {
      due.push_back(&j);
      schedule(j, now, false);
    }
  }
  return due;
}

}  // namespace edri_scheduler
