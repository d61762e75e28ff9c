// Open MPI, opened at run time with dlopen: the few collectives data-parallel training uses.
#ifndef LORA_MPI_SHIM_H
#define LORA_MPI_SHIM_H
#include <stddef.h>

/// Opens `library` (NULL: "libmpi.so.40", Open MPI's ABI) and looks up every function and
/// predefined handle used here. 0 on success; otherwise writes why into `error`.
int lora_mpi_load(const char *library, char *error, size_t error_length);

/// MPI_Init_thread(MPI_THREAD_FUNNELED): only the thread that calls it makes MPI calls.
/// Returns an MPI error code (0 = MPI_SUCCESS).
int lora_mpi_init(void);
int lora_mpi_finalize(void);
/// MPI_Abort on MPI_COMM_WORLD: ends every process of the job.
void lora_mpi_abort(int code);
int lora_mpi_rank(void);
int lora_mpi_size(void);
double lora_mpi_wtime(void);

/// In-place sum over every process of `count` floats (split into calls of at most 2^30).
int lora_mpi_allreduce_sum_float(float *buffer, size_t count);
/// In-place reduction of `count` doubles: `op` 0 sum, 1 max, 2 min.
int lora_mpi_allreduce_double(double *buffer, int count, int op);

/// Starts an in-place float sum (MPI_Iallreduce); the request is kept here, up to 256
/// outstanding. Returns an MPI error code, or -1 when the table is full.
int lora_mpi_iallreduce_sum_float(float *buffer, size_t count);
/// Lets outstanding reductions progress (MPI_Testall); `*done` is 1 when all finished.
int lora_mpi_test_all(int *done);
/// Waits for every outstanding reduction and forgets them.
int lora_mpi_wait_all(void);

/// MPI_Bcast of `bytes` bytes from `root` (split into calls of at most 2^30).
int lora_mpi_bcast(void *buffer, size_t bytes, int root);
/// Starts a barrier (MPI_Ibarrier); `lora_mpi_test_barrier` sets `*done` once every process has entered it.
int lora_mpi_ibarrier(void);
int lora_mpi_test_barrier(int *done);

#endif
