// The engine's kernels, written once against the vector vocabulary of isa/vec_*.h and
// included by one translation unit per instruction set (set_*.c), which compiles them for
// that set and ends with its table, HV_SET. Everything here is static.
//
// The vocabulary: hv_f32 (HV_LANES floats), hv_load/hv_store (unaligned), hv_set1, hv_zero,
// hv_add, hv_sub, hv_max, hv_fma(a, b, c) = a·b + c; and the register tile of the GEMM-shaped
// loops, HV_TILE_ROWS rows × HV_TILE_VECS vectors.
//
// Layouts: activations NHWC; weights packed by hs_conv3x3_pack / hs_winograd_pack.
#include "../internal.h"

#include <string.h>

#define HV_TILE_COLS (HV_TILE_VECS * HV_LANES)
#if HS_CONV_BLOCK % HV_TILE_COLS != 0
#error "a weight block must be a whole number of tile columns"
#endif
#define HV_SUBCOLUMNS (HS_CONV_BLOCK / HV_TILE_COLS)

// Instantiates X(R) for R = 1 … HV_TILE_ROWS.
// The full-size tile of each kind is called directly (HV_FULL(conv_tile_) is conv_tile_12 on
// AVX-512), the remainders through a table.
#define HV_PASTE_(a, b) a##b
#define HV_PASTE(a, b) HV_PASTE_(a, b)
#define HV_FULL(name) HV_PASTE(name, HV_TILE_ROWS)

#define HV_ROWS_4(X) X(1) X(2) X(3) X(4)
#define HV_ROWS_6(X) HV_ROWS_4(X) X(5) X(6)
#define HV_ROWS_12(X) HV_ROWS_6(X) X(7) X(8) X(9) X(10) X(11) X(12)
#if HV_TILE_ROWS == 4
#define HV_ROWS(X) HV_ROWS_4(X)
#elif HV_TILE_ROWS == 6
#define HV_ROWS(X) HV_ROWS_6(X)
#elif HV_TILE_ROWS == 12
#define HV_ROWS(X) HV_ROWS_12(X)
#else
#error "HV_TILE_ROWS must be 4, 6 or 12"
#endif

// MARK: The microkernel

// The GEMM microkernel every convolution here shares: an R × HV_TILE_COLS tile of accumulators
//   acc[r][·] += Σ_{i<k} a[r·ar + i·ak] · b[i·bk + (0 … HV_TILE_COLS)]
// For each i it loads one row of b (HV_TILE_VECS vectors) and broadcasts R values of a:
// R·HV_TILE_VECS multiply-adds per HV_TILE_VECS loads and R broadcasts, so it is bound by
// multiply-add throughput. A macro, so that R is a constant and the tile stays in registers.
#define HV_MICRO(R, acc, a, ar, ak, b, bk, k)                                                    \
    for (int i_ = 0; i_ < (k); i_++) {                                                           \
        hv_f32 bv_[HV_TILE_VECS];                                                                \
        _Pragma("GCC unroll 16") for (int v_ = 0; v_ < HV_TILE_VECS; v_++)                      \
            bv_[v_] = hv_load((b) + (size_t)i_ * (bk) + v_ * HV_LANES);                          \
        _Pragma("GCC unroll 16") for (int r_ = 0; r_ < (R); r_++) {                             \
            hv_f32 x_ = hv_set1((a)[(size_t)r_ * (ar) + (size_t)i_ * (ak)]);                     \
            _Pragma("GCC unroll 16") for (int v_ = 0; v_ < HV_TILE_VECS; v_++)                  \
                acc[r_][v_] = hv_fma(x_, bv_[v_], acc[r_][v_]);                                  \
        }                                                                                        \
    }

// Stores an R-row tile (row stride `ld`), through max(0, ·) when relu.
#define HV_STORE_TILE(R, acc, out, ld, relu)                                                     \
    do {                                                                                         \
        hv_f32 zero_ = hv_zero();                                                                \
        _Pragma("GCC unroll 16") for (int r_ = 0; r_ < (R); r_++)                               \
            _Pragma("GCC unroll 16") for (int v_ = 0; v_ < HV_TILE_VECS; v_++) {                \
                hv_f32 y_ = (relu) ? hv_max(acc[r_][v_], zero_) : acc[r_][v_];                   \
                hv_store((out) + (size_t)r_ * (ld) + v_ * HV_LANES, y_);                         \
            }                                                                                    \
    } while (0)

// MARK: Direct 3×3 convolution

