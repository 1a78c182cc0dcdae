// Throughput of the inference kernels (Sources/CInferenceKernels): matrix-vector GB/s of weight
// bytes against a plain memory-read loop, and GOPS (2 * rows * cols * batch / s) per batch size,
// type and variant, with OpenBLAS sgemm on the same shape for f32, and a decode-sized
// quantized projection at 1, 4 and 16 activation rows with the 16-row / 1-row throughput ratio.
// Each kernel figure is the median of 7 timed runs (the machine is shared: a median moves less
// than a minimum when another tenant comes and goes). Build with build.sh beside it;
// `ik-bench [1|2|3|4]` runs one part only.
#define _GNU_SOURCE
#include <cblas.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "inference_kernels.h"

void openblas_set_num_threads(int);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *big_alloc(size_t bytes, unsigned seed) {
    uint8_t *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
    return p;
}

static float *random_floats(long n, unsigned seed) {
    float *x = malloc((size_t)n * 4);
    for (long i = 0; i < n; i++) x[i] = (float)(((seed = seed * 1103515245u + 12345u) >> 8) & 0xffff) / 32768.0f - 1.0f;
    return x;
}

// Random bytes are valid Q8_0/Q4_0 blocks except for their scales: make those small halves.
static void fix_scales(int type, uint8_t *w, long rows, long cols) {
    long block = type == IK_Q8_0 ? 34 : 18;
    if (type != IK_Q8_0 && type != IK_Q4_0) {
        if (type == IK_F16) for (long i = 0; i < rows * cols; i++) ((uint16_t *)w)[i] &= 0xbbff; // finite, small
        if (type == IK_F32) { float *f = (float *)w; for (long i = 0; i < rows * cols; i++) f[i] = (float)(i % 17) / 17.0f; }
        return;
    }
    for (long b = 0; b < rows * cols / 32; b++) { w[b * block] = 0x00; w[b * block + 1] = 0x20; }
}

typedef struct {
    int type;
    const uint8_t *w;
    const void *act;
    long cols, batch, r0, r1, reps, copies;
    size_t matrix_bytes;
    float *y;
    long ldy;
} job;

// Products with `copies` weight matrices laid one after another, in turn, so that with enough
// copies every pass reads its weights from memory rather than from the caches.
static void *run_job(void *p) {
    job *j = p;
    for (long i = 0; i < j->reps; i++)
        for (long c = 0; c < j->copies; c++)
            ik_matmul(j->type, j->w + c * j->matrix_bytes, j->cols, j->act, j->batch, j->y, j->ldy, j->r0, j->r1, 0);
    return 0;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median7(double t[7]) {
    qsort(t, 7, sizeof t[0], compare_doubles);
    return t[3];
}

/// Seconds per product of one matrix, rows split between `threads` threads.
static double time_matmul(int type, const uint8_t *w, long copies, long rows, long cols, const void *act, long batch,
                          float *y, int threads, long reps) {
    job jobs[2];
    pthread_t tid[2];
    size_t bytes = (size_t)ik_weight_row_bytes(type, cols) * rows;
    for (int t = 0; t < threads; t++)
        jobs[t] = (job){type, w, act, cols, batch, rows * t / threads, rows * (t + 1) / threads, reps, copies, bytes, y, rows};
    job warm = jobs[0];
    warm.r1 = rows;
    warm.reps = 1;
    run_job(&warm);
    double times[7];
    for (int trial = 0; trial < 7; trial++) {
        double t0 = now();
        for (int t = 1; t < threads; t++) pthread_create(&tid[t], 0, run_job, &jobs[t]);
        run_job(&jobs[0]);
        for (int t = 1; t < threads; t++) pthread_join(tid[t], 0);
        times[trial] = (now() - t0) / (reps * copies);
    }
    return median7(times);
}

typedef struct { const uint8_t *p; size_t n; long reps; uint64_t sum; } read_job;

__attribute__((target("avx2"))) static void *read_bytes(void *arg) {
    read_job *j = arg;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (long r = 0; r < j->reps; r++)
        for (size_t i = 0; i + 128 <= j->n; i += 128) {
            s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(j->p + i)));
            s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(j->p + i + 32)));
            s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(j->p + i + 64)));
            s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(j->p + i + 96)));
        }
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3)));
    j->sum = out[0] + out[1] + out[2] + out[3];
    return 0;
}

