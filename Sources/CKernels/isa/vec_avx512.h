// The vector vocabulary for AVX-512F (+ FMA): 16 floats per zmm register, 32 registers.
// The 3×3 kernels' register tile is 12 rows × 2 vectors (24 accumulators, 2 weight vectors and
// a broadcast).
#include <immintrin.h>

#define HV_NAME "avx512"
#define HV_SUMMARY "AVX-512F + FMA, 16 lanes"
#define HV_SET hs_kernels_avx512
#define HV_LANES 16
#define HV_TILE_ROWS 12
#define HV_TILE_VECS 2

// Every function after this point is compiled for AVX-512 (set_avx512.c ends the region).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,fma"))), apply_to = function)
#define HV_END _Pragma("clang attribute pop")
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,fma")
#define HV_END _Pragma("GCC pop_options")
#endif

typedef __m512 hv_f32;
#define hv_load(p) _mm512_loadu_ps(p)
#define hv_store(p, v) _mm512_storeu_ps((p), (v))
#define hv_set1(x) _mm512_set1_ps(x)
#define hv_zero() _mm512_setzero_ps()
#define hv_add(a, b) _mm512_add_ps((a), (b))
#define hv_sub(a, b) _mm512_sub_ps((a), (b))
#define hv_max(a, b) _mm512_max_ps((a), (b))
/// a·b + c, fused.
#define hv_fma(a, b, c) _mm512_fmadd_ps((a), (b), (c))