// One R-pixel × HV_TILE_COLS-channel output tile. `in` points at padded[n][y][x0][0] (the
// window's top-left), `wb` at the packed block's first tile column, `out` at out[n][y][x0][co0].
#define HV_CONV_TILE(R)                                                                          \
    static void conv_tile_##R(const float *in, size_t prow, int cin, const float *wb,           \
                              const float *bias, int relu, float *out, int cout) {               \
        hv_f32 acc[R][HV_TILE_VECS];                                                             \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                    \
            _Pragma("GCC unroll 16") for (int v = 0; v < HV_TILE_VECS; v++)                     \
                acc[r][v] = bias ? hv_load(bias + v * HV_LANES) : hv_zero();                     \
        for (int ky = 0; ky < 3; ky++)                                                           \
            for (int kx = 0; kx < 3; kx++) {                                                     \
                const float *ip = in + ky * prow + (size_t)kx * cin;                             \
                const float *wp = wb + (size_t)(ky * 3 + kx) * cin * HS_CONV_BLOCK;              \
                HV_MICRO(R, acc, ip, cin, 1, wp, HS_CONV_BLOCK, cin)                             \
            }                                                                                    \
        HV_STORE_TILE(R, acc, out, cout, relu);                                                  \
    }
HV_ROWS(HV_CONV_TILE)

typedef void (*conv_tile_fn)(const float *, size_t, int, const float *, const float *, int, float *, int);
#define HV_CONV_TILE_ENTRY(R) conv_tile_##R,
static const conv_tile_fn conv_tiles[HV_TILE_ROWS + 1] = {0, HV_ROWS(HV_CONV_TILE_ENTRY)};

static void conv3x3_forward(const float *padded, int h, int w, int cin, const float *packed, const float *bias,
                            int cout, int relu, float *out, int row_begin, int row_end, int out_padded) {
    size_t prow = (size_t)(w + 2) * cin;
    size_t block = (size_t)9 * cin * HS_CONV_BLOCK;
    // Groups of rows (about 384 output pixels) outermost, so that their input rows stay in
    // cache while every block of output channels is computed from them; on a whole training
    // batch the input is far larger than the caches.
    int group = w >= 384 ? 1 : 384 / w;
    for (int r0 = row_begin; r0 < row_end; r0 += group) {
        int r1 = r0 + group < row_end ? r0 + group : row_end;
        for (int col = 0; col < cout / HV_TILE_COLS; col++) {
            int b = col / HV_SUBCOLUMNS, co0 = col * HV_TILE_COLS;
            const float *wb = packed + b * block + (co0 - b * HS_CONV_BLOCK);
            const float *bb = bias ? bias + co0 : NULL;
            for (int row = r0; row < r1; row++) {
                int img = row / h, y = row % h;
                const float *in_row = padded + ((size_t)img * (h + 2) + y) * prow;
                float *out_row = (out_padded ? out + (((size_t)img * (h + 2) + y + 1) * (w + 2) + 1) * cout
                                             : out + ((size_t)row * w) * cout) + co0;
                int x = 0;
                for (; x + HV_TILE_ROWS <= w; x += HV_TILE_ROWS)
                    HV_FULL(conv_tile_)(in_row + (size_t)x * cin, prow, cin, wb, bb, relu, out_row + (size_t)x * cout,
                                        cout);
                if (x < w)
                    conv_tiles[w - x](in_row + (size_t)x * cin, prow, cin, wb, bb, relu, out_row + (size_t)x * cout, cout);
            }
        }
    }
}

// MARK: Convolutions of any window

// One R-pixel × HV_TILE_COLS-channel output tile of a general convolution. `in` points at the
// first window's top-left pixel, `astride` floats between consecutive pixels' windows (sw·cin).
#define HV_GCONV_TILE(R)                                                                         \
    static void gconv_tile_##R(const float *in, size_t prow, int cin, size_t astride, const hs_window *g, \
                               const float *wb, const float *bias, int relu, float *out, int cout) { \
        hv_f32 acc[R][HV_TILE_VECS];                                                             \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                    \
            _Pragma("GCC unroll 16") for (int v = 0; v < HV_TILE_VECS; v++)                     \
                acc[r][v] = bias ? hv_load(bias + v * HV_LANES) : hv_zero();                     \
        for (int ky = 0; ky < g->kh; ky++)                                                       \
            for (int kx = 0; kx < g->kw; kx++) {                                                 \
                const float *ip = in + (size_t)ky * g->dh * prow + (size_t)kx * g->dw * cin;     \
                const float *wp = wb + (size_t)(ky * g->kw + kx) * cin * HS_CONV_BLOCK;          \
                HV_MICRO(R, acc, ip, astride, 1, wp, HS_CONV_BLOCK, cin)                         \
            }                                                                                    \
        HV_STORE_TILE(R, acc, out, cout, relu);                                                  \
    }
HV_ROWS(HV_GCONV_TILE)

typedef void (*gconv_tile_fn)(const float *, size_t, int, size_t, const hs_window *, const float *, const float *, int,
                              float *, int);
