// dnnl_sgemm through dlopen: lora links no oneDNN and uses OpenBLAS where libdnnl is absent.
#define _GNU_SOURCE
#include "onednn_shim.h"
#include <dlfcn.h>
#include <stdio.h>

static int (*p_sgemm)(char, char, long, long, long, float, const float *, long, const float *, long, float, float *, long);
static void (*p_set_threads)(int);

int lora_dnnl_load(const char *library, char *error, size_t error_length) {
    const char *name = library ? library : "libdnnl.so.2";
    void *lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        snprintf(error, error_length, "cannot open %s (%s); install oneDNN (apt-get install libdnnl-dev)", name, dlerror());
        return 1;
    }
    *(void **)(&p_sgemm) = dlsym(lib, "dnnl_sgemm");
    if (!p_sgemm) { snprintf(error, error_length, "%s has no dnnl_sgemm", name); return 1; }
    // OpenMP's runtime is loaded with libdnnl (Debian builds it with OpenMP); absent in a
    // sequential build, where there is nothing to set.
    *(void **)(&p_set_threads) = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    return 0;
}

int lora_dnnl_sgemm(char trans_a, char trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                    const float *b, long ldb, float beta, float *c, long ldc) {
    return p_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void lora_dnnl_set_threads(int threads) {
    if (p_set_threads) p_set_threads(threads);
}
