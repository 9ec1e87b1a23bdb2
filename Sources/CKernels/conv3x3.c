// Direct 3×3 convolution for AVX-512, NHWC.
//
// The microkernel keeps an R × 32 tile of outputs (R pixels along a row, 32 output
// channels = two zmm vectors) in 2R registers. For every tap (ky, kx, ci) it loads the 32
// weights once and broadcasts one input value per pixel: 2R FMAs per 2 loads + R broadcasts,
// so it is bound by FMA throughput, not by loads. R = 12 uses 24 accumulators.
#include "CKernels.h"

#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f,avx512vl,fma")))
#define MAX_R 12

void hs_conv3x3_pack(const float *hwio, int cin, int cout, int flip_transpose, float *packed) {
    if (!flip_transpose) {
        // [cout/32][3][3][cin][32]
        for (int b = 0; b < cout / HS_CONV_BLOCK; b++)
            for (int t = 0; t < 9; t++)
                for (int ci = 0; ci < cin; ci++)
                    memcpy(packed + (((size_t)b * 9 + t) * cin + ci) * HS_CONV_BLOCK,
                           hwio + ((size_t)t * cin + ci) * cout + b * HS_CONV_BLOCK, HS_CONV_BLOCK * sizeof(float));
    } else {
        // The input-gradient convolution maps cout channels to cin: [cin/32][3][3][cout][32].
        for (int b = 0; b < cin / HS_CONV_BLOCK; b++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                    for (int co = 0; co < cout; co++)
                        for (int j = 0; j < HS_CONV_BLOCK; j++) {
                            int ci = b * HS_CONV_BLOCK + j;
                            packed[(((size_t)b * 9 + ky * 3 + kx) * cout + co) * HS_CONV_BLOCK + j] =
                                hwio[(((size_t)(2 - ky) * 3 + (2 - kx)) * cin + ci) * cout + co];
                        }
    }
}

void hs_pad1(const float *x, int n, int h, int w, int c, float *padded) {
    size_t prow = (size_t)(w + 2) * c;
    hs_zero_border(padded, n, h, w, c);
    for (int b = 0; b < n; b++)
        for (int y = 0; y < h; y++)
            memcpy(padded + (((size_t)b * (h + 2) + y + 1) * prow) + c, x + (((size_t)b * h + y) * w) * c,
                   (size_t)w * c * sizeof(float));
}

// One R-pixel × 32-channel output tile. `in` points at padded[n][y][x0][0] (the window's
// top-left), `wb` at the packed block, `out` at out[n][y][x0][co0].
#define DEFINE_TILE(R)                                                                              \
    static TARGET void tile_##R(const float *in, size_t prow, int cin, const float *wb,            \
                                const float *bias, int relu, float *out, int cout) {                \
        __m512 a0[R], a1[R];                                                                         \
        __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();                              \
        __m512 b1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();                         \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) { a0[r] = b0; a1[r] = b1; }             \
        for (int ky = 0; ky < 3; ky++) {                                                             \
            for (int kx = 0; kx < 3; kx++) {                                                         \
                const float *ip = in + ky * prow + (size_t)kx * cin;                                 \
                const float *wp = wb + (size_t)(ky * 3 + kx) * cin * HS_CONV_BLOCK;                  \
                for (int ci = 0; ci < cin; ci++) {                                                   \
                    __m512 w0 = _mm512_loadu_ps(wp + (size_t)ci * HS_CONV_BLOCK);                     \
                    __m512 w1 = _mm512_loadu_ps(wp + (size_t)ci * HS_CONV_BLOCK + 16);                \
                    _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                          \
                        __m512 xv = _mm512_set1_ps(ip[(size_t)r * cin + ci]);                        \
                        a0[r] = _mm512_fmadd_ps(xv, w0, a0[r]);                                       \
                        a1[r] = _mm512_fmadd_ps(xv, w1, a1[r]);                                       \
                    }                                                                                \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
        __m512 zero = _mm512_setzero_ps();                                                           \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                      \
            if (relu) { a0[r] = _mm512_max_ps(a0[r], zero); a1[r] = _mm512_max_ps(a1[r], zero); }   \
            _mm512_storeu_ps(out + (size_t)r * cout, a0[r]);                                         \
            _mm512_storeu_ps(out + (size_t)r * cout + 16, a1[r]);                                    \
        }                                                                                            \
    }

DEFINE_TILE(1) DEFINE_TILE(2) DEFINE_TILE(3) DEFINE_TILE(4) DEFINE_TILE(5) DEFINE_TILE(6)
DEFINE_TILE(7) DEFINE_TILE(8) DEFINE_TILE(9) DEFINE_TILE(10) DEFINE_TILE(11) DEFINE_TILE(12)

