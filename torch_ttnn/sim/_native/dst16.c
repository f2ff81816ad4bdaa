/* The matrix unit's 16-bit Dst accumulation, as one blocked loop nest.
 *
 * For every output element and every K = 16 step c (in order), and every fidelity pass p of that step (in
 * order), Dst becomes round16(Dst + sum_k a_p[m, 16c + k] * b_p[16c + k, n]): the sixteen products are summed
 * in fp32 (k ascending, fused multiply-add from zero) and the sum is added into Dst, which is then rounded to
 * bf16 as the FPU writes a 16-bit Dst (torch_ttnn/sim/numerics.py, round_dst_).
 *
 * a_p is a bit slice of the activations a, cut here as each value is loaded (numerics.Slices): HI = a & hi_mask,
 * FULL = a & full_mask, LO = FULL - HI (0 where HI is not finite). The weight slices b_p arrive padded (K a
 * multiple of 16 and N of NR, zeros beyond the logical size), either cut (float32, one array a pass) or as one
 * array of the weights' bfloat16 source register (their bit patterns, a quarter of two cut float32 slices'
 * memory), which the kernel cuts the same way, with the weights' masks, as it reads each row of NR values. Activations are addressed through row and K
 * offset tables (below), any M and K. d is [batch][M][N padded], fully written (Dst starts at zero).
 *
 * The pure-torch path of numerics._bf16_dst_matmul computes the same bits (tests/sim/test_native.py). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifndef MR
#define MR 12
#endif
#ifndef NR
#define NR 32
#endif
#define KSTEP 16

enum { SLICE_HI = 0, SLICE_FULL = 1, SLICE_LO = 2 };

static inline float with_mask(float x, uint32_t mask)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u &= mask;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline float round16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0x9000u) & 0xFFFF0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline float cut(float x, int kind, uint32_t hi_mask, uint32_t full_mask)
{
    float hi = with_mask(x, hi_mask);
    if (kind == SLICE_HI)
        return hi;
    float full = with_mask(x, full_mask);
    if (kind == SLICE_FULL)
        return full;
    return isfinite(hi) ? full - hi : 0.0f;
}

static inline void cut_run(float *dst, const float *src, int kind, uint32_t hi_mask, uint32_t full_mask)
{
    uint32_t u[KSTEP], h[KSTEP], f[KSTEP];
    memcpy(u, src, sizeof u);
    for (int k = 0; k < KSTEP; k++) {
        h[k] = u[k] & hi_mask;
        f[k] = u[k] & full_mask;
    }
    if (kind == SLICE_HI) {
        memcpy(dst, h, sizeof h);
    } else if (kind == SLICE_FULL) {
        memcpy(dst, f, sizeof f);
    } else {
        float hv[KSTEP], fv[KSTEP];
        memcpy(hv, h, sizeof h);
        memcpy(fv, f, sizeof f);
        for (int k = 0; k < KSTEP; k++)   /* the exponent field all ones: inf or NaN, whose low slice is 0 */
            dst[k] = (h[k] & 0x7F800000u) == 0x7F800000u ? 0.0f : fv[k] - hv[k];
    }
}

/* NR weights of one K row, cut from their bfloat16 bit patterns: the slice `kind` of each (as cut_run). */
static inline void cut_row16(float *dst, const uint16_t *src, int kind, uint32_t hi_mask, uint32_t full_mask)
{
    for (int j = 0; j < NR; j++) {
        const uint32_t u = (uint32_t)src[j] << 16, h = u & hi_mask, f = u & full_mask;
        float hv, fv;
        memcpy(&hv, &h, sizeof hv);
        memcpy(&fv, &f, sizeof fv);
        dst[j] = kind == SLICE_HI ? hv : kind == SLICE_FULL ? fv : (h & 0x7F800000u) == 0x7F800000u ? 0.0f : fv - hv;
    }
}

/* How bfloat16 weights are cut (tile_rows with w16 = 1): pass p reads slice kind[p], cut with the two masks. */
struct weights {
    const int *kind;
    uint32_t hi_mask, full_mask;
};

/* One nr x NR block of Dst (nr <= MR). rows[i]: the activations of output row i, element k at rows[i][koff[k]].
 * Inlined into tile_full with nr = MR (the loops unrolled for whole tiles) and into tile_part for the last rows of
 * a product, which it computes alone (a one-row product does one row's work, not MR rows'). */
