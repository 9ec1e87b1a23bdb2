// The vector vocabulary for AVX2 + FMA: 8 floats per ymm register, 16 registers. The 3×3
// kernels' register tile is 6 rows × 2 vectors (12 accumulators, 2 weight vectors and a
// broadcast), the shape of the BLIS and OpenBLAS Haswell SGEMM kernels; a 32-channel weight
// block is covered in two 16-channel passes.
#include <immintrin.h>

#define HV_NAME "avx2"
#define HV_SUMMARY "AVX2 + FMA, 8 lanes"
#define HV_SET hs_kernels_avx2
#define HV_LANES 8
#define HV_TILE_ROWS 6
#define HV_TILE_VECS 2

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define HV_END _Pragma("clang attribute pop")
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define HV_END _Pragma("GCC pop_options")
#endif

typedef __m256 hv_f32;
#define hv_load(p) _mm256_loadu_ps(p)
#define hv_store(p, v) _mm256_storeu_ps((p), (v))
#define hv_set1(x) _mm256_set1_ps(x)
#define hv_zero() _mm256_setzero_ps()
#define hv_add(a, b) _mm256_add_ps((a), (b))
#define hv_sub(a, b) _mm256_sub_ps((a), (b))
#define hv_max(a, b) _mm256_max_ps((a), (b))
/// a·b + c, fused.
#define hv_fma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
