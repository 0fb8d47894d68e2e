#include "proto/msg.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mpcheck.h"
#include "proto/xmalloc.h"

/* Record wire map keys (PROTOCOL.md "Record wire form"). */
enum {
    RK_ID = 1,
    RK_KIND = 2,
    RK_SCOPE = 3,
    RK_GEN = 4,
    RK_HASH = 5,
    RK_PARENTS = 6,
    RK_ANCESTRY = 7,
    RK_HLC = 8,
    RK_AUTHOR = 9,
    RK_DELETED = 10,
    RK_SCHEMA = 11,
    RK_BODY = 12,
};

#define ZONE_CHUNK 4096

const char *qs_msg_type_name(uint32_t type)
{
    switch (type) {
    case QS_MSG_HELLO:
        return "HELLO";
    case QS_MSG_WELCOME:
        return "WELCOME";
    case QS_MSG_PUSH:
        return "PUSH";
    case QS_MSG_ACK:
        return "ACK";
    case QS_MSG_PULL:
        return "PULL";
    case QS_MSG_CHANGES:
        return "CHANGES";
    case QS_MSG_DONE:
        return "DONE";
    case QS_MSG_ERROR:
        return "ERROR";
    case QS_MSG_PING:
        return "PING";
    case QS_MSG_PONG:
        return "PONG";
    default:
        return "UNKNOWN";
    }
}

const char *qs_outcome_name(int outcome)
{
    switch (outcome) {
    case QS_OUT_APPLIED:
        return "applied";
    case QS_OUT_DUPLICATE:
        return "duplicate";
    case QS_OUT_CONFLICT:
        return "conflict";
    case QS_OUT_REJECTED:
        return "rejected";
    case QS_OUT_PARKED:
        return "parked";
    default:
        return "unknown";
    }
}

/* ---------------------------------------------------------------- encode */

/* Every packer call returns 0 or -1 (out's maximum reached); the encoders
 * OR them together and report QS_ELIMIT once at the end. */

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

static int pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
    return msgpack_pack_bin(pk, n) | msgpack_pack_bin_body(pk, p, n);
}

static int pack_record(msgpack_packer *pk, const qs_record *r)
{
    int e = msgpack_pack_map(pk, 12);
    e |= msgpack_pack_uint8(pk, RK_ID) | pack_bin(pk, r->id, QS_ID_LEN);
    e |= msgpack_pack_uint8(pk, RK_KIND) | msgpack_pack_uint32(pk, r->kind);
    e |= msgpack_pack_uint8(pk, RK_SCOPE) | pack_str(pk, r->scope, strnlen(r->scope, QS_CODE_MAX));
    e |= msgpack_pack_uint8(pk, RK_GEN) | msgpack_pack_uint64(pk, r->rev.gen);
    e |= msgpack_pack_uint8(pk, RK_HASH) | pack_bin(pk, r->rev.hash, QS_HASH_LEN);
    e |= msgpack_pack_uint8(pk, RK_PARENTS) | msgpack_pack_array(pk, r->nparents);
    for (uint32_t i = 0; i < r->nparents; i++) {
        e |= msgpack_pack_array(pk, 2) | msgpack_pack_uint64(pk, r->parents[i].gen);
        e |= pack_bin(pk, r->parents[i].hash, QS_HASH_LEN);
    }
    e |= msgpack_pack_uint8(pk, RK_ANCESTRY) | msgpack_pack_array(pk, r->nancestry);
    for (uint32_t i = 0; i < r->nancestry; i++)
        e |= pack_bin(pk, r->ancestry[i], QS_HASH_LEN);
    e |= msgpack_pack_uint8(pk, RK_HLC) | msgpack_pack_uint64(pk, r->hlc);
    e |= msgpack_pack_uint8(pk, RK_AUTHOR) |
         pack_str(pk, r->author, strnlen(r->author, QS_AUTHOR_MAX));
    e |= msgpack_pack_uint8(pk, RK_DELETED) |
         (r->deleted ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    e |= msgpack_pack_uint8(pk, RK_SCHEMA) | msgpack_pack_uint32(pk, r->schema);
    e |= msgpack_pack_uint8(pk, RK_BODY) | pack_bin(pk, r->body, r->body_len);
    return e;
}

/* Fixed-size string fields must hold their NUL. */
static int check_record(const qs_record *r, qs_err *err)
{
    if (strnlen(r->scope, QS_CODE_MAX) == QS_CODE_MAX)
        return qs_err_set(err, QS_EINVAL, "record: scope is not NUL-terminated");
    if (strnlen(r->author, QS_AUTHOR_MAX) == QS_AUTHOR_MAX)
        return qs_err_set(err, QS_EINVAL, "record: author is not NUL-terminated");
    if ((r->nparents && !r->parents) || (r->nancestry && !r->ancestry) || (r->body_len && !r->body))
        return qs_err_set(err, QS_EINVAL, "record: count without an array");
    return 0;
}

int qs_record_encode(const qs_record *r, qs_buf *out, qs_err *err)
{
    int rc = check_record(r, err);
    if (rc)
        return rc;
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, qs_buf_mp_write);
    if (pack_record(&pk, r)) {
        out->len = start;
        return qs_err_set(err, QS_ELIMIT, "record does not fit its buffer");
    }
    return 0;
}

