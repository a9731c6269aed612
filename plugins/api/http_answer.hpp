// The HTTP answer a handler chooses: a response whose data is an object with
// a "$http" member sets the status, headers, cookies, a redirect and the
// body's content type (plugins/api/README.md, "Choosing the HTTP answer";
// edri/http_answer.hpp builds it). Checked here, so a handler cannot split
// headers or answer with a status HTTP does not have. Plain logic, tested on
// its own.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace edri_api {

struct HttpAnswer {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Set-Cookie may repeat
  std::string content_type = "application/json";
  std::string body;
};

// Whether `data` asks for an answer of its own (an object with "$http").
bool wants_http_answer(const nlohmann::json& data) noexcept;
// The answer `data` asks for, or why it cannot be given.
std::variant<HttpAnswer, std::string> http_answer_of(const nlohmann::json& data);

}  // namespace edri_api
