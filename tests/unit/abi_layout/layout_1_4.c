#define ABI_LAYOUT_FN abi_layout_1_4
#include "abi_layout.inc"
