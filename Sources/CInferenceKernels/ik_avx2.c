// AVX2 + FMA + F16C kernels (256-bit). Every function carries its target attribute, so the
// file builds without global -mavx flags and runs only where ik_avx2_variant.supported says.
//
// Tiles are dot-product form: a tile of R weight rows x B activation rows keeps R*B vector
// accumulators, loads each weight vector once for the B activation rows and each activation
// vector once for the R weight rows, and reduces the accumulators horizontally at the end.
//  - f32/f16: 8 columns per step (f16 widened with vcvtph2ps), one FMA per pair.
//  - Q8_0 x Q8_0: one block per step; per pair vpsignb moves the weight's sign onto the
//    activation, vpmaddubsw(|w|, a * sign w) and vpmaddwd(1) give 8 int32 partial sums, which
//    are converted and FMA'd with d_w * d_x.
//  - Q4_0 x Q8_0: nibbles unpacked once per row to 32 unsigned bytes n; per pair
//    vpmaddubsw(n, a) summed to int32, minus 8 * sum(a) (computed once per activation block).
#include <immintrin.h>
#include "ik_internal.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))

static int supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

AVX2 IK_INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 IK_INLINE float half_at(const uint8_t *p) { return _cvtsh_ss(ik_load_u16(p)); }

AVX2 static void to_f16(const float *x, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = ik_float_to_half(x[i]);
}

// One block: amax, d = amax / 127 as fp16, q = trunc(x * id + copysign(IK_ROUND_BIAS, x)),
// packed 32 -> 8 bits (the packs interleave 128-bit lanes; the final permute restores order).
AVX2 static void to_q8_0(const float *x, uint8_t *dst, long n) {
    const __m256 sign = _mm256_set1_ps(-0.0f), bias = _mm256_set1_ps(IK_ROUND_BIAS);
    for (long blk = 0; blk < n / IK_QK; blk++, x += IK_QK, dst += IK_Q8_BYTES) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
        }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float amax = _mm_cvtss_f32(h), d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(dst, &dh, 2);
        __m256i q[4];
        for (int i = 0; i < 4; i++) {
            __m256 p = _mm256_mul_ps(v[i], _mm256_set1_ps(id));
            p = _mm256_add_ps(p, _mm256_or_ps(_mm256_and_ps(p, sign), bias));
            q[i] = _mm256_cvttps_epi32(p);
        }
        __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(dst + 2), b);
    }
}

AVX2 IK_INLINE void store(float *y, long ldy, int R, int B, __m256 acc[4][4], float tail[4][4], int accumulate) {
    for (int b = 0; b < B; b++)
        for (int r = 0; r < R; r++) {
            float v = hsum(acc[r][b]) + tail[r][b];
            y[(long)b * ldy + r] = accumulate ? y[(long)b * ldy + r] + v : v;
        }
}

AVX2 IK_INLINE void f32_tile(const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                             size_t as, long n, float *y, long ldy, int accumulate) {
    __m256 acc[4][4];
    float tail[4][4] = {{0}};
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 av[4];
        for (int b = 0; b < B; b++) av[b] = _mm256_loadu_ps((const float *)(a + b * as) + i);
        for (int r = 0; r < R; r++) {
            __m256 wv = _mm256_loadu_ps((const float *)(w + r * ws) + i);
            for (int b = 0; b < B; b++) acc[r][b] = _mm256_fmadd_ps(wv, av[b], acc[r][b]);
        }
    }
    for (; i < n; i++)
        for (int r = 0; r < R; r++)
            for (int b = 0; b < B; b++) tail[r][b] += ((const float *)(w + r * ws))[i] * ((const float *)(a + b * as))[i];
    store(y, ldy, R, B, acc, tail, accumulate);
}

