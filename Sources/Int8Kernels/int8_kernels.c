// int8 matrix products for quantised inference: the reference loop and the AVX-VNNI / AVX512-VNNI kernels.
#include "int8_kernels.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

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

int lora_int8_isa(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    __builtin_cpu_init();
    int isa = 0;
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f")) isa = 2;
    else if (__builtin_cpu_supports("avxvnni") && __builtin_cpu_supports("avx2")) isa = 1;
    const char *cap = getenv("LORA_INT8_ISA");
    if (cap && cap[0] >= '0' && cap[0] <= '2' && cap[0] - '0' < isa) isa = cap[0] - '0';
    cached = isa;
    return isa;
}

static inline int32_t load_i32(const void *p) { int32_t v; memcpy(&v, p, 4); return v; }
static inline int imin(int a, int b) { return a < b ? a : b; }

lora_int8_weight *lora_int8_pack(int n, int k, const int8_t *w, int isa) {
    lora_int8_weight *p = calloc(1, sizeof *p);
    const int best = lora_int8_isa();
    p->n = n; p->k = k; p->kp = (k + 3) & ~3; p->isa = isa < 0 || isa > best ? best : isa; p->plain = w;
    p->nr = p->isa == 2 ? 48 : p->isa == 1 ? 24 : 48;
    p->panels = (n + p->nr - 1) / p->nr;
    if (p->isa == 0) return p;
    const int nr = p->nr, groups = p->kp / 4;
    p->packed = aligned_alloc(64, ((size_t)p->panels * nr * p->kp + 63) & ~(size_t)63);
    p->comp = aligned_alloc(64, ((size_t)p->panels * nr * 4 + 63) & ~(size_t)63);
    for (int q = 0; q < p->panels; q++)
        for (int g = 0; g < groups; g++)
            for (int j = 0; j < nr; j++) {
                int col = q * nr + j;
                for (int t = 0; t < 4; t++) {
                    int kk = 4 * g + t;
                    p->packed[(((size_t)q * groups + g) * nr + j) * 4 + t] = (col < n && kk < k) ? w[(size_t)col * k + kk] : 0;
                }
            }
    for (int j = 0; j < p->panels * nr; j++) {
        int32_t s = 0;
        if (j < n) for (int kk = 0; kk < k; kk++) s += w[(size_t)j * k + kk];
        p->comp[j] = 128 * s;
    }
    return p;
}

void lora_int8_free(lora_int8_weight *p) {
    if (!p) return;
    free(p->packed);
    free(p->comp);
    free(p);
}

__attribute__((target("avx2,fma")))
void lora_int8_quantize_rows_u8(int m, int k, int kp, const float *x, uint8_t *q, float *scales, int32_t *zeros) {
    for (int r = 0; r < m; r++) {
        const float *row = x + (size_t)r * k;
        uint8_t *out = q + (size_t)r * kp;
        __m256 lo8 = _mm256_setzero_ps(), hi8 = _mm256_setzero_ps();
        int i = 0;
        for (; i + 8 <= k; i += 8) {
            const __m256 v = _mm256_loadu_ps(row + i);
            lo8 = _mm256_min_ps(lo8, v);
            hi8 = _mm256_max_ps(hi8, v);
        }
        float los[8], his[8], lo = 0, hi = 0;
        _mm256_storeu_ps(los, lo8);
        _mm256_storeu_ps(his, hi8);
        for (int l = 0; l < 8; l++) { lo = los[l] < lo ? los[l] : lo; hi = his[l] > hi ? his[l] : hi; }
        for (; i < k; i++) { lo = row[i] < lo ? row[i] : lo; hi = row[i] > hi ? row[i] : hi; }
        const float scale = hi > lo ? (hi - lo) / 255 : 1, inverse = 1 / scale;
        int zero = (int)__builtin_rintf(-lo * inverse);
        zero = zero < 0 ? 0 : zero > 255 ? 255 : zero;
        scales[r] = scale;
        zeros[r] = zero;
        const __m256 inv = _mm256_set1_ps(inverse);
        const __m256i z = _mm256_set1_epi32(zero), floor0 = _mm256_setzero_si256(), ceil255 = _mm256_set1_epi32(255);
        i = 0;
        for (; i + 8 <= k; i += 8) {
            __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + i), inv)), z);  /* nearest, ties to even */
            v = _mm256_min_epi32(_mm256_max_epi32(v, floor0), ceil255);
            /* 8 int32 in 0..255 to 8 bytes. */
            const __m128i packed16 = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            _mm_storel_epi64((__m128i *)(out + i), _mm_packus_epi16(packed16, packed16));
        }
        for (; i < k; i++) {
            int v = (int)__builtin_rintf(row[i] * inverse) + zero;
            out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        for (; i < kp; i++) out[i] = (uint8_t)zero;
    }
}

