// Which malloc this process runs on (see EDRI_ALLOCATOR in CMakeLists.txt);
// logged at start and printed by edri-bench so figures name their allocator.
#pragma once

#include <string>

namespace edrid {

std::string allocator_name();

}  // namespace edrid
