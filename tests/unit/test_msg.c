/* Messages and the record wire form: round trips, unknown keys, missing keys,
 * wrong types, limits, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/frame.h"
#include "proto/mpcheck.h"
#include "proto/msg.h"

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static void make_record(qs_record *r, uint8_t seed, uint32_t nparents, uint32_t nancestry)
{
    qs_record_init(r);
    fill(r->id, QS_ID_LEN, seed);
    r->kind = 1000u + seed;
    snprintf(r->scope, sizeof r->scope, "632322%03u", seed);
    r->rev.gen = 1u + nparents + ((uint64_t)1 << 40);
    fill(r->rev.hash, QS_HASH_LEN, (uint8_t)(seed + 1));
    qs_rev p[4];
    for (uint32_t i = 0; i < nparents; i++) {
        p[i].gen = 10 + i;
        fill(p[i].hash, QS_HASH_LEN, (uint8_t)(seed + 2 + i));
    }
    qs_record_set_parents(r, p, nparents);
    uint8_t a[4][QS_HASH_LEN];
    for (uint32_t i = 0; i < nancestry; i++)
        fill(a[i], QS_HASH_LEN, (uint8_t)(seed + 9 + i));
    qs_record_set_ancestry(r, (const uint8_t(*)[QS_HASH_LEN])a, nancestry);
    r->hlc = UINT64_MAX - seed;
    snprintf(r->author, sizeof r->author, "632322/用户%u", seed);
    r->deleted = seed & 1;
    r->schema = 3;
    static const uint8_t body[] = {0x82, 0x01, 0xa1, 0x61, 0x02, 0x05};
    qs_record_set_body(r, body, sizeof body);
}

static void assert_record_eq(const qs_record *a, const qs_record *b)
{
    assert_memory_equal(a->id, b->id, QS_ID_LEN);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->scope, b->scope);
    assert_true(a->rev.gen == b->rev.gen);
    assert_memory_equal(a->rev.hash, b->rev.hash, QS_HASH_LEN);
    assert_int_equal(a->nparents, b->nparents);
    for (uint32_t i = 0; i < a->nparents; i++) {
        assert_true(a->parents[i].gen == b->parents[i].gen);
        assert_memory_equal(a->parents[i].hash, b->parents[i].hash, QS_HASH_LEN);
    }
    assert_int_equal(a->nancestry, b->nancestry);
    if (a->nancestry)
        assert_memory_equal(a->ancestry, b->ancestry, (size_t)a->nancestry * QS_HASH_LEN);
    assert_true(a->hlc == b->hlc);
    assert_string_equal(a->author, b->author);
    assert_int_equal(a->deleted, b->deleted);
    assert_int_equal(a->schema, b->schema);
    assert_int_equal(a->body_len, b->body_len);
    assert_memory_equal(a->body, b->body, a->body_len);
}

static qs_msg sample(uint32_t type, qs_record recs[3], qs_result res[3])
{
    qs_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    switch (type) {
    case QS_MSG_HELLO:
    case QS_MSG_WELCOME:
        m.u.hello.proto = QS_PROTO_VERSION;
        strcpy(m.u.hello.node, type == QS_MSG_HELLO ? "632322" : "630000");
        fill(m.u.hello.incarnation, QS_INC_LEN, 40);
        m.u.hello.schema = 7;
        m.u.hello.hlc = 0x0123456789abcdefull;
        m.u.hello.features = QS_FEAT_ZSTD;
        m.u.hello.cursor = 99;
        m.u.hello.has_peer_inc = type == QS_MSG_HELLO;
        if (m.u.hello.has_peer_inc)
            fill(m.u.hello.peer_inc, QS_INC_LEN, 80);
        m.u.hello.max_batch = 500;
        m.u.hello.window = 4;
        m.u.hello.has_wall = true;
        m.u.hello.wall_ms = 1764373447123ull;
        break;
    case QS_MSG_PUSH:
    case QS_MSG_CHANGES:
        m.u.batch.batch = 3;
        m.u.batch.upto = 1234567;
        make_record(&recs[0], 1, 0, 0);
        make_record(&recs[1], 2, 1, 2);
        make_record(&recs[2], 3, 3, 4);
        m.u.batch.recs = recs;
        m.u.batch.n = 3;
        break;
    case QS_MSG_ACK:
        m.u.ack.batch = 3;
        m.u.ack.cursor = 1234567;
        res[0] = (qs_result){QS_OUT_APPLIED, NULL};
        res[1] = (qs_result){QS_OUT_REJECTED, "hash does not verify"};
        res[2] = (qs_result){QS_OUT_PARKED, ""};
        m.u.ack.results = res;
        m.u.ack.n = 3;
        break;
    case QS_MSG_PULL:
        m.u.pull.since = 77;
        break;
    case QS_MSG_DONE:
        m.u.done.upto = 78;
        break;
    case QS_MSG_ERROR:
        m.u.error.code = QS_ESCOPE;
        strcpy(m.u.error.msg, "record 632323 is out of scope");
        break;
    case QS_MSG_PING:
    case QS_MSG_PONG:
        m.u.ping.token = UINT64_MAX;
        break;
    }
    return m;
}

static void free_sample(qs_msg *m, qs_record recs[3])
{
    if (m->type == QS_MSG_PUSH || m->type == QS_MSG_CHANGES)
        for (int i = 0; i < 3; i++)
            qs_record_free(&recs[i]);
}

static void assert_msg_eq(const qs_msg *a, const qs_msg *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case QS_MSG_HELLO:
    case QS_MSG_WELCOME: {
        const qs_hello *x = &a->u.hello, *y = &b->u.hello;
        assert_int_equal(x->proto, y->proto);
        assert_string_equal(x->node, y->node);
        assert_memory_equal(x->incarnation, y->incarnation, QS_INC_LEN);
        assert_int_equal(x->schema, y->schema);
        assert_true(x->hlc == y->hlc);
        assert_int_equal(x->features, y->features);
        assert_true(x->cursor == y->cursor);
        assert_int_equal(x->has_peer_inc, y->has_peer_inc);
        if (x->has_peer_inc)
            assert_memory_equal(x->peer_inc, y->peer_inc, QS_INC_LEN);
        assert_int_equal(x->max_batch, y->max_batch);
        assert_int_equal(x->window, y->window);
        assert_int_equal(x->has_wall, y->has_wall);
        assert_true(x->wall_ms == y->wall_ms);
        break;
    }
    case QS_MSG_PUSH:
    case QS_MSG_CHANGES:
        assert_true(a->u.batch.batch == b->u.batch.batch);
        assert_true(a->u.batch.upto == b->u.batch.upto);
        assert_int_equal(a->u.batch.n, b->u.batch.n);
        for (uint32_t i = 0; i < a->u.batch.n; i++)
            assert_record_eq(&a->u.batch.recs[i], &b->u.batch.recs[i]);
        break;
    case QS_MSG_ACK:
        assert_true(a->u.ack.batch == b->u.ack.batch);
        assert_true(a->u.ack.cursor == b->u.ack.cursor);
        assert_int_equal(a->u.ack.n, b->u.ack.n);
        for (uint32_t i = 0; i < a->u.ack.n; i++) {
            assert_int_equal(a->u.ack.results[i].outcome, b->u.ack.results[i].outcome);
            if (!a->u.ack.results[i].reason)
                assert_null(b->u.ack.results[i].reason);
            else
                assert_string_equal(a->u.ack.results[i].reason, b->u.ack.results[i].reason);
        }
        break;
    case QS_MSG_PULL:
        assert_true(a->u.pull.since == b->u.pull.since);
        break;
    case QS_MSG_DONE:
        assert_true(a->u.done.upto == b->u.done.upto);
        break;
    case QS_MSG_ERROR:
        assert_int_equal(a->u.error.code, b->u.error.code);
        assert_string_equal(a->u.error.msg, b->u.error.msg);
        break;
    default:
        assert_true(a->u.ping.token == b->u.ping.token);
        break;
    }
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    for (uint32_t t = QS_MSG_HELLO; t <= QS_MSG_PONG; t++) {
        qs_record recs[3];
        qs_result res[3];
        qs_msg m = sample(t, recs, res), d;
        qs_buf out;
        qs_buf_init(&out, 0);
        qs_err e = {0};
        if (qs_msg_encode(&m, &out, &e))
            fail_msg("%s: encode: %s", qs_msg_type_name(t), e.msg);
        if (qs_msg_decode(out.data, out.len, &l, &d, &e))
            fail_msg("%s: decode: %s", qs_msg_type_name(t), e.msg);
        assert_msg_eq(&m, &d);
        /* Encoding the decoded message gives the same bytes. */
        qs_buf again;
        qs_buf_init(&again, 0);
        assert_int_equal(qs_msg_encode(&d, &again, NULL), 0);
        assert_int_equal(again.len, out.len);
        assert_memory_equal(again.data, out.data, out.len);
        qs_buf_free(&again);
        qs_msg_free(&d);
        qs_buf_free(&out);
        free_sample(&m, recs);
    }
}

