// The table of host functions handed to every plugin (edri_host_api).
#pragma once

#include <edri/abi.h>

namespace edrid {

const edri_host_api& host_api() noexcept;

}  // namespace edrid
