// Event blocks recycled between threads: never handed out twice, usable to
// their full size, and events made and released on different threads keep
// their contents.
#include "event/event.hpp"
#include "event/event_blocks.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace edrid;

TEST_CASE("a recycled event block is never held by two owners at once") {
  // Producers take blocks, stamp them whole and pass them to consumers, which
  // check the stamp and give them back: a block handed out twice would carry
  // another owner's stamp.
  constexpr int kThreads = 4;
  constexpr int kRounds = 20000;
  std::mutex m;
  std::vector<void*> passed;
  std::atomic<int> bad{0};
  auto stamp = [](void* p, unsigned char tag) { std::memset(p, tag, event_blocks::kBlockSize); };
  auto intact = [](const void* p, unsigned char tag) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < event_blocks::kBlockSize; ++i) {
      if (b[i] != tag) return false;
    }
    return true;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto tag = static_cast<unsigned char>(0x40 + t);
      for (int i = 0; i < kRounds; ++i) {
        // Hold a few at once, so blocks also wait in this thread's hands.
        void* mine[3];
        for (auto& p : mine) {
          p = event_blocks::take();
          stamp(p, tag);
        }
        for (auto* p : mine) {
          if (!intact(p, tag)) bad.fetch_add(1);
        }
        // Pass one on to whichever thread comes next, give the rest back here.
        void* other = nullptr;
        {
          std::lock_guard lock(m);
          passed.push_back(mine[0]);
          if (passed.size() > 64) {
            other = passed.front();
            passed.erase(passed.begin());
          }
        }
        event_blocks::give(mine[1]);
        event_blocks::give(mine[2]);
        if (other) event_blocks::give(other);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto* p : passed) event_blocks::give(p);
  CHECK(bad.load() == 0);
}

TEST_CASE("events made on one thread and released on another keep their contents") {
  constexpr int kEvents = 50000;
  std::vector<Event*> made(kEvents);
  std::thread maker([&] {
    for (int i = 0; i < kEvents; ++i) {
      const std::string bytes = "payload " + std::to_string(i);
      made[i] = event_from_bytes("test.blocks", reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      made[i]->header.priority = i;
    }
  });
  maker.join();
  std::set<const void*> distinct(made.begin(), made.end());
  CHECK(distinct.size() == made.size());
  int wrong = 0;
  std::thread releaser([&] {
    for (int i = 0; i < kEvents; ++i) {
      const EncodedPayload* enc = made[i]->encoded.load();
      const std::string want = "payload " + std::to_string(i);
      if (made[i]->header.priority != i || made[i]->payload_type != "test.blocks" ||
          std::string(reinterpret_cast<const char*>(enc->data()), enc->size()) != want) {
        ++wrong;
      }
      event_release(made[i]);
    }
  });
  releaser.join();
  CHECK(wrong == 0);
  // The blocks come back for the next events, intact for their new owners.
  for (int round = 0; round < 3; ++round) {
    std::vector<Event*> again;
    for (int i = 0; i < 1000; ++i) {
      again.push_back(event_from_bytes("test.again", nullptr, 0));
      again.back()->header.priority = i;
    }
    for (int i = 0; i < 1000; ++i) {
      CHECK(again[i]->header.priority == i);
      event_release(again[i]);
    }
  }
}