static inline __attribute__((always_inline)) void tile_rows(
    const int nr, const int w16, int npass, const int *kind, uint32_t hi_mask, uint32_t full_mask,
    const float *const *rows, const int64_t *koff, const struct weights *wt, const void *const *b, int64_t K,
    int64_t ldb, float *d, int64_t ldd)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k0 = 0; k0 < K; k0 += KSTEP) {
        const int64_t kk = K - k0 < KSTEP ? K - k0 : KSTEP;
        for (int p = 0; p < npass; p++) {
            float av[MR][KSTEP];
            if (kk == KSTEP && koff[k0 + KSTEP - 1] - koff[k0] == KSTEP - 1) {
                /* sixteen consecutive values per row: the cut vectorises */
                for (int i = 0; i < nr; i++)
                    cut_run(av[i], rows[i] + koff[k0], kind[p], hi_mask, full_mask);
            } else {
                for (int i = 0; i < nr; i++)
                    for (int64_t k = 0; k < kk; k++)
                        av[i][k] = cut(rows[i][koff[k0 + k]], kind[p], hi_mask, full_mask);
            }
            float s[MR][NR];
            memset(s, 0, sizeof s);
            for (int64_t k = 0; k < kk; k++) {
                float cutb[NR];
                const float *bk;
                if (w16) {
                    cut_row16(cutb, (const uint16_t *)b[p] + (k0 + k) * ldb, wt->kind[p], wt->hi_mask,
                              wt->full_mask);
                    bk = cutb;
                } else {
                    bk = (const float *)b[p] + (k0 + k) * ldb;
                }
                for (int i = 0; i < nr; i++) {
                    const float a = av[i][k];
                    for (int j = 0; j < NR; j++)
                        s[i][j] = __builtin_fmaf(a, bk[j], s[i][j]);
                }
            }
            for (int i = 0; i < nr; i++)
                for (int j = 0; j < NR; j++)
                    acc[i][j] = round16(acc[i][j] + s[i][j]);
        }
    }
    for (int i = 0; i < nr; i++)
        memcpy(d + i * ldd, acc[i], sizeof acc[i]);
}

/* The copies the compiler specialises: whole tiles of MR rows or the last rows alone, float32 or bfloat16
 * weights (each a constant inside its copy, so the unrolled loops keep no branch). */
#define TILE(name, NROWS, W16)                                                                                    \
    static void name(int nr, int npass, const int *kind, uint32_t hi_mask, uint32_t full_mask,                  \
                     const float *const *rows, const int64_t *koff, const struct weights *wt,                    \
                     const void *const *b, int64_t K, int64_t ldb, float *d, int64_t ldd)                        \
    {                                                                                                             \
        (void)nr;                                                                                                 \
        tile_rows(NROWS, W16, npass, kind, hi_mask, full_mask, rows, koff, wt, b, K, ldb, d, ldd);                \
    }
TILE(tile_full, MR, 0)
TILE(tile_part, nr, 0)
TILE(tile_full16, MR, 1)
TILE(tile_part16, nr, 1)

/* Activation element (t, m, k) is a[t * sa + roff[m] + koff[k]]: a plain matrix has roff[m] = m * lda and
 * koff[k] = k; a convolution reads its windows straight from the padded NHWC input (no im2col copy).
 * The blocks run on the OpenMP threads; built with -fopenmp and loaded into a process that has torch, the
 * runtime is torch's own libgomp (same soname), so the kernel and torch's ops share one thread pool. */
