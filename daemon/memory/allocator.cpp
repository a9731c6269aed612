#include "memory/allocator.hpp"

#ifdef EDRI_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace edrid {

std::string allocator_name() {
#ifdef EDRI_WITH_MIMALLOC
  const int v = mi_version();  // e.g. 209 for 2.0.9
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10);
#else
  return "system malloc";
#endif
}

}  // namespace edrid
