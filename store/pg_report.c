/*
 * pg_report.c — the annual report's measuring half on PostgreSQL: the same
 * measured fields as report.c's SQLite queries, from the typed tables
 * k_<kind> of pg_version.c; report.c then judges them with judge.c, as for
 * SQLite. The two measures must agree to the byte (tests/pg/test_pg_report.sh
 * compares `report annual --format json` of one data set on both).
 *
 * What differs from SQLite's queries:
 * - a county's subtree (its own scope and its townships') is the rows whose
 *   qs_county is the county code (pg.c qs__pg_county), so the queries over
 *   scopes lead with it, like the report's indexes (distribution key first);
 * - text is ordered COLLATE "C" (SQLite's BINARY), whatever the database's
 *   collation; ids are bytea, ordered bytewise like SQLite's BLOBs;
 * - sums are cast to bigint (SUM(bigint) is numeric), every parameter is
 *   typed in the statement.
 * The service logs, the period's work days and the pseudonyms are aggregated
 * in C by report.c's shared row functions, as for SQLite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

/* The report's indexes (see the queries below): scope-keyed tables by
 * (qs_county, date), pairing-keyed ones by (pairing, date). */
const char qs__pg_report_ddl[] =
    "CREATE INDEX IF NOT EXISTS rep_service ON k_service(qs_county, date);"
    "CREATE INDEX IF NOT EXISTS rep_output ON k_output(qs_county, date);"
    "CREATE INDEX IF NOT EXISTS rep_training ON k_training(qs_county, date);"
    "CREATE INDEX IF NOT EXISTS rep_workday_pairing ON k_workday(pairing, date, person);"
    "CREATE INDEX IF NOT EXISTS rep_expense_pairing ON k_expense(pairing, date);";

/* $1 county code or NULL */
static const char Q_PAIRINGS[] =
    "SELECT p.id, p.county, p.type, p.start_year, p.end_year, a.name, a.province, r.name, "
    "r.id IS NOT NULL, c.name, c.prefecture, c.townships, p.aiding, p.receiving, "
    "c.code IS NOT NULL, r.county "
    "FROM k_pairing p LEFT JOIN k_agency a ON a.id = p.aiding "
    "LEFT JOIN k_agency r ON r.id = p.receiving LEFT JOIN k_county c ON c.code = p.county "
    "WHERE $1::text IS NULL OR p.county = $1::text "
    "ORDER BY p.county COLLATE \"C\", p.start_year, p.id";
static const char Q_COUNTIES[] = "SELECT code, name, prefecture FROM k_county "
                                 "WHERE $1::text IS NULL OR code = $1::text "
                                 "ORDER BY code COLLATE \"C\"";
/* $1 pairing $2 from $3 to $4 role $5 agency */
static const char Q_WORKERS[] =
    "SELECT pe.id, pe.name, pe.cert_level, pe.service_since, COUNT(DISTINCT w.date), "
    "pe.cert_date, pe.exam_year, MIN(w.date) "
    "FROM k_workday w JOIN k_person pe ON pe.id = w.person "
    "WHERE w.pairing = $1::bytea AND w.date BETWEEN $2::bigint AND $3::bigint "
    "AND pe.role = $4::bigint AND pe.agency = $5::bytea "
    "GROUP BY pe.id, pe.name, pe.cert_level, pe.service_since, pe.cert_date, pe.exam_year "
    "ORDER BY pe.name COLLATE \"C\", pe.id";
/* $1 pairing $2 from $3 to: any day, extra records of a (person, day) */
static const char Q_DAYS[] =
    "SELECT COUNT(*), COALESCE(SUM(n - 1), 0)::bigint FROM (SELECT COUNT(*) AS n "
    "FROM k_workday WHERE pairing = $1::bytea AND date BETWEEN $2::bigint AND $3::bigint "
    "GROUP BY person, date) d";
/* $1 pairing $2 first day of start_year $3 last day of end_year */
static const char Q_OUTSIDE[] = "SELECT COUNT(*) FROM k_workday WHERE pairing = $1::bytea "
                                "AND (date < $2::bigint OR date > $3::bigint)";
static const char Q_SHARED[] = "SELECT DISTINCT person, date FROM k_workday "
                               "WHERE pairing = $1::bytea AND date BETWEEN $2::bigint AND "
                               "$3::bigint AND person IS NOT NULL";
