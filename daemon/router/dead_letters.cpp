#include "router/dead_letters.hpp"

#include "event/ids.hpp"

#include <nlohmann/json.hpp>

namespace edrid {

std::string_view to_string(DeadReason r) noexcept {
  switch (r) {
    case DeadReason::max_deliveries: return "max_deliveries";
    case DeadReason::expired: return "expired";
    case DeadReason::no_receiver: return "no_receiver";
    case DeadReason::undeliverable: return "undeliverable";
    case DeadReason::count_: break;
  }
  return "unknown";
}

EventPtr DeadLetters::make(const DeadLetter& l) {
  const Event& ev = l.event;
  if (ev.payload_type == kDeadLetterType) return EventPtr();
  const auto& h = ev.header;
  nlohmann::json data = {
      {"type", h.type ? h.type : std::string(ev.payload_type)},
      {"kind", h.kind == EDRI_KIND_REQUEST ? "request" : "notification"},
      {"id", to_hex(h.id)},
      {"trace_id", to_hex(h.trace_id)},
      {"sender", h.sender ? h.sender : ""},
      {"origin_router", h.origin_router ? h.origin_router : ""},
      {"timestamp_ns", h.timestamp_ns},
      {"reason", to_string(l.reason)},
      {"attempts", l.attempts},
      {"manager", l.manager},
      {"group", l.group},
      {"error", l.error},
  };
  // The payload as JSON, so that a reader needs no schema, and re-injecting
  // it is publishing `type` with it.
  std::string err;
  if (const EncodedPayload* enc = event_encoded(&ev, &err)) {
    data["payload"] = nlohmann::json::from_msgpack(enc->data(), enc->data() + enc->size(), true, false);
    if (data["payload"].is_discarded()) data["payload"] = nullptr;
  } else {
    data["payload"] = nullptr;
    data["payload_error"] = err;
  }
  const auto bytes = nlohmann::json::to_msgpack(data);
  return EventPtr(event_from_bytes(kDeadLetterType, bytes.data(), bytes.size()));
}

}  // namespace edrid
