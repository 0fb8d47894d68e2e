/*
 * project.c — the typed projection, generated from the one schema.
 *
 * Each kind K gets a table k_<K>(id BLOB PRIMARY KEY, scope TEXT, seq INTEGER,
 * one column per field), holding the winner of every live record of that
 * kind. Column types: TEXT and CODE as TEXT; INT, MONEY, DATE, BOOL, ENUM as
 * INTEGER; ENUMSET as an INTEGER bitmask (bit = code); REF as BLOB. List
 * fields (REFLIST, DIGESTS) get a side table k_<K>__<field>(id, v) with one
 * row per element (lookups by element), and a BLOB column of the same name in
 * k_<K> holding the elements (16 bytes each, as validation requires)
 * concatenated in body order, NULL when there are none: a query that reads a
 * record's whole list (the report, one pass over the service logs) gets it
 * from the row, or from an index that covers it, without a lookup per record.
 * A field added to the schema adds its column at the next open, and the kind
 * is re-projected from the stored bodies. Which indexes each kind's table has
 * in a store of each role, and the report's indexes (REPORT_DDL: on an
 * aggregator, where the report runs over every county; a county does without
 * them, so its imports and edits do not pay for them), are decided here too
 * and made with the tables, not at first use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/xmalloc.h"
#include "store/internal.h"

static bool is_list(const qs_field *f)
{
    return f->type == QS_F_REFLIST || f->type == QS_F_DIGESTS;
}

/* How the projection is made from the schema, beyond the schema itself:
 * raise it when project.c changes what a table or column holds, so that
 * existing stores are re-projected at their next open.
 * 2: list fields also as a BLOB column in k_<K>. */
#define PROJECTION_FORMAT 2

/* ---------------------------------------------------------------------------
 * Index policy: which indexes the projection of each kind has in a store of
 * each role, and the indexes the report reads through. All of it is here, so
 * that the tables and their indexes are made (and fingerprinted) in one place.
 */

/* Whether the projection of a kind has an index on its scope or on each of its
 * references. */
typedef enum proj_index { PROJ_SCOPE, PROJ_REFS } proj_index;

/* The report's indexes on the projection of an aggregator's store (the
 * queries they serve are in report.c). They are made with the projection
 * (qs__project_init runs this whenever it builds or upgrades the tables, and
 * its text is part of the projection's fingerprint), never at a report's
 * first use.
 * rep_service_log holds every column the service-log pass reads, so that
 * pass is one range scan of this index per scope and never visits the table.
 * Its order is (scope, seq): arrival order within a scope, so the county
 * records an aggregator takes in are appended at a few places, not inserted
 * all over it (ordered by date, a backlog in any date order dirties a page per
 * log per batch, and the initial sync is several times slower). The pass
 * reads every year of a scope and keeps the period's logs;
 * rep_workday_cover does the same for the work-day queries. The indexes
 * dropped first are those of the earlier method (a lookup per service log).
 * rep_service_log begins with scope, so the projection's own scope index of
 * k_service would be a second copy of the same order, one more b-tree to
 * write per service log taken in: it goes. So does the index of the service
 * logs' station: nothing at the province reads logs by station but `list
 * service station=…`, and keeping it is a large share of the aggregator's
 * work per log taken in (its entries go to the end of each station's run, in
 * the middle of the tree; the measurements are in tests/bench/README.md). has_index says so to
 * ensure_tables, which then does not make them (and drops them from a store an earlier build made).
 */
/* The heads of records in conflict, asked by every status, home page and
 * conflicts list: a partial index holds only them (else every version is
 * read). Both roles. */
#define OPEN_CONFLICTS_DDL                                                                         \
    "CREATE INDEX IF NOT EXISTS versions_open ON versions(id) WHERE head = 2;"

static const char REPORT_DDL[] =
    "DROP INDEX IF EXISTS rep_service_scope;"
    "DROP INDEX IF EXISTS rep_workday_person;"
    "DROP INDEX IF EXISTS rep_service_cover;"
    "CREATE INDEX IF NOT EXISTS rep_service_log ON k_service(scope, seq, date, service_type, "
    "domain, categories, minors, minutes, total, workers, pseudonyms);"
    "DROP INDEX IF EXISTS rep_workday_pairing;"
    "CREATE INDEX IF NOT EXISTS rep_workday_cover ON k_workday(pairing, date, person);"
    "CREATE INDEX IF NOT EXISTS rep_expense_pairing ON k_expense(pairing, "
    "date);" OPEN_CONFLICTS_DDL;

