/* One ABI version's layout as data: every field of every struct with its
 * offset and size, and every constant, so that a test can compare versions
 * that cannot share a translation unit (each has its own abi.h). */
#ifndef EDRI_ABI_LAYOUT_H
#define EDRI_ABI_LAYOUT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct abi_layout_entry {
  const char* scope; /* struct name, or "const" */
  const char* name;  /* field or constant name, or "sizeof" */
  long long offset;  /* field offset, or the constant's value */
  size_t size;       /* field size; 0 for constants */
} abi_layout_entry;

typedef struct abi_layout {
  int major;
  int minor;
  const abi_layout_entry* entries;
  size_t count;
} abi_layout;

abi_layout abi_layout_1_0(void);
abi_layout abi_layout_1_1(void);
abi_layout abi_layout_1_2(void);
abi_layout abi_layout_1_3(void);
abi_layout abi_layout_1_4(void);
abi_layout abi_layout_now(void);

#ifdef __cplusplus
}
#endif

#endif
