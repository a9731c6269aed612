// The scheduler's jobs and when each runs next. Plain logic with the time
// passed in, so tests can drive it without waiting.
#pragma once

#include "cron.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace edri_scheduler {

using Clock = std::chrono::system_clock;
using Time = Clock::time_point;

// A job description the scheduler refuses; the message says why.
class JobError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Overlap { skip, queue };  // a run due while the previous awaits its response

struct Job {
  std::string name;
  // Exactly one of these three, or `at` with `every`: first at, then every.
  std::optional<std::chrono::milliseconds> every;
  std::optional<Time> at;
  std::optional<Cron> cron;
  std::string event;          // type to send
  bool request = false;       // send as request (else notification)
  nlohmann::json data = nlohmann::json::object();
  Overlap overlap = Overlap::skip;
  std::optional<int> priority;  // of what the job sends (lower is sooner)

  std::optional<Time> next;   // none: a one-shot that has run
  std::uint64_t runs = 0;
  std::uint64_t skipped = 0;
  std::uint32_t queued = 0;   // runs waiting for the response in flight
  bool awaiting = false;      // a request run waits for its response
  std::string last_status;
};

// Builds a job from its JSON description ({name, every_ms | at | cron, event,
// kind, data, overlap, priority}); throws JobError.
Job job_from_json(const nlohmann::json& j, TimeZone tz, Time now);
nlohmann::json job_to_json(const Job& job);
// "2026-11-22T05:30:00Z", "...+01:00", or with no zone in tz.
std::optional<Time> parse_time(const std::string& text, TimeZone tz);
std::string format_time(Time t);

// What one scheduler takes: anyone who may add jobs could otherwise add
// thousands of 1 ms ones and keep a core busy for good.
struct JobLimits {
  std::size_t max_jobs = 1000;
  std::chrono::milliseconds min_interval{100};
};

class JobTable {
 public:
  explicit JobTable(TimeZone tz, JobLimits limits = {}) : tz_(tz), limits_(limits) {}

  // Throws JobError if the name is taken, the table is full or the interval
  // is below the minimum.
  const Job& add(Job job, Time now);
  // Replaces the schedule, event and data of an existing job; throws JobError.
  const Job& update(Job job, Time now);
  bool cancel(const std::string& name);
  std::vector<const Job*> jobs() const;
  Job* find(const std::string& name);

  // The earliest next run, if any job has one.
  std::optional<Time> next_due() const;
  // Jobs due at `now`; each one's next run moves on (no burst after a stall:
  // missed interval runs are skipped, keeping the interval's phase).
  std::vector<Job*> take_due(Time now);

 private:
  void schedule(Job& job, Time now, bool first);
  void check_interval(const Job& job) const;

  TimeZone tz_;
  JobLimits limits_;
  std::map<std::string, Job> jobs_;
};

}  // namespace edri_scheduler
