// The kernels compiled for AVX-512F + FMA (x86-64 only; select.c runs them where the CPU has it).
#if defined(__x86_64__) || defined(_M_X64)
#include "isa/vec_avx512.h"
#include "isa/kernels.h"
HV_END
#endif
