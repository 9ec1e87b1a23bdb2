// libtiff C API (Debian: libtiff-dev). Found through pkg-config `libtiff-4`.
#include <tiffio.h>