static int pack_hello(msgpack_packer *pk, uint32_t type, const qs_hello *h)
{
    size_t node = strnlen(h->node, QS_NODE_MAX);
    int e = msgpack_pack_map(pk, 10 + (h->has_peer_inc ? 1 : 0) + (h->has_wall ? 1 : 0));
    e |= msgpack_pack_uint8(pk, 0) | msgpack_pack_uint32(pk, type);
    e |= msgpack_pack_uint8(pk, 1) | msgpack_pack_uint32(pk, h->proto);
    e |= msgpack_pack_uint8(pk, 2) | pack_str(pk, h->node, node);
    e |= msgpack_pack_uint8(pk, 3) | pack_bin(pk, h->incarnation, QS_INC_LEN);
    e |= msgpack_pack_uint8(pk, 4) | msgpack_pack_uint32(pk, h->schema);
    e |= msgpack_pack_uint8(pk, 5) | msgpack_pack_uint64(pk, h->hlc);
    e |= msgpack_pack_uint8(pk, 6) | msgpack_pack_uint32(pk, h->features);
    e |= msgpack_pack_uint8(pk, 7) | msgpack_pack_uint64(pk, h->cursor);
    if (h->has_peer_inc)
        e |= msgpack_pack_uint8(pk, 8) | pack_bin(pk, h->peer_inc, QS_INC_LEN);
    e |= msgpack_pack_uint8(pk, 9) | msgpack_pack_uint32(pk, h->max_batch);
    e |= msgpack_pack_uint8(pk, 10) | msgpack_pack_uint32(pk, h->window);
    if (h->has_wall)
        e |= msgpack_pack_uint8(pk, 11) | msgpack_pack_uint64(pk, h->wall_ms);
    return e;
}

static int pack_u64_msg(msgpack_packer *pk, uint32_t type, uint64_t v)
{
    int e = msgpack_pack_map(pk, 2);
    e |= msgpack_pack_uint8(pk, 0) | msgpack_pack_uint32(pk, type);
    e |= msgpack_pack_uint8(pk, 1) | msgpack_pack_uint64(pk, v);
    return e;
}

