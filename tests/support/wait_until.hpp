// Polls a condition until it holds or time runs out: what a test waits on
// when the code under test has no event to wait for.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace probe {

// True as soon as pred() holds; false when it still does not after `within`.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds within = std::chrono::seconds(10),
                       std::chrono::milliseconds poll = std::chrono::milliseconds(2)) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace probe
