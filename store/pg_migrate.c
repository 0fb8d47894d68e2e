/*
 * pg_migrate.c — moving an aggregator's SQLite store to PostgreSQL
 * (`qianshou migrate --to postgresql`): every version with its sequence
 * number, head flag and origin, history, peers and their cursors,
 * rejections, parked versions, imports, the settings (node, incarnation,
 * clock, name) and the web's accounts and audit trail, in one PostgreSQL
 * transaction; then the typed projection of
 * every winner; then proof: qs_store_digest and the counts of both sides.
 * Sequence numbers and the incarnation are kept, so the counties' cursors
 * stay valid: they notice nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

static int step_err(qs_store *src, int rc, const char *what, qs_err *err)
{
    return qs_err_set(err, QS_EIO, "%s: SQLite: %s", what,
                      rc == SQLITE_ROW || rc == SQLITE_DONE ? "?" : sqlite3_errmsg(src->db));
}

static void p_col(qs_pgp *p, sqlite3_stmt *s, int col)
{
    switch (sqlite3_column_type(s, col)) {
    case SQLITE_NULL:
        qs__pgp_text(p, NULL);
        break;
    case SQLITE_INTEGER:
        qs__pgp_int(p, sqlite3_column_int64(s, col));
        break;
    case SQLITE_BLOB:
        qs__pgp_bin(p, sqlite3_column_blob(s, col) ? sqlite3_column_blob(s, col) : "",
                    (size_t)sqlite3_column_bytes(s, col));
        break;
    default:
        qs__pgp_text(p, (const char *)sqlite3_column_text(s, col));
    }
}

/* Copy the rows of a SQLite query into a PostgreSQL statement, column by
 * column ($1.. in the same order); a first column "county" is derived from
 * the scope column scope_col (or -1: none), which is itself passed on unless
 * it is the last column and only_key. */
static int copy_rows(qs_store *src, qs_store *dst, const char *select, const char *insert,
                     int scope_col, bool only_key, uint64_t *rows, qs_err *err)
{
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(src->db, select, -1, &s, NULL);
    if (r != SQLITE_OK)
        return step_err(src, r, "reading the SQLite store", err);
    int rc = 0;
    *rows = 0;
    while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
        qs_pgp p = {0};
        char county[QS_CODE_MAX];
        if (scope_col >= 0) {
            const char *scope = (const char *)sqlite3_column_text(s, scope_col);
            qs__pg_county(scope ? scope : "", county);
            qs__pgp_text(&p, county);
        }
        int ncol = sqlite3_column_count(s) - (only_key ? 1 : 0);
        for (int c = 0; c < ncol; c++) {
            /* SQLite's 0/1 flags go to PostgreSQL booleans as t/f */
            const char *name = sqlite3_column_name(s, c);
            if (strcmp(name, "deleted") == 0 || strcmp(name, "local") == 0 ||
                strcmp(name, "outgoing") == 0 || strcmp(name, "disabled") == 0)
                qs__pgp_bool(&p, sqlite3_column_int(s, c) != 0);
            else
                p_col(&p, s, c);
        }
        rc = qs__pg_cmd(dst, insert, &p, "writing to PostgreSQL", err);
        (*rows)++;
    }
    if (!rc && r != SQLITE_DONE)
        rc = step_err(src, r, "reading the SQLite store", err);
    sqlite3_finalize(s);
    return rc;
}

static const char INS_VERSION[] =
    "INSERT INTO versions(county, seq, id, kind, scope, gen, hash, parents, ancestry, hlc, "
    "author, deleted, schema, body, head, local, src_peer, src_inc, stored_ms) VALUES ($1, $2, $3, "
    "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";
static const char INS_HISTORY[] =
    "INSERT INTO history(county, id, hash) SELECT county, $1::bytea, $2::bytea FROM "
    "versions WHERE id = $1::bytea LIMIT 1 ON CONFLICT DO NOTHING";
static const char INS_PEER[] =
    "INSERT INTO peers(peer, inc, recv_cursor, acked, last_contact, last_ok, skew, pending, "
    "last_error, cert_not_after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
static const char INS_REJECTION[] =
    "INSERT INTO rejections(county, id, kind, scope, gen, hash, peer, outgoing, reason, at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
static const char INS_PARKED[] = "INSERT INTO parked(county, id, hash, kind, peer, dir, wire, at) "
                                 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
static const char INS_WEB_USER[] =
    "INSERT INTO web_users(name, role, hash, disabled, failures, locked_until, created_ms, "
    "last_login_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/* in their order: the new numbers (seq) keep it */
