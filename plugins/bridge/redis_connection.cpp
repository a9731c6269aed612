#include "redis_connection.hpp"

#include <sys/time.h>

namespace edri_bridge {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

}  // namespace

RedisConnection::RedisConnection(const RedisSettings& settings, std::chrono::milliseconds read_timeout)
    : settings_(settings), read_timeout_(read_timeout) {}

RedisConnection::~RedisConnection() { disconnect(); }

void RedisConnection::disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

void RedisConnection::connect() {
  const std::string where = settings_.host + ":" + std::to_string(settings_.port);
  redisContext* c = redisConnectWithTimeout(settings_.host.c_str(), settings_.port, to_timeval(settings_.connect_timeout));
  if (!c) throw RedisError("redis " + where + ": out of memory", true);
  if (c->err) {
    const std::string why = c->errstr;
    redisFree(c);
    throw RedisError("redis " + where + ": " + why, true);
  }
  redisSetTimeout(c, to_timeval(read_timeout_));
  redisEnableKeepAlive(c);
  ctx_ = c;
  try {
    if (!settings_.password.empty()) {
      if (settings_.user.empty()) {
        command({"AUTH", settings_.password});
      } else {
        command({"AUTH", settings_.user, settings_.password});
      }
    }
    if (settings_.db != 0) command({"SELECT", std::to_string(settings_.db)});
  } catch (const RedisError& e) {
    disconnect();
    // A refused AUTH is not a connection problem: retrying will not help.
    throw RedisError("redis " + where + ": " + e.what(), e.connection());
  }
}

RedisReply RedisConnection::command(const std::vector<std::string_view>& argv) {
  if (!ctx_) connect();
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  RedisReply r(static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data())));
  if (!r) {
    const std::string why = ctx_->errstr;
    disconnect();  // a broken context does not recover: the next command connects again
    throw RedisError("redis " + settings_.host + ":" + std::to_string(settings_.port) + ": " + why, true);
  }
  if (r->type == REDIS_REPLY_ERROR) throw RedisError(std::string(r->str, r->len), false);
  return r;
}

}  // namespace edri_bridge
