#include "manager/durable_queue.hpp"

#include "timer/clock.hpp"

#include <lmdb.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace edrid {
namespace {

constexpr std::size_t kLatencies = 1024;
// Removals wait at most this long for a commit to take them along.
constexpr std::chrono::milliseconds kFlushPeriod{20};
// A full disk is said again at most this often.
constexpr std::chrono::seconds kRefusalQuiet{10};

std::mutex g_open_mutex;
// A forked child inherits the map but not the queue's lock and thread:
// entries count only in the process that made them.
struct OpenQueue {
  pid_t pid;
  std::weak_ptr<DurableQueue> queue;
};
std::map<std::string, OpenQueue>& open_queues() {
  static std::map<std::string, OpenQueue> m;
  return m;
}

MDB_val key_val(const std::uint64_t& key) {
  return MDB_val{sizeof key, const_cast<std::uint64_t*>(&key)};
}

// Rolls back a transaction unless it was committed.
struct Txn {
  MDB_txn* txn = nullptr;
  ~Txn() {
    if (txn) mdb_txn_abort(txn);
  }
  int commit() {
    const int rc = mdb_txn_commit(txn);
    txn = nullptr;
    return rc;
  }
};

// "" when the file has every page its meta page points at. A file cut
// short (a copy that stopped, a full disk at the wrong moment) would fault
// on the first read of a missing page.
std::string truncation(MDB_env* env, const std::filesystem::path& data) {
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env, &info);
  mdb_env_stat(env, &st);
  std::error_code ec;
  const auto size = std::filesystem::file_size(data, ec);
  const auto needed = static_cast<std::uint64_t>(info.me_last_pgno + 1) * st.ms_psize;
  if (ec || size >= needed) return "";
  return data.string() + ": truncated: " + std::to_string(size) + " bytes, its pages need " + std::to_string(needed);
}

// Calls take(key, record) for each record, oldest first, while it returns
// true. "" when every record read back; else the first problem, naming the
// file.
template <class Take>
std::string each_record(MDB_txn* txn, MDB_dbi dbi, const std::filesystem::path& data, Take&& take) {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &c);
  if (rc != 0) return data.string() + ": cannot be read: " + mdb_strerror(rc);
  std::string problem;
  MDB_val k, v;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    std::uint64_t key = 0;
    if (k.mv_size != sizeof key) {
      problem = data.string() + ": a key of " + std::to_string(k.mv_size) + " bytes; not a durable queue";
      break;
    }
    std::memcpy(&key, k.mv_data, sizeof key);
    std::string why;
    auto rec = decode_journal_record(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size, &why);
    if (!rec) {
      problem = data.string() + ": record " + std::to_string(key) + " does not read back: " + why;
      break;
    }
    if (!take(key, std::move(*rec))) break;
  }
  mdb_cursor_close(c);
  if (problem.empty() && rc != 0 && rc != MDB_NOTFOUND) problem = data.string() + ": cannot be read: " + mdb_strerror(rc);
  return problem;
}

}  // namespace

std::string_view to_string(SyncPolicy p) noexcept {
  switch (p) {
    case SyncPolicy::always:
      return "always";
    case SyncPolicy::batch:
      return "batch";
    case SyncPolicy::os:
      return "os";
  }
  return "?";
}

std::shared_ptr<DurableQueue> DurableQueue::open(const std::filesystem::path& dir, const DurableSettings& settings) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw DurableError(dir.string() + ": cannot create the durable queue's directory: " + ec.message());
  const std::string key = std::filesystem::canonical(dir).string();
  std::lock_guard lock(g_open_mutex);
  auto& open = open_queues();
  if (auto it = open.find(key); it != open.end() && it->second.pid == ::getpid()) {
    if (auto q = it->second.queue.lock()) {
      if (!(q->settings() == settings)) {
        spdlog::warn("durable queue {}: changed settings take effect when edrid restarts", key);
      }
      return q;
    }
  }
  std::shared_ptr<DurableQueue> q(new DurableQueue(key, settings));
  open[key] = OpenQueue{::getpid(), q};
  return q;
}

