// Helpers the AVX2 and AVX-512 variants share, compiled once into each with its own target:
// the including file defines IK_X86 as its target attribute first.
#pragma once
#include <immintrin.h>
#include "ik_internal.h"

IK_X86 IK_INLINE float half_at(const uint8_t *p) { return _cvtsh_ss(ik_load_u16(p)); }

IK_X86 IK_INLINE int32_t load_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/// The sum of 32 signed bytes.
IK_X86 IK_INLINE int32_t sum_i8(__m256i a) {
    __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), a), _mm256_set1_epi16(1));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    return _mm_cvtsi128_si32(_mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1)));
}

/// The fp16 scales of R (1 ... 8) blocks `stride` bytes apart as floats, 0 past R. Built in a
/// register: a vector load of halves stored one by one would wait for the stores.
IK_X86 IK_INLINE __m256 scales8(const uint8_t *p, size_t stride, const int R) {
#define IK_HALF(r) (short)((r) < R ? ik_load_u16(p + (r) * stride) : 0)
    return _mm256_cvtph_ps(_mm_setr_epi16(IK_HALF(0), IK_HALF(1), IK_HALF(2), IK_HALF(3), IK_HALF(4), IK_HALF(5), IK_HALF(6), IK_HALF(7)));
#undef IK_HALF
}

/// Lane i of the result is the sum of the 8 int32 lanes of v[i]: two rounds of horizontal adds
/// within 128-bit halves, then the halves added across.
IK_X86 IK_INLINE __m256i reduce8(const __m256i v[8]) {
    __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}
