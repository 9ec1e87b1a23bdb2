// CKernels: the engine's float32 kernels, written once against a small vector vocabulary
// (isa/vec_*.h) and compiled once per instruction set, one translation unit each
// (set_avx512.c, set_avx2.c, set_neon.c, set_portable.c). Each translation unit defines one
// table of kernels, an hs_kernel_set; select.c picks the one the CPU runs best (or the one
// HISTOSCREEN_ISA names), and the Swift side calls only through that table.
//
// Adding an instruction set takes one header (isa/vec_NAME.h), one translation unit
// (set_NAME.c) and one line in select.c's candidate list.
//
// Layouts: activations NHWC; conv kernels HWIO [3][3][Cin][Cout]; all float32.
#ifndef HISTOSCREEN_CKERNELS_H
#define HISTOSCREEN_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Output channels per weight block of the 3×3 kernels (every kernel set).
#define HS_CONV_BLOCK 32

/// A window over NHWC activations, for convolutions and pools of any shape: kernel kh × kw,
/// stride sh × sw, dilation dh × dw, top and left padding pt and pl, output oh × ow, and the
/// bottom and right padding pad_end_y and pad_end_x (which only average pooling's divisor reads).
typedef struct hs_window {
    int kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pad_end_y, pad_end_x;
} hs_window;

/// Pooling modes of `window_pool`.
enum { HS_POOL_MAX = 0, HS_POOL_AVERAGE = 1, HS_POOL_AVERAGE_WITH_PADDING = 2 };

// MARK: The kernel table

