// The public entry points: sizes, variant choice, and the driver that walks a product in
// cache-sized chunks of rows and columns and hands fixed-size tiles to the variant's kernel.
#include "inference_kernels.h"
#include "ik_internal.h"

static const ik_variant_table *const variants[] = {&ik_portable_variant, &ik_avx2_variant, &ik_avx512_variant};
enum { variant_total = 3 };

static int forced_variant = -1; // set only by ik_force_variant (tests, benchmarks)

int ik_variant_count(void) { return variant_total; }

const char *ik_variant_name(int variant) {
    return variant >= 0 && variant < variant_total ? variants[variant]->name : 0;
}

int ik_variant_supported(int variant) {
    return variant >= 0 && variant < variant_total && variants[variant]->supported();
}

static int best_variant(void) {
    static int best = -1;
    int b = __atomic_load_n(&best, __ATOMIC_RELAXED);
    if (b < 0) {
        b = 0;
        for (int v = variant_total - 1; v > 0; v--)
            if (variants[v]->supported()) { b = v; break; }
        __atomic_store_n(&best, b, __ATOMIC_RELAXED);
    }
    return b;
}

int ik_current_variant(void) {
    int f = __atomic_load_n(&forced_variant, __ATOMIC_RELAXED);
    return f >= 0 ? f : best_variant();
}

int ik_force_variant(int variant) {
    if (variant != -1 && !ik_variant_supported(variant)) return 0;
    __atomic_store_n(&forced_variant, variant, __ATOMIC_RELAXED);
    return 1;
}

long ik_weight_row_bytes(int wtype, long cols) {
    if (cols < 0) return 0;
    switch (wtype) {
    case IK_F32: return cols * 4;
    case IK_F16: return cols * 2;
    case IK_Q4_0: return cols % IK_QK ? 0 : cols / IK_QK * IK_Q4_BYTES;
    case IK_Q8_0: return cols % IK_QK ? 0 : cols / IK_QK * IK_Q8_BYTES;
    default: return 0;
    }
}

long ik_activation_row_bytes(int wtype, long cols) {
    switch (wtype) {
    case IK_F32: return ik_weight_row_bytes(IK_F32, cols);
    case IK_F16: return ik_weight_row_bytes(IK_F16, cols);
    case IK_Q4_0: case IK_Q8_0: return ik_weight_row_bytes(IK_Q8_0, cols);
    default: return 0;
    }
}

void ik_prepare_activations(int wtype, const float *x, long rows, long cols, void *dst) {
    const ik_variant_table *v = variants[ik_current_variant()];
    long bytes = ik_activation_row_bytes(wtype, cols);
    if (bytes == 0 || wtype == IK_F32) {
        if (bytes) memcpy(dst, x, (size_t)(rows * bytes));
        return;
    }
    // Rows are consecutive in both buffers with no padding, so one call converts them all.
    if (wtype == IK_F16) v->to_f16(x, dst, rows * cols);
    else v->to_q8_0(x, dst, rows * cols);
}

/// Bytes of a column chunk of `chunk` elements of a row of type wtype (chunk is a multiple of
/// 32 for block types).
static size_t chunk_bytes(int wtype, long chunk) { return (size_t)ik_weight_row_bytes(wtype, chunk); }

/// Rows per row chunk: enough that a chunk's weights (`row_bytes` each) fill 256 KiB, which
/// stays in L2 while every activation row passes over it; a multiple of `tile_rows`.
static long rows_per_chunk(size_t row_bytes, int tile_rows) {
    long rows = (256L << 10) / (long)row_bytes;
    return rows < tile_rows ? tile_rows : rows / tile_rows * tile_rows;
}

// Loop order: rows in chunks, then columns in chunks (a chunk of rows x columns of weights
// stays in L2 while every activation row passes over it), then activation rows, then row tiles
// (the tile's activation rows stay in L1 while the chunk's weight rows pass). Each weight byte
// is read from memory once; activations are re-read from cache once per row chunk.
static void tile_product(const ik_kernel *k, int wtype, const uint8_t *wb, long cols, const uint8_t *ab, long batch,
                         float *y, long ldy, long row_begin, long row_end, int accumulate) {
    long wrow = ik_weight_row_bytes(wtype, cols), arow = ik_activation_row_bytes(wtype, cols);
    // One activation row stays in L1 whole: column chunks only pay when several do.
    long kc = batch > 1 && k->col_chunk > 0 && k->col_chunk < cols ? k->col_chunk : cols;
    long chunk_rows = rows_per_chunk(chunk_bytes(wtype, kc), k->max_rows);
    for (long r_chunk = row_begin; r_chunk < row_end; r_chunk += chunk_rows) {
        long r_end = r_chunk + chunk_rows < row_end ? r_chunk + chunk_rows : row_end;
        for (long c0 = 0; c0 < cols; c0 += kc) {
            long nc = cols - c0 < kc ? cols - c0 : kc;
            size_t wo = chunk_bytes(wtype, c0), ao = wtype == IK_F32 || wtype == IK_F16 ? wo : chunk_bytes(IK_Q8_0, c0);
            int acc = accumulate || c0 > 0;
            for (long b0 = 0; b0 < batch; b0 += k->max_batch) {
                int nb = (int)(batch - b0 < k->max_batch ? batch - b0 : k->max_batch);
                for (long r0 = r_chunk; r0 < r_end; r0 += k->max_rows) {
                    int nr = (int)(r_end - r0 < k->max_rows ? r_end - r0 : k->max_rows);
                    k->tile(nr, nb, wb + (size_t)r0 * (size_t)wrow + wo, (size_t)wrow,
                            ab + (size_t)b0 * (size_t)arow + ao, (size_t)arow, nc,
                            y + b0 * ldy + r0, ldy, acc);
                }
            }
        }
    }
}