/* $1 from $2 to */
static const char Q_SHARED_ALL[] = "SELECT person, date FROM k_workday "
                                   "WHERE date BETWEEN $1::bigint AND $2::bigint "
                                   "AND person IS NOT NULL GROUP BY person, date "
                                   "HAVING COUNT(DISTINCT pairing) > 1";
static const char Q_WORKDAYS[] = "SELECT person, date FROM k_workday "
                                 "WHERE date BETWEEN $1::bigint AND $2::bigint "
                                 "AND person IS NOT NULL";
/* $1 aiding agency (or county) $2 this pairing $3 year */
static const char Q_OTHER_AIDING[] = "SELECT COUNT(*) FROM k_pairing WHERE aiding = $1::bytea "
                                     "AND id != $2::bytea AND start_year <= $3::bigint "
                                     "AND end_year >= $3::bigint";
static const char Q_OTHER_COUNTY[] = "SELECT COUNT(*) FROM k_pairing WHERE county = $1::text "
                                     "AND id != $2::bytea AND start_year <= $3::bigint "
                                     "AND end_year >= $3::bigint";
/* $1 pairing $2 from $3 to */
static const char Q_FUNDS[] =
    "SELECT direction, category, source, SUM(amount)::bigint, COUNT(*) FROM k_expense "
    "WHERE pairing = $1::bytea AND date BETWEEN $2::bigint AND $3::bigint "
    "GROUP BY direction, category, source";
/* $1 county $2 from $3 to */
static const char Q_OUTPUTS[] = "SELECT type, COUNT(*) FROM k_output WHERE qs_county = $1::text "
                                "AND date BETWEEN $2::bigint AND $3::bigint GROUP BY type";
/* $1 county $2 to */
static const char Q_STATIONS[] =
    "SELECT COUNT(*), COUNT(DISTINCT CASE WHEN left(township, 6) = $1::text "
    "THEN township END) FROM k_station WHERE qs_county = $1::text "
    "AND (opened IS NULL OR opened <= $2::bigint)";
static const char Q_SERVICES[] =
    "SELECT date, service_type, domain, categories, minors, minutes, total, workers, "
    "pseudonyms FROM k_service WHERE qs_county = $1::text "
    "AND date BETWEEN $2::bigint AND $3::bigint";
static const char Q_TRAININGS[] =
    "SELECT type, COUNT(*), COALESCE(SUM(minutes), 0)::bigint, "
    "COALESCE(SUM(local_participants), 0)::bigint FROM k_training "
    "WHERE qs_county = $1::text AND date BETWEEN $2::bigint AND $3::bigint GROUP BY type";

typedef struct pctx {
    qs_store *st;
    const int64_t *set;
    int32_t from, to;
    int year;
    qs_keyset workdays, shared, pseudonyms;
    bool workdays_loaded, shared_loaded;
} pctx;

static const uint8_t *blob(const PGresult *r, int row, int col, int *len)
{
    *len = PQgetisnull(r, row, col) ? 0 : PQgetlength(r, row, col);
    return *len ? (const uint8_t *)PQgetvalue(r, row, col) : NULL;
}

/* Parameters: an id, then the period. */
static void pgp_period(qs_pgp *p, const pctx *c, const uint8_t *id)
{
    if (id)
        qs__pgp_bin(p, id, QS_ID_LEN);
    qs__pgp_int(p, c->from);
    qs__pgp_int(p, c->to);
}

/* The key of row i of (person, date) rows; false when the person is not a
 * record id (it matches no worker). */
static bool day_key(const PGresult *r, int i, uint8_t k[QS_KEY_MAX])
{
    int n;
    const uint8_t *person = blob(r, i, 0, &n);
    if (n != QS_ID_LEN)
        return false;
    qs__day_key(k, person, (int32_t)qs__pg_int(r, i, 1));
    return true;
}

/* The (person, date) rows of sql in the period into ks, once a report
 * (*loaded). */
static int load_days(pctx *c, const char *sql, qs_keyset *ks, bool *loaded, qs_err *err)
{
    if (*loaded)
        return 0;
    qs_pgp prm = {0};
    pgp_period(&prm, c, NULL);
    PGresult *r = qs__pg_q(c->st, sql, &prm, "reading work days", err);
    if (!r)
        return err ? err->code : QS_EIO;
    uint8_t k[QS_KEY_MAX];
    for (int i = 0; i < PQntuples(r); i++)
        if (day_key(r, i, k))
            qs__keyset_add(ks, k);
    PQclear(r);
    *loaded = true;
    return 0;
}

