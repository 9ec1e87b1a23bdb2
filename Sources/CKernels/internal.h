// Constants shared by the layout helpers (common.c) and the kernel body (isa/kernels.h).
#ifndef HISTOSCREEN_CKERNELS_INTERNAL_H
#define HISTOSCREEN_CKERNELS_INTERNAL_H

#include "CKernels.h"

/// Floats between consecutive positions' planes of Winograd's V and M beyond the plane itself:
/// one cache line, so that the 16 planes a tile's transform touches do not all map to the same
/// cache set (plane sizes are often multiples of 4 KiB).
#define HS_WINOGRAD_PLANE_PAD 16

#endif
