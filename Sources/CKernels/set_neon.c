// The kernels compiled for ARM NEON (AArch64 only, where every CPU has it).
#if defined(__aarch64__) || defined(_M_ARM64)
#include "isa/vec_neon.h"
#include "isa/kernels.h"
HV_END
#endif