static void test_record_round_trip(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    qs_record r, d;
    make_record(&r, 5, 2, 3);
    qs_buf out;
    qs_buf_init(&out, 0);
    assert_int_equal(qs_record_encode(&r, &out, NULL), 0);
    qs_err e = {0};
    if (qs_record_decode(out.data, out.len, &l, &d, &e))
        fail_msg("decode: %s", e.msg);
    assert_record_eq(&r, &d);
    qs_record_free(&d);
    /* Not NUL-terminated scope: refused by the encoder, out untouched. */
    memset(r.scope, '6', sizeof r.scope);
    size_t len = out.len;
    assert_int_equal(qs_record_encode(&r, &out, NULL), QS_EINVAL);
    assert_int_equal(out.len, len);
    qs_record_free(&r);
    qs_buf_free(&out);
}

/* ---- mutations: re-pack a map without a key, with a key of the wrong type,
 * or with an extra key. */

enum mut { M_NONE, M_DROP, M_WRONG, M_EXTRA, M_DUP };

static void pack_mutated(msgpack_packer *pk, const msgpack_object *map, uint64_t key, enum mut how)
{
    uint32_t n = map->via.map.size;
    if (!qs_mp_map_get(map, key) && how != M_EXTRA)
        how = M_NONE; /* nothing to drop, retype or repeat */
    uint32_t out = n + (how == M_EXTRA ? 3 : 0) + (how == M_DUP ? 1 : 0) - (how == M_DROP ? 1 : 0);
    msgpack_pack_map(pk, out);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        bool hit = kv->key.type == MSGPACK_OBJECT_POSITIVE_INTEGER && kv->key.via.u64 == key;
        if (hit && how == M_DROP)
            continue;
        msgpack_pack_object(pk, kv->key);
        if (hit && how == M_WRONG)
            msgpack_pack_double(pk, 1.5); /* no key of any message is a float */
        else
            msgpack_pack_object(pk, kv->val);
        if (hit && how == M_DUP) {
            msgpack_pack_object(pk, kv->key);
            msgpack_pack_object(pk, kv->val);
        }
    }
    if (how == M_EXTRA) {
        /* Unknown keys of several kinds, nested values included. */
        msgpack_pack_uint64(pk, 99);
        msgpack_pack_map(pk, 1);
        msgpack_pack_str(pk, 1);
        msgpack_pack_str_body(pk, "x", 1);
        msgpack_pack_array(pk, 0);
        msgpack_pack_str(pk, 3);
        msgpack_pack_str_body(pk, "new", 3);
        msgpack_pack_double(pk, 2.5);
        msgpack_pack_int8(pk, -3);
        msgpack_pack_nil(pk);
    }
}

