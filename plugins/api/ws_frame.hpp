// A WebSocket frame from a client, read and checked in one place: every field
// has the type its op needs before anything acts on it, so a frame such as
// {"op":"send","type":123} is an error answer, never an exception.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace edri_api {

enum class WsOp { send, request, subscribe, unsubscribe };

struct WsFrame {
  WsOp op = WsOp::send;
  // send/request: an event type; subscribe: a pattern; unsubscribe: the
  // pattern of a subscription that was made without an id (else empty).
  std::string type;
  nlohmann::json data = nlohmann::json::object();   // send/request
  nlohmann::json where = nlohmann::json::object();  // subscribe: fields to equal
  nlohmann::json id;                                // null, a string or a number, echoed back
  std::optional<int> priority;                      // send/request: lower is sooner (a priority queue)
  // The subscription name: the id (a string as is, a number as its text),
  // else the pattern. subscribe/unsubscribe only.
  std::string subscription() const;
};

struct WsFrameError {
  nlohmann::json id;  // the frame's id when one could be read, else null
  std::string message;
};

// A priority a client may ask for: lower is sooner.
inline constexpr int kMaxClientPriority = 1'000'000;

// Ids longer than this are refused: they are echoed and kept as map keys.
inline constexpr std::size_t kWsIdMaxBytes = 256;

std::variant<WsFrame, WsFrameError> parse_ws_frame(std::string_view text, std::size_t json_depth_limit);

}  // namespace edri_api
