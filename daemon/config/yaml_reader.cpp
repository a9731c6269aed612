#include "config/yaml_reader.hpp"

#include <sstream>

#include <cmath>

#include "config/env_subst.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

namespace edrid {
namespace {

bool has_mark(const YAML::Mark& m) { return m.line >= 0 && m.column >= 0; }

std::optional<std::int64_t> parse_int(const std::string& s) {
  std::int64_t v = 0;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e || b == e) return std::nullopt;
  return v;
}

std::optional<double> parse_double(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

void YamlReader::error(const YAML::Mark& at, const std::string& message) {
  if (has_mark(at)) {
    problems_.push_back(file_ + ":" + std::to_string(at.line + 1) + ":" +
                        std::to_string(at.column + 1) + ": " + message);
  } else {
    problems_.push_back(file_ + ": " + message);
  }
}

void YamlReader::error(const YAML::Node& at, const std::string& message,
                       const YAML::Mark& fallback) {
  const YAML::Mark m = at.IsDefined() ? at.Mark() : YAML::Mark::null_mark();
  error(has_mark(m) ? m : fallback, message);
}

bool YamlReader::map(const YAML::Node& n, std::string_view what,
                     std::initializer_list<std::string_view> allowed, const YAML::Mark& fallback) {
  if (!n.IsMap()) {
    error(n, std::string(what) + " must be a mapping", fallback);
    return false;
  }
  bool good = true;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    bool known = false;
    for (auto a : allowed) known = known || a == key;
    if (!known) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      error(kv.first, "unknown key '" + key + "' in " + std::string(what) + " (expected one of: " +
                          list + ")");
      good = false;
    }
  }
  return good;
}

std::optional<std::string> YamlReader::str(const YAML::Node& n, std::string_view what) {
  if (!n.IsScalar()) {
    error(n, std::string(what) + " must be a string");
    return std::nullopt;
  }
  std::string why;
  auto v = substitute_env(n.Scalar(), &why);
  if (!v) error(n, std::string(what) + ": " + why);
  return v;
}

std::optional<std::int64_t> YamlReader::integer(const YAML::Node& n, std::string_view what,
                                                std::int64_t min, std::int64_t max) {
  auto s = str(n, what);
  if (!s) return std::nullopt;
  auto v = parse_int(*s);
  if (!v) {
    error(n, std::string(what) + " must be an integer, got '" + *s + "'");
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    error(n, std::string(what) + " must be between " + std::to_string(min) + " and " +
                 std::to_string(max) + ", got " + std::to_string(*v));
    return std::nullopt;
  }
  return v;
}

std::optional<double> YamlReader::number(const YAML::Node& n, std::string_view what, double min, double max) {
  auto s = str(n, what);
  if (!s) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size() || !std::isfinite(v)) {
    error(n, std::string(what) + " must be a number, got '" + *s + "'");
    return std::nullopt;
  }
  if (v < min || v > max) {
    std::ostringstream range;
    range << what << " must be between " << min << " and " << max << ", got " << *s;
    error(n, range.str());
    return std::nullopt;
  }
  return v;
}

std::optional<bool> YamlReader::boolean(const YAML::Node& n, std::string_view what) {
  auto s = str(n, what);
  if (!s) return std::nullopt;
  if (*s == "true") return true;
  if (*s == "false") return false;
  error(n, std::string(what) + " must be true or false, got '" + *s + "'");
  return std::nullopt;
}

std::optional<std::string> YamlReader::one_of(const YAML::Node& n, std::string_view what,
                                              std::initializer_list<std::string_view> choices) {
  auto s = str(n, what);
  if (!s) return std::nullopt;
  std::string list;
  for (auto c : choices) {
    if (c == *s) return s;
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  error(n, std::string(what) + " must be one of " + list + ", got '" + *s + "'");
  return std::nullopt;
}

std::optional<std::vector<std::string>> YamlReader::string_list(const YAML::Node& n,
                                                                std::string_view what) {
  if (!n.IsSequence()) {
    error(n, std::string(what) + " must be a list of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool good = true;
  for (const auto& item : n) {
    auto s = str(item, std::string(what) + " item");
    if (s) {
      out.push_back(*s);
    } else {
      good = false;
    }
  }
  if (!good) return std::nullopt;
  return out;
}

std::optional<nlohmann::json> YamlReader::any(const YAML::Node& n, std::string_view what) {
  std::size_t budget = kMaxNodes;
  return any(n, what, 0, budget);
}

std::optional<nlohmann::json> YamlReader::any(const YAML::Node& n, std::string_view what, int depth,
                                              std::size_t& budget) {
  using nlohmann::json;
  if (depth > kMaxDepth) {
    error(n, std::string(what) + " is nested deeper than " + std::to_string(kMaxDepth) +
                 " levels (an alias that contains itself?)");
    return std::nullopt;
  }
  if (budget == 0) {
    error(n, std::string(what) + " expands to more than " + std::to_string(kMaxNodes) +
                 " values (aliases repeated inside aliases?)");
    return std::nullopt;
  }
  --budget;
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json(nullptr);
    case YAML::NodeType::Scalar: {
      auto s = str(n, what);
      if (!s) return std::nullopt;
      if (n.Tag() == "!") return json(*s);  // quoted: always a string
      if (*s == "true") return json(true);
      if (*s == "false") return json(false);
      if (*s == "~" || *s == "null") return json(nullptr);
      if (auto i = parse_int(*s)) return json(*i);
      if (auto d = parse_double(*s)) return json(*d);
      return json(*s);
    }
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : n) {
        auto v = any(item, what, depth + 1, budget);
        if (!v) return std::nullopt;
        arr.push_back(std::move(*v));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : n) {
        auto v = any(kv.second, std::string(what) + "." + kv.first.Scalar(), depth + 1, budget);
        if (!v) return std::nullopt;
        obj[kv.first.Scalar()] = std::move(*v);
      }
      return obj;
    }
  }
  return json(nullptr);
}

}  // namespace edrid
