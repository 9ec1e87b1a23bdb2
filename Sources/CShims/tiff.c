#include "CShims.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int hs_tiff_get_u16(TIFF *tif, uint32_t tag, uint16_t *value) { return TIFFGetField(tif, tag, value); }
int hs_tiff_get_u32(TIFF *tif, uint32_t tag, uint32_t *value) { return TIFFGetField(tif, tag, value); }
int hs_tiff_get_float(TIFF *tif, uint32_t tag, float *value) { return TIFFGetField(tif, tag, value); }
int hs_tiff_get_defaulted_u16(TIFF *tif, uint32_t tag, uint16_t *value) {
    return TIFFGetFieldDefaulted(tif, tag, value);
}

int hs_tiff_set_u16(TIFF *tif, uint32_t tag, uint16_t value) { return TIFFSetField(tif, tag, (int)value); }
int hs_tiff_set_u32(TIFF *tif, uint32_t tag, uint32_t value) { return TIFFSetField(tif, tag, value); }
int hs_tiff_set_int(TIFF *tif, uint32_t tag, int value) { return TIFFSetField(tif, tag, value); }
// Rational tags (XResolution, ...) are read from the va_list as double by libtiff.
int hs_tiff_set_double(TIFF *tif, uint32_t tag, double value) { return TIFFSetField(tif, tag, value); }
int hs_tiff_set_string(TIFF *tif, uint32_t tag, const char *value) { return TIFFSetField(tif, tag, value); }
int hs_tiff_set_ycbcr_subsampling(TIFF *tif, uint16_t horizontal, uint16_t vertical) {
    return TIFFSetField(tif, TIFFTAG_YCBCRSUBSAMPLING, (int)horizontal, (int)vertical);
}

static _Thread_local char last_error[1024];

static void capture_error(const char *module, const char *fmt, va_list ap) {
    char message[900];
    vsnprintf(message, sizeof message, fmt, ap);
    if (module && *module) {
        snprintf(last_error, sizeof last_error, "%s: %s", module, message);
    } else {
        snprintf(last_error, sizeof last_error, "%s", message);
    }
}

// Warnings are ignored (unknown private tags are common in slides), except libjpeg's, which
// libtiff's JPEG codec passes on as warnings from the module "JPEGLib": "Corrupt JPEG data",
// "Premature end of JPEG file". libjpeg fills what it could not decode with grey, so these mean
// damaged pixels and are recorded as errors.
static void filter_warning(const char *module, const char *fmt, va_list ap) {
    if (module && strcmp(module, "JPEGLib") == 0) capture_error(module, fmt, ap);
}

void hs_tiff_capture_errors(void) {
    TIFFSetErrorHandler(capture_error);
    TIFFSetWarningHandler(filter_warning);
}

const char *hs_tiff_last_error(void) { return last_error; }
void hs_tiff_clear_error(void) { last_error[0] = 0; }
