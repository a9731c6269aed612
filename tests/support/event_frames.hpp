// Whole link event frames for tests of the link layer: a `demo.echo` event
// from router "ra", its payload a MessagePack {"text": <payload_size × 'p'>}.
#pragma once

#include "cluster/wire.hpp"
#include "event/event.hpp"

#include <cstddef>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace probe {

inline std::string event_frame(std::size_t payload_size = 200, edri_kind kind = EDRI_KIND_NOTIFICATION) {
  const auto payload = nlohmann::json::to_msgpack(nlohmann::json{{"text", std::string(payload_size, 'p')}});
  edrid::EventPtr ev(edrid::event_from_bytes("demo.echo", payload.data(), payload.size()));
  auto& h = ev->header;
  h.id = {1, 2};
  h.trace_id = {3, 4};
  h.type = edrid::event_set_type(*ev, "demo.echo");
  h.payload_type = ev->payload_type.data();
  h.kind = kind;
  h.origin_router = "ra";
  h.sender = "api";
  h.message = "";
  std::string frame, error;
  if (!edrid::cluster::encode_event(*ev, static_cast<std::uint8_t>(kind), 0, "", 1, frame, &error)) {
    throw std::runtime_error("test event frame: " + error);
  }
  return frame;
}

}  // namespace probe
