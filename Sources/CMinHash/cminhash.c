#include "cminhash.h"
#include <pthread.h>
#include <string.h>

static inline uint64_t avalanche(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

// Eight bytes at a time: each step is a bijection of h for a given chunk, and the length in the
// top byte keeps words of up to seven bytes apart from each other and from longer ones. When
// at least eight bytes may be read from the last chunk's start, it is one masked load.
static inline uint64_t hash_bytes(const uint8_t *bytes, size_t count, size_t readable) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)count << 56);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        uint64_t chunk;
        memcpy(&chunk, bytes + i, 8);
        h = (h ^ chunk) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
    }
    const size_t rest = count - i;
    uint64_t tail = 0;
    if (rest > 0 && readable - i >= 8) {
        memcpy(&tail, bytes + i, 8);
        tail &= ~0ULL >> (64 - 8 * rest);
    } else {
        for (size_t j = 0; j < rest; j++) tail |= (uint64_t)bytes[i + j] << (8 * j);
    }
    return avalanche(h ^ tail);
}

uint64_t cminhash_bytes(const uint8_t *bytes, size_t count) { return hash_bytes(bytes, count, count); }

// Spaces are found eight bytes at a time: after x = chunk ^ 0x20..20, the exact zero-byte test
// sets bit 7 of each byte that was a space.
size_t cminhash_words(const uint8_t *text, size_t count, uint64_t *words) {
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;
    size_t words_found = 0, start = 0, i = 0;
    for (; i + 8 <= count; i += 8) {
        uint64_t chunk;
        memcpy(&chunk, text + i, 8);
        const uint64_t x = chunk ^ 0x2020202020202020ULL;
        uint64_t spaces = ~(((x & low7) + low7) | x | low7);
        while (spaces) {
            const size_t at = i + ((size_t)__builtin_ctzll(spaces) >> 3);
            if (at > start) words[words_found++] = hash_bytes(text + start, at - start, count - start);
            start = at + 1;
            spaces &= spaces - 1;
        }
    }
    for (; i < count; i++) {
        if (text[i] != 0x20) continue;
        if (i > start) words[words_found++] = hash_bytes(text + start, i - start, count - start);
        start = i + 1;
    }
    if (count > start) words[words_found++] = hash_bytes(text + start, count - start, count - start);
    return words_found;
}

static inline uint32_t fold(uint64_t h) { return (uint32_t)(h ^ (h >> 32)); }

static inline uint64_t combine(const uint64_t *words, size_t count) {
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < count; i++) {
        h = (h ^ words[i]) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
    }
    return h;
}

size_t cminhash_word_shingles(const uint64_t *words, size_t count, size_t ngram, uint32_t *shingles) {
    if (count == 0) return 0;
    if (count <= ngram) {
        shingles[0] = fold(combine(words, count));
        return 1;
    }
    for (size_t i = 0; i + ngram <= count; i++) shingles[i] = fold(combine(words + i, ngram));
    return count - ngram + 1;
}

size_t cminhash_byte_shingles(const uint8_t *text, size_t count, size_t ngram, uint32_t *shingles) {
    if (count <= ngram) {
        shingles[0] = fold(cminhash_bytes(text, count));
        return 1;
    }
    for (size_t i = 0; i + ngram <= count; i++) shingles[i] = fold(hash_bytes(text + i, ngram, count - i));
    return count - ngram + 1;
}

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

// AVX2 has 32x32->64 multiplies on the even dwords of four 64-bit lanes (vpmuludq). For eight
// permutations, P0 = a[0..3].lo * x + b[0..3] and P1 = a[4..7].lo * x + b[4..7]; the high dwords
// of P0 shifted down sit at the even positions and those of P1 at the odd ones, so one blend
// gives them in the order 0,4,1,5,2,6,3,7. The high halves of a are blended into the same order,
// and so is the working copy of the signature, which is put back in order at the end.
#include <immintrin.h>
#define AVX2_MAX_BLOCKS 128

