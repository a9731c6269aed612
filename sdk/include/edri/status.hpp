// Response statuses and send options shared by the SDK headers.
#pragma once

#include <edri/abi.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edri {

enum class Status : std::uint32_t {
  ok = EDRI_STATUS_OK,
  error = EDRI_STATUS_ERROR,
  not_found = EDRI_STATUS_NOT_FOUND,
  timeout = EDRI_STATUS_TIMEOUT,
  rejected = EDRI_STATUS_REJECTED,
  cancelled = EDRI_STATUS_CANCELLED,  // this manager called cancel_request
};

constexpr std::string_view to_string(Status s) noexcept {
  switch (s) {
    case Status::ok: return "ok";
    case Status::error: return "error";
    case Status::not_found: return "not_found";
    case Status::timeout: return "timeout";
    case Status::rejected: return "rejected";
    case Status::cancelled: return "cancelled";
  }
  return "unknown";
}

enum class LogLevel : std::uint32_t {
  trace = EDRI_LOG_TRACE,
  debug = EDRI_LOG_DEBUG,
  info = EDRI_LOG_INFO,
  warn = EDRI_LOG_WARN,
  error = EDRI_LOG_ERROR,
  critical = EDRI_LOG_CRITICAL,
};

struct SendOptions {
  std::optional<int> priority;               // lower = sooner; default 0
  std::chrono::milliseconds timeout{0};      // requests; 0 = router default
  // The trace id the event carries (one from outside, such as a W3C
  // traceparent's: see edri::parse_trace_id); default: the handled event's,
  // or a new one. Plugin ABI 1.3; older routers ignore it.
  std::optional<edri_id128> trace_id;
  // Says two sends are the same work (an order number, a message id from
  // outside): a receiver with dedupe_ms that finished an event with this key
  // within its window skips another (JetStream's Msg-Id, per group). At most
  // 255 bytes count. Plugin ABI 1.5; older routers ignore it.
  std::string dedupe_key;
};

// A request as its sender knows it (Context::request, try_request), to
// cancel it with Context::cancel_request.
using RequestId = edri_id128;

// What Context::try_notify and try_request did.
enum class SendResult {
  sent,        // as notify / request would have
  would_wait,  // a full receiver queue (when_full: block) or a congested
               // link would have held this thread: nothing was sent
};

}  // namespace edri