/// GB/s of a summing loop over `bytes` bytes, split between threads.
static double read_bandwidth(const uint8_t *p, size_t bytes, int threads, long reps) {
    read_job jobs[2];
    pthread_t tid[2];
    for (int t = 0; t < threads; t++) jobs[t] = (read_job){p + bytes * t / threads, bytes / threads / 128 * 128, reps, 0};
    read_bytes(&jobs[0]);
    double best = 1e30;
    for (int trial = 0; trial < 5; trial++) {
        double t0 = now();
        for (int t = 1; t < threads; t++) pthread_create(&tid[t], 0, read_bytes, &jobs[t]);
        read_bytes(&jobs[0]);
        for (int t = 1; t < threads; t++) pthread_join(tid[t], 0);
        best = now() - t0 < best ? now() - t0 : best;
    }
    return bytes * (double)reps / best / 1e9;
}

static const int types[] = {IK_F32, IK_F16, IK_Q4_0, IK_Q8_0};
static const char *type_names[] = {"f32", "f16", "q4_0", "q8_0"};

static void matvec_table(void) {
    long shapes[][2] = {{4096, 4096}, {16384, 1024}};
    printf("\nmatrix-vector: GB/s of weight bytes; copies of the matrix cycled through so 256 MB are read\n"
           "(a summing loop over the same 256 MB in brackets)\n");
    printf("%-12s %-6s %-9s %9s %9s\n", "rows x cols", "type", "variant", "1 thread", "2 threads");
    for (int s = 0; s < 2; s++) {
        long rows = shapes[s][0], cols = shapes[s][1];
        float *x = random_floats(cols, 7), *y = malloc((size_t)rows * 4);
        for (int ti = 0; ti < 4; ti++) {
            int type = types[ti];
            size_t bytes = (size_t)ik_weight_row_bytes(type, cols) * rows;
            long copies = (long)((256e6 + bytes - 1) / bytes);
            uint8_t *w = big_alloc(bytes * copies, 3);
            for (long c = 0; c < copies; c++) fix_scales(type, w + c * bytes, rows, cols);
            void *act = malloc((size_t)ik_activation_row_bytes(type, cols));
            double mem1 = read_bandwidth(w, bytes * copies, 1, 3), mem2 = read_bandwidth(w, bytes * copies, 2, 3);
            for (int v = 0; v < ik_variant_count(); v++) {
                if (!ik_force_variant(v)) continue;
                ik_prepare_activations(type, x, 1, cols, act);
                long reps = v == 0 ? 1 : 3;
                double g1 = bytes / time_matmul(type, w, copies, rows, cols, act, 1, y, 1, reps) / 1e9;
                double g2 = bytes / time_matmul(type, w, copies, rows, cols, act, 1, y, 2, reps) / 1e9;
                printf("%5ldx%-6ld %-6s %-9s %9.1f %9.1f   [read %.1f / %.1f]\n", rows, cols, type_names[ti],
                       ik_variant_name(v), g1, g2, mem1, mem2);
                fflush(stdout);
            }
            free(w);
            free(act);
        }
        free(x);
        free(y);
    }
}

static void gops_table(int threads) {
    long rows = 4096, cols = 4096, batches[] = {1, 4, 16, 64, 512};
    printf("\nGOPS (2*rows*cols*batch/s), %ldx%ld weights, %d thread%s\n", rows, cols, threads, threads > 1 ? "s" : "");
    printf("%-6s %-9s", "type", "variant");
    for (int b = 0; b < 5; b++) printf(" %8ld", batches[b]);
    printf("\n");
    float *x = random_floats(512 * cols, 11), *y = malloc((size_t)512 * rows * 4);
    for (int ti = 0; ti < 4; ti++) {
        int type = types[ti];
        size_t bytes = (size_t)ik_weight_row_bytes(type, cols) * rows;
        uint8_t *w = big_alloc(bytes, 5);
        fix_scales(type, w, rows, cols);
        void *act = malloc((size_t)ik_activation_row_bytes(type, cols) * 512);
        for (int v = 0; v < ik_variant_count(); v++) {
            if (!ik_force_variant(v)) continue;
            printf("%-6s %-9s", type_names[ti], ik_variant_name(v));
            for (int b = 0; b < 5; b++) {
                long batch = batches[b];
                if (v == 0 && batch > 64) { printf(" %8s", "-"); continue; }
                ik_prepare_activations(type, x, batch, cols, act);
                double ops = 2.0 * rows * cols * batch;
                long reps = (long)(5e9 / ops / (v == 0 ? 20 : 1)) + 1;
                printf(" %8.1f", ops / time_matmul(type, w, 1, rows, cols, act, batch, y, threads, reps) / 1e9);
                fflush(stdout);
            }
            printf("\n");
        }
        free(w);
        free(act);
    }
    // OpenBLAS: Y (batch x rows) = X (batch x cols) * W^T, W rows x cols row-major.
    openblas_set_num_threads(threads);
    float *wf = random_floats(rows * cols, 13);
    printf("%-6s %-9s", "f32", "openblas");
    for (int b = 0; b < 5; b++) {
        long batch = batches[b];
        double ops = 2.0 * rows * cols * batch;
        long reps = (long)(5e9 / ops) + 1;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, rows, cols, 1, x, cols, wf, cols, 0, y, rows);
        double best = 1e30;
        for (int trial = 0; trial < 5; trial++) {
            double t0 = now();
            for (long r = 0; r < reps; r++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, rows, cols, 1, x, cols, wf, cols, 0, y, rows);
            best = (now() - t0) / reps < best ? (now() - t0) / reps : best;
        }
        printf(" %8.1f", ops / best / 1e9);
    }
    printf("\n");
    free(wf);
    free(x);
    free(y);
}

