/*
 * pg_version.c — versions on PostgreSQL: the typed projection and its
 * views, local edits, get and history, conflicts and resolution, applying
 * remote versions with the four outcomes (DESIGN.md "Records and versions"),
 * parking. The rules are version.c's; what is pure is shared: the decisions
 * (decide.c: the outcome of a received version and its reason, the checks of
 * an edit and of a resolution), the checks of a received version
 * (qs_precheck_check), the order of revisions (qs_rev_cmp), hashing
 * (qs_record_seal), the scope rules (proto/scope.h), the reference checks
 * (refs.c, with qs__pg_county_known for its lookup).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/clock.h"
#include "proto/msg.h"
#include "proto/schema.h"
#include "proto/scope.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

#define PARENT_BYTES QS_PARENT_BYTES

static bool is_list(const qs_field *f)
{
    return f->type == QS_F_REFLIST || f->type == QS_F_DIGESTS;
}

static const char *col_type(const qs_field *f)
{
    switch (f->type) {
    case QS_F_TEXT:
    case QS_F_CODE:
        return "text";
    case QS_F_REF:
    case QS_F_REFLIST:
    case QS_F_DIGESTS:
        return "bytea";
    case QS_F_BOOL:
        return "boolean";
    default:
        return "bigint";
    }
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

/* ---- projection: DDL and views ----------------------------------------- */

static int ddl(qs_store *st, char *sql, qs_err *err)
{
    int rc = qs__pg_exec(st, sql, "creating the typed tables", err);
    free(sql);
    return rc;
}

static int comment(qs_store *st, const char *view, const char *col, const char *label, qs_err *err)
{
    char *lit = PQescapeLiteral(st->pg->c, label, strlen(label));
    if (!lit)
        return qs_err_set(err, QS_EIO, "quoting a label");
    int rc = ddl(st, xasprintf("COMMENT ON COLUMN \"%s\".\"%s\" IS %s", view, col, lit), err);
    PQfreemem(lit);
    return rc;
}

/* The view of a kind: the projection joined to the county records (so it is
 * read-only: PostgreSQL updates no join view), ids as hex text, each column
 * commented with the schema's Chinese label. */
static int make_view(qs_store *st, const qs_kind *k, qs_err *err)
{
    char view[64], table[64];
    snprintf(view, sizeof view, "v_%s", k->name);
    snprintf(table, sizeof table, "k_%s", k->name);
    size_t cap = 4096;
    char *cols = qs_xcalloc(1, cap);
    size_t len = 0;
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_field *f = &k->fields[i];
        const char *fmt = f->type == QS_F_REF || is_list(f) ? ", encode(p.\"%s\", 'hex') AS \"%s\""
                                                            : ", p.\"%s\" AS \"%s\"";
        len += (size_t)snprintf(cols + len, cap - len, fmt, f->name, f->name);
    }
    int rc = ddl(st,
                 xasprintf("CREATE OR REPLACE VIEW \"%s\" AS SELECT p.qs_county AS county_code, "
                           "c.name AS county_name, "
                           "p.scope, encode(p.id, 'hex') AS id%s FROM \"%s\" p "
                           "LEFT JOIN k_county c ON c.code = p.qs_county",
                           view, cols, table),
                 err);
    free(cols);
    if (!rc)
        rc = ddl(st, xasprintf("COMMENT ON VIEW \"%s\" IS '%s (read-only)'", view, k->name), err);
    if (!rc)
        rc = comment(st, view, "county_code", "县级行政区划代码", err);
    if (!rc)
        rc = comment(st, view, "county_name", "县名", err);
    if (!rc)
        rc = comment(st, view, "scope", "所属区划代码", err);
    if (!rc)
        rc = comment(st, view, "id", "记录编号", err);
    for (uint32_t i = 0; i < k->nfields && !rc; i++)
        rc =
            comment(st, view, k->fields[i].name, k->fields[i].label ? k->fields[i].label : "", err);
    return rc;
}

static void build_kind(qs_store *st, qs_pg_kind *pk)
{
    const qs_kind *k = pk->k;
    size_t cap = 4096;
    char *cols = qs_xcalloc(1, cap), *sel = qs_xcalloc(1, cap), *set = qs_xcalloc(1, cap),
         *elems = qs_xcalloc(1, k->nfields + 4);
    size_t lc = 0, lv = 0, ls = 0;
    memcpy(elems, "tbt", 3); /* qs_county, id, scope */
    for (uint32_t i = 0; i < k->nfields; i++) {
        const char *t = col_type(&k->fields[i]);
        lc += (size_t)snprintf(cols + lc, cap - lc, ", \"%s\"", k->fields[i].name);
        lv += (size_t)snprintf(sel + lv, cap - lv, ", c%u::%s", i + 4, t);
        ls += (size_t)snprintf(set + ls, cap - ls, ", \"%s\" = EXCLUDED.\"%s\"", k->fields[i].name,
                               k->fields[i].name);
        elems[3 + i] = strcmp(t, "bytea") == 0 ? 'b' : 't';
    }
    char *head = xasprintf("INSERT INTO \"k_%s\"(qs_county, id, scope%s)", k->name, cols);
    char *select = xasprintf("c1, c2, c3%s", sel);
    char *tail =
        xasprintf(" ON CONFLICT (qs_county, id) DO UPDATE SET scope = EXCLUDED.scope%s", set);
    pk->upsert = qs__pg_bulk_new(st, head, select, elems, tail);
    /* a record's first row: a plain INSERT spares the server the
     * speculative insertion of ON CONFLICT */
    pk->insert = qs__pg_bulk_new(st, head, select, elems, "");
    free(head);
    free(select);
    free(tail);
    pk->del = xasprintf("DELETE FROM \"k_%s\" WHERE qs_county = $1 AND id = $2", k->name);
    pk->child_del = qs_xcalloc(k->nfields ? k->nfields : 1, sizeof *pk->child_del);
    pk->child_ins = qs_xcalloc(k->nfields ? k->nfields : 1, sizeof *pk->child_ins);
    for (uint32_t i = 0; i < k->nfields; i++) {
        if (!is_list(&k->fields[i]))
            continue;
        pk->child_del[i] = xasprintf("DELETE FROM \"k_%s__%s\" WHERE qs_county = $1 AND id = $2",
                                     k->name, k->fields[i].name);
        head = xasprintf("INSERT INTO \"k_%s__%s\"(qs_county, id, v)", k->name, k->fields[i].name);
        pk->child_ins[i] = qs__pg_bulk_new(st, head, "c1, c2, c3", "tbb", "");
        free(head);
    }
    free(cols);
    free(sel);
    free(set);
    free(elems);
}

