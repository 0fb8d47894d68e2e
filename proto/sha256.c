/*
 * sha256.c — SHA-256 and HMAC-SHA-256 (see sha256.h for why our own).
 *
 * Written from FIPS 180-4 (the function) and RFC 2104 (HMAC); the x86 path
 * follows Intel's description of the SHA extensions (SHA256MSG1/MSG2 for
 * the message schedule, SHA256RNDS2 for two rounds on the state held as
 * ABEF and CDGH). Neither path branches on or indexes by the data.
 */
#include "sha256.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QS_SHA_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t H0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static inline uint32_t ror(uint32_t x, int n)
{
    return x >> n | x << (32 - n);
}

static inline uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* FIPS 180-4 §6.2.2 over n whole blocks. */
static void blocks_c(uint32_t h[8], const uint8_t *p, size_t n)
{
    uint32_t w[64];
    for (; n; n--, p += QS_SHA256_BLOCK) {
        for (int t = 0; t < 16; t++)
            w[t] = load_be32(p + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ w[t - 15] >> 3;
            uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ w[t - 2] >> 10;
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 =
                hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
            uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    }
    explicit_bzero(w, sizeof w);
}

#ifdef QS_SHA_X86
/* The state lives in two registers as SHA256RNDS2 wants it: lanes 3..0 of
 * abef are A B E F, of cdgh C D G H. Each group of four rounds adds its
 * message words to K, runs two rounds on lanes 0-1 and two on lanes 2-3
 * (each RNDS2 leaves the new ABEF; the old ABEF is the new CDGH). */
__attribute__((target("sha,sse4.1,ssse3"))) static void blocks_x86(uint32_t h[8], const uint8_t *p,
                                                                   size_t n)
{
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]); /* lanes a b c d */
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]); /* lanes e f g h */
    __m128i badc = _mm_shuffle_epi32(dcba, 0xB1);           /* lanes b a d c */
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);           /* lanes h g f e */
    __m128i abef = _mm_alignr_epi8(badc, efgh, 8);          /* lanes f e b a */
    __m128i cdgh = _mm_blend_epi16(efgh, badc, 0xF0);       /* lanes h g d c */

    for (; n; n--, p += QS_SHA256_BLOCK) {
        __m128i abef0 = abef, cdgh0 = cdgh, m[4];
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            __m128i w;
            if (g < 4) {
                w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
            } else {
                /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] for t = 4g..4g+3:
                 * MSG1 gives W[t-16] + s0(W[t-15]), the alignment W[t-7], MSG2 s1(W[t-2]). */
                __m128i x = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4));
                w = _mm_sha256msg2_epu32(x, m[(g + 3) & 3]);
            }
            m[g & 3] = w;
            __m128i wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * g]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B); /* lanes a b e f */
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1); /* lanes g h c d */
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

static int cpu_has_sha(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}
#endif

typedef void blocks_fn(uint32_t h[8], const uint8_t *p, size_t n);
static _Atomic(blocks_fn *) chosen; /* NULL until the first use */

static blocks_fn *blocks_by_cpu(void)
{
#ifdef QS_SHA_X86
    if (cpu_has_sha())
        return blocks_x86;
#endif
    return blocks_c;
}

static void blocks(uint32_t h[8], const uint8_t *p, size_t n)
{
    blocks_fn *f = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (!f) {
        f = blocks_by_cpu();
        atomic_store_explicit(&chosen, f, memory_order_relaxed);
    }
    f(h, p, n);
}

int qs__sha256_impl(int which)
{
    blocks_fn *f = blocks_by_cpu();
    if (which == 1)
        f = blocks_c;
    else if (which == 2 && f == blocks_c)
        return -1;
    atomic_store_explicit(&chosen, f, memory_order_relaxed);
    return 0;
}

void qs_sha256_init(qs_sha256_ctx *c)
{
    memcpy(c->h, H0, sizeof c->h);
    c->len = 0;
    c->nbuf = 0;
}

void qs_sha256_update(qs_sha256_ctx *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (n == 0) /* data may then be NULL (an empty body) */
        return;
    c->len += n;
    if (c->nbuf) {
        size_t take = QS_SHA256_BLOCK - c->nbuf;
        if (take > n)
            take = n;
        memcpy(c->buf + c->nbuf, p, take);
        c->nbuf += take;
        p += take;
        n -= take;
        if (c->nbuf < QS_SHA256_BLOCK)
            return;
        blocks(c->h, c->buf, 1);
        c->nbuf = 0;
    }
    if (n >= QS_SHA256_BLOCK) {
        blocks(c->h, p, n / QS_SHA256_BLOCK);
        p += n - n % QS_SHA256_BLOCK;
        n %= QS_SHA256_BLOCK;
    }
    if (n) {
        memcpy(c->buf, p, n);
        c->nbuf = n;
    }
}

void qs_sha256_final(qs_sha256_ctx *c, uint8_t out[QS_SHA256_LEN])
{
    uint64_t bits = c->len * 8;
    c->buf[c->nbuf++] = 0x80;
    if (c->nbuf > QS_SHA256_BLOCK - 8) {
        memset(c->buf + c->nbuf, 0, QS_SHA256_BLOCK - c->nbuf);
        blocks(c->h, c->buf, 1);
        c->nbuf = 0;
    }
    memset(c->buf + c->nbuf, 0, QS_SHA256_BLOCK - 8 - c->nbuf);
    for (int i = 0; i < 8; i++)
        c->buf[QS_SHA256_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
    blocks(c->h, c->buf, 1);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, c->h[i]);
    explicit_bzero(c, sizeof *c);
}

void qs_sha256(const void *p, size_t n, uint8_t out[QS_SHA256_LEN])
{
    qs_sha256_ctx c;
    qs_sha256_init(&c);
    qs_sha256_update(&c, p, n);
    qs_sha256_final(&c, out);
}

void qs_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                    uint8_t out[QS_SHA256_LEN])
{
    uint8_t k[QS_SHA256_BLOCK] = {0}, pad[QS_SHA256_BLOCK], inner[QS_SHA256_LEN];
    if (klen > QS_SHA256_BLOCK)
        qs_sha256(key, klen, k);
    else if (klen)
        memcpy(k, key, klen);
    qs_sha256_ctx c;
    for (int i = 0; i < QS_SHA256_BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    qs_sha256_init(&c);
    qs_sha256_update(&c, pad, sizeof pad);
    qs_sha256_update(&c, msg, n);
    qs_sha256_final(&c, inner);
    for (int i = 0; i < QS_SHA256_BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    qs_sha256_init(&c);
    qs_sha256_update(&c, pad, sizeof pad);
    qs_sha256_update(&c, inner, sizeof inner);
    qs_sha256_final(&c, out);
    explicit_bzero(k, sizeof k);
    explicit_bzero(pad, sizeof pad);
    explicit_bzero(inner, sizeof inner);
}
