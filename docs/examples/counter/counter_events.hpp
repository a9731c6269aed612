// The counter example's events (docs/plugin-guide.md walks through them).
#pragma once

#include <edri/event.hpp>

#include <cstdint>
#include <string>

namespace counter {

// Notification: add `by` to the counter named `key`.
struct Hit {
  std::string key;
  std::int64_t by = 1;
};
EDRI_EVENT(Hit, "counter.hit", key, by)

// A counter's value; the response to Get.
struct Count {
  std::string key;
  std::int64_t value = 0;
};
EDRI_EVENT(Count, "counter.count", key, value)

// Request: the current value of `key`.
struct Get {
  using response = Count;
  std::string key;
};
EDRI_EVENT(Get, "counter.get", key)

}  // namespace counter
