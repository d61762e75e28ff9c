/* int8 GEMM for merged-encoder Linear layers: OpenBLAS sgemm vs oneDNN s8/u8 matmul vs our AVX2 / AVX-VNNI / AVX512-VNNI kernels (see RESULTS.md). */
/*
 * Y(M x N) = X(M x K) . W^T, W is N x K (PyTorch layout). Every int8 variant's int32 result is
 * checked exactly against a plain C reference before it is timed.
 *
 * Build (from this folder): make            or
 *   gcc -O3 -fopenmp -Wall -o int8_gemm int8_gemm.c -ldnnl -lopenblas -lm
 * No -march=native: each kernel carries its ISA in a function attribute, so one binary holds all.
 *
 * Run: ./int8_gemm [--repeats 5] [--min-ms 40] [--threads 1,2] [--models minilm,roberta]
 *                  [--variants sgemm,dnnl,own,quant] [--shapes 800x384x1536,...] [--retries 3]
 *                  [--openblas-core SKYLAKEX]
 * It re-executes itself once with OPENBLAS_CORETYPE (default SKYLAKEX, what `lora` picks on an
 * AVX-512 AMD CPU) and OPENBLAS_THREAD_TIMEOUT=4 (what `lora` sets), since OpenBLAS reads both at load.
 * oneDNN reads ONEDNN_MAX_CPU_ISA / ONEDNN_VERBOSE from the environment as usual.
 * Prints Markdown tables (median of --repeats, variants alternating within each repeat).
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void *amalloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    memset(p, 0, n);
    return p;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static inline int32_t load_i32(const void *p) { int32_t v; memcpy(&v, p, 4); return v; }
static inline int imin(int a, int b) { return a < b ? a : b; }

/* ---------------------------------------------------------------- reference (plain C) */

static void ref_s8(int M, int N, int K, const int8_t *X, const int8_t *W, int32_t *Y) {
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            const int8_t *x = X + (size_t)m * K, *w = W + (size_t)n * K;
            int32_t s = 0;
            for (int k = 0; k < K; k++) s += (int32_t)x[k] * (int32_t)w[k];
            Y[(size_t)m * N + n] = s;
        }
}

static void ref_u8(int M, int N, int K, const uint8_t *X, const int8_t *W, int32_t *Y) {
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            const uint8_t *x = X + (size_t)m * K; const int8_t *w = W + (size_t)n * K;
            int32_t s = 0;
            for (int k = 0; k < K; k++) s += (int32_t)x[k] * (int32_t)w[k];
            Y[(size_t)m * N + n] = s;
        }
}

static long mismatches(size_t n, const int32_t *a, const int32_t *b) {
    long bad = 0;
    for (size_t i = 0; i < n; i++) bad += a[i] != b[i];
    return bad;
}

/* ---------------------------------------------------------------- activation quantisation + epilogue */

/* Per-row symmetric: scale = maxabs/127, q = round(x/scale) in [-127,127]; flip=0x80 writes q+128 as u8. */
__attribute__((target("avx2,fma")))
static void quantize_rows(int M, int K, const float *X, int8_t *Q, float *scale, int flip, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt) if ((long)M * K >= 65536)
    for (int m = 0; m < M; m++) {
        const float *x = X + (size_t)m * K;
        int8_t *q = Q + (size_t)m * K;
        const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
        __m256 mx = _mm256_setzero_ps();
        int k = 0;
        for (; k + 8 <= K; k += 8) mx = _mm256_max_ps(mx, _mm256_and_ps(absmask, _mm256_loadu_ps(x + k)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
        float amax = _mm_cvtss_f32(h);
        for (; k < K; k++) amax = fmaxf(amax, fabsf(x[k]));
        float s = amax > 0 ? amax / 127.0f : 1.0f;
        scale[m] = s;
        const __m256 inv = _mm256_set1_ps(1.0f / s);
        const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        const __m256i fl = _mm256_set1_epi8((char)flip);
        for (k = 0; k + 32 <= K; k += 32) {
            __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), inv));
            __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), inv));
            __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 16), inv));
            __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 24), inv));
            __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
            __m256i v = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), perm);
            _mm256_storeu_si256((__m256i *)(q + k), _mm256_xor_si256(v, fl));
        }
        for (; k < K; k++) {
            int v = (int)lrintf(x[k] / s);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            q[k] = (int8_t)(v ^ flip);
        }
    }
}

/* fp32 Y = acc * row_scale * col_scale + bias (the int8 Linear's output step, one pass over M x N). */
__attribute__((target("avx2,fma")))
static void dequant_epilogue(int M, int N, const int32_t *acc, const float *rs, const float *cs, const float *bias, float *Y, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt) if ((long)M * N >= 65536)
    for (int m = 0; m < M; m++) {
        const __m256 r = _mm256_set1_ps(rs[m]);
        const int32_t *a = acc + (size_t)m * N;
        float *y = Y + (size_t)m * N;
        int n = 0;
        for (; n + 8 <= N; n += 8) {
            __m256 v = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(a + n)));
            __m256 sc = _mm256_mul_ps(r, _mm256_loadu_ps(cs + n));
            _mm256_storeu_ps(y + n, _mm256_fmadd_ps(v, sc, _mm256_loadu_ps(bias + n)));
        }
        for (; n < N; n++) y[n] = a[n] * rs[m] * cs[n] + bias[n];
    }
}

/* ---------------------------------------------------------------- weight packing (once, offline) */

/* Panels of NR output columns; inside a panel, for each group of 4 k: NR x 4 bytes (one int32 lane per
 * column holds W[n][4g..4g+3]), the layout vpdpbusd / vpmaddubsw consume. Columns past N are zero. */
static int8_t *pack_k4(int N, int K, int NR, const int8_t *W) {
    int np = (N + NR - 1) / NR;
    int8_t *P = amalloc((size_t)np * NR * K);
    for (int p = 0; p < np; p++)
        for (int g = 0; g < K / 4; g++)
            for (int j = 0; j < NR; j++) {
                int n = p * NR + j;
                for (int t = 0; t < 4; t++)
                    P[(((size_t)p * (K / 4) + g) * NR + j) * 4 + t] = n < N ? W[(size_t)n * K + 4 * g + t] : 0;
            }
    return P;
}

