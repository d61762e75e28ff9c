// Open MPI through dlopen: `lora` links no MPI library and runs without one; under mpirun it
// opens libmpi and calls it through these pointers. Handles (MPI_COMM_WORLD, MPI_FLOAT,
// MPI_SUM, …) are Open MPI's exported globals, looked up by name; MPI_IN_PLACE is (void *)1.
#define _GNU_SOURCE
#include "mpi_shim.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void *handle_t;
typedef struct { int source, tag, error, cancelled; size_t ucount; } status_t; // ompi_status_public_t

static int (*p_init_thread)(int *, char ***, int, int *);
static int (*p_finalize)(void);
static int (*p_abort)(handle_t, int);
static int (*p_comm_rank)(handle_t, int *);
static int (*p_comm_size)(handle_t, int *);
static double (*p_wtime)(void);
static int (*p_allreduce)(const void *, void *, int, handle_t, handle_t, handle_t);
static int (*p_iallreduce)(const void *, void *, int, handle_t, handle_t, handle_t, handle_t *);
static int (*p_testall)(int, handle_t *, int *, status_t *);
static int (*p_waitall)(int, handle_t *, status_t *);
static int (*p_bcast)(void *, int, handle_t, int, handle_t);
static int (*p_ibarrier)(handle_t, handle_t *);
static int (*p_test)(handle_t *, int *, status_t *);

static handle_t comm_world, type_float, type_double, type_byte, op_sum, op_max, op_min;
#define IN_PLACE ((void *)1)
#define MAX_REQUESTS 256
#define CHUNK ((size_t)1 << 30)
static handle_t requests[MAX_REQUESTS];
static int request_count;
static handle_t barrier_request;

int lora_mpi_load(const char *library, char *error, size_t error_length) {
    const char *name = library ? library : "libmpi.so.40";
    // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve libmpi's symbols from the global scope.
    void *lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        snprintf(error, error_length, "cannot open %s (%s); install Open MPI (scripts/setup.sh, or apt-get install openmpi-bin libopenmpi-dev)", name, dlerror());
        return 1;
    }
#define LOOK(ptr, sym) do { *(void **)(&ptr) = dlsym(lib, sym); if (!ptr) { snprintf(error, error_length, "%s has no symbol %s: lora needs Open MPI's ABI (libmpi.so.40)", name, sym); return 1; } } while (0)
    LOOK(p_init_thread, "MPI_Init_thread");
    LOOK(p_finalize, "MPI_Finalize");
    LOOK(p_abort, "MPI_Abort");
    LOOK(p_comm_rank, "MPI_Comm_rank");
    LOOK(p_comm_size, "MPI_Comm_size");
    LOOK(p_wtime, "MPI_Wtime");
    LOOK(p_allreduce, "MPI_Allreduce");
    LOOK(p_iallreduce, "MPI_Iallreduce");
    LOOK(p_testall, "MPI_Testall");
    LOOK(p_waitall, "MPI_Waitall");
    LOOK(p_bcast, "MPI_Bcast");
    LOOK(p_ibarrier, "MPI_Ibarrier");
    LOOK(p_test, "MPI_Test");
    LOOK(comm_world, "ompi_mpi_comm_world");
    LOOK(type_float, "ompi_mpi_float");
    LOOK(type_double, "ompi_mpi_double");
    LOOK(type_byte, "ompi_mpi_byte");
    LOOK(op_sum, "ompi_mpi_op_sum");
    LOOK(op_max, "ompi_mpi_op_max");
    LOOK(op_min, "ompi_mpi_op_min");
#undef LOOK
    return 0;
}

int lora_mpi_init(void) {
    int provided = 0;
    return p_init_thread(NULL, NULL, 1 /* MPI_THREAD_FUNNELED */, &provided);
}

int lora_mpi_finalize(void) { return p_finalize(); }
void lora_mpi_abort(int code) { p_abort(comm_world, code); }
int lora_mpi_rank(void) { int r = -1; p_comm_rank(comm_world, &r); return r; }
int lora_mpi_size(void) { int s = 0; p_comm_size(comm_world, &s); return s; }
double lora_mpi_wtime(void) { return p_wtime(); }

int lora_mpi_allreduce_sum_float(float *buffer, size_t count) {
    for (size_t done = 0; done < count; done += CHUNK) {
        size_t n = count - done < CHUNK ? count - done : CHUNK;
        int rc = p_allreduce(IN_PLACE, buffer + done, (int)n, type_float, op_sum, comm_world);
        if (rc) return rc;
    }
    return 0;
}

int lora_mpi_allreduce_double(double *buffer, int count, int op) {
    handle_t o = op == 1 ? op_max : op == 2 ? op_min : op_sum;
    return p_allreduce(IN_PLACE, buffer, count, type_double, o, comm_world);
}

int lora_mpi_iallreduce_sum_float(float *buffer, size_t count) {
    for (size_t done = 0; done < count; done += CHUNK) {
        if (request_count == MAX_REQUESTS) return -1;
        size_t n = count - done < CHUNK ? count - done : CHUNK;
        int rc = p_iallreduce(IN_PLACE, buffer + done, (int)n, type_float, op_sum, comm_world, &requests[request_count]);
        if (rc) return rc;
        request_count++;
    }
    return 0;
}

int lora_mpi_test_all(int *done) {
    if (request_count == 0) { *done = 1; return 0; }
    return p_testall(request_count, requests, done, NULL);
}

int lora_mpi_wait_all(void) {
    if (request_count == 0) return 0;
    int rc = p_waitall(request_count, requests, NULL);
    request_count = 0;
    return rc;
}

int lora_mpi_bcast(void *buffer, size_t bytes, int root) {
    for (size_t done = 0; done < bytes; done += CHUNK) {
        size_t n = bytes - done < CHUNK ? bytes - done : CHUNK;
        int rc = p_bcast((char *)buffer + done, (int)n, type_byte, root, comm_world);
        if (rc) return rc;
    }
    return 0;
}

int lora_mpi_ibarrier(void) { return p_ibarrier(comm_world, &barrier_request); }
int lora_mpi_test_barrier(int *done) { return p_test(&barrier_request, done, NULL); }
