// A real HTTP/1.1 server for tests of what edri sends out (webhooks): it
// answers each request with what `respond` returns and keeps every request
// it got. One thread per connection, keep-alive; stopped by the destructor.
#pragma once

#include "support/http_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace probe {

struct ReceivedRequest {
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

class HttpReceiver {
 public:
  // (the request, how many came before it) -> HTTP status to answer
  using Respond = std::function<int(const ReceivedRequest&, std::size_t)>;

  explicit HttpReceiver(Respond respond)
      : respond_(std::move(respond)),
        acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}),
        thread_([this] { accept_loop(); }) {}
  ~HttpReceiver() {
    stopping_ = true;
    boost::system::error_code ec;
    {
      // A blocking accept does not return when its acceptor closes: a
      // connection wakes it, and it sees stopping_.
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::socket wake(ioc);
      wake.connect({boost::asio::ip::make_address("127.0.0.1"), port()}, ec);
      thread_.join();
    }
    acceptor_.close(ec);
    {
      std::lock_guard lock(mutex_);
      for (auto& s : sockets_) s.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
    for (auto& t : connections_) t.join();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port()) + path; }
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket s(ioc_);
      acceptor_.accept(s, ec);
      if (ec || stopping_) return;
      std::lock_guard lock(mutex_);
      auto& sock = sockets_.emplace_back(std::move(s));
      connections_.emplace_back([this, &sock] { serve(sock); });
    }
  }

  void serve(boost::asio::ip::tcp::socket& s) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    while (true) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(s, buffer, req, ec);
      if (ec) return;
      ReceivedRequest r{std::string(req.target()), {}, req.body()};
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(f.value());
      }
      std::size_t before;
      {
        std::lock_guard lock(mutex_);
        before = requests_.size();
        requests_.push_back(r);
      }
      http::response<http::string_body> res{static_cast<http::status>(respond_(r, before)), 11};
      res.keep_alive(req.keep_alive());
      const auto code = res.result_int();
      if (code != 204 && code != 304) res.body() = "{}";
      res.prepare_payload();
      http::write(s, res, ec);
      if (ec || !req.keep_alive()) return;
    }
  }

  Respond respond_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<ReceivedRequest> requests_;
  std::list<boost::asio::ip::tcp::socket> sockets_;
  std::list<std::thread> connections_;
  std::thread thread_;
};

}  // namespace probe
