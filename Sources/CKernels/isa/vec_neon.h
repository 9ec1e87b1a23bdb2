// The vector vocabulary for ARM NEON (AArch64 Advanced SIMD, part of every ARMv8-A CPU):
// 4 floats per q register, 32 registers. The 3×3 kernels' register tile is 6 rows × 4 vectors
// (24 accumulators, 4 weight vectors and a broadcast); a 32-channel weight block is covered in
// two 16-channel passes.
#include <arm_neon.h>

#define HV_NAME "neon"
#define HV_SUMMARY "ARM NEON (AArch64), 4 lanes, fused multiply-add"
#define HV_SET hs_kernels_neon
#define HV_LANES 4
#define HV_TILE_ROWS 6
#define HV_TILE_VECS 4
#define HV_END  // NEON is part of the AArch64 baseline: no target region

typedef float32x4_t hv_f32;
#define hv_load(p) vld1q_f32(p)
#define hv_store(p, v) vst1q_f32((p), (v))
#define hv_set1(x) vdupq_n_f32(x)
#define hv_zero() vdupq_n_f32(0.0f)
#define hv_add(a, b) vaddq_f32((a), (b))
#define hv_sub(a, b) vsubq_f32((a), (b))
// x86's max returns the second operand when either is NaN; vmaxnm returns the number, which
// gives the same max(x, 0) for ReLU.
#define hv_max(a, b) vmaxnmq_f32((a), (b))
/// a·b + c, fused.
#define hv_fma(a, b, c) vfmaq_f32((c), (a), (b))