/// One instruction set's kernels. Every function pointer is set in every table.
typedef struct hs_kernel_set {
    /// Short name, as HISTOSCREEN_ISA and `bench --isa` take it: "avx512", "avx2", "neon", "portable".
    const char *name;
    /// What the set uses, for logs ("AVX-512F + FMA, 16 lanes").
    const char *summary;
    /// Floats per vector; the register tile of the convolutions is tile_rows × tile_cols floats.
    int lanes, tile_rows, tile_cols;

    /// Runs `iterations` × 12 independent vector multiply-adds on one core with no memory traffic
    /// and returns a value that depends on them: iterations × 24 × lanes FLOPs.
    double (*fma_peak)(long iterations);

    /// 3×3 convolution, stride 1, 'same' padding, on rows [row_begin, row_end) of the n·h output
    /// rows (row r is image r / h, y = r % h), for every output channel:
    ///   out[n][y][x][co] = act(bias[co] + Σ_{ky,kx,ci} padded[n][y+ky][x+kx][ci] · W[ky][kx][ci][co])
    /// `padded` is [n][h+2][w+2][cin], `packed` from hs_conv3x3_pack, `bias` may be NULL, `relu`
    /// clamps at 0; cout is a multiple of HS_CONV_BLOCK. With `out_padded`, writes the interior
    /// of a zero-bordered out[n][h+2][w+2][cout] (the next convolution's input; the border is
    /// not touched: clear it once with hs_zero_border), else out[n][h][w][cout].
    void (*conv3x3_forward)(const float *padded, int h, int w, int cin, const float *packed, const float *bias,
                            int cout, int relu, float *out, int row_begin, int row_end, int out_padded);

    /// Winograd F(2×2, 3×3): the same convolution over all n images with 2.25× fewer
    /// multiply-adds, for h and w even, cin a multiple of 16 and cout of 32. `u` holds
    /// hs_winograd_pack's transformed weights; `scratch` hs_winograd_scratch_floats(cin, cout) floats.
    void (*winograd_forward)(const float *padded, int n, int h, int w, int cin, const float *u, const float *bias,
                             int cout, int relu, float *out, int out_padded, float *scratch);

    /// Convolution of any window, stride and dilation (one group), on rows [row_begin, row_end)
    /// of the n·oh output rows, for every output channel:
    ///   out[n][oy][ox][co] = act(bias[co] + Σ_{ky,kx,ci} padded[n][oy·sh + ky·dh][ox·sw + kx·dw][ci] · W[ky][kx][ci][co])
    /// `padded` is [n][ph][pw][cin] and already holds the padding (hs_pad; pt and pl of `g` are
    /// not read); `packed` is hs_conv_pack's, `bias` may be NULL; cout is a multiple of HS_CONV_BLOCK.
    void (*conv_forward)(const float *padded, int ph, int pw, int cin, const hs_window *g, const float *packed,
                         const float *bias, int cout, int relu, float *out, int row_begin, int row_end);

    /// The same contraction over rows that are already gathered: out[m][cout] =
    /// act(bias + a[m][k] · W[k][cout]) with W packed by hs_conv_pack (taps · cin = k). For 1 × 1
    /// convolutions (a is the activation itself) and small images (a from hs_im2col).
    void (*gemm_forward)(const float *a, size_t m, int k, const float *packed, const float *bias, int cout, int relu,
                         float *out);

    /// Depthwise convolution, one kernel per channel: x [n][h][w][c], kernel [kh][kw][c], bias
    /// [c] or NULL, padding by `g` (zeros), y [n][oh][ow][c].
    void (*depthwise_conv)(const float *x, int n, int h, int w, int c, const hs_window *g, const float *kernel,
                           const float *bias, int relu, float *y);

    /// Max or average pooling (HS_POOL_*) of x [n][h][w][c] over the windows of `g`, into
    /// y [n][oh][ow][c]. Padding is skipped by the maximum and by HS_POOL_AVERAGE's divisor;
    /// HS_POOL_AVERAGE_WITH_PADDING divides by the window clipped to the padded image. A window
    /// with no pixel gives −∞ (maximum) or 0 (average).
    void (*window_pool)(const float *x, int n, int h, int w, int c, const hs_window *g, int mode, float *y);

    /// y = a + b, then max(0, ·) when relu; y may equal a or b.
    void (*add_relu)(const float *a, const float *b, size_t count, int relu, float *y);

    /// y = σ(x) = 1 / (1 + e^−x), with e^−x from a polynomial on a reduced argument (as Cephes'
    /// expf; within 2⁻²⁰ relative, see the C driver); y may equal x.
    void (*sigmoid)(const float *x, size_t count, float *y);

    /// Weight gradient of the same convolution, for output-channel blocks [block_begin, block_end):
    ///   dW[ky][kx][ci][co] (+)= Σ_{n,y,x} padded[n][y+ky][x+kx][ci] · dy[n][y][x][co]
    /// `dw` is HWIO [3][3][cin][cout]; with `accumulate` it adds to dw, else overwrites.
    void (*conv3x3_weight_grad)(const float *padded, const float *dy, int n, int h, int w, int cin, int cout,
                                float *dw, int accumulate, int block_begin, int block_end);

    /// Per-channel sum (mean == NULL) or sum of squared deviations from `mean` over rows×c.
    void (*channel_sums)(const float *x, size_t rows, int c, const float *mean, float *sum, float *sq);
    /// y = x·scale[c] + shift[c], then max(0, ·) when relu; y may equal x.
    void (*affine_relu)(const float *x, size_t rows, int c, const float *scale, const float *shift, int relu, float *y);
    /// Batch-norm training forward: xhat = (x − mean)·invstd (stored when xhat != NULL) and
    /// y = act(xhat·gamma + beta), per channel over rows×c.
    void (*bn_normalize)(const float *x, size_t rows, int c, const float *mean, const float *invstd,
                         const float *gamma, const float *beta, int relu, float *xhat, float *y);
    /// Batch-norm backward sums through an optional ReLU whose output is y: with
    /// g = dy · [y > 0] (g = dy when relu == 0; y may then be NULL), sum_g = Σ g, sum_gx = Σ g·xhat.
    void (*bn_backward_sums)(const float *dy, const float *y, const float *xhat, size_t rows, int c, int relu,
                             float *sum_g, float *sum_gx);
    /// dx = k1[c] · (g − mean_g[c] − xhat · mean_gx[c]) with g as above; dx may equal dy.
    void (*bn_backward_apply)(const float *dy, const float *y, const float *xhat, size_t rows, int c, int relu,
                              const float *k1, const float *mean_g, const float *mean_gx, float *dx);
    /// y = max(0, x), and dx = dy · [y > 0]; y may equal x, dx may equal dy.
    void (*relu)(const float *x, size_t count, float *y);
    void (*relu_backward)(const float *dy, const float *y, size_t count, float *dx);
    /// 2×2 max pooling, stride 2 (floor), [n][h][w][c] -> [n][h/2][w/2][c]; `which` (may be NULL)
    /// records the window position 0..3 (row-major, first wins ties) of each maximum.
    void (*maxpool2x2)(const float *x, int n, int h, int w, int c, float *y, uint8_t *which);
    /// Its gradient: every element of dx [n][h][w][c] is written.
    void (*maxpool2x2_backward)(const float *dy, const uint8_t *which, int n, int h, int w, int c, float *dx);
    /// y[n][out] = act(bias + x[n][in] · kernel[in][out]); bias may be NULL.
    void (*dense)(const float *x, int n, int in, const float *kernel, const float *bias, int out, int relu, float *y);
    /// Global average pooling [n][hw][c] -> [n][c].
    void (*global_average)(const float *x, int n, int hw, int c, float *y);
} hs_kernel_set;

