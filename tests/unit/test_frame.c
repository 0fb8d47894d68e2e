/* Framing: encoder, incremental decoder from any chunk boundary, hostile
 * headers and hostile zstd frames. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "proto/frame.h"

#define NPAY 4

typedef struct payloads {
    uint8_t *p[NPAY];
    size_t n[NPAY];
} payloads;

/* Four payloads: tiny, compressible, incompressible, compressible but sent
 * with level 0. */
static void make_payloads(payloads *ps)
{
    static const size_t sizes[NPAY] = {3, 5000, 700, 400};
    uint32_t seed = 7;
    for (int i = 0; i < NPAY; i++) {
        ps->n[i] = sizes[i];
        ps->p[i] = malloc(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++) {
            seed = seed * 1103515245u + 12345u;
            ps->p[i][j] = i == 2 ? (uint8_t)(seed >> 16) : (uint8_t)("qianshou"[j % 8]);
        }
    }
}

static void free_payloads(payloads *ps)
{
    for (int i = 0; i < NPAY; i++)
        free(ps->p[i]);
}

static const int levels[NPAY] = {3, 3, 3, 0};

static void make_stream(const payloads *ps, qs_buf *s)
{
    qs_limits l = qs_limits_default();
    qs_buf_init(s, 0);
    for (int i = 0; i < NPAY; i++)
        assert_int_equal(qs_frame_encode(ps->p[i], ps->n[i], levels[i], &l, s, NULL), 0);
}

/* Feed s in the given chunks; check every frame comes out intact. */
static void feed_chunks(const payloads *ps, const qs_buf *s, const size_t *cuts, size_t ncuts)
{
    qs_limits l = qs_limits_default();
    qs_frame_decoder *d = qs_frame_decoder_new(&l);
    int got = 0;
    size_t from = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t to = c < ncuts ? cuts[c] : s->len;
        const uint8_t *p = s->data + from;
        size_t left = to - from;
        while (left > 0) {
            size_t used;
            const uint8_t *pl;
            size_t pn;
            uint8_t flags;
            qs_err e = {0};
            int rc = qs_frame_decoder_feed(d, p, left, &used, &pl, &pn, &flags, &e);
            if (rc < 0)
                fail_msg("feed: %s", e.msg);
            assert_true(used <= left);
            p += used;
            left -= used;
            if (rc == 1) {
                assert_true(got < NPAY);
                assert_int_equal(pn, ps->n[got]);
                assert_memory_equal(pl, ps->p[got], pn);
                got++;
            } else {
                assert_int_equal(left, 0);
            }
        }
        from = to;
    }
    assert_int_equal(got, NPAY);
    assert_int_equal(qs_frame_decoder_wire_bytes(d), s->len);
    qs_frame_decoder_free(d);
}

static void test_flags_chosen(void **state)
{
    (void)state;
    payloads ps;
    make_payloads(&ps);
    qs_buf s;
    make_stream(&ps, &s);
    /* Walk the frames: compressed only where it pays and was asked for. */
    static const int want_zstd[NPAY] = {0, 1, 0, 0};
    size_t off = 0;
    for (int i = 0; i < NPAY; i++) {
        uint32_t len = (uint32_t)s.data[off] << 24 | (uint32_t)s.data[off + 1] << 16 |
                       (uint32_t)s.data[off + 2] << 8 | s.data[off + 3];
        uint8_t flags = s.data[off + 4];
        assert_int_equal(!!(flags & QS_FRAME_ZSTD), want_zstd[i]);
        if (want_zstd[i]) {
            assert_true(len < ps.n[i]);
            assert_int_equal(ZSTD_getFrameContentSize(s.data + off + 5, len), ps.n[i]);
        } else {
            assert_int_equal(len, ps.n[i]);
        }
        off += QS_FRAME_HDR + len;
    }
    assert_int_equal(off, s.len);
    qs_buf_free(&s);
    free_payloads(&ps);
}

static void test_all_in_one_chunk(void **state)
{
    (void)state;
    payloads ps;
    make_payloads(&ps);
    qs_buf s;
    make_stream(&ps, &s);
    feed_chunks(&ps, &s, NULL, 0);
    qs_buf_free(&s);
    free_payloads(&ps);
}

