// OpenSlide C API (Debian: libopenslide-dev). Found through pkg-config `openslide`.
#include <openslide.h>
