#include "CImaging.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#pragma STDC FP_CONTRACT OFF

static inline uint8_t to_byte(float v) {
    float t = v + 0.5f;  // sums are ≥ 0: truncation rounds half up
    return (uint8_t)(t > 255.0f ? 255.0f : t);
}

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target_clones("avx2", "default")))  // the vertical pass widens to 8 lanes
#endif
void hs_resample_u8(const uint8_t *src, size_t row_length, int channels,
                    const int64_t *y_offsets, const float *y_weights, int ny, int out_h,
                    const int64_t *x_offsets, const float *x_weights, int nx, int out_w,
                    float *row, uint8_t *dst) {
    for (int oy = 0; oy < out_h; oy++) {
        const int64_t *yo = y_offsets + (size_t)oy * ny;
        const float *yw = y_weights + (size_t)oy * ny;
        {
            const uint8_t *r0 = src + yo[0];
            float w0 = yw[0];
            for (size_t i = 0; i < row_length; i++) row[i] = 0.0f + w0 * (float)r0[i];
        }
        for (int k = 1; k < ny; k++) {
            const uint8_t *rk = src + yo[k];
            float wk = yw[k];
            for (size_t i = 0; i < row_length; i++) row[i] += wk * (float)rk[i];
        }
        uint8_t *out = dst + (size_t)oy * out_w * channels;
        if (channels == 3) {
#if defined(__SSE2__)
            // One pixel's three channels in the low lanes of a vector (the fourth lane reads the
            // next pixel, or the row's padding, and is discarded): the same products and sums,
            // in the same order, as the scalar loop below.
            const __m128 half = _mm_set1_ps(0.5f), top = _mm_set1_ps(255.0f);
            for (int ox = 0; ox < out_w; ox++) {
                const int64_t *xo = x_offsets + (size_t)ox * nx;
                const float *xw = x_weights + (size_t)ox * nx;
                __m128 acc = _mm_setzero_ps();
                for (int k = 0; k < nx; k++) acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(xw[k]), _mm_loadu_ps(row + xo[k])));
                __m128i v = _mm_cvttps_epi32(_mm_min_ps(_mm_add_ps(acc, half), top));
                v = _mm_packus_epi16(_mm_packs_epi32(v, v), v);
                uint32_t bytes = (uint32_t)_mm_cvtsi128_si32(v);
                memcpy(out + 3 * ox, &bytes, 3);
            }
            continue;
#endif
            for (int ox = 0; ox < out_w; ox++) {
                const int64_t *xo = x_offsets + (size_t)ox * nx;
                const float *xw = x_weights + (size_t)ox * nx;
                float r = 0, g = 0, b = 0;
                for (int k = 0; k < nx; k++) {
                    const float *p = row + xo[k];
                    float w = xw[k];
                    r += w * p[0];
                    g += w * p[1];
                    b += w * p[2];
                }
                out[3 * ox] = to_byte(r);
                out[3 * ox + 1] = to_byte(g);
                out[3 * ox + 2] = to_byte(b);
            }
        } else {
            for (int ox = 0; ox < out_w; ox++) {
                const int64_t *xo = x_offsets + (size_t)ox * nx;
                const float *xw = x_weights + (size_t)ox * nx;
                for (int ch = 0; ch < channels; ch++) {
                    float sum = 0;
                    for (int k = 0; k < nx; k++) sum += xw[k] * row[xo[k] + ch];
                    out[ox * channels + ch] = to_byte(sum);
                }
            }
        }
    }
}