void tt_dst16_matmul(int npass, const int *kind, uint32_t hi_mask, uint32_t full_mask, const float *a,
                     const int64_t *roff, const int64_t *koff, const void *const *b, int64_t batch, int64_t M,
                     int64_t K, int64_t N, float *d, int64_t ldb, int64_t ldd, int64_t sa, int64_t sb, int64_t sd,
                     int w16, const int *wkind, uint32_t whi_mask, uint32_t wfull_mask)
{
    if (npass > 8 || M <= 0 || N <= 0 || batch <= 0)
        return;
    const struct weights wt = {wkind, whi_mask, wfull_mask};
    const int64_t esize = w16 ? 2 : 4;
    const int64_t mtiles = (M + MR - 1) / MR, nblocks = N / NR;
#pragma omp parallel for collapse(3) schedule(static)
    for (int64_t t = 0; t < batch; t++) {
        for (int64_t nb = 0; nb < nblocks; nb++) {
            for (int64_t mt = 0; mt < mtiles; mt++) {
                const void *bb[8];
                const float *rows[MR];
                const int64_t m0 = mt * MR, n0 = nb * NR;
                const int64_t valid = M - m0 < MR ? M - m0 : MR;
                for (int p = 0; p < npass; p++)
                    bb[p] = (const char *)b[p] + (t * sb + n0) * esize;
                for (int i = 0; i < valid; i++)
                    rows[i] = a + t * sa + roff[m0 + i];
                float *dt = d + t * sd + m0 * ldd + n0;
                if (valid == MR)
                    (w16 ? tile_full16 : tile_full)(MR, npass, kind, hi_mask, full_mask, rows, koff, &wt, bb, K, ldb,
                                                    dt, ldd);
                else
                    (w16 ? tile_part16 : tile_part)((int)valid, npass, kind, hi_mask, full_mask, rows, koff, &wt, bb,
                                                    K, ldb, dt, ldd);
            }
        }
    }
}

/* A grouped convolution with few output channels a group, lane by lane: lane c of output pixel m takes the
 * same steps as tt_dst16_matmul on its group's windows (K in order, 16 a step; per pass the products of a
 * step summed in fp32 from zero, then added into Dst and rounded), for a run of lanes at once instead of one
 * group at a time with its few output columns padded to NR. Element k of lane c's window is
 * x[roff[m] + koff[k] + c % period] (the caller lays the activations out so; `period` is C, or a multiple of
 * the 16 lanes of a block when lanes c and c + period read the same values); w[p] is pass p's weight slice
 * [K][C]; d is [M][C]. A depthwise convolution is the plain case: lane = channel, the activations as they
 * are. */
#define CB 16          /* lanes a block: one 512-bit register */
#define RB 8           /* output pixels a block: each weight vector loaded once for them */
#if defined(__AVX512F__)
#include <immintrin.h>
/* The RB x 16 lanes of one K element: s[r] += cut(x[row[r] + off + 0..15]) * w[0..15], in registers. */
static inline __attribute__((always_inline)) void lanes_step(__m512 *s, const float *const *row, int64_t off,
                                                              const float *wk, int kind, uint32_t hi_mask,
                                                              uint32_t full_mask)
{
    const __m512 wv = _mm512_loadu_ps(wk);
    const __m512i hm = _mm512_set1_epi32((int)hi_mask), fm = _mm512_set1_epi32((int)full_mask);
    const __m512i ex = _mm512_set1_epi32(0x7F800000);
    for (int r = 0; r < RB; r++) {
        const __m512i u = _mm512_loadu_si512((const void *)(row[r] + off));
        const __m512i h = _mm512_and_si512(u, hm);
        __m512 a;
        if (kind == SLICE_HI) {
            a = _mm512_castsi512_ps(h);
        } else {
            const __m512 f = _mm512_castsi512_ps(_mm512_and_si512(u, fm));
            if (kind == SLICE_FULL) {
                a = f;
            } else {     /* the exponent field all ones: inf or NaN, whose low slice is 0 */
                const __mmask16 special = _mm512_cmpeq_epi32_mask(_mm512_and_si512(h, ex), ex);
                a = _mm512_maskz_sub_ps((__mmask16)~special, f, _mm512_castsi512_ps(h));
            }
        }
        s[r] = _mm512_fmadd_ps(a, wv, s[r]);
    }
}
#endif

