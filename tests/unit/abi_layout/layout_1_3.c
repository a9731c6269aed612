#define ABI_LAYOUT_FN abi_layout_1_3
#include "abi_layout.inc"
