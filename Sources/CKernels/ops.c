// Element-wise kernels over [rows][c] float32 buffers (c innermost). Plain loops that the
// compiler vectorises; compiled for AVX-512 where the CPU has it and portably otherwise.
#include "CKernels.h"

#include <string.h>

#define TARGET_CLONES __attribute__((target_clones("avx512f", "default")))

TARGET_CLONES
void hs_channel_sums(const float *x, size_t rows, int c, const float *mean, float *sum, float *sq) {
    if (!mean) {
        memset(sum, 0, c * sizeof(float));
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * c;
            for (int j = 0; j < c; j++) sum[j] += xr[j];
        }
    } else {
        memset(sq, 0, c * sizeof(float));
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * c;
            for (int j = 0; j < c; j++) {
                float d = xr[j] - mean[j];
                sq[j] += d * d;
            }
        }
    }
}

TARGET_CLONES
void hs_affine_relu(const float *x, size_t rows, int c, const float *scale, const float *shift, int relu, float *y) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
        if (relu) {
            for (int j = 0; j < c; j++) {
                float v = xr[j] * scale[j] + shift[j];
                yr[j] = v > 0 ? v : 0;
            }
        } else {
            for (int j = 0; j < c; j++) yr[j] = xr[j] * scale[j] + shift[j];
        }
    }
}

TARGET_CLONES
void hs_bn_backward_sums(const float *dy, const float *y, const float *xhat, size_t rows, int c, int relu,
                         float *sum_g, float *sum_gx) {
    memset(sum_g, 0, c * sizeof(float));
    memset(sum_gx, 0, c * sizeof(float));
    for (size_t r = 0; r < rows; r++) {
        const float *d = dy + r * c, *yr = y + r * c, *xr = xhat + r * c;
        for (int j = 0; j < c; j++) {
            float g = (!relu || yr[j] > 0) ? d[j] : 0;
            sum_g[j] += g;
            sum_gx[j] += g * xr[j];
        }
    }
}

TARGET_CLONES
void hs_bn_backward_apply(const float *dy, const float *y, const float *xhat, size_t rows, int c, int relu,
                          const float *k1, const float *mean_g, const float *mean_gx, float *dx) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = dy + r * c, *yr = y + r * c, *xr = xhat + r * c;
        float *o = dx + r * c;
        for (int j = 0; j < c; j++) {
            float g = (!relu || yr[j] > 0) ? d[j] : 0;
            o[j] = k1[j] * (g - mean_g[j] - xr[j] * mean_gx[j]);
        }
    }
}

TARGET_CLONES
void hs_relu(const float *x, size_t count, float *y) {
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

TARGET_CLONES
void hs_relu_backward(const float *dy, const float *y, size_t count, float *dx) {
    for (size_t i = 0; i < count; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

// 2×2 max pooling, stride 2, floor mode, NHWC, over images [0, n). `which` (may be NULL)
// receives the window position 0..3 (row-major) of each maximum; the first wins ties.
TARGET_CLONES
void hs_maxpool2x2(const float *x, int n, int h, int w, int c, float *y, uint8_t *which) {
    int oh = h / 2, ow = w / 2;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *p00 = x + (((size_t)b * h + 2 * oy) * w + 2 * ox) * c;
                const float *p01 = p00 + c, *p10 = p00 + (size_t)w * c, *p11 = p10 + c;
                float *o = y + (((size_t)b * oh + oy) * ow + ox) * c;
                uint8_t *wh = which ? which + (((size_t)b * oh + oy) * ow + ox) * c : NULL;
                for (int j = 0; j < c; j++) {
                    float m = p00[j];
                    uint8_t k = 0;
                    if (p01[j] > m) { m = p01[j]; k = 1; }
                    if (p10[j] > m) { m = p10[j]; k = 2; }
                    if (p11[j] > m) { m = p11[j]; k = 3; }
                    o[j] = m;
                    if (wh) wh[j] = k;
                }
            }
}

// The gradient of hs_maxpool2x2: each dy goes to its window's maximum; every element of
// dx [n][h][w][c] is written (rows and columns beyond 2·oh, 2·ow get 0).
TARGET_CLONES
void hs_maxpool2x2_backward(const float *dy, const uint8_t *which, int n, int h, int w, int c, float *dx) {
    int oh = h / 2, ow = w / 2;
    memset(dx, 0, (size_t)n * h * w * c * sizeof(float));
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *g = dy + (((size_t)b * oh + oy) * ow + ox) * c;
                const uint8_t *wh = which + (((size_t)b * oh + oy) * ow + ox) * c;
                float *base = dx + (((size_t)b * h + 2 * oy) * w + 2 * ox) * c;
                for (int j = 0; j < c; j++) {
                    int k = wh[j];
                    base[((size_t)(k >> 1) * w + (k & 1)) * c + j] = g[j];
                }
            }
}

// out[n][o] = bias[o] + Σ_i x[n][i] · kernel[i][o], with optional ReLU.
TARGET_CLONES
void hs_dense(const float *x, int n, int in, const float *kernel, const float *bias, int out, int relu, float *y) {
    for (int b = 0; b < n; b++) {
        float *yo = y + (size_t)b * out;
        for (int o = 0; o < out; o++) yo[o] = bias ? bias[o] : 0;
        for (int i = 0; i < in; i++) {
            float v = x[(size_t)b * in + i];
            const float *k = kernel + (size_t)i * out;
            for (int o = 0; o < out; o++) yo[o] += v * k[o];
        }
        if (relu) for (int o = 0; o < out; o++) yo[o] = yo[o] > 0 ? yo[o] : 0;
    }
}

// Global average pooling [n][hw][c] -> [n][c].
TARGET_CLONES
void hs_global_average(const float *x, int n, int hw, int c, float *y) {
    for (int b = 0; b < n; b++) {
        float *o = y + (size_t)b * c;
        memset(o, 0, c * sizeof(float));
        for (int p = 0; p < hw; p++) {
            const float *xr = x + ((size_t)b * hw + p) * c;
            for (int j = 0; j < c; j++) o[j] += xr[j];
        }
        for (int j = 0; j < c; j++) o[j] /= (float)hw;
    }
}

// xhat = (x − mean)·invstd (stored when xhat != NULL); y = xhat·gamma + beta.
TARGET_CLONES
void hs_bn_normalize(const float *x, size_t rows, int c, const float *mean, const float *invstd,
                     const float *gamma, const float *beta, int relu, float *xhat, float *y) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
        float *hr = xhat ? xhat + r * c : 0;
        for (int j = 0; j < c; j++) {
            float h = (xr[j] - mean[j]) * invstd[j];
            if (hr) hr[j] = h;
            float v = h * gamma[j] + beta[j];
            yr[j] = relu && !(v > 0) ? 0 : v;
        }
    }
}
