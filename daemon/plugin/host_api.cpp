// The C side of the host: every function here is called by plugin code, so
// none may throw; failures are status codes.
#include "plugin/host_api.hpp"

#include "event/event.hpp"
#include "log/logging.hpp"
#include "plugin/dispatch_context.hpp"
#include "plugin/abi_sizes.hpp"
#include "plugin/host_backend.hpp"

#include <cstdio>

#include <spdlog/spdlog.h>

namespace edrid {
namespace {

HostBackend& backend(edri_host_ctx* ctx) noexcept { return *ctx->backend; }

// A struct the plugin handed over is shorter than even the oldest ABI minor
// version that has it: the call fails, and the log says why, once per manager.
bool struct_too_short(edri_host_ctx* ctx, const char* name, std::uint32_t got, std::uint32_t need,
                      const char* since, const char* type_name = nullptr) noexcept {
  if (got >= need) return false;
  if (!ctx || backend(ctx).abi_misuse_logged.exchange(true)) return true;
  const edri_plugin_descriptor* d = backend(ctx).plugin();
  char msg[512];
  std::snprintf(msg, sizeof msg,
                "plugin '%s' (built for ABI %u.%u; this edrid speaks %d.%d) handed over %s%s%s%s of %u "
                "bytes, but ABI %s has %u: the call is refused (logged once per manager)",
                d && d->name ? d->name : "?", d ? d->abi_major : 0u, d ? d->abi_minor : 0u,
                EDRI_ABI_MAJOR, EDRI_ABI_MINOR, name, type_name ? " for type '" : "",
                type_name ? type_name : "", type_name ? "'" : "", got, since, need);
  try {
    backend(ctx).log(EDRI_LOG_ERROR, msg);
  } catch (...) {
    spdlog::error("{}", msg);
  }
  return true;
}

edri_event* h_event_alloc_room(edri_host_ctx* ctx, const edri_type_ops* ops, std::size_t room,
                               void** object_out, void** room_out) {
  if (!ops || !object_out || !ops->destroy || !ops->encode || (room > 0 && !room_out)) {
    return nullptr;
  }
  if (struct_too_short(ctx, "edri_type_ops", ops->struct_size, abi::kTypeOpsMin, "1.0", ops->type_name)) {
    return nullptr;
  }
  try {
    Event* ev = event_alloc(ops, room);
    *object_out = event_object(ev);
    if (room_out) *room_out = event_room(ev);
    return ev;
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

edri_event* h_event_alloc(edri_host_ctx* ctx, const edri_type_ops* ops, void** object_out) {
  return h_event_alloc_room(ctx, ops, 0, object_out, nullptr);
}

void h_event_discard(edri_event* ev) { event_discard(ev); }

edri_event* h_event_from_bytes(edri_host_ctx*, const char* payload_type, std::uint32_t format,
                               const std::uint8_t* data, std::size_t len) {
  if (format != EDRI_FORMAT_MSGPACK) return nullptr;
  try {
    return event_from_bytes(payload_type ? payload_type : "", data, len);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void h_event_retain(const edri_event* ev) { event_retain(ev); }
void h_event_release(const edri_event* ev) { event_release(ev); }
const edri_event_header* h_event_header(const edri_event* ev) { return &ev->header; }

const void* h_event_object(const edri_event* ev, std::uint64_t fingerprint) {
  return ev->ops && ev->ops->fingerprint == fingerprint ? event_object(ev) : nullptr;
}

int h_event_encoded(const edri_event* ev, std::uint32_t format, edri_bytes* out) {
  if (format != EDRI_FORMAT_MSGPACK || !out) return EDRI_E_INVALID;
  try {
    std::string err;
    const EncodedPayload* enc = event_encoded(ev, &err);
    if (!enc) {
      spdlog::error("{}", err);
      return EDRI_E_ENCODE;
    }
    out->data = enc->data();
    out->len = enc->size();
    return EDRI_OK;
  } catch (const std::exception& e) {
    spdlog::error("encoding {} failed: {}", ev->payload_type, e.what());
    return EDRI_E_ENCODE;
  }
}

int h_subscribe(edri_host_ctx* ctx, std::uint32_t kind, const char* pattern,
                std::uint32_t handler_id, edri_error* err) {
  try {
    return backend(ctx).subscribe(static_cast<edri_kind>(kind), pattern, handler_id, err);
  } catch (const std::exception& e) {
    if (err) std::snprintf(err->message, sizeof err->message, "%s", e.what());
    return EDRI_E_INVALID;
  }
}

int h_set_filter(edri_host_ctx* ctx, const char* pattern, const char* filter_json, edri_error* err) {
  try {
    return backend(ctx).set_filter(pattern, filter_json, err);
  } catch (const std::exception& e) {
    if (err) std::snprintf(err->message, sizeof err->message, "%s", e.what());
    return EDRI_E_INVALID;
  }
}

int h_unsubscribe(edri_host_ctx* ctx, std::uint32_t kind, const char* pattern) {
  try {
    return backend(ctx).unsubscribe(static_cast<edri_kind>(kind), pattern ? pattern : "");
  } catch (const std::exception& e) {
    spdlog::error("unsubscribe failed: {}", e.what());
    return EDRI_E_INVALID;
  }
}

int h_notify(edri_host_ctx* ctx, edri_event* ev, const edri_send_options* opts,
             std::uint32_t* delivered) {
  EventPtr owned(ev);
  if (!ev) return EDRI_E_INVALID;
  if (opts && struct_too_short(ctx, "edri_send_options", opts->struct_size, abi::kSendOptionsMin, "1.0")) {
    return EDRI_E_INVALID;
  }
  try {
    return backend(ctx).notify(std::move(owned), opts, delivered);
  } catch (const std::exception& e) {
    spdlog::error("notify failed: {}", e.what());
    return EDRI_E_REJECTED;
  }
}

int h_request(edri_host_ctx* ctx, edri_event* ev, const edri_send_options* opts,
              edri_response_fn fn, void* user, std::uint32_t delivery, edri_id128* id_out) {
  EventPtr owned(ev);
  if (!ev) return EDRI_E_INVALID;
  if (opts && struct_too_short(ctx, "edri_send_options", opts->struct_size, abi::kSendOptionsMin, "1.0")) {
    return EDRI_E_INVALID;
  }
  try {
    return backend(ctx).request(std::move(owned), opts, fn, user, delivery, id_out);
  } catch (const std::exception& e) {
    spdlog::error("request failed: {}", e.what());
    return EDRI_E_REJECTED;
  }
}

int h_request_cancel(edri_host_ctx* ctx, const edri_id128* id) {
  if (!ctx || !id) return EDRI_E_INVALID;
  try {
    return backend(ctx).request_cancel(*id);
  } catch (const std::exception& e) {
    spdlog::error("request_cancel failed: {}", e.what());
    return EDRI_E_INVALID;
  }
}

void h_response_set_status(edri_response* resp, std::uint32_t status, const char* message) {
  if (!resp) return;
  resp->status = status <= EDRI_STATUS_REJECTED ? status : std::uint32_t{EDRI_STATUS_ERROR};
  resp->message = message ? message : "";
}

void h_response_set_data(edri_response* resp, edri_event* data) {
  EventPtr owned(data);
  if (!resp) return;
  resp->data = std::move(owned);
  resp->status = EDRI_STATUS_OK;
}

const edri_event* h_current_event(edri_host_ctx*) { return current_dispatch().event; }

std::uint32_t h_event_attempt(const edri_event* ev) { return ev ? event_attempt(*ev) : 1; }

int h_retry_later(edri_host_ctx*, std::int64_t delay_ms) {
  DispatchContext& d = current_dispatch();
  if (!d.event || delay_ms < 0) return EDRI_E_INVALID;
  d.retry_after_ms = delay_ms;
  return EDRI_OK;
}

int h_log_enabled(edri_host_ctx* ctx, std::uint32_t level) {
  return backend(ctx).log_enabled(level) ? 1 : 0;
}

void h_log(edri_host_ctx* ctx, std::uint32_t level, const char* msg, std::size_t len) {
  try {
    backend(ctx).log(level, std::string_view(msg, len));
  } catch (...) {
    // Logging must never take a plugin down; there is nowhere left to report.
  }
}

std::uint64_t h_timer_start(edri_host_ctx* ctx, std::int64_t delay_ms, std::int64_t interval_ms,
                            edri_timer_fn fn, void* user) {
  try {
    return backend(ctx).timer_start(delay_ms, interval_ms, fn, user);
  } catch (const std::exception& e) {
    spdlog::error("timer_start failed: {}", e.what());
    return 0;
  }
}

void h_timer_cancel(edri_host_ctx* ctx, std::uint64_t id) {
  try {
    backend(ctx).timer_cancel(id);
  } catch (const std::exception& e) {
    spdlog::error("timer_cancel failed: {}", e.what());
  }
}

void h_router_stats(edri_host_ctx* ctx, edri_write_fn write, void* sink) {
  try {
    const std::string s = backend(ctx).stats_json();
    write(sink, s.data(), s.size());
  } catch (const std::exception& e) {
    spdlog::error("router_stats failed: {}", e.what());
    write(sink, "{}", 2);
  }
}

void h_router_metrics(edri_host_ctx* ctx, edri_write_fn write, void* sink) {
  try {
    const std::string s = backend(ctx).metrics_text();
    write(sink, s.data(), s.size());
  } catch (const std::exception& e) {
    spdlog::error("router_metrics failed: {}", e.what());
  }
}

bool valid_handlers(edri_host_ctx* ctx, const edri_tunnel_handlers* h) noexcept {
  return h && !struct_too_short(ctx, "edri_tunnel_handlers", h->struct_size, abi::kTunnelHandlersMin, "1.1") &&
         h->on_message && h->on_peer_closed;
}

void put_reason(edri_error* err, const std::string& reason) noexcept {
  if (err) std::snprintf(err->message, sizeof err->message, "%s", reason.c_str());
}

edri_tunnel* h_tunnel_open(edri_host_ctx* ctx, const char* type, edri_event* initial,
                           const edri_tunnel_handlers* handlers, std::int64_t timeout_ms, std::uint32_t* status,
                           edri_error* err) {
  EventPtr ev(initial);
  std::uint32_t st = EDRI_STATUS_ERROR;
  std::string reason;
  edri_tunnel* t = nullptr;
  if (!valid_handlers(ctx, handlers) || !type) {
    reason = "tunnel_open: a type and handlers with on_message and on_peer_closed are required";
  } else {
    try {
      if (!ev) ev = EventPtr(event_from_bytes(type, nullptr, 0));
      t = backend(ctx).tunnel_open(type, std::move(ev), *handlers, timeout_ms, &st, &reason);
    } catch (const std::exception& e) {
      reason = std::string("tunnel_open failed: ") + e.what();
    }
  }
  if (!t) {
    if (status) *status = st;
    put_reason(err, reason);
  } else if (status) {
    *status = EDRI_STATUS_OK;
  }
  return t;
}

edri_tunnel* h_tunnel_accept(edri_host_ctx* ctx, const edri_event* offer, const edri_tunnel_handlers* handlers) {
  if (!offer || !valid_handlers(ctx, handlers)) return nullptr;
  try {
    return backend(ctx).tunnel_accept(offer, *handlers);
  } catch (const std::exception& e) {
    spdlog::error("tunnel_accept failed: {}", e.what());
    return nullptr;
  }
}

void h_tunnel_refuse(edri_host_ctx* ctx, const edri_event* offer, const char* reason) {
  if (!offer) return;
  try {
    backend(ctx).tunnel_refuse(offer, reason ? reason : "refused");
  } catch (const std::exception& e) {
    spdlog::error("tunnel_refuse failed: {}", e.what());
  }
}

int h_tunnel_send(edri_tunnel* t, const std::uint8_t* data, std::size_t len, std::int64_t timeout_ms,
                  edri_error* err) {
  if (!t || (!data && len)) return EDRI_E_INVALID;
  try {
    std::string reason;
    const int rc = t->send(data, len, timeout_ms, &reason);
    if (rc != EDRI_OK) put_reason(err, reason);
    return rc;
  } catch (const std::exception& e) {
    put_reason(err, e.what());
    return EDRI_E_CLOSED;
  }
}

void h_tunnel_shutdown(edri_tunnel* t) {
  if (!t) return;
  try {
    t->shutdown();
  } catch (const std::exception& e) {
    spdlog::error("tunnel_shutdown failed: {}", e.what());
  }
}

void h_tunnel_close(edri_tunnel* t, std::uint32_t status, const char* reason) {
  if (!t) return;
  try {
    t->close(status, reason ? reason : "");
  } catch (const std::exception& e) {
    spdlog::error("tunnel_close failed: {}", e.what());
  }
}

void h_tunnel_release(edri_tunnel* t) {
  if (!t) return;
  try {
    t->release();
  } catch (const std::exception& e) {
    spdlog::error("tunnel_release failed: {}", e.what());
  }
}

const edri_host_api kHostApi{
    sizeof(edri_host_api), EDRI_ABI_MAJOR,      EDRI_ABI_MINOR,     &h_event_alloc,
    &h_event_discard,      &h_event_from_bytes, &h_event_retain,    &h_event_release,
    &h_event_header,       &h_event_object,     &h_event_encoded,   &h_subscribe,
    &h_unsubscribe,        &h_notify,           &h_request,         &h_response_set_status,
    &h_response_set_data,  &h_current_event,    &h_log_enabled,     &h_log,
    &h_timer_start,        &h_timer_cancel,     &h_router_stats,     &h_tunnel_open,
    &h_tunnel_accept,      &h_tunnel_refuse,    &h_tunnel_send,     &h_tunnel_shutdown,
    &h_tunnel_close,       &h_tunnel_release,   &h_event_alloc_room, &h_request_cancel,
    &h_router_metrics,     &h_event_attempt,    &h_retry_later,     &h_set_filter,
};

}  // namespace

const edri_host_api& host_api() noexcept { return kHostApi; }

}  // namespace edrid
