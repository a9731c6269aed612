#include "event/ids.hpp"

#include <atomic>
#include <cstdio>
#include <random>

namespace edrid {
namespace {
std::uint64_t process_prefix() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}
const std::uint64_t g_prefix = process_prefix();
std::atomic<std::uint64_t> g_counter{1};
}  // namespace

// Each thread reserves ids in blocks, so publishers on different threads do
// not bump one shared counter per event. Ids stay unique, not ordered.
edri_id128 next_id() noexcept {
  constexpr std::uint64_t kBlock = 1024;
  thread_local std::uint64_t next = 0;
  thread_local std::uint64_t end = 0;
  if (next == end) {
    next = g_counter.fetch_add(kBlock, std::memory_order_relaxed);
    end = next + kBlock;
  }
  return edri_id128{g_prefix, next++};
}

std::string to_hex(edri_id128 id) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(id.hi),
                static_cast<unsigned long long>(id.lo));
  return buf;
}

}  // namespace edrid
