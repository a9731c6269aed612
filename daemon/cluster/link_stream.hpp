// The byte stream under a link: TCP, or TLS over it. LinkSession reads and
// writes through it without knowing which; the handshake is done before the
// session starts (see Connector and Switch).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace edrid::cluster {

class LinkStream {
 public:
  using tcp = boost::asio::ip::tcp;
  using IoHandler = std::function<void(const boost::system::error_code&, std::size_t)>;

  explicit LinkStream(tcp::socket socket);
  LinkStream(tcp::socket socket, boost::asio::ssl::context& tls);
  LinkStream(LinkStream&&) noexcept;
  LinkStream& operator=(LinkStream&&) noexcept;
  ~LinkStream();

  bool secure() const noexcept { return tls_ != nullptr; }
  // TLS: the handshake as client (verifying the peer as `server_name`) or
  // server, given up (the connection closed) after `within`. Plain TCP:
  // done at once. The stream must live until done is called.
  void async_handshake(bool client, const std::string& server_name, std::chrono::milliseconds within,
                       std::function<void(const boost::system::error_code&)> done);
  void async_read_some(boost::asio::mutable_buffer buf, IoHandler done);
  // Writes all of bufs (they must stay valid until done).
  void async_write(const std::vector<boost::asio::const_buffer>& bufs, IoHandler done);
  // The TCP socket itself (or under TLS).
  tcp::socket& socket() noexcept;
  // Shuts the connection down and closes it; pending operations end.
  void close() noexcept;
  bool is_open() const noexcept;

 private:
  struct Tls;
  tcp::socket plain_;
  std::shared_ptr<Tls> tls_;  // shared: the handshake's deadline holds it weakly
};

}  // namespace edrid::cluster