int qs_msg_encode(const qs_msg *m, qs_buf *out, qs_err *err)
{
    int rc = 0;
    int e = 0;
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, qs_buf_mp_write);

    switch (m->type) {
    case QS_MSG_HELLO:
    case QS_MSG_WELCOME:
        if (strnlen(m->u.hello.node, QS_NODE_MAX) == QS_NODE_MAX) {
            rc = qs_err_set(err, QS_EINVAL, "%s: node is not NUL-terminated",
                            qs_msg_type_name(m->type));
            goto done;
        }
        e = pack_hello(&pk, m->type, &m->u.hello);
        break;
    case QS_MSG_PUSH:
    case QS_MSG_CHANGES: {
        const qs_batch *b = &m->u.batch;
        if (b->n && !b->recs) {
            rc = qs_err_set(err, QS_EINVAL, "%s: count without records", qs_msg_type_name(m->type));
            goto done;
        }
        for (uint32_t i = 0; i < b->n; i++) {
            rc = check_record(&b->recs[i], err);
            if (rc) {
                qs_err_prefix(err, "%s record %u", qs_msg_type_name(m->type), i);
                goto done;
            }
        }
        e = msgpack_pack_map(&pk, 4);
        e |= msgpack_pack_uint8(&pk, 0) | msgpack_pack_uint32(&pk, m->type);
        e |= msgpack_pack_uint8(&pk, 1) | msgpack_pack_uint64(&pk, b->batch);
        e |= msgpack_pack_uint8(&pk, 2) | msgpack_pack_uint64(&pk, b->upto);
        e |= msgpack_pack_uint8(&pk, 3) | msgpack_pack_array(&pk, b->n);
        for (uint32_t i = 0; i < b->n && !e; i++)
            e |= pack_record(&pk, &b->recs[i]);
        break;
    }
    case QS_MSG_ACK: {
        const qs_ack *a = &m->u.ack;
        if (a->n && !a->results) {
            rc = qs_err_set(err, QS_EINVAL, "ACK: count without results");
            goto done;
        }
        e = msgpack_pack_map(&pk, 4);
        e |= msgpack_pack_uint8(&pk, 0) | msgpack_pack_uint32(&pk, m->type);
        e |= msgpack_pack_uint8(&pk, 1) | msgpack_pack_uint64(&pk, a->batch);
        e |= msgpack_pack_uint8(&pk, 2) | msgpack_pack_uint64(&pk, a->cursor);
        e |= msgpack_pack_uint8(&pk, 3) | msgpack_pack_array(&pk, a->n);
        for (uint32_t i = 0; i < a->n && !e; i++) {
            const qs_result *r = &a->results[i];
            e |= msgpack_pack_array(&pk, 2) | msgpack_pack_uint8(&pk, r->outcome);
            if (!r->reason) {
                e |= msgpack_pack_nil(&pk);
                continue;
            }
            size_t n = strlen(r->reason);
            if (n > QS_REASON_MAX) {
                rc = qs_err_set(err, QS_EINVAL, "ACK result %u: reason longer than %d bytes", i,
                                QS_REASON_MAX);
                goto done;
            }
            e |= pack_str(&pk, r->reason, n);
        }
        break;
    }
    case QS_MSG_PULL:
        e = pack_u64_msg(&pk, m->type, m->u.pull.since);
        break;
    case QS_MSG_DONE:
        e = pack_u64_msg(&pk, m->type, m->u.done.upto);
        break;
    case QS_MSG_PING:
    case QS_MSG_PONG:
        e = pack_u64_msg(&pk, m->type, m->u.ping.token);
        break;
    case QS_MSG_ERROR: {
        size_t n = strnlen(m->u.error.msg, QS_REASON_MAX);
        if (n == QS_REASON_MAX) {
            rc = qs_err_set(err, QS_EINVAL, "ERROR: message is not NUL-terminated");
            goto done;
        }
        e = msgpack_pack_map(&pk, 3);
        e |= msgpack_pack_uint8(&pk, 0) | msgpack_pack_uint32(&pk, m->type);
        e |= msgpack_pack_uint8(&pk, 1) | msgpack_pack_int32(&pk, m->u.error.code);
        e |= msgpack_pack_uint8(&pk, 2) | pack_str(&pk, m->u.error.msg, n);
        break;
    }
    default:
        rc = qs_err_set(err, QS_EPROTO, "cannot encode message type %u", m->type);
        goto done;
    }
    if (e)
        rc = qs_err_set(err, QS_ELIMIT, "%s message does not fit its buffer",
                        qs_msg_type_name(m->type));
done:
    if (rc)
        out->len = start;
    return rc;
}

/* ---------------------------------------------------------------- decode */

/* Where we are, for error messages: "PUSH record 3" or "HELLO". */
typedef struct ctx {
    char what[64];
    qs_err *err;
} ctx;

/* Find key in map. A known key given twice is an error: two peers could
 * read different values from it. Returns 0 with *v NULL when absent and not
 * required. */
static int field(const msgpack_object *map, uint32_t key, const char *name, bool required,
                 const msgpack_object **v, ctx *c)
{
    *v = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_POSITIVE_INTEGER || k->via.u64 != key)
            continue;
        if (*v)
            return qs_err_set(c->err, QS_EINVAL, "%s: key %u (%s) given twice", c->what, key, name);
        *v = &map->via.map.ptr[i].val;
    }
    if (!*v && required)
        return qs_err_set(c->err, QS_EINVAL, "%s: key %u (%s) missing", c->what, key, name);
    return 0;
}

