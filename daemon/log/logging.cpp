#include "log/logging.hpp"

#include "event/ids.hpp"

#include <mutex>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/details/os.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>

#include <sys/stat.h>

#include <cstdlib>
#include <spdlog/spdlog.h>

namespace edrid::logging {
namespace {

thread_local const edri_id128* t_trace = nullptr;

// `%*` in the text pattern: " trace=<32 hex>" when a trace is in scope.
class TraceFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    if (!t_trace) return;
    const std::string s = " trace=" + to_hex(*t_trace);
    dest.append(s.data(), s.data() + s.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TraceFlag>();
  }
};

// One JSON object per line: ts, level, logger, msg and trace when known.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto t = system_clock::to_time_t(msg.time);
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    nlohmann::json j{{"ts", ts},
                     {"level", spdlog::level::to_string_view(msg.level)},
                     {"logger", std::string_view(msg.logger_name.data(), msg.logger_name.size())},
                     {"msg", std::string_view(msg.payload.data(), msg.payload.size())}};
    if (t_trace) j["trace"] = to_hex(*t_trace);
    const std::string line =
        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

std::mutex g_mutex;
Settings g_settings;
spdlog::sink_ptr g_sink;

std::unique_ptr<spdlog::formatter> make_formatter(const Settings& s) {
  if (s.format == "json") return std::make_unique<JsonFormatter>();
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<TraceFlag>('*');
  // journald stamps time and priority itself.
  f->set_pattern(s.journald ? "[%n] %v%*" : "%Y-%m-%dT%H:%M:%S.%e %l [%n] %v%*");
  return f;
}

spdlog::sink_ptr sink_locked() {
  if (!g_sink) {
    if (g_settings.journald) {
      g_sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("edrid", true);
    } else {
      g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    }
    g_sink->set_formatter(make_formatter(g_settings));
  }
  return g_sink;
}

}  // namespace

spdlog::level::level_enum parse_level(std::string_view name) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (auto [n, l] : kLevels) {
    if (n == name) return l;
  }
  throw std::invalid_argument("unknown log level '" + std::string(name) +
                              "' (trace, debug, info, warn, error, critical, off)");
}

bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  struct stat st {};
  if (::fstat(2, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  return std::sscanf(js, "%llu:%llu", &dev, &ino) == 2 && dev == st.st_dev && ino == st.st_ino;
}

void setup(const Settings& settings) {
  const auto level = parse_level(settings.level);
  std::lock_guard lock(g_mutex);
  g_settings = settings;
  sink_locked()->set_formatter(make_formatter(settings));
  spdlog::set_level(level);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
  auto def = spdlog::get("edrid");
  if (!def) {
    def = std::make_shared<spdlog::logger>("edrid", sink_locked());
    def->set_level(level);
    spdlog::register_logger(def);
  }
  spdlog::set_default_logger(def);
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  std::lock_guard lock(g_mutex);
  if (auto l = spdlog::get(name)) return l;
  auto l = std::make_shared<spdlog::logger>(name, sink_locked());
  l->set_level(parse_level(g_settings.level));
  spdlog::register_logger(l);
  return l;
}

TraceScope::TraceScope(const edri_id128& trace) noexcept : saved_(t_trace) { t_trace = &trace; }
TraceScope::~TraceScope() { t_trace = saved_; }

}  // namespace edrid::logging
