// CKernels: the engine's hand-written float32 kernels, in C so that each can be compiled
// for AVX-512 with a target attribute while the rest of the binary stays portable.
// Callers check hs_cpu_has_avx512() first; the Swift layers keep a portable im2col + BLAS
// path for every other CPU (and for tests, forced with HISTOSCREEN_DISABLE_AVX512=1).
//
// Layouts: activations NHWC; conv kernels HWIO [3][3][Cin][Cout]; all float32.
#ifndef HISTOSCREEN_CKERNELS_H
#define HISTOSCREEN_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU and OS support AVX-512F (with FMA), the kernels below may run.
int hs_cpu_has_avx512(void);

/// Keeps freed blocks of up to 1 GiB in the heap (glibc mallopt), so repeated large
/// activations do not fault in fresh pages on every pass.
void hs_keep_large_blocks_in_heap(void);

/// Runs `iterations` × 12 independent 512-bit (or 256-bit) FMAs on one core and returns a
/// value that depends on them; the FLOP count is iterations × 12 × 32 (or × 12 × 16).
double hs_fma_peak_avx512(long iterations);
double hs_fma_peak_avx2(long iterations);

/// Output channels per weight block of the 3×3 kernels.
#define HS_CONV_BLOCK 32

/// Packs HWIO weights [3][3][cin][cout] into blocks [cout/32][3][3][cin][32].
/// With `flip_transpose`, packs the weights of the input-gradient convolution instead:
/// W'[ky][kx][co][ci] = W[2-ky][2-kx][ci][co], in blocks over ci (cin must be a multiple of 32).
void hs_conv3x3_pack(const float *hwio, int cin, int cout, int flip_transpose, float *packed);

/// Copies x [n][h][w][c] into a zero-bordered buffer [n][h+2][w+2][c].
void hs_pad1(const float *x, int n, int h, int w, int c, float *padded);

/// 3×3 convolution, stride 1, 'same' padding, on rows [row_begin, row_end) of the n·h output
/// rows (row r is image r / h, y = r % h), for every output channel:
///   out[n][y][x][co] = act(bias[co] + Σ_{ky,kx,ci} padded[n][y+ky][x+kx][ci] · W[ky][kx][ci][co])
/// `padded` is [n][h+2][w+2][cin], `packed` from hs_conv3x3_pack, `bias` may be NULL,
/// `relu` clamps at 0. cout must be a multiple of 32.
void hs_conv3x3_forward_avx512(const float *padded, int h, int w, int cin, const float *packed, const float *bias,
                               int cout, int relu, float *out, int row_begin, int row_end);
/// The same, writing into the interior of a zero-bordered buffer out[n][h+2][w+2][cout], ready
/// to be the next 3×3 convolution's input without a padding copy. The border is not touched:
/// clear it once with hs_zero_border.
void hs_conv3x3_forward_padded_out_avx512(const float *padded, int h, int w, int cin, const float *packed,
                                          const float *bias, int cout, int relu, float *out, int row_begin, int row_end);

/// Winograd F(2×2, 3×3): the same convolution as hs_conv3x3_forward_avx512 with 2.25× fewer
/// multiply-adds, for h and w even, cin a multiple of 16 and cout of 32.
/// `u` holds hs_winograd_pack's transformed weights [16][cout/32][cin][32] (16·cin·cout floats).
void hs_winograd_pack(const float *hwio, int cin, int cout, float *u);
/// Tiles (2×2 output blocks) per chunk, and the scratch floats a call needs.
int hs_winograd_chunk_tiles(int cin, int cout);
size_t hs_winograd_scratch_floats(int cin, int cout);
/// All n images; with `out_padded`, writes the interior of out[n][h+2][w+2][cout] as
/// hs_conv3x3_forward_padded_out_avx512 does, else out[n][h][w][cout].
void hs_winograd_forward_avx512(const float *padded, int n, int h, int w, int cin, const float *u, const float *bias,
                                int cout, int relu, float *out, int out_padded, float *scratch);

/// Zeroes the one-pixel border of padded[n][h+2][w+2][c].
void hs_zero_border(float *padded, int n, int h, int w, int c);

/// Weight gradient of the same convolution, for output-channel blocks [block_begin, block_end):
///   dW[ky][kx][ci][co] (+)= Σ_{n,y,x} padded[n][y+ky][x+kx][ci] · dy[n][y][x][co]
/// `dw` is HWIO [3][3][cin][cout]; with `accumulate` it adds to dw, else overwrites.
void hs_conv3x3_weight_grad_avx512(const float *padded, const float *dy, int n, int h, int w, int cin, int cout,
                                   float *dw, int accumulate, int block_begin, int block_end);

/// Per-channel sum and sum of squared deviations from `mean` over rows×c (c innermost).
/// With mean == NULL computes sums only into `sum`.
void hs_channel_sums(const float *x, size_t rows, int c, const float *mean, float *sum, float *sq);

/// y = x·scale[c] + shift[c], then max(0, ·) when relu; y may equal x.
void hs_affine_relu(const float *x, size_t rows, int c, const float *scale, const float *shift, int relu, float *y);

/// Batch-norm backward sums, optionally through a following ReLU whose output is y:
/// with g = dy · [y > 0] (or g = dy when relu == 0; y may then be NULL), returns per channel
/// sum_g = Σ g and sum_gx = Σ g·xhat.
void hs_bn_backward_sums(const float *dy, const float *y, const float *xhat, size_t rows, int c, int relu,
                         float *sum_g, float *sum_gx);

/// dx = k1[c] · (g − mean_g[c] − xhat · mean_gx[c]) with g as above; dx may equal dy.
/// For batch norm, k1 = gamma·invstd, mean_g = sum_g / M, mean_gx = sum_gx / M.
void hs_bn_backward_apply(const float *dy, const float *y, const float *xhat, size_t rows, int c, int relu,
                          const float *k1, const float *mean_g, const float *mean_gx, float *dx);

/// Batch-norm training forward: xhat = (x − mean)·invstd (stored when xhat != NULL) and
/// y = xhat·gamma + beta, per channel over rows×c.
void hs_bn_normalize(const float *x, size_t rows, int c, const float *mean, const float *invstd,
                     const float *gamma, const float *beta, int relu, float *xhat, float *y);

/// y = max(0, x) and its gradient dx = dy · [y > 0]; y may equal x, dx may equal dy.
void hs_relu(const float *x, size_t count, float *y);
void hs_relu_backward(const float *dy, const float *y, size_t count, float *dx);

/// 2×2 max pooling, stride 2 (floor), NHWC [n][h][w][c] -> [n][h/2][w/2][c]. `which` (may be
/// NULL) records the position 0..3 of each window's maximum for the backward pass.
void hs_maxpool2x2(const float *x, int n, int h, int w, int c, float *y, uint8_t *which);
void hs_maxpool2x2_backward(const float *dy, const uint8_t *which, int n, int h, int w, int c, float *dx);

/// y[n][out] = act(bias + x[n][in] · kernel[in][out]); bias may be NULL.
void hs_dense(const float *x, int n, int in, const float *kernel, const float *bias, int out, int relu, float *y);

/// Global average pooling [n][hw][c] -> [n][c].
void hs_global_average(const float *x, int n, int hw, int c, float *y);

#endif
