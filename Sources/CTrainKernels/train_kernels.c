// Kernels of the transformer between its matrix products. Each function is compiled for
// AVX-512, AVX2 and baseline x86-64 and picked at load time (target_clones); loops are
// written so the compiler vectorizes them (the build allows reassociation, not fast-math).
#include "train_kernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#define TK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TK_CLONES
#endif

// exp(x) within 2 ulp for the range that matters, written so that loops calling it vectorize
// (Cephes' polynomial after splitting x = n ln2 + r).
static inline float tk_expf(float x) {
    x = fminf(fmaxf(x, -87.0f), 88.0f);
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } scale;
    scale.i = ((int32_t)n + 127) << 23;
    return p * scale.f;
}

static inline float tk_sigmoid(float x) { return 1.0f / (1.0f + tk_expf(-x)); }

TK_CLONES
void tk_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w,
                        long rows, long dim, float eps) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * dim;
        float *o = out + r * dim;
        float ss = 0.0f;
        for (long i = 0; i < dim; i++) ss += xr[i] * xr[i];
        float s = 1.0f / sqrtf(ss / (float)dim + eps);
        rstd[r] = s;
        for (long i = 0; i < dim; i++) o[i] = xr[i] * s * w[i];
    }
}

TK_CLONES
void tk_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x,
                         const float *w, const float *rstd, long rows, long dim) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * dim, *dr = dout + r * dim;
        float *dxr = dx + r * dim;
        float s = rstd[r];
        // y_i = x_i s w_i with s = (mean x^2 + eps)^-1/2, so
        // dx_i = s w_i dy_i - x_i s^3 / dim * sum_j dy_j w_j x_j.
        float dot = 0.0f;
        for (long i = 0; i < dim; i++) dot += dr[i] * w[i] * xr[i];
        float k = dot * s * s * s / (float)dim;
        for (long i = 0; i < dim; i++) {
            dxr[i] += s * w[i] * dr[i] - k * xr[i];
            dw[i] += dr[i] * xr[i] * s;
        }
    }
}

TK_CLONES
void tk_rope(float *x, long rows, long stride, long heads, long head_dim, long pos0,
             const float *cos_table, const float *sin_table, int inverse) {
    long half = head_dim / 2;
    float sign = inverse ? -1.0f : 1.0f;
    for (long r = 0; r < rows; r++) {
        const float *c = cos_table + (pos0 + r) * half;
        const float *s = sin_table + (pos0 + r) * half;
        for (long h = 0; h < heads; h++) {
            float *a = x + r * stride + h * head_dim, *b = a + half;
            for (long i = 0; i < half; i++) {
                float x1 = a[i], x2 = b[i], si = sign * s[i];
                a[i] = x1 * c[i] - x2 * si;
                b[i] = x2 * c[i] + x1 * si;
            }
        }
    }
}

