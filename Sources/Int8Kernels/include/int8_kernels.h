// int8 matrix products for quantised inference: out (M×N, int32) = x (M×K, int8) · wᵀ (w: N×K, int8).
#ifndef LORA_INT8_KERNELS_H
#define LORA_INT8_KERNELS_H
#include <stdint.h>

/// The plain triple loop: `out[i*N + j] = Σ_k x[i*K + k] · w[j*K + k]`, exact in int32 for
/// K ≤ 2^17 (|x|, |w| ≤ 127). The reference the fast kernels are tested against.
void lora_int8_gemm_reference(int m, int n, int k, const int8_t *x, const int8_t *w, int32_t *out);

/// Which fast kernel this processor runs: 2 AVX512-VNNI (8×48 tiles), 1 AVX-VNNI (4×24
/// tiles), 0 none (the reference loop). `LORA_INT8_ISA=0|1|2` caps it (for tests).
int lora_int8_isa(void);

/// A weight `(n, k)` packed once for the fast kernel: panels of `nr` output columns, each
/// holding for every group of 4 k the `nr × 4` bytes one vpdpbusd reads; `k` padded to a
/// multiple of 4 with zeros; `comp[j] = 128 · Σ_k w[j][k]` undoes the +128 of the u8 activations.
typedef struct {
    int n, k, kp, nr, panels, isa;
    int8_t *packed;
    int32_t *comp;
    const int8_t *plain;  /* (n, k) row-major, for the reference path; not owned */
} lora_int8_weight;

/// Packs `w` `(n, k)` for the kernel of `isa` (−1: `lora_int8_isa()`; a higher one than the
/// processor has is lowered to it). Keeps a pointer to `w`, which must outlive the result.
lora_int8_weight *lora_int8_pack(int n, int k, const int8_t *w, int isa);
void lora_int8_free(lora_int8_weight *p);

/// Quantises `m` rows of `x` `(m, k)` to u8 per row, asymmetrically (as ONNX Runtime's dynamic
/// quantisation, per row): with `lo = min(0, min x)`, `hi = max(0, max x)`,
/// `s = (hi − lo) / 255` (1 for a zero row) and the zero point `z = round(−lo / s)` in 0…255,
/// `q = clamp(round(x · (1/s)) + z, 0, 255)` (rounding to nearest, ties to even), so
/// `x ≈ s · (q − z)`. Row stride `kp`; columns k…kp−1 hold `z`. Writes `scales` and `zeros`.
void lora_int8_quantize_rows_u8(int m, int k, int kp, const float *x, uint8_t *q, float *scales, int32_t *zeros);

/// `out` rows `(m, n)` (row stride `ldc`) for the column panels `[panel_begin, panel_end)`:
/// the exact int32 products of the s8 values behind `xu8` `(m, kp)` and the packed weight.
/// With `isa` 0 the panels are column ranges of 48 and `xu8` is read as u8 − 128.
void lora_int8_gemm_packed(int m, const uint8_t *xu8, const lora_int8_weight *w, int32_t *out, int ldc,
                           int panel_begin, int panel_end);

#endif
