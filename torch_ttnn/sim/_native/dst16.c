/* The matrix unit's 16-bit Dst accumulation, as one blocked loop nest.
 *
 * For every output element and every K = 16 step c (in order), and every fidelity pass p of that step (in
 * order), Dst becomes round16(Dst + sum_k a_p[m, 16c + k] * b_p[16c + k, n]): the sixteen products are summed
 * in fp32 (k ascending, fused multiply-add from zero) and the sum is added into Dst, which is then rounded to
 * bf16 as the FPU writes a 16-bit Dst (torch_ttnn/sim/numerics.py, round_dst_).
 *
 * a_p is a bit slice of the activations a, cut here as each value is loaded (numerics.Slices): HI = a & hi_mask,
 * FULL = a & full_mask, LO = FULL - HI (0 where HI is not finite). The weight slices b_p arrive cut and padded:
 * K a multiple of 16 and N of NR, zeros beyond the logical size. Activations are addressed through row and K
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

/* One MR x NR block of Dst. rows[i]: the activations of output row i (tail rows repeat a valid row), element k
 * at rows[i][koff[k]]. */
static void tile(int npass, const int *kind, uint32_t hi_mask, uint32_t full_mask, const float *const *rows,
                 const int64_t *koff, const float *const *b, int64_t K, int64_t ldb, float *d, int64_t ldd, int64_t valid_rows)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k0 = 0; k0 < K; k0 += KSTEP) {
        const int64_t kk = K - k0 < KSTEP ? K - k0 : KSTEP;
        for (int p = 0; p < npass; p++) {
            float av[MR][KSTEP];
            if (kk == KSTEP && koff[k0 + KSTEP - 1] - koff[k0] == KSTEP - 1) {
                /* sixteen consecutive values per row: the cut vectorises */
                for (int i = 0; i < MR; i++)
                    cut_run(av[i], rows[i] + koff[k0], kind[p], hi_mask, full_mask);
            } else {
                for (int i = 0; i < MR; i++)
                    for (int64_t k = 0; k < kk; k++)
                        av[i][k] = cut(rows[i][koff[k0 + k]], kind[p], hi_mask, full_mask);
            }
            float s[MR][NR];
            memset(s, 0, sizeof s);
            const float *bp = b[p] + k0 * ldb;
            for (int64_t k = 0; k < kk; k++) {
                const float *bk = bp + k * ldb;
                for (int i = 0; i < MR; i++) {
                    const float a = av[i][k];
                    for (int j = 0; j < NR; j++)
                        s[i][j] = __builtin_fmaf(a, bk[j], s[i][j]);
                }
            }
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++)
                    acc[i][j] = round16(acc[i][j] + s[i][j]);
        }
    }
    for (int64_t i = 0; i < valid_rows; i++)
        memcpy(d + i * ldd, acc[i], sizeof acc[i]);
}

/* Activation element (t, m, k) is a[t * sa + roff[m] + koff[k]]: a plain matrix has roff[m] = m * lda and
 * koff[k] = k; a convolution reads its windows straight from the padded NHWC input (no im2col copy).
 * The blocks run on the OpenMP threads; built with -fopenmp and loaded into a process that has torch, the
 * runtime is torch's own libgomp (same soname), so the kernel and torch's ops share one thread pool. */
void tt_dst16_matmul(int npass, const int *kind, uint32_t hi_mask, uint32_t full_mask, const float *a,
                     const int64_t *roff, const int64_t *koff, const float *const *b, int64_t batch, int64_t M,
                     int64_t K, int64_t N, float *d, int64_t ldb, int64_t ldd, int64_t sa, int64_t sb, int64_t sd)
{
    if (npass > 8 || M <= 0 || N <= 0 || batch <= 0)
        return;
    const int64_t mtiles = (M + MR - 1) / MR, nblocks = N / NR;
#pragma omp parallel for collapse(3) schedule(static)
    for (int64_t t = 0; t < batch; t++) {
        for (int64_t nb = 0; nb < nblocks; nb++) {
            for (int64_t mt = 0; mt < mtiles; mt++) {
                const float *bb[8];
                const float *rows[MR];
                const int64_t m0 = mt * MR, n0 = nb * NR;
                const int64_t valid = M - m0 < MR ? M - m0 : MR;
                for (int p = 0; p < npass; p++)
                    bb[p] = b[p] + t * sb + n0;
                for (int i = 0; i < MR; i++)
                    rows[i] = a + t * sa + roff[m0 + (i < valid ? i : valid - 1)];
                tile(npass, kind, hi_mask, full_mask, rows, koff, bb, K, ldb, d + t * sd + m0 * ldd + n0, ldd,
                     valid);
            }
        }
    }
}

/* A depthwise convolution (one input and one output channel per group): for output pixel m and channel c,
 * the same steps as tt_dst16_matmul on group c's windows (K = the taps, in order, 16 a step; per pass the
 * products of a step summed in fp32 from zero, then added into Dst and rounded), computed for a run of
 * channels at once instead of one group at a time with its single output column padded to NR.
 * Tap k of output pixel m, channel c is x[roff[m] + koff[k] + c]; w[p] is pass p's weight slice [K][C];
 * d is [M][C]. */
#define CB 64
void tt_dst16_depthwise(int npass, const int *kind, uint32_t hi_mask, uint32_t full_mask, const float *x,
                        const int64_t *roff, const int64_t *koff, const float *const *w, int64_t M, int64_t K,
                        int64_t C, float *d)
{
    if (npass > 8 || M <= 0 || C <= 0)
        return;
    const int64_t cblocks = (C + CB - 1) / CB;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t m = 0; m < M; m++) {
        for (int64_t cb = 0; cb < cblocks; cb++) {
            const int64_t c0 = cb * CB, n = C - c0 < CB ? C - c0 : CB;
            const float *row = x + roff[m] + c0;
            float acc[CB];
            memset(acc, 0, sizeof acc);
            for (int64_t k0 = 0; k0 < K; k0 += KSTEP) {
                const int64_t kk = K - k0 < KSTEP ? K - k0 : KSTEP;
                for (int p = 0; p < npass; p++) {
                    float s[CB];
                    memset(s, 0, sizeof s);
                    for (int64_t k = k0; k < k0 + kk; k++) {
                        const float *xv = row + koff[k];
                        const float *wk = w[p] + k * C + c0;
                        for (int64_t j = 0; j < n; j++)
                            s[j] = __builtin_fmaf(cut(xv[j], kind[p], hi_mask, full_mask), wk[j], s[j]);
                    }
                    for (int64_t j = 0; j < n; j++)
                        acc[j] = round16(acc[j] + s[j]);
                }
            }
            memcpy(d + m * C + c0, acc, n * sizeof(float));
        }
    }
}
