#include "router/subscription_table.hpp"

#include <algorithm>

namespace edrid {
namespace {
int slot(edri_kind k) noexcept { return k == EDRI_KIND_REQUEST ? 1 : k == EDRI_KIND_TUNNEL ? 2 : 0; }
}  // namespace

SubscriptionTable::SubscriptionTable(std::vector<Subscription> subs, std::uint64_t version)
    : subs_(std::move(subs)), version_(version) {
  for (std::size_t i = 0; i < subs_.size(); ++i) {
    const auto& s = subs_[i];
    if (s.kind == EDRI_KIND_RESPONSE) continue;
    if (s.pattern.is_literal()) {
      exact_[slot(s.kind)][s.pattern.text()].push_back(i);
    } else {
      wildcard_[slot(s.kind)].push_back(i);
    }
  }
}

std::vector<Route> SubscriptionTable::resolve(edri_kind kind, std::string_view type) const {
  std::vector<Route> routes;
  std::vector<int> best;  // specificity of routes[i]
  auto consider = [&](const Subscription& s) {
    for (std::size_t i = 0; i < routes.size(); ++i) {
      if (routes[i].manager == s.manager) {
        if (s.pattern.specificity() > best[i]) {
          routes[i].handler_id = s.handler_id;
          best[i] = s.pattern.specificity();
        }
        return;
      }
    }
    routes.push_back({s.manager, s.handler_id});
    best.push_back(s.pattern.specificity());
  };
  const int k = slot(kind);
  if (auto it = exact_[k].find(type); it != exact_[k].end()) {
    for (std::size_t i : it->second) consider(subs_[i]);
  }
  for (std::size_t i : wildcard_[k]) {
    if (subs_[i].pattern.matches(type)) consider(subs_[i]);
  }
  return routes;
}

}  // namespace edrid
