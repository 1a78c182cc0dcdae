// AVX-512 kernels (F, BW, VL, VNNI). Same shapes as ik_avx2.c, with 32 vector registers.
//  - f32/f16: tiles up to 4 weight rows x 4 activation rows, 16 columns per step in 512-bit
//    registers; a last partial step uses masked loads, so any column count runs without a
//    scalar tail. Tiles of 4 x 4 end with the four accumulators of a weight row reduced together.
//  - Q8_0 x Q8_0 and Q4_0 x Q8_0 with VNNI's vpdpbusd (unsigned x signed bytes into int32),
//    one float chain per (row, activation row) pair as in ik_avx2.c: up to 4 activation rows
//    in tiles of four weight rows a 512-bit register (q_rows_tile), more in panels of 16
//    activation rows a register (q_panel).
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define IK_X86 AVX512
#include "ik_x86.h"

static int supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
           __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

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

/// 16 bytes at `p` of each of R (1 ... 4) rows `stride` bytes apart, row i in 128-bit lane i
/// (zeros past R: rows past the matrix are never read).
AVX512 IK_INLINE __m512i rows4(const uint8_t *p, size_t stride, const int R) {
    __m512i x = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p));
    if (R > 1) x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p + stride)), 1);
    else x = _mm512_inserti32x4(x, _mm_setzero_si128(), 1);
    x = _mm512_inserti32x4(x, R > 2 ? _mm_loadu_si128((const __m128i *)(p + 2 * stride)) : _mm_setzero_si128(), 2);
    return _mm512_inserti32x4(x, R > 3 ? _mm_loadu_si128((const __m128i *)(p + 3 * stride)) : _mm_setzero_si128(), 3);
}

/// Q8_0 (q4 = 0) or Q4_0 weights times 1-4 activation rows in tiles of up to 8 rows, four rows a
/// 512-bit register (row i of a group in 128-bit lane i): Q4_0's low nibbles meet the block's
/// first 16 activations and its high nibbles the last 16; Q8_0's two halves, made unsigned
/// (w + 128), meet the same; the activation halves are broadcast to the four lanes and the
/// sums start from -offset (8 or 128) times their sums. Two rounds of shuffles and adds then
/// give every lane of a row's 128 bits the row's exact block sum, so each row's float chain is
/// the one ik_panel_fn describes (lane 4i of a group holds row i's), bit for bit.
AVX512 IK_INLINE void q_rows_tile(const int q4, const int R, const int B, const uint8_t *w, size_t ws, const uint8_t *a,
                                  size_t as, long n, float *y, long ldy, int accumulate) {
    const size_t wbytes = q4 ? IK_Q4_BYTES : IK_Q8_BYTES;
    const long blocks = n / IK_QK, base_at = blocks < IK_CHAIN_BLOCKS ? blocks : IK_CHAIN_BLOCKS;
    const int G = (R + 3) / 4;
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    const __m512i low4 = _mm512_set1_epi8(0x0f), flip = _mm512_set1_epi8((char)0x80), offset = _mm512_set1_epi8(q4 ? 8 : (char)0x80);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc[2][4];
    for (int g = 0; g < G; g++)
        for (int b = 0; b < B; b++) acc[g][b] = _mm512_setzero_ps();
    for (long k = 0; k < blocks; k++) {
        const uint8_t *wk = w + k * wbytes;
        ik_prefetch_slice(next, R * wbytes, k);
        __m512i lo_a[4], hi_a[4], start[4];
        __m512 da[4];
        for (int b = 0; b < B; b++) {
            const uint8_t *ak = a + b * as + k * IK_Q8_BYTES;
            lo_a[b] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(ak + 2)));
            hi_a[b] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(ak + 18)));
            __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, lo_a[b]), offset, hi_a[b]);
            start[b] = _mm512_sub_epi32(_mm512_setzero_si512(), sum);
            da[b] = _mm512_set1_ps(half_at(ak));
        }
        for (int g = 0; g < G; g++) {
            const int rows = R - 4 * g > 4 ? 4 : R - 4 * g;
            const uint8_t *p = wk + 4 * g * ws;
            __m512i lo, hi;
            if (q4) {
                __m512i x = rows4(p + 2, ws, rows);
                lo = _mm512_and_si512(x, low4);
                hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), low4);
            } else {
                lo = _mm512_xor_si512(rows4(p + 2, ws, rows), flip);
                hi = _mm512_xor_si512(rows4(p + 18, ws, rows), flip);
            }
            __m512 dw = _mm512_permutexvar_ps(spread, _mm512_castps256_ps512(scales8(p, ws, rows)));
            for (int b = 0; b < B; b++) {
                __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start[b], lo, lo_a[b]), hi, hi_a[b]);
                s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, _MM_PERM_BADC));
                s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, _MM_PERM_CDAB));
                acc[g][b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, da[b]), acc[g][b]);
            }
        }
        if (accumulate && k + 1 == base_at)
            for (int g = 0; g < G; g++)
                for (int b = 0; b < B; b++) {
                    float base[16] = {0};
                    for (int i = 0; i < 4 && 4 * g + i < R; i++) base[4 * i] = y[b * ldy + 4 * g + i];
                    acc[g][b] = _mm512_add_ps(_mm512_loadu_ps(base), acc[g][b]);
                }
    }
    for (int g = 0; g < G; g++)
        for (int b = 0; b < B; b++) {
            float out[16];
            _mm512_storeu_ps(out, acc[g][b]);
            for (int i = 0; i < 4 && 4 * g + i < R; i++) y[b * ldy + 4 * g + i] = out[4 * i];
        }
}

