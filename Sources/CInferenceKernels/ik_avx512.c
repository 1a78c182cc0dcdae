// AVX-512 kernels (F, BW, VL, VNNI). Same dot-product tiles as ik_avx2.c, with 32 vector
// registers so tiles go up to 4 (f32, f16) or 8 (Q8_0, Q4_0) weight rows x 4 activation rows.
//  - f32/f16: 16 columns per step in 512-bit registers; a last partial step uses masked
//    loads, so any column count runs without a scalar tail. Tiles of 4 x 4 end with the four
//    accumulators of a weight row reduced together.
//  - Q8_0 x Q8_0 and Q4_0 x Q8_0: one block per step in 256-bit registers with VNNI's
//    vpdpbusd (unsigned x signed bytes into int32). Q8_0 weights are made unsigned as
//    w + 128 (xor 0x80) and Q4_0 nibbles are unsigned already; the offset's product with the
//    activations (128 or 8 times sum(a), computed once per activation block) starts each
//    pair's int32 sum negated, so a pair costs one vpdpbusd, one convert and one FMA.
//  - Tiles of 4 or 8 rows use 512-bit registers instead: Q4_0 (q4_rows_tile) four weight
//    rows a register with no nibble unpacking, Q8_0 (q8_rows_tile) two rows a register.
//    q_tile serves the edge tiles (1-3, 5-7 rows) in 256-bit registers.
#include <immintrin.h>
#include "ik_internal.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

static int supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
           __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

AVX512 IK_INLINE float half_at(const uint8_t *p) { return _cvtsh_ss(ik_load_u16(p)); }

AVX512 IK_INLINE float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX512 IK_INLINE float hsum512(__m512 v) {
    return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

AVX512 static void to_f16(const float *x, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(dst + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
    }
}

// As the AVX2 version, 16 floats a register; vpmovsdb narrows 32 -> 8 bits in order.
AVX512 static void to_q8_0(const float *x, uint8_t *dst, long n) {
    for (long blk = 0; blk < n / IK_QK; blk++, x += IK_QK, dst += IK_Q8_BYTES) {
        __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        uint16_t dh = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(dst, &dh, 2);
        __m512 p0 = _mm512_mul_ps(v0, _mm512_set1_ps(id)), p1 = _mm512_mul_ps(v1, _mm512_set1_ps(id));
        p0 = _mm512_roundscale_ps(p0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); // ties to even
        p1 = _mm512_roundscale_ps(p1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(dst + 2), _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(p0)));
        _mm_storeu_si128((__m128i *)(dst + 18), _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(p1)));
    }
}

AVX512 IK_INLINE void put(float *y, float v, int accumulate) { *y = accumulate ? *y + v : v; }

/// Writes a float tile's results: with 4 activation rows, each weight row's 4 accumulators are
/// reduced together (halves added, then two rounds of horizontal adds); else one at a time.
AVX512 IK_INLINE void store_tile(const int R, const int B, __m512 acc[8][4], float *y, long ldy, int accumulate) {
    for (int r = 0; r < R; r++) {
        if (B == 4) {
            __m256 h[4];
            for (int b = 0; b < 4; b++)
                h[b] = _mm256_add_ps(_mm512_castps512_ps256(acc[r][b]),
                                     _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][b]), 1)));
            __m256 f = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
            float out[4];
            _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1)));
            for (int b = 0; b < 4; b++) put(y + (long)b * ldy + r, out[b], accumulate);
        } else {
            for (int b = 0; b < B; b++) put(y + (long)b * ldy + r, hsum512(acc[r][b]), accumulate);
        }
    }
}

AVX512 IK_INLINE void f32_tile(const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                               size_t as, long n, float *y, long ldy, int accumulate) {
    __m512 acc[8][4];
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm512_setzero_ps();
    const int prefetch = ws == (size_t)n * 4; // whole adjacent rows: later tiles follow
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        if (prefetch) ik_prefetch_slice(next, R * 64, i / 16);
        __m512 av[4];
        for (int b = 0; b < B; b++) av[b] = _mm512_loadu_ps((const float *)(a + b * as) + i);
        for (int r = 0; r < R; r++) {
            __m512 wv = _mm512_loadu_ps((const float *)(w + r * ws) + i);
            for (int b = 0; b < B; b++) acc[r][b] = _mm512_fmadd_ps(wv, av[b], acc[r][b]);
        }
    }
    if (i < n) { // the last 1 ... 15 columns, masked
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 av[4];
        for (int b = 0; b < B; b++) av[b] = _mm512_maskz_loadu_ps(m, (const float *)(a + b * as) + i);
        for (int r = 0; r < R; r++) {
            __m512 wv = _mm512_maskz_loadu_ps(m, (const float *)(w + r * ws) + i);
            for (int b = 0; b < B; b++) acc[r][b] = _mm512_fmadd_ps(wv, av[b], acc[r][b]);
        }
    }
    store_tile(R, B, acc, y, ldy, accumulate);
}