int qs__pg_project_ddl(qs_store *st, bool make, qs_err *err)
{
    uint32_t n = qs_schema_nkinds();
    struct qs_pg *pg = st->pg;
    pg->kinds = qs_xcalloc(n ? n : 1, sizeof *pg->kinds);
    pg->nkinds = n;
    int rc = 0;
    /* the county records first: every view joins them */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (uint32_t i = 0; i < n && !rc; i++) {
            const qs_kind *k = qs_schema_kind_at(i);
            if ((pass == 0) != (k->id == QS_K_COUNTY))
                continue;
            pg->kinds[i].k = k;
            build_kind(st, &pg->kinds[i]);
            if (k->local_only || !make)
                continue; /* local-only kinds: never on an aggregator */
            rc = ddl(st,
                     xasprintf("CREATE TABLE IF NOT EXISTS \"k_%s\"(qs_county text COLLATE \"C\" "
                               "NOT NULL, id bytea NOT NULL, scope text COLLATE \"C\" NOT NULL, "
                               "PRIMARY KEY (id, qs_county))", /* id first: see pg.c */
                               k->name),
                     err);
            for (uint32_t j = 0; j < k->nfields && !rc; j++) {
                const qs_field *f = &k->fields[j];
                rc = ddl(st,
                         xasprintf("ALTER TABLE \"k_%s\" ADD COLUMN IF NOT EXISTS \"%s\" %s",
                                   k->name, f->name, col_type(f)),
                         err);
                if (!rc && is_list(f))
                    rc = ddl(
                        st,
                        xasprintf("CREATE TABLE IF NOT EXISTS \"k_%s__%s\"(qs_county text "
                                  "COLLATE \"C\" NOT NULL, id bytea NOT NULL, v bytea NOT NULL);"
                                  "CREATE INDEX IF NOT EXISTS \"k_%s__%s_id\" ON "
                                  "\"k_%s__%s\"(id);"
                                  "CREATE INDEX IF NOT EXISTS \"k_%s__%s_v\" ON "
                                  "\"k_%s__%s\"(v)",
                                  k->name, f->name, k->name, f->name, k->name, f->name, k->name,
                                  f->name, k->name, f->name),
                        err);
                if (!rc && (f->type == QS_F_REF || f->type == QS_F_CODE))
                    rc = ddl(st,
                             xasprintf("CREATE INDEX IF NOT EXISTS \"k_%s_%s\" ON "
                                       "\"k_%s\"(\"%s\")",
                                       k->name, f->name, k->name, f->name),
                             err);
            }
            if (!rc)
                rc = make_view(st, k, err);
        }
    }
    /* the gatherers of versions and history, beside those of build_kind */
    pg->hbulk = qs__pg_bulk_new(st, "INSERT INTO history(county, id, hash)", "c1, c2, c3", "tbb",
                                " ON CONFLICT DO NOTHING");
    pg->vbulk = qs__pg_bulk_new(
        st,
        "INSERT INTO versions(county, seq, id, kind, scope, gen, hash, parents, ancestry, "
        "hlc, author, deleted, schema, body, head, local, src_peer, src_inc, stored_ms)",
        "c1, " QS_PG_SEQ_SQL(
            "c20",
            "c2") ", c3, c4::int4, c5, c6::int8, c7, c8, c9, "
                  "c10::int8, c11, c12::bool, c13::int4, c14, c15::int2, c16::bool, c17, c18, "
                  "c19::int8",
        "ttbtttbbbttttbtttbtt", ""); /* the parameters of insert_version, in order */
    if (!rc)
        rc = qs__pg_bulk_types(st, make, err);
    return rc;
}

void qs__pg_project_free(qs_store *st)
{
    struct qs_pg *pg = st->pg;
    for (uint32_t i = 0; pg && i < pg->nkinds; i++) {
        qs_pg_kind *pk = &pg->kinds[i];
        for (uint32_t j = 0; pk->k && j < pk->k->nfields; j++)
            free(pk->child_del[j]);
        free(pk->child_del);
        free(pk->child_ins); /* the gatherers: qs__pg_bulk_free_all */
        free(pk->del);
    }
    if (pg)
        free(pg->kinds);
}

static qs_pg_kind *pg_kind(qs_store *st, uint32_t kind)
{
    for (uint32_t i = 0; i < st->pg->nkinds; i++)
        if (st->pg->kinds[i].k && st->pg->kinds[i].k->id == kind)
            return &st->pg->kinds[i];
    return NULL;
}

/* A field's value as a parameter (text format, or bytes); list elements
 * concatenated into *owned, which the caller frees. */
static void param_value(qs_pgp *p, const qs_field *f, const qs_value *v, uint8_t **owned)
{
    if (!v || v->t == QS_V_NIL) {
        qs__pgp_text(p, NULL);
        return;
    }
    if (is_list(f)) {
        uint32_t n = 0;
        if (v->t == QS_V_ARRAY)
            for (uint32_t j = 0; j < v->u.a.n; j++)
                n += v->u.a.v[j].t == QS_V_BIN && v->u.a.v[j].u.s.n == QS_ID_LEN;
        if (n == 0) {
            qs__pgp_text(p, NULL);
            return;
        }
        uint8_t *b = qs_xmalloc((size_t)n * QS_ID_LEN), *q = b;
        for (uint32_t j = 0; j < v->u.a.n; j++)
            if (v->u.a.v[j].t == QS_V_BIN && v->u.a.v[j].u.s.n == QS_ID_LEN) {
                memcpy(q, v->u.a.v[j].u.s.p, QS_ID_LEN);
                q += QS_ID_LEN;
            }
        *owned = b;
        qs__pgp_bin(p, b, (size_t)n * QS_ID_LEN);
        return;
    }
    switch (f->type) {
    case QS_F_TEXT:
    case QS_F_CODE:
        qs__pgp_text(p, v->t == QS_V_STR ? v->u.s.p : NULL);
        return;
    case QS_F_REF:
        if (v->t == QS_V_BIN)
            qs__pgp_bin(p, v->u.s.p, v->u.s.n);
        else
            qs__pgp_text(p, NULL);
        return;
    case QS_F_BOOL:
        if (v->t == QS_V_BOOL)
            qs__pgp_bool(p, v->u.b);
        else
            qs__pgp_text(p, NULL);
        return;
    case QS_F_ENUMSET: {
        if (v->t != QS_V_ARRAY) {
            qs__pgp_text(p, NULL);
            return;
        }
        int64_t mask = 0;
        for (uint32_t i = 0; i < v->u.a.n; i++)
            if (v->u.a.v[i].t == QS_V_INT && v->u.a.v[i].u.i >= 0 && v->u.a.v[i].u.i < 63)
                mask |= (int64_t)1 << v->u.a.v[i].u.i;
        qs__pgp_int(p, mask);
        return;
    }
    default:
        if (v->t == QS_V_INT)
            qs__pgp_int(p, v->u.i);
        else
            qs__pgp_text(p, NULL);
    }
}

