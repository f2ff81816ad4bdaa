/* The matrix unit's 16-bit Dst accumulation, as one blocked loop nest.
 *
 * For every output element and every K = 16 step c (in order), and every fidelity pass p of that step (in
 * order), Dst becomes round16(Dst + sum_k a_p[m, 16c + k] * b_p[16c + k, n]): the sixteen products are summed
 * in fp32 (k ascending, fused multiply-add from zero) and the sum is added into Dst, which is then rounded to
 * bf16 as the FPU writes a 16-bit Dst (torch_ttnn/sim/numerics.py, round_dst_).
 *
 * Operands arrive padded by the caller: M a multiple of MR, N a multiple of NR, K a multiple of 16, all
 * row-major with the given row strides; batches with their own strides (0 broadcasts). Dst starts at zero.
 * The pure-torch path of numerics._bf16_dst_matmul computes the same bits (tests/sim/test_native.py). */
#include <stdint.h>
#include <string.h>

#ifndef MR
#define MR 8
#endif
#ifndef NR
#define NR 32
#endif
#define KSTEP 16

static inline float round16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0x9000u) & 0xFFFF0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void tile(int npass, const float *const *a, const float *const *b, int64_t K, int64_t lda, int64_t ldb,
                 float *d, int64_t ldd)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k0 = 0; k0 < K; k0 += KSTEP) {
        for (int p = 0; p < npass; p++) {
            float s[MR][NR];
            memset(s, 0, sizeof s);
            const float *ap = a[p] + k0;
            const float *bp = b[p] + k0 * ldb;
            for (int k = 0; k < KSTEP; k++) {
                const float *bk = bp + k * ldb;
                for (int i = 0; i < MR; i++) {
                    const float av = ap[i * lda + k];
                    for (int j = 0; j < NR; j++)
                        s[i][j] = __builtin_fmaf(av, bk[j], s[i][j]);
                }
            }
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++)
                    acc[i][j] = round16(acc[i][j] + s[i][j]);
        }
    }
    for (int i = 0; i < MR; i++)
        memcpy(d + i * ldd, acc[i], sizeof acc[i]);
}

/* Rows [m_begin, m_end) of every batch; a call per thread covers disjoint rows. */
void tt_dst16_matmul(int npass, const float *const *a, const float *const *b, int64_t batch, int64_t M, int64_t K,
                     int64_t N, float *d, int64_t lda, int64_t ldb, int64_t ldd, int64_t sa, int64_t sb, int64_t sd,
                     int64_t m_begin, int64_t m_end)
{
    const float *ab[8], *bb[8];
    if (npass > 8)
        return;
    (void)M;
    for (int64_t t = 0; t < batch; t++) {
        for (int64_t n0 = 0; n0 < N; n0 += NR) {
            for (int p = 0; p < npass; p++)
                bb[p] = b[p] + t * sb + n0;
            for (int64_t m0 = m_begin; m0 < m_end; m0 += MR) {
                for (int p = 0; p < npass; p++)
                    ab[p] = a[p] + t * sa + m0 * lda;
                tile(npass, ab, bb, K, lda, ldb, d + t * sd + m0 * ldd + n0, ldd);
            }
        }
    }
}