__attribute__((target("avx2")))
static inline __m256i permute8(__m256i a0, __m256i a1, __m256i b0, __m256i b1, __m256i ahi, __m256i x) {
    const __m256i p0 = _mm256_add_epi64(_mm256_mul_epu32(a0, x), b0);
    const __m256i p1 = _mm256_add_epi64(_mm256_mul_epu32(a1, x), b1);
    const __m256i lo = _mm256_blend_epi32(_mm256_srli_epi64(p0, 32), p1, 0xAA);
    return _mm256_add_epi32(_mm256_mullo_epi32(ahi, x), lo);
}

__attribute__((target("avx2")))
static void update_avx2(const uint32_t *shingles, size_t count, const uint64_t *a, const uint64_t *b,
                        uint32_t *signature, size_t permutations) {
    const size_t blocks = permutations / 8 < AVX2_MAX_BLOCKS ? permutations / 8 : AVX2_MAX_BLOCKS;
    const __m256i interleave = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i restore = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    __m256i ahi[AVX2_MAX_BLOCKS], sig[AVX2_MAX_BLOCKS];
    for (size_t k = 0; k < blocks; k++) {
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)(a + 8 * k));
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 8 * k + 4));
        ahi[k] = _mm256_blend_epi32(_mm256_srli_epi64(a0, 32), a1, 0xAA);
        sig[k] = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(signature + 8 * k)), interleave);
    }
    size_t s = 0;
    for (; s + 4 <= count; s += 4) {
        const __m256i x0 = _mm256_set1_epi32((int)shingles[s]), x1 = _mm256_set1_epi32((int)shingles[s + 1]);
        const __m256i x2 = _mm256_set1_epi32((int)shingles[s + 2]), x3 = _mm256_set1_epi32((int)shingles[s + 3]);
        for (size_t k = 0; k < blocks; k++) {
            const __m256i a0 = _mm256_loadu_si256((const __m256i *)(a + 8 * k));
            const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 8 * k + 4));
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + 8 * k));
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 8 * k + 4));
            const __m256i h = ahi[k];
            const __m256i m01 = _mm256_min_epu32(permute8(a0, a1, b0, b1, h, x0), permute8(a0, a1, b0, b1, h, x1));
            const __m256i m23 = _mm256_min_epu32(permute8(a0, a1, b0, b1, h, x2), permute8(a0, a1, b0, b1, h, x3));
            sig[k] = _mm256_min_epu32(sig[k], _mm256_min_epu32(m01, m23));
        }
    }
    for (; s < count; s++) {
        const __m256i x = _mm256_set1_epi32((int)shingles[s]);
        for (size_t k = 0; k < blocks; k++) {
            const __m256i a0 = _mm256_loadu_si256((const __m256i *)(a + 8 * k));
            const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 8 * k + 4));
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + 8 * k));
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 8 * k + 4));
            sig[k] = _mm256_min_epu32(sig[k], permute8(a0, a1, b0, b1, ahi[k], x));
        }
    }
    for (size_t k = 0; k < blocks; k++)
        _mm256_storeu_si256((__m256i *)(signature + 8 * k), _mm256_permutevar8x32_epi32(sig[k], restore));
    // Permutations past the last whole block of eight.
    for (size_t i = 8 * blocks; i < permutations; i++) {
        for (s = 0; s < count; s++) {
            const uint32_t h = PERMUTE((uint64_t)shingles[s], shingles[s]);
            signature[i] = h < signature[i] ? h : signature[i];
        }
    }
}

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

size_t cminhash_sorted_set(uint32_t *values, uint32_t *scratch, size_t count) {
    uint32_t *from = values, *to = scratch;
    for (int shift = 0; shift < 32; shift += 8) {
        size_t offsets[256] = {0};
        for (size_t i = 0; i < count; i++) offsets[(from[i] >> shift) & 0xFF]++;
        size_t total = 0;
        for (int d = 0; d < 256; d++) { size_t n = offsets[d]; offsets[d] = total; total += n; }
        for (size_t i = 0; i < count; i++) to[offsets[(from[i] >> shift) & 0xFF]++] = from[i];
        uint32_t *swap = from; from = to; to = swap;
    }
    // Four passes: the sorted values are back in `values`.
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (kept == 0 || values[i] != values[kept - 1]) values[kept++] = values[i];
    }
    return kept;
}
