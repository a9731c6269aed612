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
