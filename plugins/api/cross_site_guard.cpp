#include "cross_site_guard.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace edri_api {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct Authority {
  std::string host;  // lower case, IPv6 without brackets
  std::string port;  // "" when absent
};

// "name", "name:port", "[v6]", "[v6]:port".
Authority split_authority(std::string_view a) {
  Authority out;
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string_view::npos) return {lower(a), ""};
    out.host = lower(a.substr(1, close - 1));
    if (close + 1 < a.size() && a[close + 1] == ':') out.port = std::string(a.substr(close + 2));
    return out;
  }
  const auto colon = a.rfind(':');
  if (colon == std::string_view::npos) return {lower(a), ""};
  return {lower(a.substr(0, colon)), std::string(a.substr(colon + 1))};
}

bool ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string_view default_port(std::string_view scheme) {
  if (scheme == "https" || scheme == "wss") return "443";
  return "80";
}

}  // namespace

CrossSiteGuard::CrossSiteGuard(std::vector<std::string> hosts, std::vector<std::string> origins, std::string scheme)
    : scheme_(std::move(scheme)) {
  for (auto& h : hosts) {
    if (h == "*") any_host_ = true;
    hosts_.push_back(lower(h));
  }
  for (auto& o : origins) {
    if (o == "*") any_origin_ = true;
    std::string l = lower(o);
    while (!l.empty() && l.back() == '/') l.pop_back();
    origins_.push_back(std::move(l));
  }
}

bool CrossSiteGuard::host_allowed(std::string_view host) const {
  if (any_host_ || host.empty()) return true;
  const auto a = split_authority(host);
  if (a.host == "localhost" || ip_literal(a.host)) return true;
  return std::find(hosts_.begin(), hosts_.end(), a.host) != hosts_.end();
}

bool CrossSiteGuard::origin_allowed(std::string_view origin, std::string_view host) const {
  if (origin.empty() || any_origin_) return true;
  const std::string o = lower(origin);
  if (std::find(origins_.begin(), origins_.end(), o) != origins_.end()) return true;
  // Same origin: the Origin's authority is the Host the request was sent to.
  const auto sep = o.find("://");
  if (sep == std::string::npos || host.empty()) return false;  // "null" and the like
  const std::string_view scheme = std::string_view(o).substr(0, sep);
  if (scheme != scheme_) return false;
  auto from = split_authority(std::string_view(o).substr(sep + 3));
  auto to = split_authority(host);
  if (from.port.empty()) from.port = default_port(scheme);
  if (to.port.empty()) to.port = default_port(scheme);
  return from.host == to.host && from.port == to.port;
}

bool CrossSiteGuard::listed(std::string_view origin) const {
  if (origin.empty()) return false;
  if (any_origin_) return true;
  std::string o = lower(origin);
  while (!o.empty() && o.back() == '/') o.pop_back();
  return std::find(origins_.begin(), origins_.end(), o) != origins_.end();
}

std::string CrossSiteGuard::check(std::string_view host, std::string_view origin,
                                  std::string_view fetch_site) const {
  if (!host_allowed(host)) {
    return "host '" + std::string(host) + "' is not served here (see allowed_hosts)";
  }
  if (!origin.empty()) {
    if (!origin_allowed(origin, host)) {
      return "origin '" + std::string(origin) + "' may not call this api (see allowed_origins)";
    }
    return {};
  }
  // No Origin (a navigation or a no-cors fetch such as <img>): trust what
  // the browser says about the page that made it.
  if ((fetch_site == "cross-site" || fetch_site == "same-site") && !any_origin_) {
    return "cross-site requests may not call this api (see allowed_origins)";
  }
  return {};
}

}  // namespace edri_api
