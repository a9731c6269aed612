// Router statistics (the JSON of /stats) as Prometheus text format 0.0.4.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace edri_api {

std::string to_prometheus(const nlohmann::json& stats,
                          const std::map<unsigned, std::uint64_t>& http_requests_by_status);

}  // namespace edri_api
