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

edri_id128 next_id() noexcept {
  return edri_id128{g_prefix, g_counter.fetch_add(1, std::memory_order_relaxed)};
}

std::string to_hex(edri_id128 id) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(id.hi),
                static_cast<unsigned long long>(id.lo));
  return buf;
}

}  // namespace edrid
