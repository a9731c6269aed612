// A TCP proxy on loopback for fault tests: forwards every connection to a
// target port and can cut all of them at once, on demand or at random
// intervals, so the two ends see abrupt disconnects mid-stream.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <list>
#include <memory>
#include <random>
#include <thread>

namespace probe {

class FaultProxy {
  using tcp = boost::asio::ip::tcp;

 public:
  explicit FaultProxy(unsigned short target)
      : target_(target), acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FaultProxy() {
    stop_cutting();
    io_.stop();
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  // Closes every open connection (both sides) now.
  void cut_all() {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      for (auto& p : pairs_) p->close();
      pairs_.clear();
      ++cuts_;
      done.set_value();
    });
    done.get_future().wait();
  }
  // Cuts everything at random intervals in [min, max] until stop_cutting().
  void start_cutting(std::chrono::milliseconds min, std::chrono::milliseconds max) {
    cutting_ = true;
    cutter_ = std::thread([this, min, max] {
      std::mt19937 rng(12345);
      std::uniform_int_distribution<long> d(min.count(), max.count());
      while (cutting_) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(d(rng));
        while (cutting_ && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (cutting_) cut_all();
      }
    });
  }
  void stop_cutting() {
    cutting_ = false;
    if (cutter_.joinable()) cutter_.join();
  }
  int cuts() const { return cuts_.load(); }

 private:
  struct Pair : std::enable_shared_from_this<Pair> {
    explicit Pair(boost::asio::io_context& io, tcp::socket down) : down(std::move(down)), up(io) {}
    tcp::socket down, up;
    std::array<char, 65536> a{}, b{};
    bool closed = false;
    void close() {
      if (closed) return;
      closed = true;
      boost::system::error_code ec;
      down.close(ec);
      up.close(ec);
    }
    void pipe(tcp::socket& from, tcp::socket& to, std::array<char, 65536>& buf) {
      from.async_read_some(boost::asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf](auto ec, std::size_t n) {
        if (ec || self->closed) return self->close();
        boost::asio::async_write(to, boost::asio::buffer(buf.data(), n), [self, &from, &to, &buf](auto ec2, std::size_t) {
          if (ec2 || self->closed) return self->close();
          self->pipe(from, to, buf);
        });
      });
    }
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      auto p = std::make_shared<Pair>(io_, std::move(s));
      pairs_.push_back(p);
      p->up.async_connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), target_), [p](auto ec2) {
        if (ec2 || p->closed) return p->close();
        p->pipe(p->down, p->up, p->a);
        p->pipe(p->up, p->down, p->b);
      });
      accept();
    });
  }

  unsigned short target_;
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::list<std::shared_ptr<Pair>> pairs_;
  std::thread thread_, cutter_;
  std::atomic<bool> cutting_{false};
  std::atomic<int> cuts_{0};
};

}  // namespace probe
