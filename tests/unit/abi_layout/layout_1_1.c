#define ABI_LAYOUT_FN abi_layout_1_1
#include "abi_layout.inc"