DurableReport DurableQueue::inspect(const std::filesystem::path& dir, std::size_t keep) {
  DurableReport out;
  const auto data = dir / "data.mdb";
  if (!std::filesystem::exists(data)) {
    out.problem = data.string() + ": no such file";
    return out;
  }
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0) {
    out.problem = "cannot set up LMDB";
    return out;
  }
  struct Close {
    MDB_env* env;
    ~Close() { mdb_env_close(env); }
  } close{env};
  mdb_env_set_mapsize(env, std::max<std::uint64_t>(std::filesystem::file_size(data), 1 << 20));
  int rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0600);
  if (rc != 0) {
    out.problem = data.string() + ": cannot be opened: " + mdb_strerror(rc);
    return out;
  }
  if (out.problem = truncation(env, data); !out.problem.empty()) return out;
  Txn t;
  MDB_dbi dbi;
  if ((rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &t.txn)) != 0 || (rc = mdb_dbi_open(t.txn, nullptr, 0, &dbi)) != 0) {
    out.problem = data.string() + ": cannot be read: " + mdb_strerror(rc);
    return out;
  }
  MDB_stat st;
  if (mdb_stat(t.txn, dbi, &st) == 0) {
    out.bytes = (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
  }
  out.problem = each_record(t.txn, dbi, data, [&](std::uint64_t key, JournalRecord rec) {
    ++out.records;
    if (out.first.size() < keep) out.first.emplace_back(key, std::move(rec));
    return true;
  });
  return out;
}

DurableQueue::DurableQueue(std::filesystem::path dir, const DurableSettings& settings)
    : dir_(std::move(dir)), settings_(settings) {
  // LMDB lets several processes write one file; two edrids draining one
  // queue would each run its events. The second is refused.
  const auto lock_path = dir_ / "edrid.lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) throw DurableError(lock_path.string() + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    throw DurableError(dir_.string() + ": another edrid process uses this durable queue");
  }
  try {
    int rc = mdb_env_create(&env_);
    if (rc != 0) fail("cannot set up", rc);
    mdb_env_set_mapsize(env_, settings_.max_bytes);
    unsigned flags = MDB_NOTLS;
    if (settings_.sync != SyncPolicy::always) flags |= MDB_NOSYNC;
    rc = mdb_env_open(env_, dir_.c_str(), flags, 0600);
    if (rc != 0) fail("cannot be opened", rc);
    load();
  } catch (...) {
    if (env_) mdb_env_close(env_);
    ::close(lock_fd_);
    throw;
  }
  commit_us_.reserve(kLatencies);
  flusher_ = std::thread([this] { flush_loop(); });
}

DurableQueue::~DurableQueue() {
  {
    std::unique_lock lk(mutex_);
    stopping_ = true;
    flush_cv_.notify_all();
  }
  flusher_.join();
  {
    std::unique_lock lk(mutex_);
    committed_cv_.wait(lk, [this] { return !committing_; });
    if (!puts_.empty() || !dels_.empty()) commit_locked(lk);
  }
  if (settings_.sync != SyncPolicy::always) mdb_env_sync(env_, 1);
  mdb_env_close(env_);
  ::close(lock_fd_);  // releases the flock
  std::lock_guard lock(g_open_mutex);
  auto& open = open_queues();
  if (auto it = open.find(dir_.string()); it != open.end() && it->second.queue.expired()) open.erase(it);
}

void DurableQueue::fail(const std::string& what, int rc) const {
  throw DurableError((dir_ / "data.mdb").string() + ": " + what + ": " + mdb_strerror(rc));
}

void DurableQueue::load() {
  const auto data = dir_ / "data.mdb";
  if (auto problem = truncation(env_, data); !problem.empty()) throw DurableError(problem);
  Txn t;
  int rc = mdb_txn_begin(env_, nullptr, 0, &t.txn);
  if (rc != 0) fail("cannot be read", rc);
  MDB_dbi dbi;
  rc = mdb_dbi_open(t.txn, nullptr, MDB_INTEGERKEY, &dbi);
  if (rc != 0) fail("cannot be read", rc);
  dbi_ = dbi;
  const std::string problem = each_record(t.txn, dbi, data, [&](std::uint64_t key, JournalRecord rec) {
    index_.emplace(rec.event->header.id, Entry{key, false});
    next_key_ = std::max(next_key_, key + 1);
    return true;
  });
  if (!problem.empty()) throw DurableError(problem);
  rc = t.commit();  // keeps the dbi handle open for the process
  if (rc != 0) fail("cannot be read", rc);
}