int qs__pg_project(qs_store *st, const qs_record *r, const qs_body *body, bool fresh, qs_err *err)
{
    qs_pg_kind *pk = pg_kind(st, r->kind);
    if (!pk || pk->k->local_only)
        return 0;
    const qs_kind *k = pk->k;
    char county[QS_CODE_MAX];
    qs__pg_county(r->scope, county);
    int rc = 0;
    for (uint32_t i = 0; i < k->nfields && !rc && !fresh; i++) {
        if (!pk->child_del[i])
            continue;
        qs_pgp p = {0};
        qs__pgp_text(&p, county);
        qs__pgp_bin(&p, r->id, QS_ID_LEN);
        rc = qs__pg_cmd(st, pk->child_del[i], &p, "updating the projection", err);
    }
    if (rc)
        return rc;
    if (r->deleted) {
        qs_pgp p = {0};
        qs__pgp_text(&p, county);
        qs__pgp_bin(&p, r->id, QS_ID_LEN);
        return qs__pg_cmd(st, pk->del, &p, "updating the projection", err);
    }
    qs_body decoded;
    qs_body_init(&decoded);
    if (!body) {
        qs_err e;
        if (qs_body_decode(r->body, r->body_len, &st->lim, &decoded, &e))
            return qs_err_set(err, QS_ECORRUPT, "stored body does not decode: %s", e.msg);
        body = &decoded;
    }
    qs_pgp p = {0};
    uint8_t *owned[QS_PG_MAXP] = {0};
    qs__pgp_text(&p, county);
    qs__pgp_bin(&p, r->id, QS_ID_LEN);
    qs__pgp_text(&p, r->scope);
    for (uint32_t i = 0; i < k->nfields; i++)
        param_value(&p, &k->fields[i], qs_body_get(body, k->fields[i].id), &owned[i]);
    rc = qs__pg_bulk_add(st, fresh ? pk->insert : pk->upsert, &p, "updating the projection", err);
    for (uint32_t i = 0; i < k->nfields; i++)
        free(owned[i]);
    for (uint32_t i = 0; i < k->nfields && !rc; i++) {
        const qs_value *v = qs_body_get(body, k->fields[i].id);
        if (!pk->child_ins[i] || !v || v->t != QS_V_ARRAY)
            continue;
        for (uint32_t j = 0; j < v->u.a.n && !rc; j++) {
            if (v->u.a.v[j].t != QS_V_BIN)
                continue;
            qs_pgp c = {0};
            qs__pgp_text(&c, county);
            qs__pgp_bin(&c, r->id, QS_ID_LEN);
            qs__pgp_bin(&c, v->u.a.v[j].u.s.p, v->u.a.v[j].u.s.n);
            rc = qs__pg_bulk_add(st, pk->child_ins[i], &c, "updating the projection", err);
        }
    }
    qs_body_free(&decoded);
    return rc;
}

/* ---- versions ---------------------------------------------------------- */

typedef struct head {
    qs_rev rev;
    int flag; /* 1 winner, 2 loser; negated: superseded by the new version */
} head;

/* The heads of record id, after taking its transaction-scoped advisory lock:
 * record decisions on one id take turns across front-ends. */
