/*
 * query.c — listing records through the typed projection, and finding one by
 * the field people name it by (the schema's natural key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/clock.h"
#include "proto/date.h"
#include "proto/scope.h"
#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

static bool is_list(const qs_field *f)
{
    return f->type == QS_F_REFLIST || f->type == QS_F_DIGESTS;
}

static void bind_filter(sqlite3_stmt *s, int col, const qs_field *f, const qs_value *v)
{
    switch (v->t) {
    case QS_V_INT:
        sqlite3_bind_int64(s, col, v->u.i);
        break;
    case QS_V_BOOL:
        sqlite3_bind_int(s, col, v->u.b);
        break;
    case QS_V_STR:
        sqlite3_bind_text(s, col, v->u.s.p, (int)v->u.s.n, SQLITE_TRANSIENT);
        break;
    case QS_V_BIN:
        sqlite3_bind_blob(s, col, v->u.s.p, (int)v->u.s.n, SQLITE_TRANSIENT);
        break;
    case QS_V_ARRAY: {
        int64_t mask = 0;
        for (uint32_t i = 0; i < v->u.a.n; i++)
            if (v->u.a.v[i].t == QS_V_INT && v->u.a.v[i].u.i >= 0 && v->u.a.v[i].u.i < 63)
                mask |= (int64_t)1 << v->u.a.v[i].u.i;
        sqlite3_bind_int64(s, col, mask);
        break;
    }
    default:
        sqlite3_bind_null(s, col);
    }
}

/* Build "SELECT <what> FROM versions v JOIN k_<kind> p ... WHERE ..." for q. */
static char *build(const qs_kind *k, const qs_query *q, const char *what, qs_err *err)
{
    char prefix[QS_CODE_MAX];
    char *sql;
    if (q->include_deleted && q->nfilters) {
        qs_err_set(err, QS_EINVAL, "filters apply to live records only, not with deleted ones");
        return NULL;
    }
    if (q->include_deleted) {
        sql = sqlite3_mprintf("SELECT %s FROM versions v WHERE v.kind = %u AND v.head = 1", what,
                              k->id);
    } else {
        /* CROSS JOIN keeps the projection (filtered, one row per live record) as
         * the outer loop; each winner is then found through versions(id, hash). */
        sql = sqlite3_mprintf("SELECT %s FROM \"k_%w\" p CROSS JOIN versions v ON v.id = p.id AND "
                              "v.head = 1 WHERE 1",
                              what, k->name);
        for (size_t i = 0; i < q->nfilters; i++) {
            const qs_field *f = qs_kind_field(k, q->filters[i].field);
            if (!f) {
                sqlite3_free(sql);
                qs_err_set(err, QS_ENOTFOUND, "a %s has no field %u", k->name, q->filters[i].field);
                return NULL;
            }
            char *more;
            if (is_list(f))
                more = sqlite3_mprintf("%s AND EXISTS (SELECT 1 FROM \"k_%w__%w\" c WHERE "
                                       "c.id = p.id AND c.v = ?)",
                                       sql, k->name, f->name);
            else if (f->type == QS_F_ENUMSET)
                more = sqlite3_mprintf("%s AND (p.\"%w\" & ?) = ?", sql, f->name);
            else if (q->filters[i].upto.t != QS_V_NIL)
                more = sqlite3_mprintf("%s AND p.\"%w\" BETWEEN ? AND ?", sql, f->name);
            else
                more = sqlite3_mprintf("%s AND p.\"%w\" IS ?", sql, f->name);
            sqlite3_free(sql);
            sql = more;
        }
    }
    if (q->scope) {
        if (qs_code_prefix(q->scope, prefix, sizeof prefix) < 0) {
            sqlite3_free(sql);
            qs_err_set(err, QS_EINVAL, "\"%s\" is not a division code", q->scope);
            return NULL;
        }
        char *more =
            sqlite3_mprintf("%s AND substr(v.scope, 1, %d) = %Q", sql, (int)strlen(prefix), prefix);
        sqlite3_free(sql);
        sql = more;
    }
    return sql;
}