/// Interleaves blocks k0 ... k0 + nk - 1 of `lanes` Q8_0 activation rows (`act_stride` bytes
/// apart) into `panel` (see ik_panel_block) as kernel `k` wants them, 4 bytes at a time.
static void pack_panel(const ik_kernel *k, const uint8_t *act, size_t act_stride, int lanes, long k0, long nk,
                       ik_panel_block *panel) {
    const uint32_t flip = k->panel_unsigned ? 0x80808080u : 0;
    memset(panel, 0, sizeof *panel * (size_t)nk);
    for (long b = 0; b < nk; b++)
        for (int j = 0; j < lanes; j++) {
            const uint8_t *src = act + (size_t)j * act_stride + (size_t)(k0 + b) * IK_Q8_BYTES;
            int32_t sum = 0;
            for (int i = 0; i < IK_QK; i++) sum += (int8_t)src[2 + i];
            for (int g = 0; g < 8; g++) {
                uint32_t word;
                memcpy(&word, src + 2 + 4 * g, 4);
                word ^= flip;
                memcpy(panel[b].q[g][j], &word, 4);
            }
            panel[b].d[j] = ik_half_to_float(ik_load_u16(src));
            panel[b].start[j] = -k->panel_offset * sum;
        }
}

// Quantized batches larger than a tile's: rows in chunks (256 KiB of weights stay in L2 while
// several panels pass; one chunk when there is one panel, which then is packed once), then
// panels of up to IK_PANEL_LANES activation rows, then IK_CHAIN_BLOCKS blocks at a time (a
// panel of 40 KiB on the stack, in L1 and L2), then tiles of rows. A last panel of no more rows
// than a tile takes goes to the tiles, which compute the same chains.
static void panel_product(const ik_kernel *k, int wtype, const uint8_t *wb, long cols, const uint8_t *ab, long batch,
                          float *y, long ldy, long row_begin, long row_end, int accumulate) {
    ik_panel_block panel[IK_CHAIN_BLOCKS];
    long wrow = ik_weight_row_bytes(wtype, cols), arow = ik_activation_row_bytes(wtype, cols), blocks = cols / IK_QK;
    size_t block_bytes = chunk_bytes(wtype, IK_QK);
    long chunk_rows = batch <= IK_PANEL_LANES ? row_end - row_begin
                      : rows_per_chunk(block_bytes * (size_t)(blocks < IK_CHAIN_BLOCKS ? blocks : IK_CHAIN_BLOCKS), k->panel_rows);
    for (long r_chunk = row_begin; r_chunk < row_end; r_chunk += chunk_rows) {
        long r_end = r_chunk + chunk_rows < row_end ? r_chunk + chunk_rows : row_end;
        for (long b0 = 0; b0 < batch; b0 += IK_PANEL_LANES) {
            int lanes = (int)(batch - b0 < IK_PANEL_LANES ? batch - b0 : IK_PANEL_LANES);
            const uint8_t *a = ab + (size_t)b0 * (size_t)arow;
            if (lanes <= k->max_batch) {
                tile_product(k, wtype, wb, cols, a, lanes, y + b0 * ldy, ldy, r_chunk, r_end, accumulate);
                continue;
            }
            for (long c = 0; c < blocks; c += IK_CHAIN_BLOCKS) {
                long nk = blocks - c < IK_CHAIN_BLOCKS ? blocks - c : IK_CHAIN_BLOCKS;
                pack_panel(k, a, (size_t)arow, lanes, c, nk, panel);
                for (long r0 = r_chunk; r0 < r_end; r0 += k->panel_rows) {
                    int nr = (int)(r_end - r0 < k->panel_rows ? r_end - r0 : k->panel_rows);
                    k->panel(nr, lanes, wb + (size_t)r0 * (size_t)wrow + (size_t)c * block_bytes, (size_t)wrow, panel, nk,
                             y + b0 * ldy + r0, ldy, c > 0, c == 0 && accumulate);
                }
            }
        }
    }
}

void ik_matmul(int wtype, const void *w, long cols, const void *act, long batch,
               float *y, long ldy, long row_begin, long row_end, int accumulate) {
    int t = ik_type_index(wtype);
    if (t < 0 || batch <= 0 || row_end <= row_begin) return;
    if (cols == 0 && !accumulate) // empty rows: every product is 0
        for (long b = 0; b < batch; b++)
            for (long r = row_begin; r < row_end; r++) y[b * ldy + r] = 0.0f;
    if (ik_weight_row_bytes(wtype, cols) == 0) return;
    const ik_kernel *k = &variants[ik_current_variant()]->kernels[t];
    if (k->panel && batch > k->max_batch) panel_product(k, wtype, w, cols, act, batch, y, ldy, row_begin, row_end, accumulate);
    else tile_product(k, wtype, w, cols, act, batch, y, ldy, row_begin, row_end, accumulate);
}
