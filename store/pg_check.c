/*
 * pg_check.c — `qianshou check` on PostgreSQL: what the store itself holds
 * to be true, checked in one read-only snapshot (the server's own pages and
 * indexes are its business: amcheck, pg_checksums). In this order, the first
 * problem ending the check:
 *   - every version verifies: its generation and revision hash recomputed
 *     from its fields and body (qs_record_verify, as for a received record);
 *   - numbers (pg.h): none zero or negative, none twice, none from a
 *     transaction id not yet handed out;
 *   - heads: every record has exactly one winner (head = 1), and no other
 *     version of it wins over that one (the winner order of record.h);
 *   - the projection: each k_<kind> holds exactly the live winners of its
 *     kind (county, id and scope), no more, no fewer, and its list tables
 *     k_<kind>__<field> no rows of a record it does not hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/uuid.h"
#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

#define FETCH_ROWS 1000 /* the FETCH below */

static int damaged(qs_err *err, const char *fmt, const char *a, const char *b)
{
    return qs_err_set(err, QS_ECORRUPT, fmt, a, b);
}

/* Every version, FETCH_ROWS at a time through a cursor (a province's
 * millions are never in memory at once). */
static int check_versions(qs_store *st, qs_err *err)
{
    int rc = qs__pg_exec(
        st, "DECLARE qs_check NO SCROLL CURSOR FOR SELECT " QS_PG_VCOLS ", seq FROM versions",
        "checking the versions", err);
    for (bool more = !rc; more && !rc;) {
        PGresult *r = qs__pg_qd(st, "FETCH 1000 FROM qs_check", NULL, "checking the versions", err);
        if (!r)
            return err ? err->code : QS_EIO;
        int rows = PQntuples(r);
        more = rows == FETCH_ROWS;
        for (int i = 0; i < rows && !rc; i++) {
            qs_record rec;
            qs__pg_row_record(r, i, 0, &rec);
            qs_err e = {0};
            if (qs_record_verify(&rec, &st->lim, &e) != 0) {
                char id[QS_UUID_STR], seq[24];
                qs_uuid_format(rec.id, id);
                snprintf(seq, sizeof seq, "%lld", (long long)qs__pg_int(r, i, 11));
                rc = qs_err_set(err, QS_ECORRUPT,
                                "a version of record %s (number %s) does not verify: %s", id, seq,
                                e.msg);
            }
            qs_record_free(&rec);
        }
        PQclear(r);
    }
    return rc;
}

/* Run sql (built at run time, parameters p), whose rows are problems: the
 * first row's id (column 0, bytea) goes into the sentence fmt ("%s" the
 * id, then what; what = the kind's table or ""). */
static int none(qs_store *st, const char *sql, const qs_pgp *p, const char *fmt, const char *what,
                qs_err *err)
{
    PGresult *r = qs__pg_qd(st, sql, p, "checking the store", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = 0;
    if (PQntuples(r)) {
        char id[QS_UUID_STR] = "?";
        if (PQgetlength(r, 0, 0) == QS_ID_LEN)
            qs_uuid_format((const uint8_t *)PQgetvalue(r, 0, 0), id);
        rc = damaged(err, fmt, id, what);
    }
    PQclear(r);
    return rc;
}

static int check_numbers(qs_store *st, qs_err *err)
{
    int rc;
    if ((rc = none(st, "SELECT id FROM versions WHERE seq <= 0 LIMIT 1", NULL,
                   "a version of record %s has no number%s", "", err)) ||
        (rc = none(
             st, "SELECT (array_agg(id))[1] FROM versions GROUP BY seq HAVING count(*) > 1 LIMIT 1",
             NULL, "a version of record %s shares its number with another%s", "", err)))
        return rc;
    return none(st,
                "SELECT id FROM versions WHERE seq >= coalesce((SELECT i FROM meta WHERE k = "
                "'seq_base'), 0) + (pg_snapshot_xmax(pg_current_snapshot())::text::int8 "
                "<< " QS_PG_SLOT_BITS_SQL ") LIMIT 1",
                NULL, "a version of record %s has a number from a transaction yet to come%s", "",
                err);
}

static int check_heads(qs_store *st, qs_err *err)
{
    int rc = none(st,
                  "SELECT id FROM versions GROUP BY county, id "
                  "HAVING count(*) FILTER (WHERE head = 1) <> 1 LIMIT 1",
                  NULL, "record %s has no winner, or more than one%s", "", err);
    if (rc)
        return rc;
    /* bytea compares byte by byte, like record.h's memcmp of hashes */
    return none(st,
                "SELECT v.id FROM versions v JOIN versions w ON w.county = v.county "
                "AND w.id = v.id AND w.head = 1 WHERE v.head <> 1 "
                "AND (v.gen, v.hash) > (w.gen, w.hash) LIMIT 1",
                NULL, "a version of record %s wins over its stored winner%s", "", err);
}

static int check_projection(qs_store *st, qs_err *err)
{
    int rc = 0;
    for (uint32_t i = 0; i < qs_schema_nkinds() && !rc; i++) {
        const qs_kind *k = qs_schema_kind_at(i);
        if (k->local_only)
            continue; /* never on an aggregator: no table */
        char table[96];
        snprintf(table, sizeof table, "k_%s", k->name);
        char *extra = qs_xasprintf("SELECT id FROM (SELECT qs_county, id, scope FROM \"%s\" EXCEPT "
                                   "SELECT county, id, scope FROM versions WHERE head = 1 AND NOT "
                                   "deleted AND kind = $1) x LIMIT 1",
                                   table);
        char *missing = qs_xasprintf("SELECT id FROM (SELECT county, id, scope FROM versions "
                                     "WHERE head = 1 AND NOT deleted AND kind = $1 EXCEPT "
                                     "SELECT qs_county, id, scope FROM \"%s\") x LIMIT 1",
                                     table);
        qs_pgp p = {0};
        qs__pgp_int(&p, k->id);
        if (!(rc = none(st, extra, &p,
                        "the projection has a row for %s in %s that is not a live record's "
                        "winner there",
                        table, err)))
            rc = none(st, missing, &p, "record %s is missing from the projection (%s)", table, err);
        free(extra);
        free(missing);
        /* a list field's rows belong to a row of the kind's table */
        for (uint32_t j = 0; j < k->nfields && !rc; j++) {
            const qs_field *f = &k->fields[j];
            if (f->type != QS_F_REFLIST && f->type != QS_F_DIGESTS)
                continue;
            char list[160];
            snprintf(list, sizeof list, "%s__%s", table, f->name);
            char *orphan = qs_xasprintf("SELECT c.id FROM \"%s\" c WHERE NOT EXISTS (SELECT 1 "
                                        "FROM \"%s\" p WHERE p.qs_county = c.qs_county AND "
                                        "p.id = c.id) LIMIT 1",
                                        list, table);
            rc = none(st, orphan, NULL, "record %s has list rows in %s but no row of its own", list,
                      err);
            free(orphan);
        }
    }
    return rc;
}

int qs__pg_check(qs_store *st, qs_err *err)
{
    if (st->in_tx)
        return qs_err_set(err, QS_EBUSY, "a transaction is open");
    int rc = qs__pg_exec(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                         "starting the check", err);
    if (rc)
        return rc;
    if (!(rc = check_versions(st, err)) && !(rc = check_numbers(st, err)) &&
        !(rc = check_heads(st, err)))
        rc = check_projection(st, err);
    qs__pg_exec(st, "ROLLBACK", "ending the check", NULL);
    return rc;
}
