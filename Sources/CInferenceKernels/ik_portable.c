// Portable C kernels: the reference the SIMD variants are tested against, and the fallback on
// CPUs without AVX2. A tile is a plain loop over (row, activation row) pairs, each pair one dot
// product; quantized blocks are multiplied as integers and scaled per block.
#include "ik_internal.h"
#include <math.h>

static int always(void) { return 1; }

static void to_f16(const float *x, uint16_t *dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = ik_float_to_half(x[i]);
}

static void to_q8_0(const float *x, uint8_t *dst, long n) {
    for (long blk = 0; blk < n / IK_QK; blk++, x += IK_QK, dst += IK_Q8_BYTES) {
        float amax = 0.0f;
        for (int j = 0; j < IK_QK; j++) {
            float a = x[j] < 0 ? -x[j] : x[j];
            if (a > amax) amax = a;
        }
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        uint16_t h = ik_float_to_half(d);
        memcpy(dst, &h, 2);
        for (int j = 0; j < IK_QK; j++) dst[2 + j] = (uint8_t)(int8_t)(int)nearbyintf(x[j] * id); // ties to even
    }
}

/// Sums of float products in 8 interleaved partial sums (added pairwise at the end).
static float dot_f32(const float *w, const float *a, long n) {
    float s[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += w[i + j] * a[i + j];
    for (; i < n; i++) s[0] += w[i] * a[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float dot_f16(const uint16_t *w, const uint16_t *a, long n) {
    float s[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += ik_half_to_float(w[i + j]) * ik_half_to_float(a[i + j]);
    for (; i < n; i++) s[0] += ik_half_to_float(w[i]) * ik_half_to_float(a[i]);
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float dot_q8_0(const uint8_t *w, const uint8_t *a, long nblocks) {
    float s = 0.0f;
    for (long k = 0; k < nblocks; k++, w += IK_Q8_BYTES, a += IK_Q8_BYTES) {
        int32_t isum = 0;
        for (int j = 0; j < IK_QK; j++) isum += (int8_t)w[2 + j] * (int8_t)a[2 + j];
        s += (float)isum * (ik_half_to_float(ik_load_u16(w)) * ik_half_to_float(ik_load_u16(a)));
    }
    return s;
}

static float dot_q4_0(const uint8_t *w, const uint8_t *a, long nblocks) {
    float s = 0.0f;
    for (long k = 0; k < nblocks; k++, w += IK_Q4_BYTES, a += IK_Q8_BYTES) {
        int32_t isum = 0;
        for (int j = 0; j < 16; j++) {
            isum += ((w[2 + j] & 0x0f) - 8) * (int8_t)a[2 + j];
            isum += ((w[2 + j] >> 4) - 8) * (int8_t)a[2 + 16 + j];
        }
        s += (float)isum * (ik_half_to_float(ik_load_u16(w)) * ik_half_to_float(ik_load_u16(a)));
    }
    return s;
}

static inline void put(float *y, float v, int accumulate) { *y = accumulate ? *y + v : v; }

#define PAIR_LOOP(expr)                                                           \
    for (int b = 0; b < nb; b++)                                                  \
        for (int r = 0; r < nr; r++) {                                            \
            const uint8_t *wr = w + (size_t)r * ws, *ar = a + (size_t)b * as;    \
            put(y + (long)b * ldy + r, (expr), accumulate);                       \
        }

static void tile_f32(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
                     long cols, float *y, long ldy, int accumulate) {
    PAIR_LOOP(dot_f32((const float *)wr, (const float *)ar, cols))
}

static void tile_f16(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
                     long cols, float *y, long ldy, int accumulate) {
    PAIR_LOOP(dot_f16((const uint16_t *)wr, (const uint16_t *)ar, cols))
}

static void tile_q4_0(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
                      long cols, float *y, long ldy, int accumulate) {
    PAIR_LOOP(dot_q4_0(wr, ar, cols / IK_QK))
}

static void tile_q8_0(int nr, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
                      long cols, float *y, long ldy, int accumulate) {
    PAIR_LOOP(dot_q8_0(wr, ar, cols / IK_QK))
}

const ik_variant_table ik_portable_variant = {
    .name = "portable",
    .supported = always,
    .to_f16 = to_f16,
    .to_q8_0 = to_q8_0,
    .kernels = {
        {tile_f32, 4, 4, 1024},
        {tile_f16, 4, 4, 1024},
        {tile_q4_0, 4, 4, 0},
        {tile_q8_0, 4, 4, 0},
    },
};
