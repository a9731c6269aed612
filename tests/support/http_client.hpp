// A blocking HTTP/1.1 client on Beast for tests, with keep-alive.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <edri/event.hpp>  // before any use of optional<json> (its serializer)

#include <chrono>
#include <optional>
#include <stdexcept>

#include <map>
#include <string>

namespace probe {

struct HttpResult {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

class HttpClient {
 public:
  explicit HttpClient(unsigned short port) : stream_(ioc_), host_("127.0.0.1:" + std::to_string(port)) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    stream_.connect(ep);
  }
  HttpResult call(const std::string& method, const std::string& target, const std::string& body = "",
                  const std::map<std::string, std::string>& headers = {}) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host_);  // as a browser or curl would send it
    // A body is JSON unless the test says otherwise, as for any client of
    // the api (it refuses bodies of other types).
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    boost::beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream_, buf, parser);
    auto res = parser.release();
    HttpResult out{res.result_int(), res.body(), {}};
    for (const auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
    return out;
  }
  boost::beast::tcp_stream& stream() { return stream_; }

 private:
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  std::string host_;
};

// A loopback port that was free a moment ago.
inline unsigned short free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace probe

#include <boost/beast/websocket.hpp>

namespace probe {

// A blocking WebSocket client for tests.
class WsClient {
 public:
  explicit WsClient(unsigned short port, const std::map<std::string, std::string>& headers = {}) : ws_(ioc_) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    boost::beast::get_lowest_layer(ws_).connect(ep);
    ws_.set_option(boost::beast::websocket::stream_base::decorator(
        [headers](boost::beast::websocket::request_type& req) {
          for (const auto& [k, v] : headers) req.set(k, v);
        }));
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/ws");
  }
  void send(const nlohmann::json& frame) { ws_.write(boost::asio::buffer(frame.dump())); }
  void send_text(const std::string& text) { ws_.write(boost::asio::buffer(text)); }
  // The next frame, or nullopt when the server closed (reason in close_reason()).
  std::optional<nlohmann::json> next(std::chrono::milliseconds within = std::chrono::seconds(5)) {
    boost::beast::get_lowest_layer(ws_).expires_after(within);
    boost::beast::flat_buffer buf;
    boost::beast::error_code ec;
    ws_.read(buf, ec);
    if (ec) return std::nullopt;
    return nlohmann::json::parse(boost::beast::buffers_to_string(buf.data()));
  }
  // The next frame; throws (failing the test) when none comes.
  nlohmann::json expect(std::chrono::milliseconds within = std::chrono::seconds(10)) {
    auto f = next(within);
    if (!f) throw std::runtime_error("no WebSocket frame within " + std::to_string(within.count()) + " ms");
    return *f;
  }
  std::string close_reason() const { return std::string(ws_.reason().reason.c_str()); }
  int close_code() const { return static_cast<int>(ws_.reason().code); }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
};

}  // namespace probe