typedef void (*tile_fn)(const float *, size_t, int, const float *, const float *, int, float *, int);
static const tile_fn tiles[MAX_R + 1] = {0, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6,
                                         tile_7, tile_8, tile_9, tile_10, tile_11, tile_12};

static TARGET void conv3x3_forward(const float *padded, int h, int w, int cin, const float *packed, const float *bias,
                                   int cout, int relu, float *out, int row_begin, int row_end, int out_padded) {
    size_t prow = (size_t)(w + 2) * cin;
    size_t block = (size_t)9 * cin * HS_CONV_BLOCK;
    // Groups of rows (about 384 output pixels) outermost, so that their input rows stay in
    // cache while every block of output channels is computed from them; on a whole training
    // batch the input is far larger than the caches.
    int group = w >= 384 ? 1 : 384 / w;
    for (int r0 = row_begin; r0 < row_end; r0 += group) {
        int r1 = r0 + group < row_end ? r0 + group : row_end;
        for (int b = 0; b < cout / HS_CONV_BLOCK; b++) {
            const float *wb = packed + b * block;
            const float *bb = bias ? bias + b * HS_CONV_BLOCK : NULL;
            for (int row = r0; row < r1; row++) {
                int img = row / h, y = row % h;
                const float *in_row = padded + ((size_t)img * (h + 2) + y) * prow;
                float *out_row = (out_padded ? out + (((size_t)img * (h + 2) + y + 1) * (w + 2) + 1) * cout
                                             : out + ((size_t)row * w) * cout) + b * HS_CONV_BLOCK;
                int x = 0;
                for (; x + MAX_R <= w; x += MAX_R)
                    tile_12(in_row + (size_t)x * cin, prow, cin, wb, bb, relu, out_row + (size_t)x * cout, cout);
                if (x < w) tiles[w - x](in_row + (size_t)x * cin, prow, cin, wb, bb, relu, out_row + (size_t)x * cout, cout);
            }
        }
    }
}

TARGET void hs_conv3x3_forward_avx512(const float *padded, int h, int w, int cin, const float *packed,
                                      const float *bias, int cout, int relu, float *out, int row_begin, int row_end) {
    conv3x3_forward(padded, h, w, cin, packed, bias, cout, relu, out, row_begin, row_end, 0);
}

TARGET void hs_conv3x3_forward_padded_out_avx512(const float *padded, int h, int w, int cin, const float *packed,
                                                 const float *bias, int cout, int relu, float *out, int row_begin,
                                                 int row_end) {
    conv3x3_forward(padded, h, w, cin, packed, bias, cout, relu, out, row_begin, row_end, 1);
}

void hs_zero_border(float *padded, int n, int h, int w, int c) {
    size_t prow = (size_t)(w + 2) * c;
    for (int b = 0; b < n; b++) {
        float *img = padded + (size_t)b * (h + 2) * prow;
        memset(img, 0, prow * sizeof(float));
        memset(img + (size_t)(h + 1) * prow, 0, prow * sizeof(float));
        for (int y = 1; y <= h; y++) {
            memset(img + (size_t)y * prow, 0, c * sizeof(float));
            memset(img + (size_t)y * prow + (size_t)(w + 1) * c, 0, c * sizeof(float));
        }
    }
}

// Weight-gradient tile: R input channels × 32 output channels of one tap, accumulated over
// the pixels of rows [0, rows) (each row `w` pixels). `a` points at padded[n][y+ky][kx][ci0],
// `g` at dy[n][y][0][co0]; `acc` is dW[ky][kx][ci0][co0] with row stride cout.
#define DEFINE_WTILE(R)                                                                             \
    static TARGET void wtile_##R(const float *a, size_t arow, size_t aimg, const float *g,         \
                                 size_t grow, size_t gimg, int images, int rows, int w, int cin,     \
                                 int cout, float *acc) {                                             \
        __m512 s0[R], s1[R];                                                                         \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                      \
            s0[r] = _mm512_loadu_ps(acc + (size_t)r * cout);                                          \
            s1[r] = _mm512_loadu_ps(acc + (size_t)r * cout + 16);                                     \
        }                                                                                            \
        for (int row = 0; row < images * rows; row++) {                                              \
            const float *ap = a + (size_t)(row / rows) * aimg + (size_t)(row % rows) * arow;          \
            const float *gp = g + (size_t)(row / rows) * gimg + (size_t)(row % rows) * grow;          \
            for (int x = 0; x < w; x++) {                                                            \
                __m512 g0 = _mm512_loadu_ps(gp + (size_t)x * cout);                                   \
                __m512 g1 = _mm512_loadu_ps(gp + (size_t)x * cout + 16);                              \
                _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                              \
                    __m512 av = _mm512_set1_ps(ap[(size_t)x * cin + r]);                             \
                    s0[r] = _mm512_fmadd_ps(av, g0, s0[r]);                                           \
                    s1[r] = _mm512_fmadd_ps(av, g1, s1[r]);                                           \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                      \
            _mm512_storeu_ps(acc + (size_t)r * cout, s0[r]);                                         \
            _mm512_storeu_ps(acc + (size_t)r * cout + 16, s1[r]);                                    \
        }                                                                                            \
    }

