#include "config/plugin_config.hpp"

#include <cstdint>

namespace edrid {

std::optional<nlohmann::json> check_plugin_config(YamlReader& r, const ManagerConfig& m,
                                                  const char* schema_json) {
  using nlohmann::json;
  json schema;
  try {
    schema = json::parse(schema_json ? schema_json : "{}");
  } catch (const json::exception& e) {
    r.error(m.plugin_mark, "plugin '" + m.plugin + "' declares an unreadable config schema: " + e.what());
    return std::nullopt;
  }
  const json fields = schema.value("fields", json::array());
  const std::string where = "config of manager '" + m.name + "'";
  const YAML::Node& node = m.config;
  const bool empty = !node.IsDefined() || node.IsNull();
  if (!empty && !node.IsMap()) {
    r.error(node, where + " must be a mapping");
    return std::nullopt;
  }

  bool good = true;
  json out = json::object();
  if (!empty) {
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const json* field = nullptr;
      for (const auto& f : fields) {
        if (f.value("name", "") == key) field = &f;
      }
      if (!field) {
        std::string known;
        for (const auto& f : fields) known += (known.empty() ? "" : ", ") + f.value("name", "");
        r.error(kv.first, "unknown key '" + key + "' in " + where + " (plugin '" + m.plugin +
                              "' accepts: " + (known.empty() ? "no keys" : known) + ")");
        good = false;
        continue;
      }
      const std::string type = field->value("type", "any");
      const std::string what = m.name + ".config." + key;
      std::optional<json> v;
      if (type == "string") {
        if (auto s = r.str(kv.second, what)) v = *s;
      } else if (type == "integer") {
        if (auto i = r.integer(kv.second, what, INT64_MIN, INT64_MAX)) v = *i;
      } else if (type == "number") {
        auto a = r.any(kv.second, what);
        if (a && a->is_number()) {
          v = std::move(a);
        } else if (a) {
          r.error(kv.second, what + " must be a number");
        }
      } else if (type == "boolean") {
        if (auto b = r.boolean(kv.second, what)) v = *b;
      } else if (type == "string_list") {
        if (auto l = r.string_list(kv.second, what)) v = *l;
      } else if (type == "object") {
        if (!kv.second.IsMap()) {
          r.error(kv.second, what + " must be a mapping");
        } else {
          v = r.any(kv.second, what);
        }
      } else {
        v = r.any(kv.second, what);
      }
      if (!v) {
        good = false;
        continue;
      }
      out[key] = std::move(*v);
    }
  }
  for (const auto& f : fields) {
    const std::string name = f.value("name", "");
    if (out.contains(name)) continue;
    if (f.value("required", false)) {
      r.error(empty ? m.mark : node.Mark(),
              where + " is missing required key '" + name + "' (" + f.value("doc", "") + ")");
      good = false;
    } else if (f.contains("default") && !f["default"].is_null()) {
      out[name] = f["default"];
    }
  }
  if (!good) return std::nullopt;
  return out;
}

YAML::Mark config_key_mark(const ManagerConfig& m, const std::string& key) {
  // `key` is a dotted path into the manager's config ("inbound.2.stream"):
  // the mark is that of the deepest part that exists, so a plugin that names
  // a nested key gets its line and column.
  YAML::Node node;
  node.reset(m.config);
  if (!node.IsDefined() || node.IsNull() || !node.IsMap()) return m.mark;
  YAML::Mark mark = node.Mark();
  std::size_t from = 0;
  while (from <= key.size()) {
    const std::size_t dot = key.find('.', from);
    const std::string part = key.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
    YAML::Node next;
    if (node.IsMap()) {
      for (const auto& kv : node) {
        if (kv.first.Scalar() == part) {
          mark = kv.first.Mark();
          next.reset(kv.second);
          break;
        }
      }
    } else if (node.IsSequence() && !part.empty() &&
               part.find_first_not_of("0123456789") == std::string::npos && std::stoul(part) < node.size()) {
      const YAML::Node& seq = node;
      next.reset(seq[std::stoul(part)]);
      mark = next.Mark();
    }
    if (!next.IsDefined()) break;
    node.reset(next);
    if (dot == std::string::npos) break;
    from = dot + 1;
  }
  return mark;
}

}  // namespace edrid
