// A real redis-server (Debian's package) on a free loopback port, with its
// append-only file under the test's directory (fsync always, so a restart
// keeps what it acknowledged); killed by PID at the end.
#pragma once

#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace probe {

class RedisServer {
 public:
  // `port` 0: a free one.
  explicit RedisServer(const std::filesystem::path& dir, std::vector<std::string> extra = {}, unsigned short port = 0)
      : dir_(dir / "redis"), extra_(std::move(extra)), port_(port ? port : free_port()) {
    std::filesystem::create_directories(dir_);
    start();
  }

  void start() {
    std::vector<std::string> argv{REDIS_SERVER_BIN, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                  "--dir", dir_.string(), "--save", "", "--appendonly", "yes",
                                  "--appendfsync", "always", "--daemonize", "no"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    process_ = std::make_unique<ChildProcess>(argv, dir_ / "redis.log");
    if (!process_->wait_output("Ready to accept connections", std::chrono::seconds(20))) {
      throw std::runtime_error("redis-server did not start: " + process_->output());
    }
  }
  void kill() {
    process_->signal(SIGKILL);
    process_->wait_exit(std::chrono::seconds(10));
    process_.reset();
  }
  unsigned short port() const { return port_; }

 private:
  std::filesystem::path dir_;
  std::vector<std::string> extra_;
  unsigned short port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace probe
