// Parsing JSON text that came from outside (HTTP bodies, WebSocket frames,
// files a user wrote) without letting it choose how deep the result is.
//
// nlohmann's parser itself is iterative, but everything that walks the value
// afterwards (dump, to_msgpack, comparisons) recurses once per level: a body
// of 120 000 '[' parses fine and then overflows the stack. The router's own
// MessagePack reader refuses more than 512 levels, so anything deeper could
// not be delivered anyway.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace edri {

// Deep enough for any document a person writes, far from any stack limit.
inline constexpr std::size_t kJsonDepthLimit = 128;

class JsonTooDeep : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Whether no array or object in `text` is nested more than `limit` levels
// deep. Brackets inside strings do not count. Stops at the first level past
// the limit, so it costs at most one pass over the text.
inline bool json_depth_within(std::string_view text, std::size_t limit) noexcept {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char ch : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
      continue;
    }
    switch (ch) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > limit) return false;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return true;
}

// json::parse with a bound on nesting. Throws JsonTooDeep past `depth_limit`
// and nlohmann::json::parse_error on malformed text; both are
// std::exception, with a message fit to show the sender.
inline nlohmann::json parse_json(std::string_view text, std::size_t depth_limit = kJsonDepthLimit) {
  if (!json_depth_within(text, depth_limit)) {
    throw JsonTooDeep("JSON nested deeper than " + std::to_string(depth_limit) + " levels");
  }
  return nlohmann::json::parse(text);
}

}  // namespace edri
