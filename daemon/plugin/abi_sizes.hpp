// The smallest struct_size the host accepts for each ABI struct a plugin hands
// it: the struct's size in the first minor version that had it. Plugins built
// on an older SDK keep working (the ABI is append-only); a field added later is
// read only after checking that struct_size reaches it (abi::reaches).
#pragma once

#include <edri/abi.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace edrid::abi {

// ABI 1.0 had no `flags`.
inline constexpr std::uint32_t kTypeOpsMin = offsetof(edri_type_ops, flags);
// ABI 1.0 to 1.2 had no `flags`.
inline constexpr std::uint32_t kSendOptionsMin = offsetof(edri_send_options, flags);
// Unchanged since ABI 1.1.
inline constexpr std::uint32_t kTunnelHandlersMin = sizeof(edri_tunnel_handlers);

// True when a struct of `struct_size` bytes has the field ending at `field_end`.
constexpr bool reaches(std::uint32_t struct_size, std::size_t field_end) noexcept {
  return struct_size >= field_end;
}

// EDRI_SEND_* bits of send options (ABI 1.3); 0 from older plugins.
inline std::uint32_t send_flags(const edri_send_options* o) noexcept {
  return o && reaches(o->struct_size, offsetof(edri_send_options, flags) + sizeof o->flags) ? o->flags : 0u;
}

// The trace id the sender chose (ABI 1.3), or nullptr.
inline const edri_id128* send_trace_id(const edri_send_options* o) noexcept {
  if (!o || !reaches(o->struct_size, offsetof(edri_send_options, trace_id) + sizeof o->trace_id) ||
      !o->has_trace_id || (o->trace_id.hi == 0 && o->trace_id.lo == 0)) {
    return nullptr;
  }
  return &o->trace_id;
}

// The dedupe key the sender chose (ABI 1.5), or empty.
inline std::string_view send_dedupe_key(const edri_send_options* o) noexcept {
  if (!o || !reaches(o->struct_size, offsetof(edri_send_options, dedupe_key) + sizeof o->dedupe_key) ||
      !o->dedupe_key) {
    return {};
  }
  return std::string_view(o->dedupe_key);
}

}  // namespace edrid::abi
