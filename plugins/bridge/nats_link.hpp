// One connection to a NATS cluster, as libnats keeps it: it reconnects to
// any listed (or gossiped) server forever, keeps publishes made while
// disconnected in a bounded buffer, and says in the log what happened.
#pragma once

#include "link_log.hpp"
#include "nats_bridge_settings.hpp"

#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace edri_bridge {

// A libnats call that failed, with libnats's words for why.
class NatsError : public std::runtime_error {
 public:
  NatsError(const std::string& what, natsStatus s);
  natsStatus status() const noexcept { return status_; }

 private:
  natsStatus status_;
};

class NatsLink {
 public:
  // Connects, or when no server answers yet, keeps trying in the background
  // (reported once, then on success). Throws NatsError for settings libnats
  // refuses (an unreadable TLS or creds file) and for refused credentials.
  NatsLink(const NatsSettings& settings, LinkLog log);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  natsConnection* connection() const noexcept { return nc_; }
  jsCtx* jetstream() const noexcept { return js_; }
  bool connected() const { return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }
  // Stops delivering to subscriptions and flushes what is buffered (at most
  // `timeout`); the destructor closes what is left.
  void drain(std::chrono::milliseconds timeout);
  nlohmann::json stats() const;

 private:
  static void on_disconnected(natsConnection* nc, void* self);
  static void on_reconnected(natsConnection* nc, void* self);
  static void on_connected(natsConnection* nc, void* self);
  static void on_closed(natsConnection* nc, void* self);
  static void on_error(natsConnection* nc, natsSubscription* sub, natsStatus err, void* self);
  std::string url() const;

  LinkLog log_;
  std::string servers_;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<bool> closing_{false};
  std::mutex closed_mutex_;
  std::condition_variable closed_cv_;
  bool closed_ = false;
  std::atomic<std::uint64_t> disconnects_{0}, reconnects_{0}, errors_{0}, slow_consumer_{0};
  mutable std::mutex last_error_mutex_;
  std::string last_error_;
};

}  // namespace edri_bridge
