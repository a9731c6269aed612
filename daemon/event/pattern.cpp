#include "event/pattern.hpp"

#include <edri/event.hpp>

namespace edrid {
namespace {

bool valid_token_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

bool is_valid_type_name(std::string_view name) noexcept { return edri::is_valid_type_name(name); }

std::optional<Pattern> Pattern::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<Pattern> {
    if (error) *error = "invalid pattern '" + std::string(text) + "': " + why;
    return std::nullopt;
  };
  if (text.empty()) return fail("empty");
  if (text.size() > 255) return fail("longer than 255 characters");
  Pattern p;
  p.text_ = std::string(text);
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) dot = text.size();
    std::string_view tok = text.substr(start, dot - start);
    if (tok.empty()) return fail("empty token");
    if (p.tail_) return fail("'>' must be the last token");
    if (tok == "*") {
      p.literal_ = false;
      p.specificity_ += 1;
    } else if (tok == ">") {
      p.literal_ = false;
      p.tail_ = true;
    } else {
      for (char c : tok) {
        if (!valid_token_char(c)) return fail(std::string("character '") + c + "' not allowed");
      }
      p.specificity_ += 4;
    }
    start = dot + 1;
  }
  if (p.literal_) p.specificity_ = 1 << 20;
  return p;
}

// One matcher for the SDK and the router: edri::matches.
bool Pattern::matches(std::string_view type) const noexcept {
  return literal_ ? type == text_ : edri::matches(text_, type);
}

bool matches_any(const std::vector<Pattern>& patterns, std::string_view type) noexcept {
  for (const auto& p : patterns) {
    if (p.matches(type)) return true;
  }
  return false;
}

}  // namespace edrid
