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
