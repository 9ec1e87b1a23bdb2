// libpng C API (Debian: libpng-dev). Found through pkg-config `libpng`.
// HistoScreen uses only libpng's "simplified" API (png_image_*), which reports
// errors through png_image.message instead of longjmp, so Swift calls it directly.
#include <png.h>