static void test_one_byte_at_a_time(void **state)
{
    (void)state;
    payloads ps;
    make_payloads(&ps);
    qs_buf s;
    make_stream(&ps, &s);
    size_t *cuts = malloc(s.len * sizeof *cuts);
    for (size_t i = 1; i < s.len; i++)
        cuts[i - 1] = i;
    feed_chunks(&ps, &s, cuts, s.len - 1);
    free(cuts);
    qs_buf_free(&s);
    free_payloads(&ps);
}

static void test_every_two_way_split(void **state)
{
    (void)state;
    payloads ps;
    make_payloads(&ps);
    qs_buf s;
    make_stream(&ps, &s);
    for (size_t cut = 0; cut <= s.len; cut++)
        feed_chunks(&ps, &s, &cut, 1);
    qs_buf_free(&s);
    free_payloads(&ps);
}

/* Feed bytes; expect the first error code and then a dead decoder. */
static void expect_error(const qs_limits *l, const uint8_t *p, size_t n, int want, const char *name)
{
    qs_frame_decoder *d = qs_frame_decoder_new(l);
    size_t used;
    const uint8_t *pl;
    size_t pn;
    uint8_t flags;
    qs_err e = {0};
    int rc = qs_frame_decoder_feed(d, p, n, &used, &pl, &pn, &flags, &e);
    if (rc != want)
        fail_msg("%s: rc %d, want %d (%s)", name, rc, want, e.msg);
    assert_int_equal(e.code, want);
    /* Dead: a valid frame afterwards gets the same error and message. */
    static const uint8_t ok[] = {0, 0, 0, 1, 0, 0x80};
    qs_err e2 = {0};
    assert_int_equal(qs_frame_decoder_feed(d, ok, sizeof ok, &used, &pl, &pn, &flags, &e2), want);
    assert_int_equal(used, 0);
    assert_string_equal(e.msg, e2.msg);
    assert_int_equal(qs_frame_decoder_feed(d, ok, sizeof ok, &used, &pl, &pn, &flags, NULL), want);
    qs_frame_decoder_free(d);
}

