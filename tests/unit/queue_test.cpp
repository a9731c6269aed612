#include "queue/manager_queue.hpp"

#include <catch2/catch.hpp>

#include <thread>

using edrid::Delivery;
using edrid::ManagerQueue;
using edrid::QueueOrder;
using edrid::WhenFull;

namespace {
Delivery item(int priority, std::uint32_t tag) {
  Delivery d;
  d.priority = priority;
  d.handler_id = tag;
  return d;
}
std::vector<std::uint32_t> drain(ManagerQueue& q) {
  std::vector<Delivery> out;
  q.close();
  while (q.pop_batch(out, 100)) {
  }
  std::vector<std::uint32_t> tags;
  for (auto& d : out) tags.push_back(d.handler_id);
  return tags;
}
}  // namespace

TEST_CASE("fifo keeps arrival order and ignores priority") {
  ManagerQueue q(QueueOrder::fifo, 10, WhenFull::reject);
  for (std::uint32_t i = 0; i < 5; ++i) q.push(item(5 - static_cast<int>(i), i), false, true, nullptr);
  CHECK(drain(q) == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
}

TEST_CASE("priority pops lower numbers first, FIFO among equals") {
  ManagerQueue q(QueueOrder::priority, 100, WhenFull::reject);
  const int prios[] = {3, 1, 2, 1, 3, 0, 2, 1};
  for (std::uint32_t i = 0; i < 8; ++i) q.push(item(prios[i], i), false, true, nullptr);
  CHECK(drain(q) == std::vector<std::uint32_t>{5, 1, 3, 7, 2, 6, 0, 4});
}

TEST_CASE("priority order holds across 10 000 items with many equal priorities") {
  ManagerQueue q(QueueOrder::priority, 20000, WhenFull::reject);
  for (std::uint32_t i = 0; i < 10000; ++i) q.push(item(static_cast<int>(i % 7), i), false, true, nullptr);
  auto tags = drain(q);
  REQUIRE(tags.size() == 10000);
  for (std::size_t i = 1; i < tags.size(); ++i) {
    const auto a = tags[i - 1], b = tags[i];
    const bool ordered = (a % 7 < b % 7) || (a % 7 == b % 7 && a < b);
    REQUIRE(ordered);
  }
}

TEST_CASE("reject refuses when full and counts it and force bypasses the limit") {
  ManagerQueue q(QueueOrder::fifo, 2, WhenFull::reject);
  CHECK(q.push(item(0, 1), false, true, nullptr) == ManagerQueue::Push::accepted);
  CHECK(q.push(item(0, 2), false, true, nullptr) == ManagerQueue::Push::accepted);
  CHECK(q.push(item(0, 3), false, true, nullptr) == ManagerQueue::Push::rejected);
  CHECK(q.push(item(0, 4), true, true, nullptr) == ManagerQueue::Push::accepted);
  CHECK(q.rejected() == 1);
  CHECK(q.depth() == 3);
  CHECK(drain(q) == std::vector<std::uint32_t>{1, 2, 4});
}

TEST_CASE("drop_oldest hands back the oldest item and counts it") {
  for (auto order : {QueueOrder::fifo, QueueOrder::priority}) {
    ManagerQueue q(order, 2, WhenFull::drop_oldest);
    std::optional<Delivery> dropped;
    q.push(item(9, 1), false, true, &dropped);
    q.push(item(0, 2), false, true, &dropped);
    CHECK_FALSE(dropped);
    q.push(item(5, 3), false, true, &dropped);
    REQUIRE(dropped);
    CHECK(dropped->handler_id == 1);
    CHECK(q.dropped() == 1);
    CHECK(drain(q).size() == 2);
  }
}

TEST_CASE("block waits for room but a consumer pushing into its own full queue is refused instead") {
  ManagerQueue q(QueueOrder::fifo, 1, WhenFull::block);
  q.push(item(0, 1), false, true, nullptr);
  CHECK(q.push(item(0, 2), false, false, nullptr) == ManagerQueue::Push::rejected);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.push(item(0, 3), false, true, nullptr);
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(pushed.load());
  std::vector<Delivery> out;
  REQUIRE(q.pop_batch(out, 1));
  producer.join();
  CHECK(pushed.load());
  CHECK(drain(q) == std::vector<std::uint32_t>{3});
}

TEST_CASE("close wakes a blocked producer and refuses new work") {
  ManagerQueue q(QueueOrder::fifo, 1, WhenFull::block);
  q.push(item(0, 1), false, true, nullptr);
  ManagerQueue::Push result = ManagerQueue::Push::accepted;
  std::thread producer([&] { result = q.push(item(0, 2), false, true, nullptr); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  q.close();
  producer.join();
  CHECK(result == ManagerQueue::Push::closed);
  CHECK(q.push(item(0, 3), true, true, nullptr) == ManagerQueue::Push::closed);
}

TEST_CASE("fifo keeps each producer's order through the ring and the overflow list under load") {
  // Forced pushes go past the capacity into the overflow list; producers
  // that follow must queue behind them, not overtake them through the ring.
  constexpr int kProducers = 3;
  constexpr std::uint32_t kPerProducer = 100'000;
  ManagerQueue q(QueueOrder::fifo, 16, WhenFull::block);
  std::atomic<int> refused{0};  // Catch2 assertions are not thread-safe
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&q, &refused, p] {
      for (std::uint32_t i = 0; i < kPerProducer; ++i) {
        const bool force = (i % 7) == 0;
        if (q.push(item(0, (static_cast<std::uint32_t>(p) << 24) | i), force, true, nullptr) !=
            ManagerQueue::Push::accepted)
          ++refused;
      }
    });
  }
  std::vector<std::uint32_t> next(kProducers, 0);
  std::uint64_t taken = 0;
  bool in_order = true;
  std::vector<Delivery> out;
  while (taken < std::uint64_t{kProducers} * kPerProducer) {
    out.clear();
    REQUIRE(q.pop_batch(out, 64));
    for (auto& d : out) {
      const auto p = d.handler_id >> 24;
      const auto i = d.handler_id & 0xffffffu;
      in_order = in_order && i == next[p];
      next[p] = i + 1;
      ++taken;
    }
  }
  for (auto& t : producers) t.join();
  CHECK(refused == 0);
  CHECK(in_order);
  for (int p = 0; p < kProducers; ++p) CHECK(next[p] == kPerProducer);
  CHECK(q.depth() == 0);
  CHECK(q.high_water() > 0);
}

