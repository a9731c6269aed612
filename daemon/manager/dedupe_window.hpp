// The ids of events a work group finished lately (dedupe_ms), so an event
// that comes again after its first delivery did finish — handed back and
// placed again, resent by the cluster — is not handled twice. Shared by the
// members of one group on a router; thread-safe.
#pragma once

#include "event/ids.hpp"

#include <edri/abi.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_map>

namespace edrid {

class DedupeWindow {
 public:
  // At most max_ids remembered: past that the oldest are forgotten first.
  explicit DedupeWindow(std::chrono::milliseconds window, std::size_t max_ids = 1'000'000);
  // Whether `id` finished within the window.
  bool finished(const edri_id128& id, std::int64_t now_ns);
  void finish(const edri_id128& id, std::int64_t now_ns);
  std::size_t size() const;

 private:
  void expire_locked(std::int64_t now_ns);

  const std::int64_t window_ns_;
  const std::size_t max_ids_;
  mutable std::mutex mutex_;
  std::unordered_map<edri_id128, std::int64_t, IdHash, IdEq> until_;  // id → end of its window
  std::deque<std::pair<edri_id128, std::int64_t>> order_;             // oldest first
};

}  // namespace edrid
