// GET /openapi.json: an OpenAPI 3.0 description of what this api serves —
// the configured routes (with their typed path and query parameters) and
// /events/{type} — so clients can be generated. Plain logic, tested on its
// own. Event payload schemas are not known to the api yet: bodies and
// answers are described as JSON values.
#pragma once

#include "route_table.hpp"

#include <nlohmann/json.hpp>

namespace edri_api {

// `tokens`: the api requires a bearer token (documented as the security scheme).
nlohmann::json openapi_document(const RouteTable& routes, bool tokens);

}  // namespace edri_api