DurableQueue::Append DurableQueue::append(const Event& ev, std::int32_t priority, std::string* error) {
  std::string record;
  if (!encode_journal_record(ev, priority, record, error)) return Append::failed;
  const edri_id128 id = ev.header.id;
  std::unique_lock lk(mutex_);
  if (index_.count(id)) return Append::known;
  const std::uint64_t key = next_key_++;
  index_.emplace(id, Entry{key, true});
  puts_.push_back({key, id, std::move(record), false});
  const std::uint64_t ticket = ++appended_;
  while (committed_ < ticket) {
    if (!committing_) {
      commit_locked(lk);
    } else {
      committed_cv_.wait(lk);
    }
  }
  auto it = failed_.find(id);
  if (it == failed_.end()) return Append::written;
  const Refusal r = std::move(it->second);
  failed_.erase(it);
  if (error) *error = "durable queue " + dir_.string() + ": " + r.why;
  return r.no_room ? Append::full : Append::failed;
}

void DurableQueue::commit_locked(std::unique_lock<std::mutex>& lk) {
  committing_ = true;
  std::vector<Put> puts;
  puts.swap(puts_);
  std::vector<std::uint64_t> dels;
  dels.swap(dels_);
  const std::uint64_t upto = appended_;
  lk.unlock();
  const std::int64_t t0 = steady_ns();
  int rc = 0;
  if (full_episode_ && !dels.empty()) {
    // The removals make the room, but LMDB reuses the pages a commit frees
    // only two commits later: removals first, in two commits of their own.
    rc = remove_apart(dels);
    if (rc == 0) dels.clear();
  }
  if (rc == 0) rc = write(puts, dels);
  if (rc == MDB_MAP_FULL && !dels.empty() && remove_apart(dels) == 0) {
    dels.clear();
    rc = write(puts, {});
  }
  const auto us = static_cast<std::uint32_t>(std::min<std::int64_t>((steady_ns() - t0) / 1000, UINT32_MAX));
  lk.lock();
  ++commits_;
  if (commit_us_.size() < kLatencies) {
    commit_us_.push_back(us);
  } else {
    commit_us_[commit_at_++ % kLatencies] = us;
  }
  if (rc == 0) {
    unsynced_ = true;
    if (!puts.empty()) {
      full_episode_ = false;
      if (refused_now_ > 0 && said_refusing_) {
        spdlog::info("durable queue {}: takes events again ({} refused meanwhile)", dir_.string(), refused_now_);
        said_refusing_ = false;
      }
      refused_now_ = 0;
    }
  } else {
    // Nothing of it is on disk: the new records are refused, rewrites and
    // removals go with the next commit. A disk at its limit fails some
    // writes and takes smaller ones (LMDB reports a short write as EIO), so
    // an episode is said once, and not again within kRefusalQuiet.
    full_episode_ = true;
    const std::string why = rc == MDB_MAP_FULL
                                ? "its file is at max_bytes (" + std::to_string(settings_.max_bytes) + ")"
                                : std::string("the disk refuses writes: ") + mdb_strerror(rc);
    const auto now = std::chrono::steady_clock::now();
    if (refused_now_ == 0 && !puts.empty() && !said_refusing_ &&
        (said_at_ == std::chrono::steady_clock::time_point{} || now - said_at_ >= kRefusalQuiet)) {
      spdlog::error("durable queue {}: {}; new events are refused until it takes them again", dir_.string(), why);
      said_refusing_ = true;
      said_at_ = now;
    }
    std::vector<Put> keep;
    for (Put& p : puts) {
      if (p.update) {
        keep.push_back(std::move(p));
        continue;
      }
      index_.erase(p.id);
      ++refused_now_;
      ++full_;
      failed_[p.id] = Refusal{true, why};
    }
    for (Put& p : keep) puts_.push_back(std::move(p));
    dels_.insert(dels_.end(), dels.begin(), dels.end());
  }
  committed_ = std::max(committed_, upto);
  committing_ = false;
  committed_cv_.notify_all();
}

