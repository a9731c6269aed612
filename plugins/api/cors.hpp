// CORS for the origins the api lets in (allowed_origins): the answer to a
// browser's preflight (OPTIONS with Access-Control-Request-Method), and the
// headers that let a page on such an origin read an answer. Which origins
// may call at all is the cross-site guard's decision; this only speaks CORS
// to them. Plain logic, tested on its own.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edri_api {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct CorsSettings {
  std::vector<std::string> headers{"content-type", "authorization", "traceparent"};  // request headers a page may send
  std::chrono::seconds max_age{600};  // how long a browser may keep a preflight's answer
  bool credentials = false;           // cookies and HTTP auth on cross-origin calls
};

struct PreflightAnswer {
  std::string refusal;  // empty: allowed
  HeaderList headers;
};

class CorsPolicy {
 public:
  explicit CorsPolicy(CorsSettings s);

  // A preflight from `origin` (already let in) asking for `method` with the
  // comma-separated `request_headers`, to a path that takes `methods`.
  PreflightAnswer preflight(std::string_view origin, std::string_view method, std::string_view request_headers,
                            const std::vector<std::string>& methods) const;
  // The headers for an answer to a call from `origin` (already let in).
  HeaderList response_headers(std::string_view origin) const;

 private:
  CorsSettings s_;  // headers in lower case
};

}  // namespace edri_api
