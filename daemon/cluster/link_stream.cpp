#include "cluster/link_stream.hpp"

#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace edrid::cluster {

struct LinkStream::Tls {
  Tls(tcp::socket s, boost::asio::ssl::context& ctx) : stream(std::move(s), ctx) {}
  boost::asio::ssl::stream<tcp::socket> stream;
};

LinkStream::LinkStream(tcp::socket socket) : plain_(std::move(socket)) {}

LinkStream::LinkStream(tcp::socket socket, boost::asio::ssl::context& tls)
    : plain_(socket.get_executor()), tls_(std::make_shared<Tls>(std::move(socket), tls)) {}

LinkStream::LinkStream(LinkStream&&) noexcept = default;
LinkStream& LinkStream::operator=(LinkStream&&) noexcept = default;
LinkStream::~LinkStream() = default;

void LinkStream::async_handshake(bool client, const std::string& server_name, std::chrono::milliseconds within,
                                 std::function<void(const boost::system::error_code&)> done) {
  if (!tls_) {
    boost::asio::post(plain_.get_executor(), [done = std::move(done)] { done({}); });
    return;
  }
  namespace ssl = boost::asio::ssl;
  // A peer that stops half-way through cannot hold the connection: closing
  // it ends the handshake with an error.
  auto deadline = std::make_shared<boost::asio::steady_timer>(socket().get_executor(), within);
  deadline->async_wait([weak = std::weak_ptr<Tls>(tls_)](const boost::system::error_code& ec) {
    auto tls = weak.lock();
    if (ec || !tls) return;
    boost::system::error_code ignored;
    tls->stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    tls->stream.next_layer().close(ignored);
  });
  if (client) {
    // SNI, and the name the switch's certificate must carry.
    SSL_set_tlsext_host_name(tls_->stream.native_handle(), server_name.c_str());
    tls_->stream.set_verify_callback(ssl::host_name_verification(server_name));
  }
  tls_->stream.async_handshake(client ? ssl::stream_base::client : ssl::stream_base::server,
                               [deadline, done = std::move(done)](const boost::system::error_code& ec) {
                                 deadline->cancel();
                                 done(ec);
                               });
}

void LinkStream::async_read_some(boost::asio::mutable_buffer buf, IoHandler done) {
  if (tls_) {
    tls_->stream.async_read_some(buf, std::move(done));
  } else {
    plain_.async_read_some(buf, std::move(done));
  }
}

void LinkStream::async_write(const std::vector<boost::asio::const_buffer>& bufs, IoHandler done) {
  if (tls_) {
    boost::asio::async_write(tls_->stream, bufs, std::move(done));
  } else {
    boost::asio::async_write(plain_, bufs, std::move(done));
  }
}

LinkStream::tcp::socket& LinkStream::socket() noexcept { return tls_ ? tls_->stream.next_layer() : plain_; }

void LinkStream::close() noexcept {
  // No TLS close_notify: the link protocol says goodbye itself (a close
  // frame), and waiting for the peer's notify could hold the close.
  boost::system::error_code ec;
  socket().shutdown(tcp::socket::shutdown_both, ec);
  socket().close(ec);
}

bool LinkStream::is_open() const noexcept { return const_cast<LinkStream*>(this)->socket().is_open(); }

}  // namespace edrid::cluster
