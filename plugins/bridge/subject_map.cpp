#include "subject_map.hpp"

namespace edri_bridge {

std::string subject_for_type(std::string_view prefix, std::string_view type) {
  if (prefix.empty()) return std::string(type);
  std::string s;
  s.reserve(prefix.size() + 1 + type.size());
  s.append(prefix).append(".").append(type);
  return s;
}

std::string type_for_subject(std::string_view prefix, std::string_view subject) {
  if (!prefix.empty() && subject.size() > prefix.size() + 1 && subject.starts_with(prefix) &&
      subject[prefix.size()] == '.') {
    return std::string(subject.substr(prefix.size() + 1));
  }
  return std::string(subject);
}

bool valid_subject(std::string_view subject, bool wildcards) {
  if (subject.empty()) return false;
  std::size_t from = 0;
  while (true) {
    const std::size_t dot = subject.find('.', from);
    const std::string_view token = subject.substr(from, dot == std::string_view::npos ? std::string_view::npos : dot - from);
    if (token.empty()) return false;
    const bool last = dot == std::string_view::npos;
    if (token == "*" || token == ">") {
      if (!wildcards || (token == ">" && !last)) return false;
    } else {
      for (const char c : token) {
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '*' || c == '>') return false;
      }
    }
    if (last) return true;
    from = dot + 1;
  }
}

namespace {

std::string_view next_token(std::string_view& rest) {
  const auto dot = rest.find('.');
  const std::string_view t = rest.substr(0, dot);
  rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  return t;
}

}  // namespace

bool subjects_overlap(std::string_view a, std::string_view b) {
  while (true) {
    if (a.empty() || b.empty()) return a.empty() && b.empty();
    const std::string_view ta = next_token(a), tb = next_token(b);
    // '>' takes one token or more: whatever the other has from here on.
    if (ta == ">" || tb == ">") return true;
    if (ta != tb && ta != "*" && tb != "*") return false;
  }
}

}  // namespace edri_bridge