#define HV_GCONV_TILE_ENTRY(R) gconv_tile_##R,
static const gconv_tile_fn gconv_tiles[HV_TILE_ROWS + 1] = {0, HV_ROWS(HV_GCONV_TILE_ENTRY)};

static void conv_forward(const float *padded, int ph, int pw, int cin, const hs_window *g, const float *packed,
                         const float *bias, int cout, int relu, float *out, int row_begin, int row_end) {
    size_t prow = (size_t)pw * cin, astride = (size_t)g->sw * cin;
    size_t block = (size_t)g->kh * g->kw * cin * HS_CONV_BLOCK;
    int ow = g->ow, oh = g->oh;
    // As conv3x3_forward: groups of about 384 output pixels outermost, every channel block inside.
    int group = ow >= 384 ? 1 : 384 / ow;
    for (int r0 = row_begin; r0 < row_end; r0 += group) {
        int r1 = r0 + group < row_end ? r0 + group : row_end;
        for (int col = 0; col < cout / HV_TILE_COLS; col++) {
            int b = col / HV_SUBCOLUMNS, co0 = col * HV_TILE_COLS;
            const float *wb = packed + b * block + (co0 - b * HS_CONV_BLOCK);
            const float *bb = bias ? bias + co0 : NULL;
            for (int row = r0; row < r1; row++) {
                int img = row / oh, y = row % oh;
                const float *in_row = padded + ((size_t)img * ph + (size_t)y * g->sh) * prow;
                float *out_row = out + (size_t)row * ow * cout + co0;
                int x = 0;
                for (; x + HV_TILE_ROWS <= ow; x += HV_TILE_ROWS)
                    HV_FULL(gconv_tile_)(in_row + x * astride, prow, cin, astride, g, wb, bb, relu,
                                         out_row + (size_t)x * cout, cout);
                if (x < ow)
                    gconv_tiles[ow - x](in_row + x * astride, prow, cin, astride, g, wb, bb, relu,
                                        out_row + (size_t)x * cout, cout);
            }
        }
    }
}

// One R-row × HV_TILE_COLS-column tile of out = a · W.
#define HV_GEMM_TILE(R)                                                                          \
    static void gemm_tile_##R(const float *a, int k, const float *wb, const float *bias, int relu, \
                              float *out, int cout) {                                            \
        hv_f32 acc[R][HV_TILE_VECS];                                                             \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                    \
            _Pragma("GCC unroll 16") for (int v = 0; v < HV_TILE_VECS; v++)                     \
                acc[r][v] = bias ? hv_load(bias + v * HV_LANES) : hv_zero();                     \
        HV_MICRO(R, acc, a, k, 1, wb, HS_CONV_BLOCK, k)                                          \
        HV_STORE_TILE(R, acc, out, cout, relu);                                                  \
    }
HV_ROWS(HV_GEMM_TILE)

typedef void (*gemm_tile_fn)(const float *, int, const float *, const float *, int, float *, int);
#define HV_GEMM_TILE_ENTRY(R) gemm_tile_##R,
static const gemm_tile_fn gemm_tiles[HV_TILE_ROWS + 1] = {0, HV_ROWS(HV_GEMM_TILE_ENTRY)};

static void gemm_forward(const float *a, size_t m, int k, const float *packed, const float *bias, int cout, int relu,
                         float *out) {
    size_t block = (size_t)k * HS_CONV_BLOCK;
    // Groups of rows that stay in cache while every column block is computed from them.
    size_t group = (size_t)(k >= 4096 ? 1 : 4096 / k) * HV_TILE_ROWS;
    for (size_t r0 = 0; r0 < m; r0 += group) {
        size_t r1 = r0 + group < m ? r0 + group : m;
        for (int col = 0; col < cout / HV_TILE_COLS; col++) {
            int b = col / HV_SUBCOLUMNS, co0 = col * HV_TILE_COLS;
            const float *wb = packed + b * block + (co0 - b * HS_CONV_BLOCK);
            const float *bb = bias ? bias + co0 : NULL;
            size_t r = r0;
            for (; r + HV_TILE_ROWS <= r1; r += HV_TILE_ROWS)
                HV_FULL(gemm_tile_)(a + r * k, k, wb, bb, relu, out + r * cout + co0, cout);
            if (r < r1) gemm_tiles[r1 - r](a + r * k, k, wb, bb, relu, out + r * cout + co0, cout);
        }
    }
}

// MARK: Depthwise convolution and pooling over any window (channels innermost; plain loops)

