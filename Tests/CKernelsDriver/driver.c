// A C test driver for the kernel sets, for CPUs the Swift toolchain here cannot build for:
// Scripts/check-kernels.sh compiles it with CKernels and CImaging natively and for aarch64, and
// runs the aarch64 build under qemu-aarch64. Every kernel of every set this CPU runs is
// compared with plain loops in double; each element must lie within the rounding bound of its
// own arithmetic, γ(k)·M (see Sources/_TestSupport/RoundingBound.swift), so the check holds on
// any CPU. Resampling must match its scalar reference exactly (same sums, same order).
//
// Prints one line per check and ends with "N passed, N failed"; exits non-zero on a failure.
#include "CImaging.h"
#include "CKernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

static double gamma_k(int k) {
    double ku = k * 0x1p-24;
    return ku / (1 - ku);
}

// Deterministic values in [-1, 1) (SplitMix64).
static unsigned long long rng_state;
static double uniform(void) {
    unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53 * 2 - 1;
}
static float *random_floats(size_t count, unsigned long long seed) {
    rng_state = seed;
    float *p = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++) p[i] = (float)uniform();
    return p;
}

// Records whether every |got − exact| ≤ gamma·magnitude (+ 1e-12·magnitude for the double
// reference's own rounding).
static void check(const char *set, const char *what, const float *got, const double *exact, const double *magnitude,
                  size_t count, int operations) {
    double g = gamma_k(operations) + 1e-12, worst = 0;
    for (size_t i = 0; i < count; i++) {
        double error = fabs((double)got[i] - exact[i]);
        if (error == 0) continue;
        double ratio = magnitude[i] > 0 ? error / (g * magnitude[i]) : INFINITY;
        if (!(ratio <= worst)) worst = ratio;
    }
    int ok = worst <= 1;
    printf("%s %-9s %-44s worst error %.3g of its bound\n", ok ? "ok  " : "FAIL", set, what, worst);
    if (ok) passed++; else failed++;
}

// out[n][y][x][co] = bias + Σ x[n][y+ky−1][x+kx−1][ci] · w[ky][kx][ci][co], in double, and the
// same sum over absolute values.
static void reference_conv(const float *x, int n, int h, int w, int cin, const float *hwio, const float *bias, int cout,
                           int relu, double *out, double *magnitude) {
    for (int b = 0; b < n; b++)
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++)
                for (int co = 0; co < cout; co++) {
                    double s = bias ? bias[co] : 0, m = bias ? fabs(bias[co]) : 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = y + ky - 1, ix = xx + kx - 1;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            for (int ci = 0; ci < cin; ci++) {
                                double a = x[(((size_t)b * h + iy) * w + ix) * cin + ci];
                                double k = hwio[((size_t)(ky * 3 + kx) * cin + ci) * cout + co];
                                s += a * k;
                                m += fabs(a * k);
                            }
                        }
                    size_t o = (((size_t)b * h + y) * w + xx) * cout + co;
                    out[o] = relu && s < 0 ? 0 : s;
                    magnitude[o] = m;
                }
}