static void test_bad_headers(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    static const struct {
        const char *name;
        uint8_t hdr[5];
        int rc;
    } t[] = {
        {"4 GiB length", {0xff, 0xff, 0xff, 0xff, 0}, QS_ELIMIT},
        {"max_frame + 1", {0x01, 0x00, 0x00, 0x01, 0}, QS_ELIMIT},
        {"zero length", {0, 0, 0, 0, 0}, QS_EINVAL},
        {"zero length zstd", {0, 0, 0, 0, 1}, QS_EINVAL},
        {"flag 0x02", {0, 0, 0, 1, 0x02}, QS_EINVAL},
        {"flag 0x04", {0, 0, 0, 1, 0x04}, QS_EINVAL},
        {"flag 0x08", {0, 0, 0, 1, 0x08}, QS_EINVAL},
        {"flag 0x10", {0, 0, 0, 1, 0x10}, QS_EINVAL},
        {"flag 0x20", {0, 0, 0, 1, 0x20}, QS_EINVAL},
        {"flag 0x40", {0, 0, 0, 1, 0x40}, QS_EINVAL},
        {"flag 0x80", {0, 0, 0, 1, 0x80}, QS_EINVAL},
        {"flags 0xff", {0, 0, 0, 1, 0xff}, QS_EINVAL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        expect_error(&l, t[i].hdr, 5, t[i].rc, t[i].name);
    /* max_frame exactly is accepted (header alone: needs more input). */
    qs_frame_decoder *d = qs_frame_decoder_new(&l);
    static const uint8_t at_max[5] = {0x01, 0x00, 0x00, 0x00, 0};
    size_t used;
    const uint8_t *pl;
    size_t pn;
    uint8_t flags;
    assert_int_equal(qs_frame_decoder_feed(d, at_max, 5, &used, &pl, &pn, &flags, NULL), 0);
    assert_int_equal(used, 5);
    qs_frame_decoder_free(d);
    /* The limit is read from the decoder's copy of the limits. */
    qs_limits small = l;
    small.max_frame = 10;
    static const uint8_t eleven[5] = {0, 0, 0, 11, 0};
    expect_error(&small, eleven, 5, QS_ELIMIT, "length 11 over max_frame 10");
}

/* Build a frame around an arbitrary zstd payload. */
static size_t wrap(uint8_t *out, const uint8_t *z, size_t zn, uint8_t flags)
{
    out[0] = (uint8_t)(zn >> 24);
    out[1] = (uint8_t)(zn >> 16);
    out[2] = (uint8_t)(zn >> 8);
    out[3] = (uint8_t)zn;
    out[4] = flags;
    memcpy(out + 5, z, zn);
    return zn + 5;
}

/* Offset and width of the frame content size field of a zstd frame. */
static void fcs_field(const uint8_t *z, size_t *off, size_t *width)
{
    static const size_t did[4] = {0, 1, 2, 4};
    uint8_t fhd = z[4];
    int single = (fhd >> 5) & 1;
    int flag = fhd >> 6;
    *off = 5 + (single ? 0 : 1) + did[fhd & 3];
    *width = flag == 0 ? (size_t)single : (size_t)1 << flag;
}

static void test_zstd_hostile(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    uint8_t plain[1000];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i % 7);
    uint8_t z[2048], f[4096];
    size_t zn = ZSTD_compress(z, sizeof z, plain, sizeof plain, 3);
    assert_false(ZSTD_isError(zn));

    /* Sanity: the untouched frame decodes. */
    qs_frame_decoder *d = qs_frame_decoder_new(&l);
    size_t n = wrap(f, z, zn, QS_FRAME_ZSTD), used, pn;
    const uint8_t *pl;
    uint8_t flags;
    assert_int_equal(qs_frame_decoder_feed(d, f, n, &used, &pl, &pn, &flags, NULL), 1);
    assert_int_equal(pn, sizeof plain);
    assert_memory_equal(pl, plain, pn);
    assert_int_equal(flags, QS_FRAME_ZSTD);
    qs_frame_decoder_free(d);

    /* Declared size over max_payload. */
    qs_limits small = l;
    small.max_payload = 999;
    expect_error(&small, f, n, QS_ELIMIT, "declared 1000 > max_payload 999");

    /* Lying content size: one less, one more than the real 1000. */
    size_t off, width;
    fcs_field(z, &off, &width);
    assert_int_equal(width, 2); /* 1000 is stored as LE16 of 1000 - 256 */
    for (int delta = -1; delta <= 1; delta += 2) {
        uint8_t lie[2048];
        memcpy(lie, z, zn);
        unsigned v = (unsigned)(lie[off] | lie[off + 1] << 8) + (unsigned)delta;
        lie[off] = (uint8_t)v;
        lie[off + 1] = (uint8_t)(v >> 8);
        assert_int_equal(ZSTD_getFrameContentSize(lie, zn), (unsigned long long)(1000 + delta));
        n = wrap(f, lie, zn, QS_FRAME_ZSTD);
        expect_error(&l, f, n, QS_EINVAL, delta < 0 ? "declares less" : "declares more");
    }

    /* No content size in the frame header. */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    uint8_t nz[2048];
    size_t nzn = ZSTD_compress2(cc, nz, sizeof nz, plain, sizeof plain);
    assert_false(ZSTD_isError(nzn));
    ZSTD_freeCCtx(cc);
    assert_int_equal(ZSTD_getFrameContentSize(nz, nzn), ZSTD_CONTENTSIZE_UNKNOWN);
    n = wrap(f, nz, nzn, QS_FRAME_ZSTD);
    expect_error(&l, f, n, QS_EINVAL, "no content size");

    /* Two zstd frames in one payload. */
    uint8_t two[4096];
    memcpy(two, z, zn);
    memcpy(two + zn, z, zn);
    n = wrap(f, two, 2 * zn, QS_FRAME_ZSTD);
    expect_error(&l, f, n, QS_EINVAL, "two zstd frames");

    /* Not zstd at all, and a truncated zstd frame. */
    n = wrap(f, plain, 100, QS_FRAME_ZSTD);
    expect_error(&l, f, n, QS_EINVAL, "garbage with the zstd flag");
    n = wrap(f, z, zn - 3, QS_FRAME_ZSTD);
    expect_error(&l, f, n, QS_EINVAL, "truncated zstd frame");

    /* Hand-made frame declaring 2^40 bytes with a 3-byte raw block: refused
     * from the header, before any allocation. magic, FHD = single segment +
     * 8-byte content size, FCS LE, block header (last, raw, size 3), data. */
    static const uint8_t huge[] = {0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0,   0,   0,  0,
                                   1,    0,    0,    0x19, 0,    0, 'a', 'b', 'c'};
    assert_int_equal(ZSTD_getFrameContentSize(huge, sizeof huge), 1ull << 40);
    n = wrap(f, huge, sizeof huge, QS_FRAME_ZSTD);
    expect_error(&l, f, n, QS_ELIMIT, "declares 2^40 bytes");

    /* Declared content size 0. */
    uint8_t empty[64];
    size_t en = ZSTD_compress(empty, sizeof empty, plain, 0, 3);
    assert_false(ZSTD_isError(en));
    n = wrap(f, empty, en, QS_FRAME_ZSTD);
    expect_error(&l, f, n, QS_EINVAL, "declares 0 bytes");
}

static void test_encode_limits(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    qs_buf out;
    qs_buf_init(&out, 0);
    uint8_t p[600];
    memset(p, 'a', sizeof p);
    qs_err e = {0};
    assert_int_equal(qs_frame_encode(p, 0, 3, &l, &out, &e), QS_EINVAL);
    qs_limits small = l;
    small.max_payload = 599;
    assert_int_equal(qs_frame_encode(p, sizeof p, 3, &small, &out, &e), QS_ELIMIT);
    small = l;
    small.max_frame = 599;
    /* Uncompressed it does not fit the frame limit; compressed it does. */
    assert_int_equal(qs_frame_encode(p, sizeof p, 0, &small, &out, &e), QS_ELIMIT);
    assert_int_equal(out.len, 0);
    assert_int_equal(qs_frame_encode(p, sizeof p, 3, &small, &out, &e), 0);
    assert_int_equal(out.data[4], QS_FRAME_ZSTD);
    qs_buf_free(&out);
    /* The output buffer's own maximum. */
    qs_buf_init(&out, 10);
    assert_int_equal(qs_frame_encode(p, 6, 3, &l, &out, &e), QS_ELIMIT);
    assert_int_equal(out.len, 0);
    assert_int_equal(qs_frame_encode(p, 5, 3, &l, &out, &e), 0);
    assert_int_equal(out.len, 10);
    qs_buf_free(&out);
}

static void test_partial_then_more(void **state)
{
    (void)state;
    /* used never runs past a frame: the bytes after it are left for the next call. */
    qs_limits l = qs_limits_default();
    qs_buf s;
    qs_buf_init(&s, 0);
    static const uint8_t a[] = {0x81, 0x01, 0x02}, b[] = {0x80};
    assert_int_equal(qs_frame_encode(a, sizeof a, 0, &l, &s, NULL), 0);
    assert_int_equal(qs_frame_encode(b, sizeof b, 0, &l, &s, NULL), 0);
    qs_frame_decoder *d = qs_frame_decoder_new(&l);
    size_t used, pn;
    const uint8_t *pl;
    uint8_t flags;
    assert_int_equal(qs_frame_decoder_feed(d, s.data, s.len, &used, &pl, &pn, &flags, NULL), 1);
    assert_int_equal(used, 8);
    assert_int_equal(pn, 3);
    assert_int_equal(flags, 0);
    assert_int_equal(
        qs_frame_decoder_feed(d, s.data + used, s.len - used, &used, &pl, &pn, &flags, NULL), 1);
    assert_int_equal(used, 6);
    assert_int_equal(pl[0], 0x80);
    assert_int_equal(qs_frame_decoder_feed(d, s.data, 0, &used, &pl, &pn, &flags, NULL), 0);
    assert_int_equal(qs_frame_decoder_wire_bytes(d), 14);
    qs_frame_decoder_free(d);
    qs_buf_free(&s);
}

/* ---- one zstd context per thread (frame.c) ---- */

static void fill(uint8_t *p, size_t n, uint32_t seed, int words)
{
    for (size_t j = 0; j < n; j++) {
        seed = seed * 1103515245u + 12345u;
        p[j] = words ? (uint8_t) "qianshou sync, "[(seed >> 16) % 15] : (uint8_t)(seed >> 16);
    }
}

/* The reused context makes exactly the frame a fresh one makes, whatever
 * came before (other payloads, other levels): it carries nothing over. */
static void test_cctx_reused_same_bytes(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    static const int lv[] = {3, 19, 1, 3, 7, 3};
    static const size_t sz[] = {90000, 5000, 300, 90000, 40000, 777};
    void *first = qs__frame_cctx();
    assert_non_null(first);
    for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++) {
        uint8_t *p = malloc(sz[i]);
        fill(p, sz[i], (uint32_t)i + 1, 1);
        qs_buf f;
        qs_buf_init(&f, 0);
        assert_int_equal(qs_frame_encode(p, sz[i], lv[i], &l, &f, NULL), 0);
        assert_int_equal(f.data[4], QS_FRAME_ZSTD);
        size_t bound = ZSTD_compressBound(sz[i]);
        uint8_t *fresh = malloc(bound);
        size_t c = ZSTD_compress(fresh, bound, p, sz[i], lv[i]);
        assert_false(ZSTD_isError(c));
        assert_int_equal(f.len, QS_FRAME_HDR + c);
        assert_memory_equal(f.data + QS_FRAME_HDR, fresh, c);
        free(fresh);
        qs_buf_free(&f);
        free(p);
    }
    assert_ptr_equal(qs__frame_cctx(), first); /* one context, reused */
}

