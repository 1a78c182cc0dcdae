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

// One block: amax, d = amax / 127 as fp16, q = x * (127 / amax) rounded to nearest even,
// packed 32 -> 8 bits (the packs interleave 128-bit lanes; the final permute restores order).
AVX2 static void to_q8_0(const float *x, uint8_t *dst, long n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (long blk = 0; blk < n / IK_QK; blk++, x += IK_QK, dst += IK_Q8_BYTES) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
        }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float amax = _mm_cvtss_f32(h), d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        uint16_t dh = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(dst, &dh, 2);
        __m256i q[4];
        for (int i = 0; i < 4; i++) {
            __m256 p = _mm256_round_ps(_mm256_mul_ps(v[i], _mm256_set1_ps(id)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q[i] = _mm256_cvttps_epi32(p);
        }
        __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(dst + 2), b);
    }
}

AVX2 IK_INLINE void store(float *y, long ldy, int R, int B, __m256 acc[8][4], float tail[8][4], int accumulate) {
    for (int b = 0; b < B; b++)
        for (int r = 0; r < R; r++) {
            float v = hsum(acc[r][b]) + tail[r][b];
            y[(long)b * ldy + r] = accumulate ? y[(long)b * ldy + r] + v : v;
        }
}

AVX2 IK_INLINE void f32_tile(const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                             size_t as, long n, float *y, long ldy, int accumulate) {
    __m256 acc[8][4];
    float tail[8][4] = {{0}};
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm256_setzero_ps();
    const int prefetch = ws == (size_t)n * 4; // whole adjacent rows: later tiles follow
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        if (prefetch) ik_prefetch_slice(next, R * 32, i / 8);
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
    __m256 acc[8][4];
    float tail[8][4] = {{0}};
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm256_setzero_ps();
    const int prefetch = ws == (size_t)n * 2; // whole adjacent rows: later tiles follow
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        if (prefetch) ik_prefetch_slice(next, R * 16, i / 8);
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

/// 32 Q4_0 nibbles as unsigned bytes in element order: the 16 bytes in both 128-bit halves,
/// the high half shifted down by 4, then masked.
AVX2 IK_INLINE __m256i q4_nibbles(const uint8_t *block) {
    __m256i x = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(block + 2)));
    return _mm256_and_si256(_mm256_srlv_epi64(x, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

/// The fp16 scales at four blocks as floats in lanes 0-3, repeated in lanes 4-7.
AVX2 IK_INLINE __m256 scales4(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3) {
    __m128 f = _mm_cvtph_ps(_mm_setr_epi16((short)ik_load_u16(p0), (short)ik_load_u16(p1), (short)ik_load_u16(p2),
                                           (short)ik_load_u16(p3), 0, 0, 0, 0));
    return _mm256_set_m128(f, f);
}

/// Four pairs' int32 lane sums folded into one vector: lane i and lane i + 4 hold halves of
/// pair i's sum, so one convert and one FMA serve four pairs.
AVX2 IK_INLINE __m256i fold4(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
    return _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
}

/// fold4 for Q4_0, a step earlier: vpmaddubsw's int16 sums of nibbles times activations are at
/// most 2 * 15 * 127 = 3810, so two rounds of 16-bit horizontal adds (at most 15240) cannot
/// overflow, and one vpmaddwd then widens all four pairs at once.
AVX2 IK_INLINE __m256i fold4_q4(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    __m256i h = _mm256_hadd_epi16(_mm256_hadd_epi16(p0, p1), _mm256_hadd_epi16(p2, p3));
    return _mm256_madd_epi16(h, _mm256_set1_epi16(1));
}

/// Sums the two halves of a folded accumulator: the four pairs' results.
AVX2 IK_INLINE __m128 unfold4(__m256 v) { return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); }

/// One weight block ready for products: Q4_0 nibbles (u), or a Q8_0 block's |w| (u) and w.
typedef struct { __m256i u, w; } wblock;

AVX2 IK_INLINE wblock load_weights(const int q4, const uint8_t *p) {
    wblock b;
    if (q4) {
        b.u = q4_nibbles(p);
        b.w = b.u;
    } else {
        b.w = _mm256_loadu_si256((const __m256i *)(p + 2));
        b.u = _mm256_abs_epi8(b.w);
    }
    return b;
}

/// Eight int32 partial sums of a block's products: Q4_0 nibbles times a (the 8 * sum(a)
/// offset is taken off by the caller), or |w| times a with w's sign moved onto a.
AVX2 IK_INLINE __m256i pair_sums(const int q4, wblock w, __m256i a) {
    __m256i p = _mm256_maddubs_epi16(w.u, q4 ? a : _mm256_sign_epi8(a, w.w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/// Q8_0 (q4 = 0) or Q4_0 (q4 = 1) weights times Q8_0 activations; see the file comment.
/// Pairs are folded four at a time (fold4) when the tile has 4 activation rows (the four
/// activation rows of one weight row) or a multiple of 4 weight rows (four weight rows of one
/// activation row); other edge tiles keep one accumulator per pair. For Q4_0 the 8 * sum(a)
/// offsets are folded the same way once per block and subtracted from the folded sums.
AVX2 IK_INLINE void q_tile(const int q4, const int R, const int B, const uint8_t *w, size_t ws,
                           const uint8_t *a, size_t as, long n, float *y, long ldy, int accumulate) {
    const int by_act = B == 4, by_row = !by_act && R % 4 == 0;
    const size_t wbytes = q4 ? IK_Q4_BYTES : IK_Q8_BYTES;
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    const __m256i ones = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8), zero = _mm256_setzero_si256();
    __m256 acc[8][4];
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm256_setzero_ps();
    for (long k = 0; k < n / IK_QK; k++) {
        const uint8_t *ak = a + k * IK_Q8_BYTES, *wk = w + k * wbytes;
        ik_prefetch_slice(next, R * wbytes, k);
        __m256i av[4], corr[4];
        __m256 da[4];
        for (int b = 0; b < B; b++) {
            av[b] = _mm256_loadu_si256((const __m256i *)(ak + b * as + 2));
            corr[b] = q4 ? _mm256_madd_epi16(_mm256_maddubs_epi16(eight, av[b]), ones) : zero;
            if (!by_act) da[b] = _mm256_set1_ps(half_at(ak + b * as));
        }
        if (by_act) {
            da[0] = scales4(ak, ak + as, ak + 2 * as, ak + 3 * as);
            __m256i c = q4 ? fold4(corr[0], corr[1], corr[2], corr[3]) : zero;
            for (int r = 0; r < R; r++) {
                const uint8_t *p = wk + r * ws;
                wblock wb = load_weights(q4, p);
                __m256i s;
                if (q4) {
                    s = fold4_q4(_mm256_maddubs_epi16(wb.u, av[0]), _mm256_maddubs_epi16(wb.u, av[1]),
                                 _mm256_maddubs_epi16(wb.u, av[2]), _mm256_maddubs_epi16(wb.u, av[3]));
                    s = _mm256_sub_epi32(s, c);
                } else {
                    s = fold4(pair_sums(q4, wb, av[0]), pair_sums(q4, wb, av[1]), pair_sums(q4, wb, av[2]), pair_sums(q4, wb, av[3]));
                }
                acc[r][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(_mm256_set1_ps(half_at(p)), da[0]), acc[r][0]);
            }
        } else if (by_row) {
            __m256i c[4];
            for (int b = 0; b < B; b++) c[b] = q4 ? fold4(corr[b], corr[b], corr[b], corr[b]) : zero;
            for (int g = 0; g < R / 4; g++) {
                const uint8_t *p = wk + 4 * g * ws;
                wblock wb[4];
                for (int i = 0; i < 4; i++) wb[i] = load_weights(q4, p + i * ws);
                __m256 dw = scales4(p, p + ws, p + 2 * ws, p + 3 * ws);
                for (int b = 0; b < B; b++) {
                    __m256i s;
                    if (q4) {
                        s = fold4_q4(_mm256_maddubs_epi16(wb[0].u, av[b]), _mm256_maddubs_epi16(wb[1].u, av[b]),
                                     _mm256_maddubs_epi16(wb[2].u, av[b]), _mm256_maddubs_epi16(wb[3].u, av[b]));
                        s = _mm256_sub_epi32(s, c[b]);
                    } else {
                        s = fold4(pair_sums(q4, wb[0], av[b]), pair_sums(q4, wb[1], av[b]), pair_sums(q4, wb[2], av[b]),
                                  pair_sums(q4, wb[3], av[b]));
                    }
                    acc[g][b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, da[b]), acc[g][b]);
                }
            }
        } else {
            for (int r = 0; r < R; r++) {
                const uint8_t *p = wk + r * ws;
                wblock wb = load_weights(q4, p);
                __m256 dw = _mm256_set1_ps(half_at(p));
                for (int b = 0; b < B; b++) {
                    __m256i s = _mm256_sub_epi32(pair_sums(q4, wb, av[b]), corr[b]);
                    acc[r][b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, da[b]), acc[r][b]);
                }
            }
        }
    }
    float out[4];
    if (by_act) {
        for (int r = 0; r < R; r++) {
            _mm_storeu_ps(out, unfold4(acc[r][0]));
            for (int b = 0; b < 4; b++) y[(long)b * ldy + r] = accumulate ? y[(long)b * ldy + r] + out[b] : out[b];
        }
    } else if (by_row) {
        for (int g = 0; g < R / 4; g++)
            for (int b = 0; b < B; b++) {
                _mm_storeu_ps(out, unfold4(acc[g][b]));
                for (int i = 0; i < 4; i++) {
                    float *o = y + (long)b * ldy + 4 * g + i;
                    *o = accumulate ? *o + out[i] : out[i];
                }
            }
    } else {
        float tail[8][4] = {{0}};
        store(y, ldy, R, B, acc, tail, accumulate);
    }
}

#define TILE_FN(name, kernel, DISPATCH)                                                                \
    AVX2 static void name(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                          long cols, float *y, long ldy, int accumulate) {                           \
        DISPATCH(kernel##_CALL, nr, nb)                                                              \
    }
#define f32_tile_CALL(R, B) f32_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define f16_tile_CALL(R, B) f16_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define q8_0_tile_CALL(R, B) q_tile(0, R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define q4_0_tile_CALL(R, B) q_tile(1, R, B, w, ws, a, as, cols, y, ldy, accumulate)
TILE_FN(tile_f32, f32_tile, IK_TILE_DISPATCH4)
TILE_FN(tile_f16, f16_tile, IK_TILE_DISPATCH4)
TILE_FN(tile_q8_0, q8_0_tile, IK_TILE_DISPATCH)
TILE_FN(tile_q4_0, q4_0_tile, IK_TILE_DISPATCH)

const ik_variant_table ik_avx2_variant = {
    .name = "avx2",
    .supported = supported,
    .to_f16 = to_f16,
    .to_q8_0 = to_q8_0,
    .kernels = {
        {tile_f32, 3, 4, 512},
        {tile_f16, 3, 4, 1024},
        {tile_q4_0, 8, 4, 0},
        {tile_q8_0, 8, 4, 0},
    },
};
