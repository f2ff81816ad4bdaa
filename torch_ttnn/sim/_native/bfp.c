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
#include <string.h>

static inline uint32_t packer_bf16(uint32_t v)
{
    const uint32_t e = (v >> 23) & 0xFFu;
    uint32_t r = (v + 0x8000u) & 0xFFFF0000u;   /* nearest, ties away; a carry into exponent 255 gives inf */
    r = e == 0 ? 0u : r;                          /* zeros and denormals -> +0 */
    return (e == 0xFFu && (v & 0x7FFFFFu)) ? 0x7F800000u : r;     /* NaN -> +Inf */
}

/* One block of 16: b -> o (rules B1-B5). Written without branches so that the compiler vectorises both loops
 * (per-lane variable shifts). */
static inline void quantize_block(const uint32_t *b, uint32_t *o, int k, int ties_away)
{
    uint32_t shared = 0;
    for (int j = 0; j < 16; j++) {                                    /* B2 */
        const uint32_t e = (b[j] >> 23) & 0xFFu;
        shared = e > shared ? e : shared;
    }
    const uint32_t maxmag = (1u << k) - 1u, base = (uint32_t)((int32_t)shared - 127 - (k - 1)) << 23;
    for (int j = 0; j < 16; j++) {
        const uint32_t e = (b[j] >> 23) & 0xFFu;
        const uint32_t sig = e ? ((b[j] & 0x7FFFFFu) | 0x800000u) : 0u;            /* B1 */
        uint32_t shift = (uint32_t)(24 - k) + (shared - e);
        shift = shift > 31u ? 31u : shift;
        const uint32_t q = sig >> shift;
        const uint32_t below = (sig >> (shift - 1u)) & 1u;
        const uint32_t rest = sig & ((1u << (shift - 1u)) - 1u);
        const uint32_t up = ties_away ? below : (below & ((rest != 0u) | (q & 1u)));   /* B3 */
        uint32_t mag = q + up;
        mag = mag > maxmag ? maxmag : mag;
        const float f = (float)(int32_t)mag;
        uint32_t fb;
        __builtin_memcpy(&fb, &f, 4);
        const uint32_t r = (fb + base) | (b[j] & 0x80000000u);                      /* B5 */
        o[j] = mag ? r : 0u;                                                          /* B4 */
    }
}

#if defined(__AVX512F__)
#include <immintrin.h>
/* The same two functions on one block of 16 values in a 512-bit register: lane for lane the scalar steps
 * above, so the bits are the same (the scalar code is what machines without AVX-512 run). */
#define V1(x) _mm512_set1_epi32((int)(x))

static inline __m512i packer_bf16_v(__m512i v)
{
    const __m512i e = _mm512_and_si512(_mm512_srli_epi32(v, 23), V1(0xFF));
    __m512i r = _mm512_and_si512(_mm512_add_epi32(v, V1(0x8000)), V1(0xFFFF0000u));
    r = _mm512_mask_mov_epi32(r, _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()), _mm512_setzero_si512());
    const __mmask16 nan = _mm512_cmpeq_epi32_mask(e, V1(0xFF)) & _mm512_test_epi32_mask(v, V1(0x7FFFFF));
    return _mm512_mask_mov_epi32(r, nan, V1(0x7F800000u));
}

static inline __m512i quantize_block_v(__m512i b, int k, int ties_away)
{
    const __m512i e = _mm512_and_si512(_mm512_srli_epi32(b, 23), V1(0xFF));
    const uint32_t shared = _mm512_reduce_max_epu32(e);
    const __m512i sig = _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(e, e),
                                               _mm512_or_si512(_mm512_and_si512(b, V1(0x7FFFFF)), V1(0x800000)));
    const __m512i shift = _mm512_min_epu32(_mm512_add_epi32(V1(24 - k), _mm512_sub_epi32(V1(shared), e)), V1(31));
    const __m512i sm1 = _mm512_sub_epi32(shift, V1(1));
    const __m512i q = _mm512_srlv_epi32(sig, shift);
    const __m512i below = _mm512_and_si512(_mm512_srlv_epi32(sig, sm1), V1(1));
    __m512i up = below;
    if (!ties_away) {
        const __m512i rest = _mm512_and_si512(sig, _mm512_sub_epi32(_mm512_sllv_epi32(V1(1), sm1), V1(1)));
        const __m512i odd_or_rest = _mm512_mask_mov_epi32(_mm512_and_si512(q, V1(1)),
                                                          _mm512_test_epi32_mask(rest, rest), V1(1));
        up = _mm512_and_si512(below, odd_or_rest);
    }
    const __m512i mag = _mm512_min_epu32(_mm512_add_epi32(q, up), V1((1u << k) - 1u));
    const __m512i fb = _mm512_castps_si512(_mm512_cvtepi32_ps(mag));
    const __m512i base = V1((uint32_t)((int32_t)shared - 127 - (k - 1)) << 23);
    const __m512i r = _mm512_or_si512(_mm512_add_epi32(fb, base), _mm512_and_si512(b, V1(0x80000000u)));
    return _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(mag, mag), r);
}
#endif

