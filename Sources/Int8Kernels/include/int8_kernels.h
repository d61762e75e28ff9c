// int8 matrix products for quantised inference: out (M×N, int32) = x (M×K, int8) · wᵀ (w: N×K, int8).
#ifndef LORA_INT8_KERNELS_H
#define LORA_INT8_KERNELS_H
#include <stdint.h>

/// The plain triple loop: `out[i*N + j] = Σ_k x[i*K + k] · w[j*K + k]`, exact in int32 for
/// K ≤ 2^17 (|x|, |w| ≤ 127). The reference the fast kernels are tested against.
void lora_int8_gemm_reference(int m, int n, int k, const int8_t *x, const int8_t *w, int32_t *out);

#endif