/* Unpack enc, mutate its top map (or the map of its first record when
 * in_record), write the result into out. */
static void mutate(const qs_buf *enc, bool in_record, uint64_t key, enum mut how, qs_buf *out)
{
    qs_limits l = qs_limits_default();
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object o;
    assert_int_equal(qs_mp_unpack(enc->data, enc->len, &l, &z, &o, NULL), 0);
    msgpack_packer pk;
    qs_buf_init(out, 0);
    msgpack_packer_init(&pk, out, qs_buf_mp_write);
    if (!in_record) {
        pack_mutated(&pk, &o, key, how);
    } else {
        /* Copy the batch map, mutating records[0]. */
        msgpack_pack_map(&pk, o.via.map.size);
        for (uint32_t i = 0; i < o.via.map.size; i++) {
            const msgpack_object_kv *kv = &o.via.map.ptr[i];
            msgpack_pack_object(&pk, kv->key);
            if (kv->key.via.u64 != 3) {
                msgpack_pack_object(&pk, kv->val);
                continue;
            }
            msgpack_pack_array(&pk, kv->val.via.array.size);
            for (uint32_t j = 0; j < kv->val.via.array.size; j++)
                if (j == 0)
                    pack_mutated(&pk, &kv->val.via.array.ptr[j], key, how);
                else
                    msgpack_pack_object(&pk, kv->val.via.array.ptr[j]);
        }
    }
    msgpack_zone_destroy(&z);
}