static int load_workers(pctx *c, const qs_report_pairing *p, const uint8_t *agency, int agency_len,
                        int64_t role, qs_report_worker **out, uint32_t *n, qs_err *err)
{
    qs_pgp prm = {0};
    *out = NULL;
    *n = 0;
    pgp_period(&prm, c, p->id);
    qs__pgp_int(&prm, role);
    qs__pgp_bin(&prm, agency_len ? agency : NULL, (size_t)agency_len);
    PGresult *r = qs__pg_q(c->st, Q_WORKERS, &prm, "reading workers", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rows = PQntuples(r);
    if (rows)
        *out = qs_xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++) {
        qs_report_worker *w = &(*out)[(*n)++];
        int len;
        const uint8_t *id = blob(r, i, 0, &len);
        if (len == QS_ID_LEN)
            memcpy(w->id, id, QS_ID_LEN);
        qs__pg_str(r, i, 1, w->name, sizeof w->name);
        w->role = (int)role;
        w->cert_level = qs__pg_isnull(r, i, 2) ? -1 : (int)qs__pg_int(r, i, 2);
        w->service_since = (int32_t)qs__pg_int(r, i, 3);
        w->days = qs__pg_int(r, i, 4);
        w->cert_date = (int32_t)qs__pg_int(r, i, 5);
        w->exam_year = (int)qs__pg_int(r, i, 6);
        w->first_day = (int32_t)qs__pg_int(r, i, 7);
    }
    PQclear(r);
    return 0;
}

/* The integers of a one-row result into v[0..n-1] (0 without a row). */
static int one_row(pctx *c, const char *sql, const qs_pgp *p, int64_t *v, int n, const char *what,
                   qs_err *err)
{
    PGresult *r = qs__pg_q(c->st, sql, p, what, err);
    if (!r)
        return err ? err->code : QS_EIO;
    for (int i = 0; i < n; i++)
        v[i] = PQntuples(r) ? qs__pg_int(r, 0, i) : 0;
    PQclear(r);
    return 0;
}

/* The pairing's (person, day)s also logged on another pairing. */
static int count_shared(pctx *c, qs_report_pairing *p, qs_err *err)
{
    int rc = load_days(c, Q_SHARED_ALL, &c->shared, &c->shared_loaded, err);
    if (rc)
        return rc;
    p->shared_person_days = 0;
    if (c->shared.n == 0)
        return 0;
    qs_pgp prm = {0};
    pgp_period(&prm, c, p->id);
    PGresult *r = qs__pg_q(c->st, Q_SHARED, &prm, "reading work days", err);
    if (!r)
        return err ? err->code : QS_EIO;
    uint8_t k[QS_KEY_MAX];
    for (int i = 0; i < PQntuples(r); i++)
        if (day_key(r, i, k))
            p->shared_person_days += qs__keyset_has(&c->shared, k);
    PQclear(r);
    return 0;
}

/* The service logs of p's county in the period, aggregated in C (report.c). */
static int services_pass(pctx *c, qs_report_pairing *p, qs_err *err)
{
    int rc = load_days(c, Q_WORKDAYS, &c->workdays, &c->workdays_loaded, err);
    if (rc)
        return rc;
    qs_pgp prm = {0};
    qs__keyset_clear(&c->pseudonyms);
    qs_svc_acc a = {0};
    qs__pgp_text(&prm, p->county);
    pgp_period(&prm, c, NULL);
    PGresult *r = qs__pg_q(c->st, Q_SERVICES, &prm, "reading services", err);
    if (!r)
        return err ? err->code : QS_EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        int nw, np;
        qs_svc_row row = {
            .date = (int32_t)qs__pg_int(r, i, 0),
            .type = qs__pg_int(r, i, 1),
            .domain = qs__pg_int(r, i, 2),
            .cats = qs__pg_int(r, i, 3),
            .minors = qs__pg_int(r, i, 4),
            .minutes = qs__pg_int(r, i, 5),
            .total = qs__pg_int(r, i, 6),
        };
        row.workers = blob(r, i, 7, &nw);
        row.pseudonyms = blob(r, i, 8, &np);
        row.nworkers = nw / QS_ID_LEN;
        row.npseudonyms = np / QS_ID_LEN;
        qs__report_service_row(p, c->set, &c->workdays, &c->pseudonyms, &row, &a);
    }
    PQclear(r);
    qs__report_people(p, &c->pseudonyms, &a);
    return 0;
}