void tt_quantize_bfp(const uint32_t *in, uint32_t *out, int64_t blocks, int k, int ties_away, int packer)
{
#pragma omp parallel for schedule(static) if (blocks > 4096)
    for (int64_t t = 0; t < blocks; t++) {
#if defined(__AVX512F__)
        __m512i v = _mm512_loadu_si512((const void *)(in + 16 * t));
        if (packer)
            v = packer_bf16_v(v);
        _mm512_storeu_si512((void *)(out + 16 * t), quantize_block_v(v, k, ties_away));
        continue;
#endif
        uint32_t b[16];
        for (int j = 0; j < 16; j++)
            b[j] = packer ? packer_bf16(in[16 * t + j]) : in[16 * t + j];
        quantize_block(b, out + 16 * t, k, ties_away);
    }
}

/* tt_quantize_bfp over the rows of a [rows, w] tensor whose width is not a multiple of 16: the last block of
 * a row is completed with `fill` (the tile padding's value, whose lanes share that block), as if the row were
 * padded first; only the w logical values are written (out is [rows, w]). */
void tt_quantize_bfp_rows(const uint32_t *in, uint32_t *out, int64_t rows, int64_t w, uint32_t fill, int k,
                          int ties_away, int packer)
{
    const int64_t full = w / 16, rest = w % 16;
#pragma omp parallel for schedule(static) if (rows * w > (1 << 16))
    for (int64_t r = 0; r < rows; r++) {
        const uint32_t *ir = in + r * w;
        uint32_t *o = out + r * w;
#if defined(__AVX512F__)
        for (int64_t t = 0; t < full; t++) {
            __m512i v = _mm512_loadu_si512((const void *)(ir + 16 * t));
            if (packer)
                v = packer_bf16_v(v);
            _mm512_storeu_si512((void *)(o + 16 * t), quantize_block_v(v, k, ties_away));
        }
        if (rest) {     /* the logical lanes loaded, the others hold the fill; only the logical lanes stored */
            const __mmask16 lanes = (__mmask16)((1u << rest) - 1u);
            __m512i v = _mm512_mask_loadu_epi32(V1(fill), lanes, (const void *)(ir + 16 * full));
            if (packer)
                v = packer_bf16_v(v);
            _mm512_mask_storeu_epi32((void *)(o + 16 * full), lanes, quantize_block_v(v, k, ties_away));
        }
        continue;
#endif
        for (int64_t t = 0; t < full; t++) {
            uint32_t b[16];
            for (int j = 0; j < 16; j++)
                b[j] = packer ? packer_bf16(ir[16 * t + j]) : ir[16 * t + j];
            quantize_block(b, o + 16 * t, k, ties_away);
        }
        if (rest) {
            uint32_t b[16], q[16];
            for (int j = 0; j < 16; j++) {
                const uint32_t v = j < rest ? ir[16 * full + j] : fill;
                b[j] = packer ? packer_bf16(v) : v;
            }
            quantize_block(b, q, k, ties_away);
            memcpy(o + 16 * full, q, (size_t)rest * 4);
        }
    }
}

/* The end of a convolution on a 16-bit Dst, one pass over its [rows, cols] float32 output (rows = N*OH*OW,
 * cols = output channels): the bias added in fp32 (when given) and the sum rounded as the FPU writes a 16-bit
 * Dst (numerics.round_dst_: (b + 0x9000) & 0xFFFF0000, when round16), relu (relu = 1: negative -> +0, NaN kept;
 * relu = 2, relu6: also above 6 -> 6), and the
 * packer's store: bfloat16 (nearest, ties away; zeros and denormals -> +0; NaN -> +Inf), or bfloat8_b blocks of
 * 16 along a row (cols a multiple of 16). The same steps, in the same order, as conv.py's torch path. */
void tt_conv_epilogue(const uint32_t *y, const uint32_t *bias, uint32_t *out, int64_t rows, int64_t cols,
                      int round16, int relu, int bfp8)
{
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
    for (int64_t r = 0; r < rows; r++) {
        const uint32_t *yr = y + r * cols;
        uint32_t *o = out + r * cols;
        int64_t c = 0;
#if defined(__AVX512F__)
        for (; c + 16 <= cols; c += 16) {
            __m512 v = _mm512_castsi512_ps(_mm512_loadu_si512((const void *)(yr + c)));
            if (bias) {
                v = _mm512_add_ps(v, _mm512_castsi512_ps(_mm512_loadu_si512((const void *)(bias + c))));
                if (round16)
                    v = _mm512_castsi512_ps(_mm512_and_si512(_mm512_add_epi32(_mm512_castps_si512(v), V1(0x9000)),
                                                             V1(0xFFFF0000u)));
            }
            __m512i b = _mm512_castps_si512(v);
            if (relu) {      /* the ordered compares of the scalar code: a NaN is neither below 0 nor above 6 */
                b = _mm512_mask_mov_epi32(b, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ),
                                          _mm512_setzero_si512());
                if (relu == 2)
                    b = _mm512_mask_mov_epi32(b, _mm512_cmp_ps_mask(v, _mm512_set1_ps(6.0f), _CMP_GT_OQ),
                                              V1(0x40C00000u));
            }
            _mm512_storeu_si512((void *)(o + c), packer_bf16_v(b));
        }
#endif
        for (; c < cols; c++) {
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
                else if (relu == 2 && v > 6.0f)
                    b = 0x40C00000u;     /* 6.0 */
            }
            o[c] = packer_bf16(b);
        }
        if (bfp8)
            for (int64_t c = 0; c < cols; c += 16) {
#if defined(__AVX512F__)
                _mm512_storeu_si512((void *)(o + c),
                                    quantize_block_v(_mm512_loadu_si512((const void *)(o + c)), 7, 1));
                continue;
#endif
                quantize_block(o + c, o + c, 7, 1);
            }
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

