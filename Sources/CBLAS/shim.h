// Debian's libopenblas-dev installs cblas.h under /usr/include/x86_64-linux-gnu via alternatives.
#include <cblas.h>
// Not declared by every cblas.h: OpenBLAS's run-time thread control.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// Linux's mremap (a GNU extension the Glibc module hides, and variadic, which Swift cannot
// call): grows or moves an anonymous mapping without copying its pages. Used by Tensors' Slab.
#include <stddef.h>
extern void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);
static inline void *swift_lora_mremap_may_move(void *address, size_t old_size, size_t new_size) {
    return mremap(address, old_size, new_size, 1 /* MREMAP_MAYMOVE */);
}

// LAPACK's divide-and-conquer SVD (OpenBLAS ships LAPACK; Fortran calling convention: every
// argument by pointer, column-major matrices). Used by Tensors' SingularValueDecomposition.
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s,
             float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork,
             int *iwork, int *info);