void tt_dst16_depthwise(int npass, const int *kind, uint32_t hi_mask, uint32_t full_mask, const float *x,
                        const int64_t *roff, const int64_t *koff, const float *const *w, int64_t M, int64_t K,
                        int64_t C, int64_t period, float *d)
{
    if (npass > 8 || M <= 0 || C <= 0 || period <= 0 || (period != C && period % CB))
        return;
    const int64_t cblocks = (C + CB - 1) / CB, mblocks = (M + RB - 1) / RB;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t mb = 0; mb < mblocks; mb++) {
        for (int64_t cb = 0; cb < cblocks; cb++) {
            const int64_t c0 = cb * CB, n = C - c0 < CB ? C - c0 : CB;
            const int64_t m0 = mb * RB, rows = M - m0 < RB ? M - m0 : RB;
            const float *row[RB];
            for (int r = 0; r < RB; r++)       /* tail rows repeat a valid row; only valid rows are stored */
                row[r] = x + roff[m0 + (r < rows ? r : rows - 1)] + c0 % period;
            float acc[RB][CB];
            memset(acc, 0, sizeof acc);
#if defined(__AVX512F__)
            if (n == CB) {       /* a full block of lanes: sums and Dst in registers */
                __m512 dst[RB];
                for (int r = 0; r < RB; r++)
                    dst[r] = _mm512_setzero_ps();
                for (int64_t k0 = 0; k0 < K; k0 += KSTEP) {
                    const int64_t kk = K - k0 < KSTEP ? K - k0 : KSTEP;
                    for (int p = 0; p < npass; p++) {
                        __m512 s[RB];
                        for (int r = 0; r < RB; r++)
                            s[r] = _mm512_setzero_ps();
                        const int kd = kind[p];
                        for (int64_t k = k0; k < k0 + kk; k++) {
                            const float *wk = w[p] + k * C + c0;
                            if (kd == SLICE_HI)        /* the slice kind a constant in each copy */
                                lanes_step(s, row, koff[k], wk, SLICE_HI, hi_mask, full_mask);
                            else if (kd == SLICE_FULL)
                                lanes_step(s, row, koff[k], wk, SLICE_FULL, hi_mask, full_mask);
                            else
                                lanes_step(s, row, koff[k], wk, SLICE_LO, hi_mask, full_mask);
                        }
                        for (int r = 0; r < RB; r++) {     /* round16: (b + 0x9000) & 0xFFFF0000 */
                            const __m512i b = _mm512_castps_si512(_mm512_add_ps(dst[r], s[r]));
                            dst[r] = _mm512_castsi512_ps(_mm512_and_si512(
                                _mm512_add_epi32(b, _mm512_set1_epi32(0x9000)), _mm512_set1_epi32((int)0xFFFF0000u)));
                        }
                    }
                }
                for (int r = 0; r < RB; r++)
                    _mm512_storeu_ps(acc[r], dst[r]);
            } else
#endif
            for (int64_t k0 = 0; k0 < K; k0 += KSTEP) {
                const int64_t kk = K - k0 < KSTEP ? K - k0 : KSTEP;
                for (int p = 0; p < npass; p++) {
                    float s[RB][CB];
                    memset(s, 0, sizeof s);
                    for (int64_t k = k0; k < k0 + kk; k++) {
                        const float *wk = w[p] + k * C + c0;
                        for (int r = 0; r < RB; r++)
                            for (int64_t j = 0; j < n; j++)
                                s[r][j] = __builtin_fmaf(cut(row[r][koff[k] + j], kind[p], hi_mask, full_mask),
                                                         wk[j], s[r][j]);
                    }
                    for (int r = 0; r < RB; r++)
                        for (int j = 0; j < CB; j++)
                            acc[r][j] = round16(acc[r][j] + s[r][j]);
                }
            }
            for (int64_t r = 0; r < rows; r++)
                memcpy(d + (m0 + r) * C + c0, acc[r], n * sizeof(float));
        }
    }
}

/* A reduction's 16-bit Dst accumulation: `steps` partial sums per row, added one after the other into a
 * Dst that rounds after every add (TF32 then bf16, ties away: (bits + 0x9000) & 0xFFFF0000, as
 * numerics.round_dst_). part is [steps][rows] (step-major, so the loop over rows vectorises); out[rows]. */
void tt_dst16_accumulate(const float *part, int64_t steps, int64_t rows, float *out)
{
    for (int64_t r = 0; r < rows; r++)
        out[r] = 0.0f;
    for (int64_t s = 0; s < steps; s++) {
        const float *p = part + s * rows;
        for (int64_t r = 0; r < rows; r++) {
            float v = out[r] + p[r];
            uint32_t b;
            memcpy(&b, &v, 4);
            b = (b + 0x9000u) & 0xFFFF0000u;
            memcpy(&out[r], &b, 4);
        }
    }
}
