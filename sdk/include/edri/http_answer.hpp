// The HTTP answer a request handler chooses, when the api plugin serves its
// request over HTTP: status, headers, cookies, a redirect, the body and its
// content type. It is plain response data (a "$http" member), so it works
// from any executor and needs nothing but a JSON reply:
//
//   ctx.on_request("user.create", [](const edri::GenericEvent& ev, edri::Reply<edri::json>& r) {
//     r.set(edri::HttpAnswer(201).header("Location", "/users/8").body({{"id", 8}}));
//   });
//
// Served some other way (a WebSocket client, another manager), the data is
// what it is: {"$http": {...}}. Statuses from 200 to 599; the api refuses
// header values with line breaks and the headers it sets itself, answering
// 502 and logging why.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

namespace edri {

class HttpAnswer {
 public:
  explicit HttpAnswer(unsigned status = 200) { http_["status"] = status; }
  HttpAnswer& header(const std::string& name, std::string value) {
    http_["headers"][name] = std::move(value);
    return *this;
  }
  // One Set-Cookie value: "sid=abc; Path=/; HttpOnly; Secure; SameSite=Strict".
  HttpAnswer& cookie(std::string set_cookie) {
    http_["cookies"].push_back(std::move(set_cookie));
    return *this;
  }
  // 302 to `url` (a status given to the constructor other than 200 is kept).
  HttpAnswer& redirect(std::string url) {
    if (http_["status"] == 200) http_["status"] = 302;
    http_["redirect"] = std::move(url);
    return *this;
  }
  // A JSON body.
  HttpAnswer& body(nlohmann::json value) {
    http_["body"] = std::move(value);
    return *this;
  }
  // A body of another media type, as it is ("text/html; charset=utf-8").
  HttpAnswer& body(std::string text, std::string content_type) {
    http_["body"] = std::move(text);
    http_["content_type"] = std::move(content_type);
    return *this;
  }
  operator nlohmann::json() const { return nlohmann::json{{"$http", http_}}; }

 private:
  nlohmann::json http_ = nlohmann::json::object();
};

}  // namespace edri