AVX2 IK_INLINE __m256 load_f16(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

AVX2 IK_INLINE void f16_tile(const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                             size_t as, long n, float *y, long ldy, int accumulate) {
    __m256 acc[4][4];
    float tail[4][4] = {{0}};
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 av[4];
        for (int b = 0; b < B; b++) av[b] = load_f16(a + b * as + 2 * i);
        for (int r = 0; r < R; r++) {
            __m256 wv = load_f16(w + r * ws + 2 * i);
            for (int b = 0; b < B; b++) acc[r][b] = _mm256_fmadd_ps(wv, av[b], acc[r][b]);
        }
    }
    for (; i < n; i++)
        for (int r = 0; r < R; r++)
            for (int b = 0; b < B; b++) tail[r][b] += half_at(w + r * ws + 2 * i) * half_at(a + b * as + 2 * i);
    store(y, ldy, R, B, acc, tail, accumulate);
}

AVX2 IK_INLINE void q8_0_tile(const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                              size_t as, long n, float *y, long ldy, int accumulate) {
    __m256 acc[4][4];
    float tail[4][4] = {{0}};
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (long k = 0; k < n / IK_QK; k++) {
        __m256i av[4];
        __m256 da[4];
        for (int b = 0; b < B; b++) {
            const uint8_t *p = a + b * as + k * IK_Q8_BYTES;
            av[b] = _mm256_loadu_si256((const __m256i *)(p + 2));
            da[b] = _mm256_set1_ps(half_at(p));
        }
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + r * ws + k * IK_Q8_BYTES;
            __m256i wv = _mm256_loadu_si256((const __m256i *)(p + 2)), aw = _mm256_abs_epi8(wv);
            __m256 dw = _mm256_set1_ps(half_at(p));
            for (int b = 0; b < B; b++) {
                __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(av[b], wv)), ones);
                acc[r][b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, da[b]), acc[r][b]);
            }
        }
    }
    store(y, ldy, R, B, acc, tail, accumulate);
}

AVX2 IK_INLINE void q4_0_tile(const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                              size_t as, long n, float *y, long ldy, int accumulate) {
    __m256 acc[4][4];
    float tail[4][4] = {{0}};
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
    for (long k = 0; k < n / IK_QK; k++) {
        __m256i av[4], corr[4];
        __m256 da[4];
        for (int b = 0; b < B; b++) {
            const uint8_t *p = a + b * as + k * IK_Q8_BYTES;
            av[b] = _mm256_loadu_si256((const __m256i *)(p + 2));
            corr[b] = _mm256_madd_epi16(_mm256_maddubs_epi16(eight, av[b]), ones);
            da[b] = _mm256_set1_ps(half_at(p));
        }
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + r * ws + k * IK_Q4_BYTES;
            __m128i x = _mm_loadu_si128((const __m128i *)(p + 2));
            __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), low4);
            __m256 dw = _mm256_set1_ps(half_at(p));
            for (int b = 0; b < B; b++) {
                __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(nib, av[b]), ones);
                s = _mm256_sub_epi32(s, corr[b]);
                acc[r][b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, da[b]), acc[r][b]);
            }
        }
    }
    store(y, ldy, R, B, acc, tail, accumulate);
}

#define TILE_FN(name, kernel)                                                                          \
    AVX2 static void name(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                          long cols, float *y, long ldy, int accumulate) {                           \
        IK_TILE_DISPATCH(kernel##_CALL, nr, nb)                                                      \
    }
#define f32_tile_CALL(R, B) f32_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define f16_tile_CALL(R, B) f16_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define q8_0_tile_CALL(R, B) q8_0_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define q4_0_tile_CALL(R, B) q4_0_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
TILE_FN(tile_f32, f32_tile)
TILE_FN(tile_f16, f16_tile)
TILE_FN(tile_q8_0, q8_0_tile)
TILE_FN(tile_q4_0, q4_0_tile)

const ik_variant_table ik_avx2_variant = {
    .name = "avx2",
    .supported = supported,
    .to_f16 = to_f16,
    .to_q8_0 = to_q8_0,
    .kernels = {
        {tile_f32, 3, 4, 512},
        {tile_f16, 3, 4, 1024},
        {tile_q4_0, 4, 2, 0},
        {tile_q8_0, 4, 2, 0},
    },
};