AVX512 IK_INLINE void f16_tile(const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                               size_t as, long n, float *y, long ldy, int accumulate) {
    __m512 acc[8][4];
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm512_setzero_ps();
    const int prefetch = ws == (size_t)n * 2; // whole adjacent rows: later tiles follow
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        if (prefetch) ik_prefetch_slice(next, R * 32, i / 16);
        __m512 av[4];
        for (int b = 0; b < B; b++) av[b] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + b * as + 2 * i)));
        for (int r = 0; r < R; r++) {
            __m512 wv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + r * ws + 2 * i)));
            for (int b = 0; b < B; b++) acc[r][b] = _mm512_fmadd_ps(wv, av[b], acc[r][b]);
        }
    }
    if (i < n) { // the last 1 ... 15 columns, masked
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 av[4];
        for (int b = 0; b < B; b++)
            av[b] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)(a + b * as) + i));
        for (int r = 0; r < R; r++) {
            __m512 wv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)(w + r * ws) + i));
            for (int b = 0; b < B; b++) acc[r][b] = _mm512_fmadd_ps(wv, av[b], acc[r][b]);
        }
    }
    store_tile(R, B, acc, y, ldy, accumulate);
}

/// 32 Q4_0 nibbles as unsigned bytes in element order: the 16 bytes in both 128-bit halves,
/// the high half shifted down by 4, then masked.
AVX512 IK_INLINE __m256i q4_nibbles(const uint8_t *block) {
    __m256i x = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(block + 2)));
    return _mm256_and_si256(_mm256_srlv_epi64(x, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

/// The fp16 scales at four blocks as floats in lanes 0-3, repeated in lanes 4-7.
AVX512 IK_INLINE __m256 scales4(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3) {
    __m128 f = _mm_cvtph_ps(_mm_setr_epi16((short)ik_load_u16(p0), (short)ik_load_u16(p1), (short)ik_load_u16(p2),
                                           (short)ik_load_u16(p3), 0, 0, 0, 0));
    return _mm256_set_m128(f, f);
}

/// Four pairs' int32 lane sums folded into one vector: lane i and lane i + 4 hold halves of
/// pair i's sum, so one convert and one FMA serve four pairs.
AVX512 IK_INLINE __m256i fold4(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
    return _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
}

/// Sums the two halves of a folded accumulator: the four pairs' results.
AVX512 IK_INLINE __m128 unfold4(__m256 v) { return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); }

/// Q4_0 tiles of 4 or 8 weight rows and 1-4 activation rows: four rows' blocks share one
/// 512-bit register, row i's 16 packed bytes in 128-bit lane i, with no
/// unpacking: the low nibbles (masked) meet the block's first 16 activations and the high
/// nibbles (shifted, masked) its last 16, each broadcast to the four lanes, in two vpdpbusd
/// into the same int32 sums. Lanes 4i ... 4i + 3 then belong to row i, scaled by its d_w.
AVX512 IK_INLINE void q4_rows_tile(const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                                   size_t as, long n, float *y, long ldy, int accumulate) {
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    const __m512i low4 = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc[2][4];
    for (int g = 0; g < R / 4; g++)
        for (int b = 0; b < B; b++) acc[g][b] = _mm512_setzero_ps();
    for (long k = 0; k < n / IK_QK; k++) {
        const uint8_t *ak = a + k * IK_Q8_BYTES, *wk = w + k * IK_Q4_BYTES;
        ik_prefetch_slice(next, R * IK_Q4_BYTES, k);
        __m512i lo_a[4], hi_a[4], start[4];
        __m512 da[4];
        for (int b = 0; b < B; b++) {
            const uint8_t *p = ak + b * as;
            lo_a[b] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(p + 2)));
            hi_a[b] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(p + 18)));
            __m512i sum8 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, lo_a[b]), eight, hi_a[b]);
            start[b] = _mm512_sub_epi32(_mm512_setzero_si512(), sum8);
            da[b] = _mm512_set1_ps(half_at(p));
        }
        for (int g = 0; g < R / 4; g++) {
            const uint8_t *p = wk + 4 * g * ws;
            __m512i x = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + 2)));
            x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p + ws + 2)), 1);
            x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p + 2 * ws + 2)), 2);
            x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p + 3 * ws + 2)), 3);
            __m512i lo = _mm512_and_si512(x, low4), hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), low4);
            __m128 d4 = _mm_cvtph_ps(_mm_setr_epi16((short)ik_load_u16(p), (short)ik_load_u16(p + ws), (short)ik_load_u16(p + 2 * ws),
                                                    (short)ik_load_u16(p + 3 * ws), 0, 0, 0, 0));
            __m512 dw = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(d4));
            for (int b = 0; b < B; b++) {
                __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start[b], lo, lo_a[b]), hi, hi_a[b]);
                acc[g][b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, da[b]), acc[g][b]);
            }
        }
    }
    for (int g = 0; g < R / 4; g++)
        for (int b = 0; b < B; b++) {
            float lanes[16];
            _mm512_storeu_ps(lanes, acc[g][b]);
            for (int i = 0; i < 4; i++)
                put(y + (long)b * ldy + 4 * g + i, (lanes[4 * i] + lanes[4 * i + 1]) + (lanes[4 * i + 2] + lanes[4 * i + 3]), accumulate);
        }
}