static const char *const rec_keys[] = {NULL,      "id",      "kind",     "scope", "gen",
                                       "hash",    "parents", "ancestry", "hlc",   "author",
                                       "deleted", "schema",  "body"};

static void test_missing_and_wrong_keys(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    static const struct {
        uint32_t type;
        uint32_t nkeys;    /* keys 1..nkeys */
        uint32_t optional; /* bitmask of optional keys */
    } t[] = {
        {QS_MSG_HELLO, 11, 1u << 8 | 1u << 9 | 1u << 10 | 1u << 11},
        {QS_MSG_WELCOME, 11, 1u << 8 | 1u << 9 | 1u << 10 | 1u << 11},
        {QS_MSG_PUSH, 3, 0},
        {QS_MSG_CHANGES, 3, 0},
        {QS_MSG_ACK, 3, 0},
        {QS_MSG_PULL, 1, 0},
        {QS_MSG_DONE, 1, 0},
        {QS_MSG_ERROR, 2, 0},
        {QS_MSG_PING, 1, 0},
        {QS_MSG_PONG, 1, 0},
    };
    int checked = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_record recs[3];
        qs_result res[3];
        qs_msg m = sample(t[i].type, recs, res), d;
        qs_buf enc;
        qs_buf_init(&enc, 0);
        assert_int_equal(qs_msg_encode(&m, &enc, NULL), 0);
        for (uint32_t k = 0; k <= t[i].nkeys; k++) {
            for (int how = M_DROP; how <= M_DUP; how++) {
                qs_buf mut;
                mutate(&enc, false, k, (enum mut)how, &mut);
                qs_err e = {0};
                int rc = qs_msg_decode(mut.data, mut.len, &l, &d, &e);
                bool optional = (t[i].optional >> k) & 1;
                bool absent = m.type == QS_MSG_WELCOME && k == 8; /* no peer_inc sent */
                int want = how == M_EXTRA || (how == M_DROP && optional) || absent ? 0 : QS_EINVAL;
                if (rc != want)
                    fail_msg("%s key %u mutation %d: rc %d, want %d (%s)",
                             qs_msg_type_name(t[i].type), k, how, rc, want, e.msg);
                if (rc == 0) {
                    if (how == M_EXTRA)
                        assert_msg_eq(&m, &d);
                    qs_msg_free(&d);
                } else {
                    char key[32];
                    snprintf(key, sizeof key, "key %u", k);
                    assert_non_null(strstr(e.msg, key));
                    if (k > 0)
                        assert_non_null(strstr(e.msg, qs_msg_type_name(t[i].type)));
                    assert_int_equal(d.type, 0); /* nothing left to free */
                }
                qs_buf_free(&mut);
                checked++;
            }
        }
        /* Every record key of a PUSH/CHANGES, through the batch. */
        if (t[i].type == QS_MSG_PUSH || t[i].type == QS_MSG_CHANGES) {
            for (uint32_t k = 1; k <= 12; k++) {
                for (int how = M_DROP; how <= M_DUP; how++) {
                    qs_buf mut;
                    mutate(&enc, true, k, (enum mut)how, &mut);
                    qs_err e = {0};
                    int rc = qs_msg_decode(mut.data, mut.len, &l, &d, &e);
                    int want = how == M_EXTRA ? 0 : QS_EINVAL;
                    if (rc != want)
                        fail_msg("record key %u mutation %d: rc %d (%s)", k, how, rc, e.msg);
                    if (rc == 0) {
                        assert_msg_eq(&m, &d);
                        qs_msg_free(&d);
                    } else {
                        char want_msg[64];
                        snprintf(want_msg, sizeof want_msg, "%s record 0: key %u (%s)",
                                 qs_msg_type_name(t[i].type), k, rec_keys[k]);
                        if (!strstr(e.msg, want_msg))
                            fail_msg("message '%s' lacks '%s'", e.msg, want_msg);
                    }
                    qs_buf_free(&mut);
                    checked++;
                }
            }
        }
        qs_buf_free(&enc);
        free_sample(&m, recs);
    }
    assert_true(checked > 100);
}