static int fill_pairing(pctx *c, qs_report_pairing *p, const uint8_t *aiding, int aiding_len,
                        const uint8_t *receiving, int receiving_len, qs_err *err)
{
    int rc;
    int64_t v[2] = {0};
    qs_pgp prm;
    PGresult *r;

    if ((rc = load_workers(c, p, aiding, aiding_len, QS_PERSON_ROLE_DISPATCHED, &p->dispatched,
                           &p->ndispatched, err)) ||
        (rc = load_workers(c, p, receiving, receiving_len, QS_PERSON_ROLE_LOCAL, &p->local,
                           &p->nlocal, err)))
        return rc;
    memset(&prm, 0, sizeof prm);
    pgp_period(&prm, c, p->id);
    if ((rc = one_row(c, Q_DAYS, &prm, v, 2, "counting work days", err)))
        return rc;
    p->any_day = v[0] > 0;
    p->duplicate_person_days = v[1];
    memset(&prm, 0, sizeof prm);
    qs__pgp_bin(&prm, p->id, QS_ID_LEN);
    qs__pgp_int(&prm, p->start_year * 10000 + 101);
    qs__pgp_int(&prm, p->end_year * 10000 + 1231);
    if ((rc =
             one_row(c, Q_OUTSIDE, &prm, &p->workdays_outside_years, 1, "counting work days", err)))
        return rc;
    if ((rc = count_shared(c, p, err)))
        return rc;

    /* structure: the other pairings of the year with the same agency or county */
    if (aiding_len == QS_ID_LEN) {
        memset(&prm, 0, sizeof prm);
        qs__pgp_bin(&prm, aiding, QS_ID_LEN);
        qs__pgp_bin(&prm, p->id, QS_ID_LEN);
        qs__pgp_int(&prm, c->year);
        if ((rc = one_row(c, Q_OTHER_AIDING, &prm, &p->other_pairings_aiding, 1, "reading pairings",
                          err)))
            return rc;
    }
    memset(&prm, 0, sizeof prm);
    qs__pgp_text(&prm, p->county);
    qs__pgp_bin(&prm, p->id, QS_ID_LEN);
    qs__pgp_int(&prm, c->year);
    if ((rc = one_row(c, Q_OTHER_COUNTY, &prm, &p->other_pairings_county, 1, "reading pairings",
                      err)))
        return rc;

    /* funds */
    memset(&prm, 0, sizeof prm);
    pgp_period(&prm, c, p->id);
    if (!(r = qs__pg_q(c->st, Q_FUNDS, &prm, "reading expenses", err)))
        return err ? err->code : QS_EIO;
    for (int i = 0; i < PQntuples(r); i++)
        qs__report_expense_row(p, qs__pg_int(r, i, 0), !qs__pg_isnull(r, i, 1), qs__pg_int(r, i, 1),
                               qs__pg_int(r, i, 2), qs__pg_int(r, i, 3), qs__pg_int(r, i, 4));
    PQclear(r);

    /* outputs, cumulative from the start of the pairing to the period's end */
    memset(&prm, 0, sizeof prm);
    qs__pgp_text(&prm, p->county);
    qs__pgp_int(&prm, p->start_year * 10000 + 101);
    qs__pgp_int(&prm, c->to);
    if (!(r = qs__pg_q(c->st, Q_OUTPUTS, &prm, "reading outputs", err)))
        return err ? err->code : QS_EIO;
    for (int i = 0; i < PQntuples(r); i++)
        qs__report_output_row(p, qs__pg_int(r, i, 0), qs__pg_int(r, i, 1));
    PQclear(r);

    memset(&prm, 0, sizeof prm);
    qs__pgp_text(&prm, p->county);
    qs__pgp_int(&prm, c->to);
    if ((rc = one_row(c, Q_STATIONS, &prm, v, 2, "reading stations", err)))
        return rc;
    p->stations = v[0];
    p->townships_covered = v[1];

    if ((rc = services_pass(c, p, err)))
        return rc;

    memset(&prm, 0, sizeof prm);
    qs__pgp_text(&prm, p->county);
    pgp_period(&prm, c, NULL);
    if (!(r = qs__pg_q(c->st, Q_TRAININGS, &prm, "reading trainings", err)))
        return err ? err->code : QS_EIO;
    for (int i = 0; i < PQntuples(r); i++)
        qs__report_training_row(p, qs__pg_int(r, i, 0), qs__pg_int(r, i, 1), qs__pg_int(r, i, 2),
                                qs__pg_int(r, i, 3));
    PQclear(r);
    return 0;
}