/// Q8_0 tiles of 4 or 8 weight rows and 1-4 activation rows: two rows' blocks per 512-bit
/// register (the first in the low 256 bits), made unsigned (xor 0x80), against the activation
/// block broadcast to both halves; lanes 0-7 then belong to the first row, 8-15 to the second.
AVX512 IK_INLINE void q8_rows_tile(const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                                   size_t as, long n, float *y, long ldy, int accumulate) {
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i first = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i second = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    __m512 acc[4][4];
    for (int j = 0; j < R / 2; j++)
        for (int b = 0; b < B; b++) acc[j][b] = _mm512_setzero_ps();
    for (long k = 0; k < n / IK_QK; k++) {
        const uint8_t *ak = a + k * IK_Q8_BYTES, *wk = w + k * IK_Q8_BYTES;
        ik_prefetch_slice(next, R * IK_Q8_BYTES, k);
        __m512i av[4], start[4];
        __m512 da[4];
        for (int b = 0; b < B; b++) {
            const uint8_t *p = ak + b * as;
            av[b] = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(p + 2)));
            start[b] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), flip, av[b]));
            da[b] = _mm512_set1_ps(half_at(p));
        }
        for (int g = 0; g < R / 4; g++) {
            const uint8_t *p = wk + 4 * g * ws;
            __m128 d4 = _mm_cvtph_ps(_mm_setr_epi16((short)ik_load_u16(p), (short)ik_load_u16(p + ws), (short)ik_load_u16(p + 2 * ws),
                                                    (short)ik_load_u16(p + 3 * ws), 0, 0, 0, 0));
            for (int h = 0; h < 2; h++) {
                const uint8_t *q = p + 2 * h * ws;
                __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(q + 2))),
                                               _mm256_loadu_si256((const __m256i *)(q + ws + 2)), 1);
                x = _mm512_xor_si512(x, flip);
                __m512 dw = _mm512_permutexvar_ps(h ? second : first, _mm512_castps128_ps512(d4));
                for (int b = 0; b < B; b++) {
                    __m512i s = _mm512_dpbusd_epi32(start[b], x, av[b]);
                    acc[2 * g + h][b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, da[b]), acc[2 * g + h][b]);
                }
            }
        }
    }
    for (int j = 0; j < R / 2; j++)
        for (int b = 0; b < B; b++) {
            __m256 lo = _mm512_castps512_ps256(acc[j][b]);
            __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[j][b]), 1));
            put(y + (long)b * ldy + 2 * j, hsum256(lo), accumulate);
            put(y + (long)b * ldy + 2 * j + 1, hsum256(hi), accumulate);
        }
}