/* A county (its own store holds one county's logs, and its imports and edits
 * should not pay for the province's indexes): none; its report is planned
 * over the projection's own indexes (references) and reads the service logs
 * with one scan of the table. Nor does it keep a scope index of its service
 * logs: they all have its own scope (or, given with --scope, one of its
 * townships'), so that index would order nothing and the report reads them
 * all anyway; it was a noticeable share of an import (tests/bench/README.md). */
static const char REPORT_DDL_COUNTY[] =
    "DROP INDEX IF EXISTS rep_service_scope;"
    "DROP INDEX IF EXISTS rep_workday_person;"
    "DROP INDEX IF EXISTS rep_service_cover;"
    "DROP INDEX IF EXISTS rep_service_log;"
    "DROP INDEX IF EXISTS rep_workday_pairing;"
    "DROP INDEX IF EXISTS rep_workday_cover;"
    "DROP INDEX IF EXISTS rep_expense_pairing;"
    /* The lists a clerk pages through (qianshou-web, `list service
     * date=2024-03 station=…`): service logs by month, and by station and
     * month. The second leads with the station, so it also serves every
     * lookup by station and stands in for that reference's own index
     * (ref_index). */
    "CREATE INDEX IF NOT EXISTS list_service_date ON k_service(date);"
    "CREATE INDEX IF NOT EXISTS list_service_station_date ON k_service(station, "
    "date);" OPEN_CONFLICTS_DDL;

static const char *report_ddl(qs_role role)
{
    return role == QS_ROLE_AGGREGATOR ? REPORT_DDL : REPORT_DDL_COUNTY;
}

/* Every kind has both, but the service logs: no scope index in any role, and
 * reference indexes only at a county (REPORT_DDL says why). */
static bool has_index(qs_role role, uint32_t kind, proj_index which)
{
    if (kind != QS_K_SERVICE)
        return true;
    return which == PROJ_REFS && role != QS_ROLE_AGGREGATOR;
}

/* Whether reference field f of kind has its own index, given that has_index
 * says the kind's references are indexed: not a county's service-log station,
 * which list_service_station_date begins with. */
static bool ref_index(qs_role role, uint32_t kind, const qs_field *f)
{
    return !(role != QS_ROLE_AGGREGATOR && kind == QS_K_SERVICE && strcmp(f->name, "station") == 0);
}

/* ---------------------------------------------------------------------------
 * Tables
 */

static const char *col_type(const qs_field *f)
{
    switch (f->type) {
    case QS_F_TEXT:
    case QS_F_CODE:
        return "TEXT";
    case QS_F_REF:
    case QS_F_REFLIST:
    case QS_F_DIGESTS:
        return "BLOB";
    default:
        return "INTEGER";
    }
}

static int prep(qs_store *st, const char *sql, sqlite3_stmt **out, qs_err *err)
{
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    return rc == SQLITE_OK ? 0 : qs__sqlerr(st, rc, "preparing the projection", err);
}

static bool has_column(qs_store *st, const char *table, const char *col)
{
    char *sql = sqlite3_mprintf("SELECT 1 FROM pragma_table_info(%Q) WHERE name = %Q", table, col);
    sqlite3_stmt *s = NULL;
    bool yes =
        sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    sqlite3_free(sql);
    return yes;
}

static int reproject_kind(qs_store *st, const qs_kind *k, qs_err *err);

