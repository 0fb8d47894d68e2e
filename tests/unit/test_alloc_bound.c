/* The allocation bound: no input makes the frame decoder plus qs_msg_decode
 * allocate more than qs_limits_alloc_bound(), neither in one request nor in
 * bytes live at once.
 *
 * The plain build counts every allocation with malloc/calloc/realloc/free
 * wrappers defined here (they interpose on the libraries too: msgpack-c and
 * zstd allocate through them) that forward to glibc's __libc_* functions.
 * Under AddressSanitizer, which owns malloc itself, the test is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <malloc.h>
#include <msgpack.h>
#include <zstd.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "tests/support/sanitizer.h"

#ifndef UNDER_ASAN
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static int64_t live, peak;
static size_t largest;

static void note(void *p, size_t asked)
{
    if (!p)
        return;
    live += (int64_t)malloc_usable_size(p);
    if (live > peak)
        peak = live;
    if (asked > largest)
        largest = asked;
}

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    note(p, n);
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __libc_calloc(n, size);
    note(p, n * size);
    return p;
}

void *realloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q || n == 0)
        live -= (int64_t)old;
    note(q, n);
    return q;
}

void free(void *p)
{
    if (p)
        live -= (int64_t)malloc_usable_size(p);
    __libc_free(p);
}

void *aligned_alloc(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    note(p, n);
    return p;
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    if (!p)
        return 12; /* ENOMEM */
    note(p, n);
    *out = p;
    return 0;
}

static void start(void)
{
    peak = live;
    largest = 0;
}

/* Decode every frame in wire (fed in 64 KiB chunks) and every payload as a
 * message. Returns the first error, 0 when all decoded; *peak_out = peak
 * bytes above the live bytes at the start. */
static int pipeline(const qs_limits *l, const uint8_t *wire, size_t n, int64_t *peak_out,
                    size_t *largest_out)
{
    int rc = 0;
    start();
    int64_t base = live;
    qs_frame_decoder *d = qs_frame_decoder_new(l);
    size_t off = 0;
    while (off < n && rc >= 0) {
        size_t chunk = n - off < 65536 ? n - off : 65536;
        size_t used;
        const uint8_t *p;
        size_t pn;
        uint8_t flags;
        rc = qs_frame_decoder_feed(d, wire + off, chunk, &used, &p, &pn, &flags, NULL);
        off += used;
        if (rc == 1) {
            qs_msg m;
            rc = qs_msg_decode(p, pn, l, &m, NULL);
            if (rc == 0)
                qs_msg_free(&m);
        }
    }
    qs_frame_decoder_free(d);
    *peak_out = peak - base;
    *largest_out = largest;
    return rc;
}

static void frame(qs_buf *out, const uint8_t *p, size_t n, int level)
{
    qs_limits l = qs_limits_default();
    qs_buf_init(out, 0);
    assert_int_equal(qs_frame_encode(p, n, level, &l, out, NULL), 0);
}

/* A PING carrying an unknown key 99 whose value is `containers` arrays of
 * `each` small ints: msgpack-c's zone worst case when each array's objects
 * take just over half a zone chunk. */