DEFINE_WTILE(1) DEFINE_WTILE(2) DEFINE_WTILE(3) DEFINE_WTILE(4) DEFINE_WTILE(5) DEFINE_WTILE(6)
DEFINE_WTILE(7) DEFINE_WTILE(8) DEFINE_WTILE(9) DEFINE_WTILE(10) DEFINE_WTILE(11) DEFINE_WTILE(12)

typedef void (*wtile_fn)(const float *, size_t, size_t, const float *, size_t, size_t, int, int, int, int, int, float *);
static const wtile_fn wtiles[MAX_R + 1] = {0, wtile_1, wtile_2, wtile_3, wtile_4, wtile_5, wtile_6,
                                           wtile_7, wtile_8, wtile_9, wtile_10, wtile_11, wtile_12};

TARGET void hs_conv3x3_weight_grad_avx512(const float *padded, const float *dy, int n, int h, int w, int cin,
                                          int cout, float *dw, int accumulate, int block_begin, int block_end) {
    size_t prow = (size_t)(w + 2) * cin, grow = (size_t)w * cout;
    if (!accumulate)
        for (int t = 0; t < 9; t++)
            for (int ci = 0; ci < cin; ci++)
                memset(dw + ((size_t)t * cin + ci) * cout + block_begin * HS_CONV_BLOCK, 0,
                       (size_t)(block_end - block_begin) * HS_CONV_BLOCK * sizeof(float));
    size_t aimg = (size_t)(h + 2) * prow, gimg = (size_t)h * grow;
    if (h * w <= 64) {
        // Small images (deep layers): each tile sweeps a group of whole images, so the dW tile
        // stays in registers across them instead of being loaded and stored once per image
        // (dW is up to 9·512·512 floats, far beyond L2). A group's rows of one 12-channel
        // input tile and of the gradient stay in L2 across the taps and output blocks.
        int group = n < 8 ? n : 8;
        for (int b0 = 0; b0 < n; b0 += group) {
            int images = n - b0 < group ? n - b0 : group;
            for (int ci = 0; ci < cin; ci += MAX_R) {
                int r = cin - ci < MAX_R ? cin - ci : MAX_R;
                for (int blk = block_begin; blk < block_end; blk++) {
                    int co0 = blk * HS_CONV_BLOCK;
                    const float *g = dy + (size_t)b0 * gimg + co0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            const float *a = padded + (size_t)b0 * aimg + ((size_t)ky * (w + 2) + kx) * cin + ci;
                            float *acc = dw + ((size_t)(ky * 3 + kx) * cin + ci) * cout + co0;
                            wtiles[r](a, prow, aimg, g, grow, gimg, images, h, w, cin, cout, acc);
                        }
                }
            }
        }
        return;
    }
    // Rows per chunk: about 256 pixels, so a chunk's inputs and gradients stay in L2 while
    // every (tap, ci, co) tile sweeps over them.
    int chunk = w >= 256 ? 1 : 256 / w;
    for (int b = 0; b < n; b++) {
        for (int y0 = 0; y0 < h; y0 += chunk) {
            int rows = h - y0 < chunk ? h - y0 : chunk;
            const float *g = dy + ((size_t)b * h + y0) * grow;
            for (int blk = block_begin; blk < block_end; blk++) {
                int co0 = blk * HS_CONV_BLOCK;
                for (int ky = 0; ky < 3; ky++) {
                    for (int kx = 0; kx < 3; kx++) {
                        const float *a = padded + (((size_t)b * (h + 2) + y0 + ky) * (w + 2) + kx) * cin;
                        float *acc = dw + ((size_t)(ky * 3 + kx) * cin) * cout + co0;
                        int ci = 0;
                        for (; ci + MAX_R <= cin; ci += MAX_R)
                            wtile_12(a + ci, prow, aimg, g + co0, grow, gimg, 1, rows, w, cin, cout, acc + (size_t)ci * cout);
                        if (ci < cin)
                            wtiles[cin - ci](a + ci, prow, aimg, g + co0, grow, gimg, 1, rows, w, cin, cout,
                                             acc + (size_t)ci * cout);
                    }
                }
            }
        }
    }
}
