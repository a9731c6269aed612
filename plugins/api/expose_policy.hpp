// Which event types the generic endpoints (POST /events/{type} and the
// WebSocket) may reach. Configured routes are the operator's own mapping and
// are not filtered.
//
// The built-in namespaces (store.*, scheduler.*, edri.*, link.*) can wipe
// data, burn CPU or forge cluster notices, so a wildcard never reaches them:
// only a pattern whose first token names one does (`store.get`,
// `store.>`). The default, `[">"]`, therefore exposes every type but those.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace edri_api {

class ExposePolicy {
 public:
  static constexpr std::array<std::string_view, 4> kReserved{"store", "scheduler", "edri", "link"};

  // Throws std::invalid_argument naming a malformed pattern.
  explicit ExposePolicy(std::vector<std::string> patterns = {">"});

  // May a client send or receive an event of this type?
  bool allows(std::string_view type) const noexcept;
  // May a client subscribe to this pattern: can it match any type allowed?
  // (Events it matches that are not allowed are still filtered one by one.)
  bool allows_pattern(std::string_view pattern) const noexcept;

  const std::vector<std::string>& patterns() const noexcept { return patterns_; }

 private:
  std::vector<std::string> patterns_;
};

// True when some type name matches both patterns.
bool patterns_overlap(std::string_view a, std::string_view b) noexcept;
// True when the first token of `text` is a reserved namespace.
bool in_reserved_namespace(std::string_view text) noexcept;

}  // namespace edri_api