static const char INS_WEB_AUDIT[] =
    "INSERT INTO web_audit(at_ms, user_name, action, record, detail) "
    "VALUES ($1, $2, $3, $4, $5)";
static const char INS_IMPORT[] = "INSERT INTO imports(sha, kind, file, rows, at) "
                                 "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";

/* Settings kept as they are: the incarnation and the numbers above are what
 * the counties hold us to. */
static int copy_meta(qs_store *src, qs_store *dst, qs_err *err)
{
    sqlite3_stmt *s = NULL;
    int r =
        sqlite3_prepare_v2(src->db, "SELECT k, v FROM meta WHERE k <> 'projection'", -1, &s, NULL);
    if (r != SQLITE_OK)
        return step_err(src, r, "reading the settings", err);
    int rc = 0;
    while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        if (sqlite3_column_type(s, 1) == SQLITE_INTEGER)
            rc = qs__pg_meta_set(dst, k, sqlite3_column_int64(s, 1), NULL, 0, err);
        else
            rc = qs__pg_meta_set(dst, k, 0,
                                 sqlite3_column_blob(s, 1) ? sqlite3_column_blob(s, 1) : "",
                                 (size_t)sqlite3_column_bytes(s, 1), err);
    }
    if (!rc && r != SQLITE_DONE)
        rc = step_err(src, r, "reading the settings", err);
    sqlite3_finalize(s);
    return rc;
}

static bool has_table(qs_store *src, const char *name)
{
    sqlite3_stmt *s = NULL;
    bool have = sqlite3_prepare_v2(src->db,
                                   "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                   "name = ?1",
                                   -1, &s, NULL) == SQLITE_OK &&
                sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
                sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return have;
}

/* The report's settings, when the SQLite store has any. */
static int copy_settings(qs_store *src, qs_store *dst, qs_err *err)
{
    if (!has_table(src, "report_settings"))
        return 0;
    uint64_t n;
    return copy_rows(src, dst, "SELECT year, key, value FROM report_settings",
                     "INSERT INTO report_settings(year, key, value) VALUES ($1, $2, $3)", -1, false,
                     &n, err);
}

/* The web's accounts and audit trail, when the SQLite store has them (their
 * tables in PostgreSQL are made before the copy's transaction). */
static int copy_accounts(qs_store *src, qs_store *dst, qs_migrate_stats *stats, qs_err *err)
{
    int rc;
    if (!has_table(src, "web_users"))
        return 0;
    if ((rc = copy_rows(src, dst,
                        "SELECT name, role, hash, disabled, failures, locked_until, created_ms, "
                        "last_login_ms FROM web_users",
                        INS_WEB_USER, -1, false, &stats->users, err)))
        return rc;
    return copy_rows(src, dst,
                     "SELECT at_ms, user, action, record, detail FROM web_audit ORDER BY seq",
                     INS_WEB_AUDIT, -1, false, &stats->audit, err);
}

static int project_all(qs_store *dst, uint64_t *n, qs_err *err)
{
    PGresult *r = qs__pg_q(dst, "SELECT " QS_PG_VCOLS " FROM versions WHERE head = 1", NULL,
                           "reading the winners", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = 0;
    *n = 0;
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        qs_record rec;
        qs__pg_row_record(r, i, 0, &rec);
        rc = qs__pg_project(dst, &rec, NULL, true, err);
        qs_record_free(&rec);
        (*n)++;
    }
    PQclear(r);
    return rc;
}