static int wrong(ctx *c, uint32_t key, const char *name, const char *expected)
{
    return qs_err_set(c->err, QS_EINVAL, "%s: key %u (%s): expected %s", c->what, key, name,
                      expected);
}

/* Unsigned integer <= max. *out is left alone when absent and optional. */
static int get_uint(const msgpack_object *map, uint32_t key, const char *name, bool required,
                    uint64_t max, uint64_t *out, ctx *c)
{
    const msgpack_object *v;
    int rc = field(map, key, name, required, &v, c);
    if (rc || !v)
        return rc;
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > max)
        return max == UINT64_MAX ? wrong(c, key, name, "an unsigned integer")
                                 : qs_err_set(c->err, QS_EINVAL,
                                              "%s: key %u (%s): expected an unsigned integer "
                                              "<= %llu",
                                              c->what, key, name, (unsigned long long)max);
    *out = v->via.u64;
    return 0;
}

static int get_u32(const msgpack_object *map, uint32_t key, const char *name, bool required,
                   uint32_t *out, ctx *c)
{
    uint64_t v = *out;
    int rc = get_uint(map, key, name, required, UINT32_MAX, &v, c);
    *out = (uint32_t)v;
    return rc;
}

/* Exactly n bytes of bin, from an object. */
static int obj_fixed_bin(const msgpack_object *v, size_t n, uint8_t *out, const char *what, ctx *c)
{
    if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != n)
        return qs_err_set(c->err, QS_EINVAL, "%s: %s: expected %zu bytes", c->what, what, n);
    memcpy(out, v->via.bin.ptr, n);
    return 0;
}

static int get_fixed_bin(const msgpack_object *map, uint32_t key, const char *name, bool required,
                         size_t n, uint8_t *out, bool *present, ctx *c)
{
    const msgpack_object *v;
    int rc = field(map, key, name, required, &v, c);
    if (present)
        *present = v != NULL;
    if (rc || !v)
        return rc;
    if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != n)
        return qs_err_set(c->err, QS_EINVAL, "%s: key %u (%s): expected %zu bytes", c->what, key,
                          name, n);
    memcpy(out, v->via.bin.ptr, n);
    return 0;
}

/* A str without NUL bytes, shorter than cap, copied NUL-terminated into out[cap]. */
static int get_str(const msgpack_object *map, uint32_t key, const char *name, size_t cap, char *out,
                   ctx *c)
{
    const msgpack_object *v;
    int rc = field(map, key, name, true, &v, c);
    if (rc)
        return rc;
    if (v->type != MSGPACK_OBJECT_STR)
        return wrong(c, key, name, "a string");
    if (v->via.str.size >= cap)
        return qs_err_set(c->err, QS_EINVAL, "%s: key %u (%s): %u bytes, at most %zu allowed",
                          c->what, key, name, v->via.str.size, cap - 1);
    if (memchr(v->via.str.ptr, 0, v->via.str.size))
        return qs_err_set(c->err, QS_EINVAL, "%s: key %u (%s): NUL byte in string", c->what, key,
                          name);
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = '\0';
    return 0;
}

/* An array of at most max elements. */
static int get_array(const msgpack_object *map, uint32_t key, const char *name, uint32_t max,
                     const msgpack_object_array **out, ctx *c)
{
    const msgpack_object *v;
    int rc = field(map, key, name, true, &v, c);
    if (rc)
        return rc;
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return wrong(c, key, name, "an array");
    if (v->via.array.size > max)
        return qs_err_set(c->err, QS_ELIMIT, "%s: key %u (%s): %u elements exceed the limit of %u",
                          c->what, key, name, v->via.array.size, max);
    *out = &v->via.array;
    return 0;
}

