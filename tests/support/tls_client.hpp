// https and wss clients for tests, verifying the server against a CA file.
#pragma once

#include "support/http_client.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <filesystem>
#include <string>

namespace probe {

inline boost::asio::ssl::context client_tls(const std::filesystem::path& ca) {
  boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
  ctx.load_verify_file(ca.string());
  ctx.set_verify_mode(boost::asio::ssl::verify_peer);
  return ctx;
}

// One request over a fresh TLS connection to 127.0.0.1:port, checking the
// certificate for `name`. Throws on a TLS or HTTP failure.
inline HttpResult https_call(unsigned short port, const std::filesystem::path& ca, const std::string& method,
                             const std::string& target, const std::string& body = "",
                             const std::string& name = "localhost") {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  auto ctx = client_tls(ca);
  beast::ssl_stream<beast::tcp_stream> s(io, ctx);
  SSL_set_tlsext_host_name(s.native_handle(), name.c_str());
  s.set_verify_callback(boost::asio::ssl::host_name_verification(name));
  beast::get_lowest_layer(s).connect({boost::asio::ip::make_address("127.0.0.1"), port});
  s.handshake(boost::asio::ssl::stream_base::client);
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  HttpResult out;
  out.status = res.result_int();
  out.body = res.body();
  return out;
}

// A wss client on /ws, verifying the server for "localhost".
class WssClient {
 public:
  WssClient(unsigned short port, const std::filesystem::path& ca) : ctx_(client_tls(ca)), ws_(io_, ctx_) {
    auto& ssl = ws_.next_layer();
    SSL_set_tlsext_host_name(ssl.native_handle(), "localhost");
    ssl.set_verify_callback(boost::asio::ssl::host_name_verification("localhost"));
    boost::beast::get_lowest_layer(ws_).connect({boost::asio::ip::make_address("127.0.0.1"), port});
    ssl.handshake(boost::asio::ssl::stream_base::client);
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/ws");
  }
  void send(const nlohmann::json& frame) { ws_.write(boost::asio::buffer(frame.dump())); }
  nlohmann::json expect() {
    boost::beast::flat_buffer buf;
    ws_.read(buf);
    return nlohmann::json::parse(boost::beast::buffers_to_string(buf.data()));
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ssl::context ctx_;
  boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>> ws_;
};

}  // namespace probe