// An upper bound on Winograd's magnitude (RoundingBound.winogradMagnitude computes it exactly):
// C · Σ_ci S_d · S_g + |b|, with S_d the sum of |x| over the tile's 4×4 input window, S_g the sum
// of |w| over the 3×3 taps, and C = 4 the largest coefficient with which one |d|·|g| product
// enters an output through the transforms Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A taken on absolute values.
static double winograd_coefficient(void) {
    const double at[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
    const double bt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
    const double g[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    double worst = 0;
    for (int o = 0; o < 2; o++)
        for (int p = 0; p < 4; p++)
            for (int q = 0; q < 3; q++) {
                double c = 0;
                for (int xi = 0; xi < 4; xi++) c += fabs(at[o][xi]) * fabs(bt[xi][p]) * fabs(g[xi][q]);
                if (c > worst) worst = c;
            }
    return worst * worst;
}

static void winograd_magnitude(const float *x, int n, int h, int w, int cin, const float *hwio, const float *bias,
                               int cout, double *magnitude) {
    double coefficient = winograd_coefficient();
    double *sg = calloc((size_t)cin * cout, sizeof(double)), *sd = calloc(cin, sizeof(double));
    for (int t = 0; t < 9; t++)
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++) sg[(size_t)ci * cout + co] += fabs(hwio[((size_t)t * cin + ci) * cout + co]);
    for (int b = 0; b < n; b++)
        for (int ty = 0; ty < h / 2; ty++)
            for (int tx = 0; tx < w / 2; tx++) {
                memset(sd, 0, cin * sizeof(double));
                for (int dy = 0; dy < 4; dy++)
                    for (int dx = 0; dx < 4; dx++) {
                        int y = 2 * ty + dy - 1, xx = 2 * tx + dx - 1;
                        if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
                        for (int ci = 0; ci < cin; ci++) sd[ci] += fabs(x[(((size_t)b * h + y) * w + xx) * cin + ci]);
                    }
                for (int co = 0; co < cout; co++) {
                    double m = 0;
                    for (int ci = 0; ci < cin; ci++) m += sd[ci] * sg[(size_t)ci * cout + co];
                    m = coefficient * m + (bias ? fabs(bias[co]) : 0);
                    for (int oy = 0; oy < 2; oy++)
                        for (int ox = 0; ox < 2; ox++)
                            magnitude[(((size_t)b * h + 2 * ty + oy) * w + 2 * tx + ox) * cout + co] = m;
                }
            }
    free(sg);
    free(sd);
}

static void check_convolutions(const hs_kernel_set *k, int n, int h, int w, int cin, int cout) {
    char what[96];
    size_t in_count = (size_t)n * h * w * cin, out_count = (size_t)n * h * w * cout;
    float *x = random_floats(in_count, 11), *hwio = random_floats((size_t)9 * cin * cout, 12);
    float *bias = random_floats(cout, 13), *dy = random_floats(out_count, 14);
    float *padded = malloc((size_t)n * (h + 2) * (w + 2) * cin * sizeof(float));
    float *packed = malloc((size_t)9 * cin * cout * sizeof(float));
    float *out = malloc(out_count * sizeof(float));
    float *out_padded = calloc((size_t)n * (h + 2) * (w + 2) * cout, sizeof(float));
    double *exact = malloc(out_count * sizeof(double)), *magnitude = malloc(out_count * sizeof(double));
    hs_pad1(x, n, h, w, cin, padded);
    hs_conv3x3_pack(hwio, cin, cout, 0, packed);
    reference_conv(x, n, h, w, cin, hwio, bias, cout, 1, exact, magnitude);

    // Direct, in two row ranges (as two workers would), into a plain and a padded output.
    int rows = n * h;
    k->conv3x3_forward(padded, h, w, cin, packed, bias, cout, 1, out, 0, rows / 2, 0);
    k->conv3x3_forward(padded, h, w, cin, packed, bias, cout, 1, out, rows / 2, rows, 0);
    snprintf(what, sizeof what, "direct %dx%dx%dx%d->%d", n, h, w, cin, cout);
    check(k->name, what, out, exact, magnitude, out_count, 2 * 9 * cin + 1);
    k->conv3x3_forward(padded, h, w, cin, packed, bias, cout, 1, out_padded, 0, rows, 1);
    for (int b = 0; b < n; b++)
        for (int y = 0; y < h; y++)
            memcpy(out + (((size_t)b * h + y) * w) * cout, out_padded + (((size_t)b * (h + 2) + y + 1) * (w + 2) + 1) * cout,
                   (size_t)w * cout * sizeof(float));
    snprintf(what, sizeof what, "direct, padded output %dx%dx%dx%d->%d", n, h, w, cin, cout);
    check(k->name, what, out, exact, magnitude, out_count, 2 * 9 * cin + 1);

    if (h % 2 == 0 && w % 2 == 0 && cin % 16 == 0) {
        float *u = malloc((size_t)16 * cin * cout * sizeof(float));
        float *scratch = malloc(hs_winograd_scratch_floats(cin, cout) * sizeof(float));
        hs_winograd_pack(hwio, cin, cout, u);
        winograd_magnitude(x, n, h, w, cin, hwio, bias, cout, magnitude);
        k->winograd_forward(padded, n, h, w, cin, u, bias, cout, 1, out, 0, scratch);
        snprintf(what, sizeof what, "winograd %dx%dx%dx%d->%d", n, h, w, cin, cout);
        check(k->name, what, out, exact, magnitude, out_count, 2 * cin + 8);
        free(u);
        free(scratch);
    }

    // Weight gradient: dW[t][ci][co] = Σ_pixels padded[..][ci] · dy[..][co], over n·h·w terms.
    size_t wcount = (size_t)9 * cin * cout;
    float *dw = malloc(wcount * sizeof(float));
    double *dw_exact = calloc(wcount, sizeof(double)), *dw_magnitude = calloc(wcount, sizeof(double));
    for (int b = 0; b < n; b++)
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++)
                for (int t = 0; t < 9; t++) {
                    const float *a = padded + (((size_t)b * (h + 2) + y + t / 3) * (w + 2) + xx + t % 3) * cin;
                    const float *g = dy + (((size_t)b * h + y) * w + xx) * cout;
                    for (int ci = 0; ci < cin; ci++)
                        for (int co = 0; co < cout; co++) {
                            double p = (double)a[ci] * g[co];
                            dw_exact[((size_t)t * cin + ci) * cout + co] += p;
                            dw_magnitude[((size_t)t * cin + ci) * cout + co] += fabs(p);
                        }
                }
    k->conv3x3_weight_grad(padded, dy, n, h, w, cin, cout, dw, 0, 0, cout / HS_CONV_BLOCK);
    snprintf(what, sizeof what, "weight gradient %dx%dx%dx%d->%d", n, h, w, cin, cout);
    check(k->name, what, dw, dw_exact, dw_magnitude, wcount, 2 * n * h * w);

    free(x); free(hwio); free(bias); free(dy); free(padded); free(packed); free(out); free(out_padded);
    free(exact); free(magnitude); free(dw); free(dw_exact); free(dw_magnitude);
}

