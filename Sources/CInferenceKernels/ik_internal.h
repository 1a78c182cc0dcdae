// Shared by the variants: block sizes, fp16 conversions, and the table each variant fills.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IK_QK 32         // elements per quantized block
#define IK_Q8_BYTES 34   // fp16 scale + 32 int8
#define IK_Q4_BYTES 18   // fp16 scale + 16 bytes of nibble pairs

#define IK_INLINE static inline __attribute__((always_inline))

/// Computes a tile of products: y[b * ldy + r] (=|+=) dot(weight row r, activation row b) for
/// r < nr, b < nb, over `cols` elements (a multiple of 32 for block types). `w` and `a` point at
/// the first row of the tile; rows are `w_stride` and `a_stride` bytes apart.
typedef void (*ik_tile_fn)(int nr, int nb, const uint8_t *w, size_t w_stride,
                           const uint8_t *a, size_t a_stride, long cols,
                           float *y, long ldy, int accumulate);

/// Activation rows a panel holds: the lanes of the batched quantized kernels.
#define IK_PANEL_LANES 16
/// Blocks of a row the batched quantized kernels take in one pass (a panel covers at most this
/// many). It is also where every quantized kernel of the SIMD variants adds y to a product when
/// accumulating, so that a product's rounding does not depend on the path (see ik_panel_fn).
#define IK_CHAIN_BLOCKS 64

/// One block (32 columns) of up to IK_PANEL_LANES activation rows, interleaved so that one
/// vector holds the same four columns of every row: q[g][j] is columns 4g ... 4g + 3 of lane
/// (activation row) j, as int8 or (for kernels that want them unsigned) as uint8 q + 128. d[j]
/// is the row's block scale as a float, start[j] the integer sum a kernel starts the block's
/// products from (-offset * sum of the row's 32 values, offset being what the kernel adds to
/// the weights to make them unsigned). Unused lanes are all zero.
typedef struct {
    int8_t q[8][IK_PANEL_LANES][4];
    float d[IK_PANEL_LANES];
    int32_t start[IK_PANEL_LANES];
} ik_panel_block;

/// The batched quantized product: y[j * ldy + r] for rows r < nr (consecutive, `w_stride` bytes
/// apart, `w` at the panel's first block) and lanes j < lanes, over the panel's `nk` blocks.
/// Every (row, lane) pair is one float chain, the same in every path of a SIMD variant (the
/// single-row tiles too), so a row's result does not depend on the batch it is in:
///     acc = fma((float)isum_k, d_w,k * d_x,k, acc) for each block k in order, from acc = 0;
/// when accumulating, acc = y + acc after the first min(blocks, IK_CHAIN_BLOCKS) blocks. A
/// panel call continues the chain from y when `from_y` (a later IK_CHAIN_BLOCKS of the row)
/// and adds acc to y when `add_y` (the first ones, accumulating); else it stores acc.
typedef void (*ik_panel_fn)(int nr, int lanes, const uint8_t *w, size_t w_stride, const ik_panel_block *panel, long nk,
                            float *y, long ldy, int from_y, int add_y);

/// A panel row's lanes from y (y[j * ldy], j < lanes; the rest 0), where a chain continues.
IK_INLINE void ik_lanes_from_y(float out[IK_PANEL_LANES], const float *y, long ldy, int lanes) {
    for (int j = 0; j < IK_PANEL_LANES; j++) out[j] = j < lanes ? y[(long)j * ldy] : 0.0f;
}

/// A panel row's results into y: stored, or added to y when `add_y`.
IK_INLINE void ik_lanes_to_y(const float v[IK_PANEL_LANES], float *y, long ldy, int lanes, int add_y) {
    for (int j = 0; j < lanes; j++) y[(long)j * ldy] = add_y ? y[(long)j * ldy] + v[j] : v[j];
}

/// One weight type's kernel in one variant: its tile function, the largest tile it takes, and
/// the column chunk the driver splits long rows into (0: whole rows) so that a tile's weights
/// and activations stay in cache. Quantized kernels of the SIMD variants also have a panel
/// function for more activation rows than a tile takes, the rows it takes at once, and how
/// their panels are packed: the weights' offset the start sums take off, and whether the
/// activations are stored unsigned.
typedef struct {
    ik_tile_fn tile;
    int max_rows, max_batch;
    long col_chunk;
    ik_panel_fn panel;
    int panel_rows, panel_offset, panel_unsigned;
} ik_kernel;

/// What a variant provides. Kernels are indexed by ik_type_index.
typedef struct {
    const char *name;
    int (*supported)(void);
    void (*to_f16)(const float *x, uint16_t *dst, long n);
    void (*to_q8_0)(const float *x, uint8_t *dst, long n); // n a multiple of 32
    ik_kernel kernels[4];
} ik_variant_table;

extern const ik_variant_table ik_portable_variant, ik_avx2_variant, ik_avx512_variant;