int qs_store_migrate_pg(qs_store *src, const char *conninfo, qs_migrate_stats *stats, qs_err *err)
{
    memset(stats, 0, sizeof *stats);
    if (src->pg)
        return qs_err_set(err, QS_EINVAL, "this store is on PostgreSQL already");
    if (src->role != QS_ROLE_AGGREGATOR)
        return qs_err_set(err, QS_EINVAL,
                          "only an aggregator's store moves to PostgreSQL: a county's stays in "
                          "SQLite");
    qs_store_opts o = qs_store_opts_default();
    o.conninfo = conninfo;
    o.create = true;
    o.node = src->node;
    o.role = src->role;
    o.user = src->user;
    o.limits = src->lim;
    qs_store *dst = NULL;
    int rc = qs__pg_open(&o, conninfo, &dst, err);
    if (rc)
        return rc == QS_EEXIST ? qs_err_set(err, QS_EEXIST,
                                            "the PostgreSQL database holds a store already: "
                                            "migrate into an empty one")
                               : rc;
    uint64_t top = 0;
    if (has_table(src, "web_users") && (rc = qs__pg_users_init(dst, err)))
        goto out;
    /* one read snapshot of SQLite, one PostgreSQL transaction */
    if (sqlite3_exec(src->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = step_err(src, 0, "starting a read", err);
        goto out;
    }
    if ((rc = qs__pg_exec(dst, "BEGIN", "starting the copy", err)))
        goto out_read;
    if ((rc = qs__pg_exec(dst, "DELETE FROM meta WHERE k <> 'pg_ddl'", "starting the copy", err)) ||
        (rc = copy_meta(src, dst, err)) ||
        (rc = copy_rows(src, dst,
                        "SELECT seq, id, kind, scope, gen, hash, parents, ancestry, hlc, author, "
                        "deleted, schema, body, head, local, src_peer, src_inc, stored_ms "
                        "FROM versions ORDER BY seq",
                        INS_VERSION, 3, false, &stats->versions, err)) ||
        (rc = copy_rows(src, dst, "SELECT id, hash FROM history", INS_HISTORY, -1, false,
                        &stats->history, err)) ||
        (rc = copy_rows(src, dst,
                        "SELECT peer, inc, recv_cursor, acked, last_contact, last_ok, skew, "
                        "pending, last_error, cert_not_after FROM peers",
                        INS_PEER, -1, false, &stats->peers, err)) ||
        (rc = copy_rows(src, dst,
                        "SELECT id, kind, scope, gen, hash, peer, outgoing, reason, at "
                        "FROM rejections ORDER BY rid",
                        INS_REJECTION, 2, false, &stats->rejections, err)) ||
        (rc = copy_rows(src, dst,
                        "SELECT p.id, p.hash, p.kind, p.peer, p.dir, p.wire, p.at, "
                        "coalesce((SELECT scope FROM versions v WHERE v.id = p.id LIMIT 1), "
                        "p.peer) AS scope FROM parked p",
                        INS_PARKED, 7, true, &stats->parked, err)) ||
        (rc = copy_settings(src, dst, err)) || (rc = copy_accounts(src, dst, stats, err)) ||
        (rc = copy_rows(src, dst, "SELECT sha, kind, file, rows, at FROM imports", INS_IMPORT, -1,
                        false, &stats->imports, err)))
        goto out_tx;
    {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(src->db, "SELECT coalesce(max(seq), 0) FROM versions", -1, &s,
                               NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            top = (uint64_t)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        qs_pgp p = {0};
        qs__pgp_int(&p, (int64_t)top);
        /* new versions are numbered above the highest seq brought over */
        if ((rc = qs__pg_cmd(dst,
                             "INSERT INTO meta(k, i) VALUES ('seq_base', $1::int8) "
                             "ON CONFLICT (k) DO UPDATE SET i = EXCLUDED.i",
                             &p, "setting the sequence", err)))
            goto out_tx;
    }
    if ((rc = project_all(dst, &stats->projected, err)))
        goto out_tx;
    rc = qs__pg_exec(dst, "COMMIT", "committing the copy", err);
    goto out_read;
out_tx:
    qs__pg_exec(dst, "ROLLBACK", "rolling back", NULL);
out_read:
    sqlite3_exec(src->db, "COMMIT", NULL, NULL, NULL);
    if (rc)
        goto out;
    /* The proof: the same heads on both sides, and the same counters. */
    qs__pg_close(dst);
    dst = NULL;
    o.create = false;
    if ((rc = qs__pg_open(&o, conninfo, &dst, err)))
        goto out;
    uint64_t n1, n2;
    qs_store_info a, b;
    if ((rc = qs_store_digest(src, NULL, stats->digest, &n1, err)) ||
        (rc = qs_store_digest(dst, NULL, stats->digest_pg, &n2, err)) ||
        (rc = qs_store_info_get(src, &a, err)) || (rc = qs_store_info_get(dst, &b, err)))
        goto out;
    stats->heads = n1;
    if (n1 != n2 || memcmp(stats->digest, stats->digest_pg, 32) != 0 || a.max_seq != b.max_seq ||
        a.records != b.records || a.conflicts != b.conflicts || a.rejected != b.rejected ||
        a.parked != b.parked || memcmp(a.incarnation, b.incarnation, QS_INC_LEN) != 0)
        rc = qs_err_set(err, QS_ECORRUPT,
                        "the copy differs from the SQLite store (heads %llu/%llu, records "
                        "%llu/%llu, highest number %llu/%llu): the SQLite store stays in use",
                        (unsigned long long)n1, (unsigned long long)n2,
                        (unsigned long long)a.records, (unsigned long long)b.records,
                        (unsigned long long)a.max_seq, (unsigned long long)b.max_seq);
out:
    qs__pg_close(dst);
    return rc;
}