TK_CLONES
void tk_softmax_segmented(float *scores, long ld, long rows, long first_row, long width, float scale,
                          const int32_t *starts) {
    for (long r = 0; r < rows; r++) {
        float *row = scores + r * ld;
        long from = starts ? starts[r] : 0, n = first_row + r + 1;
        for (long j = 0; j < from; j++) row[j] = 0.0f;
        float mx = -INFINITY;
        for (long j = from; j < n; j++) mx = fmaxf(mx, row[j]);
        float sum = 0.0f;
        for (long j = from; j < n; j++) {
            float e = tk_expf((row[j] - mx) * scale);
            row[j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (long j = from; j < n; j++) row[j] *= inv;
        for (long j = n; j < width; j++) row[j] = 0.0f;
    }
}

void tk_softmax_causal(float *scores, long ld, long rows, long first_row, long width, float scale) {
    tk_softmax_segmented(scores, ld, rows, first_row, width, scale, NULL);
}

TK_CLONES
void tk_softmax_causal_backward(float *dp, const float *p, long ld, long rows, long first_row,
                                long width, float scale) {
    for (long r = 0; r < rows; r++) {
        float *d = dp + r * ld;
        const float *pr = p + r * ld;
        long n = first_row + r + 1;
        float dot = 0.0f;
        for (long j = 0; j < n; j++) dot += d[j] * pr[j];
        for (long j = 0; j < n; j++) d[j] = pr[j] * (d[j] - dot) * scale;
        for (long j = n; j < width; j++) d[j] = 0.0f;
    }
}

TK_CLONES
double tk_cross_entropy(float *logits, const int32_t *targets, long rows, long vocab,
                        float grad_scale, int32_t *ranks, float *row_losses) {
    double total = 0.0;
    for (long r = 0; r < rows; r++) {
        float *row = logits + r * vocab;
        if (targets[r] < 0) {
            // A masked position: no loss, no gradient.
            if (ranks) ranks[r] = 0;
            if (row_losses) row_losses[r] = 0.0f;
            if (grad_scale != 0.0f) for (long j = 0; j < vocab; j++) row[j] = 0.0f;
            continue;
        }
        float target_logit = row[targets[r]];
        if (ranks) {
            int32_t above = 0;
            for (long j = 0; j < vocab; j++) above += row[j] > target_logit;
            ranks[r] = above;
        }
        float mx = -INFINITY;
        for (long j = 0; j < vocab; j++) mx = fmaxf(mx, row[j]);
        float sum = 0.0f;
        if (grad_scale != 0.0f) {
            // The logits are not needed again: keep each exponential for the gradient.
            for (long j = 0; j < vocab; j++) {
                float e = tk_expf(row[j] - mx);
                row[j] = e;
                sum += e;
            }
        } else {
            for (long j = 0; j < vocab; j++) sum += tk_expf(row[j] - mx);
        }
        float loss = logf(sum) + mx - target_logit;
        if (row_losses) row_losses[r] = loss;
        total += (double)loss;
        if (grad_scale != 0.0f) {
            float k = grad_scale / sum;
            for (long j = 0; j < vocab; j++) row[j] *= k;
            row[targets[r]] -= grad_scale;
        }
    }
    return total;
}

TK_CLONES
double tk_distillation(float *logits, const float *teacher, const int32_t *targets, long rows, long vocab,
                       float temperature, float alpha, float grad_scale) {
    double total = 0.0;
    float inv_t = 1.0f / temperature;
    for (long r = 0; r < rows; r++) {
        float *s = logits + r * vocab;
        const float *t = teacher + r * vocab;
        float ms = -INFINITY, mt = -INFINITY;
        for (long j = 0; j < vocab; j++) { ms = fmaxf(ms, s[j]); mt = fmaxf(mt, t[j]); }
        // Normalizers of the student at temperature 1 and T, and of the teacher at T.
        float z1 = 0.0f, zs = 0.0f, zt = 0.0f;
        for (long j = 0; j < vocab; j++) {
            z1 += tk_expf(s[j] - ms);
            zs += tk_expf((s[j] - ms) * inv_t);
            zt += tk_expf((t[j] - mt) * inv_t);
        }
        float log_zs = logf(zs), log_zt = logf(zt);
        // KL(p_t || p_s) = sum p_t (log p_t - log p_s) with log p = (x - m)/T - log z.
        float kl = 0.0f;
        for (long j = 0; j < vocab; j++) {
            float log_pt = (t[j] - mt) * inv_t - log_zt;
            float log_ps = (s[j] - ms) * inv_t - log_zs;
            kl += tk_expf(log_pt) * (log_pt - log_ps);
        }
        float ce = logf(z1) + ms - s[targets[r]];
        total += (double)(alpha * temperature * temperature * kl + (1.0f - alpha) * ce);
        if (grad_scale != 0.0f) {
            float a = grad_scale * alpha * temperature, b = grad_scale * (1.0f - alpha);
            float inv_z1 = 1.0f / z1, inv_zs = 1.0f / zs, inv_zt = 1.0f / zt;
            for (long j = 0; j < vocab; j++) {
                float ps = tk_expf((s[j] - ms) * inv_t) * inv_zs;
                float pt = tk_expf((t[j] - mt) * inv_t) * inv_zt;
                float p1 = tk_expf(s[j] - ms) * inv_z1;
                s[j] = a * (ps - pt) + b * p1;
            }
            s[targets[r]] -= b;
        }
    }
    return total;
}

TK_CLONES
void tk_swiglu_forward(float *m, const float *gu, long rows, long ffn) {
    for (long r = 0; r < rows; r++) {
        const float *g = gu + r * 2 * ffn, *u = g + ffn;
        float *mr = m + r * ffn;
        for (long i = 0; i < ffn; i++) mr[i] = g[i] * tk_sigmoid(g[i]) * u[i];
    }
}

TK_CLONES
void tk_swiglu_backward(float *dgu, const float *dm, const float *gu, long rows, long ffn) {
    for (long r = 0; r < rows; r++) {
        const float *g = gu + r * 2 * ffn, *u = g + ffn, *d = dm + r * ffn;
        float *dg = dgu + r * 2 * ffn, *du = dg + ffn;
        for (long i = 0; i < ffn; i++) {
            float s = tk_sigmoid(g[i]);
            float silu = g[i] * s;
            du[i] = d[i] * silu;
            dg[i] = d[i] * u[i] * (s + silu * (1.0f - s));
        }
    }
}

TK_CLONES
double tk_sum_squares(const float *x, long n) {
    // Blocks of floats summed in float, blocks in double: fast and accurate enough for a norm.
    double total = 0.0;
    for (long start = 0; start < n; start += 4096) {
        long end = start + 4096 < n ? start + 4096 : n;
        float s = 0.0f;
        for (long i = start; i < end; i++) s += x[i] * x[i];
        total += s;
    }
    return total;
}

TK_CLONES
void tk_adamw(float *p, const float *g, float *m, float *v, long n, float lr, float beta1,
              float beta2, float eps, float weight_decay, float grad_scale, float bc1, float bc2) {
    float decay = 1.0f - lr * weight_decay;
    float step = lr / bc1;
    float inv_bc2 = 1.0f / bc2;
    for (long i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * mi / (sqrtf(vi * inv_bc2) + eps);
    }
}

TK_CLONES
void tk_add(float *y, const float *x, long n) {
    for (long i = 0; i < n; i++) y[i] += x[i];
}