static int load_heads(qs_store *st, const uint8_t id[QS_ID_LEN], head **out, size_t *n,
                      uint32_t *kind, char scope[QS_CODE_MAX], bool *exists, qs_err *err)
{
    *out = NULL;
    *n = 0;
    *exists = false;
    /* One round trip: the record's advisory lock, then its heads.
     * The lock is the preserved side of the join, so it is taken even when
     * there is no head (a new record: one row of NULLs). */
    int64_t key = 0;
    for (int i = 8; i < 16; i++)
        key = (int64_t)((uint64_t)key << 8 | id[i]);
    qs_pgp p = {0};
    qs__pgp_bin(&p, id, QS_ID_LEN);
    qs__pgp_int(&p, key);
    PGresult *r = qs__pg_q(st,
                           "SELECT v.gen, v.hash, v.head, v.kind, v.scope "
                           "FROM (SELECT pg_advisory_xact_lock($2::int8)) l "
                           "LEFT JOIN versions v ON v.id = $1 AND v.head > 0",
                           &p, "reading a record", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rows = PQntuples(r);
    if (rows == 1 && PQgetisnull(r, 0, 1))
        rows = 0;
    if (rows > 0) {
        *out = qs_xcalloc((size_t)rows, sizeof **out);
        *exists = true;
    }
    for (int i = 0; i < rows; i++) {
        head *h = &(*out)[i];
        h->rev.gen = (uint64_t)qs__pg_int(r, i, 0);
        memcpy(h->rev.hash, PQgetvalue(r, i, 1), QS_HASH_LEN);
        h->flag = (int)qs__pg_int(r, i, 2);
        if (kind)
            *kind = (uint32_t)qs__pg_int(r, i, 3);
        if (scope)
            qs__pg_str(r, i, 4, scope, QS_CODE_MAX);
    }
    *n = (size_t)rows;
    PQclear(r);
    return 0;
}

static int load_version(qs_store *st, const char *scope, const uint8_t id[QS_ID_LEN],
                        const uint8_t hash[QS_HASH_LEN], qs_record *out, qs_err *err)
{
    char county[QS_CODE_MAX];
    qs__pg_county(scope, county);
    qs_pgp p = {0};
    qs__pgp_text(&p, county);
    qs__pgp_bin(&p, id, QS_ID_LEN);
    qs__pgp_bin(&p, hash, QS_HASH_LEN);
    PGresult *r = qs__pg_q(st,
                           "SELECT " QS_PG_VCOLS " FROM versions "
                           "WHERE county = $1 AND id = $2 AND hash = $3",
                           &p, "reading a version", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = 0;
    if (PQntuples(r) == 0)
        rc = qs_err_set(err, QS_ENOTFOUND, "a version is missing");
    else
        qs__pg_row_record(r, 0, 0, out);
    PQclear(r);
    return rc;
}

static int set_flag(qs_store *st, const char *county, const uint8_t id[QS_ID_LEN],
                    const qs_rev *rev, int flag, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_int(&p, flag);
    qs__pgp_text(&p, county);
    qs__pgp_bin(&p, id, QS_ID_LEN);
    qs__pgp_bin(&p, rev->hash, QS_HASH_LEN);
    return qs__pg_cmd(st,
                      "UPDATE versions SET head = $1 WHERE county = $2 AND id = $3 AND hash = $4",
                      &p, "updating a record", err);
}

static bool in_history(qs_store *st, const char *scope, const uint8_t id[QS_ID_LEN],
                       const uint8_t hash[QS_HASH_LEN], int *rc_out, qs_err *err)
{
    char county[QS_CODE_MAX];
    qs__pg_county(scope, county);
    qs_pgp p = {0};
    qs__pgp_text(&p, county);
    qs__pgp_bin(&p, id, QS_ID_LEN);
    qs__pgp_bin(&p, hash, QS_HASH_LEN);
    PGresult *r = qs__pg_q(st,
                           "SELECT 1 FROM versions WHERE county = $1 AND id = $2 AND hash = $3 "
                           "UNION ALL SELECT 1 FROM history WHERE county = $1 AND id = $2 "
                           "AND hash = $3 LIMIT 1",
                           &p, "reading history", err);
    *rc_out = r ? 0 : (err ? err->code : QS_EIO);
    bool yes = r && PQntuples(r) > 0;
    PQclear(r);
    return yes;
}

static int add_history(qs_store *st, const char *county, const uint8_t id[QS_ID_LEN],
                       const uint8_t hash[QS_HASH_LEN], qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, county);
    qs__pgp_bin(&p, id, QS_ID_LEN);
    qs__pgp_bin(&p, hash, QS_HASH_LEN);
    return qs__pg_bulk_add(st, st->pg->hbulk, &p, "writing history", err);
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static int insert_version(qs_store *st, const qs_record *r, int flag, const char *peer,
                          const uint8_t *peer_inc, qs_err *err)
{
    const qs_kind *k = qs_schema_kind(r->kind);
    char county[QS_CODE_MAX];
    qs__pg_county(r->scope, county);
    uint8_t *pb = qs_xmalloc((size_t)(r->nparents ? r->nparents : 1) * PARENT_BYTES);
    for (uint32_t i = 0; i < r->nparents; i++) {
        put_be64(pb + i * PARENT_BYTES, r->parents[i].gen);
        memcpy(pb + i * PARENT_BYTES + 8, r->parents[i].hash, QS_HASH_LEN);
    }
    int64_t slot;
    int rc = qs__pg_slot(st, &slot, err);
    if (rc) {
        free(pb);
        return rc;
    }
    qs_pgp p = {0};
    qs__pgp_text(&p, county);
    qs__pgp_int(&p, slot);
    qs__pgp_bin(&p, r->id, QS_ID_LEN);
    qs__pgp_int(&p, r->kind);
    qs__pgp_text(&p, r->scope);
    qs__pgp_int(&p, (int64_t)r->rev.gen);
    qs__pgp_bin(&p, r->rev.hash, QS_HASH_LEN);
    if (r->nparents)
        qs__pgp_bin(&p, pb, (size_t)r->nparents * PARENT_BYTES);
    else
        qs__pgp_text(&p, NULL);
    if (r->nancestry)
        qs__pgp_bin(&p, r->ancestry, (size_t)r->nancestry * QS_HASH_LEN);
    else
        qs__pgp_text(&p, NULL);
    qs__pgp_int(&p, (int64_t)r->hlc);
    qs__pgp_text(&p, r->author);
    qs__pgp_bool(&p, r->deleted);
    qs__pgp_int(&p, r->schema);
    qs__pgp_bin(&p, r->body ? (const void *)r->body : "", r->body_len);
    qs__pgp_int(&p, flag);
    qs__pgp_bool(&p, k && k->local_only);
    qs__pgp_text(&p, peer);
    if (peer && peer_inc)
        qs__pgp_bin(&p, peer_inc, QS_INC_LEN);
    else
        qs__pgp_text(&p, NULL);
    qs__pgp_int(&p, qs_clock_wall_ms());
    qs__pgp_int(&p, st->pg->seq_base);
    rc = qs__pg_bulk_add(st, st->pg->vbulk, &p, "storing a version", err);
    free(pb);
    return rc;
}

static bool supersedes(const qs_record *r, const qs_rev *h)
{
    for (uint32_t i = 0; i < r->nparents; i++)
        if (qs_rev_eq(&r->parents[i], h))
            return true;
    for (uint32_t i = 0; i < r->nancestry; i++)
        if (memcmp(r->ancestry[i], h->hash, QS_HASH_LEN) == 0)
            return true;
    return false;
}

/* version.c's install: r becomes a head beside the heads it does not
 * supersede; the winner by qs_rev_cmp is projected. */
static int install(qs_store *st, const qs_record *r, head *h, size_t n, const char *peer,
                   const uint8_t *peer_inc, const qs_body *body, bool *conflict, qs_err *err)
{
    int rc;
    char county[QS_CODE_MAX];
    qs__pg_county(r->scope, county);
    const head *old_winner = NULL, *winner = NULL;
    size_t remaining = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].flag == 1)
            old_winner = &h[i];
        if (supersedes(r, &h[i].rev)) {
            h[i].flag = -h[i].flag;
            continue;
        }
        remaining++;
        if (!winner || qs_rev_cmp(&h[i].rev, &winner->rev) > 0)
            winner = &h[i];
    }
    bool r_wins = !winner || qs_rev_cmp(&r->rev, &winner->rev) > 0;
    for (size_t i = 0; i < n; i++) {
        int want = h[i].flag < 0 ? 0 : (!r_wins && &h[i] == winner ? 1 : 2);
        int had = h[i].flag < 0 ? -h[i].flag : h[i].flag;
        if (want != had && (rc = set_flag(st, county, r->id, &h[i].rev, want, err)))
            return rc;
    }
    if ((rc = insert_version(st, r, r_wins ? 1 : 2, peer, peer_inc, err)))
        return rc;
    if (peer) {
        for (uint32_t i = 0; i < r->nparents; i++)
            if ((rc = add_history(st, county, r->id, r->parents[i].hash, err)))
                return rc;
        for (uint32_t i = 0; i < r->nancestry; i++)
            if ((rc = add_history(st, county, r->id, r->ancestry[i], err)))
                return rc;
    }
    if (r_wins) {
        rc = qs__pg_project(st, r, body, n == 0, err); /* no head: no rows to replace */
    } else if (winner != old_winner) {
        qs_record w;
        qs_record_init(&w);
        if ((rc = load_version(st, r->scope, r->id, winner->rev.hash, &w, err)))
            return rc;
        rc = qs__pg_project(st, &w, NULL, false, err);
        qs_record_free(&w);
    }
    *conflict = remaining > 0;
    return rc;
}

