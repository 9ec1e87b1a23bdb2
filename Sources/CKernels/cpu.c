#include "CKernels.h"

#include <stdlib.h>

int hs_cpu_has_avx512(void) {
    const char *off = getenv("HISTOSCREEN_DISABLE_AVX512");
    if (off && *off && *off != '0') return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

#include <malloc.h>
#include <immintrin.h>

void hs_keep_large_blocks_in_heap(void) {
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

// 16 independent accumulator chains (more than FMA latency × FMA ports), no memory traffic.
__attribute__((target("avx512f,fma"))) double hs_fma_peak_avx512(long iterations) {
    __m512 s[16];
    __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
    for (int i = 0; i < 16; i++) s[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < iterations; k++) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) s[i] = _mm512_fmadd_ps(s[i], a, b);
    }
    __m512 t = s[0];
    for (int i = 1; i < 16; i++) t = _mm512_add_ps(t, s[i]);
    return _mm512_reduce_add_ps(t);
}

__attribute__((target("avx2,fma"))) double hs_fma_peak_avx2(long iterations) {
    __m256 s[16];
    __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
    for (int i = 0; i < 16; i++) s[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < iterations; k++) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) s[i] = _mm256_fmadd_ps(s[i], a, b);
    }
    float out[8];
    __m256 t = s[0];
    for (int i = 1; i < 16; i++) t = _mm256_add_ps(t, s[i]);
    _mm256_storeu_ps(out, t);
    return out[0];
}
