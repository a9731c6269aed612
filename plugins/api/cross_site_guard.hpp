// Keeps web pages the user happens to open from driving the api.
//
// A page on any site can make the browser talk to 127.0.0.1: it can open a
// WebSocket (no CORS for those), POST a "simple" request (text/plain, no
// preflight), or rebind its own DNS name to 127.0.0.1 and read the answers.
// Browsers always say where a request comes from (Origin on WebSocket
// upgrades and on cross-origin fetches, Sec-Fetch-Site on everything
// recent), and a rebound name still arrives in the Host header. So:
//  * Host must be an IP literal, `localhost`, or a configured name;
//  * a request whose Origin is not this server's own (or a configured one),
//    or which the browser marks cross-site or same-site, is refused.
// Clients that are not browsers (curl, edrictl, other services) send none
// of these headers and are not affected.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace edri_api {

class CrossSiteGuard {
 public:
  // `hosts`: names accepted in Host besides IP literals and localhost ("*":
  // any). `origins`: origins (scheme://host[:port]) allowed besides the
  // server's own ("*": any). `scheme`: what the server speaks (http, https).
  CrossSiteGuard(std::vector<std::string> hosts, std::vector<std::string> origins, std::string scheme = "http");

  // Empty when the request may go on, else why not (for a 403 body).
  // `host`, `origin`, `fetch_site` are the header values ("" when absent).
  std::string check(std::string_view host, std::string_view origin, std::string_view fetch_site) const;
  // Whether `origin` is one the api was told to let in (allowed_origins):
  // the origins it speaks CORS to.
  bool listed(std::string_view origin) const;

 private:
  bool host_allowed(std::string_view host) const;
  bool origin_allowed(std::string_view origin, std::string_view host) const;

  std::vector<std::string> hosts_;
  std::vector<std::string> origins_;
  bool any_host_ = false;
  bool any_origin_ = false;
  std::string scheme_;
};

}  // namespace edri_api
