// The process executor's scheduling rules, with no process started.
#include "exec/worker_pool.hpp"

#include <catch2/catch.hpp>

#include <vector>

using edrid::Delivery;
using edrid::WorkerPool;

namespace {
Delivery task(std::uint32_t tag) {
  Delivery d;
  d.handler_id = tag;
  return d;
}
struct Taken {
  std::size_t slot;
  std::uint32_t tag;
  bool operator==(const Taken&) const = default;
};
// Hands out everything the pool allows now.
std::vector<Taken> take_all(WorkerPool& pool) {
  std::vector<Taken> out;
  while (auto a = pool.next()) out.push_back({a->slot, a->task.handler_id});
  return out;
}
std::vector<std::uint32_t> tags(const std::deque<Delivery>& ds) {
  std::vector<std::uint32_t> out;
  for (const auto& d : ds) out.push_back(d.handler_id);
  return out;
}
}  // namespace

TEST_CASE("worker pool: the first tasks spread over every worker before any takes a second") {
  WorkerPool pool(3, 2, 6, 32);
  pool.all_ready();
  for (std::uint32_t i = 0; i < 8; ++i) pool.enqueue(task(i));
  const auto got = take_all(pool);
  // Three workers with two positions each: six handed out, two wait.
  CHECK(got == std::vector<Taken>{{0, 0}, {1, 1}, {2, 2}, {0, 3}, {1, 4}, {2, 5}});
  CHECK(pool.in_flight() == 6);
  CHECK(pool.waiting() == 2);
  CHECK_FALSE(pool.idle());
}

TEST_CASE("worker pool: a finished task frees a position on its own worker") {
  WorkerPool pool(2, 1, 2, 32);
  pool.all_ready();
  for (std::uint32_t i = 0; i < 4; ++i) pool.enqueue(task(i));
  CHECK(take_all(pool).size() == 2);
  pool.task_ended(1, true);
  CHECK(take_all(pool) == std::vector<Taken>{{1, 2}});
  pool.task_ended(0, true);
  pool.task_ended(1, true);
  CHECK(take_all(pool) == std::vector<Taken>{{0, 3}});
  pool.task_ended(0, true);
  CHECK(pool.idle());
  CHECK(pool.free_positions() == 2);
}

TEST_CASE("worker pool: sequential takes turns over the workers, one task at a time") {
  WorkerPool pool(3, 1, 1, 32);
  pool.all_ready();
  for (std::uint32_t i = 0; i < 3; ++i) pool.enqueue(task(i));
  std::vector<std::size_t> slots;
  for (int i = 0; i < 3; ++i) {
    const auto got = take_all(pool);
    REQUIRE(got.size() == 1);
    CHECK(got[0].tag == static_cast<std::uint32_t>(i));
    slots.push_back(got[0].slot);
    pool.task_ended(got[0].slot, true);
  }
  CHECK(slots == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("worker pool: a lost worker gets no more work until its replacement is ready") {
  WorkerPool pool(2, 2, 4, 32);
  pool.all_ready();
  pool.enqueue(task(0));
  CHECK(take_all(pool) == std::vector<Taken>{{0, 0}});
  // Worker 0 dies with task 0: the task ends, its position is not given back.
  pool.worker_lost(0);
  pool.task_ended(0, false);
  for (std::uint32_t i = 1; i < 5; ++i) pool.enqueue(task(i));
  CHECK(take_all(pool) == std::vector<Taken>{{1, 1}, {1, 2}});
  pool.worker_ready(0);
  CHECK(take_all(pool) == std::vector<Taken>{{0, 3}, {0, 4}});
}

TEST_CASE("worker pool: tasks a lost worker never started go back to the front, in order") {
  WorkerPool pool(1, 2, 2, 32);
  pool.all_ready();
  for (std::uint32_t i = 0; i < 4; ++i) pool.enqueue(task(i));
  auto first = pool.next();
  auto second = pool.next();
  REQUIRE(first);
  REQUIRE(second);
  CHECK_FALSE(pool.next());
  // The worker crashed running task 0; task 1 waited in its inbox.
  pool.worker_lost(0);
  pool.task_ended(0, false);
  std::deque<Delivery> unstarted;
  unstarted.push_back(std::move(second->task));
  CHECK(pool.requeue(std::move(unstarted)).empty());
  CHECK(pool.in_flight() == 0);
  pool.worker_ready(0);
  CHECK(take_all(pool) == std::vector<Taken>{{0, 1}, {0, 2}});
}

TEST_CASE("worker pool: work run in this process waits behind the tasks before it and holds the cap") {
  WorkerPool pool(1, 1, 1, 32);
  pool.all_ready();
  CHECK(pool.local_may_start());
  pool.enqueue(task(0));
  CHECK_FALSE(pool.local_may_start());  // task 0 came first
  CHECK(take_all(pool).size() == 1);
  CHECK_FALSE(pool.local_may_start());  // sequential: one at a time
  pool.task_ended(0, true);
  CHECK(pool.local_may_start());
  pool.local_started();
  pool.enqueue(task(1));
  CHECK(take_all(pool).empty());  // the tick holds the only slot
  pool.local_ended();
  CHECK(take_all(pool) == std::vector<Taken>{{0, 1}});
}

TEST_CASE("worker pool: the backlog is bounded per worker") {
  WorkerPool pool(2, 1, 2, 3);
  for (std::uint32_t i = 0; i < 5; ++i) {
    CHECK_FALSE(pool.backlog_full());
    pool.enqueue(task(i));
  }
  CHECK_FALSE(pool.backlog_full());
  pool.enqueue(task(5));
  CHECK(pool.backlog_full());
}

TEST_CASE("worker pool: stopping hands nothing out and returns what waited") {
  WorkerPool pool(1, 2, 2, 32);
  pool.all_ready();
  for (std::uint32_t i = 0; i < 4; ++i) pool.enqueue(task(i));
  auto a = pool.next();
  auto b = pool.next();
  REQUIRE(b);
  CHECK(tags(pool.stop()) == std::vector<std::uint32_t>{2, 3});
  CHECK(pool.stopping());
  CHECK_FALSE(pool.next());
  // A task its lost worker never started is refused, not queued again.
  std::deque<Delivery> unstarted;
  unstarted.push_back(std::move(b->task));
  CHECK(tags(pool.requeue(std::move(unstarted))) == std::vector<std::uint32_t>{1});
  pool.task_ended(0, true);
  CHECK(pool.idle());
  pool.worker_ready(0);
  CHECK(pool.free_positions() == 0);
}
