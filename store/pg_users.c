/*
 * pg_users.c — the statements of users.c on PostgreSQL: the web's local
 * accounts (web_users) and audit trail (web_audit) in the province's
 * database, beside the store's tables but never part of a record, a feed, a
 * digest or the DDL fingerprint. The rules stay in users.c. See pg.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"
#include "store/users.h"

/* The audit's user column is user_name: "user" is a reserved word in
 * PostgreSQL (unquoted, a BI tool's query would read CURRENT_USER). */
static const char DDL[] =
    "CREATE TABLE IF NOT EXISTS web_users(name text PRIMARY KEY, role integer NOT NULL,"
    "  hash text NOT NULL, disabled boolean NOT NULL DEFAULT false,"
    "  failures integer NOT NULL DEFAULT 0, locked_until bigint NOT NULL DEFAULT 0,"
    "  created_ms bigint NOT NULL, last_login_ms bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS web_audit(seq bigserial PRIMARY KEY, at_ms bigint NOT NULL,"
    "  user_name text NOT NULL, action text NOT NULL, record text NOT NULL DEFAULT '',"
    "  detail text NOT NULL DEFAULT '');";

static const char SQL_HAVE[] =
    "SELECT to_regclass('web_users') IS NOT NULL AND to_regclass('web_audit') IS NOT NULL";

int qs__pg_users_init(qs_store *st, qs_err *err)
{
    /* Only write when the tables are missing: a reader needs no lock. */
    PGresult *r = qs__pg_q(st, SQL_HAVE, NULL, "web users", err);
    if (!r)
        return err ? err->code : QS_EIO;
    bool have = PQntuples(r) && qs__pg_int(r, 0, 0) != 0;
    PQclear(r);
    if (have)
        return 0;
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    /* Two front-ends creating the same table at once could fail on
     * PostgreSQL's catalog: they take turns, the second finds them made. */
    if (!(rc = qs__pg_exec(st, QS_PG_DDL_LOCK, "creating the web's tables", err)))
        rc = qs__pg_exec(st, DDL, "creating the web's tables", err);
    return qs__pg_tx_end(st, mine, rc, err);
}

int qs__pg_user_insert(qs_store *st, const char *name, int role, const char *hash,
                       int64_t created_ms, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, name);
    qs__pgp_int(&p, role);
    qs__pgp_text(&p, hash);
    qs__pgp_int(&p, created_ms);
    PGresult *r = qs__pg_q(st,
                           "INSERT INTO web_users(name, role, hash, created_ms) "
                           "VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING name",
                           &p, "web users", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = PQntuples(r) ? 0 : QS_EEXIST;
    PQclear(r);
    return rc;
}

/* An integer parameter, or SQL NULL when v < 0 (leave the column). */
static void opt_int(qs_pgp *p, int64_t v)
{
    qs__pgp_int(p, v);
    if (v < 0)
        p->v[p->n - 1] = NULL;
}

int qs__pg_user_update(qs_store *st, const char *name, const qs__user_set *set, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, name);
    qs__pgp_text(&p, set->hash);
    opt_int(&p, set->role ? set->role : -1);
    opt_int(&p, set->disabled);
    opt_int(&p, set->failures);
    opt_int(&p, set->locked_until);
    opt_int(&p, set->last_login_ms);
    PGresult *r = qs__pg_q(st,
                           "UPDATE web_users SET hash = coalesce($2, hash), "
                           "role = coalesce($3::int4, role), "
                           "disabled = coalesce($4::int4 <> 0, disabled), "
                           "failures = coalesce($5::int4, failures), "
                           "locked_until = coalesce($6::int8, locked_until), "
                           "last_login_ms = coalesce($7::int8, last_login_ms) "
                           "WHERE name = $1 RETURNING name",
                           &p, "web users", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = PQntuples(r) ? 0 : QS_ENOTFOUND;
    PQclear(r);
    return rc;
}

#define USER_COLS "name, role, disabled, failures, locked_until, created_ms, last_login_ms"

static void row_user(const PGresult *r, int row, qs_user *u)
{
    memset(u, 0, sizeof *u);
    qs__pg_str(r, row, 0, u->name, sizeof u->name);
    u->role = (qs_user_role)qs__pg_int(r, row, 1);
    u->disabled = qs__pg_int(r, row, 2) != 0;
    u->failures = (uint32_t)qs__pg_int(r, row, 3);
    u->locked_until = qs__pg_int(r, row, 4);
    u->created_ms = qs__pg_int(r, row, 5);
    u->last_login_ms = qs__pg_int(r, row, 6);
}

int qs__pg_user_get(qs_store *st, const char *name, qs_user *out, char *hash, bool lock,
                    qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, name);
    PGresult *r = qs__pg_q(st,
                           lock ? "SELECT " USER_COLS ", hash FROM web_users WHERE name = $1 "
                                  "FOR UPDATE"
                                : "SELECT " USER_COLS ", hash FROM web_users WHERE name = $1",
                           &p, "web users", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = QS_ENOTFOUND;
    if (PQntuples(r)) {
        row_user(r, 0, out);
        qs__pg_str(r, 0, 7, hash, QS_PW_HASH_MAX);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int qs__pg_users_list(qs_store *st, qs_user **out, size_t *n, qs_err *err)
{
    /* COLLATE "C": the order of SQLite's text comparison */
    PGresult *r = qs__pg_q(st, "SELECT " USER_COLS " FROM web_users ORDER BY name COLLATE \"C\"",
                           NULL, "web users", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rows = PQntuples(r);
    qs_user *v = qs_xcalloc(rows ? (size_t)rows : 1, sizeof *v);
    for (int i = 0; i < rows; i++)
        row_user(r, i, &v[i]);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

int qs__pg_audit_add(qs_store *st, int64_t at_ms, const char *user, const char *action,
                     const char *record, const char *detail, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_int(&p, at_ms);
    qs__pgp_text(&p, user);
    qs__pgp_text(&p, action);
    qs__pgp_text(&p, record);
    qs__pgp_text(&p, detail);
    return qs__pg_cmd(st,
                      "INSERT INTO web_audit(at_ms, user_name, action, record, detail) "
                      "VALUES ($1, $2, $3, $4, $5)",
                      &p, "web audit", err);
}

int qs__pg_audit_list(qs_store *st, size_t max, qs_audit_row *v, size_t *n, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_int(&p, (int64_t)max);
    PGresult *r = qs__pg_q(st,
                           "SELECT at_ms, user_name, action, record, detail FROM web_audit "
                           "ORDER BY seq DESC LIMIT $1",
                           &p, "web audit", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rows = PQntuples(r);
    for (int i = 0; i < rows && *n < max; i++) {
        qs_audit_row *a = &v[(*n)++];
        a->at_ms = qs__pg_int(r, i, 0);
        qs__pg_str(r, i, 1, a->user, sizeof a->user);
        qs__pg_str(r, i, 2, a->action, sizeof a->action);
        qs__pg_str(r, i, 3, a->record, sizeof a->record);
        qs__pg_str(r, i, 4, a->detail, sizeof a->detail);
    }
    PQclear(r);
    return 0;
}
