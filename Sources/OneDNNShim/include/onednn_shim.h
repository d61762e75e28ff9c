// oneDNN's fp32 matrix product, opened at run time with dlopen (Debian's libdnnl.so.2), for inference Linears.
#ifndef LORA_ONEDNN_SHIM_H
#define LORA_ONEDNN_SHIM_H
#include <stddef.h>

/// Opens `library` (NULL: "libdnnl.so.2") and finds `dnnl_sgemm` and OpenMP's
/// `omp_set_num_threads`. 0 on success; otherwise writes why into `error`.
int lora_dnnl_load(const char *library, char *error, size_t error_length);

/// Row-major `C (m×n) = alpha · op(A) · op(B) + beta · C`, `trans_a`/`trans_b` 'N' or 'T'
/// (dnnl_sgemm). Returns oneDNN's status (0 = success).
int lora_dnnl_sgemm(char trans_a, char trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                    const float *b, long ldb, float beta, float *c, long ldc);

/// OpenMP threads for the calling thread's next products.
void lora_dnnl_set_threads(int threads);

#endif
