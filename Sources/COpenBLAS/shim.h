// OpenBLAS CBLAS interface (Debian: libopenblas-dev). Found through pkg-config `openblas`,
// which points at the pthread flavour's cblas.h.
#include <cblas.h>
