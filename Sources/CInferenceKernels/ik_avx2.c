// AVX2 + FMA + F16C kernels (256-bit). Every function carries its target attribute, so the
// file builds without global -mavx flags and runs only where ik_avx2_variant.supported says.
//
// f32/f16 tiles are dot-product form: a tile of R weight rows x B activation rows keeps R*B
// vector accumulators, loads each weight vector once for the B activation rows and each
// activation vector once for the R weight rows, and reduces the accumulators horizontally at
// the end; 8 columns per step (f16 widened with vcvtph2ps), one FMA per pair.
// Q8_0 and Q4_0 weights meet Q8_0 activations as integers, block by block, and every (row,
// activation row) pair keeps one float chain (ik_panel_fn), so a row's result is the same
// bits in a batch of any size:
//  - up to 4 activation rows (q_rows_tile): per pair vpmaddubsw + vpmaddwd give 8 int32
//    partial sums (Q8_0: |w| times a with w's sign moved onto a; Q4_0: nibbles times a, less
//    8 * sum(a)), reduced across 8 rows at once so that lanes hold rows;
//  - more (q_panel): lanes hold activation rows, interleaved by the driver into panels, and
//    each 4 weight bytes are broadcast against them: no reduction, and each weight block is
//    loaded (and unpacked) once for 16 activation rows.
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define IK_X86 AVX2
#include "ik_x86.h"

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

/// A weight row's block (q4: Q4_0, else Q8_0) against an activation block's 32 values `a`: 8
/// int32 lanes whose total is sum(n * a) for Q4_0's nibbles n = w + 8, or sum(w * a) for Q8_0
/// (|w| times a with w's sign moved onto a): vpmaddubsw, then vpmaddwd(1) to int32.
AVX2 IK_INLINE __m256i row_sums(int q4, const uint8_t *block, __m256i a) {
    __m256i p;
    if (q4) {
        p = _mm256_maddubs_epi16(q4_nibbles(block), a);
    } else {
        __m256i w = _mm256_loadu_si256((const __m256i *)(block + 2));
        p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
    }
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/// y[b * ldy + r] (=|+=) dot(weight row r, activation row b) for r < R (1 ... 8), b < B (1 ... 4):
/// per block, each pair's integer sum is reduced across lanes (reduce8), so lanes hold rows, one
/// vector per activation row, and each pair's float chain is the one ik_panel_fn describes, bit
/// for bit. A weight block's loads (and unpacking) serve the B activation rows.
AVX2 IK_INLINE void q_rows_tile(const int q4, const int R, const int B,
                                  const uint8_t *w, size_t ws, const uint8_t *a, size_t as, long n, float *y, long ldy,
                                  int accumulate) {
    const size_t wbytes = q4 ? IK_Q4_BYTES : IK_Q8_BYTES;
    const long blocks = n / IK_QK, base_at = blocks < IK_CHAIN_BLOCKS ? blocks : IK_CHAIN_BLOCKS;
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    __m256 acc[4];
    for (int b = 0; b < B; b++) acc[b] = _mm256_setzero_ps();
    for (long k = 0; k < blocks; k++) {
        const uint8_t *wk = w + k * wbytes;
        ik_prefetch_slice(next, R * wbytes, k);
        const __m256 dw8 = scales8(wk, ws, R);
        for (int b = 0; b < B; b++) {
            const uint8_t *ak = a + b * as + k * IK_Q8_BYTES;
            __m256i av = _mm256_loadu_si256((const __m256i *)(ak + 2)), v[8];
            for (int r = 0; r < 8; r++) v[r] = r < R ? row_sums(q4, wk + r * ws, av) : _mm256_setzero_si256();
            __m256i s = _mm256_sub_epi32(reduce8(v), _mm256_set1_epi32(q4 ? 8 * sum_i8(av) : 0));
            acc[b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw8, _mm256_set1_ps(half_at(ak))), acc[b]);
        }
        if (accumulate && k + 1 == base_at)
            for (int b = 0; b < B; b++) {
                float base[8] = {0};
                for (int r = 0; r < R; r++) base[r] = y[b * ldy + r];
                acc[b] = _mm256_add_ps(_mm256_loadu_ps(base), acc[b]);
            }
    }
    for (int b = 0; b < B; b++) {
        float out[8];
        _mm256_storeu_ps(out, acc[b]);
        for (int r = 0; r < R; r++) y[b * ldy + r] = out[r];
    }
}

