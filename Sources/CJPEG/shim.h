// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev). Found through pkg-config
// `libturbojpeg`. TurboJPEG reports errors through return codes and tjGetErrorStr2 rather than
// libjpeg's longjmp, so Swift calls it directly.
#include <turbojpeg.h>