/* Two decoders on one thread share its decompression context: frames of
 * both, interleaved mid-frame, come out intact; release between frames
 * gives the buffers back and is a no-op in the middle of a frame. */
static void test_decoders_share_dctx(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    enum { NA = 60000, NB = 20000 };
    uint8_t *pa = malloc(NA), *pb = malloc(NB);
    fill(pa, NA, 11, 1);
    fill(pb, NB, 12, 1);
    qs_buf sa, sb;
    qs_buf_init(&sa, 0);
    qs_buf_init(&sb, 0);
    for (int k = 0; k < 2; k++) { /* two frames each */
        assert_int_equal(qs_frame_encode(pa, NA, 3, &l, &sa, NULL), 0);
        assert_int_equal(qs_frame_encode(pb, NB, 3, &l, &sb, NULL), 0);
    }
    qs_frame_decoder *a = qs_frame_decoder_new(&l), *b = qs_frame_decoder_new(&l);
    size_t offa = 0, offb = 0, used, pn;
    const uint8_t *pl;
    uint8_t flags;
    size_t fa = sa.len / 2; /* one frame of a's stream */
    for (int k = 0; k < 2; k++) {
        /* half of a's frame, then release (must keep it), then b's whole frame */
        size_t half = fa / 2;
        assert_int_equal(
            qs_frame_decoder_feed(a, sa.data + offa, half, &used, &pl, &pn, &flags, NULL), 0);
        offa += used;
        qs_frame_decoder_release(a);
        assert_int_equal(
            qs_frame_decoder_feed(b, sb.data + offb, sb.len - offb, &used, &pl, &pn, &flags, NULL),
            1);
        offb += used;
        assert_int_equal(pn, NB);
        assert_memory_equal(pl, pb, NB);
        qs_frame_decoder_release(b);
        assert_int_equal(
            qs_frame_decoder_feed(a, sa.data + offa, fa - half, &used, &pl, &pn, &flags, NULL), 1);
        offa += used;
        assert_int_equal(flags, QS_FRAME_ZSTD);
        assert_int_equal(pn, NA);
        assert_memory_equal(pl, pa, NA);
        qs_frame_decoder_release(a);
        qs_frame_decoder_release(a); /* twice: harmless */
    }
    assert_int_equal(offa, sa.len);
    assert_int_equal(offb, sb.len);
    assert_int_equal(qs_frame_decoder_wire_bytes(a), sa.len);
    qs_frame_decoder_free(a);
    qs_frame_decoder_free(b);
    qs_buf_free(&sa);
    qs_buf_free(&sb);
    free(pa);
    free(pb);
}