static int load_counties(pctx *c, qs_report *rep, const char *county, qs_err *err)
{
    qs_pgp prm = {0};
    qs__pgp_text(&prm, county);
    PGresult *r = qs__pg_q(c->st, Q_COUNTIES, &prm, "reading counties", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rows = PQntuples(r);
    if (rows)
        rep->counties = qs_xcalloc((size_t)rows, sizeof *rep->counties);
    for (int i = 0; i < rows; i++) {
        qs_report_county *cy = &rep->counties[rep->ncounties++];
        qs__pg_str(r, i, 0, cy->code, sizeof cy->code);
        qs__pg_str(r, i, 1, cy->name, sizeof cy->name);
        qs__pg_str(r, i, 2, cy->prefecture, sizeof cy->prefecture);
    }
    PQclear(r);
    return 0;
}

int qs__pg_report_measure(qs_store *st, const char *county, const int64_t *set, qs_report *rep,
                          qs_err *err)
{
    pctx c = {
        .st = st, .set = set, .from = rep->period_from, .to = rep->period_to, .year = rep->year};
    int rc;
    /* one snapshot for the whole report, as SQLite's read transaction */
    bool mine = !st->in_tx;
    if (mine && (rc = qs__pg_exec(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                                  "reading the report", err)))
        return rc;
    if ((rc = load_counties(&c, rep, county, err)))
        goto out;
    qs_pgp prm = {0};
    qs__pgp_text(&prm, county);
    PGresult *r = qs__pg_q(st, Q_PAIRINGS, &prm, "reading pairings", err);
    if (!r) {
        rc = err ? err->code : QS_EIO;
        goto out;
    }
    int rows = PQntuples(r);
    if (rows)
        rep->pairings = qs_xcalloc((size_t)rows, sizeof *rep->pairings);
    for (int i = 0; i < rows && !rc; i++) {
        qs_report_pairing *p = &rep->pairings[rep->npairings++];
        int len, alen, rlen;
        const uint8_t *id = blob(r, i, 0, &len);
        if (len == QS_ID_LEN)
            memcpy(p->id, id, QS_ID_LEN);
        qs__pg_str(r, i, 1, p->county, sizeof p->county);
        p->type = (int)qs__pg_int(r, i, 2);
        p->start_year = (int)qs__pg_int(r, i, 3);
        p->end_year = (int)qs__pg_int(r, i, 4);
        qs__pg_str(r, i, 5, p->aiding, sizeof p->aiding);
        qs__pg_str(r, i, 6, p->aiding_province, sizeof p->aiding_province);
        qs__pg_str(r, i, 7, p->receiving, sizeof p->receiving);
        p->has_receiving = qs__pg_int(r, i, 8) != 0;
        qs__pg_str(r, i, 9, p->county_name, sizeof p->county_name);
        qs__pg_str(r, i, 10, p->prefecture, sizeof p->prefecture);
        p->townships = qs__pg_int(r, i, 11);
        const uint8_t *aiding = blob(r, i, 12, &alen);
        const uint8_t *receiving = blob(r, i, 13, &rlen);
        if (alen == QS_ID_LEN)
            memcpy(p->aiding_id, aiding, QS_ID_LEN);
        p->county_known = qs__pg_int(r, i, 14) != 0;
        qs__pg_str(r, i, 15, p->receiving_county, sizeof p->receiving_county);
        rc = fill_pairing(&c, p, aiding, alen, receiving, rlen, err);
    }
    PQclear(r);
out:
    if (mine)
        qs__pg_exec(st, rc ? "ROLLBACK" : "COMMIT", "reading the report", NULL);
    qs__keyset_free(&c.workdays);
    qs__keyset_free(&c.shared);
    qs__keyset_free(&c.pseudonyms);
    return rc;
}
