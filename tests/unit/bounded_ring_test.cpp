#include "queue/bounded_ring.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <thread>
#include <vector>

using edrid::BoundedRing;

TEST_CASE("bounded ring holds exactly its cells and hands them back in order") {
  for (std::size_t cells : {2u, 3u, 8u, 100u}) {
    BoundedRing<std::unique_ptr<int>> ring(cells);
    for (std::size_t i = 0; i < cells; ++i) REQUIRE(ring.try_push(std::make_unique<int>(static_cast<int>(i))));
    auto extra = std::make_unique<int>(-1);
    CHECK_FALSE(ring.try_push(std::move(extra)));
    CHECK(extra);  // a refused push leaves the value with the caller
    CHECK(ring.size() == cells);
    // Wrap around a few times so the sequence numbers pass the cell count.
    for (int round = 0; round < 3; ++round) {
      for (std::size_t i = 0; i < cells; ++i) {
        std::unique_ptr<int> v;
        REQUIRE(ring.try_pop(v) == BoundedRing<std::unique_ptr<int>>::Pop::item);
        CHECK(*v == static_cast<int>(i));
        REQUIRE(ring.try_push(std::make_unique<int>(static_cast<int>(i))));
      }
    }
  }
}

TEST_CASE("bounded ring with one requested cell still refuses a second item") {
  BoundedRing<int> ring(1);
  CHECK(ring.cells() == 2);
  CHECK(ring.try_push(1));
  CHECK(ring.try_push(2));
  CHECK_FALSE(ring.try_push(3));
  int v = 0;
  CHECK(ring.try_pop(v) == BoundedRing<int>::Pop::item);
  CHECK(v == 1);
  CHECK(ring.try_pop(v) == BoundedRing<int>::Pop::item);
  CHECK(v == 2);
  CHECK(ring.try_pop(v) == BoundedRing<int>::Pop::empty);
}

TEST_CASE("bounded ring destroys what is left in it") {
  auto counter = std::make_shared<int>(0);
  {
    BoundedRing<std::shared_ptr<int>> ring(4);
    ring.try_push(std::shared_ptr<int>(counter));
    ring.try_push(std::shared_ptr<int>(counter));
    CHECK(counter.use_count() == 3);
  }
  CHECK(counter.use_count() == 1);
}

TEST_CASE("bounded ring loses nothing and keeps each producer's order under four producers") {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 200'000;
  BoundedRing<std::uint64_t> ring(64);  // small, so producers hit "full" often
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&ring, p] {
      for (std::uint64_t i = 0; i < kPerProducer; ++i) {
        std::uint64_t v = (static_cast<std::uint64_t>(p) << 32) | i;
        while (!ring.try_push(std::move(v))) std::this_thread::yield();
      }
    });
  }
  std::vector<std::uint64_t> next(kProducers, 0);
  std::uint64_t taken = 0;
  bool in_order = true;
  while (taken < std::uint64_t{kProducers} * kPerProducer) {
    std::uint64_t v = 0;
    if (ring.try_pop(v) != BoundedRing<std::uint64_t>::Pop::item) continue;
    const auto p = v >> 32;
    in_order = in_order && (v & 0xffffffffu) == next[p];
    next[p] = (v & 0xffffffffu) + 1;
    ++taken;
  }
  for (auto& t : producers) t.join();
  CHECK(in_order);
  for (int p = 0; p < kProducers; ++p) CHECK(next[p] == kPerProducer);
  std::uint64_t v = 0;
  CHECK(ring.try_pop(v) == BoundedRing<std::uint64_t>::Pop::empty);
}
