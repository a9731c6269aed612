#include "http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <optional>
#include <stdexcept>

namespace edri_api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Response plain(unsigned status, const std::string& message, unsigned version) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::string(R"({"status":"error","message":")") + message + "\"}";
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, const ServerLimits& limits, const HttpServer::Handler& handler,
          const HttpServer::StatusHook& hook, std::shared_ptr<std::atomic<std::size_t>> open)
      : stream_(std::move(socket)), limits_(limits), handler_(handler), hook_(hook), open_(std::move(open)) {}
  ~Session() { open_->fetch_sub(1); }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(limits_.body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
    stream_.expires_after(limits_.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::body_limit) return answer_and_close(413, "request body too large");
    if (ec == http::error::header_limit) return answer_and_close(431, "request headers too large");
    if (ec) return answer_and_close(400, "malformed HTTP request");
    Request req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    // The handler may answer from any thread: the reply hops onto this
    // connection's strand before touching the stream.
    stream_.expires_never();
    // Exactly one answer per request: a second one would be read by the
    // client as the answer to its next request.
    auto once = std::make_shared<std::atomic<bool>>(false);
    handler_(std::move(req), [self = shared_from_this(), once](Response res) {
      if (once->exchange(true)) return;
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->do_write(std::move(res)); });
    });
  }

  void do_write(Response res) {
    res.version(version_);
    res.keep_alive(keep_alive_ && res.keep_alive());
    res.prepare_payload();
    auto sp = std::make_shared<Response>(std::move(res));
    stream_.expires_after(limits_.idle_timeout);
    http::async_write(stream_, *sp, [self = shared_from_this(), sp](beast::error_code ec, std::size_t) {
      if (ec || !sp->keep_alive()) return self->close();
      self->do_read();
    });
  }

  void answer_and_close(unsigned status, const std::string& why) {
    if (hook_) hook_(status);
    keep_alive_ = false;
    do_write(plain(status, why, version_));
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const ServerLimits& limits_;
  const HttpServer::Handler& handler_;
  const HttpServer::StatusHook& hook_;
  std::shared_ptr<std::atomic<std::size_t>> open_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Listener : std::enable_shared_from_this<HttpServer::Listener> {
  Listener(asio::io_context& ioc, HttpServer& server) : ioc(ioc), acceptor(asio::make_strand(ioc)), server(server) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) self->admit(std::move(s));
      self->accept();
    });
  }

  void admit(tcp::socket s) {
    if (open->fetch_add(1) >= server.limits_.max_connections) {
      open->fetch_sub(1);
      // Over the cap: say so and close, rather than queue without bound.
      if (server.hook_) server.hook_(503);
      auto res = std::make_shared<Response>(plain(503, "too many connections", 11));
      auto sock = std::make_shared<tcp::socket>(std::move(s));
      http::async_write(*sock, *res, [sock, res](beast::error_code, std::size_t) {
        beast::error_code ignored;
        sock->shutdown(tcp::socket::shutdown_both, ignored);
      });
      return;
    }
    std::make_shared<Session>(std::move(s), server.limits_, server.handler_, server.hook_, open)->start();
  }

  asio::io_context& ioc;
  tcp::acceptor acceptor;
  HttpServer& server;
  std::shared_ptr<std::atomic<std::size_t>> open = std::make_shared<std::atomic<std::size_t>>(0);
};

HttpServer::HttpServer(ServerLimits limits, Handler handler, StatusHook hook)
    : limits_(limits), handler_(std::move(handler)), hook_(std::move(hook)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const std::string& address, std::uint16_t port, int threads) {
  beast::error_code ec;
  const auto addr = asio::ip::make_address(address, ec);
  if (ec) throw std::runtime_error("bad bind address '" + address + "': " + ec.message());
  listener_ = std::make_shared<Listener>(ioc_, *this);
  auto& a = listener_->acceptor;
  const tcp::endpoint ep{addr, port};
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  port_ = a.local_endpoint().port();
  listener_->accept();
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

void HttpServer::stop() {
  if (threads_.empty()) return;
  asio::post(listener_->acceptor.get_executor(), [l = listener_] {
    beast::error_code ignored;
    l->acceptor.close(ignored);
  });
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace edri_api
