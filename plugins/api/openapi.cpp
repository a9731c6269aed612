#include "openapi.hpp"

#include <cctype>
#include <string>

namespace edri_api {
namespace {

using nlohmann::json;

json schema_of(ParamType t) {
  switch (t) {
    case ParamType::string: return {{"type", "string"}};
    case ParamType::integer: return {{"type", "integer"}, {"format", "int64"}};
    case ParamType::number: return {{"type", "number"}, {"format", "double"}};
    case ParamType::boolean: return {{"type", "boolean"}};
  }
  return {{"type", "string"}};
}

json json_content(json schema) { return {{"application/json", {{"schema", std::move(schema)}}}}; }

json error_answer(const char* what) {
  json schema{{"type", "object"},
              {"properties", {{"status", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}};
  return {{"description", what}, {"content", json_content(std::move(schema))}};
}

json answers() {
  return {{"200", {{"description", "the responder's data (or the answer it chose)"},
                   {"content", json_content(json::object())}}},
          {"400", error_answer("a parameter or the body is malformed")},
          {"404", error_answer("no manager serves the event type")},
          {"500", error_answer("the handler failed")},
          {"503", error_answer("the receiver's queue stayed full")},
          {"504", error_answer("no response in time")}};
}

bool has_body(const std::string& method) { return method == "POST" || method == "PUT" || method == "PATCH"; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

json openapi_document(const RouteTable& routes, bool tokens) {
  json paths = json::object();
  for (const auto& r : routes.routes()) {
    json params = json::array();
    for (const auto& [name, type] : r.path_params) {
      params.push_back({{"name", name}, {"in", "path"}, {"required", true}, {"schema", schema_of(type)}});
    }
    for (const auto& [name, type] : r.route->query) {
      params.push_back({{"name", name}, {"in", "query"}, {"required", false}, {"schema", schema_of(type)}});
    }
    json op{{"operationId", lower(r.route->method) + ":" + r.route->event},
            {"summary", "sends request " + r.route->event},
            {"description", "Path and query parameters and the JSON body's members become the event's data."},
            {"parameters", std::move(params)},
            {"responses", answers()}};
    if (has_body(r.route->method)) {
      op["requestBody"] = {{"required", false}, {"content", json_content({{"type", "object"}})}};
    }
    paths[r.path][lower(r.route->method)] = std::move(op);
  }
  paths["/events/{type}"]["post"] = {
      {"operationId", "post:events"},
      {"summary", "sends a request (or, with kind=notification, a notification) of any exposed type"},
      {"parameters",
       json::array({{{"name", "type"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}},
                    {{"name", "kind"},
                     {"in", "query"},
                     {"required", false},
                     {"schema", {{"type", "string"}, {"enum", {"request", "notification"}}}}},
                    {{"name", "timeout_ms"}, {"in", "query"}, {"required", false}, {"schema", schema_of(ParamType::integer)}},
                    {{"name", "priority"}, {"in", "query"}, {"required", false}, {"schema", schema_of(ParamType::integer)}},
                    {{"name", "Idempotency-Key"},
                     {"in", "header"},
                     {"required", false},
                     {"description", "the same work as an earlier call with this key: a receiver with dedupe_ms does it once"},
                     {"schema", {{"type", "string"}, {"maxLength", 255}}}}})},
      {"requestBody", {{"required", false}, {"content", json_content(json::object())}}},
      {"responses", answers()}};
  paths["/events/{type}"]["post"]["responses"]["202"] = {
      {"description", "a notification was queued for this many managers"},
      {"content", json_content({{"type", "object"}, {"properties", {{"delivered", {{"type", "integer"}}}}}})}};
  json doc{{"openapi", "3.0.3"},
           {"info", {{"title", "edri api"}, {"version", "1"}}},
           {"paths", std::move(paths)}};
  if (tokens) {
    doc["components"]["securitySchemes"]["bearer"] = {{"type", "http"}, {"scheme", "bearer"}};
    doc["security"] = json::array({{{"bearer", json::array()}}});
  }
  return doc;
}

}  // namespace edri_api
