// Choosing the kernel set: the candidates built for this architecture, in order of preference,
// each with the check that says whether this CPU can run it.
#include "CKernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const hs_kernel_set hs_kernels_avx512, hs_kernels_avx2, hs_kernels_neon, hs_kernels_portable;

#if defined(__x86_64__) || defined(_M_X64)
// libgcc / compiler-rt read cpuid and check that the OS saves the vector state (XCR0).
static int has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}
static int has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif
static int always(void) { return 1; }

static const struct {
    const hs_kernel_set *set;
    int (*supported)(void);
} candidates[] = {
#if defined(__x86_64__) || defined(_M_X64)
    {&hs_kernels_avx512, has_avx512},
    {&hs_kernels_avx2, has_avx2},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {&hs_kernels_neon, always},
#endif
    {&hs_kernels_portable, always},
};
#define CANDIDATES ((int)(sizeof candidates / sizeof candidates[0]))

const hs_kernel_set *hs_kernel_set_at(int index) {
    return index >= 0 && index < CANDIDATES ? candidates[index].set : NULL;
}

int hs_kernel_set_supported(const hs_kernel_set *set) {
    for (int i = 0; i < CANDIDATES; i++)
        if (candidates[i].set == set) return candidates[i].supported();
    return 0;
}

const hs_kernel_set *hs_kernel_set_choose(const char *request, const char **problem) {
    const hs_kernel_set *best = &hs_kernels_portable;
    for (int i = 0; i < CANDIDATES; i++)
        if (candidates[i].supported()) {
            best = candidates[i].set;
            break;
        }
    if (problem) *problem = NULL;
    if (!request || !*request) return best;
    for (int i = 0; i < CANDIDATES; i++)
        if (strcmp(candidates[i].set->name, request) == 0) {
            if (candidates[i].supported()) return candidates[i].set;
            if (problem) *problem = "this CPU cannot run that kernel set";
            return best;
        }
    // Sets are built per CPU architecture, so a name this build lacks may be another's.
    if (problem) *problem = "this build has no kernel set of that name (sets are built per CPU architecture)";
    return best;
}

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

void hs_cpu_name(char *out, size_t size) {
    if (!out || size == 0) return;
    out[0] = 0;
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    unsigned int regs[12];
    if (__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        for (unsigned int i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
        char brand[49];
        memcpy(brand, regs, 48);
        brand[48] = 0;
        const char *start = brand;
        while (*start == ' ') start++;
        snprintf(out, size, "%s", start);
    }
#endif
    if (!out[0]) {  // other architectures: the kernel's description, where it gives one
        FILE *f = fopen("/proc/cpuinfo", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) && strncmp(line, "Model", 5) && strncmp(line, "Hardware", 8)) continue;
            const char *colon = strchr(line, ':');
            if (!colon) continue;
            colon++;
            while (*colon == ' ' || *colon == '\t') colon++;
            snprintf(out, size, "%s", colon);
            break;
        }
        if (f) fclose(f);
    }
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = 0;
    if (!out[0]) snprintf(out, size, "unknown");
}
