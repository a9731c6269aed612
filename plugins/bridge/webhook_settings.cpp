#include "webhook_settings.hpp"

#include "subject_map.hpp"

namespace edri_bridge {

std::optional<HttpUrl> parse_http_url(const std::string& text) {
  HttpUrl u;
  u.text = text;
  std::string rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    u.tls = true;
    rest = text.substr(8);
  } else {
    return std::nullopt;
  }
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos) return std::nullopt;
  const auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    u.port = authority.substr(colon + 1);
    authority.resize(colon);
    if (u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos || std::stoul(u.port) == 0 ||
        std::stoul(u.port) > 65535) {
      return std::nullopt;
    }
  } else {
    u.port = u.tls ? "443" : "80";
  }
  if (authority.empty()) return std::nullopt;
  for (const char c : u.target) {
    if (static_cast<unsigned char>(c) <= ' ') return std::nullopt;
  }
  u.host = authority;
  return u;
}

Hook parse_hook(const nlohmann::json& j, const std::string& path) {
  Section s(j, path);
  s.only({"type", "url", "headers"});
  Hook h;
  h.pattern = s.str("type");
  if (!valid_subject(h.pattern, true)) {
    throw SettingsError(s.key("type"), s.key("type") + " must be an edri type or pattern ('shop.>', 'shop.*.paid')");
  }
  const auto url = parse_http_url(s.str("url"));
  if (!url) throw SettingsError(s.key("url"), s.key("url") + " must be an http:// or https:// URL with a host");
  h.url = *url;
  if (s.has("headers")) {
    Section hs(s.at("headers"), s.key("headers"));
    for (const auto& [name, value] : s.at("headers").items()) {
      if (!value.is_string()) throw SettingsError(hs.key(name), hs.key(name) + " must be a string");
      if (name.empty() || name.find_first_of(" :\r\n") != std::string::npos) {
        throw SettingsError(hs.key(name), "'" + name + "' is not a header name");
      }
      if (value.get<std::string>().find_first_of("\r\n") != std::string::npos) {
        throw SettingsError(hs.key(name), hs.key(name) + " may not contain a line break");
      }
      h.headers[name] = value.get<std::string>();
    }
  }
  return h;
}

WebhookSettings parse_webhook_settings(const nlohmann::json& config, const std::string& manager_name,
                                       const std::function<std::string(const std::string&)>& read_file) {
  Section s(config, "");
  s.only({"hooks", "secret_file", "timeout_ms", "ca_file", "max_hooks", "events"});
  WebhookSettings w;
  s.each("hooks", [&](const nlohmann::json& j, const std::string& path) { w.hooks.push_back(parse_hook(j, path)); });
  if (s.has("secret_file")) {
    const auto file = s.str("secret_file");
    try {
      w.secret = read_file(file);
    } catch (const std::exception& e) {
      throw SettingsError("secret_file", "secret_file " + file + ": " + e.what());
    }
    while (!w.secret.empty() && (w.secret.back() == '\n' || w.secret.back() == '\r')) w.secret.pop_back();
    if (w.secret.size() < 16) throw SettingsError("secret_file", "secret_file " + file + " holds fewer than 16 bytes");
  }
  w.timeout = s.ms("timeout_ms", 5000, 1, 600'000);
  w.ca_file = s.str("ca_file");
  w.max_hooks = static_cast<std::size_t>(s.integer("max_hooks", 1000, 1, 1'000'000));
  if (w.hooks.size() > w.max_hooks) throw SettingsError("hooks", "more hooks than max_hooks");
  w.events = s.str("events", manager_name);
  if (!valid_subject(w.events, false)) throw SettingsError("events", "events must be an edri type prefix");
  return w;
}

}  // namespace edri_bridge
