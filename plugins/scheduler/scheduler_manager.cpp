// The scheduler manager: jobs from config and at run time (<prefix>.add,
// .update, .list, .cancel; prefix "scheduler" by default), each sending a
// notification or request at a time, on an interval, or on a cron schedule.
#include "job_table.hpp"

#include <edri/edri.hpp>

namespace {

using edri::GenericEvent;
using edri::json;
using edri::Reply;
using edri_scheduler::Clock;
using edri_scheduler::Job;
using edri_scheduler::JobError;

class SchedulerManager : public edri::Manager {
 public:
  static edri::ConfigSchema config_schema() {
    using edri::FieldType;
    return edri::ConfigSchema{}
        .field("events", FieldType::string, "scheduler", "event type prefix: <events>.add, .update, .list, .cancel")
        .field("timezone", FieldType::string, "local", "local or utc: for cron and for 'at' times without a zone")
        .field("max_jobs", FieldType::integer, 1000, "most jobs at once (config and run time)")
        .field("min_interval_ms", FieldType::integer, 100, "shortest every_ms a job may have")
        .field("jobs", FieldType::any, json::array(),
               "jobs: {name, every_ms | at | cron, event, kind: notification|request, data, overlap: skip|queue}");
  }

  SchedulerManager(edri::Context& ctx, const edri::Config& config)
      : Manager(ctx), prefix_(config.get<std::string>("events")), table_(timezone(config), limits(config)) {
    const json jobs = config.get<json>("jobs");
    if (!jobs.is_array()) throw edri::ConfigError("jobs", "jobs must be a list");
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      try {
        Job job = edri_scheduler::job_from_json(jobs[i], tz_, Clock::now());
        if (job.name.empty()) throw JobError("a job in the config needs a name");
        table_.add(std::move(job), Clock::now());
      } catch (const JobError& e) {
        throw edri::ConfigError("jobs", "jobs[" + std::to_string(i) + "]: " + e.what());
      }
    }
    serve("add", [this](const json& d, json& out) {
      Job job = edri_scheduler::job_from_json(d, tz_, Clock::now());
      if (job.name.empty()) job.name = "job-" + std::to_string(++generated_);
      out = edri_scheduler::job_to_json(table_.add(std::move(job), Clock::now()));
    });
    serve("update", [this](const json& d, json& out) {
      Job job = edri_scheduler::job_from_json(d, tz_, Clock::now());
      if (job.name.empty()) throw JobError("update needs the job's 'name'");
      out = edri_scheduler::job_to_json(table_.update(std::move(job), Clock::now()));
    });
    serve("list", [this](const json&, json& out) {
      json jobs = json::array();
      for (const Job* j : table_.jobs()) jobs.push_back(edri_scheduler::job_to_json(*j));
      out = {{"jobs", std::move(jobs)}};
    });
    serve("cancel", [this](const json& d, json& out) {
      if (!d.is_object() || !d.contains("name") || !d["name"].is_string()) throw JobError("cancel needs 'name'");
      const auto name = d["name"].get<std::string>();
      out = {{"name", name}, {"cancelled", table_.cancel(name)}};
    });
  }

  void after_start() override {
    started_ = true;
    arm();
  }

 private:
  static edri_scheduler::JobLimits limits(const edri::Config& config) {
    edri_scheduler::JobLimits l;
    const auto max_jobs = config.get<std::int64_t>("max_jobs");
    const auto min_ms = config.get<std::int64_t>("min_interval_ms");
    if (max_jobs < 1) throw edri::ConfigError("max_jobs", "max_jobs must be at least 1");
    if (min_ms < 1) throw edri::ConfigError("min_interval_ms", "min_interval_ms must be at least 1");
    l.max_jobs = static_cast<std::size_t>(max_jobs);
    l.min_interval = std::chrono::milliseconds(min_ms);
    return l;
  }

  edri_scheduler::TimeZone timezone(const edri::Config& config) {
    const auto tz = config.get<std::string>("timezone");
    if (tz != "local" && tz != "utc") throw edri::ConfigError("timezone", "timezone must be local or utc");
    tz_ = tz == "utc" ? edri_scheduler::TimeZone::utc : edri_scheduler::TimeZone::local;
    return tz_;
  }

  // Answers <prefix>.<op>; every change re-arms the timer, so a job nearer
  // than the one waited for wakes the scheduler early.
  template <class F>
  void serve(const std::string& op, F fn) {
    ctx().on_request(prefix_ + "." + op, [this, fn](const GenericEvent& ev, Reply<json>& reply) {
      json out;
      try {
        fn(ev.data(), out);
      } catch (const JobError& e) {
        reply.error(e.what());
        return;
      }
      arm();
      reply.set(std::move(out));
    });
  }

  void arm() {
    if (!started_) return;
    if (timer_) ctx().cancel(timer_);
    timer_ = 0;
    const auto next = table_.next_due();
    if (!next) return;
    const auto delay = std::max(std::chrono::milliseconds(0),
                                std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now()));
    timer_ = ctx().after(delay, [this] {
      timer_ = 0;
      fire();
    });
  }

  void fire() {
    for (Job* job : table_.take_due(Clock::now())) run(*job);
    arm();
  }

  void run(Job& job) {
    if (!job.request) {
      ++job.runs;
      ctx().notify(job.event, job.data, {.priority = job.priority});
      return;
    }
    if (job.awaiting) {
      // The previous run still waits for its response: never stack them.
      if (job.overlap == edri_scheduler::Overlap::skip) {
        ++job.skipped;
      } else {
        ++job.queued;
      }
      return;
    }
    send(job);
  }

  void send(Job& job) {
    ++job.runs;
    job.awaiting = true;
    ctx().request(job.event, job.data, [this, name = job.name](const edri::Response<json>& r) {
      Job* j = table_.find(name);
      if (!j) return;
      j->awaiting = false;
      j->last_status = std::string(edri::to_string(r.status()));
      if (!r.ok()) log().warn("job ", name, ": ", j->last_status, " ", r.message());
      if (j->queued > 0) {
        --j->queued;
        send(*j);
      }
    }, {.priority = job.priority});
  }

  std::string prefix_;
  edri_scheduler::TimeZone tz_ = edri_scheduler::TimeZone::local;
  edri_scheduler::JobTable table_;
  edri::TimerId timer_ = 0;
  bool started_ = false;
  std::uint64_t generated_ = 0;
};

}  // namespace

EDRI_PLUGIN(SchedulerManager, "scheduler", "1.0.0")
