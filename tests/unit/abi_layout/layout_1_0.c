#define ABI_LAYOUT_FN abi_layout_1_0
#include "abi_layout.inc"