/// Index of a weight type in ik_variant_table.kernels: f32 0, f16 1, q4_0 2, q8_0 3; -1 unknown.
static inline int ik_type_index(int wtype) {
    switch (wtype) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 2;
    case 8: return 3;
    default: return -1;
    }
}

static inline uint16_t ik_load_u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2); // GGUF is little-endian, as is every host these kernels build for
    return v;
}

/// IEEE half to float, exactly, without branches (so loops over it vectorize). Normal halves
/// move into a float by rebiasing the exponent; subnormals are m * 2^-24 (exact in float);
/// exponent 31 (infinity, NaN) becomes 255. No step takes a float subnormal as input, which
/// would cost a microcode assist per vector.
static inline float ik_half_to_float(uint16_t h) {
    uint32_t exp = h & 0x7c00u, body = (uint32_t)(h & 0x7fff) << 13, sub_bits;
    float sub = (float)(h & 0x3ff) * 0x1p-24f, f;
    memcpy(&sub_bits, &sub, 4);
    uint32_t bits = exp == 0x7c00u ? body | 0x7f800000u : exp == 0 ? sub_bits : body + 0x38000000u;
    bits |= (uint32_t)(h & 0x8000) << 16;
    memcpy(&f, &bits, 4);
    return f;
}

/// Float to IEEE half, rounding to nearest even (as F16C and Swift's Float16 do).
static inline uint16_t ik_float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff)); // NaN stays NaN
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);      // rounds to infinity
    if (ax >= 0x38800000u) {                                      // a normal half
        uint32_t r = ax - 0x38000000u, h = r >> 13, rem = r & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t e = ax >> 23;                                        // a subnormal half, or zero
    if (e < 102) return (uint16_t)sign;
    uint32_t m = (ax & 0x7fffff) | 0x800000, shift = 126 - e;
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1))) q++;
    return (uint16_t)(sign | q);
}

/// Calls F(R, B) with compile-time constants R = nr (1...4) and B = nb (1...4), so a tile written
/// as an always-inline function of (R, B) is specialized for every tile shape: its accumulators
/// become registers and its loops over rows and activation rows unroll.
#define IK_TILE_CASE(F, R, B) case (R) * 8 + (B): F(R, B); break;
#define IK_TILE_ROW(F, R) IK_TILE_CASE(F, R, 1) IK_TILE_CASE(F, R, 2) IK_TILE_CASE(F, R, 3) IK_TILE_CASE(F, R, 4)
#define IK_TILE_DISPATCH4(F, nr, nb)                                                           \
    switch ((nr) * 8 + (nb)) {                                                                 \
        IK_TILE_ROW(F, 1) IK_TILE_ROW(F, 2) IK_TILE_ROW(F, 3) IK_TILE_ROW(F, 4) default: break; \
    }
/// The same for tiles of up to 8 rows.
#define IK_TILE_DISPATCH(F, nr, nb)                                                            \
    switch ((nr) * 8 + (nb)) {                                                                 \
        IK_TILE_ROW(F, 1) IK_TILE_ROW(F, 2) IK_TILE_ROW(F, 3) IK_TILE_ROW(F, 4)                 \
        IK_TILE_ROW(F, 5) IK_TILE_ROW(F, 6) IK_TILE_ROW(F, 7) IK_TILE_ROW(F, 8) default: break;  \
    }
/// The same over rows alone: F(R) for R = nr (1...8), or (DISPATCH4) 1...4.
#define IK_ROWS_CASES4(F) case 1: F(1); break; case 2: F(2); break; case 3: F(3); break; case 4: F(4); break;
#define IK_ROWS_DISPATCH4(F, nr) switch (nr) { IK_ROWS_CASES4(F) default: break; }
#define IK_ROWS_DISPATCH(F, nr)                                                                 \
    switch (nr) {                                                                               \
    IK_ROWS_CASES4(F) case 5: F(5); break; case 6: F(6); break; case 7: F(7); break;            \
    case 8: F(8); break; default: break;                                                        \
    }

/// Software prefetch of a later tile's weights while this tile runs. A tile's R weight rows
/// are adjacent in memory (R * row bytes), so later tiles follow at multiples of that; step k
/// of a tile fetches the k-th slice of the one at `next`, `per_step` = R * bytes the tile
/// itself reads per row per step. Short rows (1024 columns) otherwise leave the hardware
/// prefetchers too little of each row to lock on to, and the product waits on memory.
IK_INLINE void ik_prefetch_slice(const uint8_t *next, size_t per_step, long k) {
    const uint8_t *p = next + (size_t)k * per_step;
    for (size_t off = 0; off < per_step; off += 64) __builtin_prefetch(p + off, 0, 2);
    __builtin_prefetch(p + per_step - 1, 0, 2);
}

/// How far ahead of a tile of `tile_bytes` to prefetch: whole tiles, at least 16 KiB (about a
/// microsecond of memory traffic, well past DRAM latency).
IK_INLINE size_t ik_prefetch_distance(size_t tile_bytes) {
    return tile_bytes * ((16384 + tile_bytes - 1) / tile_bytes);
}
