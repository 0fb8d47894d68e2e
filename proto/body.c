#include "proto/body.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mpcheck.h"
#include "proto/xmalloc.h"

qs_value qs_v_int(int64_t i)
{
    qs_value v = {.t = QS_V_INT};
    v.u.i = i;
    return v;
}

qs_value qs_v_bool(bool b)
{
    qs_value v = {.t = QS_V_BOOL};
    v.u.b = b;
    return v;
}

static qs_value bytes(qs_vtype t, const void *p, size_t n)
{
    qs_value v = {.t = t};
    v.u.s.p = qs_xmalloc(n + 1);
    if (n)
        memcpy(v.u.s.p, p, n);
    v.u.s.p[n] = '\0';
    v.u.s.n = (uint32_t)n;
    return v;
}

qs_value qs_v_str(const char *s)
{
    return bytes(QS_V_STR, s, strlen(s));
}

qs_value qs_v_strn(const char *s, size_t n)
{
    return bytes(QS_V_STR, s, n);
}

qs_value qs_v_bin(const void *p, size_t n)
{
    return bytes(QS_V_BIN, p, n);
}

qs_value qs_v_array(size_t n)
{
    qs_value v = {.t = QS_V_ARRAY};
    v.u.a.v = qs_xcalloc(n ? n : 1, sizeof(qs_value));
    v.u.a.n = (uint32_t)n;
    return v;
}

void qs_value_free(qs_value *v)
{
    switch (v->t) {
    case QS_V_STR:
    case QS_V_BIN:
    case QS_V_RAW:
        free(v->u.s.p);
        break;
    case QS_V_ARRAY:
        for (uint32_t i = 0; i < v->u.a.n; i++)
            qs_value_free(&v->u.a.v[i]);
        free(v->u.a.v);
        break;
    default:
        break;
    }
    v->t = QS_V_NIL;
}

qs_value qs_value_dup(const qs_value *v)
{
    switch (v->t) {
    case QS_V_STR:
    case QS_V_BIN:
    case QS_V_RAW:
        return bytes(v->t, v->u.s.p, v->u.s.n);
    case QS_V_ARRAY: {
        qs_value a = qs_v_array(v->u.a.n);
        for (uint32_t i = 0; i < v->u.a.n; i++)
            a.u.a.v[i] = qs_value_dup(&v->u.a.v[i]);
        return a;
    }
    default:
        return *v;
    }
}

bool qs_value_eq(const qs_value *a, const qs_value *b)
{
    if (a->t != b->t)
        return false;
    switch (a->t) {
    case QS_V_NIL:
        return true;
    case QS_V_BOOL:
        return a->u.b == b->u.b;
    case QS_V_INT:
        return a->u.i == b->u.i;
    case QS_V_STR:
    case QS_V_BIN:
    case QS_V_RAW:
        return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
    case QS_V_ARRAY:
        if (a->u.a.n != b->u.a.n)
            return false;
        for (uint32_t i = 0; i < a->u.a.n; i++)
            if (!qs_value_eq(&a->u.a.v[i], &b->u.a.v[i]))
                return false;
        return true;
    }
    return false;
}

void qs_body_init(qs_body *b)
{
    b->f = NULL;
    b->n = 0;
    b->cap = 0;
}

void qs_body_free(qs_body *b)
{
    for (size_t i = 0; i < b->n; i++)
        qs_value_free(&b->f[i].v);
    free(b->f);
    qs_body_init(b);
}

static size_t find(const qs_body *b, uint32_t id, bool *found)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->f[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < b->n && b->f[lo].id == id;
    return lo;
}

void qs_body_set(qs_body *b, uint32_t id, qs_value v)
{
    bool found;
    size_t i = find(b, id, &found);
    if (found) {
        qs_value_free(&b->f[i].v);
        b->f[i].v = v;
        return;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->f = qs_xreallocarray(b->f, b->cap, sizeof *b->f);
    }
    memmove(&b->f[i + 1], &b->f[i], (b->n - i) * sizeof *b->f);
    b->f[i].id = id;
    b->f[i].v = v;
    b->n++;
}

void qs_body_unset(qs_body *b, uint32_t id)
{
    bool found;
    size_t i = find(b, id, &found);
    if (!found)
        return;
    qs_value_free(&b->f[i].v);
    memmove(&b->f[i], &b->f[i + 1], (b->n - i - 1) * sizeof *b->f);
    b->n--;
}

const qs_value *qs_body_get(const qs_body *b, uint32_t id)
{
    bool found;
    size_t i = find(b, id, &found);
    return found ? &b->f[i].v : NULL;
}

