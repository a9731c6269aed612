#include "cors.hpp"

#include <algorithm>
#include <cctype>

namespace edri_api {
namespace {

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

}  // namespace

CorsPolicy::CorsPolicy(CorsSettings s) : s_(std::move(s)) {
  for (auto& h : s_.headers) h = lower_trimmed(h);
}

PreflightAnswer CorsPolicy::preflight(std::string_view origin, std::string_view method,
                                      std::string_view request_headers,
                                      const std::vector<std::string>& methods) const {
  PreflightAnswer out;
  if (std::find(methods.begin(), methods.end(), method) == methods.end()) {
    out.refusal = "method " + std::string(method) + " is not served here (" + joined(methods) + ")";
    return out;
  }
  std::vector<std::string> asked;
  std::size_t from = 0;
  while (from <= request_headers.size()) {
    const auto comma = request_headers.find(',', from);
    const std::string h = lower_trimmed(request_headers.substr(from, comma == std::string_view::npos ? comma : comma - from));
    if (!h.empty()) {
      if (std::find(s_.headers.begin(), s_.headers.end(), h) == s_.headers.end()) {
        out.refusal = "request header '" + h + "' is not allowed (" + joined(s_.headers) + ")";
        return out;
      }
      asked.push_back(h);
    }
    if (comma == std::string_view::npos) break;
    from = comma + 1;
  }
  out.headers = response_headers(origin);
  out.headers.emplace_back("Access-Control-Allow-Methods", joined(methods));
  if (!asked.empty()) out.headers.emplace_back("Access-Control-Allow-Headers", joined(asked));
  out.headers.emplace_back("Access-Control-Max-Age", std::to_string(s_.max_age.count()));
  return out;
}

HeaderList CorsPolicy::response_headers(std::string_view origin) const {
  // The origin itself rather than "*": the answer differs by origin, so
  // caches must key it by Origin.
  HeaderList out{{"Access-Control-Allow-Origin", std::string(origin)},
                 {"Vary", "Origin"},
                 {"Access-Control-Expose-Headers", "traceparent, x-trace-id"}};
  if (s_.credentials) out.emplace_back("Access-Control-Allow-Credentials", "true");
  return out;
}

}  // namespace edri_api
