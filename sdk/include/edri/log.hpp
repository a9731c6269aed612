// Logging through the host. The level is checked before anything is
// formatted; the host adds the manager name and the current trace id.
#pragma once

#include <edri/abi.h>
#include <edri/status.hpp>

#include <sstream>
#include <string>

namespace edri {

class Logger {
 public:
  Logger(const edri_host_api* host, edri_host_ctx* ctx) : host_(host), ctx_(ctx) {}

  bool enabled(LogLevel level) const {
    return host_->log_enabled(ctx_, static_cast<std::uint32_t>(level)) != 0;
  }
  // Each argument is streamed with operator<< into one line.
  template <class... A> void trace(const A&... a) { write(LogLevel::trace, a...); }
  template <class... A> void debug(const A&... a) { write(LogLevel::debug, a...); }
  template <class... A> void info(const A&... a) { write(LogLevel::info, a...); }
  template <class... A> void warn(const A&... a) { write(LogLevel::warn, a...); }
  template <class... A> void error(const A&... a) { write(LogLevel::error, a...); }

  template <class... A>
  void write(LogLevel level, const A&... a) {
    if (!enabled(level)) return;
    std::ostringstream os;
    (os << ... << a);
    const std::string s = os.str();
    host_->log(ctx_, static_cast<std::uint32_t>(level), s.data(), s.size());
  }

 private:
  const edri_host_api* host_;
  edri_host_ctx* ctx_;
};

}  // namespace edri
