#include "plugin/dispatch_context.hpp"

namespace edrid {

DispatchContext& current_dispatch() noexcept {
  thread_local DispatchContext ctx;
  return ctx;
}

}  // namespace edrid