/* Create or extend the tables of kind k; *added = a column was added. */
static int ensure_tables(qs_store *st, const qs_kind *k, bool *added, qs_err *err)
{
    char table[64];
    int rc;
    snprintf(table, sizeof table, "k_%s", k->name);
    *added = false;
    char *sql = sqlite3_mprintf("CREATE TABLE IF NOT EXISTS \"%w\"(id BLOB PRIMARY KEY, "
                                "scope TEXT NOT NULL, seq INTEGER NOT NULL)",
                                table);
    rc = qs__exec(st, sql, err);
    sqlite3_free(sql);
    if (rc)
        return rc;
    if (has_index(st->role, k->id, PROJ_SCOPE))
        sql = sqlite3_mprintf("CREATE INDEX IF NOT EXISTS \"%w_scope\" ON \"%w\"(scope)", table,
                              table);
    else
        sql = sqlite3_mprintf("DROP INDEX IF EXISTS \"%w_scope\"", table);
    rc = qs__exec(st, sql, err);
    sqlite3_free(sql);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_field *f = &k->fields[i];
        if (is_list(f)) {
            sql = sqlite3_mprintf(
                "CREATE TABLE IF NOT EXISTS \"%w__%w\"(id BLOB NOT NULL, v BLOB NOT NULL);"
                "CREATE INDEX IF NOT EXISTS \"%w__%w_id\" ON \"%w__%w\"(id);"
                "CREATE INDEX IF NOT EXISTS \"%w__%w_v\" ON \"%w__%w\"(v);",
                table, f->name, table, f->name, table, f->name, table, f->name, table, f->name);
            rc = qs__exec(st, sql, err);
            sqlite3_free(sql);
            if (rc)
                return rc;
        }
        if (has_column(st, table, f->name))
            continue;
        sql =
            sqlite3_mprintf("ALTER TABLE \"%w\" ADD COLUMN \"%w\" %s", table, f->name, col_type(f));
        rc = qs__exec(st, sql, err);
        sqlite3_free(sql);
        if (rc)
            return rc;
        *added = true;
    }
    /* References are what lookups and report joins go through. */
    bool refs = has_index(st->role, k->id, PROJ_REFS);
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_field *f = &k->fields[i];
        if (f->type != QS_F_REF)
            continue;
        if (refs && ref_index(st->role, k->id, f))
            sql = sqlite3_mprintf("CREATE INDEX IF NOT EXISTS \"%w_%w\" ON \"%w\"(\"%w\")", table,
                                  f->name, table, f->name);
        else
            sql = sqlite3_mprintf("DROP INDEX IF EXISTS \"%w_%w\"", table, f->name);
        rc = qs__exec(st, sql, err);
        sqlite3_free(sql);
        if (rc)
            return rc;
    }
    return 0;
}

static int prepare_kind(qs_store *st, kind_sql *ks, qs_err *err)
{
    const qs_kind *k = ks->k;
    char table[64];
    int rc;
    snprintf(table, sizeof table, "k_%s", k->name);
    qs_buf cols, vals;
    qs_buf_init(&cols, 0);
    qs_buf_init(&vals, 0);
    for (uint32_t i = 0; i < k->nfields; i++) {
        char *c = sqlite3_mprintf(", \"%w\"", k->fields[i].name);
        qs_buf_append(&cols, c, strlen(c));
        qs_buf_append(&vals, ", ?", 3);
        sqlite3_free(c);
    }
    qs_buf_append(&cols, "", 1);
    qs_buf_append(&vals, "", 1);
    char *sql =
        sqlite3_mprintf("INSERT OR REPLACE INTO \"%w\"(id, scope, seq%s) VALUES (?, ?, ?%s)", table,
                        (char *)cols.data, (char *)vals.data);
    qs_buf_free(&cols);
    qs_buf_free(&vals);
    rc = prep(st, sql, &ks->upsert, err);
    sqlite3_free(sql);
    if (rc)
        return rc;
    sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE id = ?", table);
    rc = prep(st, sql, &ks->del, err);
    sqlite3_free(sql);
    if (rc)
        return rc;
    ks->child_del = qs_xcalloc(k->nfields ? k->nfields : 1, sizeof *ks->child_del);
    ks->child_ins = qs_xcalloc(k->nfields ? k->nfields : 1, sizeof *ks->child_ins);
    for (uint32_t i = 0; i < k->nfields; i++) {
        if (!is_list(&k->fields[i]))
            continue;
        sql = sqlite3_mprintf("DELETE FROM \"%w__%w\" WHERE id = ?", table, k->fields[i].name);
        rc = prep(st, sql, &ks->child_del[i], err);
        sqlite3_free(sql);
        if (rc)
            return rc;
        sql = sqlite3_mprintf("INSERT INTO \"%w__%w\"(id, v) VALUES (?, ?)", table,
                              k->fields[i].name);
        rc = prep(st, sql, &ks->child_ins[i], err);
        sqlite3_free(sql);
        if (rc)
            return rc;
    }
    return 0;
}

/* A fingerprint of everything that shapes the projection (FNV-1a over
 * PROJECTION_FORMAT, the report's index DDL for this role, and the schema's
 * kinds, which indexes their projection has in this role, and their fields):
 * when the database already has the projection of this very schema, made
 * this very way, opening it needs no DDL and no write transaction. */
static int64_t schema_fingerprint(qs_role role)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    MIX(PROJECTION_FORMAT);
    for (const char *c = report_ddl(role); *c; c++)
        MIX((unsigned char)*c);
    for (uint32_t i = 0; i < qs_schema_nkinds(); i++) {
        const qs_kind *k = qs_schema_kind_at(i);
        MIX(k->id);
        MIX(has_index(role, k->id, PROJ_SCOPE));
        MIX(has_index(role, k->id, PROJ_REFS));
        for (const char *c = k->name; *c; c++)
            MIX((unsigned char)*c);
        for (uint32_t j = 0; j < k->nfields; j++) {
            MIX(k->fields[j].id);
            MIX(k->fields[j].type);
            for (const char *c = k->fields[j].name; *c; c++)
                MIX((unsigned char)*c);
        }
    }