/* ---- local edits (the aggregator's corrections, reference data) -------- */

/* refs.c's lookup: whether code is a county record's. */
int qs__pg_county_known(qs_store *st, const char *code, bool *known, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, code);
    PGresult *r = qs__pg_q(st, "SELECT 1 FROM k_county WHERE code = $1 LIMIT 1", &p,
                           "checking the pairing's county", err);
    if (!r)
        return err ? err->code : QS_EIO;
    *known = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

static int write_local(qs_store *st, const qs_kind *k, const char *scope,
                       const uint8_t id[QS_ID_LEN], const qs_rev *parents, uint32_t np,
                       bool deleted, const qs_buf *body, const qs_body *decoded, qs_rev *rev_out,
                       qs_err *err)
{
    for (uint32_t i = 0; i < np; i++)
        if (parents[i].gen >= QS_GEN_MAX)
            return qs_err_set(err, QS_ELIMIT,
                              "a revision is at the last generation a revision may have "
                              "(2^53 - 1): no edit, deletion or resolution can follow it");
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    head *h = NULL;
    size_t n = 0;
    bool exists, conflict;
    qs_hlc hlc;
    qs_record r;
    qs_record_init(&r);
    if ((rc = load_heads(st, id, &h, &n, NULL, NULL, &exists, err)))
        goto done;
    qs__pg_clock_tick(st, &hlc);
    qs__local_version(st, &r, id, k->id, scope, parents, np, deleted, body, hlc);
    rc = install(st, &r, h, n, NULL, NULL, decoded, &conflict, err);
    rc = qs__hook_local(st, rc, err);
    if (!rc && rev_out)
        *rev_out = r.rev;
done:
    free(h);
    qs_record_free(&r);
    return qs__pg_tx_end(st, mine, rc, err);
}

int qs__pg_create(qs_store *st, uint32_t kind, const char *scope, const qs_body *body,
                  uint8_t id_out[QS_ID_LEN], qs_rev *rev, qs_err *err)
{
    const qs_kind *k = qs_schema_kind(kind);
    if (!k)
        return qs_err_set(err, QS_ENOTFOUND, "unknown kind %u", kind);
    if (!scope)
        scope = st->node;
    if (!qs_code_valid(scope))
        return qs_err_set(err, QS_EINVAL, "scope \"%s\" is not a division code", scope);
    if (!qs_scope_level_ok(scope, k->min_level, k->max_level))
        return qs_err_set(err, QS_ESCOPE, "a %s may not have scope %s", k->name, scope);
    if (!qs_scope_can_write(st->node, scope))
        return qs_err_set(err, QS_ESCOPE, "this node (%s) may not write records of %s", st->node,
                          scope);
    if (k->local_only)
        return qs_err_set(err, QS_ESCOPE, "a %s is kept only at its county", k->name);
    int rc = qs__check_body(k, body, err);
    if (!rc)
        rc = qs__refs_check(st, kind, scope, body, err);
    if (rc)
        return rc;
    qs_buf b;
    qs_buf_init(&b, st->lim.max_body);
    if ((rc = qs_body_encode(body, &b, err))) {
        qs_buf_free(&b);
        return rc;
    }
    bool mine, conflict;
    if ((rc = qs__pg_tx_begin(st, &mine, err))) {
        qs_buf_free(&b);
        return rc;
    }
    uint8_t id[QS_ID_LEN];
    qs_hlc hlc;
    qs_uuid7(id, qs_clock_wall_ms());
    qs__pg_clock_tick(st, &hlc);
    qs_record r;
    qs_record_init(&r);
    qs__local_version(st, &r, id, kind, scope, NULL, 0, false, &b, hlc);
    rc = install(st, &r, NULL, 0, NULL, NULL, body, &conflict, err);
    rc = qs__hook_local(st, rc, err);
    if (!rc && id_out)
        memcpy(id_out, r.id, QS_ID_LEN);
    if (!rc && rev)
        *rev = r.rev;
    qs_record_free(&r);
    qs_buf_free(&b);
    return qs__pg_tx_end(st, mine, rc, err);
}

int qs__pg_edit(qs_store *st, const uint8_t id[QS_ID_LEN], const qs_body *body, bool deleted,
                qs_rev *rev, qs_err *err)
{
    qs_record cur;
    int rc = qs__pg_get(st, id, &cur, err);
    if (rc)
        return rc;
    const qs_kind *k;
    qs_buf b;
    qs_buf_init(&b, st->lim.max_body);
    qs_body empty;
    qs_body_init(&empty);
    if ((rc = qs__edit_check(st, id, &cur, &k, err)))
        goto out;
    if (deleted)
        rc = qs_body_encode(&empty, &b, err);
    else if (!(rc = qs__check_body(k, body, err)) &&
             !(rc = qs__refs_check(st, k->id, cur.scope, body, err)))
        rc = qs_body_encode(body, &b, err);
    if (!rc)
        rc = write_local(st, k, cur.scope, id, &cur.rev, 1, deleted, &b, deleted ? NULL : body, rev,
                         err);
out:
    qs_buf_free(&b);
    qs_record_free(&cur);
    return rc;
}

