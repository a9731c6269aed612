#include "http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <deque>
#include <mutex>
#include <utility>
#include <unordered_map>

#include <optional>
#include <stdexcept>

namespace edri_api {

void ClientWatch::on_leave(std::function<void()> f) {
  {
    std::lock_guard lock(mutex_);
    if (!left_) {
      f_ = std::move(f);
      return;
    }
  }
  f();
}

bool ClientWatch::left() const {
  std::lock_guard lock(mutex_);
  return left_;
}

void ClientWatch::leave() {
  std::function<void()> f;
  {
    std::lock_guard lock(mutex_);
    if (left_) return;
    left_ = true;
    f = std::move(f_);
  }
  if (f) f();
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

template <class Stream>
tcp::socket& socket_of(Stream& s) {
  return beast::get_lowest_layer(s).socket();
}

Response plain(unsigned status, const std::string& message, unsigned version) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::string(R"({"status":"error","message":")") + message + "\"}";
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

std::atomic<std::uint64_t> g_ws_ids{0};

// Stream: beast::tcp_stream, or TlsStream for https/wss.
template <class Stream>
class WsSession final : public WsConnection, public std::enable_shared_from_this<WsSession<Stream>> {
  using std::enable_shared_from_this<WsSession<Stream>>::shared_from_this;

 public:
  WsSession(Stream&& stream, const ServerLimits& limits, const WsHandlers& handlers,
            const HttpServer::ErrorLog& error_log, std::shared_ptr<std::atomic<std::size_t>> open,
            std::shared_ptr<void> address_slot)
      : ws_(std::move(stream)), limits_(limits), handlers_(handlers), error_log_(error_log), open_(std::move(open)),
        address_slot_(std::move(address_slot)), id_(++g_ws_ids) {}
  ~WsSession() override { open_->fetch_sub(1); }

  void accept(Request req) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(limits_.ws_message_bytes);
    upgrade_ = std::move(req);
    ws_.async_accept(upgrade_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      try {
        if (self->handlers_.open) self->handlers_.open(self, self->upgrade_);
      } catch (const std::exception& e) {
        if (self->error_log_) self->error_log_(std::string("websocket open failed: ") + e.what());
        return self->begin_close(websocket::close_code::internal_error, "internal error");
      }
      self->upgrade_ = {};
      self->do_read();
    });
  }