/// Q8_0 (q4 = 0) or Q4_0 (q4 = 1) weights times Q8_0 activations, in 256-bit registers: the
/// tiles whose row count is no multiple of 4 (the rest go to q4_rows_tile, q8_rows_tile). With
/// 4 activation rows, each weight row's four pairs are folded (fold4) into one accumulator;
/// otherwise each pair keeps its own.
AVX512 IK_INLINE void q_tile(const int q4, const int R, const int B, const uint8_t *w, size_t ws,
                             const uint8_t *a, size_t as, long n, float *y, long ldy, int accumulate) {
    if (R % 4 == 0) {
        if (q4) q4_rows_tile(R, B, w, ws, a, as, n, y, ldy, accumulate);
        else q8_rows_tile(R, B, w, ws, a, as, n, y, ldy, accumulate);
        return;
    }
    const int by_act = B == 4;
    const size_t wblock = q4 ? IK_Q4_BYTES : IK_Q8_BYTES;
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    const __m256i offset = _mm256_set1_epi8(q4 ? 8 : (char)0x80);
    __m256 acc[8][4];
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) acc[r][b] = _mm256_setzero_ps();
    for (long k = 0; k < n / IK_QK; k++) {
        const uint8_t *ak = a + k * IK_Q8_BYTES, *wk = w + k * wblock;
        ik_prefetch_slice(next, R * wblock, k);
        __m256i av[4], start[4];
        __m256 da[4];
        for (int b = 0; b < B; b++) {
            av[b] = _mm256_loadu_si256((const __m256i *)(ak + b * as + 2));
            start[b] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), offset, av[b]));
            if (!by_act) da[b] = _mm256_set1_ps(half_at(ak + b * as));
        }
        if (by_act) da[0] = scales4(ak, ak + as, ak + 2 * as, ak + 3 * as);
        for (int r = 0; r < R; r++) {
            const uint8_t *p = wk + r * ws;
            __m256i wu = q4 ? q4_nibbles(p) : _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 2)), offset);
            __m256 dw = _mm256_set1_ps(half_at(p));
            if (by_act) {
                __m256i s = fold4(_mm256_dpbusd_epi32(start[0], wu, av[0]), _mm256_dpbusd_epi32(start[1], wu, av[1]),
                                  _mm256_dpbusd_epi32(start[2], wu, av[2]), _mm256_dpbusd_epi32(start[3], wu, av[3]));
                acc[r][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, da[0]), acc[r][0]);
            } else {
                for (int b = 0; b < B; b++) {
                    __m256i s = _mm256_dpbusd_epi32(start[b], wu, av[b]);
                    acc[r][b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, da[b]), acc[r][b]);
                }
            }
        }
    }
    if (by_act) {
        float out[4];
        for (int r = 0; r < R; r++) {
            _mm_storeu_ps(out, unfold4(acc[r][0]));
            for (int b = 0; b < 4; b++) put(y + (long)b * ldy + r, out[b], accumulate);
        }
    } else {
        for (int b = 0; b < B; b++)
            for (int r = 0; r < R; r++) put(y + (long)b * ldy + r, hsum256(acc[r][b]), accumulate);
    }
}

#define TILE_FN(name, CALL, DISPATCH)                                                                  \
    AVX512 static void name(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                            long cols, float *y, long ldy, int accumulate) {                           \
        DISPATCH(CALL, nr, nb)                                                                         \
    }
#define F32_CALL(R, B) f32_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define F16_CALL(R, B) f16_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define Q8_CALL(R, B) q_tile(0, R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define Q4_CALL(R, B) q_tile(1, R, B, w, ws, a, as, cols, y, ldy, accumulate)
TILE_FN(tile_f32, F32_CALL, IK_TILE_DISPATCH4)
TILE_FN(tile_f16, F16_CALL, IK_TILE_DISPATCH4)
TILE_FN(tile_q8_0, Q8_CALL, IK_TILE_DISPATCH)
TILE_FN(tile_q4_0, Q4_CALL, IK_TILE_DISPATCH)

const ik_variant_table ik_avx512_variant = {
    .name = "avx512",
    .supported = supported,
    .to_f16 = to_f16,
    .to_q8_0 = to_q8_0,
    .kernels = {
        {tile_f32, 4, 4, 1024},
        {tile_f16, 4, 4, 1024},
        {tile_q4_0, 8, 4, 0},
        {tile_q8_0, 8, 4, 0},
    },
};
