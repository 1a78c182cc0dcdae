// OpenBLAS's CBLAS interface plus its thread and kernel queries (Debian: libopenblas-dev).
#include <cblas.h>

/// Whether this CPU runs AVX2 and FMA code (what OpenBLAS's Haswell kernels need).
static inline int pipe_cpu_has_avx2_fma(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/// Whether this CPU runs the AVX-512 subsets OpenBLAS's SkylakeX kernels use.
static inline int pipe_cpu_has_avx512_skylakex(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
}