// Any window (one group), in double: out[n][oy][ox][co] over the taps inside the image.
static void reference_window_conv(const float *x, int n, int h, int w, int cin, const hs_window *g, const float *hwio,
                                  const float *bias, int cout, int relu, double *out, double *magnitude) {
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int co = 0; co < cout; co++) {
                    double s = bias ? bias[co] : 0, m = bias ? fabs(bias[co]) : 0;
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++) {
                            int iy = oy * g->sh - g->pt + ky * g->dh, ix = ox * g->sw - g->pl + kx * g->dw;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            for (int ci = 0; ci < cin; ci++) {
                                double p = (double)x[(((size_t)b * h + iy) * w + ix) * cin + ci] *
                                           hwio[((size_t)(ky * g->kw + kx) * cin + ci) * cout + co];
                                s += p;
                                m += fabs(p);
                            }
                        }
                    size_t o = (((size_t)b * g->oh + oy) * g->ow + ox) * cout + co;
                    out[o] = relu && s < 0 ? 0 : s;
                    magnitude[o] = m;
                }
}

static hs_window make_window(int h, int w, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr) {
    hs_window g = {kh, kw, sh, sw, dh, dw, pt, pl, 0, 0, pb, pr};
    g.oh = (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1;
    g.ow = (w + pl + pr - ((kw - 1) * dw + 1)) / sw + 1;
    return g;
}

// conv_forward (padded in place), and gemm_forward on hs_im2col's rows, against the reference.
static void check_window_conv(const hs_kernel_set *k, int n, int h, int w, int cin, int cout, hs_window g) {
    char what[112];
    int taps = g.kh * g.kw;
    size_t out_count = (size_t)n * g.oh * g.ow * cout;
    float *x = random_floats((size_t)n * h * w * cin, 31), *hwio = random_floats((size_t)taps * cin * cout, 32);
    float *bias = random_floats(cout, 33);
    float *packed = malloc((size_t)taps * cin * cout * sizeof(float)), *out = malloc(out_count * sizeof(float));
    double *exact = malloc(out_count * sizeof(double)), *magnitude = malloc(out_count * sizeof(double));
    hs_conv_pack(hwio, taps, cin, cout, packed);
    reference_window_conv(x, n, h, w, cin, &g, hwio, bias, cout, 1, exact, magnitude);
    int ph = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1, pw = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1;
    float *padded = malloc((size_t)n * ph * pw * cin * sizeof(float));
    hs_pad(x, n, h, w, cin, g.pt, g.pl, ph, pw, padded);
    int rows = n * g.oh;
    k->conv_forward(padded, ph, pw, cin, &g, packed, bias, cout, 1, out, 0, rows / 2);
    k->conv_forward(padded, ph, pw, cin, &g, packed, bias, cout, 1, out, rows / 2, rows);
    snprintf(what, sizeof what, "conv %dx%d/%d d%d p%d %dx%dx%dx%d->%d", g.kh, g.kw, g.sh, g.dh, g.pt, n, h, w, cin, cout);
    check(k->name, what, out, exact, magnitude, out_count, 2 * taps * cin + 1);
    float *cols = malloc((size_t)n * g.oh * g.ow * taps * cin * sizeof(float));
    hs_im2col(x, n, h, w, cin, &g, cols);
    k->gemm_forward(cols, (size_t)n * g.oh * g.ow, taps * cin, packed, bias, cout, 1, out);
    snprintf(what, sizeof what, "im2col gemm %dx%d/%d d%d p%d %dx%dx%dx%d->%d", g.kh, g.kw, g.sh, g.dh, g.pt, n, h, w, cin,
             cout);
    check(k->name, what, out, exact, magnitude, out_count, 2 * taps * cin + 1);
    free(x); free(hwio); free(bias); free(packed); free(out); free(exact); free(magnitude); free(padded); free(cols);
}

// Depthwise convolution, the three pooling modes, and add + ReLU.
static void check_window_ops(const hs_kernel_set *k) {
    const int n = 2, h = 7, w = 9, c = 21;
    hs_window g = make_window(h, w, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1);
    size_t in_count = (size_t)n * h * w * c, out_count = (size_t)n * g.oh * g.ow * c;
    float *x = random_floats(in_count, 41), *kernel = random_floats((size_t)9 * c, 42), *bias = random_floats(c, 43);
    float *y = malloc(in_count * sizeof(float)), *b2 = random_floats(in_count, 44);
    double *exact = malloc(in_count * sizeof(double)), *magnitude = malloc(in_count * sizeof(double));
    double *zero = calloc(in_count, sizeof(double));
    k->depthwise_conv(x, n, h, w, c, &g, kernel, bias, 1, y);
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g.oh; oy++)
            for (int ox = 0; ox < g.ow; ox++)
                for (int j = 0; j < c; j++) {
                    double s = bias[j], m = fabs(bias[j]);
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            double p = (double)x[(((size_t)b * h + iy) * w + ix) * c + j] * kernel[(ky * 3 + kx) * c + j];
                            s += p;
                            m += fabs(p);
                        }
                    size_t o = (((size_t)b * g.oh + oy) * g.ow + ox) * c + j;
                    exact[o] = s < 0 ? 0 : s;
                    magnitude[o] = m;
                }
    check(k->name, "depthwise 3x3/2 p1 2x7x9x21", y, exact, magnitude, out_count, 2 * 9 + 1);
    for (int mode = 0; mode < 3; mode++) {
        k->window_pool(x, n, h, w, c, &g, mode, y);
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < g.oh; oy++)
                for (int ox = 0; ox < g.ow; ox++)
                    for (int j = 0; j < c; j++) {
                        double best = -INFINITY, s = 0, m = 0;
                        int valid = 0;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                double v = x[(((size_t)b * h + iy) * w + ix) * c + j];
                                best = v > best ? v : best;
                                s += v;
                                m += fabs(v);
                                valid++;
                            }
                        // The padded image is 9 × 11, so every window here lies inside it: 9 values.
                        int divisor = mode == HS_POOL_AVERAGE ? valid : 9;
                        size_t o = (((size_t)b * g.oh + oy) * g.ow + ox) * c + j;
                        exact[o] = mode == HS_POOL_MAX ? best : s / divisor;
                        magnitude[o] = mode == HS_POOL_MAX ? 0 : m / divisor;
                    }
        const char *names[] = {"max pool 3x3/2 p1 2x7x9x21", "average pool 3x3/2 p1", "average pool with padding"};
        check(k->name, names[mode], y, exact, mode == HS_POOL_MAX ? zero : magnitude, out_count, 9 + 1);
    }
    k->add_relu(x, b2, in_count, 1, y);
    for (size_t i = 0; i < in_count; i++) {
        double s = (double)x[i] + b2[i];
        exact[i] = s < 0 ? 0 : s;
        magnitude[i] = fabs((double)x[i]) + fabs((double)b2[i]);
    }
    check(k->name, "add + ReLU 2x7x9x21", y, exact, magnitude, in_count, 1);
    // σ over [−100, 100] (both clamps included) against double: within 2⁻²⁰ relative (the
    // polynomial and range reduction give a few ulp of e^−x; the add and the divide one each),
    // or 2⁻¹²⁶ absolute where σ is below the normal floats (x < −87, clamped).
    const size_t sn = 4001;
    float *sx = malloc(sn * sizeof(float)), *sy = malloc(sn * sizeof(float));
    double *sexact = malloc(sn * sizeof(double)), *sworst = malloc(sn * sizeof(double));
    for (size_t i = 0; i < sn; i++) {
        sx[i] = (float)(-100.0 + 200.0 * i / (sn - 1));
        sexact[i] = 1 / (1 + exp(-(double)sx[i]));
        double bound = sexact[i] * 0x1p-20 > 0x1p-126 ? sexact[i] * 0x1p-20 : 0x1p-126;
        sworst[i] = bound / gamma_k(1);  // so that the check's bound is `bound`
    }
    k->sigmoid(sx, sn, sy);
    check(k->name, "sigmoid -100..100", sy, sexact, sworst, sn, 1);
    free(sx); free(sy); free(sexact); free(sworst);
    free(x); free(kernel); free(bias); free(y); free(b2); free(exact); free(magnitude); free(zero);
}

