// One synchronous connection to Redis (hiredis), used by one thread at a
// time. A command on a broken connection reconnects first (AUTH and SELECT
// again); what cannot be done throws RedisError with Redis's words.
#pragma once

#include "redis_bridge_settings.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace edri_bridge {

class RedisError : public std::runtime_error {
 public:
  // connection: the server could not be reached or the link broke (worth
  // retrying); otherwise Redis answered with an error.
  RedisError(const std::string& what, bool connection) : std::runtime_error(what), connection_(connection) {}
  bool connection() const noexcept { return connection_; }

 private:
  bool connection_;
};

struct ReplyFree {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, ReplyFree>;

class RedisConnection {
 public:
  // read_timeout: how long a reply may take (above any BLOCK the caller uses).
  RedisConnection(const RedisSettings& settings, std::chrono::milliseconds read_timeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Throws RedisError for a failed connection or an error reply.
  RedisReply command(const std::vector<std::string_view>& argv);
  bool connected() const noexcept { return ctx_ != nullptr; }
  void disconnect();

 private:
  void connect();

  RedisSettings settings_;
  std::chrono::milliseconds read_timeout_;
  redisContext* ctx_ = nullptr;
};

}  // namespace edri_bridge
