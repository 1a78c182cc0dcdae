#include "mpi_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Open MPI's handles are the addresses of these globals (mpi.h: #define MPI_COMM_WORLD
// OMPI_PREDEFINED_GLOBAL(MPI_Comm, ompi_mpi_comm_world)), and MPI_IN_PLACE is (void *)1.
static void *comm_world, *type_float, *type_double, *op_sum;
#define PIPE_MPI_IN_PLACE ((void *)1)

static int (*mpi_init)(int *, char ***);
static int (*mpi_initialized)(int *);
static int (*mpi_finalized)(int *);
static int (*mpi_finalize)(void);
static int (*mpi_comm_rank)(void *, int *);
static int (*mpi_comm_size)(void *, int *);
static int (*mpi_allreduce)(const void *, void *, int, void *, void *, void *);
static int (*mpi_barrier)(void *);
static int (*mpi_error_string)(int, char *, int *);

int pipe_mpi_load(const char *library, char *error, size_t error_size) {
    // RTLD_GLOBAL: Open MPI's components (loaded by the library itself) link against its symbols.
    void *handle = dlopen(library, RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
        snprintf(error, error_size, "cannot load %s: %s", library, dlerror());
        return -1;
    }
#define FIND(var, name)                                                                       \
    do {                                                                                      \
        *(void **)(&var) = dlsym(handle, name);                                               \
        if (!var) {                                                                           \
            snprintf(error, error_size, "%s has no %s: only Open MPI is supported", library, name); \
            return -1;                                                                        \
        }                                                                                     \
    } while (0)
    FIND(comm_world, "ompi_mpi_comm_world");
    FIND(type_float, "ompi_mpi_float");
    FIND(type_double, "ompi_mpi_double");
    FIND(op_sum, "ompi_mpi_op_sum");
    FIND(mpi_init, "MPI_Init");
    FIND(mpi_initialized, "MPI_Initialized");
    FIND(mpi_finalized, "MPI_Finalized");
    FIND(mpi_finalize, "MPI_Finalize");
    FIND(mpi_comm_rank, "MPI_Comm_rank");
    FIND(mpi_comm_size, "MPI_Comm_size");
    FIND(mpi_allreduce, "MPI_Allreduce");
    FIND(mpi_barrier, "MPI_Barrier");
    FIND(mpi_error_string, "MPI_Error_string");
#undef FIND
    return 0;
}

static void finalize_at_exit(void) {
    int done = 0;
    mpi_finalized(&done);
    if (!done) mpi_finalize();
}

int pipe_mpi_init(void) {
    int initialized = 0;
    mpi_initialized(&initialized);
    if (initialized) return 0;
    int code = mpi_init(NULL, NULL);
    if (code == 0) atexit(finalize_at_exit);
    return code;
}

int pipe_mpi_rank(int *rank) { return mpi_comm_rank(comm_world, rank); }

int pipe_mpi_size(int *size) { return mpi_comm_size(comm_world, size); }

static int allreduce_sum(char *buffer, size_t count, void *type, size_t element_size) {
    for (size_t done = 0; done < count;) {
        int n = count - done > INT_MAX ? INT_MAX : (int)(count - done);
        int code = mpi_allreduce(PIPE_MPI_IN_PLACE, buffer + done * element_size, n, type, op_sum, comm_world);
        if (code != 0) return code;
        done += (size_t)n;
    }
    return 0;
}

int pipe_mpi_allreduce_sum_float(float *buffer, size_t count) {
    return allreduce_sum((char *)buffer, count, type_float, sizeof(float));
}

int pipe_mpi_allreduce_sum_double(double *buffer, size_t count) {
    return allreduce_sum((char *)buffer, count, type_double, sizeof(double));
}

int pipe_mpi_barrier(void) { return mpi_barrier(comm_world); }

void pipe_mpi_error_string(int code, char *text, size_t text_size) {
    int length = 0;
    char buffer[1024];
    if (mpi_error_string && mpi_error_string(code, buffer, &length) == 0) {
        snprintf(text, text_size, "%.*s", length, buffer);
    } else {
        snprintf(text, text_size, "MPI error %d", code);
    }
}
