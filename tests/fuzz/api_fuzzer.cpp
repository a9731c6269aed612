// libFuzzer target: arbitrary bytes as what an api client sends. They go
// through everything the api does with a request before the router sees it:
// Beast's HTTP parser (with the api's limits), the cross-site guard on its
// headers, URL decoding and the UTF-8 check, the query parser, route
// matching, the expose policy, and bounded JSON parsing of the body; and, as
// a WebSocket message, the frame reader. Nothing may crash, leak, read out
// of bounds or recurse without bound (built with ASan and UBSan).
#include "cross_site_guard.hpp"
#include "expose_policy.hpp"
#include "route_table.hpp"
#include "ws_frame.hpp"

#include <edri/json_text.hpp>

#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace http = boost::beast::http;

namespace {

const edri_api::RouteTable& routes() {
  static const edri_api::RouteTable table = [] {
    edri_api::RouteTable t;
    t.add({"GET", "/users/{id}", "user.get", {}});
    t.add({"POST", "/users/{id}/notes", "user.note", {}});
    t.add({"GET", "/users/me", "user.me", {}});
    return t;
  }();
  return table;
}

void as_http(std::string_view bytes) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(1 << 16);
  parser.header_limit(8 << 10);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (ec || !parser.is_done()) return;
  const auto& req = parser.get();
  static const edri_api::CrossSiteGuard guard({"edri.lan"}, {"https://ops.example"});
  (void)guard.check(req[http::field::host], req[http::field::origin], req["Sec-Fetch-Site"]);
  const std::string target(req.target());
  const auto q = target.find('?');
  const std::string path = target.substr(0, q);
  for (const auto& [k, v] : edri_api::parse_query(q == std::string::npos ? "" : target.substr(q + 1))) {
    (void)edri_api::valid_utf8(k);
    (void)edri_api::valid_utf8(v);
  }
  const std::string decoded = edri_api::url_decode(path);
  (void)edri_api::valid_utf8(decoded);
  if (auto m = routes().match(req.method_string(), path)) (void)m->params.size();
  static const edri_api::ExposePolicy expose;
  (void)expose.allows(decoded);
  (void)expose.allows_pattern(decoded);
  try {
    const auto body = edri::parse_json(req.body());
    (void)body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  as_http(bytes);
  const auto frame = edri_api::parse_ws_frame(bytes, edri::kJsonDepthLimit);
  if (const auto* f = std::get_if<edri_api::WsFrame>(&frame)) {
    (void)f->subscription();
    (void)f->data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