/// One decode step's projection of a 100M model (d 768, ffn 2048) in Q8_0 and Q4_0: each
/// variant at 1, 4 and 16 activation rows, on 1 and 2 threads (rows split as the engine splits
/// them), weights cycled through 64 MB of copies so that, as in a decode step, they come from
/// memory. GFLOP/s = 2 * rows * cols * batch / s; x16/x1 is the 16-row throughput over the
/// 1-row one (tokens per second of 16 sequences over one, for this product alone).
static void projection_table(void) {
    long shapes[][2] = {{2048, 768}, {768, 2048}}, batches[] = {1, 4, 16};
    const int qtypes[] = {IK_Q8_0, IK_Q4_0};
    const char *qnames[] = {"q8_0", "q4_0"};
    printf("\nprojection GFLOP/s, weights from memory (64 MB of copies), median of 7\n");
    printf("%-10s %-5s %-9s %-3s %8s %8s %8s %7s\n", "rows x cols", "type", "variant", "thr", "1", "4", "16", "x16/x1");
    float *x = random_floats(16 * 2048, 17), *y = malloc((size_t)16 * 2048 * 4);
    for (int s = 0; s < 2; s++) {
        long rows = shapes[s][0], cols = shapes[s][1];
        for (int ti = 0; ti < 2; ti++) {
            int type = qtypes[ti];
            size_t bytes = (size_t)ik_weight_row_bytes(type, cols) * rows;
            long copies = (long)((64e6 + bytes - 1) / bytes);
            uint8_t *w = big_alloc(bytes * copies, 19);
            for (long c = 0; c < copies; c++) fix_scales(type, w + c * bytes, rows, cols);
            void *act = malloc((size_t)ik_activation_row_bytes(type, cols) * 16);
            for (int v = 0; v < ik_variant_count(); v++) {
                if (!ik_force_variant(v)) continue;
                ik_prepare_activations(type, x, 16, cols, act);
                for (int threads = 1; threads <= 2; threads++) {
                    double g[3];
                    for (int b = 0; b < 3; b++)
                        g[b] = 2.0 * rows * cols * batches[b] /
                               time_matmul(type, w, copies, rows, cols, act, batches[b], y, threads, v == 0 ? 1 : 3) / 1e9;
                    printf("%4ldx%-6ld %-5s %-9s %-3d %8.1f %8.1f %8.1f %7.2f\n", rows, cols, qnames[ti], ik_variant_name(v),
                           threads, g[0], g[1], g[2], g[2] / g[0]);
                    fflush(stdout);
                }
            }
            free(w);
            free(act);
        }
    }
    free(x);
    free(y);
}

int main(int argc, char **argv) {
    int only = argc > 1 ? atoi(argv[1]) : 0; // 0 all, 1 matrix-vector, 2 GOPS 1 thread, 3 GOPS 2 threads, 4 projection
    printf("best variant: %s\n", ik_variant_name(ik_current_variant()));
    if (only == 0 || only == 1) matvec_table();
    if (only == 0 || only == 2) gops_table(1);
    if (only == 0 || only == 3) gops_table(2);
    if (only == 0 || only == 4) projection_table();
    return 0;
}
