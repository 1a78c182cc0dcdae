#include "ctextscan.h"

enum { SPACE = 1, LETTER = 2, DIGIT = 4, OTHER = 8 };

static inline int kind(uint8_t b) {
    if ((b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20)) return SPACE;
    if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') return LETTER;
    if (b >= '0' && b <= '9') return DIGIT;
    return OTHER;  // bytes >= 0x80 included: the caller's Unicode path decides those
}

/// Byte-by-byte scan from `i`: the reference the vector path must agree with, and the tail.
static size_t scalar_scan(const uint8_t *text, size_t i, size_t end, int64_t *bounds, size_t capacity,
                          size_t found, size_t *stop) {
    while (i < end && found < capacity) {
        while (i < end && kind(text[i]) == SPACE) i++;
        if (i == end) break;
        size_t j = i;
        int bad = 0, afterDigit = 0;
        while (j < end) {
            int k = kind(text[j]);
            if (k == SPACE) break;
            if (k == OTHER || (k == LETTER && afterDigit)) bad = 1;
            if (k == DIGIT) afterDigit = 1;
            j++;
        }
        if (bad) { *stop = i; return found; }
        bounds[2 * found] = (int64_t)i;
        bounds[2 * found + 1] = (int64_t)j;
        found++;
        i = j;
    }
    *stop = i;
    return found;
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,bmi")))
static size_t avx2_scan(const uint8_t *text, size_t start, size_t end, int64_t *bounds, size_t capacity, size_t *stop) {
    size_t p = start, found = 0;
    const __m256i lowBit = _mm256_set1_epi8(0x20);
    while (p + 32 <= end && found < capacity) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(text + p));
        // Signed compares: bytes >= 0x80 are negative, so they fall in none of these classes.
        __m256i space = _mm256_or_si256(
            _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x08)), _mm256_cmpgt_epi8(_mm256_set1_epi8(0x0E), v)),
            _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x1B)), _mm256_cmpgt_epi8(_mm256_set1_epi8(0x21), v)));
        __m256i folded = _mm256_or_si256(v, lowBit);
        __m256i letter = _mm256_and_si256(_mm256_cmpgt_epi8(folded, _mm256_set1_epi8(0x60)),
                                          _mm256_cmpgt_epi8(_mm256_set1_epi8(0x7B), folded));
        __m256i digit = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x2F)),
                                         _mm256_cmpgt_epi8(_mm256_set1_epi8(0x3A), v));
        uint32_t S = (uint32_t)_mm256_movemask_epi8(space);
        uint32_t L = (uint32_t)_mm256_movemask_epi8(letter);
        uint32_t D = (uint32_t)_mm256_movemask_epi8(digit);
        uint32_t bad = ~(S | L | D);  // other ASCII and bytes >= 0x80
        uint32_t k = 0;               // bits below k are done
        for (;;) {
            uint32_t pieces = k < 32 ? ~S & (~0u << k) : 0;
            if (pieces == 0) { p += 32; break; }  // only white space left in this block
            uint32_t first = (uint32_t)__builtin_ctz(pieces);
            uint32_t after = S & (~0u << first);
            if (after == 0) {
                // The piece runs past the block: load again from its start, or scan it byte by
                // byte when it alone fills a block.
                if (first > 0) { p += first; break; }
                size_t f = scalar_scan(text, p, end, bounds, found + 1, found, stop);
                if (f == found) return found;  // not a plain word: *stop is its start
                found = f;
                p = (size_t)bounds[2 * found - 1];
                break;
            }
            uint32_t last = (uint32_t)__builtin_ctz(after);
            uint32_t piece = (~0u << first) & ((1u << last) - 1);  // last >= 1 here
            uint32_t digits = D & piece;
            if ((bad & piece) || (digits && (L & piece & (~0u << __builtin_ctz(digits))))) {
                *stop = p + first;
                return found;
            }
            bounds[2 * found] = (int64_t)(p + first);
            bounds[2 * found + 1] = (int64_t)(p + last);
            found++;
            if (found == capacity) { *stop = p + last; return found; }
            k = last;
        }
    }
    if (found == capacity) { *stop = p; return found; }
    return scalar_scan(text, p, end, bounds, capacity, found, stop);
}
#endif

size_t ctextscan_plain_words(const uint8_t *text, size_t start, size_t end, int64_t *bounds, size_t capacity,
                             size_t *stop) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi")) return avx2_scan(text, start, end, bounds, capacity, stop);
#endif
    return scalar_scan(text, start, end, bounds, capacity, 0, stop);
}
