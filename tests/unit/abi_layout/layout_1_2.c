#define ABI_LAYOUT_FN abi_layout_1_2
#include "abi_layout.inc"
