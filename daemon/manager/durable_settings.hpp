// What a durable manager queue is asked to keep, and what it reports
// (queue.durable in docs/configuration.md). Plain values: the queue itself
// is manager/durable_queue.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace edrid {

enum class SyncPolicy {
  always,  // each commit is fsynced before its senders hear: survives power loss
  batch,   // committed to the OS at once, fsynced within batch_ms: a power loss loses at most that
  os,      // committed to the OS, which writes it back when it likes: survives a kill, not power loss
};
std::string_view to_string(SyncPolicy p) noexcept;

struct DurableSettings {
  bool enabled = false;
  SyncPolicy sync = SyncPolicy::always;
  std::chrono::milliseconds batch{10};
  std::uint64_t max_bytes = std::uint64_t{1} << 30;  // the file's size limit
  std::filesystem::path dir;  // <state_dir>/queues/<manager>
  bool operator==(const DurableSettings&) const = default;
};

struct DurableStats {
  std::string path;
  SyncPolicy sync = SyncPolicy::always;
  std::uint64_t depth = 0;  // events on disk
  std::uint64_t bytes = 0;  // pages in use
  std::uint64_t commits = 0;
  std::uint64_t full = 0;  // events refused for want of room: max_bytes, or a full disk
  std::int64_t oldest_age_ms = 0;
  std::uint64_t commit_p50_us = 0;
  std::uint64_t commit_p99_us = 0;
};

}  // namespace edrid