/// The panel kernel (ik_panel_fn), 16 lanes a register: per weight row and block, each 4 weight
/// bytes meet the same 4 columns of every activation row in one vpdpbusd (unsigned x signed).
///  - Q8_0: the panel holds the activations unsigned (a + 128) and the weights are the signed
///    side, broadcast from memory by the instruction itself; the sum is then too large by
///    128 * sum(w), taken off from the rows' block sums (vpdpbusd with ones, reduced for up to
///    8 rows at once).
///  - Q4_0: the low nibbles (masked) meet columns 4g ..., the high ones (masked in place, so 16
///    times their value) columns 16 + 4g ... in a second integer chain, shifted down by 4 at
///    the end of the block; the panel's start sums take off the nibbles' offset 8.
AVX512 IK_INLINE void q_panel(const int q4, const int R, const uint8_t *w, size_t ws, const ik_panel_block *panel,
                              long nk, float *y, long ldy, int lanes, int from_y, int add_y) {
    const size_t wbytes = q4 ? IK_Q4_BYTES : IK_Q8_BYTES;
    const int prefetch = ws == (size_t)nk * wbytes; // whole adjacent rows: later tiles follow
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    const __m512i low4 = _mm512_set1_epi8(0x0f), high4 = _mm512_set1_epi8((char)0xf0);
    float v[IK_PANEL_LANES];
    __m512 acc[8];
    for (int r = 0; r < R; r++) {
        if (from_y) ik_lanes_from_y(v, y + r, ldy, lanes);
        acc[r] = from_y ? _mm512_loadu_ps(v) : _mm512_setzero_ps();
    }
    for (long k = 0; k < nk; k++) {
        const ik_panel_block *p = panel + k;
        const uint8_t *wk = w + k * wbytes;
        if (prefetch) ik_prefetch_slice(next, R * wbytes, k);
        __m512i av[8];
        for (int g = 0; g < 8; g++) av[g] = _mm512_loadu_si512(p->q[g]);
        const __m512 da = _mm512_loadu_ps(p->d);
        int32_t wsum[8] = {0};
        if (!q4) {
            __m256i v8[8];
            for (int r = 0; r < 8; r++)
                v8[r] = r < R ? _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1),
                                                    _mm256_loadu_si256((const __m256i *)(wk + r * ws + 2)))
                              : _mm256_setzero_si256();
            _mm256_storeu_si256((__m256i *)wsum, _mm256_slli_epi32(reduce8(v8), 7));
        }
        float dw[8];
        _mm256_storeu_ps(dw, scales8(wk, ws, R));
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = wk + r * ws;
            __m512i s;
            if (q4) {
                __m512i s0 = _mm512_loadu_si512(p->start), s1 = _mm512_setzero_si512();
                for (int g = 0; g < 4; g++) {
                    __m512i x = _mm512_set1_epi32(load_i32(blk + 2 + 4 * g));
                    s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(x, low4), av[g]);
                    s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(x, high4), av[4 + g]);
                }
                s = _mm512_add_epi32(s0, _mm512_srai_epi32(s1, 4));
            } else {
                __m512i s0 = _mm512_set1_epi32(-wsum[r]), s1 = _mm512_setzero_si512();
                for (int g = 0; g < 8; g += 2) {
                    s0 = _mm512_dpbusd_epi32(s0, av[g], _mm512_set1_epi32(load_i32(blk + 2 + 4 * g)));
                    s1 = _mm512_dpbusd_epi32(s1, av[g + 1], _mm512_set1_epi32(load_i32(blk + 6 + 4 * g)));
                }
                s = _mm512_add_epi32(s0, s1);
            }
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(_mm512_set1_ps(dw[r]), da), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        _mm512_storeu_ps(v, acc[r]);
        ik_lanes_to_y(v, y + r, ldy, lanes, add_y);
    }
}

