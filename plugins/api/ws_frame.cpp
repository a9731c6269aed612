#include "ws_frame.hpp"

#include <edri/event.hpp>
#include <edri/json_text.hpp>

namespace edri_api {
namespace {

using nlohmann::json;

bool valid_id(const json& id) {
  if (id.is_null() || id.is_number_integer() || id.is_number_unsigned()) return true;
  return id.is_string() && id.get_ref<const std::string&>().size() <= kWsIdMaxBytes;
}

std::optional<WsOp> op_named(const std::string& s) {
  if (s == "send") return WsOp::send;
  if (s == "request") return WsOp::request;
  if (s == "subscribe") return WsOp::subscribe;
  if (s == "unsubscribe") return WsOp::unsubscribe;
  return std::nullopt;
}

bool allowed_field(WsOp op, const std::string& key) {
  if (key == "op" || key == "id" || key == "type") return true;
  if (key == "data" || key == "priority") return op == WsOp::send || op == WsOp::request;
  if (key == "where") return op == WsOp::subscribe;
  return false;
}

}  // namespace

std::string WsFrame::subscription() const {
  if (id.is_string()) return id.get<std::string>();
  if (!id.is_null()) return id.dump();
  return type;
}

std::variant<WsFrame, WsFrameError> parse_ws_frame(std::string_view text, std::size_t json_depth_limit) {
  json f;
  try {
    f = edri::parse_json(text, json_depth_limit);
  } catch (const std::exception& e) {
    return WsFrameError{json(), std::string("malformed JSON: ") + e.what()};
  }
  if (!f.is_object()) return WsFrameError{json(), "a frame must be a JSON object"};
  WsFrame out;
  if (auto it = f.find("id"); it != f.end()) {
    if (!valid_id(*it)) {
      return WsFrameError{json(), "\"id\" must be a string of at most " + std::to_string(kWsIdMaxBytes) +
                                      " bytes, an integer or null"};
    }
    out.id = *it;
  }
  auto fail = [&](std::string why) -> std::variant<WsFrame, WsFrameError> {
    return WsFrameError{out.id, std::move(why)};
  };
  const auto op_it = f.find("op");
  if (op_it == f.end() || !op_it->is_string()) return fail("a frame needs \"op\" (a string)");
  const auto op = op_named(op_it->get<std::string>());
  if (!op) return fail("unknown op '" + op_it->get<std::string>() + "'");
  out.op = *op;
  for (const auto& [key, value] : f.items()) {
    if (!allowed_field(out.op, key)) return fail("unknown field '" + key + "' for op '" + op_it->get<std::string>() + "'");
  }
  if (auto it = f.find("type"); it != f.end()) {
    if (!it->is_string()) return fail("\"type\" must be a string");
    out.type = it->get<std::string>();
  }
  switch (out.op) {
    case WsOp::send:
    case WsOp::request:
      if (!edri::is_valid_type_name(out.type)) return fail("invalid event type '" + out.type + "'");
      if (auto it = f.find("data"); it != f.end()) out.data = std::move(*it);
      if (auto it = f.find("priority"); it != f.end()) {
        if (!it->is_number_integer() || it->get<std::int64_t>() < -kMaxClientPriority ||
            it->get<std::int64_t>() > kMaxClientPriority) {
          return fail("\"priority\" must be an integer from " + std::to_string(-kMaxClientPriority) + " to " +
                      std::to_string(kMaxClientPriority));
        }
        out.priority = it->get<int>();
      }
      break;
    case WsOp::subscribe:
      if (!edri::is_valid_pattern(out.type)) return fail("invalid pattern '" + out.type + "'");
      if (auto it = f.find("where"); it != f.end()) {
        if (!it->is_object()) return fail("\"where\" must be an object");
        out.where = std::move(*it);
      }
      break;
    case WsOp::unsubscribe:
      if (out.id.is_null() && out.type.empty()) return fail("unsubscribe needs \"id\" or \"type\"");
      break;
  }
  return out;
}

}  // namespace edri_api
