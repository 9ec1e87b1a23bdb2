// CShims: only what Swift cannot call directly.
//
// libtiff's TIFFGetField/TIFFSetField are C variadic functions, which Swift cannot
// call, and its error handlers receive a va_list. Each wrapper below fixes one
// argument type. libpng needs no shim: HistoScreen uses its simplified API, which
// reports errors without longjmp.
#ifndef HISTOSCREEN_CSHIMS_H
#define HISTOSCREEN_CSHIMS_H

#include <stdint.h>
#include <tiffio.h>

/// Returns 1 and stores the tag's value when the tag is present, else 0.
int hs_tiff_get_u16(TIFF *tif, uint32_t tag, uint16_t *value);
int hs_tiff_get_u32(TIFF *tif, uint32_t tag, uint32_t *value);
int hs_tiff_get_float(TIFF *tif, uint32_t tag, float *value);
/// Tags that TIFFGetField reports together with their defaults (e.g. BitsPerSample).
int hs_tiff_get_defaulted_u16(TIFF *tif, uint32_t tag, uint16_t *value);

/// Return 1 on success, 0 on failure (the message is in hs_tiff_last_error()).
int hs_tiff_set_u16(TIFF *tif, uint32_t tag, uint16_t value);
int hs_tiff_set_u32(TIFF *tif, uint32_t tag, uint32_t value);
int hs_tiff_set_int(TIFF *tif, uint32_t tag, int value);
int hs_tiff_set_double(TIFF *tif, uint32_t tag, double value);
int hs_tiff_set_string(TIFF *tif, uint32_t tag, const char *value);
int hs_tiff_set_ycbcr_subsampling(TIFF *tif, uint16_t horizontal, uint16_t vertical);

/// Routes libtiff's errors into a per-thread buffer instead of stderr, and silences
/// its warnings. Idempotent; call before any other libtiff use.
void hs_tiff_capture_errors(void);
/// The last libtiff error on this thread, or "" when there was none since the last clear.
const char *hs_tiff_last_error(void);
void hs_tiff_clear_error(void);

#endif