int qs__pg_get(qs_store *st, const uint8_t id[QS_ID_LEN], qs_record *out, qs_err *err)
{
    qs_record_init(out);
    qs_pgp p = {0};
    qs__pgp_bin(&p, id, QS_ID_LEN);
    PGresult *r = qs__pg_q(st, "SELECT " QS_PG_VCOLS " FROM versions WHERE id = $1 AND head = 1",
                           &p, "reading a record", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = 0;
    if (PQntuples(r) > 0) {
        qs__pg_row_record(r, 0, 0, out);
    } else {
        char t[QS_UUID_STR];
        rc = qs_err_set(err, QS_ENOTFOUND, "no record %s", qs_uuid_format(id, t));
    }
    PQclear(r);
    return rc;
}

int qs__pg_history(qs_store *st, const uint8_t id[QS_ID_LEN], qs_version_info **out, size_t *n,
                   qs_err *err)
{
    *out = NULL;
    *n = 0;
    qs_pgp p = {0};
    qs__pgp_bin(&p, id, QS_ID_LEN);
    /* versions of a transaction still open (seq < 0) come after the numbered */
    PGresult *r = qs__pg_q(st,
                           "SELECT seq, head, src_peer, " QS_PG_VCOLS " FROM versions "
                           "WHERE id = $1 ORDER BY seq < 0, abs(seq)",
                           &p, "reading history", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rows = PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        char t[QS_UUID_STR];
        return qs_err_set(err, QS_ENOTFOUND, "no record %s", qs_uuid_format(id, t));
    }
    *out = qs_xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++) {
        qs_version_info *v = &(*out)[i];
        int64_t seq = qs__pg_int(r, i, 0);
        v->seq = seq > 0 ? (uint64_t)seq : 0;
        v->head = (int)qs__pg_int(r, i, 1);
        qs__pg_str(r, i, 2, v->from, sizeof v->from);
        qs__pg_row_record(r, i, 3, &v->rec);
    }
    *n = (size_t)rows;
    PQclear(r);
    return 0;
}

/* ---- conflicts --------------------------------------------------------- */

int qs__pg_conflicts(qs_store *st, qs_conflict **out, size_t *n, qs_err *err)
{
    *out = NULL;
    *n = 0;
    PGresult *r = qs__pg_q(st,
                           "SELECT id, kind, scope, gen, hash, head FROM versions "
                           "WHERE head > 0 AND id IN (SELECT id FROM versions WHERE head = 2) "
                           "ORDER BY id, head, gen DESC, hash DESC",
                           NULL, "listing conflicts", err);
    if (!r)
        return err ? err->code : QS_EIO;
    qs_conflict *c = NULL;
    size_t cap = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        qs_rev rv = {.gen = (uint64_t)qs__pg_int(r, i, 3)};
        memcpy(rv.hash, PQgetvalue(r, i, 4), QS_HASH_LEN);
        c = qs__conflict_row(out, n, &cap, c, (const uint8_t *)PQgetvalue(r, i, 0),
                             (uint32_t)qs__pg_int(r, i, 1), PQgetvalue(r, i, 2), &rv,
                             qs__pg_int(r, i, 5) == 1);
    }
    PQclear(r);
    return 0;
}

int qs__pg_resolve(qs_store *st, const uint8_t id[QS_ID_LEN], const qs_rev *take,
                   const qs_body *body, qs_rev *rev, qs_err *err)
{
    head *h = NULL;
    size_t n = 0;
    bool exists;
    uint32_t kind = 0;
    char scope[QS_CODE_MAX] = "";
    qs_record chosen;
    qs_record_init(&chosen);
    qs_buf b;
    qs_buf_init(&b, st->lim.max_body);
    qs_rev *parents = NULL;
    bool mine, deleted = false;
    const qs_kind *k = NULL;
    size_t at = 0;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    if ((rc = load_heads(st, id, &h, &n, &kind, scope, &exists, err)) ||
        (rc = qs__resolve_check(st, id, n, kind, scope, take, body, &k, err)))
        goto done;
    parents = qs_xcalloc(n, sizeof *parents);
    for (size_t i = 0; i < n; i++)
        parents[i] = h[i].rev;
    if (take) {
        if ((rc = qs__resolve_pick(parents, n, take, &at, err)) ||
            (rc = load_version(st, scope, id, parents[at].hash, &chosen, err)))
            goto done;
        deleted = chosen.deleted;
        rc = qs_buf_append(&b, chosen.body, chosen.body_len);
    } else if (!(rc = qs__check_body(k, body, err))) {
        rc = qs_body_encode(body, &b, err);
    }
    if (rc)
        goto done;
    rc = write_local(st, k, scope, id, parents, (uint32_t)n, deleted, &b, NULL, rev, err);
done:
    free(parents);
    free(h);
    qs_buf_free(&b);
    qs_record_free(&chosen);
    return qs__pg_tx_end(st, mine, rc, err);
}

/* ---- applying remote versions ------------------------------------------ */

static int note_rejection(qs_store *st, const char *peer, const qs_record *r, bool outgoing,
                          const char *reason, qs_err *err)
{
    char county[QS_CODE_MAX];
    qs__pg_county(r->scope, county);
    qs_pgp p = {0};
    qs__pgp_text(&p, county);
    qs__pgp_bin(&p, r->id, QS_ID_LEN);
    qs__pgp_int(&p, r->kind);
    qs__pgp_text(&p, r->scope);
    qs__pgp_int(&p, (int64_t)r->rev.gen);
    qs__pgp_bin(&p, r->rev.hash, QS_HASH_LEN);
    qs__pgp_text(&p, peer ? peer : "");
    qs__pgp_bool(&p, outgoing);
    qs__pgp_text(&p, reason ? reason : "");
    qs__pgp_int(&p, qs_clock_wall_ms());
    return qs__pg_cmd(st,
                      "INSERT INTO rejections(county, id, kind, scope, gen, hash, peer, outgoing, "
                      "reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                      "ON CONFLICT (county, id, hash, peer, outgoing) DO UPDATE SET "
                      "kind = EXCLUDED.kind, scope = EXCLUDED.scope, gen = EXCLUDED.gen, "
                      "reason = EXCLUDED.reason, at = EXCLUDED.at",
                      &p, "noting a rejection", err);
}

