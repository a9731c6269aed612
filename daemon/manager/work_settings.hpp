// How a manager takes its work: alone or as one member of a group of
// competing consumers, and whether an event counts as done when it is handed
// over (at most once) or only when its handler returns normally (at least
// once, with redelivery after a backoff). YAML: group, delivery,
// max_deliveries and retry on a manager (docs/configuration.md).
#pragma once

#include "event/content_filter.hpp"
#include "event/pattern.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edrid {

enum class DeliveryMode : std::uint8_t { at_most_once, at_least_once };
inline std::string_view to_string(DeliveryMode m) noexcept {
  return m == DeliveryMode::at_least_once ? "at_least_once" : "at_most_once";
}

struct RetrySettings {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{30'000};
  double multiplier = 2.0;
};

// Events of the types `pattern` matches reach the manager only when their
// payload passes `filter` (YAML filters, Context::filter).
struct TypeFilter {
  Pattern pattern;
  std::shared_ptr<const ContentFilter> filter;
};

struct WorkSettings {
  // Managers with the same group share the work of the types they
  // subscribe to: each event goes to one of them. Empty: every manager
  // subscribed gets it.
  std::string group;
  // Per type (delivery as a map): the first pattern that matches decides;
  // `delivery` is for the types none matches.
  DeliveryMode delivery = DeliveryMode::at_most_once;
  std::vector<std::pair<Pattern, DeliveryMode>> delivery_by_type;
  // Deliveries of one event at most, the first included (at least once).
  std::uint32_t max_deliveries = 5;
  RetrySettings retry;
  // How long the group (or the manager, outside one) remembers the ids of
  // the events it finished, to skip one that comes again; 0: never.
  std::chrono::milliseconds dedupe{0};
  // Content filters by type: the first pattern that matches decides; types
  // none matches are not filtered.
  std::vector<TypeFilter> filters;

  DeliveryMode delivery_for(std::string_view type) const noexcept {
    for (const auto& [pattern, mode] : delivery_by_type) {
      if (pattern.matches(type)) return mode;
    }
    return delivery;
  }
  bool at_least_once(std::string_view type) const noexcept {
    return delivery_for(type) == DeliveryMode::at_least_once;
  }
  // Whether any type goes at least once (the retry settings matter).
  bool any_at_least_once() const noexcept {
    return delivery == DeliveryMode::at_least_once ||
           std::any_of(delivery_by_type.begin(), delivery_by_type.end(),
                       [](const auto& d) { return d.second == DeliveryMode::at_least_once; });
  }
  // What /stats shows.
  std::string_view delivery_name() const noexcept { return delivery_by_type.empty() ? to_string(delivery) : "per type"; }
  // The wait before delivery `next` (2 for the first retry):
  // initial × multiplier^(next - 2), at most max.
  std::chrono::milliseconds backoff(std::uint32_t next) const noexcept {
    const double ms = static_cast<double>(retry.initial.count()) *
                      std::pow(retry.multiplier, static_cast<double>(next < 2 ? 0 : next - 2));
    return std::chrono::milliseconds(
        static_cast<std::int64_t>(std::min(ms, static_cast<double>(retry.max.count()))));
  }
};

}  // namespace edrid