/* An idle thread frees its contexts; the next frame (even one a decoder had
 * half received before) codes exactly as before with new ones. */
static void test_thread_idle(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    enum { N = 50000 };
    uint8_t *p = malloc(N);
    fill(p, N, 21, 1);
    qs_buf one, two;
    qs_buf_init(&one, 0);
    qs_buf_init(&two, 0);
    assert_int_equal(qs_frame_encode(p, N, 3, &l, &one, NULL), 0);
    qs_frame_decoder *d = qs_frame_decoder_new(&l);
    size_t used, pn;
    const uint8_t *pl;
    uint8_t flags;
    assert_int_equal(qs_frame_decoder_feed(d, one.data, one.len / 2, &used, &pl, &pn, &flags, NULL),
                     0);
    size_t off = used;
    qs_frame_thread_idle();
    qs_frame_thread_idle(); /* twice: harmless */
    assert_int_equal(qs_frame_encode(p, N, 3, &l, &two, NULL), 0);
    assert_int_equal(two.len, one.len);
    assert_memory_equal(two.data, one.data, one.len);
    assert_int_equal(
        qs_frame_decoder_feed(d, one.data + off, one.len - off, &used, &pl, &pn, &flags, NULL), 1);
    assert_int_equal(pn, N);
    assert_memory_equal(pl, p, N);
    qs_frame_decoder_free(d);
    qs_buf_free(&one);
    qs_buf_free(&two);
    free(p);
}