int qs__pg_note_rejected(qs_store *st, const char *peer, const qs_record *rec, const char *reason,
                         qs_err *err)
{
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    rc = note_rejection(st, peer, rec, true, reason, err);
    return qs__pg_tx_end(st, mine, rc, err);
}

static int park(qs_store *st, const char *peer, qs_direction dir, const qs_record *r, qs_err *err)
{
    qs_buf w;
    qs_buf_init(&w, 0);
    int rc = qs_record_encode(r, &w, err);
    if (!rc) {
        char county[QS_CODE_MAX];
        qs__pg_county(r->scope, county);
        qs_pgp p = {0};
        qs__pgp_text(&p, county);
        qs__pgp_bin(&p, r->id, QS_ID_LEN);
        qs__pgp_bin(&p, r->rev.hash, QS_HASH_LEN);
        qs__pgp_int(&p, r->kind);
        qs__pgp_text(&p, peer);
        qs__pgp_int(&p, dir);
        qs__pgp_bin(&p, w.data, w.len);
        qs__pgp_int(&p, qs_clock_wall_ms());
        rc = qs__pg_cmd(st,
                        "INSERT INTO parked(county, id, hash, kind, peer, dir, wire, at) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                        &p, "parking a record", err);
    }
    qs_buf_free(&w);
    return rc;
}

/* new: the batch's lookup (prefetch) found no version of r->id and r is
 * its first record with that id, so there are no heads to read. */
static int apply_one(qs_store *st, const char *peer, const uint8_t *peer_inc, qs_direction dir,
                     const qs_record *r, const qs_precheck *pre, bool new, qs_apply_result *res,
                     qs_err *err)
{
    int rc = 0;
    qs_body scratch;
    qs_body_init(&scratch);
    const qs_body *body;
    head *h = NULL;
    size_t n = 0;
    bool exists = false, conflict = false, dup = false;
    uint32_t kind = 0;
    char scope[QS_CODE_MAX] = "", note[QS_REASON_MAX];
    int verdict = qs__received_verdict(st, peer, dir, r, pre, &scratch, &body, res);
    if (verdict == QS_PRE_PARKED) {
        rc = park(st, peer, dir, r, err);
        goto out;
    }
    if (verdict != QS_PRE_OK && verdict != QS_PRE_AUTHOR) {
        rc = note_rejection(st, peer, r, false, res->reason, err);
        goto out;
    }
    /* gathered rows first (pg_bulk.c): an earlier record of the batch may
     * be this one */
    if (!new && ((rc = qs__pg_bulk_flush(st, err)) ||
                 (rc = load_heads(st, r->id, &h, &n, &kind, scope, &exists, err))))
        goto out;
    dup = exists && in_history(st, scope, r->id, r->rev.hash, &rc, err);
    if (rc)
        goto out;
    switch (qs__apply_decide(peer, verdict, r, exists, dup, kind, scope, res, note)) {
    case QS_STEP_DONE:
        break;
    case QS_STEP_REJECT:
        rc = note_rejection(st, peer, r, false, note, err);
        break;
    case QS_STEP_INSTALL:
        if ((rc = qs__hook_apply(st, err)))
            break;
        rc = install(st, r, h, n, peer, peer_inc, r->deleted ? NULL : body, &conflict, err);
        if (!rc)
            qs__result(res, conflict ? QS_OUT_CONFLICT : QS_OUT_APPLIED, NULL);
        break;
    }
out:
    free(h);
    qs_body_free(&scratch);
    return rc;
}

static uint64_t id_key(const uint8_t id[QS_ID_LEN])
{
    uint64_t key = 0;
    for (int i = 8; i < 16; i++)
        key = key << 8 | id[i];
    return key;
}

static int cmp_key(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Two round trips for a whole batch: every record's advisory lock, taken in
 * key order (so two front-ends never wait on each other in a cycle), then
 * which of its ids are held already. fresh[j]: recs[j]'s id is not, and no
 * earlier record of the batch has it. */
static int prefetch(qs_store *st, const qs_apply_batch *b, bool *fresh, qs_err *err)
{
    if (b->n == 0)
        return 0;
    int64_t *keys = qs_xcalloc(b->n, sizeof *keys);
    size_t cap = (size_t)b->n * 40 + 8;
    char *ka = qs_xmalloc(cap), *ia = qs_xmalloc(cap);
    size_t kl = 0, il = 0;
    for (uint32_t j = 0; j < b->n; j++)
        keys[j] = (int64_t)id_key(b->recs[j].id);
    qsort(keys, b->n, sizeof *keys, cmp_key);
    ka[kl++] = '{';
    ia[il++] = '{';
    for (uint32_t j = 0; j < b->n; j++) {
        kl += (size_t)snprintf(ka + kl, cap - kl, "%s%lld", j ? "," : "", (long long)keys[j]);
        il += (size_t)snprintf(ia + il, cap - il, "%s\"\\\\x", j ? "," : "");
        for (int k = 0; k < QS_ID_LEN; k++)
            il += (size_t)snprintf(ia + il, cap - il, "%02x", b->recs[j].id[k]);
        ia[il++] = '"';
    }
    snprintf(ka + kl, cap - kl, "}");
    snprintf(ia + il, cap - il, "}");
    qs_pgp p = {0};
    qs__pgp_text(&p, ka);
    int rc = 0;
    PGresult *r = qs__pg_q(st,
                           "SELECT count(pg_advisory_xact_lock(k)) FROM "
                           "(SELECT k FROM unnest($1::int8[]) k ORDER BY k) s",
                           &p, "locking records", err);
    if (!r)
        rc = err ? err->code : QS_EIO;
    PQclear(r);
    qs_pgp q = {0};
    qs__pgp_text(&q, ia);
    r = rc ? NULL
           : qs__pg_q(st,
                      "SELECT DISTINCT id FROM versions WHERE id = ANY($1::bytea[]) AND head > 0",
                      &q, "reading records", err);
    if (!rc && !r)
        rc = err ? err->code : QS_EIO;
    for (uint32_t j = 0; j < b->n && !rc; j++) {
        bool held = false, earlier = false;
        for (int x = 0; x < PQntuples(r) && !held; x++)
            held = PQgetlength(r, x, 0) == QS_ID_LEN &&
                   memcmp(PQgetvalue(r, x, 0), b->recs[j].id, QS_ID_LEN) == 0;
        for (uint32_t y = 0; y < j && !earlier; y++)
            earlier = memcmp(b->recs[y].id, b->recs[j].id, QS_ID_LEN) == 0;
        fresh[j] = !held && !earlier;
    }
    PQclear(r);
    free(keys);
    free(ka);
    free(ia);
    return rc;
}

int qs__pg_apply(qs_store *st, qs_apply_batch *b, size_t nb, qs_err *err)
{
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    /* The writes of the batch go out without waiting for each answer
     * (pipeline mode): each record costs the round trip of its lookup. */
    st->pg->defer = true;
    st->pg->bulking = true;
    size_t held = 0; /* records (advisory locks) in this transaction */
    for (size_t i = 0; i < nb && !rc; i++) {
        /* Each record holds an advisory lock to the end of its transaction,
         * in PostgreSQL's shared lock table (max_locks_per_transaction x
         * max_connections entries for the whole server): a transaction of
         * many batches (link.c groups up to 64) commits every
         * QS_PG_TX_RECORDS records, at a batch's end. Safe: a batch is
         * whole with its cursor in one transaction, and a failure later on
         * only makes the caller apply the committed ones again, as
         * duplicates. */
        if (mine && held > 0 && held + b[i].n > QS_PG_TX_RECORDS) {
            if ((rc = qs__pg_bulk_flush(st, err)) || (rc = qs__pg_tx_end(st, true, 0, err)) ||
                (rc = qs__pg_tx_begin(st, &mine, err)))
                break;
            held = 0;
        }
        held += b[i].n;
        bool *fresh = qs_xcalloc(b[i].n ? b[i].n : 1, sizeof *fresh);
        rc = prefetch(st, &b[i], fresh, err);
        for (uint32_t j = 0; j < b[i].n && !rc; j++)
            rc = apply_one(st, b[i].peer, b[i].peer_inc, b[i].dir, &b[i].recs[j],
                           b[i].pre ? &b[i].pre[j] : NULL, fresh[j], &b[i].results[j], err);
        free(fresh);
        if (!rc) {
            qs_pgp p = {0};
            qs__pgp_text(&p, b[i].peer);
            qs__pgp_int(&p, (int64_t)b[i].cursor);
            rc = qs__pg_cmd(st,
                            "INSERT INTO peers(peer, recv_cursor) VALUES ($1, $2) "
                            "ON CONFLICT (peer) DO UPDATE SET recv_cursor = EXCLUDED.recv_cursor",
                            &p, "storing a cursor", err);
        }
    }
    if (!rc)
        rc = qs__pg_bulk_flush(st, err);
    else
        qs__pg_bulk_discard(st);
    st->pg->bulking = false;
    st->fail_after = -1;
    st->pg->defer = false;
    return qs__pg_tx_end(st, mine, rc, err);
}

/* ---- ancestry for the feed --------------------------------------------- */

int qs__pg_ancestry(qs_store *st, qs_record *r, qs_err *err)
{
    uint32_t max = st->lim.max_ancestry;
    if (r->nparents == 0 || max == 0)
        return 0;
    uint8_t(*a)[QS_HASH_LEN] = qs_xcalloc(max, QS_HASH_LEN);
    uint32_t n = 0;
    char county[QS_CODE_MAX];
    qs__pg_county(r->scope, county);
    for (uint32_t i = 0; i < r->nparents && n < max; i++)
        memcpy(a[n++], r->parents[i].hash, QS_HASH_LEN);
    int rc = 0;
    for (uint32_t q = 0; q < n && n < max && !rc; q++) {
        qs_pgp p = {0};
        qs__pgp_text(&p, county);
        qs__pgp_bin(&p, r->id, QS_ID_LEN);
        qs__pgp_bin(&p, a[q], QS_HASH_LEN);
        PGresult *res = qs__pg_q(st,
                                 "SELECT parents, ancestry FROM versions "
                                 "WHERE county = $1 AND id = $2 AND hash = $3",
                                 &p, "reading ancestry", err);
        if (!res) {
            rc = err ? err->code : QS_EIO;
            break;
        }
        for (int col = 0; col < 2 && PQntuples(res) > 0; col++)
            qs__ancestry_add(a, &n, max, (const uint8_t *)PQgetvalue(res, 0, col),
                             PQgetlength(res, 0, col), col == 0);
        PQclear(res);
    }
    if (!rc)
        qs_record_set_ancestry(r, (const uint8_t(*)[QS_HASH_LEN])a, n);
    free(a);
    return rc;
}

/* Parked versions whose kind this build knows now: applied, then unparked
 * (version.c's qs__apply_parked). */
int qs__pg_apply_parked(qs_store *st, qs_err *err)
{
    PGresult *r = qs__pg_q(st, "SELECT county, id, hash, kind, peer, dir, wire FROM parked", NULL,
                           "reading parked records", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rows = PQntuples(r), rc = 0;
    bool any = false;
    for (int i = 0; i < rows; i++)
        any = any || qs_schema_kind((uint32_t)qs__pg_int(r, i, 3)) != NULL;
    bool mine = false;
    if (any)
        rc = qs__pg_tx_begin(st, &mine, err);
    for (int i = 0; any && i < rows && !rc; i++) {
        if (!qs_schema_kind((uint32_t)qs__pg_int(r, i, 3)))
            continue;
        char peer[QS_NODE_MAX];
        qs__pg_str(r, i, 4, peer, sizeof peer);
        qs_record rec;
        qs_apply_result res;
        if (qs_record_decode((const uint8_t *)PQgetvalue(r, i, 6), (size_t)PQgetlength(r, i, 6),
                             &st->lim, &rec, NULL) == 0) {
            rc = apply_one(st, peer, NULL, (qs_direction)qs__pg_int(r, i, 5), &rec, NULL, false,
                           &res, err);
            qs_record_free(&rec);
        }
        qs_pgp p = {0};
        qs__pgp_text(&p, PQgetvalue(r, i, 0));
        qs__pgp_bin(&p, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
        qs__pgp_bin(&p, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
        if (!rc)
            rc = qs__pg_cmd(st, "DELETE FROM parked WHERE county = $1 AND id = $2 AND hash = $3",
                            &p, "unparking", err);
    }
    if (any)
        rc = qs__pg_tx_end(st, mine, rc, err);
    PQclear(r);
    return rc;
}
