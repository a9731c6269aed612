#include "redis_stream_intake.hpp"

namespace edri_bridge {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kBlock{500};

std::string str(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? std::string(r->str, r->len)
                                                                                 : std::string();
}

}  // namespace

RedisStreamIntake::RedisStreamIntake(const RedisSettings& redis, const RedisInbound& route, RouteStats& stats,
                                     LinkLog log, Deliver deliver)
    : route_(route),
      stats_(stats),
      log_(std::move(log)),
      deliver_(std::move(deliver)),
      reconnect_wait_(redis.reconnect_wait),
      reader_(redis, kBlock + std::chrono::seconds(5)) {}

RedisStreamIntake::~RedisStreamIntake() { stop(); }

void RedisStreamIntake::start() { thread_ = std::thread([this] { run(); }); }

void RedisStreamIntake::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RedisStreamIntake::settle(StreamEntry entry, bool ok) {
  if (ok) {
    {
      // Acknowledged by the intake's thread, many ids per XACK: one round
      // trip per entry would cap a route at a few thousand entries/s.
      std::lock_guard lock(mutex_);
      in_flight_.erase(entry.id);
      acks_.push_back(std::move(entry.id));
    }
    stats_.inflight.fetch_sub(1);
    cv_.notify_all();
    return;
  }
  {
    std::lock_guard lock(mutex_);
    ++entry.attempt;
    retries_.emplace_back(Clock::now() + route_.retry_delay, std::move(entry));
  }
  cv_.notify_all();
}

void RedisStreamIntake::report(const std::string& text) {
  if (text == last_problem_) return;
  last_problem_ = text;
  log_(2, "redis stream " + route_.stream + " (group " + route_.group + "): " + text);
}

void RedisStreamIntake::deliver_due_retries() {
  std::vector<StreamEntry> due;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    // Retries stay in flight (counted in inflight) until they settle.
    while (!retries_.empty() && retries_.front().first <= now) {
      due.push_back(std::move(retries_.front().second));
      retries_.pop_front();
    }
  }
  for (auto& e : due) {
    stats_.redelivered.fetch_add(1);
    deliver_(std::move(e));
  }
}

void RedisStreamIntake::deliver_all(const redisReply* entries, bool claimed) {
  if (!entries || entries->type != REDIS_REPLY_ARRAY) return;
  for (std::size_t i = 0; i < entries->elements; ++i) {
    const redisReply* e = entries->element[i];
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
    StreamEntry entry;
    entry.id = str(e->element[0]);
    const redisReply* kv = e->element[1];
    if (!kv || kv->type != REDIS_REPLY_ARRAY) {
      // Pending, but trimmed from the stream: nothing to deliver, acknowledge it.
      std::lock_guard lock(mutex_);
      acks_.push_back(std::move(entry.id));
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      if (!in_flight_.insert(entry.id).second) continue;  // handed out already, not settled yet
    }
    for (std::size_t f = 0; f + 1 < kv->elements; f += 2) entry.fields.emplace_back(str(kv->element[f]), str(kv->element[f + 1]));
    stats_.received.fetch_add(1);
    if (claimed) stats_.redelivered.fetch_add(1);
    stats_.inflight.fetch_add(1);
    deliver_(std::move(entry));
  }
}

void RedisStreamIntake::flush_acks() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    ids.swap(acks_);
  }
  if (ids.empty()) return;
  std::vector<std::string_view> argv{"XACK", route_.stream, route_.group};
  argv.insert(argv.end(), ids.begin(), ids.end());
  try {
    reader_.command(argv);
  } catch (const RedisError& e) {
    // They stay pending: claimed again after claim_idle, so at least once holds.
    log_(1, "redis stream " + route_.stream + ": XACK of " + std::to_string(ids.size()) + " entries failed (" +
                e.what() + "); they go again after claim_idle_ms");
    throw;
  }
}

void RedisStreamIntake::read_once(bool& history, std::string& history_from) {
  if (!group_ready_) {
    try {
      reader_.command({"XGROUP", "CREATE", route_.stream, route_.group, route_.start, "MKSTREAM"});
      log_(0, "redis stream " + route_.stream + ": created consumer group " + route_.group + " at " + route_.start);
    } catch (const RedisError& e) {
      if (e.connection() || std::string_view(e.what()).find("BUSYGROUP") == std::string_view::npos) throw;
    }
    group_ready_ = true;
    if (!last_problem_.empty()) log_(0, "redis stream " + route_.stream + ": reading again");
    last_problem_.clear();
  }
  const int room = route_.max_inflight - static_cast<int>(stats_.inflight.load());
  if (room <= 0) return;
  const std::string count = std::to_string(std::min(route_.batch, room));
  const std::string block = std::to_string(kBlock.count());
  const std::string from = history ? history_from : ">";
  RedisReply r = reader_.command({"XREADGROUP", "GROUP", route_.group, route_.consumer, "COUNT", count, "BLOCK", block,
                                  "STREAMS", route_.stream, from});
  const redisReply* entries = nullptr;
  if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
      r->element[0]->elements == 2) {
    entries = r->element[0]->element[1];
  }
  if (history) {
    // This consumer's own pending entries, left by an edrid that stopped
    // before acknowledging them; then on to new ones.
    if (!entries || entries->elements == 0) {
      history = false;
    } else {
      history_from = str(entries->element[entries->elements - 1]->element[0]);
    }
  }
  deliver_all(entries, false);
}

void RedisStreamIntake::claim_idle() {
  const auto now = Clock::now();
  if (now - last_claim_ < route_.claim_idle / 2) return;
  last_claim_ = now;
  const int room = route_.max_inflight - static_cast<int>(stats_.inflight.load());
  if (room <= 0) return;
  RedisReply r = reader_.command({"XAUTOCLAIM", route_.stream, route_.group, route_.consumer,
                                  std::to_string(route_.claim_idle.count()), "0-0", "COUNT",
                                  std::to_string(std::min(route_.batch, room))});
  if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) deliver_all(r->element[1], true);
}

void RedisStreamIntake::run() {
  bool history = true;
  std::string history_from = "0";
  last_claim_ = Clock::now();
  while (true) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, std::chrono::milliseconds(100), [this] {
        return stopping_ || stats_.inflight.load() < route_.max_inflight || !acks_.empty() ||
               (!retries_.empty() && retries_.front().first <= Clock::now());
      });
      if (stopping_) break;
    }
    try {
      flush_acks();
      deliver_due_retries();
      read_once(history, history_from);
      claim_idle();
    } catch (const RedisError& e) {
      report(e.what());
      if (e.connection() || std::string_view(e.what()).find("NOGROUP") != std::string_view::npos) group_ready_ = false;
      // Entries Redis handed out as the link broke are in this consumer's
      // pending list but never arrived: read that list again once back
      // (the entries still in flight here are skipped).
      if (e.connection()) {
        history = true;
        history_from = "0";
      }
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, reconnect_wait_, [this] { return stopping_; });
    }
  }
  // What was settled before the stop is acknowledged now; anything still
  // out stays pending and is delivered again at the next start.
  try {
    flush_acks();
  } catch (const RedisError&) {
    // Logged by flush_acks; those entries go again.
  }
}

}  // namespace edri_bridge
