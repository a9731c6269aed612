#include "http_poster.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <optional>

namespace edri_bridge {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// Async operations on a private io_context, run until done or the deadline:
// Beast's timeouts apply to asynchronous operations only.
struct HttpPoster::Connection {
  HttpUrl url;
  asio::io_context ioc;
  std::optional<ssl::context> tls;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
  bool open() const { return (plain && plain->socket().is_open()) || (secure && beast::get_lowest_layer(*secure).socket().is_open()); }
  void reset() {
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  // Runs `start(done)` until done(ec) or the deadline; returns the error.
  template <class Start>
  beast::error_code run(Start start, std::chrono::steady_clock::time_point deadline) {
    beast::error_code result = asio::error::would_block;
    ioc.restart();
    lowest().expires_at(deadline);
    start([&](beast::error_code ec, auto&&...) { result = ec; });
    ioc.run();
    return result;
  }

  beast::error_code connect(std::chrono::steady_clock::time_point deadline) {
    reset();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec) return ec;
    if (url.tls) {
      secure.emplace(ioc, *tls);
      if (!SSL_set_tlsext_host_name(secure->native_handle(), url.host.c_str())) {
        return beast::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
      }
      secure->set_verify_callback(ssl::host_name_verification(url.host));
    } else {
      plain.emplace(ioc);
    }
    ec = run([&](auto done) { lowest().async_connect(endpoints, done); }, deadline);
    if (ec || !url.tls) return ec;
    return run([&](auto done) { secure->async_handshake(ssl::stream_base::client, done); }, deadline);
  }

  template <class Message>
  beast::error_code exchange(Message& req, http::response<http::string_body>& res,
                             std::chrono::steady_clock::time_point deadline) {
    auto ec = run([&](auto done) {
      if (plain) http::async_write(*plain, req, done);
      else http::async_write(*secure, req, done);
    }, deadline);
    if (ec) return ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    ec = run([&](auto done) {
      if (plain) http::async_read(*plain, buffer, parser, done);
      else http::async_read(*secure, buffer, parser, done);
    }, deadline);
    if (!ec) res = parser.release();
    return ec;
  }
};

HttpPoster::HttpPoster(const HttpUrl& destination, const std::string& ca_file) : c_(std::make_unique<Connection>()) {
  c_->url = destination;
  if (destination.tls) {
    c_->tls.emplace(ssl::context::tls_client);
    c_->tls->set_verify_mode(ssl::verify_peer);
    if (ca_file.empty()) {
      c_->tls->set_default_verify_paths();
    } else {
      c_->tls->load_verify_file(ca_file);
    }
  }
}

HttpPoster::~HttpPoster() = default;

PostResult HttpPoster::post(const std::string& target, const std::map<std::string, std::string>& headers,
                            const std::string& body, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, c_->url.host);
  req.set(http::field::user_agent, "edri-webhook");
  req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();

  PostResult out;
  http::response<http::string_body> res;
  beast::error_code ec;
  // A kept-alive connection the server closed meanwhile fails at once: one
  // fresh connection is tried before the POST counts as failed.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = c_->open();
    if (!reused && (ec = c_->connect(deadline))) break;
    ec = c_->exchange(req, res, deadline);
    if (!ec || !reused || std::chrono::steady_clock::now() >= deadline) break;
    c_->reset();
  }
  if (ec) {
    c_->reset();
    out.error = ec == beast::error::timeout ? "no answer within " + std::to_string(timeout.count()) + " ms" : ec.message();
    return out;
  }
  out.status = static_cast<int>(res.result_int());
  if (const auto ra = res[http::field::retry_after]; !ra.empty()) {
    try {
      out.retry_after = std::chrono::seconds(std::stoll(std::string(ra)));
    } catch (const std::exception&) {
      // An HTTP date instead of seconds: the retry policy's own delay applies.
    }
  }
  if (!res.keep_alive()) c_->reset();
  return out;
}

}  // namespace edri_bridge
