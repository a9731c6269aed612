#define ABI_LAYOUT_FN abi_layout_now
#include "abi_layout.inc"
