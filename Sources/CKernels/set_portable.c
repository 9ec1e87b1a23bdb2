// The kernels compiled for the baseline of whatever CPU the package is built for: the
// fallback everywhere, and the reference point of the tests that force HISTOSCREEN_ISA=portable.
#include "isa/vec_portable.h"
#include "isa/kernels.h"
HV_END
