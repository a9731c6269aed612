#include "expose_policy.hpp"

#include <edri/event.hpp>

#include <stdexcept>

namespace edri_api {
namespace {

std::string_view first_token(std::string_view s) noexcept { return s.substr(0, s.find('.')); }

bool wildcard(std::string_view token) noexcept { return token == "*" || token == ">"; }

// Splits off the first token; `rest` is empty when there is none left.
std::string_view pop(std::string_view& s) noexcept {
  const auto dot = s.find('.');
  const std::string_view tok = s.substr(0, dot);
  s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  return tok;
}

}  // namespace

bool in_reserved_namespace(std::string_view text) noexcept {
  const auto tok = first_token(text);
  for (auto r : ExposePolicy::kReserved) {
    if (tok == r) return true;
  }
  return false;
}

bool patterns_overlap(std::string_view a, std::string_view b) noexcept {
  for (;;) {
    if (a.empty() || b.empty()) return a.empty() && b.empty();
    const auto ta = pop(a);
    const auto tb = pop(b);
    // `>` takes one or more tokens: whatever the other has from here on (at
    // least the token just taken) fits.
    if (ta == ">" || tb == ">") return true;
    if (ta != "*" && tb != "*" && ta != tb) return false;
  }
}

ExposePolicy::ExposePolicy(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {
  for (const auto& p : patterns_) {
    if (!edri::is_valid_pattern(p)) throw std::invalid_argument("invalid pattern '" + p + "'");
  }
}

bool ExposePolicy::allows(std::string_view type) const noexcept {
  const bool reserved = in_reserved_namespace(type);
  for (const auto& p : patterns_) {
    if (reserved && wildcard(first_token(p))) continue;
    if (edri::matches(p, type)) return true;
  }
  return false;
}

bool ExposePolicy::allows_pattern(std::string_view pattern) const noexcept {
  const bool reserved = in_reserved_namespace(pattern);
  for (const auto& p : patterns_) {
    if (reserved && wildcard(first_token(p))) continue;
    if (patterns_overlap(p, pattern)) return true;
  }
  return false;
}

}  // namespace edri_api