typedef struct thr {
    void *cctx, *dctx;
    int ok;
    pthread_barrier_t *both; /* both threads hold their contexts at once */
} thr;

static void *thread_main(void *arg)
{
    thr *t = arg;
    qs_limits l = qs_limits_default();
    uint8_t p[4000];
    fill(p, sizeof p, 5, 1);
    qs_buf f;
    qs_buf_init(&f, 0);
    t->ok = qs_frame_encode(p, sizeof p, 3, &l, &f, NULL) == 0 && f.data[4] == QS_FRAME_ZSTD;
    qs_frame_decoder *d = qs_frame_decoder_new(&l);
    size_t used, pn;
    const uint8_t *pl;
    uint8_t flags;
    t->ok = t->ok && qs_frame_decoder_feed(d, f.data, f.len, &used, &pl, &pn, &flags, NULL) == 1 &&
            pn == sizeof p && memcmp(pl, p, pn) == 0;
    t->cctx = qs__frame_cctx();
    t->dctx = qs__frame_dctx();
    pthread_barrier_wait(t->both);
    qs_frame_decoder_free(d);
    qs_buf_free(&f);
    return NULL; /* its contexts are freed as it exits (ASan: no leak) */
}

/* Each thread has contexts of its own. */
static void test_contexts_per_thread(void **state)
{
    (void)state;
    pthread_barrier_t both;
    pthread_barrier_init(&both, NULL, 2);
    thr t[2] = {{.both = &both}, {.both = &both}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&both);
    assert_true(t[0].ok && t[1].ok);
    assert_ptr_not_equal(t[0].cctx, t[1].cctx);
    assert_ptr_not_equal(t[0].dctx, t[1].dctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_chosen),
        cmocka_unit_test(test_all_in_one_chunk),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_every_two_way_split),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_zstd_hostile),
        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_partial_then_more),
        cmocka_unit_test(test_cctx_reused_same_bytes),
        cmocka_unit_test(test_decoders_share_dctx),
        cmocka_unit_test(test_thread_idle),
        cmocka_unit_test(test_contexts_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
