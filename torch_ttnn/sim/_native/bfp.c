/* Block-float quantization (bfloat8_b / bfloat4_b) of float32 values, blocks of 16 consecutive values.
 *
 * The integer algorithm of torch_ttnn/sim/formats.py `_quantize_blocks` (rules B1-B5 of FACTS.md), one block at
 * a time: zeros and denormals flush, the block's largest exponent is shared, each magnitude (hidden one
 * included) is shifted to `k` bits and rounded (to nearest even, or ties away from zero for the packer),
 * saturating at 2^k - 1 without bumping the exponent; a zero magnitude has no sign. With `packer`, each value
 * is first stored to bfloat16 as the packer does (formats.round_bf16_packer: nearest, ties away from zero;
 * zeros and denormals -> +0; NaN -> +Inf), the path of a device op writing a block-float output. Same bits as
 * the torch code, which stays the fallback (tests/sim/test_native.py). */
#include <stdint.h>

static inline uint32_t packer_bf16(uint32_t v)
{
    uint32_t e = (v >> 23) & 0xFFu;
    if (e == 0xFFu && (v & 0x7FFFFFu))
        return 0x7F800000u;                      /* NaN -> +Inf */
    if (e == 0)
        return 0;                                /* zeros and denormals -> +0 */
    return (v + 0x8000u) & 0xFFFF0000u;          /* nearest, ties away; a carry into exponent 255 gives inf */
}

/* One block of 16: b -> o (rules B1-B5). */
static inline void quantize_block(const uint32_t *b, uint32_t *o, int k, int ties_away)
{
    int32_t exp[16], shared = 0;
    uint32_t sig[16];
    for (int j = 0; j < 16; j++) {
        exp[j] = (int32_t)((b[j] >> 23) & 0xFF);
        sig[j] = exp[j] ? ((b[j] & 0x7FFFFFu) | 0x800000u) : 0u;      /* B1 */
        if (exp[j] > shared)                                          /* B2 */
            shared = exp[j];
    }
    for (int j = 0; j < 16; j++) {
        int32_t shift = (24 - k) + (shared - exp[j]);
        if (shift > 31)
            shift = 31;
        uint32_t q = sig[j] >> shift;
        uint32_t below = (sig[j] >> (shift - 1)) & 1u;
        uint32_t up;
        if (ties_away) {
            up = below;
        } else {                                                      /* B3: ties to even */
            uint32_t rest = sig[j] & ((1u << (shift - 1)) - 1u);
            up = below & ((rest != 0) | (q & 1u));
        }
        uint32_t mag = q + up;
        if (mag > (1u << k) - 1u)
            mag = (1u << k) - 1u;
        if (mag == 0) {                                               /* B4 */
            o[j] = 0;
            continue;
        }
        float f = (float)mag;
        uint32_t fb;
        __builtin_memcpy(&fb, &f, 4);
        o[j] = (fb + ((uint32_t)(shared - 127 - (k - 1)) << 23)) | (b[j] & 0x80000000u);   /* B5 */
    }
}

void tt_quantize_bfp(const uint32_t *in, uint32_t *out, int64_t blocks, int k, int ties_away, int packer)
{
#pragma omp parallel for schedule(static) if (blocks > 4096)
    for (int64_t t = 0; t < blocks; t++) {
        uint32_t b[16];
        for (int j = 0; j < 16; j++)
            b[j] = packer ? packer_bf16(in[16 * t + j]) : in[16 * t + j];
        quantize_block(b, out + 16 * t, k, ties_away);
    }
}

/* The end of a convolution on a 16-bit Dst, one pass over its [rows, cols] float32 output (rows = N*OH*OW,
 * cols = output channels): the bias added in fp32 (when given) and the sum rounded as the FPU writes a 16-bit
 * Dst (numerics.round_dst_: (b + 0x9000) & 0xFFFF0000, when round16), relu (negative -> +0, NaN kept), and the
 * packer's store: bfloat16 (nearest, ties away; zeros and denormals -> +0; NaN -> +Inf), or bfloat8_b blocks of
 * 16 along a row (cols a multiple of 16). The same steps, in the same order, as conv.py's torch path. */
void tt_conv_epilogue(const uint32_t *y, const uint32_t *bias, uint32_t *out, int64_t rows, int64_t cols,
                      int round16, int relu, int bfp8)
{
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
    for (int64_t r = 0; r < rows; r++) {
        const uint32_t *yr = y + r * cols;
        uint32_t *o = out + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            uint32_t b = yr[c];
            if (bias) {
                float v, bv;
                __builtin_memcpy(&v, &b, 4);
                __builtin_memcpy(&bv, &bias[c], 4);
                v = v + bv;
                __builtin_memcpy(&b, &v, 4);
                if (round16)
                    b = (b + 0x9000u) & 0xFFFF0000u;
            }
            if (relu) {
                float v;
                __builtin_memcpy(&v, &b, 4);
                if (v < 0.0f)
                    b = 0;
            }
            o[c] = packer_bf16(b);
        }
        if (bfp8)
            for (int64_t c = 0; c < cols; c += 16)
                quantize_block(o + c, o + c, 7, 1);
    }
}

/* A matrix-unit operand slice packed for the Dst kernel: dst[t][k][n] = src[t*sb + k*sk + n*sn] & mask for the
 * logical [batch][K][N] (any strides: a transposed weight reads column-wise), dst contiguous [batch][Kp][Np]
 * with its padding already zero. Copied in 32 x 32 blocks so that a transposing read stays in cache. */
void tt_pack_masked(const uint32_t *src, uint32_t *dst, int64_t batch, int64_t K, int64_t N, int64_t sb,
                    int64_t sk, int64_t sn, int64_t Kp, int64_t Np, uint32_t mask)
{
#pragma omp parallel for collapse(2) schedule(static) if (batch * K * N > (1 << 20))
    for (int64_t t = 0; t < batch; t++) {
        for (int64_t k0 = 0; k0 < K; k0 += 32) {
            const int64_t k1 = k0 + 32 < K ? k0 + 32 : K;
            for (int64_t n0 = 0; n0 < N; n0 += 32) {
                const int64_t n1 = n0 + 32 < N ? n0 + 32 : N;
                for (int64_t k = k0; k < k1; k++) {
                    const uint32_t *s = src + t * sb + k * sk;
                    uint32_t *d = dst + (t * Kp + k) * Np;
                    for (int64_t n = n0; n < n1; n++)
                        d[n] = s[n * sn] & mask;
                }
            }
        }
    }
}