static void test_hello_optional_defaults(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    qs_msg m = sample(QS_MSG_HELLO, NULL, NULL), d;
    qs_buf enc, a, b, c;
    qs_buf_init(&enc, 0);
    assert_int_equal(qs_msg_encode(&m, &enc, NULL), 0);
    mutate(&enc, false, 8, M_DROP, &a);
    mutate(&a, false, 9, M_DROP, &b);
    mutate(&b, false, 10, M_DROP, &c);
    assert_int_equal(qs_msg_decode(c.data, c.len, &l, &d, NULL), 0);
    assert_false(d.u.hello.has_peer_inc);
    assert_int_equal(d.u.hello.max_batch, 0);
    assert_int_equal(d.u.hello.window, 0);
    assert_true(d.u.hello.has_wall); /* key 11 still there */
    assert_string_equal(d.u.hello.node, "632322");
    /* A peer from before key 11 (wall clock) sends none: has_wall false. */
    qs_buf w;
    mutate(&c, false, 11, M_DROP, &w);
    assert_int_equal(qs_msg_decode(w.data, w.len, &l, &d, NULL), 0);
    assert_false(d.u.hello.has_wall);
    assert_true(d.u.hello.wall_ms == 0);
    qs_buf_free(&w);
    qs_buf_free(&enc);
    qs_buf_free(&a);
    qs_buf_free(&b);
    qs_buf_free(&c);
}

/* Hand-built payloads. */
static size_t build(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = 0;
    while (*hex) {
        if (*hex == ' ') {
            hex++;
            continue;
        }
        unsigned v;
        assert_true(sscanf(hex, "%2x", &v) == 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *hex;
        int rc;
    } t[] = {
        {"ping", "82 00 09 01 05", 0},
        {"unknown type 11", "82 00 0b 01 05", QS_EPROTO},
        {"unknown type 0", "81 00 00", QS_EPROTO},
        {"unknown type 2^40", "81 00 cf 00 00 01 00 00 00 00 00", QS_EPROTO},
        {"no type", "81 01 05", QS_EINVAL},
        {"type is a string", "81 00 a1 39", QS_EINVAL},
        {"negative type", "81 00 ff", QS_EINVAL},
        {"not a map", "92 09 05", QS_EINVAL},
        {"empty payload", "", QS_EINVAL},
        {"trailing bytes", "82 00 09 01 05 00", QS_EINVAL},
        {"map bomb", "df ff ff ff ff", QS_ELIMIT},
        {"array bomb in a key", "82 00 09 01 dd ff ff ff ff", QS_ELIMIT},
        {"ping token negative", "82 00 09 01 ff", QS_EINVAL},
        {"error negative code", "83 00 08 01 f1 02 a2 6f 6b", 0},
        {"error code too large", "83 00 08 01 cf 00 00 00 01 00 00 00 00 02 a0", QS_EINVAL},
        {"error code a string", "83 00 08 01 a1 31 02 a0", QS_EINVAL},
        {"ack unknown outcome", "84 00 04 01 01 02 01 03 91 92 05 c0", QS_EINVAL},
        {"ack reason not a str", "84 00 04 01 01 02 01 03 91 92 00 01", QS_EINVAL},
        {"ack result not a pair", "84 00 04 01 01 02 01 03 91 91 00", QS_EINVAL},
        {"ack result nil reason", "84 00 04 01 01 02 01 03 91 92 02 c0", 0},
        {"ack reason with a NUL", "84 00 04 01 01 02 01 03 91 92 03 a2 61 00", QS_EINVAL},
        {"push empty batch", "84 00 03 01 01 02 00 03 90", 0},
        {"push record not a map", "84 00 03 01 01 02 00 03 91 01", QS_EINVAL},
        {"push records not an array", "84 00 03 01 01 02 00 03 80", QS_EINVAL},
        {"integer key of a str type ignored", "83 00 09 01 05 a1 31 02", 0},
    };
    qs_limits l = qs_limits_default();
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t buf[64];
        size_t n = build(buf, sizeof buf, t[i].hex);
        qs_msg m;
        qs_err e = {0};
        int rc = qs_msg_decode(buf, n, &l, &m, &e);
        if (rc != t[i].rc)
            fail_msg("%s: rc %d, want %d (%s)", t[i].name, rc, t[i].rc, e.msg);
        qs_msg_free(&m);
    }
}

