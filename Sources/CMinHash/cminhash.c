#include "cminhash.h"
#include <pthread.h>

// hi32((a*x + b) mod 2^64) for 64-bit a, b and 32-bit x equals hi32(lo32(a)*x + b) + lo32(hi32(a)*x)
// modulo 2^32: one 32x32->64 and one 32x32->32 multiply instead of a 64x64 one, which AVX2 lacks.
// Four shingles share each pass over the signature, so it is loaded and stored a quarter as often.
#define PERMUTE(x, x32) ((uint32_t)(((a[i] & 0xFFFFFFFFu) * (x) + b[i]) >> 32) + (uint32_t)(a[i] >> 32) * (x32))
#define KERNEL_BODY                                                                  \
    size_t s = 0;                                                                    \
    for (; s + 4 <= count; s += 4) {                                                 \
        const uint64_t x0 = shingles[s], x1 = shingles[s + 1];                       \
        const uint64_t x2 = shingles[s + 2], x3 = shingles[s + 3];                   \
        const uint32_t y0 = shingles[s], y1 = shingles[s + 1];                       \
        const uint32_t y2 = shingles[s + 2], y3 = shingles[s + 3];                   \
        for (size_t i = 0; i < permutations; i++) {                                  \
            uint32_t h0 = PERMUTE(x0, y0), h1 = PERMUTE(x1, y1);                     \
            uint32_t h2 = PERMUTE(x2, y2), h3 = PERMUTE(x3, y3);                     \
            uint32_t m = h0 < h1 ? h0 : h1;                                          \
            uint32_t n = h2 < h3 ? h2 : h3;                                          \
            m = m < n ? m : n;                                                       \
            signature[i] = m < signature[i] ? m : signature[i];                      \
        }                                                                            \
    }                                                                                \
    for (; s < count; s++) {                                                         \
        const uint64_t x = shingles[s];                                              \
        const uint32_t y = shingles[s];                                              \
        for (size_t i = 0; i < permutations; i++) {                                  \
            const uint32_t h = PERMUTE(x, y);                                        \
            signature[i] = h < signature[i] ? h : signature[i];                      \
        }                                                                            \
    }

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq,avx512vl")))
static void update_avx512(const uint32_t *shingles, size_t count, const uint64_t *a, const uint64_t *b,
                          uint32_t *signature, size_t permutations) { KERNEL_BODY }

__attribute__((target("avx2")))
static void update_avx2(const uint32_t *shingles, size_t count, const uint64_t *a, const uint64_t *b,
                        uint32_t *signature, size_t permutations) { KERNEL_BODY }

#endif

static void update_baseline(const uint32_t *shingles, size_t count, const uint64_t *a, const uint64_t *b,
                            uint32_t *signature, size_t permutations) { KERNEL_BODY }

typedef void (*update_fn)(const uint32_t *, size_t, const uint64_t *, const uint64_t *, uint32_t *, size_t);

static update_fn choose(const char **name) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        *name = "avx512";
        return update_avx512;
    }
    if (__builtin_cpu_supports("avx2")) {
        *name = "avx2";
        return update_avx2;
    }
#endif
    *name = "baseline";
    return update_baseline;
}

static update_fn chosen;
static const char *chosen_name = "baseline";
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void pick(void) { chosen = choose(&chosen_name); }

void cminhash_update(const uint32_t *shingles, size_t count, const uint64_t *a, const uint64_t *b,
                     uint32_t *signature, size_t permutations) {
    pthread_once(&once, pick);
    chosen(shingles, count, a, b, signature, permutations);
}

const char *cminhash_kernel(void) {
    pthread_once(&once, pick);
    return chosen_name;
}
