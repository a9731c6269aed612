// A small HTTP/1.1 server on Boost.Beast: one strand per connection, a size
// limit and an idle timeout on every read, a cap on connections, keep-alive.
// Requests go to one handler that answers through a callback, from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace edri_api {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct ServerLimits {
  std::size_t body_bytes = 1 << 20;
  std::size_t header_bytes = 8 << 10;
  std::chrono::milliseconds idle_timeout{30'000};
  std::size_t max_connections = 1024;
};

class HttpServer {
 public:
  using Reply = std::function<void(Response)>;  // call exactly once
  using Handler = std::function<void(Request&&, Reply)>;
  // Called for answers the server gives itself (400, 413, 503): status only.
  using StatusHook = std::function<void(unsigned)>;

  HttpServer(ServerLimits limits, Handler handler, StatusHook hook);
  ~HttpServer();
  // Binds and starts `threads` I/O threads; throws std::runtime_error.
  void start(const std::string& address, std::uint16_t port, int threads);
  void stop();
  std::uint16_t port() const noexcept { return port_; }

 private:
  struct Listener;
  ServerLimits limits_;
  Handler handler_;
  StatusHook hook_;
  boost::asio::io_context ioc_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
};

}  // namespace edri_api