/* Record field limits, one record encoded then edited field by field. */
static void test_record_limits(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    l.max_parents = 3;
    l.max_ancestry = 4;
    l.max_body = 6;
    static const struct {
        const char *name;
        int edit;
        int rc;
    } t[] = {
        {"baseline", 0, 0},
        {"parents over max", 1, QS_ELIMIT},
        {"ancestry over max", 2, QS_ELIMIT},
        {"body over max", 3, QS_ELIMIT},
        {"scope of 15 bytes", 4, 0},
        {"scope of 16 bytes", 5, QS_EINVAL},
        {"author of 95 bytes", 6, 0},
        {"author of 96 bytes", 7, QS_EINVAL},
        {"id of 15 bytes", 8, QS_EINVAL},
        {"id of 17 bytes", 9, QS_EINVAL},
        {"hash of 15 bytes", 10, QS_EINVAL},
        {"parent hash of 17 bytes", 11, QS_EINVAL},
        {"ancestry hash of 15 bytes", 12, QS_EINVAL},
        {"kind over 32 bits", 13, QS_EINVAL},
        {"parent not a pair", 14, QS_EINVAL},
        {"NUL inside scope", 15, QS_EINVAL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_record r;
        make_record(&r, 1, 3, 4);
        qs_buf enc;
        qs_buf_init(&enc, 0);
        assert_int_equal(qs_record_encode(&r, &enc, NULL), 0);
        msgpack_zone z;
        msgpack_zone_init(&z, 1024);
        msgpack_object o;
        assert_int_equal(qs_mp_unpack(enc.data, enc.len, &l, &z, &o, NULL), 0);
        qs_buf out;
        qs_buf_init(&out, 0);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &out, qs_buf_mp_write);
        msgpack_pack_map(&pk, o.via.map.size);
        uint8_t bytes[17] = {0};
        for (uint32_t k = 0; k < o.via.map.size; k++) {
            const msgpack_object_kv *kv = &o.via.map.ptr[k];
            uint64_t key = kv->key.via.u64;
            msgpack_pack_object(&pk, kv->key);
            int e = t[i].edit;
            if (key == 6 && e == 1) {
                msgpack_pack_array(&pk, 4);
                for (int j = 0; j < 4; j++) {
                    msgpack_pack_array(&pk, 2);
                    msgpack_pack_uint8(&pk, 1);
                    msgpack_pack_bin_with_body(&pk, bytes, 16);
                }
            } else if (key == 7 && e == 2) {
                msgpack_pack_array(&pk, 5);
                for (int j = 0; j < 5; j++)
                    msgpack_pack_bin_with_body(&pk, bytes, 16);
            } else if (key == 12 && e == 3) {
                msgpack_pack_bin_with_body(&pk, bytes, 7);
            } else if (key == 3 && (e == 4 || e == 5)) {
                msgpack_pack_str_with_body(&pk, "6323221001234567", e == 4 ? 15 : 16);
            } else if (key == 9 && (e == 6 || e == 7)) {
                char a[96];
                memset(a, 'a', sizeof a);
                msgpack_pack_str_with_body(&pk, a, e == 6 ? 95 : 96);
            } else if (key == 1 && (e == 8 || e == 9)) {
                msgpack_pack_bin_with_body(&pk, bytes, e == 8 ? 15 : 17);
            } else if (key == 5 && e == 10) {
                msgpack_pack_bin_with_body(&pk, bytes, 15);
            } else if (key == 6 && e == 11) {
                msgpack_pack_array(&pk, 1);
                msgpack_pack_array(&pk, 2);
                msgpack_pack_uint8(&pk, 1);
                msgpack_pack_bin_with_body(&pk, bytes, 17);
            } else if (key == 7 && e == 12) {
                msgpack_pack_array(&pk, 1);
                msgpack_pack_bin_with_body(&pk, bytes, 15);
            } else if (key == 2 && e == 13) {
                msgpack_pack_uint64(&pk, (uint64_t)UINT32_MAX + 1);
            } else if (key == 6 && e == 14) {
                msgpack_pack_array(&pk, 1);
                msgpack_pack_array(&pk, 3);
                msgpack_pack_uint8(&pk, 1);
                msgpack_pack_bin_with_body(&pk, bytes, 16);
                msgpack_pack_nil(&pk);
            } else if (key == 3 && e == 15) {
                msgpack_pack_str_with_body(&pk,
                                           "632\0"
                                           "322",
                                           7);
            } else {
                msgpack_pack_object(&pk, kv->val);
            }
        }
        qs_record d;
        qs_err err = {0};
        int rc = qs_record_decode(out.data, out.len, &l, &d, &err);
        if (rc != t[i].rc)
            fail_msg("%s: rc %d, want %d (%s)", t[i].name, rc, t[i].rc, err.msg);
        if (rc) {
            assert_null(d.parents);
            assert_null(d.ancestry);
            assert_null(d.body);
        }
        qs_record_free(&d);
        msgpack_zone_destroy(&z);
        qs_buf_free(&out);
        qs_buf_free(&enc);
        qs_record_free(&r);
    }
}