#undef MIX
    return (int64_t)(h >> 1);
}

int qs__project_init(qs_store *st, qs_err *err)
{
    int rc = 0;
    uint32_t n = qs_schema_nkinds();
    bool *added = qs_xcalloc(n ? n : 1, sizeof *added);
    st->ksql = qs_xcalloc(n ? n : 1, sizeof *st->ksql);
    st->nksql = n;
    for (uint32_t i = 0; i < n; i++)
        st->ksql[i].k = qs_schema_kind_at(i);
    int64_t want = schema_fingerprint(st->role), have = 0;
    bool current = qs__meta_get_int(st, "projection", &have, NULL) == 0 && have == want;
    if (!current) {
        if ((rc = qs__exec(st, "BEGIN IMMEDIATE", err)))
            goto out;
        for (uint32_t i = 0; i < n && !rc; i++)
            rc = ensure_tables(st, st->ksql[i].k, &added[i], err);
    }
    if (current)
        goto out;
    for (uint32_t i = 0; i < n && !rc; i++)
        if (added[i])
            rc = reproject_kind(st, st->ksql[i].k, err);
    if (!rc)
        rc = qs__exec(st, report_ddl(st->role), err);
    if (!rc)
        rc = qs__meta_set_int(st, "projection", want, err);
    if (rc)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    else
        rc = qs__exec(st, "COMMIT", err);
out:
    free(added);
    return rc;
}

static void free_kind(kind_sql *ks)
{
    sqlite3_finalize(ks->upsert);
    sqlite3_finalize(ks->del);
    for (uint32_t j = 0; ks->k && j < ks->k->nfields; j++) {
        if (ks->child_del)
            sqlite3_finalize(ks->child_del[j]);
        if (ks->child_ins)
            sqlite3_finalize(ks->child_ins[j]);
    }
    free(ks->child_del);
    free(ks->child_ins);
    *ks = (kind_sql){.k = ks->k};
}

void qs__project_free(qs_store *st)
{
    for (uint32_t i = 0; i < st->nksql; i++)
        free_kind(&st->ksql[i]);
    free(st->ksql);
    st->ksql = NULL;
    st->nksql = 0;
}

/* The statements of kind, prepared at its first use: a process that writes
 * one record (`qianshou add`) prepares one kind's, not all of them. *out is
 * NULL for a kind this build does not know (it has no projection). */
static int kind_sql_for(qs_store *st, uint32_t kind, kind_sql **out, qs_err *err)
{
    *out = NULL;
    for (uint32_t i = 0; i < st->nksql; i++) {
        kind_sql *ks = &st->ksql[i];
        if (ks->k->id != kind)
            continue;
        if (!ks->upsert) {
            int rc = prepare_kind(st, ks, err);
            if (rc) {
                free_kind(ks);
                return rc;
            }
        }
        *out = ks;
        return 0;
    }
    return 0;
}

/* Values are bound SQLITE_STATIC: the body outlives the statement's step
 * (step_done runs it, resets it and clears the bindings before qs__project
 * returns), so SQLite need not copy each text. */
static void bind_value(sqlite3_stmt *s, int col, const qs_field *f, const qs_value *v)
{
    if (!v || v->t == QS_V_NIL) {
        sqlite3_bind_null(s, col);
        return;
    }
    switch (f->type) {
    case QS_F_TEXT:
    case QS_F_CODE:
        if (v->t == QS_V_STR)
            sqlite3_bind_text(s, col, v->u.s.p, (int)v->u.s.n, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, col);
        return;
    case QS_F_REF:
        if (v->t == QS_V_BIN)
            sqlite3_bind_blob(s, col, v->u.s.p, (int)v->u.s.n, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, col);
        return;
    case QS_F_BOOL:
        if (v->t == QS_V_BOOL)
            sqlite3_bind_int(s, col, v->u.b);
        else
            sqlite3_bind_null(s, col);
        return;
    case QS_F_ENUMSET: {
        if (v->t != QS_V_ARRAY) {
            sqlite3_bind_null(s, col);
            return;
        }
        int64_t mask = 0;
        for (uint32_t i = 0; i < v->u.a.n; i++)
            if (v->u.a.v[i].t == QS_V_INT && v->u.a.v[i].u.i >= 0 && v->u.a.v[i].u.i < 63)
                mask |= (int64_t)1 << v->u.a.v[i].u.i;
        sqlite3_bind_int64(s, col, mask);
        return;
    }
    default:
        if (v->t == QS_V_INT)
            sqlite3_bind_int64(s, col, v->u.i);
        else
            sqlite3_bind_null(s, col);
        return;
    }
}

