// The portable vocabulary: GCC/Clang vector extensions of 4 floats, which every target lowers
// to what it has (SSE2 on baseline x86-64, NEON on ARM, scalar code elsewhere). a·b + c is
// not fused unless the target has FMA and the compiler contracts it. The register tile is
// 4 rows × 2 vectors, which fits x86-64's 16 baseline xmm registers.
#include <string.h>

#define HV_NAME "portable"
#define HV_SUMMARY "portable C vector extensions, 4 lanes"
#define HV_SET hs_kernels_portable
#define HV_LANES 4
#define HV_TILE_ROWS 4
#define HV_TILE_VECS 2
#define HV_END

typedef float hv_f32 __attribute__((vector_size(16)));
typedef int hv_i32 __attribute__((vector_size(16)));

static inline hv_f32 hv_load(const float *p) {
    hv_f32 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void hv_store(float *p, hv_f32 v) { memcpy(p, &v, sizeof v); }
static inline hv_f32 hv_set1(float x) { return (hv_f32){x, x, x, x}; }
static inline hv_f32 hv_zero(void) { return (hv_f32){0, 0, 0, 0}; }
#define hv_add(a, b) ((a) + (b))
#define hv_sub(a, b) ((a) - (b))
/// max(a, b) per lane; b where a is NaN (as x86's max does).
static inline hv_f32 hv_max(hv_f32 a, hv_f32 b) {
    hv_i32 m = a > b;
    return (hv_f32)(((hv_i32)a & m) | ((hv_i32)b & ~m));
}
/// a·b + c.
#define hv_fma(a, b, c) ((a) * (b) + (c))
