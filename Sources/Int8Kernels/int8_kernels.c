// int8 matrix products for quantised inference: the reference kernel (fast kernels beside it).
#include "int8_kernels.h"

void lora_int8_gemm_reference(int m, int n, int k, const int8_t *x, const int8_t *w, int32_t *out) {
    for (int i = 0; i < m; i++) {
        const int8_t *row = x + (long)i * k;
        for (int j = 0; j < n; j++) {
            const int8_t *col = w + (long)j * k;
            int32_t acc = 0;
            for (int p = 0; p < k; p++) acc += (int32_t)row[p] * (int32_t)col[p];
            out[(long)i * n + j] = acc;
        }
    }
}
