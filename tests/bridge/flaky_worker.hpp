// A manager for bridge tests: serves work.item {n} and fails the first
// delivery of every n divisible by 50, noting what it handled in a ledger
// the test reads.
#pragma once

#include <edri/edri.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

namespace probe {

// What the flaky handler did, shared with the test.
struct Ledger {
  std::mutex m;
  std::map<std::int64_t, int> attempts;  // n -> deliveries seen
  std::set<std::int64_t> done;           // n handled to success
  std::uint64_t done_twice = 0;
  void reset() {
    std::lock_guard l(m);
    attempts.clear();
    done.clear();
    done_twice = 0;
  }
  std::size_t done_count() {
    std::lock_guard l(m);
    return done.size();
  }
};
inline Ledger ledger;

// Serves work.item: fails the first delivery of every n divisible by 50.
class Flaky : public edri::Manager {
 public:
  Flaky(edri::Context& ctx, const edri::Config&) : Manager(ctx) {
    ctx.on_request("work.item", [](const edri::GenericEvent& ev, edri::Reply<edri::json>& reply) {
      const auto n = ev.data().at("n").get<std::int64_t>();
      std::lock_guard l(ledger.m);
      if (++ledger.attempts[n] == 1 && n % 50 == 0) throw std::runtime_error("flaky: not this time");
      if (!ledger.done.insert(n).second) ++ledger.done_twice;
      reply.set({{"n", n}});
    });
  }
};

}  // namespace probe