static void test_batch_limits(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    qs_record recs[3];
    qs_result res[3];
    qs_msg m = sample(QS_MSG_PUSH, recs, res), d;
    qs_buf enc;
    qs_buf_init(&enc, 0);
    assert_int_equal(qs_msg_encode(&m, &enc, NULL), 0);
    l.max_batch = 3;
    assert_int_equal(qs_msg_decode(enc.data, enc.len, &l, &d, NULL), 0);
    qs_msg_free(&d);
    l.max_batch = 2;
    qs_err e = {0};
    assert_int_equal(qs_msg_decode(enc.data, enc.len, &l, &d, &e), QS_ELIMIT);
    assert_non_null(strstr(e.msg, "records"));
    /* A bad last record frees the good ones before it (ASan/leak check). */
    l = qs_limits_default();
    l.max_parents = 2; /* record 2 has 3 parents */
    assert_int_equal(qs_msg_decode(enc.data, enc.len, &l, &d, &e), QS_ELIMIT);
    assert_non_null(strstr(e.msg, "PUSH record 2"));
    assert_int_equal(d.type, 0);
    /* ACK results are bounded by max_batch too. */
    qs_msg a = sample(QS_MSG_ACK, NULL, res);
    qs_buf ae;
    qs_buf_init(&ae, 0);
    assert_int_equal(qs_msg_encode(&a, &ae, NULL), 0);
    l.max_batch = 2;
    assert_int_equal(qs_msg_decode(ae.data, ae.len, &l, &d, NULL), QS_ELIMIT);
    qs_buf_free(&ae);
    qs_buf_free(&enc);
    free_sample(&m, recs);
}

static void test_truncation(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    for (uint32_t t = QS_MSG_HELLO; t <= QS_MSG_PONG; t++) {
        qs_record recs[3];
        qs_result res[3];
        qs_msg m = sample(t, recs, res), d;
        qs_buf enc;
        qs_buf_init(&enc, 0);
        assert_int_equal(qs_msg_encode(&m, &enc, NULL), 0);
        for (size_t cut = 0; cut < enc.len; cut++) {
            /* A copy of exactly cut bytes, so ASan sees any over-read. */
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, enc.data, cut);
            if (qs_msg_decode(p, cut, &l, &d, NULL) == 0)
                fail_msg("%s cut at %zu decoded", qs_msg_type_name(t), cut);
            free(p);
        }
        qs_buf_free(&enc);
        free_sample(&m, recs);
    }
}