// MARK: Choosing a set (select.c)

/// The sets built into this binary for this architecture, in order of preference; NULL past the end.
const hs_kernel_set *hs_kernel_set_at(int index);
/// 1 when this CPU (and OS) can run `set`.
int hs_kernel_set_supported(const hs_kernel_set *set);
/// The set to use: the one `request` names (NULL or "" for the best this CPU runs). When the
/// request cannot be met, returns the best supported set and points *problem (if given) at a
/// static sentence saying why.
const hs_kernel_set *hs_kernel_set_choose(const char *request, const char **problem);
/// The CPU's model name ("AMD EPYC 9R45", from cpuid's brand string or /proc/cpuinfo), written
/// into `out` (at most `size` bytes, NUL-terminated); "unknown" when neither says.
void hs_cpu_name(char *out, size_t size);

// MARK: Layout helpers shared by every set (common.c)

/// Packs HWIO weights [3][3][cin][cout] into blocks [cout/32][3][3][cin][32].
/// With `flip_transpose`, packs the weights of the input-gradient convolution instead:
/// W'[ky][kx][co][ci] = W[2-ky][2-kx][ci][co], in blocks over ci (cin must be a multiple of 32).
void hs_conv3x3_pack(const float *hwio, int cin, int cout, int flip_transpose, float *packed);

/// Packs HWIO weights [taps][cin][cout] (taps = kh·kw) into blocks [cout/32][taps][cin][32],
/// for conv_forward and gemm_forward (for 3×3, the same as hs_conv3x3_pack without flipping).
void hs_conv_pack(const float *hwio, int taps, int cin, int cout, float *packed);

/// Copies x [n][h][w][c] into padded [n][ph][pw][c] at row `top` and column `left`, zero
/// elsewhere; rows and columns of x beyond ph or pw are dropped.
void hs_pad(const float *x, int n, int h, int w, int c, int top, int left, int ph, int pw, float *padded);

/// The rows a convolution's gemm_forward reads: cols[n·oh·ow][kh·kw·c], row (image, oy, ox),
/// column (ky, kx, ci), zero where the window is in the padding.
void hs_im2col(const float *x, int n, int h, int w, int c, const hs_window *g, float *cols);

/// Transposes each of n matrices [rows][cols] into [cols][rows] (NCHW ↔ NHWC).
void hs_transpose(const float *x, int n, int rows, int cols, float *y);

/// Copies x [n][h][w][c] into a zero-bordered buffer [n][h+2][w+2][c].
void hs_pad1(const float *x, int n, int h, int w, int c, float *padded);

/// Zeroes the one-pixel border of padded[n][h+2][w+2][c].
void hs_zero_border(float *padded, int n, int h, int w, int c);

/// Winograd's transformed weights U = G g Gᵀ, [16][cout/32][cin][32] (16·cin·cout floats).
void hs_winograd_pack(const float *hwio, int cin, int cout, float *u);
/// Tiles (2×2 output blocks) per chunk, and the scratch floats a winograd_forward call needs.
int hs_winograd_chunk_tiles(int cin, int cout);
size_t hs_winograd_scratch_floats(int cin, int cout);

/// Keeps freed blocks of up to 1 GiB in the heap (glibc mallopt), so repeated large
/// activations do not fault in fresh pages on every pass. Does nothing elsewhere.
void hs_keep_large_blocks_in_heap(void);

#endif