/* Same for the int16 kernel: pairs of k, sign-extended to int16 (NR x 2 int16 per pair). */
static int16_t *pack_k2_i16(int N, int K, int NR, const int8_t *W) {
    int np = (N + NR - 1) / NR;
    int16_t *P = amalloc((size_t)np * NR * K * 2);
    for (int p = 0; p < np; p++)
        for (int g = 0; g < K / 2; g++)
            for (int j = 0; j < NR; j++) {
                int n = p * NR + j;
                for (int t = 0; t < 2; t++)
                    P[(((size_t)p * (K / 2) + g) * NR + j) * 2 + t] = n < N ? W[(size_t)n * K + 2 * g + t] : 0;
            }
    return P;
}

/* 128 * sum_k W[n][k]: what a u8 kernel fed with (s8 + 128) must subtract to give the s8 x s8 result. */
static int32_t *compensation(int N, int K, int NR, const int8_t *W) {
    int np = (N + NR - 1) / NR;
    int32_t *c = amalloc((size_t)np * NR * 4);
    for (int n = 0; n < N; n++) {
        int32_t s = 0;
        for (int k = 0; k < K; k++) s += W[(size_t)n * K + k];
        c[n] = 128 * s;
    }
    return c;
}

/* ---------------------------------------------------------------- our kernels */

/* Kernels need K % 4 == 0 (every shape here; pad K otherwise) and handle any M and N (masked stores).
 * Accumulators are named variables (c<row><col>), not an array: gcc -O3 spilled and copied an array of
 * vectors held across the k loop. Rows past mr are removed by constant folding (mr is a constant per case).
 * vpdpbusd through inline asm under gcc: with the intrinsics gcc 12 copied every accumulator (and spilled them)
 * on each k step; the asm form keeps the accumulator in place ("+v"). clang (what SwiftPM compiles C with)
 * gets the intrinsics; it still spills in the 4-row AVX-VNNI loop (12 accumulators + 3 weight vectors + the
 * broadcast = all 16 ymm registers) and runs that kernel at about half speed: see RESULTS.md. */
#if defined(__clang__)
#define DPBUSD512(c, x, b) ((c) = _mm512_dpbusd_epi32((c), (x), (b)))
#define DPBUSD256(c, x, b) ((c) = _mm256_dpbusd_avx_epi32((c), (x), (b)))
#else
#define DPBUSD512(c, x, b) __asm__("vpdpbusd %2, %1, %0" : "+v"(c) : "v"(x), "v"(b))
#define DPBUSD256(c, x, b) __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(c) : "x"(x), "x"(b))
#endif

#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ROWS4(X) X(0) X(1) X(2) X(3)

/* AVX512-VNNI: 8 rows x 48 columns (24 zmm int32 accumulators), vpdpbusd u8 x s8 (no saturation). */
#define MR512 8
#define NR512 48
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline))
static inline void tile512(const int mr, int K, const uint8_t *A, int lda, const void *Bv, int32_t *C, int ldc,
                           const int32_t *comp, int ncols) {
#define DECL(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0, c##r##2 = c##r##0;
    ROWS8(DECL)
#undef DECL
    const int8_t *B = Bv;
    for (int g = 0; g < K / 4; g++) {
        const int8_t *b = B + (size_t)g * 192;
        const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64), b2 = _mm512_loadu_si512(b + 128);
        const uint8_t *a = A + 4 * g;
#define STEP(r) if (mr > r) { const __m512i x = _mm512_set1_epi32(load_i32(a + (size_t)(r) * lda)); \
            DPBUSD512(c##r##0, x, b0); DPBUSD512(c##r##1, x, b1); DPBUSD512(c##r##2, x, b2); }
        ROWS8(STEP)
#undef STEP
    }
    __m512i k0 = _mm512_setzero_si512(), k1 = k0, k2 = k0;
    if (comp) { k0 = _mm512_loadu_si512(comp); k1 = _mm512_loadu_si512(comp + 16); k2 = _mm512_loadu_si512(comp + 32); }
    const __mmask16 m0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);
    const __mmask16 m1 = ncols >= 32 ? 0xffff : ncols <= 16 ? 0 : (__mmask16)((1u << (ncols - 16)) - 1);
    const __mmask16 m2 = ncols >= 48 ? 0xffff : ncols <= 32 ? 0 : (__mmask16)((1u << (ncols - 32)) - 1);
