// Layout helpers that every kernel set shares: weight packing, padding, Winograd's weight
// transform and scratch sizes. Plain C: they run once per weight set or are memory copies.
#include "internal.h"

#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

void hs_conv_pack(const float *hwio, int taps, int cin, int cout, float *packed) {
    for (int b = 0; b < cout / HS_CONV_BLOCK; b++)
        for (int t = 0; t < taps; t++)
            for (int ci = 0; ci < cin; ci++)
                memcpy(packed + (((size_t)b * taps + t) * cin + ci) * HS_CONV_BLOCK,
                       hwio + ((size_t)t * cin + ci) * cout + b * HS_CONV_BLOCK, HS_CONV_BLOCK * sizeof(float));
}

void hs_pad(const float *x, int n, int h, int w, int c, int top, int left, int ph, int pw, float *padded) {
    size_t prow = (size_t)pw * c;
    int x1 = left + w < pw ? left + w : pw;  // columns [left, x1) hold x
    for (int b = 0; b < n; b++)
        for (int py = 0; py < ph; py++) {
            float *row = padded + ((size_t)b * ph + py) * prow;
            int y = py - top;
            if (y < 0 || y >= h || x1 <= left) {
                memset(row, 0, prow * sizeof(float));
                continue;
            }
            memset(row, 0, (size_t)left * c * sizeof(float));
            memcpy(row + (size_t)left * c, x + (((size_t)b * h + y) * w) * c, (size_t)(x1 - left) * c * sizeof(float));
            memset(row + (size_t)x1 * c, 0, (size_t)(pw - x1) * c * sizeof(float));
        }
}

void hs_im2col(const float *x, int n, int h, int w, int c, const hs_window *g, float *cols) {
    size_t k = (size_t)g->kh * g->kw * c;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float *row = cols + (((size_t)b * g->oh + oy) * g->ow + ox) * k;
                for (int ky = 0; ky < g->kh; ky++) {
                    int iy = oy * g->sh - g->pt + ky * g->dh;
                    for (int kx = 0; kx < g->kw; kx++) {
                        int ix = ox * g->sw - g->pl + kx * g->dw;
                        float *dst = row + ((size_t)ky * g->kw + kx) * c;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            memset(dst, 0, (size_t)c * sizeof(float));
                        else
                            memcpy(dst, x + (((size_t)b * h + iy) * w + ix) * c, (size_t)c * sizeof(float));
                    }
                }
            }
}

void hs_transpose(const float *x, int n, int rows, int cols, float *y) {
    // In 16 × 16 blocks, so that both the reads and the writes use whole cache lines.
    for (int b = 0; b < n; b++) {
        const float *xi = x + (size_t)b * rows * cols;
        float *yi = y + (size_t)b * rows * cols;
        for (int r0 = 0; r0 < rows; r0 += 16)
            for (int c0 = 0; c0 < cols; c0 += 16) {
                int r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < cols ? c0 + 16 : cols;
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++) yi[(size_t)c * rows + r] = xi[(size_t)r * cols + c];
            }
    }
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

void hs_pad1(const float *x, int n, int h, int w, int c, float *padded) {
    size_t prow = (size_t)(w + 2) * c;
    hs_zero_border(padded, n, h, w, c);
    for (int b = 0; b < n; b++)
        for (int y = 0; y < h; y++)
            memcpy(padded + (((size_t)b * (h + 2) + y + 1) * prow) + c, x + (((size_t)b * h + y) * w) * c,
                   (size_t)w * c * sizeof(float));
}

int hs_winograd_chunk_tiles(int cin, int cout) {
    // V and M of a chunk take 64·T·(cin + cout) bytes: about 2 MiB, so that a chunk written by
    // the input transform is still in cache (L2/L3) when the GEMMs read it.
    int t = 32768 / (cin + cout);
    return t < 24 ? 24 : t;
}

size_t hs_winograd_scratch_floats(int cin, int cout) {
    return (size_t)16 * ((size_t)hs_winograd_chunk_tiles(cin, cout) * (cin + cout) + 2 * HS_WINOGRAD_PLANE_PAD);
}

// U = G g Gᵀ with G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]], in double, then rounded once.
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

void hs_keep_large_blocks_in_heap(void) {
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