static void depthwise_conv(const float *x, int n, int h, int w, int c, const hs_window *g, const float *kernel,
                           const float *bias, int relu, float *y) {
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float *o = y + (((size_t)b * g->oh + oy) * g->ow + ox) * c;
                if (bias) memcpy(o, bias, (size_t)c * sizeof(float));
                else memset(o, 0, (size_t)c * sizeof(float));
                for (int ky = 0; ky < g->kh; ky++) {
                    int iy = oy * g->sh - g->pt + ky * g->dh;
                    if (iy < 0 || iy >= h) continue;
                    for (int kx = 0; kx < g->kw; kx++) {
                        int ix = ox * g->sw - g->pl + kx * g->dw;
                        if (ix < 0 || ix >= w) continue;
                        const float *xp = x + (((size_t)b * h + iy) * w + ix) * c;
                        const float *kp = kernel + ((size_t)ky * g->kw + kx) * c;
                        for (int j = 0; j < c; j++) o[j] += xp[j] * kp[j];
                    }
                }
                if (relu)
                    for (int j = 0; j < c; j++) o[j] = o[j] > 0 ? o[j] : 0;
            }
}

static void window_pool(const float *x, int n, int h, int w, int c, const hs_window *g, int mode, float *y) {
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float *o = y + (((size_t)b * g->oh + oy) * g->ow + ox) * c;
                for (int j = 0; j < c; j++) o[j] = mode == HS_POOL_MAX ? -__builtin_inff() : 0;
                int valid = 0;
                for (int ky = 0; ky < g->kh; ky++) {
                    int iy = oy * g->sh - g->pt + ky * g->dh;
                    if (iy < 0 || iy >= h) continue;
                    for (int kx = 0; kx < g->kw; kx++) {
                        int ix = ox * g->sw - g->pl + kx * g->dw;
                        if (ix < 0 || ix >= w) continue;
                        const float *xp = x + (((size_t)b * h + iy) * w + ix) * c;
                        valid++;
                        if (mode == HS_POOL_MAX)
                            for (int j = 0; j < c; j++) o[j] = xp[j] > o[j] ? xp[j] : o[j];
                        else
                            for (int j = 0; j < c; j++) o[j] += xp[j];
                    }
                }
                if (mode == HS_POOL_MAX) continue;
                int divisor = valid;
                if (mode == HS_POOL_AVERAGE_WITH_PADDING) {
                    // The window clipped to the padded image (ceil mode may run past it).
                    int y0 = oy * g->sh - g->pt, x0 = ox * g->sw - g->pl;
                    int y1 = y0 + g->kh < h + g->pad_end_y ? y0 + g->kh : h + g->pad_end_y;
                    int x1 = x0 + g->kw < w + g->pad_end_x ? x0 + g->kw : w + g->pad_end_x;
                    divisor = (y1 - (y0 > -g->pt ? y0 : -g->pt)) * (x1 - (x0 > -g->pl ? x0 : -g->pl));
                }
                float d = (float)divisor;
                for (int j = 0; j < c; j++) o[j] = divisor > 0 ? o[j] / d : 0;
            }
}

static void add_relu(const float *a, const float *b, size_t count, int relu, float *y) {
    if (y == b) {  // addition commutes: make y == a the in-place case
        b = a;
        a = y;
    }
    if (y == a) {
        if (relu)
            for (size_t i = 0; i < count; i++) {
                float v = y[i] + b[i];
                y[i] = v > 0 ? v : 0;
            }
        else
            for (size_t i = 0; i < count; i++) y[i] += b[i];
        return;
    }
    if (relu)
        for (size_t i = 0; i < count; i++) {
            float v = a[i] + b[i];
            y[i] = v > 0 ? v : 0;
        }
    else
        for (size_t i = 0; i < count; i++) y[i] = a[i] + b[i];
}

