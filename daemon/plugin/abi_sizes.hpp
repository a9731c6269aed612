// The smallest struct_size the host accepts for each ABI struct a plugin hands
// it: the struct's size in the first minor version that had it. Plugins built
// on an older SDK keep working (the ABI is append-only); a field added later is
// read only after checking that struct_size reaches it (abi::reaches).
#pragma once

#include <edri/abi.h>

#include <cstddef>
#include <cstdint>

namespace edrid::abi {

// ABI 1.0 had no `flags`.
inline constexpr std::uint32_t kTypeOpsMin = offsetof(edri_type_ops, flags);
// Unchanged since ABI 1.0 and 1.1 respectively.
inline constexpr std::uint32_t kSendOptionsMin = sizeof(edri_send_options);
inline constexpr std::uint32_t kTunnelHandlersMin = sizeof(edri_tunnel_handlers);

// True when a struct of `struct_size` bytes has the field ending at `field_end`.
constexpr bool reaches(std::uint32_t struct_size, std::size_t field_end) noexcept {
  return struct_size >= field_end;
}

}  // namespace edrid::abi
