// An immutable snapshot of who subscribed to what. The router swaps in a new
// snapshot on every change; publishers resolve a type against the snapshot
// once and cache the result (see RouteCache), so the per-event cost does not
// grow with the number of patterns.
#pragma once

#include "event/content_filter.hpp"
#include "event/pattern.hpp"
#include "manager/subscription.hpp"

#include <edri/abi.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace edrid {

class ManagerRuntime;

struct Route {
  ManagerRuntime* manager;
  std::uint32_t handler_id;
  // The receiver chose this type's priority (queue.priorities).
  bool fixed_priority = false;
  std::int32_t priority = 0;
  // The manager takes only events whose payload passes this (its filters).
  const ContentFilter* filter = nullptr;
};

class SubscriptionTable {
 public:
  SubscriptionTable(std::vector<Subscription> subs, std::uint64_t version);

  // Every manager with a matching subscription, once each, with the handler
  // of its most specific matching pattern. kind: notification, request or tunnel.
  std::vector<Route> resolve(edri_kind kind, std::string_view type) const;
  std::uint64_t version() const noexcept { return version_; }
  const std::vector<Subscription>& subscriptions() const noexcept { return subs_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::vector<Subscription> subs_;
  std::unordered_map<std::string, std::vector<std::size_t>, StringHash, std::equal_to<>>
      exact_[3];
  std::vector<std::size_t> wildcard_[3];
  std::uint64_t version_;
};

}  // namespace edrid