// e^v for v in [−87, 88] (the caller clamps): v = n·ln 2 + r with |r| ≤ ln 2 / 2 (Cody and Waite's
// two-part ln 2), e^r by Cephes' degree-6 polynomial, 2^n built in the exponent bits. Plain float
// and integer operations, so that the compiler vectorises the loop around it.
static inline float exp_reduced(float v) {
    float n = (v * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest, by 1.5·2²³
    float r = v - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

static inline float sigmoid1(float x) {
    float v = -x;
    v = v < -87.0f ? -87.0f : (v > 88.0f ? 88.0f : v);  // e^v stays a normal float
    return 1.0f / (1.0f + exp_reduced(v));
}

// In place (y == x), a loop over one pointer: the compiler's run-time overlap check would
// send two equal pointers to its scalar loop. The same holds for the passes below.
static void sigmoid(const float *x, size_t count, float *y) {
    if (y == x)
        for (size_t i = 0; i < count; i++) y[i] = sigmoid1(y[i]);
    else
        for (size_t i = 0; i < count; i++) y[i] = sigmoid1(x[i]);
}

// MARK: Weight gradient of the 3×3 convolution

// An R-input-channel × HV_TILE_COLS-output-channel tile of one tap, accumulated over the pixels
// of `images` × `rows` rows of `w` pixels. `a` points at padded[n][y+ky][kx][ci0], `g` at
// dy[n][y][0][co0]; `acc` is dW[ky][kx][ci0][co0] with row stride cout.
#define HV_WGRAD_TILE(R)                                                                         \
    static void wgrad_tile_##R(const float *a, size_t arow, size_t aimg, const float *g,        \
                               size_t grow, size_t gimg, int images, int rows, int w, int cin,   \
                               int cout, float *acc) {                                           \
        hv_f32 s[R][HV_TILE_VECS];                                                               \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                    \
            _Pragma("GCC unroll 16") for (int v = 0; v < HV_TILE_VECS; v++)                     \
                s[r][v] = hv_load(acc + (size_t)r * cout + v * HV_LANES);                        \
        for (int row = 0; row < images * rows; row++) {                                          \
            const float *ap = a + (size_t)(row / rows) * aimg + (size_t)(row % rows) * arow;     \
            const float *gp = g + (size_t)(row / rows) * gimg + (size_t)(row % rows) * grow;     \
            HV_MICRO(R, s, ap, 1, cin, gp, cout, w)                                              \
        }                                                                                        \
        HV_STORE_TILE(R, s, acc, cout, 0);                                                       \
    }
HV_ROWS(HV_WGRAD_TILE)

typedef void (*wgrad_tile_fn)(const float *, size_t, size_t, const float *, size_t, size_t, int, int, int, int, int,
                              float *);
#define HV_WGRAD_TILE_ENTRY(R) wgrad_tile_##R,
static const wgrad_tile_fn wgrad_tiles[HV_TILE_ROWS + 1] = {0, HV_ROWS(HV_WGRAD_TILE_ENTRY)};

static void conv3x3_weight_grad(const float *padded, const float *dy, int n, int h, int w, int cin, int cout,
                                float *dw, int accumulate, int block_begin, int block_end) {
    size_t prow = (size_t)(w + 2) * cin, grow = (size_t)w * cout;
    if (!accumulate)
        for (int t = 0; t < 9; t++)
            for (int ci = 0; ci < cin; ci++)
                memset(dw + ((size_t)t * cin + ci) * cout + block_begin * HS_CONV_BLOCK, 0,
                       (size_t)(block_end - block_begin) * HS_CONV_BLOCK * sizeof(float));
    size_t aimg = (size_t)(h + 2) * prow, gimg = (size_t)h * grow;
    int col_begin = block_begin * HV_SUBCOLUMNS, col_end = block_end * HV_SUBCOLUMNS;
    if (h * w <= 64) {
        // Small images (deep layers): each tile sweeps a group of whole images, so the dW tile
        // stays in registers across them instead of being loaded and stored once per image
        // (dW is up to 9·512·512 floats, far beyond L2). A group's rows of one tile of input
        // channels and of the gradient stay in L2 across the taps and output columns.
        int group = n < 8 ? n : 8;
        for (int b0 = 0; b0 < n; b0 += group) {
            int images = n - b0 < group ? n - b0 : group;
            for (int ci = 0; ci < cin; ci += HV_TILE_ROWS) {
                int r = cin - ci < HV_TILE_ROWS ? cin - ci : HV_TILE_ROWS;
                for (int col = col_begin; col < col_end; col++) {
                    int co0 = col * HV_TILE_COLS;
                    const float *g = dy + (size_t)b0 * gimg + co0;
                    for (int t = 0; t < 9; t++) {
                        const float *a = padded + (size_t)b0 * aimg + ((size_t)(t / 3) * (w + 2) + t % 3) * cin + ci;
                        float *acc = dw + ((size_t)t * cin + ci) * cout + co0;
                        wgrad_tiles[r](a, prow, aimg, g, grow, gimg, images, h, w, cin, cout, acc);
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
            for (int col = col_begin; col < col_end; col++) {
                int co0 = col * HV_TILE_COLS;
                for (int t = 0; t < 9; t++) {
                    const float *a = padded + (((size_t)b * (h + 2) + y0 + t / 3) * (w + 2) + t % 3) * cin;
                    float *acc = dw + ((size_t)t * cin) * cout + co0;
                    int ci = 0;
                    for (; ci + HV_TILE_ROWS <= cin; ci += HV_TILE_ROWS)
                        HV_FULL(wgrad_tile_)(a + ci, prow, aimg, g + co0, grow, gimg, 1, rows, w, cin, cout,
                                             acc + (size_t)ci * cout);
                    if (ci < cin)
                        wgrad_tiles[cin - ci](a + ci, prow, aimg, g + co0, grow, gimg, 1, rows, w, cin, cout,
                                              acc + (size_t)ci * cout);
                }
            }
        }
    }
}

// MARK: Winograd F(2×2, 3×3)

// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016. Each 2×2 block of
// outputs ("tile") comes from a 4×4 window of the padded input. With
//   V = Bᵀ d B   (input transform, per tile and input channel),
//   U = G g Gᵀ   (weight transform, once per weight set: hs_winograd_pack),
//   M[ξ] = V[ξ] · U[ξ]   for each of the 16 positions ξ (a GEMM over input channels),
//   Y = Aᵀ M A   (output transform),
// a tile costs 16 multiply-adds per (cin, cout) pair instead of the direct method's 36. The
// transforms use only additions, so the result differs from the direct sum by rounding alone.
//
// A call processes its tiles in chunks: transform a chunk's inputs into V[16][T][cin], run the
// 16 GEMMs into M[16][T][cout] with the microkernel, then transform M into the output.

// V[ξ][k][cin] for tiles [t0, t0 + count), tile t = (image, ty, tx) in row-major order.
static void winograd_input_transform(const float *padded, int h, int w, int cin, int t0, int count, float *v) {
    int tw = w / 2, per_image = tw * (h / 2);
    size_t prow = (size_t)(w + 2) * cin, stride = (size_t)count * cin + HS_WINOGRAD_PLANE_PAD;
    for (int k = 0; k < count; k++) {
        int t = t0 + k, b = t / per_image, ty = (t % per_image) / tw, tx = t % tw;
        const float *base = padded + ((size_t)b * (h + 2) + 2 * ty) * prow + (size_t)2 * tx * cin;
        float *out = v + (size_t)k * cin;
        for (int c = 0; c < cin; c += HV_LANES) {
            hv_f32 d[4][4], r[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) d[i][j] = hv_load(base + i * prow + (size_t)j * cin + c);
            for (int j = 0; j < 4; j++) {  // Bᵀ d
                r[0][j] = hv_sub(d[0][j], d[2][j]);
                r[1][j] = hv_add(d[1][j], d[2][j]);
                r[2][j] = hv_sub(d[2][j], d[1][j]);
                r[3][j] = hv_sub(d[1][j], d[3][j]);
            }
            for (int i = 0; i < 4; i++) {  // (Bᵀ d) B
                float *o = out + (size_t)(4 * i) * stride + c;
                hv_store(o, hv_sub(r[i][0], r[i][2]));
                hv_store(o + stride, hv_add(r[i][1], r[i][2]));
                hv_store(o + 2 * stride, hv_sub(r[i][2], r[i][1]));
                hv_store(o + 3 * stride, hv_sub(r[i][1], r[i][3]));
            }
        }
    }
}

// M rows [R][HV_TILE_COLS] (row stride cout) = V rows [R][cin] · U [cin][32] (one tile column).
#define HV_WINOGRAD_GEMM(R)                                                                      \
    static void winograd_gemm_##R(const float *v, int cin, const float *u, float *m, int cout) { \
        hv_f32 acc[R][HV_TILE_VECS];                                                             \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                    \
            _Pragma("GCC unroll 16") for (int j = 0; j < HV_TILE_VECS; j++) acc[r][j] = hv_zero(); \
        HV_MICRO(R, acc, v, cin, 1, u, HS_CONV_BLOCK, cin)                                       \
        HV_STORE_TILE(R, acc, m, cout, 0);                                                       \
    }
HV_ROWS(HV_WINOGRAD_GEMM)

typedef void (*winograd_gemm_fn)(const float *, int, const float *, float *, int);
#define HV_WINOGRAD_GEMM_ENTRY(R) winograd_gemm_##R,
static const winograd_gemm_fn winograd_gemms[HV_TILE_ROWS + 1] = {0, HV_ROWS(HV_WINOGRAD_GEMM_ENTRY)};

// out tiles [t0, t0 + count) = act(Aᵀ M A + bias).
static void winograd_output_transform(const float *m, int h, int w, int cout, const float *bias, int relu, int t0,
                                      int count, float *out, int out_padded) {
    int tw = w / 2, per_image = tw * (h / 2);
    size_t stride = (size_t)count * cout + HS_WINOGRAD_PLANE_PAD;
    hv_f32 zero = hv_zero();
    for (int k = 0; k < count; k++) {
        int t = t0 + k, b = t / per_image, ty = (t % per_image) / tw, tx = t % tw;
        float *o = out_padded ? out + (((size_t)b * (h + 2) + 2 * ty + 1) * (w + 2) + 2 * tx + 1) * cout
                              : out + (((size_t)b * h + 2 * ty) * w + 2 * tx) * cout;
        size_t orow = (size_t)(out_padded ? w + 2 : w) * cout;
        const float *in = m + (size_t)k * cout;
        for (int c = 0; c < cout; c += HV_LANES) {
            hv_f32 s0[4], s1[4];
            for (int j = 0; j < 4; j++) {  // Aᵀ M
                hv_f32 m0 = hv_load(in + (size_t)j * stride + c);
                hv_f32 m1 = hv_load(in + (size_t)(4 + j) * stride + c);
                hv_f32 m2 = hv_load(in + (size_t)(8 + j) * stride + c);
                hv_f32 m3 = hv_load(in + (size_t)(12 + j) * stride + c);
                s0[j] = hv_add(hv_add(m0, m1), m2);
                s1[j] = hv_sub(hv_sub(m1, m2), m3);
            }
            hv_f32 bv = bias ? hv_load(bias + c) : zero;
            hv_f32 y[4] = {  // (Aᵀ M) A
                hv_add(hv_add(hv_add(s0[0], s0[1]), s0[2]), bv),
                hv_add(hv_sub(hv_sub(s0[1], s0[2]), s0[3]), bv),
                hv_add(hv_add(hv_add(s1[0], s1[1]), s1[2]), bv),
                hv_add(hv_sub(hv_sub(s1[1], s1[2]), s1[3]), bv),
            };
            if (relu)
                for (int i = 0; i < 4; i++) y[i] = hv_max(y[i], zero);
            hv_store(o + c, y[0]);
            hv_store(o + cout + c, y[1]);
            hv_store(o + orow + c, y[2]);
            hv_store(o + orow + cout + c, y[3]);
        }
    }
}

static void winograd_forward(const float *padded, int n, int h, int w, int cin, const float *u, const float *bias,
                             int cout, int relu, float *out, int out_padded, float *scratch) {
    int chunk = hs_winograd_chunk_tiles(cin, cout);
    int total = n * (h / 2) * (w / 2), blocks = cout / HS_CONV_BLOCK;
    for (int t0 = 0; t0 < total; t0 += chunk) {
        int count = total - t0 < chunk ? total - t0 : chunk;
        size_t vplane = (size_t)count * cin + HS_WINOGRAD_PLANE_PAD, mplane = (size_t)count * cout + HS_WINOGRAD_PLANE_PAD;
        float *v = scratch, *m = scratch + 16 * vplane;
        winograd_input_transform(padded, h, w, cin, t0, count, v);
        for (int xi = 0; xi < 16; xi++)
            for (int col = 0; col < cout / HV_TILE_COLS; col++) {
                int blk = col / HV_SUBCOLUMNS, co0 = col * HV_TILE_COLS;
                const float *ub = u + ((size_t)xi * blocks + blk) * cin * HS_CONV_BLOCK + (co0 - blk * HS_CONV_BLOCK);
                const float *vx = v + xi * vplane;
                float *mx = m + xi * mplane + co0;
                int k = 0;
                for (; k + HV_TILE_ROWS <= count; k += HV_TILE_ROWS)
                    HV_FULL(winograd_gemm_)(vx + (size_t)k * cin, cin, ub, mx + (size_t)k * cout, cout);
                if (k < count) winograd_gemms[count - k](vx + (size_t)k * cin, cin, ub, mx + (size_t)k * cout, cout);
            }
        winograd_output_transform(m, h, w, cout, bias, relu, t0, count, out, out_padded);
    }
}

// MARK: Element-wise passes over [rows][c] buffers (c innermost)
// Plain loops: the compiler vectorises them for this translation unit's instruction set.

static void channel_sums(const float *x, size_t rows, int c, const float *mean, float *sum, float *sq) {
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

static void affine_relu(const float *x, size_t rows, int c, const float *scale, const float *shift, int relu, float *y) {
    if (y == x) {
        for (size_t r = 0; r < rows; r++) {
            float *yr = y + r * c;
            if (relu)
                for (int j = 0; j < c; j++) {
                    float v = yr[j] * scale[j] + shift[j];
                    yr[j] = v > 0 ? v : 0;
                }
            else
                for (int j = 0; j < c; j++) yr[j] = yr[j] * scale[j] + shift[j];
        }
        return;
    }
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

static void bn_normalize(const float *x, size_t rows, int c, const float *mean, const float *invstd, const float *gamma,
                         const float *beta, int relu, float *xhat, float *y) {
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

static void bn_backward_sums(const float *dy, const float *y, const float *xhat, size_t rows, int c, int relu,
                             float *sum_g, float *sum_gx) {
    memset(sum_g, 0, c * sizeof(float));
    memset(sum_gx, 0, c * sizeof(float));
    for (size_t r = 0; r < rows; r++) {
        const float *d = dy + r * c, *yr = y ? y + r * c : 0, *xr = xhat + r * c;
        for (int j = 0; j < c; j++) {
            float g = (!relu || yr[j] > 0) ? d[j] : 0;
            sum_g[j] += g;
            sum_gx[j] += g * xr[j];
        }
    }
}

static void bn_backward_apply(const float *dy, const float *y, const float *xhat, size_t rows, int c, int relu,
                              const float *k1, const float *mean_g, const float *mean_gx, float *dx) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = dy + r * c, *yr = y ? y + r * c : 0, *xr = xhat + r * c;
        float *o = dx + r * c;
        for (int j = 0; j < c; j++) {
            float g = (!relu || yr[j] > 0) ? d[j] : 0;
            o[j] = k1[j] * (g - mean_g[j] - xr[j] * mean_gx[j]);
        }
    }
}

static void relu(const float *x, size_t count, float *y) {
    if (y == x)
        for (size_t i = 0; i < count; i++) y[i] = y[i] > 0 ? y[i] : 0;
    else
        for (size_t i = 0; i < count; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

static void relu_backward(const float *dy, const float *y, size_t count, float *dx) {
    for (size_t i = 0; i < count; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

static void maxpool2x2(const float *x, int n, int h, int w, int c, float *y, uint8_t *which) {
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

static void maxpool2x2_backward(const float *dy, const uint8_t *which, int n, int h, int w, int c, float *dx) {
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

static void dense(const float *x, int n, int in, const float *kernel, const float *bias, int out, int relu, float *y) {
    for (int b = 0; b < n; b++) {
        float *yo = y + (size_t)b * out;
        for (int o = 0; o < out; o++) yo[o] = bias ? bias[o] : 0;
        for (int i = 0; i < in; i++) {
            float v = x[(size_t)b * in + i];
            const float *k = kernel + (size_t)i * out;
            for (int o = 0; o < out; o++) yo[o] += v * k[o];
        }
        if (relu)
            for (int o = 0; o < out; o++) yo[o] = yo[o] > 0 ? yo[o] : 0;
    }
}

static void global_average(const float *x, int n, int hw, int c, float *y) {
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

// MARK: The FMA ceiling

// 12 independent accumulator chains (more than multiply-add latency × ports), with no memory
// traffic in the loop; the result depends on every chain so that none is optimised away.
static double fma_peak(long iterations) {
    hv_f32 m = hv_set1(0.999f), c = hv_set1(0.001f);
    hv_f32 a0 = hv_set1(0), a1 = hv_set1(1), a2 = hv_set1(2), a3 = hv_set1(3), a4 = hv_set1(4), a5 = hv_set1(5);
    hv_f32 a6 = hv_set1(6), a7 = hv_set1(7), a8 = hv_set1(8), a9 = hv_set1(9), a10 = hv_set1(10), a11 = hv_set1(11);
    for (long k = 0; k < iterations; k++) {
        a0 = hv_fma(a0, m, c); a1 = hv_fma(a1, m, c); a2 = hv_fma(a2, m, c); a3 = hv_fma(a3, m, c);
        a4 = hv_fma(a4, m, c); a5 = hv_fma(a5, m, c); a6 = hv_fma(a6, m, c); a7 = hv_fma(a7, m, c);
        a8 = hv_fma(a8, m, c); a9 = hv_fma(a9, m, c); a10 = hv_fma(a10, m, c); a11 = hv_fma(a11, m, c);
    }
    hv_f32 t = hv_add(hv_add(hv_add(a0, a1), hv_add(a2, a3)), hv_add(hv_add(a4, a5), hv_add(a6, a7)));
    t = hv_add(t, hv_add(hv_add(a8, a9), hv_add(a10, a11)));
    float lanes[HV_LANES];
    hv_store(lanes, t);
    double sum = 0;
    for (int i = 0; i < HV_LANES; i++) sum += lanes[i];
    return sum;
}

// MARK: The table

const hs_kernel_set HV_SET = {
    .name = HV_NAME,
    .summary = HV_SUMMARY,
    .lanes = HV_LANES,
    .tile_rows = HV_TILE_ROWS,
    .tile_cols = HV_TILE_COLS,
    .fma_peak = fma_peak,
    .conv3x3_forward = conv3x3_forward,
    .winograd_forward = winograd_forward,
    .conv_forward = conv_forward,
    .gemm_forward = gemm_forward,
    .depthwise_conv = depthwise_conv,
    .window_pool = window_pool,
    .add_relu = add_relu,
    .sigmoid = sigmoid,
    .conv3x3_weight_grad = conv3x3_weight_grad,
    .channel_sums = channel_sums,
    .affine_relu = affine_relu,
    .bn_normalize = bn_normalize,
    .bn_backward_sums = bn_backward_sums,
    .bn_backward_apply = bn_backward_apply,
    .relu = relu,
    .relu_backward = relu_backward,
    .maxpool2x2 = maxpool2x2,
    .maxpool2x2_backward = maxpool2x2_backward,
    .dense = dense,
    .global_average = global_average,
};