static int decode_record(const msgpack_object *o, const qs_limits *lim, qs_record *r, ctx *c)
{
    int rc;
    const msgpack_object *v;
    const msgpack_object_array *a;
    uint64_t u;

    qs_record_init(r);
    if (o->type != MSGPACK_OBJECT_MAP) {
        rc = qs_err_set(c->err, QS_EINVAL, "%s: not a map", c->what);
        goto done;
    }
    if ((rc = get_fixed_bin(o, RK_ID, "id", true, QS_ID_LEN, r->id, NULL, c)) ||
        (rc = get_u32(o, RK_KIND, "kind", true, &r->kind, c)) ||
        (rc = get_str(o, RK_SCOPE, "scope", QS_CODE_MAX, r->scope, c)) ||
        (rc = get_uint(o, RK_GEN, "gen", true, UINT64_MAX, &r->rev.gen, c)) ||
        (rc = get_fixed_bin(o, RK_HASH, "hash", true, QS_HASH_LEN, r->rev.hash, NULL, c)) ||
        (rc = get_uint(o, RK_HLC, "hlc", true, UINT64_MAX, &u, c)) ||
        (rc = get_str(o, RK_AUTHOR, "author", QS_AUTHOR_MAX, r->author, c)) ||
        (rc = get_u32(o, RK_SCHEMA, "schema", true, &r->schema, c)))
        goto done;
    r->hlc = u;

    if ((rc = field(o, RK_DELETED, "deleted", true, &v, c)))
        goto done;
    if (v->type != MSGPACK_OBJECT_BOOLEAN) {
        rc = wrong(c, RK_DELETED, "deleted", "a boolean");
        goto done;
    }
    r->deleted = v->via.boolean;

    if ((rc = field(o, RK_BODY, "body", true, &v, c)))
        goto done;
    if (v->type != MSGPACK_OBJECT_BIN) {
        rc = wrong(c, RK_BODY, "body", "bytes");
        goto done;
    }
    if (v->via.bin.size > lim->max_body) {
        rc = qs_err_set(c->err, QS_ELIMIT, "%s: key %u (body): %u bytes exceed the limit of %u",
                        c->what, RK_BODY, v->via.bin.size, lim->max_body);
        goto done;
    }

    /* Every size is checked: only now allocate. */
    if ((rc = get_array(o, RK_PARENTS, "parents", lim->max_parents, &a, c)))
        goto done;
    if (a->size) {
        r->parents = qs_xcalloc(a->size, sizeof *r->parents);
        r->nparents = a->size;
    }
    for (uint32_t i = 0; i < a->size; i++) {
        const msgpack_object *p = &a->ptr[i];
        if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 2 ||
            p->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            rc = qs_err_set(c->err, QS_EINVAL,
                            "%s: key %u (parents) element %u: expected [gen, hash]", c->what,
                            RK_PARENTS, i);
            goto done;
        }
        r->parents[i].gen = p->via.array.ptr[0].via.u64;
        if ((rc = obj_fixed_bin(&p->via.array.ptr[1], QS_HASH_LEN, r->parents[i].hash,
                                "key 6 (parents) hash", c)))
            goto done;
    }

    if ((rc = get_array(o, RK_ANCESTRY, "ancestry", lim->max_ancestry, &a, c)))
        goto done;
    if (a->size) {
        r->ancestry = qs_xcalloc(a->size, QS_HASH_LEN);
        r->nancestry = a->size;
    }
    for (uint32_t i = 0; i < a->size; i++)
        if ((rc = obj_fixed_bin(&a->ptr[i], QS_HASH_LEN, r->ancestry[i], "key 7 (ancestry) hash",
                                c)))
            goto done;

    if ((rc = field(o, RK_BODY, "body", true, &v, c)))
        goto done;
    qs_record_set_body(r, (const uint8_t *)v->via.bin.ptr, v->via.bin.size);
done:
    if (rc)
        qs_record_free(r);
    return rc;
}