static void fragmenting_ping(qs_buf *out, uint32_t containers, uint32_t each)
{
    qs_buf_init(out, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, qs_buf_mp_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_uint8(&pk, 0);
    msgpack_pack_uint8(&pk, QS_MSG_PING);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_uint8(&pk, 7);
    msgpack_pack_uint8(&pk, 99);
    msgpack_pack_array(&pk, containers);
    for (uint32_t i = 0; i < containers; i++) {
        msgpack_pack_array(&pk, each);
        for (uint32_t j = 0; j < each; j++)
            msgpack_pack_uint8(&pk, 1);
    }
}
#endif

static void test_hostile_inputs(void **state)
{
    (void)state;
#ifdef UNDER_ASAN
    skip();
#else
    qs_limits l = qs_limits_default();
    const uint64_t bound = qs_limits_alloc_bound(&l);
    int64_t pk;
    size_t big;

    static const struct {
        const char *name;
        uint8_t bytes[32];
        size_t n;
        int rc;
    } tiny[] = {
        {"frame length 4 GiB", {0xff, 0xff, 0xff, 0xff, 0}, 5, QS_ELIMIT},
        {"frame length max_frame, 27 bytes sent",
         {0x01, 0, 0, 0, 0, 0xdd, 0xff, 0xff, 0xff, 0xff},
         32,
         0},
        {"msgpack array bomb dd ff ff ff ff",
         {0, 0, 0, 5, 0, 0xdd, 0xff, 0xff, 0xff, 0xff},
         10,
         QS_ELIMIT},
        {"msgpack map bomb df ff ff ff ff",
         {0, 0, 0, 5, 0, 0xdf, 0xff, 0xff, 0xff, 0xff},
         10,
         QS_ELIMIT},
        {"str32 4 GiB", {0, 0, 0, 6, 0, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61}, 11, QS_ELIMIT},
        {"zstd declaring 2^40 bytes",
         {0, 0, 0, 19, 1, 0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0,   0,
          0, 0, 0, 1,  0, 0,    0x19, 0,    0,    'a',  'b', 'c'},
         24,
         QS_ELIMIT},
    };
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        int rc = pipeline(&l, tiny[i].bytes, tiny[i].n, &pk, &big);
        if (rc != tiny[i].rc)
            fail_msg("%s: rc %d, want %d", tiny[i].name, rc, tiny[i].rc);
        /* Tiny inputs allocate tiny amounts: under 1 MiB (zstd's context
         * included), nowhere near what they ask for. */
        if (pk > (1 << 20) || big > (1u << 20))
            fail_msg("%s: peak %lld, largest %zu", tiny[i].name, (long long)pk, big);
    }

    /* The same bombs when only the bytes-left rule stands. */
    qs_limits open = l;
    open.max_array = UINT32_MAX;
    assert_int_equal(pipeline(&open, tiny[2].bytes, tiny[2].n, &pk, &big), QS_EINVAL);
    assert_true(big < (1u << 20));

    /* Zone fragmentation: 2,000,000 objects in arrays of 86 (2064 bytes of
     * msgpack_object each, just over half of msg.c's 4 KiB zone chunk). */
    qs_buf payload, wire;
    uint32_t each = 86, containers = (l.max_objects - 8) / (each + 1);
    fragmenting_ping(&payload, containers, each);
    frame(&wire, payload.data, payload.len, 1);
    int rc = pipeline(&l, wire.data, wire.len, &pk, &big);
    assert_int_equal(rc, 0);
    if ((uint64_t)pk > bound || big > bound)
        fail_msg("fragmenting ping: peak %lld, largest %zu, bound %llu", (long long)pk, big,
                 (unsigned long long)bound);
    /* One object more than max_objects: refused before unpacking. */
    qs_buf_free(&payload);
    qs_buf_free(&wire);
    fragmenting_ping(&payload, containers + 1, each);
    frame(&wire, payload.data, payload.len, 1);
    assert_int_equal(pipeline(&l, wire.data, wire.len, &pk, &big), QS_ELIMIT);
    assert_true((uint64_t)pk <= bound);
    qs_buf_free(&payload);
    qs_buf_free(&wire);

    /* Decompression bomb: max_payload zero bytes in a small zstd frame
     * (then not msgpack: trailing bytes). */
    uint8_t *zeros = calloc(l.max_payload, 1);
    frame(&wire, zeros, l.max_payload, 19);
    free(zeros);
    assert_true(wire.len < 4096);
    assert_int_equal(pipeline(&l, wire.data, wire.len, &pk, &big), QS_EINVAL);
    if ((uint64_t)pk > bound || big > l.max_payload)
        fail_msg("zstd bomb: peak %lld, largest %zu", (long long)pk, big);
    qs_buf_free(&wire);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