static void check_elementwise(const hs_kernel_set *k) {
    const int rows = 37, c = 19;
    size_t count = (size_t)rows * c;
    float *x = random_floats(count, 21), *scale = random_floats(c, 22), *shift = random_floats(c, 23);
    float *y = malloc(count * sizeof(float));
    double *exact = malloc(count * sizeof(double)), *magnitude = malloc(count * sizeof(double));
    k->affine_relu(x, rows, c, scale, shift, 1, y);
    for (size_t i = 0; i < count; i++) {
        double v = (double)x[i] * scale[i % c] + shift[i % c];
        exact[i] = v > 0 ? v : 0;
        magnitude[i] = fabs((double)x[i] * scale[i % c]) + fabs(shift[i % c]);
    }
    check(k->name, "affine + ReLU 37x19", y, exact, magnitude, count, 2);

    float sums[19], squares[19], mean[19];
    double sum_exact[19] = {0}, sum_magnitude[19] = {0};
    k->channel_sums(x, rows, c, NULL, sums, NULL);
    for (size_t i = 0; i < count; i++) {
        sum_exact[i % c] += x[i];
        sum_magnitude[i % c] += fabs(x[i]);
    }
    check(k->name, "channel sums 37x19", sums, sum_exact, sum_magnitude, c, rows);
    for (int j = 0; j < c; j++) mean[j] = (float)(sum_exact[j] / rows);
    double sq_exact[19] = {0};
    for (size_t i = 0; i < count; i++) {
        double d = (double)x[i] - mean[i % c];
        sq_exact[i % c] += d * d;
    }
    k->channel_sums(x, rows, c, mean, NULL, squares);
    check(k->name, "channel squared deviations 37x19", squares, sq_exact, sq_exact, c, rows + 3);

    // 2×2 max pooling of [1][6][5][19] (floor: the last column is dropped): exact.
    float pooled[3 * 2 * 19];
    double pooled_exact[3 * 2 * 19], zero[3 * 2 * 19] = {0};
    uint8_t which[3 * 2 * 19];
    k->maxpool2x2(x, 1, 6, 5, 19, pooled, which);
    for (int oy = 0; oy < 3; oy++)
        for (int ox = 0; ox < 2; ox++)
            for (int j = 0; j < 19; j++) {
                double m = -INFINITY;
                for (int d = 0; d < 4; d++) {
                    double v = x[((2 * oy + d / 2) * 5 + 2 * ox + d % 2) * 19 + j];
                    if (v > m) m = v;
                }
                pooled_exact[(oy * 2 + ox) * 19 + j] = m;
            }
    check(k->name, "max pool 2x2 6x5x19", pooled, pooled_exact, zero, 3 * 2 * 19, 1);

    // Dense 3×19 -> 7 with bias.
    float *kernel = random_floats(19 * 7, 24), *dbias = random_floats(7, 25), dout[21];
    double dexact[21], dmagnitude[21];
    k->dense(x, 3, 19, kernel, dbias, 7, 0, dout);
    for (int b = 0; b < 3; b++)
        for (int o = 0; o < 7; o++) {
            double s = dbias[o], m = fabs(dbias[o]);
            for (int i = 0; i < 19; i++) {
                s += (double)x[b * 19 + i] * kernel[i * 7 + o];
                m += fabs((double)x[b * 19 + i] * kernel[i * 7 + o]);
            }
            dexact[b * 7 + o] = s;
            dmagnitude[b * 7 + o] = m;
        }
    check(k->name, "dense 3x19->7", dout, dexact, dmagnitude, 21, 2 * 19 + 1);
    free(x); free(scale); free(shift); free(y); free(exact); free(magnitude); free(kernel); free(dbias);
}

