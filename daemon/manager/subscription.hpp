// One subscription of a manager, as the router's table holds it.
#pragma once

#include "event/pattern.hpp"

#include <edri/abi.h>

#include <cstdint>

namespace edrid {

class ManagerRuntime;

struct Subscription {
  edri_kind kind;
  Pattern pattern;
  ManagerRuntime* manager;
  std::uint32_t handler_id;
};

}  // namespace edrid
