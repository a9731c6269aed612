// Subscription patterns over dot-separated type names (NATS convention):
// `*` matches exactly one token, `>` (last token only) one or more tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edrid {

// A valid type name: non-empty tokens of [A-Za-z0-9_-], separated by dots.
bool is_valid_type_name(std::string_view name) noexcept;

class Pattern {
 public:
  // nullopt with a reason in *error when the pattern is malformed.
  static std::optional<Pattern> parse(std::string_view text, std::string* error = nullptr);

  bool matches(std::string_view type) const noexcept;
  bool is_literal() const noexcept { return literal_; }
  const std::string& text() const noexcept { return text_; }
  // Higher is more specific: used to pick one handler per manager when
  // several of its patterns match the same type.
  int specificity() const noexcept { return specificity_; }

 private:
  std::string text_;
  bool literal_ = true;
  bool tail_ = false;  // ends with '>'
  int specificity_ = 0;
};

// True when any of `patterns` matches `type`.
bool matches_any(const std::vector<Pattern>& patterns, std::string_view type) noexcept;

}  // namespace edrid