static int prepare_bound(qs_store *st, const qs_kind *k, const qs_query *q, const char *sql,
                         sqlite3_stmt **s, qs_err *err)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
    if (rc != SQLITE_OK)
        return qs__sqlerr(st, rc, "preparing a query", err);
    if (q->include_deleted)
        return 0;
    int col = 1;
    for (size_t i = 0; i < q->nfilters; i++) {
        const qs_field *f = qs_kind_field(k, q->filters[i].field);
        bind_filter(*s, col++, f, &q->filters[i].value);
        if (f->type == QS_F_ENUMSET) /* (column & mask) = mask */
            bind_filter(*s, col++, f, &q->filters[i].value);
        else if (q->filters[i].upto.t != QS_V_NIL) /* BETWEEN value AND upto */
            bind_filter(*s, col++, f, &q->filters[i].upto);
    }
    return 0;
}

int qs_store_list(qs_store *st, const qs_query *q, qs_record_cb cb, void *ctx, qs_err *err)
{
    if (st->pg)
        return qs__pg_list(st, q, cb, ctx, err);
    const qs_kind *k = qs_schema_kind(q->kind);
    if (!k)
        return qs_err_set(err, QS_ENOTFOUND, "unknown kind %u", q->kind);
    char *base = build(k, q,
                       "v.id, v.kind, v.scope, v.gen, v.hash, v.parents, v.hlc, v.author, "
                       "v.deleted, v.schema, v.body",
                       err);
    if (!base)
        return err ? err->code : QS_EINVAL;
    /* Live records: ordered by the projection's key (p.id = v.id), so that a
     * first page walks its primary key instead of sorting every row. */
    const char *order = q->include_deleted ? "v.id" : "p.id";
    char *sql = q->limit ? sqlite3_mprintf("%s ORDER BY %s LIMIT %llu", base, order,
                                           (unsigned long long)q->limit)
                         : sqlite3_mprintf("%s ORDER BY %s", base, order);
    sqlite3_free(base);
    sqlite3_stmt *s = NULL;
    int rc = prepare_bound(st, k, q, sql, &s, err);
    sqlite3_free(sql);
    if (rc) {
        sqlite3_finalize(s);
        return rc;
    }
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        qs_record rec;
        qs__row_to_record(s, 0, &rec);
        rc = cb(ctx, &rec);
        qs_record_free(&rec);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = qs__sqlerr(st, r, "listing records", err);
    sqlite3_finalize(s);
    return rc;
}

int qs_store_count_eq(qs_store *st, uint32_t kind, const qs_filter *filters, size_t n,
                      uint64_t *count, qs_err *err)
{
    if (st->pg)
        return qs__pg_count_eq(st, kind, filters, n, count, err);
    const qs_kind *k = qs_schema_kind(kind);
    if (!k)
        return qs_err_set(err, QS_ENOTFOUND, "unknown kind %u", kind);
    qs_query q = {.kind = kind, .filters = filters, .nfilters = n};
    char *sql = build(k, &q, "count(*)", err);
    if (!sql)
        return err ? err->code : QS_EINVAL;
    sqlite3_stmt *s = NULL;
    int rc = prepare_bound(st, k, &q, sql, &s, err);
    sqlite3_free(sql);
    if (!rc) {
        int r = sqlite3_step(s);
        *count = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
        if (r != SQLITE_ROW)
            rc = qs__sqlerr(st, r, "counting records", err);
    }
    sqlite3_finalize(s);
    return rc;
}

typedef struct first_id {
    uint8_t *id;
    uint64_t *n;
} first_id;

static int first_id_cb(void *ctx, const qs_record *r)
{
    first_id *f = ctx;
    if (*f->n == 0)
        memcpy(f->id, r->id, QS_ID_LEN);
    (*f->n)++;
    return 0;
}

/* The live records of kind k with key = text (and, with years, whose years
 * hold year): *n of them, the first (in id order) into id. */
