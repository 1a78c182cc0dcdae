// Open MPI, loaded at run time with dlopen: building pipe needs no MPI headers or library, and
// a single-machine install never loads one. Swift cannot import Open MPI's MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM or MPI_IN_PLACE (macros over the addresses of library globals), so these
// functions take their place; each returns an MPI error code (0 is success).
#ifndef PIPE_MPI_LOADER_H
#define PIPE_MPI_LOADER_H

#include <stddef.h>

/// Loads `library` (e.g. "libmpi.so.40") and finds the functions and handles used here.
/// On failure returns -1 and writes the reason into `error`.
int pipe_mpi_load(const char *library, char *error, size_t error_size);

/// MPI_Init, and MPI_Finalize registered to run at exit.
int pipe_mpi_init(void);
int pipe_mpi_rank(int *rank);
int pipe_mpi_size(int *size);
/// Sums `count` floats over every rank, in place (chunked below INT_MAX elements).
int pipe_mpi_allreduce_sum_float(float *buffer, size_t count);
/// Sums `count` doubles over every rank, in place.
int pipe_mpi_allreduce_sum_double(double *buffer, size_t count);
int pipe_mpi_barrier(void);
/// The library's message for an error code.
void pipe_mpi_error_string(int code, char *text, size_t text_size);

#endif