static int decode_hello(const msgpack_object *o, qs_hello *h, ctx *c)
{
    int rc;
    memset(h, 0, sizeof *h);
    if ((rc = get_u32(o, 1, "proto", true, &h->proto, c)) ||
        (rc = get_str(o, 2, "node", QS_NODE_MAX, h->node, c)) ||
        (rc = get_fixed_bin(o, 3, "incarnation", true, QS_INC_LEN, h->incarnation, NULL, c)) ||
        (rc = get_u32(o, 4, "schema", true, &h->schema, c)) ||
        (rc = get_uint(o, 5, "hlc", true, UINT64_MAX, &h->hlc, c)) ||
        (rc = get_u32(o, 6, "features", true, &h->features, c)) ||
        (rc = get_uint(o, 7, "cursor", true, UINT64_MAX, &h->cursor, c)) ||
        (rc = get_fixed_bin(o, 8, "peer_inc", false, QS_INC_LEN, h->peer_inc, &h->has_peer_inc,
                            c)) ||
        (rc = get_u32(o, 9, "max_batch", false, &h->max_batch, c)) ||
        (rc = get_u32(o, 10, "window", false, &h->window, c)) ||
        (rc = get_uint(o, 11, "wall", false, UINT64_MAX, &h->wall_ms, c)))
        return rc;
    h->has_wall = qs_mp_map_get(o, 11) != NULL;
    return 0;
}

static int decode_batch(const msgpack_object *o, const qs_limits *lim, qs_batch *b, ctx *c)
{
    int rc;
    const msgpack_object_array *a;

    memset(b, 0, sizeof *b);
    if ((rc = get_uint(o, 1, "batch", true, UINT64_MAX, &b->batch, c)) ||
        (rc = get_uint(o, 2, "upto", true, UINT64_MAX, &b->upto, c)) ||
        (rc = get_array(o, 3, "records", lim->max_batch, &a, c)))
        return rc;
    if (a->size == 0)
        return 0;
    b->recs = qs_xcalloc(a->size, sizeof *b->recs);
    ctx rc_ctx = {.err = c->err};
    for (uint32_t i = 0; i < a->size; i++) {
        snprintf(rc_ctx.what, sizeof rc_ctx.what, "%.20s record %u", c->what, i);
        rc = decode_record(&a->ptr[i], lim, &b->recs[i], &rc_ctx);
        if (rc)
            goto fail;
        b->n = i + 1;
    }
    return 0;
fail:
    for (uint32_t i = 0; i < b->n; i++)
        qs_record_free(&b->recs[i]);
    free(b->recs);
    memset(b, 0, sizeof *b);
    return rc;
}

static int decode_ack(const msgpack_object *o, const qs_limits *lim, qs_ack *ack, ctx *c)
{
    int rc;
    const msgpack_object_array *a;

    memset(ack, 0, sizeof *ack);
    if ((rc = get_uint(o, 1, "batch", true, UINT64_MAX, &ack->batch, c)) ||
        (rc = get_uint(o, 2, "cursor", true, UINT64_MAX, &ack->cursor, c)) ||
        (rc = get_array(o, 3, "results", lim->max_batch, &a, c)))
        return rc;
    if (a->size == 0)
        return 0;
    ack->results = qs_xcalloc(a->size, sizeof *ack->results);
    for (uint32_t i = 0; i < a->size; i++) {
        const msgpack_object *e = &a->ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
            e->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            (e->via.array.ptr[1].type != MSGPACK_OBJECT_STR &&
             e->via.array.ptr[1].type != MSGPACK_OBJECT_NIL)) {
            rc = qs_err_set(c->err, QS_EINVAL,
                            "%s: key 3 (results) element %u: expected [outcome, reason or nil]",
                            c->what, i);
            goto fail;
        }
        uint64_t out = e->via.array.ptr[0].via.u64;
        if (out > QS_OUT_PARKED) {
            rc = qs_err_set(c->err, QS_EINVAL,
                            "%s: key 3 (results) element %u: unknown outcome %llu", c->what, i,
                            (unsigned long long)out);
            goto fail;
        }
        const msgpack_object *s = &e->via.array.ptr[1];
        if (s->type == MSGPACK_OBJECT_STR &&
            (s->via.str.size > QS_REASON_MAX || memchr(s->via.str.ptr, 0, s->via.str.size))) {
            rc = qs_err_set(c->err, QS_EINVAL,
                            "%s: key 3 (results) element %u: reason over %d bytes or with a NUL",
                            c->what, i, QS_REASON_MAX);
            goto fail;
        }
        ack->results[i].outcome = (uint8_t)out;
        if (s->type == MSGPACK_OBJECT_STR)
            ack->results[i].reason = qs_xstrndup(s->via.str.ptr, s->via.str.size);
        ack->n = i + 1;
    }
    return 0;
