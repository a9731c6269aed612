// Configured HTTP routes: method + path template ("/users/{id}") → event
// type. Plain logic, tested on its own.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace edri_api {

struct Route {
  std::string method;  // upper case
  std::string path;    // template as configured
  std::string event;
  std::chrono::milliseconds timeout{0};  // 0 = the api's default
};

struct RouteMatch {
  const Route* route;
  std::map<std::string, std::string> params;
};

class RouteTable {
 public:
  // Throws std::invalid_argument for a malformed template or a duplicate.
  void add(Route r);
  // The route for method and path (without query), with its parameters.
  std::optional<RouteMatch> match(std::string_view method, std::string_view path) const;
  // True when some route has this path but another method (405 vs 404).
  bool path_known(std::string_view path) const;

 private:
  struct Entry {
    Route route;
    std::vector<std::string> segments;  // "{name}" marks a parameter
  };
  static std::vector<std::string> split(std::string_view path);
  static bool fits(const Entry& e, const std::vector<std::string>& parts,
                   std::map<std::string, std::string>* params);
  std::vector<Entry> entries_;
};

// Splits "a=1&b=x%20y" into decoded pairs.
std::map<std::string, std::string> parse_query(std::string_view query);
std::string url_decode(std::string_view s);
// Whether `s` is well-formed UTF-8 (no overlongs, surrogates or values past
// U+10FFFF): what a JSON string may hold.
bool valid_utf8(std::string_view s) noexcept;

}  // namespace edri_api