#define STORE(r) if (mr > r) { int32_t *y = C + (size_t)(r) * ldc; \
        _mm512_mask_storeu_epi32(y, m0, _mm512_sub_epi32(c##r##0, k0)); \
        _mm512_mask_storeu_epi32(y + 16, m1, _mm512_sub_epi32(c##r##1, k1)); \
        _mm512_mask_storeu_epi32(y + 32, m2, _mm512_sub_epi32(c##r##2, k2)); }
    ROWS8(STORE)
#undef STORE
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void tile512_any(int mr, int K, const void *A, int lda, const void *B, int32_t *C, int ldc, const int32_t *comp, int ncols) {
    switch (mr) {
#define CASE(n) case n: tile512(n, K, (const uint8_t *)A, lda, B, C, ldc, comp, ncols); break;
        CASE(8) CASE(7) CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) CASE(1)
#undef CASE
    }
}

/* 256-bit tiles: 4 rows x 24 columns (12 ymm accumulators). Each k step reads 96 bytes of the packed panel:
 * 4 k x 24 columns of s8 (k4 packing) or 2 k x 24 columns of int16. */
#define MR256 4
#define NR256 24

__attribute__((target("avx2"), always_inline))
static inline __m256i mask256(int ncols, int j) {
    int v = ncols - 8 * j; v = v < 0 ? 0 : v > 8 ? 8 : v;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(v), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define DEF_TILE256(NAME, TARGET, AT, KPER, COMP, SETUP, OP)                                                            \
__attribute__((target(TARGET), always_inline))                                                                    \
static inline void NAME(const int mr, int K, const AT *A, int lda, const void *Bv, int32_t *C, int ldc,           \
                        const int32_t *comp, int ncols) {                                                         \
    const char *B = Bv;                                                                                           \
    SETUP                                                                                                         \
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,                  \
            c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;                                     \
    for (int g = 0; g < K / KPER; g++) {                                                                          \
        const char *b = B + (size_t)g * 96;                                                                       \
        const AT *a = A + (4 / sizeof(AT)) * g;                                                                   \
        if (mr > 0) { const __m256i x = _mm256_set1_epi32(load_i32(a)); OP(c00, 0) OP(c01, 1) OP(c02, 2) }    \
        if (mr > 1) { const __m256i x = _mm256_set1_epi32(load_i32(a + lda)); OP(c10, 0) OP(c11, 1) OP(c12, 2) } \
        if (mr > 2) { const __m256i x = _mm256_set1_epi32(load_i32(a + 2 * (size_t)lda)); OP(c20, 0) OP(c21, 1) OP(c22, 2) } \
        if (mr > 3) { const __m256i x = _mm256_set1_epi32(load_i32(a + 3 * (size_t)lda)); OP(c30, 0) OP(c31, 1) OP(c32, 2) } \
    }                                                                                                             \
    __m256i k0 = _mm256_setzero_si256(), k1 = k0, k2 = k0;                                                        \
    if (COMP && comp) { k0 = _mm256_loadu_si256((const __m256i *)comp); k1 = _mm256_loadu_si256((const __m256i *)(comp + 8)); \
                k2 = _mm256_loadu_si256((const __m256i *)(comp + 16)); }                                          \
    if (ncols == NR256) {                                                                                         \
        ROWS4(STORE256_FULL)                                                                                      \
    } else {                                                                                                      \
        const __m256i q0 = mask256(ncols, 0), q1 = mask256(ncols, 1), q2 = mask256(ncols, 2);                     \
        ROWS4(STORE256_MASK)                                                                                      \
    }                                                                                                             \
}
#define STORE256_FULL(r) if (mr > r) { int32_t *y = C + (size_t)(r) * ldc;                                         \
        _mm256_storeu_si256((__m256i *)y, _mm256_sub_epi32(c##r##0, k0));                                         \
        _mm256_storeu_si256((__m256i *)(y + 8), _mm256_sub_epi32(c##r##1, k1));                                   \
        _mm256_storeu_si256((__m256i *)(y + 16), _mm256_sub_epi32(c##r##2, k2)); }
#define STORE256_MASK(r) if (mr > r) { int32_t *y = C + (size_t)(r) * ldc;                                         \
        _mm256_maskstore_epi32(y, q0, _mm256_sub_epi32(c##r##0, k0));                                             \
        _mm256_maskstore_epi32(y + 8, q1, _mm256_sub_epi32(c##r##1, k1));                                         \
        _mm256_maskstore_epi32(y + 16, q2, _mm256_sub_epi32(c##r##2, k2)); }

/* AVX-VNNI (VEX vpdpbusd ymm): u8 x s8, no saturation. */
#define BLOAD(j) _mm256_loadu_si256((const __m256i *)(b + 32 * (j)))
#define OP_AVXVNNI(c, j) DPBUSD256(c, x, BLOAD(j));
DEF_TILE256(tile256_vnni, "avx2,fma,avxvnni", uint8_t, 4, 1, , OP_AVXVNNI)

/* Plain AVX2 u8 x s8: vpmaddubsw sums u8*s8 pairs into int16 WITH SATURATION (exact only while each pair sum
 * fits: u8 activations in 0..127 with |w| <= 128), then vpmaddwd by ones widens to int32. */
/* One asm block per accumulator (weights as the memory operand, one scratch): with intrinsics gcc 12 interleaved
 * the 12 chains, needed more than 16 ymm registers and spilled in the loop. */
#define OP_MADDUBS(c, j) { __m256i t_; __asm__("vpmaddubsw %3, %2, %1\n\tvpmaddwd %4, %1, %1\n\tvpaddd %1, %0, %0" \
        : "+x"(c), "=&x"(t_) : "x"(x), "m"(*(const __m256i *)(b + 32 * (j))), "x"(ones)); }
DEF_TILE256(tile256_maddubs, "avx2,fma", uint8_t, 4, 1, const __m256i ones = _mm256_set1_epi16(1);, OP_MADDUBS)

/* Exact s8 x s8 on plain AVX2: int16 operands (weights pre-widened, activations widened per call), vpmaddwd. */
#if defined(__clang__) /* clang spilled the 4-row loop with the intrinsics; gcc is faster with them */
#define OP_I16(c, j) { __m256i t_; __asm__("vpmaddwd %3, %2, %1\n\tvpaddd %1, %0, %0" \
        : "+x"(c), "=&x"(t_) : "x"(x), "m"(*(const __m256i *)(b + 32 * (j)))); }
#else
#define OP_I16(c, j) c = _mm256_add_epi32(c, _mm256_madd_epi16(x, BLOAD(j)));
#endif
/* (no compensation: the int16 path is exact s8 x s8; COMP = 0 also keeps gcc from spilling the 4-row loop) */
DEF_TILE256(tile256_i16, "avx2,fma", int16_t, 2, 0, , OP_I16)

#define DEF_ANY256(NAME, TILE, TARGET, AT)                                                                        \
__attribute__((target(TARGET)))                                                                                   \
static void NAME(int mr, int K, const void *A, int lda, const void *B, int32_t *C, int ldc, const int32_t *comp, int ncols) { \
    switch (mr) {                                                                                                 \
        case 4: TILE(4, K, (const AT *)A, lda, B, C, ldc, comp, ncols); break;                                    \
        case 3: TILE(3, K, (const AT *)A, lda, B, C, ldc, comp, ncols); break;                                    \
        case 2: TILE(2, K, (const AT *)A, lda, B, C, ldc, comp, ncols); break;                                    \
        case 1: TILE(1, K, (const AT *)A, lda, B, C, ldc, comp, ncols); break;                                    \
    }                                                                                                             \
}
DEF_ANY256(tile_avxvnni_any, tile256_vnni, "avx2,fma,avxvnni", uint8_t)
DEF_ANY256(tile_maddubs_any, tile256_maddubs, "avx2,fma", uint8_t)
DEF_ANY256(tile_i16_any, tile256_i16, "avx2,fma", int16_t)

/* Blocking shared by all our kernels. Each thread owns a contiguous range of NR-column panels (the output
 * columns split evenly). Outside: row blocks of MC rows (A block about 128 KiB, stays in L2). Inside, per
 * thread: groups of panels whose weights total about 256 KiB (in L2), and for each MR-row tile the panels
 * of the group left to right, so consecutive tiles write consecutive parts of the same C rows (a first version
 * that walked each panel top to bottom lost up to 30 % on 800 x 768 -> 3072, where C is 9.8 MB).
 * esize: bytes per A element (1 for u8, 2 for the int16 kernel, whose panels hold K x NR int16). */
typedef void (*tile_fn)(int, int, const void *, int, const void *, int32_t *, int, const int32_t *, int);

static void own_gemm(tile_fn tile, int MR, int NR, int esize, int M, int N, int K, const void *A, const void *Bp,
                     const int32_t *comp, int32_t *C, int nt) {
    const int np = (N + NR - 1) / NR;
    const size_t row = (size_t)K * esize, panel = (size_t)K * NR * esize;
    int MC = (int)(131072 / row) / MR * MR;
    if (MC < MR) MC = MR;
    int group = (int)(262144 / panel);
    if (group < 1) group = 1;
#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        const int pa = (int)((long)np * t / T), pb = (int)((long)np * (t + 1) / T);
        for (int m0 = 0; m0 < M; m0 += MC) {
            const int m1 = imin(M, m0 + MC);
            for (int g0 = pa; g0 < pb; g0 += group) {
                const int g1 = imin(pb, g0 + group);
                for (int m = m0; m < m1; m += MR)
                    for (int p = g0; p < g1; p++)
                        tile(imin(MR, m1 - m), K, (const char *)A + m * row, K, (const char *)Bp + p * panel,
                             C + (size_t)m * N + p * NR, N, comp ? comp + p * NR : NULL, imin(NR, N - p * NR));
            }
        }
    }
}

__attribute__((target("avx2")))
static void widen_s8(size_t n, const int8_t *x, int16_t *y) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(y + i), _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = x[i];
}

/* The exact AVX2 s8 path: widening the activations to int16 is part of every call. */
static void own_gemm_i16(int M, int N, int K, const int8_t *A8, int16_t *A16, const int16_t *Bp, int32_t *C, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt) if ((long)M * K >= 65536)
    for (int m = 0; m < M; m++) widen_s8(K, A8 + (size_t)m * K, A16 + (size_t)m * K);
    own_gemm(tile_i16_any, MR256, NR256, 2, M, N, K, A16, Bp, NULL, C, nt);
}

/* ---------------------------------------------------------------- oneDNN */

#define DCHK(x) do { dnnl_status_t s_ = (x); if (s_ != dnnl_success) { fprintf(stderr, "oneDNN: %s -> status %d\n", #x, (int)s_); return -1; } } while (0)

static dnnl_engine_t eng;
static dnnl_stream_t strm;

typedef struct {
    int ok, K, N, M; /* M == 0: runtime M */
    dnnl_data_type_t sdt;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t wei;
    double create_ms, recreate_ms, reorder_ms;
    char impl[96];
} dmm_t;

static int dmm_init(dmm_t *d, int M, int K, int N, dnnl_data_type_t sdt, const int8_t *W) {
    memset(d, 0, sizeof *d);
    d->K = K; d->N = N; d->M = M; d->sdt = sdt;
    dnnl_dims_t sdims = {M ? M : DNNL_RUNTIME_DIM_VAL, K}, wdims = {K, N}, ddims = {M ? M : DNNL_RUNTIME_DIM_VAL, N};
    dnnl_memory_desc_t smd, wmd, dmd, wusr;
    DCHK(dnnl_memory_desc_init_by_tag(&smd, 2, sdims, sdt, dnnl_ab));
    DCHK(dnnl_memory_desc_init_by_tag(&wmd, 2, wdims, dnnl_s8, dnnl_format_tag_any));
    DCHK(dnnl_memory_desc_init_by_tag(&dmd, 2, ddims, dnnl_s32, dnnl_ab));
    dnnl_matmul_desc_t md;
    DCHK(dnnl_matmul_desc_init(&md, &smd, &wmd, NULL, &dmd));
    double t0 = now();
    DCHK(dnnl_primitive_desc_create(&d->pd, &md, NULL, eng, NULL));
    DCHK(dnnl_primitive_create(&d->prim, d->pd));
    d->create_ms = 1e3 * (now() - t0);
    /* the same primitive again: oneDNN's primitive cache should answer */
    dnnl_primitive_desc_t pd2;
    dnnl_primitive_t p2;
    t0 = now();
    DCHK(dnnl_primitive_desc_create(&pd2, &md, NULL, eng, NULL));
    DCHK(dnnl_primitive_create(&p2, pd2));
    d->recreate_ms = 1e3 * (now() - t0);
    dnnl_primitive_destroy(p2);
    dnnl_primitive_desc_destroy(pd2);
    const char *impl = "?";
    dnnl_primitive_desc_query(d->pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(d->impl, sizeof d->impl, "%s", impl);
    /* W (N x K row-major) is the K x N weights matrix in "ba" order: one reorder into the layout the primitive wants */
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(d->pd, dnnl_query_weights_md, 0);
    DCHK(dnnl_memory_desc_init_by_tag(&wusr, 2, wdims, dnnl_s8, dnnl_ba));
    dnnl_memory_t usr;
    DCHK(dnnl_memory_create(&usr, &wusr, eng, (void *)W));
    DCHK(dnnl_memory_create(&d->wei, want, eng, DNNL_MEMORY_ALLOCATE));
    t0 = now();
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t rp;
    DCHK(dnnl_reorder_primitive_desc_create(&rpd, &wusr, eng, want, eng, NULL));
    DCHK(dnnl_primitive_create(&rp, rpd));
    dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, usr}, {DNNL_ARG_TO, d->wei}};
    DCHK(dnnl_primitive_execute(rp, strm, 2, ra));
    DCHK(dnnl_stream_wait(strm));
    d->reorder_ms = 1e3 * (now() - t0);
    dnnl_primitive_destroy(rp);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(usr);
    d->ok = 1;
    return 0;
}

/* src/dst memory objects for one M (for a runtime-M primitive they carry the actual M) */
typedef struct { dmm_t *d; dnnl_memory_t src, dst; } dcall_t;

static int dcall_init(dcall_t *c, dmm_t *d, int M, void *X, int32_t *Y) {
    c->d = d;
    dnnl_dims_t sdims = {M, d->K}, ddims = {M, d->N};
    dnnl_memory_desc_t smd, dmd;
    DCHK(dnnl_memory_desc_init_by_tag(&smd, 2, sdims, d->sdt, dnnl_ab));
    DCHK(dnnl_memory_desc_init_by_tag(&dmd, 2, ddims, dnnl_s32, dnnl_ab));
    DCHK(dnnl_memory_create(&c->src, &smd, eng, X));
    DCHK(dnnl_memory_create(&c->dst, &dmd, eng, Y));
    return 0;
}

static void dcall_run(void *p) {
    dcall_t *c = p;
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, c->d->wei}, {DNNL_ARG_DST, c->dst}};
    if (dnnl_primitive_execute(c->d->prim, strm, 3, a) != dnnl_success) { fprintf(stderr, "oneDNN execute failed\n"); exit(1); }
    dnnl_stream_wait(strm);
}

static const char *isa_name(dnnl_cpu_isa_t i) {
    switch (i) {
        case dnnl_cpu_isa_sse41: return "sse41";
        case dnnl_cpu_isa_avx: return "avx";
        case dnnl_cpu_isa_avx2: return "avx2";
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
        case dnnl_cpu_isa_avx512_core: return "avx512_core";
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
        default: return "other";
    }
}

/* ---------------------------------------------------------------- the benchmark */

typedef struct {
    int M, N, K, nt;
    const float *Xf, *Wf; float *Yf;                   /* sgemm */
    const uint8_t *A; const int8_t *Bp; const int32_t *comp; int32_t *C;
    tile_fn tile; int MR, NR;                          /* own u8 kernels */
    const int8_t *A8; int16_t *A16; const int16_t *B16; /* own int16 kernel */
    const float *Xq; int8_t *Q; float *rs;             /* quantisation */
    const int32_t *acc; const float *cs, *bias; float *Yo; /* epilogue */
} ctx_t;

static void run_sgemm(void *p) {
    ctx_t *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->M, c->N, c->K, 1.0f, c->Xf, c->K, c->Wf, c->K, 0.0f, c->Yf, c->N);
}
static void run_own_u8(void *p) { ctx_t *c = p; own_gemm(c->tile, c->MR, c->NR, 1, c->M, c->N, c->K, c->A, c->Bp, c->comp, c->C, c->nt); }
static void run_own_i16(void *p) { ctx_t *c = p; own_gemm_i16(c->M, c->N, c->K, c->A8, c->A16, c->B16, c->C, c->nt); }
static void run_quant(void *p) { ctx_t *c = p; quantize_rows(c->M, c->K, c->Xq, c->Q, c->rs, 0, c->nt); }
static void run_epi(void *p) { ctx_t *c = p; dequant_epilogue(c->M, c->N, c->acc, c->rs, c->cs, c->bias, c->Yo, c->nt); }

static double g_min_s = 0.04, g_warm_s = 0.01;

static double time_call(void (*fn)(void *), void *ctx) {
    double t0 = now();
    do fn(ctx); while (now() - t0 < g_warm_s);
    long it = 0;
    t0 = now();
    double t;
    do { fn(ctx); it++; } while ((t = now() - t0) < g_min_s || it < 3);
    return t / it;
}

/* CPU time the rest of the machine used meanwhile (busy ticks in /proc/stat less this process's own), in
 * percent of the whole machine: a row measured while something else ran is flagged and should be rerun. */
static void cpu_sample(unsigned long long *busy, unsigned long long *total, unsigned long long *self) {
    unsigned long long v[10] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (f) { if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8) memset(v, 0, sizeof v); fclose(f); }
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *total = *busy + v[3] + v[4];
    *self = 0;
    f = fopen("/proc/self/stat", "r");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        char *q = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) *self = ut + st;
    }
}

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

enum { V_SGEMM, V_DS8, V_DS8F, V_DU8, V_DU8F, V_MADDUBS, V_I16, V_AVXVNNI, V_VNNI512, V_QUANT, V_EPI, NV };
static const char *vname[NV] = {"sgemm fp32 (OpenBLAS)", "oneDNN s8 rt-M", "oneDNN s8 fixed-M", "oneDNN u8 rt-M", "oneDNN u8 fixed-M",
                                "own AVX2 maddubs u7", "own AVX2 int16 s8", "own AVX-VNNI", "own AVX512-VNNI",
                                "quantise X (M x K)", "dequant epilogue (M x N)"};
static const char *vshort[NV] = {"sgemm", "dnnl s8 rt", "dnnl s8 fix", "dnnl u8 rt", "dnnl u8 fix", "maddubs u7", "int16 s8",
                                 "avxvnni", "avx512vnni", "quant", "epilogue"};

typedef struct { const char *model; int M, K, N; } shape_t;
static const shape_t shapes[] = {
    {"MiniLM", 8, 384, 384}, {"MiniLM", 8, 384, 1536}, {"MiniLM", 8, 1536, 384},
    {"MiniLM", 128, 384, 384}, {"MiniLM", 128, 384, 1536}, {"MiniLM", 128, 1536, 384},
    {"MiniLM", 800, 384, 384}, {"MiniLM", 800, 384, 1536}, {"MiniLM", 800, 1536, 384},
    {"RoBERTa", 128, 768, 768}, {"RoBERTa", 128, 768, 3072}, {"RoBERTa", 128, 3072, 768},
    {"RoBERTa", 800, 768, 768}, {"RoBERTa", 800, 768, 3072}, {"RoBERTa", 800, 3072, 768},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* the weights layout the first fixed-M primitive of each (K, N, src type) chose: do other Ms want the same? */
static dnnl_memory_desc_t first_fixed_md[16][2];
static int first_fixed_key[16][2], n_first;
static int same_as_first_fixed(const dmm_t *d, int u) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(d->pd, dnnl_query_weights_md, 0);
    for (int i = 0; i < n_first; i++)
        if (first_fixed_key[i][0] == d->K && first_fixed_key[i][1] == d->N) {
            if (first_fixed_md[i][u].ndims == 0) { first_fixed_md[i][u] = *md; return 1; }
            return dnnl_memory_desc_equal(&first_fixed_md[i][u], md);
        }
    first_fixed_key[n_first][0] = d->K; first_fixed_key[n_first][1] = d->N;
    first_fixed_md[n_first++][u] = *md;
    return 1;
}

/* runtime-M primitives: one per (K, N, src type), shared by every M */
static dmm_t rt_prims[16][2];
static int rt_keys[16][2], n_rt;
static dmm_t *rt_prim(int K, int N, int u8) {
    for (int i = 0; i < n_rt; i++)
        if (rt_keys[i][0] == K && rt_keys[i][1] == N) return &rt_prims[i][u8];
    return NULL;
}

typedef struct { double med, lo, hi; int have; } res_t;
static double other_load[16][3]; /* [shape][threads]: percent of the machine used by other processes */
static res_t results[NSHAPES][3][NV]; /* [shape][threads][variant] */

int main(int argc, char **argv) {
    int repeats = 5, retries = 3, threads[2] = {1, 2}, nthr = 2;
    const char *shape_list = NULL, *models = "minilm,roberta", *variants = "sgemm,dnnl,own,quant", *core = "SKYLAKEX";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--retries") && i + 1 < argc) retries = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-ms") && i + 1 < argc) g_min_s = atof(argv[++i]) / 1e3;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            const char *s = argv[++i];
            nthr = sscanf(s, "%d,%d", &threads[0], &threads[1]);
        } else if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
        else if (!strcmp(argv[i], "--variants") && i + 1 < argc) variants = argv[++i];
        else if (!strcmp(argv[i], "--openblas-core") && i + 1 < argc) core = argv[++i];
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shape_list = argv[++i];
        else { fprintf(stderr, "usage: %s [--repeats N] [--min-ms MS] [--threads 1,2] [--models minilm,roberta] [--variants sgemm,dnnl,own,quant] [--shapes MxKxN,...] [--retries 3] [--openblas-core NAME]\n", argv[0]); return 2; }
    }
    if (!getenv("INT8_GEMM_REEXEC")) {
        setenv("INT8_GEMM_REEXEC", "1", 1);
        setenv("OPENBLAS_CORETYPE", core, 1);
        if (!getenv("OPENBLAS_THREAD_TIMEOUT")) setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
        execv("/proc/self/exe", argv);
        perror("re-exec"); /* carry on without */
    }
    int want_sgemm = strstr(variants, "sgemm") != NULL, want_dnnl = strstr(variants, "dnnl") != NULL,
        want_own = strstr(variants, "own") != NULL, want_quant = strstr(variants, "quant") != NULL;
    int has512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
    int hasavxvnni = __builtin_cpu_supports("avxvnni");

    const dnnl_version_t *v = dnnl_version();
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success || dnnl_stream_create(&strm, eng, dnnl_stream_default_flags) != dnnl_success) {
        fprintf(stderr, "oneDNN: no CPU engine\n"); return 1;
    }
    printf("# int8 GEMM benchmark\n\n");
    printf("- oneDNN %d.%d.%d (cpu runtime %s), effective ISA %s (ONEDNN_MAX_CPU_ISA=%s)\n", v->major, v->minor, v->patch,
           v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_THREADPOOL ? "threadpool" : "other",
           isa_name(dnnl_get_effective_cpu_isa()), getenv("ONEDNN_MAX_CPU_ISA") ? getenv("ONEDNN_MAX_CPU_ISA") : "unset");
    printf("- OpenBLAS core %s (OPENBLAS_CORETYPE=%s, OPENBLAS_THREAD_TIMEOUT=%s), %s\n", openblas_get_corename(),
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "unset",
           getenv("OPENBLAS_THREAD_TIMEOUT") ? getenv("OPENBLAS_THREAD_TIMEOUT") : "unset", openblas_get_config());
    printf("- own kernels: AVX512-VNNI %s, AVX-VNNI %s; repeats %d, >= %.0f ms per timing, variants alternate within a repeat\n\n",
           has512 ? "yes" : "no", hasavxvnni ? "yes" : "no", repeats, g_min_s * 1e3);
    fflush(stdout);

    int shape_on[NSHAPES];
    for (int s = 0; s < NSHAPES; s++) {
        shape_on[s] = (strstr(models, "minilm") && shapes[s].model[0] == 'M') || (strstr(models, "roberta") && shapes[s].model[0] == 'R');
        if (shape_list) { /* e.g. "800x384x1536,128x768x768" (M x K x N) */
            char key[48];
            snprintf(key, sizeof key, "%dx%dx%d", shapes[s].M, shapes[s].K, shapes[s].N);
            const char *h = strstr(shape_list, key);
            size_t kl = strlen(key);
            shape_on[s] = h && (h == shape_list || h[-1] == ',') && (h[kl] == 0 || h[kl] == ',');
        }
    }

    for (int s = 0; s < NSHAPES; s++) {
        if (!shape_on[s]) continue;
        const int M = shapes[s].M, K = shapes[s].K, N = shapes[s].N;
        /* data */
        float *Xf = amalloc((size_t)M * K * 4), *Wf = amalloc((size_t)N * K * 4), *Yf = amalloc((size_t)M * N * 4);
        int8_t *Xs8 = amalloc((size_t)M * K), *W = amalloc((size_t)N * K), *Q = amalloc((size_t)M * K);
        uint8_t *Xu8 = amalloc((size_t)M * K), *Xu7 = amalloc((size_t)M * K), *Xsh = amalloc((size_t)M * K);
        int16_t *A16 = amalloc((size_t)M * K * 2);
        int32_t *ref = amalloc((size_t)M * N * 4), *Y = amalloc((size_t)M * N * 4);
        float *rs = amalloc((size_t)M * 4), *cs = amalloc((size_t)N * 4), *bias = amalloc((size_t)N * 4), *Yo = amalloc((size_t)M * N * 4);
        for (size_t i = 0; i < (size_t)M * K; i++) {
            Xf[i] = ((int)(rnd() % 20001) - 10000) * 1e-4f;
            Xs8[i] = (int8_t)((int)(rnd() % 255) - 127);
            Xu8[i] = (uint8_t)(rnd() & 255);
            Xu7[i] = Xu8[i] & 127;
            Xsh[i] = (uint8_t)(Xs8[i] ^ 0x80); /* s8 + 128 */
        }
        /* W depends on (K, N) only: the runtime-M primitives, reordered once per (K, N), serve every M */
        uint64_t saved_rng = rng_state;
        rng_state = 0x2545F4914F6CDD1Dull ^ ((uint64_t)K << 32 | (uint64_t)N);
        for (size_t i = 0; i < (size_t)N * K; i++) { W[i] = (int8_t)((int)(rnd() % 255) - 127); Wf[i] = W[i] * 0.01f; }
        rng_state = saved_rng;
        for (int n = 0; n < N; n++) { cs[n] = 1e-3f * (1 + n % 7); bias[n] = 0.01f * (n % 5); }
        for (int m = 0; m < M; m++) rs[m] = 1e-2f;

        /* packed weights (excluded from timing) */
        int8_t *P512 = has512 ? pack_k4(N, K, NR512, W) : NULL, *P256 = pack_k4(N, K, NR256, W);
        int32_t *comp512 = compensation(N, K, NR512, W), *comp256 = compensation(N, K, NR256, W);
        int16_t *P16 = pack_k2_i16(N, K, NR256, W);

        /* oneDNN primitives */
        dmm_t fix[2];
        dmm_t *rt[2] = {NULL, NULL};
        dcall_t call_rt[2], call_fix[2];
        int32_t *Yd = amalloc((size_t)M * N * 4);
        if (want_dnnl) {
            if (!rt_prim(K, N, 0)) {
                int i = n_rt++;
                rt_keys[i][0] = K; rt_keys[i][1] = N;
                for (int u = 0; u < 2; u++) {
                    if (dmm_init(&rt_prims[i][u], 0, K, N, u ? dnnl_u8 : dnnl_s8, W) == 0)
                        fprintf(stderr, "oneDNN %s runtime-M K=%d N=%d: %s, create %.2f ms (again %.3f ms), weight reorder %.2f ms\n", u ? "u8" : "s8", K, N,
                                rt_prims[i][u].impl, rt_prims[i][u].create_ms, rt_prims[i][u].recreate_ms, rt_prims[i][u].reorder_ms);
                }
            }
            for (int u = 0; u < 2; u++) {
                rt[u] = rt_prim(K, N, u);
                if (rt[u]->ok && dcall_init(&call_rt[u], rt[u], M, u ? (void *)Xu8 : (void *)Xs8, Yd) != 0) rt[u]->ok = 0;
                if (dmm_init(&fix[u], M, K, N, u ? dnnl_u8 : dnnl_s8, W) == 0) {
                    fprintf(stderr, "oneDNN %s fixed M=%d K=%d N=%d: %s, create %.2f ms (again %.3f ms), weight reorder %.2f ms, weights layout %s\n",
                            u ? "u8" : "s8", M, K, N, fix[u].impl, fix[u].create_ms, fix[u].recreate_ms, fix[u].reorder_ms,
                            same_as_first_fixed(&fix[u], u) ? "as for the first M of this K, N" : "DIFFERS from the first M of this K, N");
                    if (dcall_init(&call_fix[u], &fix[u], M, u ? (void *)Xu8 : (void *)Xs8, Yd) != 0) fix[u].ok = 0;
                }
            }
        }

        ctx_t base = {.M = M, .N = N, .K = K, .Xf = Xf, .Wf = Wf, .Yf = Yf, .C = Y, .A8 = Xs8, .A16 = A16, .B16 = P16,
                      .Xq = Xf, .Q = Q, .rs = rs, .acc = ref, .cs = cs, .bias = bias, .Yo = Yo};
        ctx_t cx[NV];
        void (*fn[NV])(void *) = {0};
        void *arg[NV] = {0};
        for (int i = 0; i < NV; i++) cx[i] = base;
        if (want_sgemm) { fn[V_SGEMM] = run_sgemm; arg[V_SGEMM] = &cx[V_SGEMM]; }
        if (want_dnnl) {
            if (rt[0]->ok) { fn[V_DS8] = dcall_run; arg[V_DS8] = &call_rt[0]; }
            if (fix[0].ok) { fn[V_DS8F] = dcall_run; arg[V_DS8F] = &call_fix[0]; }
            if (rt[1]->ok) { fn[V_DU8] = dcall_run; arg[V_DU8] = &call_rt[1]; }
            if (fix[1].ok) { fn[V_DU8F] = dcall_run; arg[V_DU8F] = &call_fix[1]; }
        }
        if (want_own) {
            cx[V_MADDUBS].tile = tile_maddubs_any; cx[V_MADDUBS].MR = MR256; cx[V_MADDUBS].NR = NR256;
            cx[V_MADDUBS].A = Xu7; cx[V_MADDUBS].Bp = P256; cx[V_MADDUBS].comp = NULL;
            fn[V_MADDUBS] = run_own_u8; arg[V_MADDUBS] = &cx[V_MADDUBS];
            fn[V_I16] = run_own_i16; arg[V_I16] = &cx[V_I16];
            if (hasavxvnni) {
                cx[V_AVXVNNI].tile = tile_avxvnni_any; cx[V_AVXVNNI].MR = MR256; cx[V_AVXVNNI].NR = NR256;
                cx[V_AVXVNNI].A = Xsh; cx[V_AVXVNNI].Bp = P256; cx[V_AVXVNNI].comp = comp256; /* s8 activations as u8 + compensation */
                fn[V_AVXVNNI] = run_own_u8; arg[V_AVXVNNI] = &cx[V_AVXVNNI];
            }
            if (has512) {
                cx[V_VNNI512].tile = tile512_any; cx[V_VNNI512].MR = MR512; cx[V_VNNI512].NR = NR512;
                cx[V_VNNI512].A = Xsh; cx[V_VNNI512].Bp = P512; cx[V_VNNI512].comp = comp512;
                fn[V_VNNI512] = run_own_u8; arg[V_VNNI512] = &cx[V_VNNI512];
            }
        }
        if (want_quant) { fn[V_QUANT] = run_quant; arg[V_QUANT] = &cx[V_QUANT]; fn[V_EPI] = run_epi; arg[V_EPI] = &cx[V_EPI]; }

        /* exact checks, at every thread count used */
        int32_t *ref_s = amalloc((size_t)M * N * 4), *ref_u = amalloc((size_t)M * N * 4), *ref_7 = amalloc((size_t)M * N * 4);
        omp_set_num_threads(2);
        ref_s8(M, N, K, Xs8, W, ref_s);
        ref_u8(M, N, K, Xu8, W, ref_u);
        ref_u8(M, N, K, Xu7, W, ref_7);
        memcpy(ref, ref_s, (size_t)M * N * 4);
        const size_t MN = (size_t)M * N;
        for (int ti = 0; ti < nthr; ti++) {
            const int nt = threads[ti];
            omp_set_num_threads(nt);
            for (int i = 0; i < NV; i++) cx[i].nt = nt;
            long bad;
#define CHECK(label, expect, ...) do { memset(Y, 0x55, MN * 4); memset(Yd, 0x55, MN * 4); __VA_ARGS__; \
                const int32_t *got = (label)[0] == 'o' && (label)[1] == 'n' ? Yd : Y; \
                bad = mismatches(MN, got, expect); \
                if (bad) fprintf(stderr, "MISMATCH %s M=%d K=%d N=%d threads=%d: %ld of %zu\n", label, M, K, N, nt, bad, MN); } while (0)
            if (fn[V_DS8]) CHECK("oneDNN s8 rt-M", ref_s, dcall_run(&call_rt[0]));
            if (fn[V_DS8F]) CHECK("oneDNN s8 fixed-M", ref_s, dcall_run(&call_fix[0]));
            if (fn[V_DU8]) CHECK("oneDNN u8 rt-M", ref_u, dcall_run(&call_rt[1]));
            if (fn[V_DU8F]) CHECK("oneDNN u8 fixed-M", ref_u, dcall_run(&call_fix[1]));
            if (fn[V_MADDUBS]) {
                CHECK("own maddubs (u8 in 0..127)", ref_7, run_own_u8(&cx[V_MADDUBS]));
                /* the same kernel on full-range u8: vpmaddubsw saturates, so this is expected to differ */
                ctx_t full = cx[V_MADDUBS]; full.A = Xu8;
                memset(Y, 0x55, MN * 4); run_own_u8(&full);
                long sat = mismatches(MN, Y, ref_u);
                if (ti == 0) fprintf(stderr, "own maddubs on full-range u8 (0..255), M=%d K=%d N=%d: %ld of %zu results differ (int16 saturation)\n", M, K, N, sat, MN);
            }
            if (fn[V_I16]) CHECK("own AVX2 int16 s8", ref_s, run_own_i16(&cx[V_I16]));
            if (fn[V_AVXVNNI]) {
                CHECK("own AVX-VNNI (s8+128, compensated)", ref_s, run_own_u8(&cx[V_AVXVNNI]));
                ctx_t raw = cx[V_AVXVNNI]; raw.A = Xu8; raw.comp = NULL;
                CHECK("own AVX-VNNI (u8 0..255)", ref_u, run_own_u8(&raw));
            }
            if (fn[V_VNNI512]) {
                CHECK("own AVX512-VNNI (s8+128, compensated)", ref_s, run_own_u8(&cx[V_VNNI512]));
                ctx_t raw = cx[V_VNNI512]; raw.A = Xu8; raw.comp = NULL;
                CHECK("own AVX512-VNNI (u8 0..255)", ref_u, run_own_u8(&raw));
            }
#undef CHECK
        }
        fprintf(stderr, "checked M=%d K=%d N=%d\n", M, K, N);

        /* timing: for each thread count, repeats x (every variant in turn) */
        for (int ti = 0; ti < nthr; ti++) {
            const int nt = threads[ti];
            omp_set_num_threads(nt);
            openblas_set_num_threads(nt);
            for (int i = 0; i < NV; i++) cx[i].nt = nt;
            /* a block measured while other processes used more than 5 % of the machine is measured again
             * (after a pause), up to --retries times; the least disturbed attempt is kept */
            for (int attempt = 0; attempt <= retries; attempt++) {
                double t[NV][64];
                unsigned long long b0, t0, s0, b1, t1, s1;
                if (attempt) sleep(3);
                cpu_sample(&b0, &t0, &s0);
                for (int r = 0; r < repeats && r < 64; r++)
                    for (int i = 0; i < NV; i++)
                        if (fn[i]) t[i][r] = time_call(fn[i], arg[i]);
                cpu_sample(&b1, &t1, &s1);
                double other = t1 > t0 ? 100.0 * ((double)(b1 - b0) - (double)(s1 - s0)) / (double)(t1 - t0) : 0;
                if (other < 0) other = 0;
                fprintf(stderr, "timed M=%d K=%d N=%d threads=%d attempt %d: other processes used %.0f%% of the machine\n", M, K, N, nt, attempt + 1, other);
                if (attempt > 0 && other >= other_load[s][ti]) { if (other <= 5) break; continue; }
                other_load[s][ti] = other;
                for (int i = 0; i < NV; i++) {
                    if (!fn[i]) continue;
                    int n = repeats < 64 ? repeats : 64;
                    qsort(t[i], n, sizeof(double), cmp_d);
                    res_t *o = &results[s][ti][i];
                    o->have = 1; o->med = t[i][n / 2]; o->lo = t[i][0]; o->hi = t[i][n - 1];
                    if (n % 2 == 0) o->med = 0.5 * (t[i][n / 2 - 1] + t[i][n / 2]);
                }
                if (other <= 5) break;
            }
            
        }

        if (want_dnnl) for (int u = 0; u < 2; u++) {
            if (rt[u]->ok) { dnnl_memory_destroy(call_rt[u].src); dnnl_memory_destroy(call_rt[u].dst); }
            if (fix[u].ok) { dnnl_memory_destroy(call_fix[u].src); dnnl_memory_destroy(call_fix[u].dst);
                             dnnl_primitive_destroy(fix[u].prim); dnnl_primitive_desc_destroy(fix[u].pd); dnnl_memory_destroy(fix[u].wei); }
        }
        free(Xf); free(Wf); free(Yf); free(Xs8); free(W); free(Q); free(Xu8); free(Xu7); free(Xsh); free(A16); free(ref); free(Y);
        free(rs); free(cs); free(bias); free(Yo); free(P512); free(P256); free(comp512); free(comp256); free(P16); free(Yd);
        free(ref_s); free(ref_u); free(ref_7);
    }

    /* tables */
    for (int pass = 0; pass < 2; pass++) {
        printf(pass == 0 ? "## GOP/s (2*M*N*K / median time; quantise and epilogue in microseconds)\n\n"
                         : "\n## Microseconds per call (median; ~ marks a spread (max-min)/median over 10%%; other load: CPU the rest of the machine used during the row, ! over 5%%: rerun)\n\n");
        printf("| shape M x K -> N | thr |");
        for (int i = 0; i < NV; i++) printf(" %s |", vshort[i]);
        printf(" other load |\n|---|---:|");
        for (int i = 0; i < NV; i++) printf("---:|");
        printf("---:|");
        printf("\n");
        for (int s = 0; s < NSHAPES; s++) {
            if (!shape_on[s]) continue;
            for (int ti = 0; ti < nthr; ti++) {
                printf("| %s %d x %d -> %d | %d |", shapes[s].model, shapes[s].M, shapes[s].K, shapes[s].N, threads[ti]);
                double ops = 2.0 * shapes[s].M * shapes[s].N * shapes[s].K;
                for (int i = 0; i < NV; i++) {
                    res_t *o = &results[s][ti][i];
                    if (!o->have) { printf(" n/a |"); continue; }
                    int noisy = (o->hi - o->lo) / o->med > 0.10;
                    if (pass == 0 && i < V_QUANT) printf(" %.0f |", ops / o->med / 1e9);
                    else printf(" %.1f%s |", o->med * 1e6, noisy ? "~" : "");
                }
                printf(" %.0f%%%s |", other_load[s][ti], other_load[s][ti] > 5 ? " !" : "");
                printf("\n");
            }
        }
    }
    printf("\nVariants: ");
    for (int i = 0; i < NV; i++) printf("%s = %s%s", vshort[i], vname[i], i + 1 < NV ? "; " : ".\n");
    return 0;
}