// Area resampling against its definition written out in scalar C, which must match exactly.
static void check_resampling(void) {
    const int src_w = 23, src_h = 17, ch = 3, out_w = 7, out_h = 5, nx = 4, ny = 4;
    size_t row_length = (size_t)src_w * ch;
    uint8_t src[17 * 23 * 3], got[5 * 7 * 3], want[5 * 7 * 3];
    rng_state = 31;
    for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)((uniform() + 1) * 127.9);
    int64_t xo[7 * 4], yo[5 * 4];
    float xw[7 * 4], yw[5 * 4], row[23 * 3 + 4];
    for (int o = 0; o < out_w; o++)
        for (int t = 0; t < nx; t++) {
            xo[o * nx + t] = (int64_t)((o * 3 + t) % src_w) * ch;
            xw[o * nx + t] = 0.25f;
        }
    for (int o = 0; o < out_h; o++)
        for (int t = 0; t < ny; t++) {
            yo[o * ny + t] = (int64_t)((o * 3 + t) % src_h) * (int64_t)row_length;
            yw[o * ny + t] = t == 0 ? 0.125f : 0.875f / 3;
        }
    hs_resample_u8(src, row_length, ch, yo, yw, ny, out_h, xo, xw, nx, out_w, row, got);
    for (int oy = 0; oy < out_h; oy++) {
        float r[23 * 3];
        for (size_t i = 0; i < row_length; i++) {
            float v = 0.0f + yw[oy * ny] * (float)src[yo[oy * ny] + i];
            for (int t = 1; t < ny; t++) {
                float p = yw[oy * ny + t] * (float)src[yo[oy * ny + t] + i];  // no fused multiply-add
                v = v + p;
            }
            r[i] = v;
        }
        for (int ox = 0; ox < out_w; ox++)
            for (int c = 0; c < ch; c++) {
                float s = 0;
                for (int t = 0; t < nx; t++) {
                    float p = xw[ox * nx + t] * r[xo[ox * nx + t] + c];
                    s = s + p;
                }
                float v = s + 0.5f;
                want[(oy * out_w + ox) * ch + c] = (uint8_t)(v > 255.0f ? 255.0f : v);
            }
    }
    int ok = memcmp(got, want, sizeof got) == 0;
    printf("%s %-9s %-44s %s\n", ok ? "ok  " : "FAIL", "-", "area resampling 23x17 -> 7x5 (exact)", ok ? "identical" : "differs");
    if (ok) passed++; else failed++;
}

