// spdlog set-up: one named logger per subsystem and per manager, text or JSON
// lines, and the trace id of the event being handled on every line about it.
#pragma once

#include <edri/abi.h>

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

namespace edrid::logging {

struct Settings {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string format = "text";  // text or json
  // Write to journald with priorities instead of stderr (set when systemd
  // connected stderr to the journal: $JOURNAL_STREAM).
  bool journald = false;
};

// True when stderr is the journal stream systemd gave this process.
bool stderr_is_journal();

// Valid level names; parse_level throws std::invalid_argument for others.
spdlog::level::level_enum parse_level(std::string_view name);
// (Re)configures every logger, existing and future.
void setup(const Settings& settings);
// The named logger, created on first use with the configured sinks.
std::shared_ptr<spdlog::logger> get(const std::string& name);

// While alive, log lines from this thread carry `trace`.
class TraceScope {
 public:
  explicit TraceScope(const edri_id128& trace) noexcept;
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  const edri_id128* saved_;
};

}  // namespace edrid::logging
