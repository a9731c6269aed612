// A lifecycle step of a manager failed (creating its plugin instance,
// starting its workers, …); what() names the manager and why, and
// config_key the key at fault, for a file:line:col error.
#pragma once

#include <stdexcept>
#include <string>

namespace edrid {

class ManagerError : public std::runtime_error {
 public:
  ManagerError(const std::string& what, std::string config_key = {})
      : std::runtime_error(what), config_key_(std::move(config_key)) {}
  const std::string& config_key() const noexcept { return config_key_; }

 private:
  std::string config_key_;
};

}  // namespace edrid