  void send(std::string text) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      if (self->closing_) return;
      self->queued_bytes_ += text.size();
      if (self->queued_bytes_ > self->limits_.ws_buffer_bytes) {
        self->begin_close(websocket::close_code::policy_error, "client too slow");
        return;
      }
      self->outbox_.push_back(std::move(text));
      if (!self->writing_) self->do_write();
    });
  }

  void close(const std::string& reason) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), reason] {
      self->begin_close(websocket::close_code::normal, reason);
    });
  }

  std::uint64_t id() const noexcept override { return id_; }

 private:
  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->finish();
      std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      // A handler that throws costs this client its connection, never the
      // I/O thread (an exception out of run() would end the daemon).
      try {
        if (self->handlers_.message) self->handlers_.message(self, std::move(text));
      } catch (const std::exception& e) {
        if (self->error_log_) self->error_log_(std::string("websocket handler threw: ") + e.what());
        self->begin_close(websocket::close_code::internal_error, "internal error");
        return;
      }
      self->do_read();
    });
  }

  // One write at a time (Beast allows no more); the close handshake is a
  // write too, so it waits for the frame being written.
  void do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) return self->finish();
      self->queued_bytes_ -= self->outbox_.front().size();
      self->outbox_.pop_front();
      if (self->closing_) return self->do_close();
      if (!self->outbox_.empty()) self->do_write();
    });
  }

  void begin_close(websocket::close_code code, const std::string& reason) {
    if (closing_) return;
    closing_ = true;
    close_ = websocket::close_reason(code, reason);
    // Unsent frames are dropped; the one being written stays until it is done.
    while (outbox_.size() > (writing_ ? 1u : 0u)) {
      queued_bytes_ -= outbox_.back().size();
      outbox_.pop_back();
    }
    if (!writing_) do_close();
  }

  void do_close() {
    // A client that stopped reading may never answer the close handshake:
    // give it a moment, then drop the connection.
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(2));
    ws_.async_close(close_, [self = shared_from_this()](beast::error_code) { self->finish(); });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    beast::error_code ignored;
    socket_of(ws_).shutdown(tcp::socket::shutdown_both, ignored);
    if (handlers_.closed) handlers_.closed(*this);
  }

  websocket::stream<Stream> ws_;
  Request upgrade_;  // until the handshake is done and `open` has seen it
  beast::flat_buffer buffer_;
  const ServerLimits& limits_;
  const WsHandlers& handlers_;
  const HttpServer::ErrorLog& error_log_;
  std::shared_ptr<std::atomic<std::size_t>> open_;
  std::shared_ptr<void> address_slot_;  // one of this client address's connections
  const std::uint64_t id_;
  std::deque<std::string> outbox_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
  websocket::close_reason close_;
};

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(Stream&& stream, const ServerLimits& limits, const HttpServer::Handler& handler,
          const HttpServer::StatusHook& hook, const HttpServer::ErrorLog& error_log,
          std::shared_ptr<std::atomic<std::size_t>> open, std::shared_ptr<void> address_slot,
          const std::string& ws_path, const WsHandlers& ws, const HttpServer::GoneHook& gone)
      : stream_(std::move(stream)), limits_(limits), handler_(handler), hook_(hook), error_log_(error_log),
        gone_hook_(gone), open_(std::move(open)), address_slot_(std::move(address_slot)), ws_path_(ws_path),
        ws_(ws) {}
  ~Session() { release_slots(); }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->handshake(); });
  }

 private:
  // Waiting for a request: idle_timeout. Its first byte in: header_timeout
  // for the head. The body: idle_timeout between reads again.
  // TLS first, within the time a request head gets: a client that opens a
  // connection and says nothing costs no more under TLS than without.
  void handshake() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(limits_.header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->close();
        self->do_read();
      });
    } else {
      do_read();
    }
  }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(limits_.body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
    if (buffer_.size() > 0) return read_head();  // pipelined: already begun
    beast::get_lowest_layer(stream_).expires_after(limits_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->on_read(ec);
      self->buffer_.commit(n);
      self->read_head();
    });
  }

  void read_head() {
    beast::get_lowest_layer(stream_).expires_after(limits_.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || self->parser_->is_done()) return self->on_read(ec);
      beast::get_lowest_layer(self->stream_).expires_after(self->limits_.idle_timeout);
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec, std::size_t) { self->on_read(ec); });
    });
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
    try {
      if (!ws_path_.empty() && websocket::is_upgrade(req) && req.target() == ws_path_ &&
          (!ws_.accept || ws_.accept(req))) {
        // The connection now belongs to the WebSocket session (and its count).
        open_->fetch_add(1);
        std::make_shared<WsSession<Stream>>(std::move(stream_), limits_, ws_, error_log_, open_, std::move(address_slot_))
            ->accept(std::move(req));
        return;
      }
    } catch (const std::exception& e) {
      if (error_log_) error_log_(std::string("websocket upgrade failed: ") + e.what());
      return answer_and_close(500, "internal error");
    }
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    // The handler may answer from any thread: the reply hops onto this
    // connection's strand before touching the stream.
    beast::get_lowest_layer(stream_).expires_never();
    // Exactly one answer per request: a second one would be read by the
    // client as the answer to its next request.
    auto once = std::make_shared<std::atomic<bool>>(false);
    watch_ = std::make_shared<ClientWatch>();
    try {
      handler_(
          std::move(req),
          [self = shared_from_this(), once](Response res) {
            if (once->exchange(true)) return;
            asio::post(self->stream_.get_executor(),
                       [self, res = std::move(res)]() mutable { self->do_write(std::move(res)); });
          },
          watch_);
    } catch (const std::exception& e) {
      if (error_log_) error_log_(std::string("http handler threw: ") + e.what());
      if (!once->exchange(true)) answer_and_close(500, "internal error");
    }
    if (!once->load()) watch_departure();
  }

  // While the answer is awaited, nothing reads the socket: a client that
  // gave up and closed would hold its connection (and its place under
  // max_connections) until the request's deadline. Waiting for the socket to
  // turn readable notices it: at end of stream the connection is closed and
  // its places given back at once, and the handler hears of it through its
  // ClientWatch (to cancel the work). Bytes of a pipelined next request end
  // the watch (they wait their turn).
  void watch_departure() {
    awaiting_answer_ = true;
    socket_of(stream_).async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (!self->awaiting_answer_ || ec == asio::error::operation_aborted) return;
      char c;
      const ssize_t n = ::recv(socket_of(self->stream_).native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) return;
      if (n < 0 && !ec && (errno == EAGAIN || errno == EWOULDBLOCK)) return self->watch_departure();
      self->client_gone();
    });
  }

  void client_gone() {
    gone_ = true;
    awaiting_answer_ = false;
    if (gone_hook_) gone_hook_();
    if (auto w = std::exchange(watch_, nullptr)) w->leave();
    close();
    release_slots();
  }

  void release_slots() {
    if (released_) return;
    released_ = true;
    address_slot_.reset();
    open_->fetch_sub(1);
  }

  void do_write(Response res) {
    if (gone_) return;  // the client left while its request ran
    watch_.reset();
    if (awaiting_answer_) {
      awaiting_answer_ = false;
      beast::error_code ignored;
      socket_of(stream_).cancel(ignored);  // ends the departure watch
    }
    res.version(version_);
    res.keep_alive(keep_alive_ && res.keep_alive());
    res.prepare_payload();
    auto sp = std::make_shared<Response>(std::move(res));
    beast::get_lowest_layer(stream_).expires_after(limits_.idle_timeout);
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
    socket_of(stream_).shutdown(tcp::socket::shutdown_both, ignored);
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const ServerLimits& limits_;
  const HttpServer::Handler& handler_;
  const HttpServer::StatusHook& hook_;
  const HttpServer::ErrorLog& error_log_;
  const HttpServer::GoneHook& gone_hook_;
  std::shared_ptr<std::atomic<std::size_t>> open_;
  std::shared_ptr<void> address_slot_;
  const std::string& ws_path_;
  const WsHandlers& ws_;
  std::shared_ptr<ClientWatch> watch_;  // of the request being answered
  bool awaiting_answer_ = false;
  bool gone_ = false;
  bool released_ = false;
  bool keep_alive_ = false;
  unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Listener : std::enable_shared_from_this<HttpServer::Listener> {
  Listener(asio::io_context& ioc, HttpServer& server)
      : ioc(ioc), acceptor(asio::make_strand(ioc)), pause(acceptor.get_executor()), server(server) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return self->back_off(ec);
      if (self->failing) {
        self->failing = false;
        if (self->server.error_log_) self->server.error_log_("accepting connections again");
      }
      self->admit(std::move(s));
      self->accept();
    });
  }

  // Out of file descriptors (or memory), accept fails at once every time:
  // retrying at once would spin a core and flood the log. Wait, say it once
  // per episode, try again.
  void back_off(const beast::error_code& ec) {
    if (!failing && server.error_log_) server.error_log_("accept failed: " + ec.message() + "; retrying every 100 ms");
    failing = true;
    pause.expires_after(std::chrono::milliseconds(100));
    pause.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec) self->accept();
    });
  }

  void admit(tcp::socket s) {
    if (open->fetch_add(1) >= server.limits_.max_connections) {
      open->fetch_sub(1);
      return refuse(std::move(s), "too many connections");
    }
    auto slot = take_address_slot(s);
    if (!slot) {
      open->fetch_sub(1);
      return refuse(std::move(s), "too many connections from this address");
    }
    if (server.tls_) {
      std::make_shared<Session<TlsStream>>(TlsStream(std::move(s), *server.tls_), server.limits_, server.handler_,
                                           server.hook_, server.error_log_, open, std::move(slot), server.ws_path_,
                                           server.ws_, server.gone_hook_)
          ->start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(s)), server.limits_, server.handler_,
                                                   server.hook_, server.error_log_, open, std::move(slot),
                                                   server.ws_path_, server.ws_, server.gone_hook_)
          ->start();
    }
  }

  // Over a cap: say so and close, rather than queue without bound.
  void refuse(tcp::socket s, const char* why) {
    if (server.hook_) server.hook_(503);
    auto res = std::make_shared<Response>(plain(503, why, 11));
    auto sock = std::make_shared<tcp::socket>(std::move(s));
    http::async_write(*sock, *res, [sock, res](beast::error_code, std::size_t) {
      beast::error_code ignored;
      sock->shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  // One of the peer address's max_connections_per_address, given back when
  // the last owner (the HTTP or WebSocket session) lets go; null when none
  // is left.
  std::shared_ptr<void> take_address_slot(const tcp::socket& s) {
    beast::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    const std::string address = ec ? std::string() : ep.address().to_string();
    {
      std::lock_guard lock(per_address->mutex);
      auto& n = per_address->open[address];
      if (n >= server.limits_.max_connections_per_address) return nullptr;
      ++n;
    }
    // Points at the table (never null, never deleted through it): only the
    // deleter matters.
    return std::shared_ptr<void>(per_address.get(), [counts = per_address, address](void*) {
      std::lock_guard lock(counts->mutex);
      auto it = counts->open.find(address);
      if (it != counts->open.end() && --it->second == 0) counts->open.erase(it);
    });
  }

  struct AddressCounts {
    std::mutex mutex;
    std::unordered_map<std::string, std::size_t> open;
  };

  asio::io_context& ioc;
  tcp::acceptor acceptor;
  asio::steady_timer pause;
  bool failing = false;
  HttpServer& server;
  std::shared_ptr<std::atomic<std::size_t>> open = std::make_shared<std::atomic<std::size_t>>(0);
  std::shared_ptr<AddressCounts> per_address = std::make_shared<AddressCounts>();
};

std::shared_ptr<asio::ssl::context> make_server_tls(const std::string& cert, const std::string& key) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  try {
    ctx->use_certificate_chain_file(cert);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot load certificate " + cert + ": " + e.code().message());
  }
  try {
    ctx->use_private_key_file(key, asio::ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot load private key " + key + ": " + e.code().message());
  }
  return ctx;
}

HttpServer::HttpServer(ServerLimits limits, Handler handler, StatusHook hook)
    : limits_(limits), handler_(std::move(handler)), hook_(std::move(hook)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::websocket(std::string path, WsHandlers handlers) {
  ws_path_ = std::move(path);
  ws_ = std::move(handlers);
}

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
    l->pause.cancel();
  });
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace edri_api