static int find_key(qs_store *st, const qs_kind *k, const char *text, int64_t year,
                    uint8_t id[QS_ID_LEN], uint64_t *n, qs_err *err)
{
    qs_filter flt[3] = {{.field = k->key, .value = qs_v_str(text)}};
    size_t nf = 1;
    if (year) {
        flt[nf++] =
            (qs_filter){.field = k->key_from, .value = qs_v_int(INT64_MIN), .upto = qs_v_int(year)};
        flt[nf++] =
            (qs_filter){.field = k->key_to, .value = qs_v_int(year), .upto = qs_v_int(INT64_MAX)};
    }
    qs_query q = {.kind = k->id, .filters = flt, .nfilters = nf};
    *n = 0;
    if (st->pg) { /* the same query through the backend's list, in id order */
        first_id f = {id, n};
        int rc = qs__pg_list(st, &q, first_id_cb, &f, err);
        qs_value_free(&flt[0].value);
        return rc;
    }
    char *base = build(k, &q, "p.id", err), *sql = NULL;
    sqlite3_stmt *s = NULL;
    int rc = base ? 0 : (err ? err->code : QS_EINVAL);
    if (!rc) {
        sql = sqlite3_mprintf("%s ORDER BY p.id", base);
        rc = prepare_bound(st, k, &q, sql, &s, err);
    }
    int r = SQLITE_DONE;
    while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == 0 && sqlite3_column_bytes(s, 0) == QS_ID_LEN)
            memcpy(id, sqlite3_column_blob(s, 0), QS_ID_LEN);
        (*n)++;
    }
    if (!rc && r != SQLITE_DONE)
        rc = qs__sqlerr(st, r, "looking a record up", err);
    sqlite3_finalize(s);
    sqlite3_free(sql);
    sqlite3_free(base);
    qs_value_free(&flt[0].value);
    return rc;
}

int qs_store_find_key(qs_store *st, uint32_t kind, const char *text, int year,
                      uint8_t id[QS_ID_LEN], uint64_t *n, qs_err *err)
{
    const qs_kind *k = qs_schema_kind(kind);
    *n = 0;
    if (!k)
        return qs_err_set(err, QS_ENOTFOUND, "unknown kind %u", kind);
    if (!qs_kind_key(k))
        return qs_err_set(err, QS_EINVAL, "a %s is named by its id only", k->name);
    int rc = find_key(st, k, text, 0, id, n, err);
    if (rc || *n < 2 || !k->key_from || !k->key_to)
        return rc;
    if (year == 0)
        year = qs_date_from_time((time_t)(qs_clock_wall_ms() / 1000)) / 10000;
    return find_key(st, k, text, year, id, n, err);
}

int qs_store_count_duplicates(qs_store *st, uint32_t kind, const qs_body *body, uint64_t *n,
                              qs_err *err)
{
    const qs_kind *k = qs_schema_kind(kind);
    qs_filter flt[QS_DUP_MAX];
    size_t nf = 0;
    *n = 0;
    if (!k)
        return qs_err_set(err, QS_ENOTFOUND, "unknown kind %u", kind);
    for (; nf < QS_DUP_MAX && k->dup[nf]; nf++) {
        const qs_value *v = qs_body_get(body, k->dup[nf]);
        if (!v || v->t == QS_V_NIL || v->t == QS_V_ARRAY || v->t == QS_V_RAW)
            return 0; /* a key not wholly given matches nothing */
        flt[nf] = (qs_filter){.field = k->dup[nf], .value = *v}; /* borrowed */
    }
    return nf ? qs_store_count_eq(st, kind, flt, nf, n, err) : 0;
}

int qs_store_node_known(qs_store *st, const char *code, bool *known, qs_err *err)
{
    *known = false;
    uint32_t kind;
    switch (qs_code_level(code)) {
    case QS_LEVEL_COUNTY:
        kind = QS_K_COUNTY; /* named by its code */
        break;
    case QS_LEVEL_TOWNSHIP:
        kind = QS_K_STATION; /* named by its township code */
        break;
    default:
        return 0;
    }
    uint8_t id[QS_ID_LEN];
    uint64_t n = 0;
    int rc;
    rc = qs_store_find_key(st, kind, code, 0, id, &n, err);
    if (rc == 0)
        *known = n > 0;
    return rc;
}