TEST_CASE("a consumer asleep on an empty fifo wakes for one push") {
  ManagerQueue q(QueueOrder::fifo, 8, WhenFull::block);
  std::atomic<int> got{0};
  std::thread consumer([&] {
    std::vector<Delivery> out;
    while (q.pop_batch(out, 8)) {
      got += static_cast<int>(out.size());
      out.clear();
    }
  });
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // long enough to fall asleep
    q.push(item(0, static_cast<std::uint32_t>(i)), false, true, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (got.load() <= i && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    CHECK(got.load() == i + 1);
  }
  q.close();
  consumer.join();
}

TEST_CASE("a queue larger than the ring spills into the overflow list and keeps order") {
  const std::size_t cap = ManagerQueue::kMaxRingCells + 1000;
  ManagerQueue q(QueueOrder::fifo, cap, WhenFull::reject);
  std::size_t accepted = 0;
  for (std::uint32_t i = 0; i < cap; ++i)
    accepted += q.push(item(0, i), false, true, nullptr) == ManagerQueue::Push::accepted;
  CHECK(accepted == cap);
  CHECK(q.depth() == cap);
  CHECK(q.push(item(0, 0), false, true, nullptr) == ManagerQueue::Push::rejected);
  const auto tags = drain(q);
  REQUIRE(tags.size() == cap);
  bool in_order = true;
  for (std::uint32_t i = 0; i < cap; ++i) in_order = in_order && tags[i] == i;
  CHECK(in_order);
}

TEST_CASE("consumers sharing a queue take every item exactly once") {
  constexpr int kProducers = 3, kConsumers = 3;
  constexpr std::uint32_t kPerProducer = 100'000;
  ManagerQueue q(QueueOrder::fifo, 64, WhenFull::block);
  std::vector<std::atomic<std::uint8_t>> seen(kProducers * kPerProducer);
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&q, &seen, c] {
      std::vector<Delivery> out;
      int spin = ManagerQueue::kSpinChecks;
      while (q.pop_shared(out, static_cast<std::size_t>(1 + c), spin)) {
        for (auto& d : out) seen[d.handler_id].fetch_add(1, std::memory_order_relaxed);
        out.clear();
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&q, p] {
      for (std::uint32_t i = 0; i < kPerProducer; ++i) {
        q.push(item(0, static_cast<std::uint32_t>(p) * kPerProducer + i), (i % 11) == 0, true, nullptr);
        // Now and then a pause long enough for the consumers to fall asleep.
        if (i % 20'000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  for (auto& t : producers) t.join();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (q.depth() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  q.close();
  for (auto& t : consumers) t.join();
  std::size_t once = 0, more = 0;
  for (auto& s : seen) {
    once += s.load() == 1;
    more += s.load() > 1;
  }
  CHECK(once == seen.size());
  CHECK(more == 0);
}

TEST_CASE("a consumer sharing a queue wakes for work another consumer cannot take while busy") {
  // Two consumers asleep; item 0 holds whichever takes it until released.
  // Item 1, pushed with it or while it runs, must not wait for it.
  auto second_taken_while_first_runs = [](bool pushed_together) {
    ManagerQueue q(QueueOrder::fifo, 8, WhenFull::block);
    std::atomic<bool> release{false}, first_taken{false}, second_taken{false};
    std::vector<std::thread> consumers;
    for (int c = 0; c < 2; ++c) {
      consumers.emplace_back([&] {
        std::vector<Delivery> out;
        int spin = ManagerQueue::kSpinChecks;
        while (q.pop_shared(out, 1, spin)) {
          if (out.front().handler_id == 0) {
            first_taken = true;
            while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          } else {
            second_taken = true;
          }
          out.clear();
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // both asleep
    q.push(item(0, 0), false, true, nullptr);
    if (!pushed_together) {
      while (!first_taken) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the other asleep again
    }
    q.push(item(0, 1), false, true, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!second_taken && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    const bool ok = second_taken && !release;
    release = true;
    q.close();
    for (auto& t : consumers) t.join();
    return ok;
  };
  CHECK(second_taken_while_first_runs(true));
  CHECK(second_taken_while_first_runs(false));
}
