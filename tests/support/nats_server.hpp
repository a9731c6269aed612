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

namespace probe {

// Three nats-servers routed into one cluster with clustered JetStream, as a
// NATS cluster runs in production, on loopback.
class NatsCluster {
 public:
  explicit NatsCluster(const std::filesystem::path& dir) {
    const unsigned short routes[3] = {free_port(), free_port(), free_port()};
    std::string route_list;
    for (auto p : routes) route_list += std::string(route_list.empty() ? "" : ", ") + "nats-route://127.0.0.1:" + std::to_string(p);
    for (int i = 0; i < 3; ++i) {
      nodes_.push_back(std::make_unique<NatsServer>(
          dir, "n" + std::to_string(i + 1),
          "cluster { name: edri-test, listen: 127.0.0.1:" + std::to_string(routes[i]) + ", routes: [" + route_list + "] }"));
    }
  }
  NatsServer& node(int i) { return *nodes_.at(static_cast<std::size_t>(i)); }
  std::string urls() const {
    std::string s;
    for (const auto& n : nodes_) s += (s.empty() ? "" : ", ") + n->url();
    return s;
  }

 private:
  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

}  // namespace probe