/* float32 values stored to bfloat16 by the device, in one pass: mode 0 the packer (packer_bf16 above), mode 1
 * an SFPU result truncated into a 16-bit Dst (formats.truncate_bf16: zeros and denormals -> +0, the low 16 bits
 * dropped, NaN -> 0x7FC00000). */
static inline uint32_t truncate_bf16(uint32_t v)
{
    const uint32_t e = (v >> 23) & 0xFFu;
    const uint32_t r = e == 0 ? 0u : (v & 0xFFFF0000u);
    return (e == 0xFFu && (v & 0x7FFFFFu)) ? 0x7FC00000u : r;
}

void tt_round_bf16(const uint32_t *in, uint32_t *out, int64_t n, int mode)
{
    const int64_t blocks = n / 16;
#pragma omp parallel for schedule(static) if (n > (1 << 18))
    for (int64_t t = 0; t < blocks; t++) {
#if defined(__AVX512F__)
        const __m512i v = _mm512_loadu_si512((const void *)(in + 16 * t));
        __m512i r;
        if (mode == 0) {
            r = packer_bf16_v(v);
        } else {
            const __m512i e = _mm512_and_si512(_mm512_srli_epi32(v, 23), V1(0xFF));
            r = _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(e, e), _mm512_and_si512(v, V1(0xFFFF0000u)));
            const __mmask16 nan = _mm512_cmpeq_epi32_mask(e, V1(0xFF)) & _mm512_test_epi32_mask(v, V1(0x7FFFFF));
            r = _mm512_mask_mov_epi32(r, nan, V1(0x7FC00000u));
        }
        _mm512_storeu_si512((void *)(out + 16 * t), r);
        continue;
#endif
        for (int j = 0; j < 16; j++)
            out[16 * t + j] = mode == 0 ? packer_bf16(in[16 * t + j]) : truncate_bf16(in[16 * t + j]);
    }
    for (int64_t i = blocks * 16; i < n; i++)
        out[i] = mode == 0 ? packer_bf16(in[i]) : truncate_bf16(in[i]);
}

/* An SFPU op applied through its table of every bfloat16 input (ops/sfpu.py _lookup): out[i] = table[the
 * bfloat16 pattern of in[i]], the high 16 bits of a value stored to bfloat16. */
void tt_table_lookup(const uint32_t *in, const uint32_t *table, uint32_t *out, int64_t n)
{
#pragma omp parallel for schedule(static) if (n > (1 << 18))
    for (int64_t i = 0; i < n; i++)
        out[i] = table[in[i] >> 16];
}

/* The per-channel arithmetic of a batch norm, one pass over x [outer][C][inner] (NCHW: outer = N, inner = H*W):
 * for an element of channel c, v = x - mean[c], v = v * rstd[c], v = v * weight[c] (when weight is given),
 * v = v + bias[c] (when bias is given), each result rounded as a 16-bit Dst stores it ((b + 0x9000) &
 * 0xFFFF0000) when round16. The fp32 operations and roundings of normalization.batch_norm's torch steps, in
 * their order (built with -ffp-contract=off: no fused multiply-add). */
static inline float dst_r16(float v, int round16)
{
    if (!round16)
        return v;
    uint32_t b;
    __builtin_memcpy(&b, &v, 4);
    b = (b + 0x9000u) & 0xFFFF0000u;
    __builtin_memcpy(&v, &b, 4);
    return v;
}

void tt_channel_norm(const float *x, float *y, int64_t outer, int64_t C, int64_t inner, const float *mean,
                     const float *rstd, const float *weight, const float *bias, int round16)
{
#pragma omp parallel for collapse(2) schedule(static) if (outer * C * inner > (1 << 16))
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t c = 0; c < C; c++) {
            const float *xs = x + (o * C + c) * inner;
            float *ys = y + (o * C + c) * inner;
            const float m = mean[c], s = rstd[c], w = weight ? weight[c] : 1.0f, bb = bias ? bias[c] : 0.0f;
            for (int64_t i = 0; i < inner; i++) {
                float v = dst_r16(xs[i] - m, round16);
                v = dst_r16(v * s, round16);
                if (weight)
                    v = dst_r16(v * w, round16);
                if (bias)
                    v = dst_r16(v + bb, round16);
                ys[i] = v;
            }
        }
    }
}
