// Winograd F(2×2, 3×3) convolution for AVX-512, NHWC (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016).
//
// Each 2×2 block of outputs ("tile") comes from a 4×4 window of the padded input. With
//   V = Bᵀ d B   (input transform, per tile and input channel),
//   U = G g Gᵀ   (weight transform, once per weight set),
//   M[ξ] = V[ξ] · U[ξ]   for each of the 16 positions ξ (a GEMM over input channels),
//   Y = Aᵀ M A   (output transform),
// a tile costs 16 multiply-adds per (cin, cout) pair instead of the direct method's 36: 2.25×
// fewer. The transforms use only additions and halvings, so the result differs from the direct
// sum by rounding alone (tests bound it against the plain-loop reference).
//
// A call processes its tiles in chunks: transform a chunk's inputs into V[16][T][cin], run the
// 16 GEMMs into M[16][T][cout] with the same register tile as the direct kernel (12 tiles ×
// 32 output channels), then transform M into the output.
#include "CKernels.h"

#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f,avx512vl,fma")))
#define WR 12

int hs_winograd_chunk_tiles(int cin, int cout) {
    // V and M of a chunk take 64·T·(cin + cout) bytes: about 2 MiB, so that a chunk written by
    // the input transform is still in cache (L2/L3) when the GEMMs read it.
    int t = 32768 / (cin + cout);
    return t < 24 ? 24 : t;
}

// Floats between consecutive positions' planes of V and M beyond the plane itself: one cache
// line, so that the 16 planes a tile's transform touches do not all map to the same cache set
// (plane sizes are often multiples of 4 KiB).
#define PLANE_PAD 16

size_t hs_winograd_scratch_floats(int cin, int cout) {
    return (size_t)16 * ((size_t)hs_winograd_chunk_tiles(cin, cout) * (cin + cout) + 2 * PLANE_PAD);
}

void hs_winograd_pack(const float *hwio, int cin, int cout, float *u) {
    int blocks = cout / HS_CONV_BLOCK;
    for (int ci = 0; ci < cin; ci++)
        for (int co = 0; co < cout; co++) {
            double g[3][3], t[4][3], r[4][4];
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) g[ky][kx] = hwio[((size_t)(ky * 3 + kx) * cin + ci) * cout + co];
            for (int j = 0; j < 3; j++) {  // G g
                t[0][j] = g[0][j];
                t[1][j] = 0.5 * (g[0][j] + g[1][j] + g[2][j]);
                t[2][j] = 0.5 * (g[0][j] - g[1][j] + g[2][j]);
                t[3][j] = g[2][j];
            }
            for (int i = 0; i < 4; i++) {  // (G g) Gᵀ
                r[i][0] = t[i][0];
                r[i][1] = 0.5 * (t[i][0] + t[i][1] + t[i][2]);
                r[i][2] = 0.5 * (t[i][0] - t[i][1] + t[i][2]);
                r[i][3] = t[i][2];
            }
            int blk = co / HS_CONV_BLOCK, j = co % HS_CONV_BLOCK;
            for (int xi = 0; xi < 16; xi++)
                u[(((size_t)xi * blocks + blk) * cin + ci) * HS_CONV_BLOCK + j] = (float)r[xi / 4][xi % 4];
        }
}

// V[ξ][k][cin] for tiles [t0, t0 + count), tile t = (image, ty, tx) in row-major order.
static TARGET void input_transform(const float *padded, int h, int w, int cin, int t0, int count, float *v) {
    int tw = w / 2, per_image = tw * (h / 2);
    size_t prow = (size_t)(w + 2) * cin, stride = (size_t)count * cin + PLANE_PAD;
    for (int k = 0; k < count; k++) {
        int t = t0 + k, b = t / per_image, ty = (t % per_image) / tw, tx = t % tw;
        const float *base = padded + ((size_t)b * (h + 2) + 2 * ty) * prow + (size_t)2 * tx * cin;
        float *out = v + (size_t)k * cin;
        for (int c = 0; c < cin; c += 16) {
            __m512 d[4][4], r[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) d[i][j] = _mm512_loadu_ps(base + i * prow + (size_t)j * cin + c);
            for (int j = 0; j < 4; j++) {  // Bᵀ d
                r[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
                r[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
                r[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
                r[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
            }
            for (int i = 0; i < 4; i++) {  // (Bᵀ d) B
                float *o = out + (size_t)(4 * i) * stride + c;
                _mm512_storeu_ps(o, _mm512_sub_ps(r[i][0], r[i][2]));
                _mm512_storeu_ps(o + stride, _mm512_add_ps(r[i][1], r[i][2]));
                _mm512_storeu_ps(o + 2 * stride, _mm512_sub_ps(r[i][2], r[i][1]));
                _mm512_storeu_ps(o + 3 * stride, _mm512_sub_ps(r[i][1], r[i][3]));
            }
        }
    }
}

// M rows [R][32] (row stride cout) = V rows [R][cin] · U block [cin][32].
#define DEFINE_WGEMM(R)                                                                            \
    static TARGET void wgemm_##R(const float *v, int cin, const float *u, float *m, int cout) {    \
        __m512 a0[R], a1[R];                                                                        \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                     \
            a0[r] = _mm512_setzero_ps();                                                            \
            a1[r] = _mm512_setzero_ps();                                                            \
        }                                                                                           \
        for (int ci = 0; ci < cin; ci++) {                                                          \
            __m512 w0 = _mm512_loadu_ps(u + (size_t)ci * HS_CONV_BLOCK);                            \
            __m512 w1 = _mm512_loadu_ps(u + (size_t)ci * HS_CONV_BLOCK + 16);                       \
            _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                 \
                __m512 x = _mm512_set1_ps(v[(size_t)r * cin + ci]);                                 \
                a0[r] = _mm512_fmadd_ps(x, w0, a0[r]);                                              \
                a1[r] = _mm512_fmadd_ps(x, w1, a1[r]);                                              \
            }                                                                                       \
        }                                                                                           \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                     \
            _mm512_storeu_ps(m + (size_t)r * cout, a0[r]);                                          \
            _mm512_storeu_ps(m + (size_t)r * cout + 16, a1[r]);                                     \
        }                                                                                           \
    }

