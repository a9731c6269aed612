// A small HTTP/1.1 server on Boost.Beast: one strand per connection, a size
// limit and an idle timeout on every read, a cap on connections, keep-alive.
// Requests go to one handler that answers through a callback, from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace boost::asio::ssl {
class context;
}

namespace edri_api {

// A TLS server context (TLS 1.2+) from PEM files; throws std::runtime_error
// naming the file that does not load.
std::shared_ptr<boost::asio::ssl::context> make_server_tls(const std::string& cert, const std::string& key);

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// One WebSocket client. send() is safe from any thread; text frames go out
// in order. A client that does not read is disconnected (close code 1008,
// "client too slow") once `ws_buffer_bytes` are waiting, never buffered
// without bound.
class WsConnection {
 public:
  virtual ~WsConnection() = default;
  virtual void send(std::string text) = 0;
  virtual void close(const std::string& reason) = 0;
  virtual std::uint64_t id() const noexcept = 0;
};

struct WsHandlers {
  // Whether to upgrade this request (for example: is it authorised?). When it
  // says no, the request goes to the HTTP handler like any other.
  std::function<bool(const Request&)> accept;
  // The upgrade request comes along (its headers: who the client is).
  std::function<void(const std::shared_ptr<WsConnection>&, const Request&)> open;
  std::function<void(const std::shared_ptr<WsConnection>&, std::string)> message;
  std::function<void(const WsConnection&)> closed;
};

// One request's client while its answer is awaited. The handler may ask to
// hear that the client closed its connection first, to stop work whose
// answer nobody will read. Safe from any thread.
class ClientWatch {
 public:
  // f runs once, on an I/O thread, if the client leaves before the answer
  // is written; at once if it has left already. It replaces an earlier f.
  void on_leave(std::function<void()> f);
  bool left() const;
  // The server's: the client closed its connection.
  void leave();

 private:
  mutable std::mutex mutex_;
  bool left_ = false;
  std::function<void()> f_;
};

struct ServerLimits {
  std::size_t body_bytes = 1 << 20;
  std::size_t header_bytes = 8 << 10;
  std::chrono::milliseconds idle_timeout{30'000};
  // Once a request's first byte is in, its head must be whole within this:
  // a client sending a byte every few seconds (slowloris) cannot hold a
  // connection for longer.
  std::chrono::milliseconds header_timeout{10'000};
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_address = 256;
  std::size_t ws_message_bytes = 1 << 20;
  std::size_t ws_buffer_bytes = 4 << 20;
};

class HttpServer {
 public:
  using Reply = std::function<void(Response)>;  // call exactly once
  using Handler = std::function<void(Request&&, Reply, std::shared_ptr<ClientWatch>)>;
  // Called for answers the server gives itself (400, 413, 503): status only.
  using StatusHook = std::function<void(unsigned)>;
  // Told what went wrong inside the server (a handler that threw, accept
  // failing for want of file descriptors), to log. Called from I/O threads.
  using ErrorLog = std::function<void(const std::string&)>;
  // Told when a client closed its connection while its request was still
  // waiting for an answer. Called from I/O threads.
  using GoneHook = std::function<void()>;

  HttpServer(ServerLimits limits, Handler handler, StatusHook hook);
  // Upgrades requests for `path` to WebSocket; call before start().
  void websocket(std::string path, WsHandlers handlers);
  // Call before start().
  void error_log(ErrorLog log) { error_log_ = std::move(log); }
  // Call before start().
  void on_client_gone(GoneHook hook) { gone_hook_ = std::move(hook); }
  // Serve https and wss with this context instead of plain TCP. Before start().
  void tls(std::shared_ptr<boost::asio::ssl::context> ctx) { tls_ = std::move(ctx); }
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
  ErrorLog error_log_;
  GoneHook gone_hook_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::string ws_path_;
  WsHandlers ws_;
  boost::asio::io_context ioc_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
};

}  // namespace edri_api
