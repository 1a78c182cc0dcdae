// Elementwise and reduction kernels of the transformer, one function per fused operation.
// Matrix products go to BLAS; these cover what sits between them. Every kernel works on a
// range of rows so the caller can split work across threads, and none allocates.
#pragma once
#include <stdint.h>

/// out = x / sqrt(mean(x^2) + eps) * w, row by row; rstd receives 1 / sqrt(mean(x^2) + eps).
void tk_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w,
                        long rows, long dim, float eps);

/// Backward of tk_rmsnorm_forward: dx += d/dx, dw += d/dw (dw is this caller's private sum).
void tk_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x,
                         const float *w, const float *rstd, long rows, long dim);

/// Rotary embedding (rotate_half convention) in place on `heads` heads of `head_dim` floats
/// that start each row (rows `stride` floats apart). Row r sits at position pos0 + r; tables
/// hold cos and sin for [position][head_dim/2]. `inverse` rotates back (the backward pass).
void tk_rope(float *x, long rows, long stride, long heads, long head_dim, long pos0,
             const float *cos_table, const float *sin_table, int inverse);

/// Causal softmax over rows of scores: row r may see columns 0 ... first_row + r. Scores are
/// multiplied by `scale` first; columns past the visible ones up to `width` are set to 0.
void tk_softmax_causal(float *scores, long ld, long rows, long first_row, long width, float scale);

/// tk_softmax_causal for rows packed with several examples: row r sees only columns
/// starts[r] ... first_row + r (its own example's earlier positions); the columns before
/// starts[r] are set to 0. NULL starts means 0 for every row. tk_softmax_causal_backward is
/// its backward too: the zeros keep the masked columns' gradients at 0.
void tk_softmax_segmented(float *scores, long ld, long rows, long first_row, long width, float scale,
                          const int32_t *starts);

/// Backward of tk_softmax_causal in place: dp holds dL/dP and becomes dL/dscores (times scale).
void tk_softmax_causal_backward(float *dp, const float *p, long ld, long rows, long first_row,
                                long width, float scale);

/// Fused softmax cross-entropy over rows of logits. Returns the summed loss of these rows.
/// With a non-zero grad_scale, logits are overwritten by (softmax - onehot) * grad_scale.
/// When `ranks` is not NULL it receives, per row, how many logits exceed the target's; when
/// `row_losses` is not NULL it receives each row's loss. A negative target masks its row: no
/// loss, a zero gradient, rank and row loss 0.
double tk_cross_entropy(float *logits, const int32_t *targets, long rows, long vocab,
                        float grad_scale, int32_t *ranks, float *row_losses);

/// Knowledge distillation over rows of student logits with the teacher's logits beside them:
/// loss = alpha · T² · KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − alpha) · CE(student, target).
/// Returns the summed loss; with a non-zero grad_scale the student logits become the loss's
/// gradient times grad_scale.
double tk_distillation(float *logits, const float *teacher, const int32_t *targets, long rows, long vocab,
                       float temperature, float alpha, float grad_scale);

/// m = silu(g) * u, where each row of gu is [g (ffn floats), u (ffn floats)].
void tk_swiglu_forward(float *m, const float *gu, long rows, long ffn);

/// Backward of tk_swiglu_forward: dgu rows [dg, du] from dm.
void tk_swiglu_backward(float *dgu, const float *dm, const float *gu, long rows, long ffn);

/// Sum of squares in double (for the global gradient norm).
double tk_sum_squares(const float *x, long n);

/// One AdamW step (PyTorch's formulation) on n parameters; g is scaled by grad_scale first
/// (gradient clipping). bc1/bc2 are the bias corrections 1 - beta^t.
void tk_adamw(float *p, const float *g, float *m, float *v, long n, float lr, float beta1,
              float beta2, float eps, float weight_decay, float grad_scale, float bc1, float bc2);

/// y += x over n floats.
void tk_add(float *y, const float *x, long n);
