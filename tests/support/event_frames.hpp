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

struct FrameSpec {
  std::string type = "demo.echo";
  nlohmann::json payload = nlohmann::json::object();
  edri_kind kind = EDRI_KIND_NOTIFICATION;
  std::string origin = "ra";
  std::string sender = "api";
  std::uint64_t incarnation = 1;
};

inline std::string event_frame(const FrameSpec& spec) {
  const auto payload = nlohmann::json::to_msgpack(spec.payload);
  edrid::EventPtr ev(edrid::event_from_bytes(spec.type, payload.data(), payload.size()));
  auto& h = ev->header;
  h.id = {1, 2};
  h.trace_id = {3, 4};
  h.type = edrid::event_set_type(*ev, spec.type);
  h.payload_type = ev->payload_type.data();
  h.kind = spec.kind;
  h.origin_router = spec.origin.c_str();
  h.sender = spec.sender.c_str();
  h.message = "";
  std::string frame, error;
  if (!edrid::cluster::encode_event(*ev, static_cast<std::uint8_t>(spec.kind), 0, "", spec.incarnation, frame,
                                    &error)) {
    throw std::runtime_error("test event frame: " + error);
  }
  return frame;
}

inline std::string event_frame(std::size_t payload_size = 200, edri_kind kind = EDRI_KIND_NOTIFICATION) {
  return event_frame(FrameSpec{.payload = {{"text", std::string(payload_size, 'p')}}, .kind = kind});
}

}  // namespace probe
