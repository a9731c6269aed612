#include "route_table.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

#include <cctype>

namespace edri_api {

std::vector<std::string> RouteTable::split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const auto end = path.find('/', i);
    out.emplace_back(path.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
    if (end == std::string_view::npos) break;
    i = end;
  }
  return out;
}

std::optional<ParamType> param_type_named(std::string_view name) {
  if (name == "str") return ParamType::string;
  if (name == "int") return ParamType::integer;
  if (name == "number") return ParamType::number;
  if (name == "bool") return ParamType::boolean;
  return std::nullopt;
}

std::string_view to_string(ParamType t) noexcept {
  switch (t) {
    case ParamType::string: return "a string";
    case ParamType::integer: return "an integer";
    case ParamType::number: return "a number";
    case ParamType::boolean: return "true or false";
  }
  return "a string";
}

std::optional<nlohmann::json> typed_param(ParamType t, std::string_view raw) {
  const char* end = raw.data() + raw.size();
  switch (t) {
    case ParamType::string: return nlohmann::json(std::string(raw));
    case ParamType::integer: {
      std::int64_t v = 0;
      const auto [p, ec] = std::from_chars(raw.data(), end, v);
      if (raw.empty() || ec != std::errc() || p != end) return std::nullopt;
      return nlohmann::json(v);
    }
    case ParamType::number: {
      double v = 0;
      const auto [p, ec] = std::from_chars(raw.data(), end, v);
      if (raw.empty() || ec != std::errc() || p != end || !std::isfinite(v)) return std::nullopt;
      return nlohmann::json(v);
    }
    case ParamType::boolean:
      if (raw == "true" || raw == "1") return nlohmann::json(true);
      if (raw == "false" || raw == "0") return nlohmann::json(false);
      return std::nullopt;
  }
  return std::nullopt;
}

void RouteTable::add(Route r) {
  if (r.path.empty() || r.path[0] != '/') throw std::invalid_argument("route path '" + r.path + "' must start with /");
  Entry e{r, {}};
  for (const auto& s : split(r.path)) {
    const bool open = s.find('{') != std::string::npos, close = s.find('}') != std::string::npos;
    if (!open && !close) {
      e.segments.push_back({s, false, ParamType::string});
      continue;
    }
    if (!(s.size() > 2 && s.front() == '{' && s.back() == '}')) {
      throw std::invalid_argument("route path '" + r.path + "': a parameter must be a whole segment like {id}");
    }
    const std::string inner = s.substr(1, s.size() - 2);
    const auto colon = inner.find(':');
    Segment seg{inner.substr(0, colon), true, ParamType::string};
    if (colon != std::string::npos) {
      const auto type = param_type_named(inner.substr(colon + 1));
      if (!type) {
        throw std::invalid_argument("route path '" + r.path + "': parameter type '" + inner.substr(colon + 1) +
                                    "' is not one of str, int, number, bool");
      }
      seg.type = *type;
    }
    if (seg.text.empty()) throw std::invalid_argument("route path '" + r.path + "': a parameter needs a name");
    e.segments.push_back(std::move(seg));
  }
  for (const auto& other : entries_) {
    if (other.route.method == e.route.method && other.segments == e.segments) {
      throw std::invalid_argument("route " + r.method + " " + r.path + " is defined twice");
    }
  }
  entries_.push_back(std::move(e));
}

bool RouteTable::fits(const Entry& e, const std::vector<std::string>& parts, RouteMatch* out) {
  if (e.segments.size() != parts.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto& s = e.segments[i];
    if (s.param) {
      if (out) {
        out->params[s.text] = url_decode(parts[i]);
        out->types[s.text] = s.type;
      }
    } else if (s.text != parts[i]) {
      return false;
    }
  }
  return true;
}

std::optional<RouteMatch> RouteTable::match(std::string_view method, std::string_view path) const {
  const auto parts = split(path);
  // Literal segments win over parameters: try routes with fewer parameters first.
  const Entry* best = nullptr;
  int best_params = 1 << 30;
  for (const auto& e : entries_) {
    if (e.route.method != method || !fits(e, parts, nullptr)) continue;
    int n = 0;
    for (const auto& s : e.segments) n += s.param;
    if (n < best_params) {
      best = &e;
      best_params = n;
    }
  }
  if (!best) return std::nullopt;
  RouteMatch m{&best->route, {}, {}};
  fits(*best, parts, &m);
  return m;
}

bool RouteTable::path_known(std::string_view path) const {
  const auto parts = split(path);
  for (const auto& e : entries_) {
    if (fits(e, parts, nullptr)) return true;
  }
  return false;
}

std::vector<std::string> RouteTable::methods_for(std::string_view path) const {
  const auto parts = split(path);
  std::vector<std::string> out;
  for (const auto& e : entries_) {
    if (fits(e, parts, nullptr) && std::find(out.begin(), out.end(), e.route.method) == out.end()) {
      out.push_back(e.route.method);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<RouteDoc> RouteTable::routes() const {
  std::vector<RouteDoc> out;
  for (const auto& e : entries_) {
    RouteDoc d{&e.route, "", {}};
    for (const auto& s : e.segments) {
      d.path += s.param ? "/{" + s.text + "}" : "/" + s.text;
      if (s.param) d.path_params.emplace_back(s.text, s.type);
    }
    if (d.path.empty()) d.path = "/";
    out.push_back(std::move(d));
  }
  return out;
}

bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i <= q.size() && !q.empty()) {
    auto end = q.find('&', i);
    if (end == std::string_view::npos) end = q.size();
    auto pair = q.substr(i, end - i);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      out[url_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    }
    if (end == q.size()) break;
    i = end + 1;
  }
  return out;
}

}  // namespace edri_api
