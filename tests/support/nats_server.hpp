// A real nats-server (Debian's package) on a free loopback port, with
// JetStream storing under the test's directory; killed by PID at the end.
#pragma once

#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace probe {

class NatsServer {
 public:
  // `extra` is appended to the server's config file (authorization, ...).
  // `port` 0: a free one.
  NatsServer(const std::filesystem::path& dir, std::string name, std::string extra = {}, unsigned short port = 0)
      : dir_(dir / name), name_(std::move(name)), extra_(std::move(extra)), port_(port ? port : free_port()) {
    std::filesystem::create_directories(dir_ / "js");
    start();
  }

  void start() {
    const auto conf = dir_ / "nats.conf";
    std::ofstream(conf) << "server_name: " << name_ << "\nlisten: 127.0.0.1:" << port_
                        << "\njetstream { store_dir: \"" << (dir_ / "js").string() << "\" }\n"
                        << extra_ << "\n";
    process_ = std::make_unique<ChildProcess>(std::vector<std::string>{NATS_SERVER_BIN, "-c", conf.string()},
                                              dir_ / "nats.log");
    if (!process_->wait_output("Server is ready", std::chrono::seconds(20))) {
      throw std::runtime_error("nats-server did not start: " + process_->output());
    }
  }
  void kill() {
    process_->signal(SIGKILL);
    process_->wait_exit(std::chrono::seconds(10));
    process_.reset();
  }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  unsigned short port() const { return port_; }
  std::string log() const { return process_ ? process_->output() : std::string(); }

 private:
  std::filesystem::path dir_;
  std::string name_;
  std::string extra_;
  unsigned short port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace probe
