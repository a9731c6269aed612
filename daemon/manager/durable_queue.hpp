// A manager's queue kept on disk (queue.durable): every event accepted for
// the manager is in an LMDB file before its sender hears so, and leaves it
// when the manager's work on it is over. After a restart, clean or kill -9,
// what is left is queued again in the order it came.
//
// The in-memory queue still orders and dispatches; this is its journal.
// Appends commit as a group: a sender whose record is in a commit another
// sender is running waits for that one, so concurrent senders share each
// commit (and, with sync: always, each fsync). Removals are not waited for:
// they go with the next commit, or the flusher's within a few milliseconds,
// so a crash can bring back an event whose work had just finished (at least
// once, never lost).
#pragma once

#include "event/event.hpp"
#include "event/ids.hpp"
#include "manager/durable_settings.hpp"
#include "manager/journal_record.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

struct MDB_env;

namespace edrid {

// A durable queue's file cannot be used; the message names the file.
class DurableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a durable queue's file holds, read without taking it over (edrictl
// queue inspect): edrid may be running on it.
struct DurableReport {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::vector<std::pair<std::uint64_t, JournalRecord>> first;  // key and record, oldest first
  std::string problem;  // why the file would not be used; "" when it would
};

class DurableQueue {
 public:
  // Reads the file in `dir` read-only: its records (the first `keep` of
  // them whole) and the first problem that would stop edrid.
  static DurableReport inspect(const std::filesystem::path& dir, std::size_t keep);
  // Opens or creates the journal in `dir`. One object per directory in the
  // process: a manager replaced on reload shares its predecessor's. Throws
  // DurableError when the directory cannot be used: another process holds
  // it, or its file is truncated or does not read back.
  static std::shared_ptr<DurableQueue> open(const std::filesystem::path& dir, const DurableSettings& settings);
  ~DurableQueue();
  DurableQueue(const DurableQueue&) = delete;
  DurableQueue& operator=(const DurableQueue&) = delete;

  enum class Append {
    written,  // on disk as the sync policy says
    known,    // this event id is in already (a redelivery): nothing written
    full,     // no room: the file is at max_bytes, or the disk refuses writes
    failed,   // its payload could not be encoded (*error says why)
  };
  Append append(const Event& ev, std::int32_t priority, std::string* error);
  // The manager's work on it is over.
  void done(const edri_id128& id) noexcept;
  // It goes again later (at-least-once): its record counts the delivery.
  void retried(const Event& again, std::int32_t priority) noexcept;
  // Still to do, but no longer queued in memory (its manager stopped): the
  // next take_unqueued, or the next start of edrid, queues it again.
  void release(const edri_id128& id) noexcept;
  // Every record not queued in memory, oldest first, now counted as
  // queued. Throws DurableError for a record that does not read back.
  std::vector<JournalRecord> take_unqueued();

  DurableStats stats() const;
  const std::filesystem::path& dir() const noexcept { return dir_; }
  const DurableSettings& settings() const noexcept { return settings_; }

 private:
  struct Entry {
    std::uint64_t key;
    bool queued;  // in a manager's queue or running now
  };
  struct Put {
    std::uint64_t key;
    edri_id128 id;
    std::string record;
    bool update;  // rewrites a record already there
  };

  DurableQueue(std::filesystem::path dir, const DurableSettings& settings);
  void load();
  // Runs one commit of what is pending; mutex_ held (released meanwhile).
  void commit_locked(std::unique_lock<std::mutex>& lk);
  int write(const std::vector<Put>& puts, const std::vector<std::uint64_t>& dels);
  int remove_apart(const std::vector<std::uint64_t>& dels);
  void flush_loop();
  [[noreturn]] void fail(const std::string& what, int rc) const;

  const std::filesystem::path dir_;
  const DurableSettings settings_;
  MDB_env* env_ = nullptr;
  unsigned dbi_ = 0;
  int lock_fd_ = -1;

  mutable std::mutex mutex_;
  std::condition_variable committed_cv_;
  std::condition_variable flush_cv_;
  std::unordered_map<edri_id128, Entry, IdHash, IdEq> index_;
  struct Refusal {
    bool no_room;  // the file's max_bytes, or the disk
    std::string why;
  };
  std::unordered_map<edri_id128, Refusal, IdHash, IdEq> failed_;  // appends a commit refused
  std::uint64_t refused_now_ = 0;  // appends refused since the last one written
  bool said_refusing_ = false;      // the log says events are refused, and not yet that they are taken
  std::chrono::steady_clock::time_point said_at_{};
  std::vector<Put> puts_;
  std::vector<std::uint64_t> dels_;
  std::uint64_t next_key_ = 1;
  std::uint64_t appended_ = 0;   // appends handed to commits so far
  std::uint64_t committed_ = 0;  // of those, the ones whose commit is over
  bool committing_ = false;
  bool unsynced_ = false;
  bool full_episode_ = false;  // the file was full at the last new record  // sync: batch, something committed since the last fsync
  bool stopping_ = false;
  std::uint64_t commits_ = 0;
  std::uint64_t full_ = 0;
  std::vector<std::uint32_t> commit_us_;  // the last kLatencies commit times, a ring
  std::size_t commit_at_ = 0;
  std::thread flusher_;
};

}  // namespace edrid