static int pack_value(msgpack_packer *pk, qs_buf *out, const qs_value *v)
{
    switch (v->t) {
    case QS_V_NIL:
        return msgpack_pack_nil(pk);
    case QS_V_BOOL:
        return v->u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case QS_V_INT:
        return msgpack_pack_int64(pk, v->u.i);
    case QS_V_STR:
        if (msgpack_pack_str(pk, v->u.s.n))
            return -1;
        return msgpack_pack_str_body(pk, v->u.s.p, v->u.s.n);
    case QS_V_BIN:
        if (msgpack_pack_bin(pk, v->u.s.n))
            return -1;
        return msgpack_pack_bin_body(pk, v->u.s.p, v->u.s.n);
    case QS_V_RAW:
        return qs_buf_append(out, v->u.s.p, v->u.s.n) ? -1 : 0;
    case QS_V_ARRAY:
        if (msgpack_pack_array(pk, v->u.a.n))
            return -1;
        for (uint32_t i = 0; i < v->u.a.n; i++)
            if (pack_value(pk, out, &v->u.a.v[i]))
                return -1;
        return 0;
    }
    return -1;
}

int qs_body_encode(const qs_body *b, qs_buf *out, qs_err *err)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, qs_buf_mp_write);
    if (msgpack_pack_map(&pk, (uint32_t)b->n))
        goto full;
    for (size_t i = 0; i < b->n; i++) {
        if (i > 0 && b->f[i].id <= b->f[i - 1].id)
            return qs_err_set(err, QS_EINVAL, "body field ids out of order");
        if (msgpack_pack_uint32(&pk, b->f[i].id) || pack_value(&pk, out, &b->f[i].v))
            goto full;
    }
    return 0;
full:
    return qs_err_set(err, QS_ELIMIT, "body does not fit its buffer");
}

static void from_object(const msgpack_object *o, qs_value *v)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        v->t = QS_V_NIL;
        return;
    case MSGPACK_OBJECT_BOOLEAN:
        *v = qs_v_bool(o->via.boolean);
        return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 <= INT64_MAX) {
            *v = qs_v_int((int64_t)o->via.u64);
            return;
        }
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *v = qs_v_int(o->via.i64);
        return;
    case MSGPACK_OBJECT_STR:
        *v = qs_v_strn(o->via.str.ptr, o->via.str.size);
        return;
    case MSGPACK_OBJECT_BIN:
        *v = qs_v_bin(o->via.bin.ptr, o->via.bin.size);
        return;
    case MSGPACK_OBJECT_ARRAY:
        *v = qs_v_array(o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            from_object(&o->via.array.ptr[i], &v->u.a.v[i]);
        return;
    default:
        break;
    }
    /* Anything else is kept as its encoded bytes. */
    qs_buf raw;
    qs_buf_init(&raw, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &raw, qs_buf_mp_write);
    msgpack_pack_object(&pk, *o);
    v->t = QS_V_RAW;
    v->u.s.p = (char *)qs_xrealloc(raw.data, raw.len + 1);
    v->u.s.p[raw.len] = '\0';
    v->u.s.n = (uint32_t)raw.len;
}

int qs_body_decode(const uint8_t *p, size_t n, const qs_limits *lim, qs_body *out, qs_err *err)
{
    int rc;
    qs_body_init(out);
    if (n > lim->max_body)
        return qs_err_set(err, QS_ELIMIT, "body of %zu bytes exceeds the limit of %u", n,
                          lim->max_body);
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048))
        return qs_err_set(err, QS_EIO, "out of memory");
    msgpack_object o;
    rc = qs_mp_unpack(p, n, lim, &zone, &o, err);
    if (rc)
        goto done;
    if (o.type != MSGPACK_OBJECT_MAP) {
        rc = qs_err_set(err, QS_EINVAL, "body is not a map");
        goto done;
    }
    out->cap = o.via.map.size ? o.via.map.size : 1;
    out->f = qs_xcalloc(out->cap, sizeof *out->f);
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_POSITIVE_INTEGER || k->via.u64 == 0 ||
            k->via.u64 > UINT32_MAX) {
            rc = qs_err_set(err, QS_EINVAL, "body key %u is not a field id (1..2^32-1)", i);
            goto done;
        }
        if (i > 0 && k->via.u64 <= out->f[i - 1].id) {
            rc = qs_err_set(err, QS_EINVAL, "body field ids not strictly ascending at %llu",
                            (unsigned long long)k->via.u64);
            goto done;
        }
        out->f[i].id = (uint32_t)k->via.u64;
        from_object(&o.via.map.ptr[i].val, &out->f[i].v);
        out->n = i + 1;
    }
    /* Canonical iff it re-encodes to the same bytes. */
    qs_buf again;
    qs_buf_init(&again, 0);
    rc = qs_body_encode(out, &again, err);
    if (rc == 0 && (again.len != n || memcmp(again.data, p, n) != 0))
        rc = qs_err_set(err, QS_EINVAL, "body is not in canonical form (shortest encodings)");
    qs_buf_free(&again);
done:
    msgpack_zone_destroy(&zone);
    if (rc)
        qs_body_free(out);
    return rc;
}
