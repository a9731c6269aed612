// A spin-wait hint to the CPU: eases the loop's pressure on the core (and on
// its hyperthread sibling) while it watches memory another thread will write.
#pragma once

namespace edri::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace edri::detail
