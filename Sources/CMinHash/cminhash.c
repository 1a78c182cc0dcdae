#include "cminhash.h"
#include <pthread.h>

#define KERNEL_BODY                                                              \
    for (size_t s = 0; s < count; s++) {                                         \
        const uint64_t x = shingles[s];                                          \
        for (size_t i = 0; i < permutations; i++) {                              \
            const uint32_t h = (uint32_t)((a[i] * x + b[i]) >> 32);              \
            signature[i] = h < signature[i] ? h : signature[i];                  \
        }                                                                        \
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