int DurableQueue::write(const std::vector<Put>& puts, const std::vector<std::uint64_t>& dels) {
  if (puts.empty() && dels.empty()) return 0;
  Txn t;
  int rc = mdb_txn_begin(env_, nullptr, 0, &t.txn);
  if (rc != 0) return rc;
  for (const std::uint64_t& key : dels) {
    MDB_val k = key_val(key);
    rc = mdb_del(t.txn, dbi_, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  for (const Put& p : puts) {
    MDB_val k = key_val(p.key);
    MDB_val v{p.record.size(), const_cast<char*>(p.record.data())};
    rc = mdb_put(t.txn, dbi_, &k, &v, 0);
    if (rc != 0) return rc;
  }
  return t.commit();
}

int DurableQueue::remove_apart(const std::vector<std::uint64_t>& dels) {
  if (dels.size() < 2) return write({}, dels);
  const std::vector<std::uint64_t> first(dels.begin(), dels.end() - 1);
  const int rc = write({}, first);
  return rc != 0 ? rc : write({}, {dels.back()});
}

void DurableQueue::done(const edri_id128& id) noexcept {
  std::lock_guard lk(mutex_);
  auto it = index_.find(id);
  if (it == index_.end()) return;
  dels_.push_back(it->second.key);
  index_.erase(it);
}

void DurableQueue::retried(const Event& again, std::int32_t priority) noexcept {
  std::string record, error;
  try {
    if (!encode_journal_record(again, priority, record, &error)) return;  // the old record stays
  } catch (const std::exception& e) {
    spdlog::warn("durable queue {}: a redelivery's record: {}", dir_.string(), e.what());
    return;
  }
  std::lock_guard lk(mutex_);
  auto it = index_.find(again.header.id);
  if (it == index_.end()) return;
  puts_.push_back({it->second.key, again.header.id, std::move(record), true});
}

void DurableQueue::release(const edri_id128& id) noexcept {
  std::lock_guard lk(mutex_);
  if (auto it = index_.find(id); it != index_.end()) it->second.queued = false;
}

std::vector<JournalRecord> DurableQueue::take_unqueued() {
  std::unique_lock lk(mutex_);
  // Rewrites and removals first, so what is read is what is meant.
  committed_cv_.wait(lk, [this] { return !committing_; });
  if (!puts_.empty() || !dels_.empty()) commit_locked(lk);
  std::vector<JournalRecord> out;
  Txn t;
  if (const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t.txn); rc != 0) fail("cannot be read", rc);
  const std::string problem = each_record(t.txn, dbi_, dir_ / "data.mdb", [&](std::uint64_t key, JournalRecord rec) {
    auto it = index_.find(rec.event->header.id);
    if (it != index_.end() && it->second.key == key && !it->second.queued) {
      it->second.queued = true;
      out.push_back(std::move(rec));
    }
    return true;
  });
  if (!problem.empty()) throw DurableError(problem);
  return out;
}

void DurableQueue::flush_loop() {
  const auto period = settings_.sync == SyncPolicy::batch ? std::min(settings_.batch, kFlushPeriod) : kFlushPeriod;
  std::unique_lock lk(mutex_);
  auto last_sync = std::chrono::steady_clock::now();
  while (!stopping_) {
    flush_cv_.wait_for(lk, period);
    if (stopping_) break;
    if (!committing_ && (!puts_.empty() || !dels_.empty())) commit_locked(lk);
    const auto now = std::chrono::steady_clock::now();
    if (settings_.sync == SyncPolicy::batch && unsynced_ && now - last_sync >= settings_.batch) {
      unsynced_ = false;
      last_sync = now;
      lk.unlock();
      if (const int rc = mdb_env_sync(env_, 1); rc != 0) {
        spdlog::error("durable queue {}: fsync failed: {}", dir_.string(), mdb_strerror(rc));
      }
      lk.lock();
    }
  }
}

DurableStats DurableQueue::stats() const {
  DurableStats s;
  s.path = (dir_ / "data.mdb").string();
  s.sync = settings_.sync;
  std::vector<std::uint32_t> lat;
  {
    std::lock_guard lk(mutex_);
    s.commits = commits_;
    s.full = full_;
    lat = commit_us_;
  }
  if (!lat.empty()) {
    std::sort(lat.begin(), lat.end());
    s.commit_p50_us = lat[lat.size() / 2];
    s.commit_p99_us = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
  }
  Txn t;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t.txn) != 0) return s;
  MDB_stat st;
  if (mdb_stat(t.txn, dbi_, &st) == 0) {
    s.depth = st.ms_entries;
    s.bytes = (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
  }
  MDB_cursor* c = nullptr;
  if (mdb_cursor_open(t.txn, dbi_, &c) == 0) {
    MDB_val k, v;
    if (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0) {
      if (auto rec = decode_journal_record(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size, nullptr)) {
        s.oldest_age_ms = std::max<std::int64_t>(0, (realtime_ns() - rec->event->header.timestamp_ns) / 1'000'000);
      }
    }
    mdb_cursor_close(c);
  }
  return s;
}

}  // namespace edrid
