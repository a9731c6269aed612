// The webhook manager's configuration: URLs subscribed to edri type
// patterns, the HMAC secret that signs each POST, and the HTTP timeout.
#pragma once

#include "settings_reader.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace edri_bridge {

// http[s]://host[:port]/path, split once.
struct HttpUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query, at least "/"
  std::string text;    // as written
};
// nullopt when `text` is not an http:// or https:// URL with a host.
std::optional<HttpUrl> parse_http_url(const std::string& text);

struct Hook {
  std::string pattern;                      // edri type pattern
  HttpUrl url;
  std::map<std::string, std::string> headers;  // extra request headers
};

struct WebhookSettings {
  std::vector<Hook> hooks;
  std::string secret;                       // HMAC-SHA256 key; empty = unsigned
  std::chrono::milliseconds timeout{5000};  // connect + send + answer, per POST
  std::string ca_file;                      // https: trust these instead of the system's
  std::size_t max_hooks = 1000;             // config and run time together
  std::string events;                       // request prefix: <events>.subscribe, .unsubscribe, .list, .stats
};

// `read_file` reads the secret file (injected so tests need no files).
WebhookSettings parse_webhook_settings(const nlohmann::json& config, const std::string& manager_name,
                                       const std::function<std::string(const std::string&)>& read_file);
// One hook from JSON ({type, url, headers}); `path` names it in errors.
Hook parse_hook(const nlohmann::json& j, const std::string& path);

}  // namespace edri_bridge
