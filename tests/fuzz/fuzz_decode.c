/* libFuzzer harness for every wire decoder.
 *
 * The input is fed to the frame decoder in chunks whose sizes come from a
 * PRNG seeded by the input itself (so a run is reproducible from the input
 * alone); each payload goes through qs_msg_decode. The raw input is also
 * handed to qs_msg_decode, qs_record_decode and qs_body_decode. Whatever
 * decodes must re-encode, and the re-encoding must decode again (and, for a
 * body, be byte-identical: canonical form). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/body.h"
#include "proto/frame.h"
#include "proto/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static qs_limits limits(void)
{
    /* Small enough that the fuzzer reaches every limit. */
    qs_limits l = qs_limits_default();
    l.max_frame = 1u << 16;
    l.max_payload = 1u << 18;
    l.max_str = 4096;
    l.max_array = 512;
    l.max_objects = 20000;
    l.max_batch = 16;
    l.max_body = 8192;
    l.max_ancestry = 8;
    l.max_parents = 4;
    return l;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_decode: %s\n", what);
        abort();
    }
}

static void msg_round_trip(const uint8_t *p, size_t n, const qs_limits *l)
{
    qs_msg m;
    qs_err e;
    if (qs_msg_decode(p, n, l, &m, &e) != 0)
        return;
    qs_buf out;
    qs_buf_init(&out, 0);
    check(qs_msg_encode(&m, &out, &e) == 0, "decoded message does not re-encode");
    qs_msg again;
    check(qs_msg_decode(out.data, out.len, l, &again, &e) == 0,
          "re-encoded message does not decode");
    check(again.type == m.type, "message type changed in a round trip");
    qs_buf out2;
    qs_buf_init(&out2, 0);
    check(qs_msg_encode(&again, &out2, &e) == 0, "second encoding failed");
    check(out2.len == out.len && memcmp(out2.data, out.data, out.len) == 0,
          "message encoding is not stable");
    qs_buf_free(&out2);
    qs_msg_free(&again);
    qs_buf_free(&out);
    qs_msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qs_limits l = limits();

    /* 1. Frames, in input-derived chunks. */
    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size && i < 16; i++)
        seed = (seed ^ data[i]) * 16777619u;
    qs_frame_decoder *d = qs_frame_decoder_new(&l);
    size_t off = 0;
    int rc = 0;
    while (off < size && rc >= 0) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % 97;
        if (chunk > size - off)
            chunk = size - off;
        const uint8_t *p = data + off;
        size_t left = chunk;
        while (left > 0) {
            size_t used;
            const uint8_t *pl;
            size_t pn;
            uint8_t flags;
            qs_err e;
            rc = qs_frame_decoder_feed(d, p, left, &used, &pl, &pn, &flags, &e);
            check(used <= left, "decoder used more than it was given");
            if (rc < 0)
                break;
            if (rc == 1) {
                check(pn > 0 && pn <= l.max_payload, "payload size outside the limits");
                msg_round_trip(pl, pn, &l);
            } else {
                check(used == left, "decoder stopped early without a frame");
            }
            p += used;
            left -= used;
        }
        off += chunk;
    }
    qs_frame_decoder_free(d);

    /* 2. The raw input as a message, a record and a body. */
    msg_round_trip(data, size, &l);

    qs_record r;
    qs_err e;
    if (qs_record_decode(data, size, &l, &r, &e) == 0) {
        qs_buf out;
        qs_buf_init(&out, 0);
        check(qs_record_encode(&r, &out, &e) == 0, "record does not re-encode");
        qs_record r2;
        check(qs_record_decode(out.data, out.len, &l, &r2, &e) == 0,
              "re-encoded record does not decode");
        check(r2.body_len == r.body_len && memcmp(r2.body, r.body, r.body_len) == 0,
              "record body changed in a round trip");
        qs_record_free(&r2);
        qs_buf_free(&out);
        qs_record_free(&r);
    }

    qs_body b;
    if (qs_body_decode(data, size, &l, &b, &e) == 0) {
        qs_buf out;
        qs_buf_init(&out, 0);
        check(qs_body_encode(&b, &out, &e) == 0, "body does not re-encode");
        check(out.len == size && memcmp(out.data, data, size) == 0,
              "accepted body is not canonical");
        qs_buf_free(&out);
        qs_body_free(&b);
    }
    return 0;
}