/* A list field's column: its 16-byte elements concatenated in body order
 * (validation admits no other), NULL when there are none. */
static void bind_list(sqlite3_stmt *s, int col, const qs_value *v)
{
    uint32_t n = 0;
    if (v && v->t == QS_V_ARRAY)
        for (uint32_t j = 0; j < v->u.a.n; j++)
            n += v->u.a.v[j].t == QS_V_BIN && v->u.a.v[j].u.s.n == QS_ID_LEN;
    if (n == 0) {
        sqlite3_bind_null(s, col);
        return;
    }
    uint8_t *p = qs_xmalloc((size_t)n * QS_ID_LEN), *q = p;
    for (uint32_t j = 0; j < v->u.a.n; j++) {
        const qs_value *e = &v->u.a.v[j];
        if (e->t == QS_V_BIN && e->u.s.n == QS_ID_LEN) {
            memcpy(q, e->u.s.p, QS_ID_LEN);
            q += QS_ID_LEN;
        }
    }
    sqlite3_bind_blob(s, col, p, (int)(n * QS_ID_LEN), free);
}

static int step_done(qs_store *st, sqlite3_stmt *s, qs_err *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "updating the projection", err);
}

int qs__project(qs_store *st, const qs_record *r, uint64_t seq, const qs_body *body, bool fresh,
                qs_err *err)
{
    kind_sql *ks;
    int rc = kind_sql_for(st, r->kind, &ks, err);
    if (rc || !ks)
        return rc; /* an unknown kind has no projection */
    const qs_kind *k = ks->k;
    for (uint32_t i = 0; i < k->nfields && !fresh; i++) {
        if (!ks->child_del[i])
            continue;
        sqlite3_bind_blob(ks->child_del[i], 1, r->id, QS_ID_LEN, SQLITE_STATIC);
        if ((rc = step_done(st, ks->child_del[i], err)))
            return rc;
    }
    if (r->deleted) {
        sqlite3_bind_blob(ks->del, 1, r->id, QS_ID_LEN, SQLITE_STATIC);
        return step_done(st, ks->del, err);
    }
    qs_body decoded;
    qs_body_init(&decoded);
    if (!body) {
        qs_err e;
        if (qs_body_decode(r->body, r->body_len, &st->lim, &decoded, &e))
            return qs_err_set(err, QS_ECORRUPT, "stored body does not decode: %s", e.msg);
        body = &decoded;
    }
    sqlite3_stmt *s = ks->upsert;
    sqlite3_bind_blob(s, 1, r->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (int64_t)seq);
    int col = 4;
    rc = 0;
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_field *f = &k->fields[i];
        if (is_list(f))
            bind_list(s, col++, qs_body_get(body, f->id));
        else
            bind_value(s, col++, f, qs_body_get(body, f->id));
    }
    if ((rc = step_done(st, s, err)))
        goto out;
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_value *v = qs_body_get(body, k->fields[i].id);
        if (!ks->child_ins[i] || !v || v->t != QS_V_ARRAY)
            continue;
        for (uint32_t j = 0; j < v->u.a.n; j++) {
            const qs_value *e2 = &v->u.a.v[j];
            if (e2->t != QS_V_BIN)
                continue;
            sqlite3_bind_blob(ks->child_ins[i], 1, r->id, QS_ID_LEN, SQLITE_STATIC);
            sqlite3_bind_blob(ks->child_ins[i], 2, e2->u.s.p, (int)e2->u.s.n, SQLITE_STATIC);
            if ((rc = step_done(st, ks->child_ins[i], err)))
                goto out;
        }
    }
out:
    qs_body_free(&decoded);
    return rc;
}

static int reproject_kind(qs_store *st, const qs_kind *k, qs_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = prep(st,
                  "SELECT seq, id, kind, scope, gen, hash, parents, hlc, author, deleted, "
                  "schema, body FROM versions WHERE kind = ? AND head = 1",
                  &s, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, k->id);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        qs_record rec;
        qs_record_init(&rec);
        qs__row_to_record(s, 1, &rec);
        rc = qs__project(st, &rec, (uint64_t)sqlite3_column_int64(s, 0), NULL, false, err);
        qs_record_free(&rec);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = qs__sqlerr(st, r, "re-projecting", err);
    sqlite3_finalize(s);
    return rc;
}