/* vpdpbusd: u8 × s8 products summed in groups of 4 into int32 lanes, without saturation. */
#define DPBUSD512(c, x, b) (c) = _mm512_dpbusd_epi32((c), (x), (b))
#define DPBUSD256(c, x, b) (c) = _mm256_dpbusd_avx_epi32((c), (x), (b))
#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ROWS4(X) X(0) X(1) X(2) X(3)

/* AVX512-VNNI: `mr` ≤ 8 rows × 48 columns, 24 zmm accumulators. */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline))
static inline void tile512(const int mr, int groups, const uint8_t *a0, int lda, const int8_t *b0, int32_t *c, int ldc,
                           const int32_t *comp, int ncols) {
#define DECL(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0, c##r##2 = c##r##0;
    ROWS8(DECL)
#undef DECL
    for (int g = 0; g < groups; g++) {
        const int8_t *b = b0 + (size_t)g * 192;
        const __m512i w0 = _mm512_loadu_si512(b), w1 = _mm512_loadu_si512(b + 64), w2 = _mm512_loadu_si512(b + 128);
        const uint8_t *a = a0 + 4 * g;
#define STEP(r) if (mr > r) { const __m512i x = _mm512_set1_epi32(load_i32(a + (size_t)(r) * lda)); \
            DPBUSD512(c##r##0, x, w0); DPBUSD512(c##r##1, x, w1); DPBUSD512(c##r##2, x, w2); }
        ROWS8(STEP)
#undef STEP
    }
    const __m512i k0 = _mm512_loadu_si512(comp), k1 = _mm512_loadu_si512(comp + 16), k2 = _mm512_loadu_si512(comp + 32);
    const __mmask16 m0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);
    const __mmask16 m1 = ncols >= 32 ? 0xffff : ncols <= 16 ? 0 : (__mmask16)((1u << (ncols - 16)) - 1);
    const __mmask16 m2 = ncols >= 48 ? 0xffff : ncols <= 32 ? 0 : (__mmask16)((1u << (ncols - 32)) - 1);
#define STORE(r) if (mr > r) { int32_t *y = c + (size_t)(r) * ldc; \
        _mm512_mask_storeu_epi32(y, m0, _mm512_sub_epi32(c##r##0, k0)); \
        _mm512_mask_storeu_epi32(y + 16, m1, _mm512_sub_epi32(c##r##1, k1)); \
        _mm512_mask_storeu_epi32(y + 32, m2, _mm512_sub_epi32(c##r##2, k2)); }
    ROWS8(STORE)
#undef STORE
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void tile512_any(int mr, int groups, const uint8_t *a, int lda, const int8_t *b, int32_t *c, int ldc, const int32_t *comp, int ncols) {
    switch (mr) {
#define CASE(n) case n: tile512(n, groups, a, lda, b, c, ldc, comp, ncols); break;
        CASE(8) CASE(7) CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) CASE(1)
#undef CASE
    }
}

/* AVX-VNNI: `mr` ≤ 4 rows × 24 columns, 12 ymm accumulators. */
__attribute__((target("avx2,fma,avxvnni"), always_inline))
static inline __m256i mask256(int ncols, int j) {
    int v = ncols - 8 * j; v = v < 0 ? 0 : v > 8 ? 8 : v;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(v), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((target("avx2,fma,avxvnni"), always_inline))
static inline void tile256(const int mr, int groups, const uint8_t *a0, int lda, const int8_t *b0, int32_t *c, int ldc,
                           const int32_t *comp, int ncols) {
#define DECL(r) __m256i c##r##0 = _mm256_setzero_si256(), c##r##1 = c##r##0, c##r##2 = c##r##0;
    ROWS4(DECL)
#undef DECL
    for (int g = 0; g < groups; g++) {
        const int8_t *b = b0 + (size_t)g * 96;
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)b), w1 = _mm256_loadu_si256((const __m256i *)(b + 32)),
                      w2 = _mm256_loadu_si256((const __m256i *)(b + 64));
        const uint8_t *a = a0 + 4 * g;
#define STEP(r) if (mr > r) { const __m256i x = _mm256_set1_epi32(load_i32(a + (size_t)(r) * lda)); \
            DPBUSD256(c##r##0, x, w0); DPBUSD256(c##r##1, x, w1); DPBUSD256(c##r##2, x, w2); }
        ROWS4(STEP)
#undef STEP
    }
    const __m256i k0 = _mm256_loadu_si256((const __m256i *)comp), k1 = _mm256_loadu_si256((const __m256i *)(comp + 8)),
                  k2 = _mm256_loadu_si256((const __m256i *)(comp + 16));
    const __m256i q0 = mask256(ncols, 0), q1 = mask256(ncols, 1), q2 = mask256(ncols, 2);
#define STORE(r) if (mr > r) { int32_t *y = c + (size_t)(r) * ldc; \
        _mm256_maskstore_epi32(y, q0, _mm256_sub_epi32(c##r##0, k0)); \
        _mm256_maskstore_epi32(y + 8, q1, _mm256_sub_epi32(c##r##1, k1)); \
        _mm256_maskstore_epi32(y + 16, q2, _mm256_sub_epi32(c##r##2, k2)); }
    ROWS4(STORE)
#undef STORE
}

__attribute__((target("avx2,fma,avxvnni")))
static void tile256_any(int mr, int groups, const uint8_t *a, int lda, const int8_t *b, int32_t *c, int ldc, const int32_t *comp, int ncols) {
    switch (mr) {
#define CASE(n) case n: tile256(n, groups, a, lda, b, c, ldc, comp, ncols); break;
        CASE(4) CASE(3) CASE(2) CASE(1)
#undef CASE
    }
}

void lora_int8_gemm_packed(int m, const uint8_t *xu8, const lora_int8_weight *w, int32_t *out, int ldc,
                           int panel_begin, int panel_end) {
    const int kp = w->kp, nr = w->nr, groups = kp / 4;
    if (w->isa == 0) {
        for (int q = panel_begin; q < panel_end; q++)
            for (int i = 0; i < m; i++)
                for (int j = q * nr; j < imin(w->n, (q + 1) * nr); j++) {
                    const uint8_t *row = xu8 + (size_t)i * kp;
                    const int8_t *col = w->plain + (size_t)j * w->k;
                    int32_t acc = 0;
                    for (int p = 0; p < w->k; p++) acc += ((int32_t)row[p] - 128) * (int32_t)col[p];
                    out[(size_t)i * ldc + j] = acc;
                }
        return;
    }
    const int mr = w->isa == 2 ? 8 : 4;
    /* Row blocks whose activations (about 128 KiB) stay in L2 while the panels stream past. */
    int mc = (131072 / kp) / mr * mr;
    if (mc < mr) mc = mr;
    for (int m0 = 0; m0 < m; m0 += mc) {
        const int m1 = imin(m, m0 + mc);
        for (int q = panel_begin; q < panel_end; q++) {
            const int8_t *b = w->packed + (size_t)q * groups * nr * 4;
            const int ncols = imin(nr, w->n - q * nr);
            for (int i = m0; i < m1; i += mr) {
                if (w->isa == 2)
                    tile512_any(imin(mr, m1 - i), groups, xu8 + (size_t)i * kp, kp, b, out + (size_t)i * ldc + q * nr, ldc, w->comp + q * nr, ncols);
                else
                    tile256_any(imin(mr, m1 - i), groups, xu8 + (size_t)i * kp, kp, b, out + (size_t)i * ldc + q * nr, ldc, w->comp + q * nr, ncols);
            }
        }
    }
}