static void test_encode_errors(void **state)
{
    (void)state;
    qs_msg m = sample(QS_MSG_HELLO, NULL, NULL);
    qs_buf out;
    qs_buf_init(&out, 8);
    assert_int_equal(qs_msg_encode(&m, &out, NULL), QS_ELIMIT);
    assert_int_equal(out.len, 0);
    qs_buf_free(&out);
    qs_buf_init(&out, 0);
    memset(m.u.hello.node, '1', sizeof m.u.hello.node);
    assert_int_equal(qs_msg_encode(&m, &out, NULL), QS_EINVAL);
    m.type = 42;
    assert_int_equal(qs_msg_encode(&m, &out, NULL), QS_EPROTO);
    qs_result r = {QS_OUT_REJECTED, NULL};
    char longr[QS_REASON_MAX + 2];
    memset(longr, 'r', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    r.reason = longr;
    qs_msg a = {.type = QS_MSG_ACK};
    a.u.ack.results = &r;
    a.u.ack.n = 1;
    assert_int_equal(qs_msg_encode(&a, &out, NULL), QS_EINVAL);
    assert_int_equal(out.len, 0);
    qs_buf_free(&out);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const types[] = {"UNKNOWN", "HELLO", "WELCOME", "PUSH", "ACK",  "PULL",
                                        "CHANGES", "DONE",  "ERROR",   "PING", "PONG", "UNKNOWN"};
    for (uint32_t t = 0; t < sizeof types / sizeof types[0]; t++)
        assert_string_equal(qs_msg_type_name(t), types[t]);
    static const char *const outs[] = {"applied",  "duplicate", "conflict",
                                       "rejected", "parked",    "unknown"};
    for (int o = 0; o < 6; o++)
        assert_string_equal(qs_outcome_name(o), outs[o]);
    assert_string_equal(qs_outcome_name(-1), "unknown");
}

/* The fuzz seed corpus (written by tests/fuzz/make_corpus.py, an independent
 * msgpack encoder) decodes: every frame-* file into valid messages, raw-record
 * as a record. */
static void test_fuzz_corpus_decodes(void **state)
{
    (void)state;
    const char *src = getenv("QS_SOURCE_DIR");
    if (!src)
        skip();
    static const struct {
        const char *file;
        int frames;
        uint32_t first_type;
    } t[] = {
        {"frame-hello", 1, QS_MSG_HELLO},
        {"frame-welcome", 1, QS_MSG_WELCOME},
        {"frame-push", 1, QS_MSG_PUSH},
        {"frame-ack", 1, QS_MSG_ACK},
        {"frame-pull", 1, QS_MSG_PULL},
        {"frame-changes", 1, QS_MSG_CHANGES},
        {"frame-done", 1, QS_MSG_DONE},
        {"frame-error", 1, QS_MSG_ERROR},
        {"frame-ping", 1, QS_MSG_PING},
        {"frame-pong", 1, QS_MSG_PONG},
        {"frame-push-zstd", 1, QS_MSG_PUSH},
        {"frames-hello-push-done", 3, QS_MSG_HELLO},
        {"raw-record", 0, 0},
    };
    qs_limits l = qs_limits_default();
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/%s", src, t[i].file);
        FILE *f = fopen(path, "rb");
        if (!f)
            fail_msg("cannot open %s", path);
        uint8_t buf[8192];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        qs_err e = {0};
        if (t[i].frames == 0) {
            qs_record r;
            if (qs_record_decode(buf, n, &l, &r, &e))
                fail_msg("%s: %s", t[i].file, e.msg);
            qs_record_free(&r);
            continue;
        }
        qs_frame_decoder *d = qs_frame_decoder_new(&l);
        int frames = 0;
        size_t off = 0;
        while (off < n) {
            size_t used, pn;
            const uint8_t *p;
            uint8_t flags;
            int rc = qs_frame_decoder_feed(d, buf + off, n - off, &used, &p, &pn, &flags, &e);
            if (rc < 0)
                fail_msg("%s: %s", t[i].file, e.msg);
            off += used;
            if (rc == 1) {
                qs_msg m;
                if (qs_msg_decode(p, pn, &l, &m, &e))
                    fail_msg("%s: %s", t[i].file, e.msg);
                if (frames == 0)
                    assert_int_equal(m.type, t[i].first_type);
                if (strstr(t[i].file, "zstd"))
                    assert_int_equal(flags, QS_FRAME_ZSTD);
                qs_msg_free(&m);
                frames++;
            }
        }
        assert_int_equal(frames, t[i].frames);
        qs_frame_decoder_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_missing_and_wrong_keys),
        cmocka_unit_test(test_hello_optional_defaults),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_record_limits),
        cmocka_unit_test(test_batch_limits),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_fuzz_corpus_decodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
