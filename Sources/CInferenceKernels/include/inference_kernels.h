// Matrix products computed directly on GGUF-typed weights (f32, f16, Q8_0, Q4_0), so a loaded
// quantized model stays quantized in memory. Weights are `rows` rows of `cols` elements in
// GGUF's own layout; activations are first converted once per product into the format that
// pairs with the weight type (f32, f16, or Q8_0 blocks, as llama.cpp does). Each kernel has a
// portable C version, an AVX2+FMA+F16C version and an AVX-512 (BW, VL, VNNI) version, picked at
// run time. Kernels are single-threaded and never allocate: callers split rows across threads.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// ggml's type numbers of the weight formats the kernels read.
///  - IK_F32: little-endian float; IK_F16: IEEE half.
///  - IK_Q8_0: blocks of 32, each an fp16 scale d then 32 int8 q (34 bytes); value = d * q.
///  - IK_Q4_0: blocks of 32, each an fp16 scale d then 16 bytes; element j (0...15) is the low
///    nibble of byte j, element j + 16 its high nibble; value = d * (nibble - 8) (18 bytes).
enum { IK_F32 = 0, IK_F16 = 1, IK_Q4_0 = 2, IK_Q8_0 = 8 };

/// Bytes of one weight row of `cols` elements of type `wtype` (0 for an unknown type or, for a
/// block type, `cols` not a multiple of 32).
long ik_weight_row_bytes(int wtype, long cols);

/// Bytes of one activation row prepared for products with weights of type `wtype`: f32 weights
/// take f32 activations, f16 weights f16 ones, Q4_0 and Q8_0 weights Q8_0 blocks. 0 as above.
long ik_activation_row_bytes(int wtype, long cols);

/// Converts `rows` rows of f32 activations (each `cols` floats, consecutive) into the format
/// ik_activation_row_bytes names, rows consecutive in `dst`. f16 rounds to nearest even; Q8_0
/// is what llama.cpp's CPU backend does on x86 (ggml-cpu's quantize_row_q8_0, not the reference
/// quantize_row_q8_0_ref): per block d = amax / 127 stored as fp16, q = x * (127 / amax) rounded
/// to nearest, ties to even; so a model's activations round exactly as llama.cpp rounds them.
void ik_prepare_activations(int wtype, const float *x, long rows, long cols, void *dst);

/// y[b * ldy + r] = dot(weight row r, activation row b) for r in [row_begin, row_end) and b in
/// [0, batch): `w` is the whole weight matrix (row r at r * ik_weight_row_bytes), `act` holds
/// `batch` rows prepared by ik_prepare_activations. batch = 1 is a matrix-vector product. With
/// `accumulate` non-zero the products are added to y instead of stored. Products accumulate in
/// f32; quantized blocks are multiplied as integers and scaled by d_w * d_x per block. For Q8_0
/// and Q4_0 a product's bits depend only on its weight row, its activation row, `accumulate`
/// and y, never on the batch, the row range or the other rows (within one variant). An
/// unknown type, or block type with `cols` not a multiple of 32, leaves y as it is.
void ik_matmul(int wtype, const void *w, long cols, const void *act, long batch,
               float *y, long ldy, long row_begin, long row_end, int accumulate);

/// Number of kernel variants: 0 "portable", 1 "avx2", 2 "avx512".
int ik_variant_count(void);

/// The name of a variant ("portable", "avx2", "avx512"), or NULL if out of range.
const char *ik_variant_name(int variant);

/// Whether this CPU can run a variant (portable always; avx2 needs AVX2, FMA and F16C; avx512
/// needs those and AVX-512 F, BW, VL and VNNI).
int ik_variant_supported(int variant);

/// The variant the kernels use: the forced one if any, else the best supported one.
int ik_current_variant(void);

/// Makes every later call use `variant` (for tests and benchmarks); -1 returns to the best
/// supported one. Returns 0, changing nothing, if the variant is unsupported or out of range.
int ik_force_variant(int variant);

#ifdef __cplusplus
}
#endif