/// The panel kernel (ik_panel_fn) in H halves of 8 lanes (H = 1 for up to 8 activation rows):
/// per weight row and block, each 4 weight bytes are broadcast against the panel's vector of
/// the same 4 columns of every activation row.
///  - Q4_0: the broadcast bytes' low nibbles meet columns 4g ..., their high nibbles columns
///    16 + 4g ...; the 8 vpmaddubsw of a block (each int16 at most 2 * 15 * 127) add up in
///    int16 (at most 30480) before one vpmaddwd widens them.
///  - Q8_0: |w| times a with w's sign moved onto a, widened per group (two groups could
///    overflow int16).
AVX2 IK_INLINE void q_panel(const int q4, const int R, const int H, const uint8_t *w, size_t ws,
                            const ik_panel_block *panel, long nk, float *y, long ldy, int lanes, int from_y, int add_y) {
    const size_t wbytes = q4 ? IK_Q4_BYTES : IK_Q8_BYTES;
    const int prefetch = ws == (size_t)nk * wbytes; // whole adjacent rows: later tiles follow
    const uint8_t *next = w + ik_prefetch_distance((size_t)R * ws);
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(0x0f);
    float v[IK_PANEL_LANES];
    __m256 acc[4][2];
    for (int r = 0; r < R; r++) {
        if (from_y) ik_lanes_from_y(v, y + r, ldy, lanes);
        for (int h = 0; h < H; h++) acc[r][h] = from_y ? _mm256_loadu_ps(v + 8 * h) : _mm256_setzero_ps();
    }
    for (long k = 0; k < nk; k++) {
        const ik_panel_block *p = panel + k;
        if (prefetch) ik_prefetch_slice(next, R * wbytes, k);
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + r * ws + k * wbytes;
            __m256i s[2];
            for (int h = 0; h < H; h++) s[h] = _mm256_loadu_si256((const __m256i *)(p->start + 8 * h));
            if (q4) {
                __m256i p16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
                for (int g = 0; g < 4; g++) {
                    __m256i x = _mm256_set1_epi32(load_i32(blk + 2 + 4 * g));
                    __m256i lo = _mm256_and_si256(x, low4), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low4);
                    for (int h = 0; h < H; h++) {
                        __m256i al = _mm256_loadu_si256((const __m256i *)p->q[g][8 * h]);
                        __m256i ah = _mm256_loadu_si256((const __m256i *)p->q[4 + g][8 * h]);
                        p16[h] = _mm256_add_epi16(p16[h], _mm256_add_epi16(_mm256_maddubs_epi16(lo, al), _mm256_maddubs_epi16(hi, ah)));
                    }
                }
                for (int h = 0; h < H; h++) s[h] = _mm256_add_epi32(s[h], _mm256_madd_epi16(p16[h], ones));
            } else {
                for (int g = 0; g < 8; g++) {
                    __m256i x = _mm256_set1_epi32(load_i32(blk + 2 + 4 * g)), u = _mm256_abs_epi8(x);
                    for (int h = 0; h < H; h++) {
                        __m256i ag = _mm256_loadu_si256((const __m256i *)p->q[g][8 * h]);
                        s[h] = _mm256_add_epi32(s[h], _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(ag, x)), ones));
                    }
                }
            }
            __m256 dw = _mm256_set1_ps(half_at(blk));
            for (int h = 0; h < H; h++)
                acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[h]), _mm256_mul_ps(dw, _mm256_loadu_ps(p->d + 8 * h)), acc[r][h]);
        }
    }
    for (int r = 0; r < R; r++) {
        for (int h = 0; h < H; h++) _mm256_storeu_ps(v + 8 * h, acc[r][h]);
        ik_lanes_to_y(v, y + r, ldy, lanes, add_y);
    }
}

#define TILE_FN(name, kernel, DISPATCH)                                                                \
    AVX2 static void name(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                          long cols, float *y, long ldy, int accumulate) {                           \
        DISPATCH(kernel##_CALL, nr, nb)                                                              \
    }
#define f32_tile_CALL(R, B) f32_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define f16_tile_CALL(R, B) f16_tile(R, B, w, ws, a, as, cols, y, ldy, accumulate)
TILE_FN(tile_f32, f32_tile, IK_TILE_DISPATCH4)
TILE_FN(tile_f16, f16_tile, IK_TILE_DISPATCH4)

/// Q8_0 and Q4_0 tiles of 1-8 rows and 1-4 activation rows (larger batches go to the panels).
#define Q_TILE_FN(name, CALL)                                                                            \
    AVX2 static void name(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, \
                          long cols, float *y, long ldy, int accumulate) {                          \
        IK_TILE_DISPATCH(CALL, nr, nb)                                                               \
    }
#define Q8_CALL(R, B) q_rows_tile(0, R, B, w, ws, a, as, cols, y, ldy, accumulate)
#define Q4_CALL(R, B) q_rows_tile(1, R, B, w, ws, a, as, cols, y, ldy, accumulate)
Q_TILE_FN(tile_q8_0, Q8_CALL)
Q_TILE_FN(tile_q4_0, Q4_CALL)

/// Q8_0 and Q4_0 panels of 1-4 weight rows, in one or two halves of 8 lanes.
#define Q_PANEL_FN(name, q4)                                                                           \
    AVX2 static void name(int nr, int lanes, const uint8_t *w, size_t ws, const ik_panel_block *panel, \
                          long nk, float *y, long ldy, int from_y, int add_y) {                        \
        if (lanes > 8) { IK_ROWS_DISPATCH4(Q_PANEL_CALL2_##q4, nr) }                                  \
        else { IK_ROWS_DISPATCH4(Q_PANEL_CALL1_##q4, nr) }                                           \
    }
#define Q_PANEL_CALL(q4, R, H) q_panel(q4, R, H, w, ws, panel, nk, y, ldy, lanes, from_y, add_y)
#define Q_PANEL_CALL1_0(R) Q_PANEL_CALL(0, R, 1)
#define Q_PANEL_CALL2_0(R) Q_PANEL_CALL(0, R, 2)
#define Q_PANEL_CALL1_1(R) Q_PANEL_CALL(1, R, 1)
#define Q_PANEL_CALL2_1(R) Q_PANEL_CALL(1, R, 2)
Q_PANEL_FN(panel_q8_0, 0)
Q_PANEL_FN(panel_q4_0, 1)

const ik_variant_table ik_avx2_variant = {
    .name = "avx2",
    .supported = supported,
    .to_f16 = to_f16,
    .to_q8_0 = to_q8_0,
    .kernels = {
        {tile_f32, 3, 4, 512},
        {tile_f16, 3, 4, 1024},
        {tile_q4_0, 8, 4, 0, panel_q4_0, 4, 8, 0},
        {tile_q8_0, 8, 4, 0, panel_q8_0, 4, 0, 0},
    },
};
