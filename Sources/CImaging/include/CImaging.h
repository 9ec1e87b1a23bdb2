// CImaging: the inner loops of area resampling, in C so that the float-to-byte conversion is
// not range-checked per channel (Swift traps on out-of-range conversions, and those checks
// cost more than the arithmetic here).
#ifndef HISTOSCREEN_CIMAGING_H
#define HISTOSCREEN_CIMAGING_H

#include <stddef.h>
#include <stdint.h>

/// Separable resampling of an 8-bit interleaved image, one output row at a time: the vertical
/// taps make a float row of the source's width in `row` (row_length floats), then the
/// horizontal taps make the output row, rounded half up and clamped to 255.
///   y_offsets/y_weights: out_h × ny taps, offsets in elements from `src` (row index × row_length);
///   x_offsets/x_weights: out_w × nx taps, offsets in elements within a row (column × channels).
/// `row` holds row_length + 4 floats (vector loads of the last pixel read past its end).
/// Sums run in tap order, so results match the same sums written in Swift exactly.
void hs_resample_u8(const uint8_t *src, size_t row_length, int channels,
                    const int64_t *y_offsets, const float *y_weights, int ny, int out_h,
                    const int64_t *x_offsets, const float *x_weights, int nx, int out_w,
                    float *row, uint8_t *dst);

#endif