fail:
    for (uint32_t i = 0; i < ack->n; i++)
        free(ack->results[i].reason);
    free(ack->results);
    memset(ack, 0, sizeof *ack);
    return rc;
}

static int decode_error(const msgpack_object *o, qs_error_msg *em, ctx *c)
{
    const msgpack_object *v;
    int rc = field(o, 1, "code", true, &v, c);
    if (rc)
        return rc;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT32_MAX)
        em->code = (int32_t)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && v->via.i64 >= INT32_MIN)
        em->code = (int32_t)v->via.i64;
    else
        return wrong(c, 1, "code", "a 32-bit integer");
    return get_str(o, 2, "msg", QS_REASON_MAX, em->msg, c);
}

int qs_msg_decode(const uint8_t *p, size_t n, const qs_limits *lim, qs_msg *m, qs_err *err)
{
    int rc;
    msgpack_zone zone;
    msgpack_object o;
    ctx c = {.what = "message", .err = err};
    uint64_t type;

    memset(m, 0, sizeof *m);
    if (!msgpack_zone_init(&zone, ZONE_CHUNK))
        return qs_err_set(err, QS_EIO, "out of memory");
    rc = qs_mp_unpack(p, n, lim, &zone, &o, err);
    if (rc)
        goto done;
    if (o.type != MSGPACK_OBJECT_MAP) {
        rc = qs_err_set(err, QS_EINVAL, "message is not a map");
        goto done;
    }
    rc = get_uint(&o, 0, "type", true, UINT64_MAX, &type, &c);
    if (rc)
        goto done;
    snprintf(c.what, sizeof c.what, "%s", qs_msg_type_name((uint32_t)type));
    m->type = (uint32_t)type;
    switch (type) {
    case QS_MSG_HELLO:
    case QS_MSG_WELCOME:
        rc = decode_hello(&o, &m->u.hello, &c);
        break;
    case QS_MSG_PUSH:
    case QS_MSG_CHANGES:
        rc = decode_batch(&o, lim, &m->u.batch, &c);
        break;
    case QS_MSG_ACK:
        rc = decode_ack(&o, lim, &m->u.ack, &c);
        break;
    case QS_MSG_PULL:
        rc = get_uint(&o, 1, "since", true, UINT64_MAX, &m->u.pull.since, &c);
        break;
    case QS_MSG_DONE:
        rc = get_uint(&o, 1, "upto", true, UINT64_MAX, &m->u.done.upto, &c);
        break;
    case QS_MSG_ERROR:
        rc = decode_error(&o, &m->u.error, &c);
        break;
    case QS_MSG_PING:
    case QS_MSG_PONG:
        rc = get_uint(&o, 1, "token", true, UINT64_MAX, &m->u.ping.token, &c);
        break;
    default:
        rc = qs_err_set(err, QS_EPROTO, "unknown message type %llu", (unsigned long long)type);
    }
done:
    msgpack_zone_destroy(&zone);
    if (rc)
        memset(m, 0, sizeof *m);
    return rc;
}

void qs_msg_free(qs_msg *m)
{
    if (!m)
        return;
    switch (m->type) {
    case QS_MSG_PUSH:
    case QS_MSG_CHANGES:
        for (uint32_t i = 0; i < m->u.batch.n; i++)
            qs_record_free(&m->u.batch.recs[i]);
        free(m->u.batch.recs);
        break;
    case QS_MSG_ACK:
        for (uint32_t i = 0; i < m->u.ack.n; i++)
            free(m->u.ack.results[i].reason);
        free(m->u.ack.results);
        break;
    default:
        break;
    }
    memset(m, 0, sizeof *m);
}

int qs_record_decode(const uint8_t *p, size_t n, const qs_limits *lim, qs_record *r, qs_err *err)
{
    int rc;
    msgpack_zone zone;
    msgpack_object o;
    ctx c = {.what = "record", .err = err};

    qs_record_init(r);
    if (!msgpack_zone_init(&zone, ZONE_CHUNK))
        return qs_err_set(err, QS_EIO, "out of memory");
    rc = qs_mp_unpack(p, n, lim, &zone, &o, err);
    if (rc == 0)
        rc = decode_record(&o, lim, r, &c);
    msgpack_zone_destroy(&zone);
    return rc;
}
