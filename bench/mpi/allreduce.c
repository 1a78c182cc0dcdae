// MPI_Allreduce bandwidth: SUM over float buffers of several sizes, in place, as training's
// gradient all-reduce does. Prints one line per size: bytes, median seconds, GB/s (buffer bytes
// over time, "algorithm bandwidth").
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int repeats = 15;
    for (size_t count = 1 << 16; count <= (size_t)1 << 26; count <<= 2) {
        float *buffer = malloc(count * sizeof(float));
        for (size_t i = 0; i < count; i++) buffer[i] = (float)(i % 97) * 1e-3f;
        double times[repeats];
        for (int r = 0; r < repeats; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double start = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            times[r] = MPI_Wtime() - start;
        }
        qsort(times, repeats, sizeof(double), compare);
        if (rank == 0) {
            double bytes = (double)count * sizeof(float);
            printf("%d ranks  %9.1f MB  %.5f s  %6.2f GB/s\n", size, bytes / 1e6, times[repeats / 2], bytes / times[repeats / 2] / 1e9);
        }
        free(buffer);
    }
    MPI_Finalize();
    return 0;
}
