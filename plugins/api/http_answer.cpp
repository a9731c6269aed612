#include "http_answer.hpp"

#include <algorithm>
#include <cctype>

namespace edri_api {
namespace {

using nlohmann::json;

constexpr auto kLossy = json::error_handler_t::replace;

bool token_char(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// A field value may not end a line: that would let it add headers of its own.
bool safe_value(const std::string& v) {
  return std::none_of(v.begin(), v.end(), [](unsigned char c) { return c == '\r' || c == '\n' || c == 0; });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

bool wants_http_answer(const json& data) noexcept {
  return data.is_object() && data.contains("$http") && data["$http"].is_object();
}

std::variant<HttpAnswer, std::string> http_answer_of(const json& data) {
  const json& h = data["$http"];
  HttpAnswer out;
  for (const auto& [key, value] : h.items()) {
    if (key != "status" && key != "headers" && key != "cookies" && key != "redirect" && key != "content_type" &&
        key != "body") {
      return "unknown member '" + key + "' (status, headers, cookies, redirect, content_type, body)";
    }
  }
  if (h.contains("redirect")) {
    if (!h["redirect"].is_string() || !safe_value(h["redirect"]) || h["redirect"].get<std::string>().empty()) {
      return "redirect must be a URL on one line";
    }
    out.status = 302;
    out.headers.emplace_back("Location", h["redirect"].get<std::string>());
  }
  if (h.contains("status")) {
    if (!h["status"].is_number_unsigned() || h["status"].get<std::uint64_t>() < 200 ||
        h["status"].get<std::uint64_t>() > 599) {
      return "status must be an integer from 200 to 599";
    }
    out.status = h["status"].get<unsigned>();
  }
  if (h.contains("headers")) {
    if (!h["headers"].is_object()) return "headers must map names to strings";
    for (const auto& [name, value] : h["headers"].items()) {
      if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return token_char(c); })) {
        return "header name '" + name + "' is not a token";
      }
      if (!value.is_string() || !safe_value(value)) return "header '" + name + "' must be a string on one line";
      // Framing and the trace belong to the server.
      const std::string l = lower(name);
      if (l == "content-length" || l == "transfer-encoding" || l == "connection" || l == "content-type" ||
          l == "traceparent" || l == "x-trace-id" || l == "set-cookie") {
        return "header '" + name + "' is set by the api (use content_type or cookies for those)";
      }
      out.headers.emplace_back(name, value.get<std::string>());
    }
  }
  if (h.contains("cookies")) {
    if (!h["cookies"].is_array()) return "cookies must be a list of Set-Cookie values";
    for (const auto& c : h["cookies"]) {
      if (!c.is_string() || !safe_value(c) || c.get<std::string>().find('=') == std::string::npos) {
        return "a cookie must be a Set-Cookie value on one line (name=value; attributes)";
      }
      out.headers.emplace_back("Set-Cookie", c.get<std::string>());
    }
  }
  if (h.contains("content_type")) {
    if (!h["content_type"].is_string() || !safe_value(h["content_type"]) ||
        h["content_type"].get<std::string>().empty()) {
      return "content_type must be a media type on one line";
    }
    out.content_type = h["content_type"].get<std::string>();
  }
  // The body: "$http".body, else the rest of the data. A string body with a
  // content type other than JSON goes out as it is.
  json body;
  if (h.contains("body")) {
    body = h["body"];
  } else {
    body = data;
    body.erase("$http");
    if (body.empty()) body = nullptr;
  }
  const bool json_type = lower(out.content_type).rfind("application/json", 0) == 0;
  const bool no_content = out.status == 204 || out.status == 304 || (out.status >= 300 && out.status < 400);
  if (!json_type) {
    if (!body.is_string()) return "a body sent as " + out.content_type + " must be a string";
    out.body = body.get<std::string>();
  } else if (!(body.is_null() && no_content)) {
    out.body = body.dump(-1, ' ', false, kLossy);
  }
  if (out.status == 204 || out.status == 304) out.body.clear();
  return out;
}

}  // namespace edri_api
