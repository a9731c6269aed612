#include "config/env_subst.hpp"

#include <cstdlib>

namespace edrid {

std::optional<std::string> substitute_env(std::string_view text, std::string* error) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out.push_back(c);
      continue;
    }
    if (text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out.push_back(c);
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      if (error) *error = "unterminated '${' in '" + std::string(text) + "'";
      return std::nullopt;
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    std::optional<std::string_view> fallback;
    if (auto sep = body.find(":-"); sep != std::string_view::npos) {
      fallback = body.substr(sep + 2);
      body = body.substr(0, sep);
    }
    if (body.empty()) {
      if (error) *error = "empty variable name in '" + std::string(text) + "'";
      return std::nullopt;
    }
    const std::string name(body);
    const char* value = std::getenv(name.c_str());
    if (value && (*value || !fallback)) {
      out += value;
    } else if (fallback) {
      out += *fallback;
    } else {
      if (error) *error = "environment variable '" + name + "' is not set (use ${" + name + ":-default})";
      return std::nullopt;
    }
    i = close;
  }
  return out;
}

}  // namespace edrid
