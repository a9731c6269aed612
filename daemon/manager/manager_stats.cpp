#include "manager/manager_stats.hpp"

namespace edrid {

const char* to_string(Health h) noexcept {
  switch (h) {
    case Health::ok: return "ok";
    case Health::warning: return "warning";
    case Health::error: return "error";
  }
  return "ok";
}

void ManagerStats::record_error(std::string text) {
  std::lock_guard lock(errors_mutex_);
  last_errors_.push_back(std::move(text));
  if (last_errors_.size() > kKeepErrors) last_errors_.pop_front();
}

std::vector<std::string> ManagerStats::last_errors() const {
  std::lock_guard lock(errors_mutex_);
  return {last_errors_.begin(), last_errors_.end()};
}

}  // namespace edrid