DEFINE_WGEMM(1) DEFINE_WGEMM(2) DEFINE_WGEMM(3) DEFINE_WGEMM(4) DEFINE_WGEMM(5) DEFINE_WGEMM(6)
DEFINE_WGEMM(7) DEFINE_WGEMM(8) DEFINE_WGEMM(9) DEFINE_WGEMM(10) DEFINE_WGEMM(11) DEFINE_WGEMM(12)

typedef void (*wgemm_fn)(const float *, int, const float *, float *, int);
static const wgemm_fn wgemms[WR + 1] = {0, wgemm_1, wgemm_2, wgemm_3, wgemm_4, wgemm_5, wgemm_6,
                                        wgemm_7, wgemm_8, wgemm_9, wgemm_10, wgemm_11, wgemm_12};

// out tiles [t0, t0 + count) = act(Aᵀ M A + bias).
static TARGET void output_transform(const float *m, int h, int w, int cout, const float *bias, int relu, int t0,
                                    int count, float *out, int out_padded) {
    int tw = w / 2, per_image = tw * (h / 2);
    size_t stride = (size_t)count * cout + PLANE_PAD;
    __m512 zero = _mm512_setzero_ps();
    for (int k = 0; k < count; k++) {
        int t = t0 + k, b = t / per_image, ty = (t % per_image) / tw, tx = t % tw;
        float *o = out_padded ? out + (((size_t)b * (h + 2) + 2 * ty + 1) * (w + 2) + 2 * tx + 1) * cout
                              : out + (((size_t)b * h + 2 * ty) * w + 2 * tx) * cout;
        size_t orow = (size_t)(out_padded ? w + 2 : w) * cout;
        const float *in = m + (size_t)k * cout;
        for (int c = 0; c < cout; c += 16) {
            __m512 s0[4], s1[4];
            for (int j = 0; j < 4; j++) {  // Aᵀ M
                __m512 m0 = _mm512_loadu_ps(in + (size_t)j * stride + c);
                __m512 m1 = _mm512_loadu_ps(in + (size_t)(4 + j) * stride + c);
                __m512 m2 = _mm512_loadu_ps(in + (size_t)(8 + j) * stride + c);
                __m512 m3 = _mm512_loadu_ps(in + (size_t)(12 + j) * stride + c);
                s0[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                s1[j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            __m512 bv = bias ? _mm512_loadu_ps(bias + c) : zero;
            __m512 y[4] = {  // (Aᵀ M) A
                _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]), bv),
                _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]), bv),
                _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]), bv),
                _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]), bv),
            };
            if (relu)
                for (int i = 0; i < 4; i++) y[i] = _mm512_max_ps(y[i], zero);
            _mm512_storeu_ps(o + c, y[0]);
            _mm512_storeu_ps(o + cout + c, y[1]);
            _mm512_storeu_ps(o + orow + c, y[2]);
            _mm512_storeu_ps(o + orow + cout + c, y[3]);
        }
    }
}

TARGET void hs_winograd_forward_avx512(const float *padded, int n, int h, int w, int cin, const float *u,
                                       const float *bias, int cout, int relu, float *out, int out_padded,
                                       float *scratch) {
    int chunk = hs_winograd_chunk_tiles(cin, cout);
    int total = n * (h / 2) * (w / 2), blocks = cout / HS_CONV_BLOCK;
    for (int t0 = 0; t0 < total; t0 += chunk) {
        int count = total - t0 < chunk ? total - t0 : chunk;
        size_t vplane = (size_t)count * cin + PLANE_PAD, mplane = (size_t)count * cout + PLANE_PAD;
        float *v = scratch, *m = scratch + 16 * vplane;
        input_transform(padded, h, w, cin, t0, count, v);
        for (int xi = 0; xi < 16; xi++)
            for (int blk = 0; blk < blocks; blk++) {
                const float *ub = u + ((size_t)xi * blocks + blk) * cin * HS_CONV_BLOCK;
                const float *vx = v + xi * vplane;
                float *mx = m + xi * mplane + blk * HS_CONV_BLOCK;
                int k = 0;
                for (; k + WR <= count; k += WR) wgemm_12(vx + (size_t)k * cin, cin, ub, mx + (size_t)k * cout, cout);
                if (k < count) wgemms[count - k](vx + (size_t)k * cin, cin, ub, mx + (size_t)k * cout, cout);
            }
        output_transform(m, h, w, cout, bias, relu, t0, count, out, out_padded);
    }
}