#define TILE_FN(name, CALL, DISPATCH)                                                                  \
    AVX512 static void name(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                            long cols, float *y, long ldy, int accumulate) {                           \
        DISPATCH(CALL, nr, nb)                                                                         \
    }
#define F32_CALL(R, B) f32_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define F16_CALL(R, B) f16_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
TILE_FN(tile_f32, F32_CALL, IK_TILE_DISPATCH4)
TILE_FN(tile_f16, F16_CALL, IK_TILE_DISPATCH4)

/// Q8_0 and Q4_0 tiles of 1-8 rows and 1-4 activation rows (larger batches go to the panels).
#define Q_TILE_FN(name, CALL)                                                                            \
    AVX512 static void name(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, \
                          long cols, float *y, long ldy, int accumulate) {                          \
        IK_TILE_DISPATCH(CALL, nr, nb)                                                               \
    }
#define Q8_CALL(R, B) q_rows_tile(0, R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define Q4_CALL(R, B) q_rows_tile(1, R, B, w, ws, a, as, cols, y, ldy, accumulate)
Q_TILE_FN(tile_q8_0, Q8_CALL)
Q_TILE_FN(tile_q4_0, Q4_CALL)

/// Q8_0 and Q4_0 panels of 1-8 weight rows.
#define Q_PANEL_FN(name, q4)                                                                             \
    AVX512 static void name(int nr, int lanes, const uint8_t *w, size_t ws, const ik_panel_block *panel, \
                            long nk, float *y, long ldy, int from_y, int add_y) {                        \
        IK_ROWS_DISPATCH(Q_PANEL_CALL_##q4, nr)                                                          \
    }
#define Q_PANEL_CALL_0(R) q_panel(0, R, w, ws, panel, nk, y, ldy, lanes, from_y, add_y)
#define Q_PANEL_CALL_1(R) q_panel(1, R, w, ws, panel, nk, y, ldy, lanes, from_y, add_y)
Q_PANEL_FN(panel_q8_0, 0)
Q_PANEL_FN(panel_q4_0, 1)

const ik_variant_table ik_avx512_variant = {
    .name = "avx512",
    .supported = supported,
    .to_f16 = to_f16,
    .to_q8_0 = to_q8_0,
    .kernels = {
        {tile_f32, 4, 4, 1024},
        {tile_f16, 4, 4, 1024},
        {tile_q4_0, 8, 4, 0, panel_q4_0, 8, 8, 0},
        {tile_q8_0, 8, 4, 0, panel_q8_0, 8, 0, 1},
    },
};
