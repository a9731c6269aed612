// Configured HTTP routes: method + path template ("/users/{id}",
// "/items/{n:int}") → event type. Plain logic, tested on its own.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace edri_api {

// What a path or query parameter must hold: `{id:int}`, `{x:number}`,
// `{on:bool}`, `{name}` (= `{name:str}`).
enum class ParamType { string, integer, number, boolean };
// The type a name in a template or a route's `query:` stands for: str, int,
// number, bool.
std::optional<ParamType> param_type_named(std::string_view name);
std::string_view to_string(ParamType t) noexcept;
// raw as a JSON value of type t (int64, double, true/false, string), or
// nullopt when it is not one.
std::optional<nlohmann::json> typed_param(ParamType t, std::string_view raw);

struct Route {
  std::string method;  // upper case
  std::string path;    // template as configured
  std::string event;
  std::chrono::milliseconds timeout{0};  // 0 = the api's default
  std::map<std::string, ParamType> query;  // typed query parameters (others stay strings)
};

struct RouteMatch {
  const Route* route;
  std::map<std::string, std::string> params;  // decoded, not yet typed
  std::map<std::string, ParamType> types;     // of each path parameter
};

// A route as documentation shows it: its template with bare parameter
// names ("/items/{n}") and each path parameter's type, in order.
struct RouteDoc {
  const Route* route;
  std::string path;
  std::vector<std::pair<std::string, ParamType>> path_params;
};

class RouteTable {
 public:
  // Throws std::invalid_argument for a malformed template or a duplicate.
  void add(Route r);
  // The route for method and path (without query), with its parameters.
  std::optional<RouteMatch> match(std::string_view method, std::string_view path) const;
  // True when some route has this path but another method (405 vs 404).
  bool path_known(std::string_view path) const;
  // The methods routes take at this path, sorted; empty when none.
  std::vector<std::string> methods_for(std::string_view path) const;
  // Every route, in the order added.
  std::vector<RouteDoc> routes() const;

 private:
  struct Segment {
    std::string text;  // a literal, or a parameter's name
    bool param = false;
    ParamType type = ParamType::string;
    bool operator==(const Segment& o) const { return text == o.text && param == o.param; }
  };
  struct Entry {
    Route route;
    std::vector<Segment> segments;
  };
  static std::vector<std::string> split(std::string_view path);
  static bool fits(const Entry& e, const std::vector<std::string>& parts, RouteMatch* out);
  std::vector<Entry> entries_;
};

// Splits "a=1&b=x%20y" into decoded pairs.
std::map<std::string, std::string> parse_query(std::string_view query);
std::string url_decode(std::string_view s);
// Whether `s` is well-formed UTF-8 (no overlongs, surrogates or values past
// U+10FFFF): what a JSON string may hold.
bool valid_utf8(std::string_view s) noexcept;

}  // namespace edri_api