int main(void) {
    char cpu[128];
    hs_cpu_name(cpu, sizeof cpu);
    printf("CPU: %s\n", cpu);
    for (int i = 0; hs_kernel_set_at(i); i++) {
        const hs_kernel_set *k = hs_kernel_set_at(i);
        if (!hs_kernel_set_supported(k)) {
            printf("skip %-9s (this CPU cannot run it)\n", k->name);
            continue;
        }
        check_convolutions(k, 2, 7, 13, 3, 32);
        check_convolutions(k, 3, 5, 5, 32, 64);
        check_convolutions(k, 2, 6, 10, 32, 64);
        check_convolutions(k, 1, 4, 6, 48, 96);
        check_convolutions(k, 9, 4, 4, 16, 32);
        // ResNet's stem, strided 3×3 and 1×1 downsampling, a dilated window, and a one-pixel row.
        check_window_conv(k, 2, 19, 17, 3, 64, make_window(19, 17, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3));
        check_window_conv(k, 2, 9, 11, 32, 32, make_window(9, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1));
        check_window_conv(k, 3, 6, 14, 48, 64, make_window(6, 14, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0));
        check_window_conv(k, 1, 9, 15, 16, 32, make_window(9, 15, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2));
        check_window_conv(k, 2, 1, 1, 64, 96, make_window(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0));
        check_window_ops(k);
        check_elementwise(k);
    }
    check_resampling();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
