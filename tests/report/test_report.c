/*
 * test_report.c — the annual report against what qs-gen built in
 * (expected.json), criterion by criterion, for every generated data set
 * (QS_GEN_DIRS, colon-separated) and every year in it; the boundary cases
 * by name; the working-days rule; settings overridden per year; staleness
 * through the clock hook; a county's own store. Every service-log figure
 * against a straightforward SQL computation over the projection's side tables
 * (the oracle), on the generated data and on a store built for the corner
 * cases (township scopes, a sibling county, missing figures, edits, deletes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "proto/clock.h"
#include "proto/date.h"
#include "proto/schema.h"
#include "store/report.h"
#include "store/store.h"

static qs_store *open_dir(const char *gen, const char *node)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", gen, node);
    qs_store_opts o = qs_store_opts_default();
    o.dir = dir;
    qs_store *st = NULL;
    qs_err e = {0};
    if (qs_store_open(&o, &st, &e))
        fail_msg("open %s: %s", dir, e.msg);
    return st;
}

static json_t *load_expected(const char *gen)
{
    char path[4096];
    json_error_t je;
    snprintf(path, sizeof path, "%s/expected.json", gen);
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    return j;
}

static const qs_report_pairing *find(const qs_report *r, const char *county)
{
    for (uint32_t i = 0; i < r->npairings; i++)
        if (strcmp(r->pairings[i].county, county) == 0)
            return &r->pairings[i];
    fail_msg("no pairing for county %s in the report", county);
    return NULL;
}

static void run_report(qs_store *st, int year, int rule, const char *county, qs_report *r)
{
    qs_report_params p = {.year = year, .as_of = year * 10000 + 1231, .county = county,
                          .worker_days_rule = rule};
    qs_err e = {0};
    if (qs_store_report_annual(st, &p, r, &e))
        fail_msg("report %d: %s", year, e.msg);
}

static int64_t fig(json_t *f, const char *k)
{
    json_t *v = json_object_get(f, k);
    if (!json_is_integer(v))
        fail_msg("expected.json: no figure %s", k);
    return json_integer_value(v);
}

/* Sorted days of the workers that count (qualified dispatched, or local). */
static void check_days(json_t *want, const qs_report_worker *w, uint32_t n, bool qualified_only,
                       const char *what, const char *county, int year)
{
    int64_t got[32];
    size_t k = 0;
    for (uint32_t i = 0; i < n && k < 32; i++)
        if (!qualified_only || w[i].qualified)
            got[k++] = w[i].days;
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && got[j - 1] > got[j]; j--) {
            int64_t t = got[j];
            got[j] = got[j - 1];
            got[j - 1] = t;
        }
    if (json_array_size(want) != k)
        fail_msg("%s %d %s: %zu workers, expected %zu", county, year, what, k,
                 json_array_size(want));
    for (size_t i = 0; i < k; i++)
        if (json_integer_value(json_array_get(want, i)) != got[i])
            fail_msg("%s %d %s: worker %zu has %lld days, expected %lld", county, year, what, i,
                     (long long)got[i], (long long)json_integer_value(json_array_get(want, i)));
}

#define EQ(k, got)                                                                              \
    do {                                                                                        \
        if (fig(f, k) != (int64_t)(got))                                                        \
            fail_msg("%s %d %s: report %lld, generator %lld", county, year, k,                  \
                     (long long)(got), (long long)fig(f, k));                                   \
    } while (0)

static void compare_pairing(const qs_report_pairing *p, json_t *ey, const char *county, int year)
{
    json_t *f = json_object_get(ey, "figures"), *v = json_object_get(ey, "verdicts");
    for (int c = 0; c < QS_C_COUNT; c++) {
        const char *want = json_string_value(json_object_get(v, qs_crit_key(c)));
        assert_non_null(want);
        if (strcmp(want, qs_verdict_name(p->crit[c].verdict)) != 0)
            fail_msg("%s %d %s: report says %s (value %lld, threshold %lld), generator built %s",
                     county, year, qs_crit_key(c), qs_verdict_name(p->crit[c].verdict),
                     (long long)p->crit[c].value, (long long)p->crit[c].threshold, want);
    }
    assert_string_equal(json_string_value(json_object_get(v, "overall")),
                        qs_verdict_name(p->overall));
    EQ("dispatched_qualified", p->dispatched_qualified);
    check_days(json_object_get(f, "dispatched_days"), p->dispatched, p->ndispatched, true,
               "dispatched days", county, year);
    EQ("dispatched_days_total", p->dispatched_days_total);
    EQ("local_workers", p->nlocal);
    check_days(json_object_get(f, "local_days"), p->local, p->nlocal, false, "local days", county,
               year);
    EQ("local_days_total", p->local_days_total);
    EQ("funds_received_fen", p->funds_received);
    EQ("funds_spent_fen", p->funds_spent);
    EQ("spent_flagged_fen", p->spent_flagged);
    EQ("cultivated", p->cultivated);
    EQ("documents", p->documents);
    EQ("brands", p->brands);
    EQ("stations", p->stations);
    EQ("townships_covered", p->townships_covered);
    EQ("townships", p->townships);
    EQ("services", p->services);
    EQ("service_minutes", p->service_minutes);
    EQ("people_served", p->people_served);
    assert_string_equal(json_string_value(json_object_get(f, "people_basis")), p->people_basis);
    EQ("trainings", p->trainings);
    EQ("supervisions", p->supervisions);
    EQ("training_minutes", p->training_minutes);
    EQ("training_local_participants", p->training_local_participants);
    EQ("services_without_workday", p->services_without_workday);
    EQ("duplicate_person_days", p->duplicate_person_days);
    EQ("workdays_outside_years", p->workdays_outside_years);
    /* every breakdown adds up to the whole */
    int64_t by_type = 0, by_domain = 0;
    for (int i = 0; i < QS_REPORT_ENUM_MAX; i++) {
        by_type += p->by_type[i].count;
        by_domain += p->by_domain[i].count;
    }
    assert_int_equal(by_type, p->services);
    assert_int_equal(by_domain, p->services);
    assert_false(p->provisional);
}

static char **gen_dirs(size_t *n)
{
    const char *env = getenv("QS_GEN_DIRS");
    if (!env || !*env)
        fail_msg("QS_GEN_DIRS is not set (ctest sets it)");
    static char *dirs[8];
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s", env);
    *n = 0;
    for (char *s = strtok(buf, ":"); s && *n < 8; s = strtok(NULL, ":"))
        dirs[(*n)++] = s;
    return dirs;
}

static void test_matches_generator(void **state)
{
    size_t ndirs;
    char **dirs = gen_dirs(&ndirs);
    for (size_t d = 0; d < ndirs; d++) {
        json_t *ex = load_expected(dirs[d]);
        qs_store *st = open_dir(dirs[d], "630000");
        json_t *years = json_object_get(ex, "years"), *prs = json_object_get(ex, "pairings");
        size_t yi, pi;
        json_t *y, *ep;
        int checked = 0;
        json_array_foreach(years, yi, y)
        {
            int year = (int)json_integer_value(y);
            char ys[8];
            snprintf(ys, sizeof ys, "%d", year);
            for (int rule = QS_DAYS_PER_PERSON; rule <= QS_DAYS_TOTAL; rule++) {
                qs_report r;
                run_report(st, year, rule, NULL, &r);
                assert_int_equal(r.npairings, json_array_size(prs));
                assert_int_equal(r.counties_configured, json_array_size(prs));
                assert_int_equal(r.counties_covered, json_array_size(prs));
                json_array_foreach(prs, pi, ep)
                {
                    const char *county = json_string_value(json_object_get(ep, "county"));
                    json_t *ey = json_object_get(json_object_get(ep, "years"), ys);
                    const qs_report_pairing *p = find(&r, county);
                    if (rule == QS_DAYS_PER_PERSON) {
                        compare_pairing(p, ey, county, year);
                        checked++;
                    } else {
                        json_t *vt = json_object_get(ey, "verdicts_total_rule");
                        assert_string_equal(
                            json_string_value(json_object_get(vt, "dispatched_days")),
                            qs_verdict_name(p->crit[QS_C_DISPATCHED_DAYS].verdict));
                        assert_string_equal(json_string_value(json_object_get(vt, "local_days")),
                                            qs_verdict_name(p->crit[QS_C_LOCAL_DAYS].verdict));
                    }
                }
                qs_report_free(&r);
            }
        }
        assert_true(checked > 0);
        qs_store_close(st);
        json_decref(ex);
    }
}

/* The boundary cases, named: seed data's pairings by case. */
static const qs_report_pairing *by_case(const qs_report *r, json_t *ex, const char *kase)
{
    size_t i;
    json_t *ep;
    json_array_foreach(json_object_get(ex, "pairings"), i, ep)
    {
        if (strcmp(json_string_value(json_object_get(ep, "case")), kase) == 0)
            return find(r, json_string_value(json_object_get(ep, "county")));
    }
    fail_msg("no pairing with case %s", kase);
    return NULL;
}

static bool has_worker_days(const qs_report_pairing *p, int64_t days, bool qualified)
{
    for (uint32_t i = 0; i < p->ndispatched; i++)
        if (p->dispatched[i].days == days && p->dispatched[i].qualified == qualified)
            return true;
    return false;
}

static void test_boundaries(void **state)
{
    size_t ndirs;
    char **dirs = gen_dirs(&ndirs);
    json_t *ex = load_expected(dirs[0]);
    json_t *years = json_object_get(ex, "years");
    int last = (int)json_integer_value(json_array_get(years, json_array_size(years) - 1));
    int first = (int)json_integer_value(json_array_get(years, 0));
    assert_true(last - first >= 2); /* the first data set spans the boundary years */
    qs_store *st = open_dir(dirs[0], "630000");
    qs_report r;
    run_report(st, last - 1, QS_DAYS_PER_PERSON, NULL, &r);

    const qs_report_pairing *p = by_case(&r, ex, "exactly_40_days_deleted_and_conflict");
    assert_true(has_worker_days(p, 40, true));
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_PASS);
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].value, 40);

    p = by_case(&r, ex, "39_days_one_logged_twice");
    assert_true(has_worker_days(p, 39, true));
    assert_int_equal(p->duplicate_person_days, 1);
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_FAIL);

    p = by_case(&r, ex, "assistant_certificate");
    assert_int_equal(p->dispatched_qualified, 1);
    bool assistant_seen = false;
    for (uint32_t i = 0; i < p->ndispatched; i++)
        if (p->dispatched[i].cert_level == 1) {
            assistant_seen = true;
            assert_false(p->dispatched[i].qualified);
            assert_true(p->dispatched[i].service_years >= 2);
            assert_true(p->dispatched[i].days >= 40);
        }
    assert_true(assistant_seen);
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_FAIL);

    p = by_case(&r, ex, "service_began_1y11m_before");
    bool young_seen = false;
    for (uint32_t i = 0; i < p->ndispatched; i++)
        if (p->dispatched[i].service_years == 1 && p->dispatched[i].cert_level >= 2) {
            young_seen = true;
            assert_false(p->dispatched[i].qualified);
            /* 1 year 11 months: the last day of January, the year before */
            assert_int_equal(p->dispatched[i].service_since, (last - 2) * 10000 + 131);
        }
    assert_true(young_seen);
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_FAIL);

    p = by_case(&r, ex, "no_cultivated_agency");
    assert_int_equal(p->cultivated, 0);
    assert_int_equal(p->crit[QS_C_CULTIVATED].verdict, QS_VERDICT_FAIL);

    p = by_case(&r, ex, "funds_under_30000_and_other_spending");
    assert_int_equal(p->crit[QS_C_FUNDS].verdict, QS_VERDICT_FAIL);
    assert_true(p->funds_received < 3000000);
    assert_true(p->spent_flagged > 0);
    assert_int_equal(p->spent_flagged_count, 1);
    qs_report_free(&r);

    /* a year later the 1y11m worker has 2 years 11 months and counts */
    run_report(st, last, QS_DAYS_PER_PERSON, NULL, &r);
    p = by_case(&r, ex, "service_began_1y11m_before");
    assert_int_equal(p->dispatched_qualified, 2);
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_PASS);
    qs_report_free(&r);

    /* the first year: no data at all for one pairing */
    run_report(st, first, QS_DAYS_PER_PERSON, NULL, &r);
    p = by_case(&r, ex, "no_data_first_year");
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_NODATA);
    assert_int_equal(p->crit[QS_C_FUNDS].verdict, QS_VERDICT_NODATA);
    assert_int_equal(p->overall, QS_VERDICT_NODATA);
    p = by_case(&r, ex, "cultivated_in_third_year");
    assert_int_equal(p->crit[QS_C_CULTIVATED].verdict, QS_VERDICT_FAIL);
    qs_report_free(&r);

    /* the conflict is open at the province, and its winner counts once */
    qs_conflict *cf = NULL;
    size_t ncf = 0;
    qs_err e = {0};
    assert_int_equal(qs_store_conflicts(st, &cf, &ncf, &e), 0);
    assert_int_equal(ncf, 1);
    qs_conflicts_free(cf, ncf);
    qs_store_close(st);
    json_decref(ex);
}

/* A threshold overridden for one year changes that year only. */
static void test_settings_per_year(void **state)
{
    size_t ndirs;
    char **dirs = gen_dirs(&ndirs);
    json_t *ex = load_expected(dirs[0]);
    json_t *years = json_object_get(ex, "years");
    int last = (int)json_integer_value(json_array_get(years, json_array_size(years) - 1));
    /* work on a copy: settings are written into the store */
    char cmd[8192], tmp[] = "/tmp/qs-report-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    snprintf(cmd, sizeof cmd, "cp -r '%s/630000' '%s/'", dirs[0], tmp);
    assert_int_equal(system(cmd), 0);
    qs_store *st = open_dir(tmp, "630000");
    qs_err e = {0};
    assert_int_equal(qs_report_setting_find("dispatched_min_days"), QS_S_DISPATCHED_MIN_DAYS);
    assert_int_equal(qs_report_setting_set(st, last, QS_S_DISPATCHED_MIN_DAYS, 39, &e), 0);
    qs_report r;
    run_report(st, last, QS_DAYS_PER_PERSON, NULL, &r);
    assert_int_equal(r.settings[QS_S_DISPATCHED_MIN_DAYS], 39);
    const qs_report_pairing *p = by_case(&r, ex, "39_days_one_logged_twice");
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_PASS);
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].threshold, 39);
    qs_report_free(&r);
    run_report(st, last - 1, QS_DAYS_PER_PERSON, NULL, &r);
    p = by_case(&r, ex, "39_days_one_logged_twice");
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_FAIL);
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].threshold, 40);
    qs_report_free(&r);
    /* year 0 applies to every year without its own row */
    assert_int_equal(qs_report_setting_set(st, 0, QS_S_CULTIVATED_MIN, 2, &e), 0);
    run_report(st, last - 1, QS_DAYS_PER_PERSON, NULL, &r);
    assert_int_equal(r.pass[QS_C_CULTIVATED], 0);
    qs_report_free(&r);
    qs_store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
    json_decref(ex);
}

/* Counties whose last sync is older than the limit are provisional. */
static void test_stale_and_as_of(void **state)
{
    size_t ndirs;
    char **dirs = gen_dirs(&ndirs);
    qs_store *st = open_dir(dirs[0], "630000");
    qs_err e = {0};
    /* the report date is today: the syncs happened moments ago */
    int32_t today = qs_date_from_time(qs_clock_wall_time());
    int year = today / 10000;
    qs_report_params p = {.year = year};
    qs_report r;
    assert_int_equal(qs_store_report_annual(st, &p, &r, &e), 0);
    assert_int_equal(r.as_of, today);
    assert_int_equal(r.provisional, 0);
    qs_report_free(&r);
    assert_int_equal(qs_report_default_as_of(2024, qs_clock_wall_time()), 20241231);
    assert_int_equal(qs_report_default_as_of(2024, 1704067200 /* 2024-01-01 */), 20240101);
    /* ten days later, with a three-day limit, every county is stale */
    qs_clock_set_offset_ms(INT64_C(10) * 86400 * 1000);
    p.as_of = 0;
    p.stale_limit_s = 3 * 86400;
    assert_int_equal(qs_store_report_annual(st, &p, &r, &e), 0);
    assert_int_equal(r.provisional, r.npairings);
    qs_report_free(&r);
    p.stale_limit_s = 30 * 86400;
    assert_int_equal(qs_store_report_annual(st, &p, &r, &e), 0);
    assert_int_equal(r.provisional, 0);
    qs_report_free(&r);
    qs_clock_set_offset_ms(0);
    /* bad parameters */
    qs_report_params bad = {.year = 1999};
    assert_int_equal(qs_store_report_annual(st, &bad, &r, &e), QS_EINVAL);
    bad.year = 2024;
    bad.county = "630000";
    assert_int_equal(qs_store_report_annual(st, &bad, &r, &e), QS_EINVAL);
    bad.county = NULL;
    bad.as_of = 20240230;
    assert_int_equal(qs_store_report_annual(st, &bad, &r, &e), QS_EINVAL);
    qs_store_close(st);
}

/* A county's own store: its own pairing only, never provisional. */
static void test_county_store(void **state)
{
    size_t ndirs;
    char **dirs = gen_dirs(&ndirs);
    json_t *ex = load_expected(dirs[0]);
    json_t *ep = json_array_get(json_object_get(ex, "pairings"), 0);
    const char *county = json_string_value(json_object_get(ep, "county"));
    int year = (int)json_integer_value(json_array_get(json_object_get(ex, "years"), 0));
    char ys[8];
    snprintf(ys, sizeof ys, "%d", year);
    qs_store *st = open_dir(dirs[0], county);
    qs_report r;
    run_report(st, year, QS_DAYS_PER_PERSON, NULL, &r);
    const qs_report_pairing *p = find(&r, county);
    assert_int_equal(p->last_ok_ms, -1);
    compare_pairing(p, json_object_get(json_object_get(ep, "years"), ys), county, year);
    qs_report_free(&r);
    /* the county filter at the province */
    qs_store_close(st);
    st = open_dir(dirs[0], "630000");
    run_report(st, year, QS_DAYS_PER_PERSON, county, &r);
    assert_int_equal(r.npairings, 1);
    assert_int_equal(r.counties_configured, 1);
    qs_report_free(&r);
    qs_store_close(st);
    json_decref(ex);
}

/* ---- the oracle: service-log figures by plain SQL ----------------------- */

/* Prepare sql (printf-style, sqlite3_mprintf) with every "%W" replaced by
 * the filter "the logs of county in [from, to]". */
static sqlite3_stmt *oracle_prepare(sqlite3 *db, const char *county, int32_t from, int32_t to,
                                    const char *fmt, va_list ap)
{
    char where[256];
    snprintf(where, sizeof where,
             "substr(s.scope, 1, %d) = '%s' AND s.date >= %d AND s.date <= %d",
             (int)strlen(county), county, (int)from, (int)to);
    char *q = sqlite3_vmprintf(fmt, ap);
    char sql[4096] = "";
    size_t n = 0;
    for (const char *c = q; *c && n + sizeof where < sizeof sql; c++) {
        if (c[0] == '%' && c[1] == 'W') {
            n += (size_t)snprintf(sql + n, sizeof sql - n, "%s", where);
            c++;
        } else {
            sql[n++] = *c;
            sql[n] = 0;
        }
    }
    sqlite3_free(q);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("oracle: %s: %s", sql, sqlite3_errmsg(db));
    return st;
}

static sqlite3_stmt *oracle_stmt(sqlite3 *db, const char *county, int32_t from, int32_t to,
                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = oracle_prepare(db, county, from, to, fmt, ap);
    va_end(ap);
    return st;
}

/* One integer. */
static int64_t oracle_i64(sqlite3 *db, const char *county, int32_t from, int32_t to,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = oracle_prepare(db, county, from, to, fmt, ap);
    va_end(ap);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return v;
}

/* Rows of (code, count, minutes) into cnt[code], min[code]. */
static void oracle_groups(sqlite3 *db, const char *county, int32_t from, int32_t to,
                          const char *fmt, int64_t *cnt, int64_t *min)
{
    sqlite3_stmt *st = oracle_stmt(db, county, from, to, fmt);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t code = sqlite3_column_int64(st, 0);
        if (code >= 0 && code < QS_REPORT_ENUM_MAX) {
            cnt[code] = sqlite3_column_int64(st, 1);
            min[code] = sqlite3_column_int64(st, 2);
        }
    }
    sqlite3_finalize(st);
}

#define OEQ(what, got, want)                                                                    \
    do {                                                                                        \
        if ((int64_t)(got) != (int64_t)(want))                                                  \
            fail_msg("%s %d..%d %s: report %lld, oracle %lld", p->county, (int)from, (int)to,   \
                     what, (long long)(got), (long long)(want));                                \
    } while (0)

/* Every service-log figure of p (a report over [from, to]) against SQL that
 * reads the side tables k_service__pseudonyms and k_service__workers. */
static void oracle_check(sqlite3 *db, const qs_report *r, const qs_report_pairing *p,
                         int32_t from, int32_t to)
{
    const char *cy = p->county;
    long long am = (long long)r->settings[QS_S_ASSISTANCE_CATEGORIES];
    long long em = (long long)r->settings[QS_S_ELDERLY_CATEGORIES];
    long long mm = (long long)r->settings[QS_S_MINOR_CATEGORIES];
    const qs_field *df = qs_kind_field_by_name(qs_schema_kind(QS_K_SERVICE), "domain");
    long long elderly = (long long)qs_enum_lookup(df->en, "elderly")->code;

    int64_t n = oracle_i64(db, cy, from, to, "SELECT COUNT(*) FROM k_service s WHERE %%W");
    OEQ("services", p->services, n);
    OEQ("minutes", p->service_minutes, oracle_i64(db, cy, from, to,
        "SELECT COALESCE(SUM(minutes), 0) FROM k_service s WHERE %%W"));
    /* by type, domain and category: code -> count, minutes */
    static const char *const groups[3] = {
        "SELECT COALESCE(service_type, 0), COUNT(*), COALESCE(SUM(minutes), 0) "
        "FROM k_service s WHERE %%W GROUP BY 1",
        "SELECT COALESCE(domain, 0), COUNT(*), COALESCE(SUM(minutes), 0) "
        "FROM k_service s WHERE %%W GROUP BY 1",
        "WITH RECURSIVE b(k) AS (VALUES(0) UNION ALL SELECT k + 1 FROM b WHERE k < 31) "
        "SELECT b.k, COUNT(*), COALESCE(SUM(minutes), 0) FROM b JOIN k_service s "
        "ON (s.categories >> b.k) & 1 WHERE %%W GROUP BY 1",
    };
    const qs_report_count *got[3] = {p->by_type, p->by_domain, p->by_category};
    for (int g = 0; g < 3; g++) {
        int64_t cnt[QS_REPORT_ENUM_MAX] = {0}, min[QS_REPORT_ENUM_MAX] = {0};
        oracle_groups(db, cy, from, to, groups[g], cnt, min);
        for (int k = 0; k < QS_REPORT_ENUM_MAX; k++) {
            char what[32];
            snprintf(what, sizeof what, "%s %d", g == 0 ? "type" : g == 1 ? "domain" : "category",
                     k);
            OEQ(what, got[g][k].count, cnt[k]);
            OEQ(what, got[g][k].minutes, min[k]);
        }
    }
    OEQ("reach assistance", p->reach_assistance, oracle_i64(db, cy, from, to,
        "SELECT COUNT(*) FROM k_service s WHERE %%W AND (categories & %lld) != 0", am));
    OEQ("reach elderly", p->reach_elderly, oracle_i64(db, cy, from, to,
        "SELECT COUNT(*) FROM k_service s WHERE %%W AND ((categories & %lld) != 0 "
        "OR domain = %lld)", em, elderly));
    OEQ("reach minors", p->reach_minors, oracle_i64(db, cy, from, to,
        "SELECT COUNT(*) FROM k_service s WHERE %%W AND ((categories & %lld) != 0 "
        "OR minors > 0)", mm));
    OEQ("distinct pseudonyms", p->people_pseudonyms, oracle_i64(db, cy, from, to,
        "SELECT COUNT(DISTINCT sp.v) FROM k_service s JOIN k_service__pseudonyms sp "
        "ON sp.id = s.id WHERE %%W"));
    int64_t without = oracle_i64(db, cy, from, to,
        "SELECT COUNT(*) FROM k_service s WHERE %%W AND NOT EXISTS (SELECT 1 FROM "
        "k_service__pseudonyms sp WHERE sp.id = s.id)");
    OEQ("head counts", p->people_headcount, oracle_i64(db, cy, from, to,
        "SELECT COALESCE(SUM(total), 0) FROM k_service s WHERE %%W AND NOT EXISTS "
        "(SELECT 1 FROM k_service__pseudonyms sp WHERE sp.id = s.id)"));
    OEQ("people served", p->people_served, p->people_pseudonyms + p->people_headcount);
    const char *basis = n == 0 ? "none" : without == n ? "head counts"
                                      : without == 0  ? "pseudonyms" : "mixed";
    if (strcmp(basis, p->people_basis) != 0)
        fail_msg("%s: basis %s, oracle %s", cy, p->people_basis, basis);
    OEQ("without work day", p->services_without_workday, oracle_i64(db, cy, from, to,
        "SELECT COUNT(*) FROM k_service s WHERE %%W AND EXISTS (SELECT 1 FROM "
        "k_service__workers sw WHERE sw.id = s.id AND NOT EXISTS (SELECT 1 FROM k_workday w "
        "WHERE w.person = sw.v AND w.date = s.date))"));
}

static sqlite3 *open_db(const char *dir)
{
    char path[4096 + 32];
    snprintf(path, sizeof path, "%s/%s", dir, QS_DB_FILE);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("open %s: %s", path, sqlite3_errmsg(db));
    return db;
}

/* Every pairing of a report over year (to as_of) against the oracle. */
static void oracle_report(qs_store *st, sqlite3 *db, int year, int32_t as_of)
{
    qs_report_params prm = {.year = year, .as_of = as_of};
    qs_report r;
    qs_err e = {0};
    if (qs_store_report_annual(st, &prm, &r, &e))
        fail_msg("report %d: %s", year, e.msg);
    for (uint32_t i = 0; i < r.npairings; i++)
        oracle_check(db, &r, &r.pairings[i], year * 10000 + 101, r.as_of);
    qs_report_free(&r);
}

/* The generated data: every year, whole and to mid-June. */
static void test_services_oracle(void **state)
{
    size_t ndirs;
    char **dirs = gen_dirs(&ndirs);
    for (size_t d = 0; d < ndirs; d++) {
        json_t *ex = load_expected(dirs[d]);
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/630000", dirs[d]);
        qs_store *st = open_dir(dirs[d], "630000");
        sqlite3 *db = open_db(dir);
        size_t yi;
        json_t *y;
        json_array_foreach(json_object_get(ex, "years"), yi, y)
        {
            int year = (int)json_integer_value(y);
            oracle_report(st, db, year, year * 10000 + 1231);
            oracle_report(st, db, year, year * 10000 + 615);
        }
        sqlite3_close(db);
        qs_store_close(st);
        json_decref(ex);
    }
}

/* ---- a store for the corner cases -------------------------------------- */
static uint32_t fid(uint32_t kind, const char *name)
{
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(kind), name);
    assert_non_null(f);
    return f->id;
}

static void make(qs_store *st, uint32_t kind, const char *scope, qs_body *b, uint8_t id[16])
{
    uint8_t tmp[16];
    qs_err e = {0};
    if (qs_store_create(st, kind, scope, b, id ? id : tmp, NULL, &e))
        fail_msg("create %s in %s: %s", qs_schema_kind(kind)->name, scope, e.msg);
    qs_body_free(b);
    qs_body_init(b);
}

static qs_value id_list(const uint8_t (*ids)[16], int n)
{
    qs_value v = qs_v_array((size_t)n);
    for (int i = 0; i < n; i++)
        v.u.a.v[i] = qs_v_bin(ids[i], 16);
    return v;
}

/* A service log: scope, date, type, domain, categories (bit list, -1 ends),
 * total, minors (-1: none), minutes (-1: none), workers, pseudonyms. */
static void service_log(qs_store *st, const char *scope, int32_t date, int type, int dom,
                        const int *cats, int total, int minors, int minutes,
                        const uint8_t (*workers)[16], int nw, const uint8_t (*ps)[16], int np,
                        uint8_t id[16])
{
    qs_body b;
    qs_body_init(&b);
    uint32_t k = QS_K_SERVICE;
    qs_body_set(&b, fid(k, "date"), qs_v_int(date));
    qs_body_set(&b, fid(k, "service_type"), qs_v_int(type));
    qs_body_set(&b, fid(k, "domain"), qs_v_int(dom));
    int nc = 0;
    while (cats && cats[nc] >= 0)
        nc++;
    if (nc) {
        qs_value cv = qs_v_array((size_t)nc);
        for (int i = 0; i < nc; i++)
            cv.u.a.v[i] = qs_v_int(cats[i]);
        qs_body_set(&b, fid(k, "categories"), cv);
    }
    qs_body_set(&b, fid(k, "total"), qs_v_int(total));
    if (minors >= 0)
        qs_body_set(&b, fid(k, "minors"), qs_v_int(minors));
    if (minutes >= 0)
        qs_body_set(&b, fid(k, "minutes"), qs_v_int(minutes));
    if (nw)
        qs_body_set(&b, fid(k, "workers"), id_list(workers, nw));
    if (np)
        qs_body_set(&b, fid(k, "pseudonyms"), id_list(ps, np));
    make(st, k, scope, &b, id);
}

static void test_services_corner_cases(void **state)
{
    char tmp[] = "/tmp/qs-report-corners-XXXXXX", cmd[4200];
    assert_non_null(mkdtemp(tmp));
    qs_store_opts o = qs_store_opts_default();
    o.dir = tmp;
    o.create = true;
    o.node = "630000";
    o.role = QS_ROLE_AGGREGATOR;
    o.user = "test";
    qs_store *st = NULL;
    qs_err e = {0};
    if (qs_store_open(&o, &st, &e))
        fail_msg("create store: %s", e.msg);
    qs_body b;
    qs_body_init(&b);
    uint8_t aiding[16], receiving[16], pairing[16], w[3][16], ps[4][16], edited[16],
        deleted[16];
    qs_body_set(&b, fid(QS_K_COUNTY, "code"), qs_v_str("632322"));
    qs_body_set(&b, fid(QS_K_COUNTY, "name"), qs_v_str("尖扎县"));
    qs_body_set(&b, fid(QS_K_COUNTY, "townships"), qs_v_int(9));
    make(st, QS_K_COUNTY, "630000", &b, NULL);
    qs_body_set(&b, fid(QS_K_AGENCY, "name"), qs_v_str("援派机构"));
    qs_body_set(&b, fid(QS_K_AGENCY, "role"), qs_v_int(1));
    make(st, QS_K_AGENCY, "630000", &b, aiding);
    qs_body_set(&b, fid(QS_K_AGENCY, "name"), qs_v_str("尖扎县社会工作服务中心"));
    qs_body_set(&b, fid(QS_K_AGENCY, "role"), qs_v_int(2));
    make(st, QS_K_AGENCY, "630000", &b, receiving);
    qs_body_set(&b, fid(QS_K_PAIRING, "aiding"), qs_v_bin(aiding, 16));
    qs_body_set(&b, fid(QS_K_PAIRING, "receiving"), qs_v_bin(receiving, 16));
    qs_body_set(&b, fid(QS_K_PAIRING, "county"), qs_v_str("632322"));
    qs_body_set(&b, fid(QS_K_PAIRING, "type"), qs_v_int(1));
    qs_body_set(&b, fid(QS_K_PAIRING, "start_year"), qs_v_int(2021));
    qs_body_set(&b, fid(QS_K_PAIRING, "end_year"), qs_v_int(2025));
    make(st, QS_K_PAIRING, "630000", &b, pairing);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "社工%d", i);
        qs_body_set(&b, fid(QS_K_PERSON, "agency"), qs_v_bin(receiving, 16));
        qs_body_set(&b, fid(QS_K_PERSON, "name"), qs_v_str(name));
        qs_body_set(&b, fid(QS_K_PERSON, "role"), qs_v_int(2));
        make(st, QS_K_PERSON, "632322", &b, w[i]);
    }
    /* work days: worker 0 on 3 March and 4 March, worker 1 on 3 March (in
     * another county's pairing scope: any work day counts) */
    int32_t days[3][2] = {{20240303, 20240304}, {20240303, 0}, {0, 0}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            if (!days[i][j])
                continue;
            qs_body_set(&b, fid(QS_K_WORKDAY, "person"), qs_v_bin(w[i], 16));
            qs_body_set(&b, fid(QS_K_WORKDAY, "pairing"), qs_v_bin(pairing, 16));
            qs_body_set(&b, fid(QS_K_WORKDAY, "date"), qs_v_int(days[i][j]));
            make(st, QS_K_WORKDAY, i == 1 ? "632323" : "632322", &b, NULL);
        }
    for (int i = 0; i < 4; i++) {
        memset(ps[i], 0, 16);
        ps[i][0] = 0xA0;
        ps[i][15] = (uint8_t)i;
    }
    const int none[] = {-1}, old_alone[] = {10, -1}, poor_orphan[] = {1, 4, -1};
    const int all[] = {1, 2, 3, 4, 8, 10, 12, 13, 14, -1};
    /* the county's own scope */
    service_log(st, "632322", 20240303, 1, 1, poor_orphan, 5, 2, 60, w, 2, ps, 2, NULL);
    service_log(st, "632322", 20240304, 2, 2, none, 7, -1, -1, w, 1, NULL, 0, NULL);
    /* a worker without a work day that date (worker 2), beside one with */
    service_log(st, "632322", 20240303, 3, 3, old_alone, 4, 0, 30, w, 3, ps + 1, 2, NULL);
    /* two workers, neither with a work day that date: one log, counted once */
    service_log(st, "632322", 20240306, 7, 1, none, 1, -1, 10, w + 1, 2, NULL, 0, NULL);
    /* no workers at all; no categories; a head count only */
    service_log(st, "632322", 20240305, 4, 4, NULL, 12, 0, 45, NULL, 0, NULL, 0, NULL);
    /* townships under the county: two scopes, the loop over them */
    service_log(st, "632322100", 20240303, 1, 2, all, 3, 3, 20, w + 1, 1, ps, 1, NULL);
    service_log(st, "632322100", 20241231, 5, 5, none, 2, -1, 15, w, 1, ps + 3, 1, NULL);
    service_log(st, "632322205", 20240101, 6, 1, old_alone, 9, 1, 90, w + 2, 1, NULL, 0,
                NULL);
    /* the sibling county and its township: never counted */
    service_log(st, "632323", 20240303, 1, 1, all, 50, 5, 600, w, 1, ps + 2, 1, NULL);
    service_log(st, "632323100", 20240303, 1, 1, all, 50, 5, 600, w, 1, NULL, 0, NULL);
    /* outside the year */
    service_log(st, "632322", 20231231, 1, 1, all, 50, 5, 600, w, 1, ps + 2, 1, NULL);
    service_log(st, "632322100", 20250101, 1, 1, all, 50, 5, 600, w, 1, NULL, 0, NULL);
    /* edited out of the year, and deleted: neither counts */
    service_log(st, "632322", 20240601, 1, 1, all, 50, 5, 600, w, 1, ps + 2, 1, edited);
    service_log(st, "632322100", 20240602, 1, 1, all, 50, 5, 600, w, 1, ps + 2, 1, deleted);
    qs_record rec;
    qs_record_init(&rec);
    qs_limits lim = qs_limits_default();
    if (qs_store_get(st, edited, &rec, &e) || qs_body_decode(rec.body, rec.body_len, &lim, &b, &e))
        fail_msg("edit: %s", e.msg);
    qs_body_set(&b, fid(QS_K_SERVICE, "date"), qs_v_int(20230601));
    if (qs_store_update(st, edited, &b, NULL, &e))
        fail_msg("edit: %s", e.msg);
    qs_body_free(&b);
    qs_record_free(&rec);
    if (qs_store_delete(st, deleted, NULL, &e))
        fail_msg("delete: %s", e.msg);

    sqlite3 *db = open_db(tmp);
    oracle_report(st, db, 2024, 20241231);
    oracle_report(st, db, 2024, 20240303);
    oracle_report(st, db, 2023, 20231231);
    /* and by hand, for 2024 */
    qs_report r;
    run_report(st, 2024, QS_DAYS_PER_PERSON, "632322", &r);
    assert_int_equal(r.npairings, 1);
    const qs_report_pairing *p = &r.pairings[0];
    assert_int_equal(p->services, 8);
    assert_int_equal(p->service_minutes, 60 + 30 + 10 + 45 + 20 + 15 + 90);
    /* worker 2 (three logs, one of them with worker 1 too); worker 0 on 31 Dec */
    assert_int_equal(p->services_without_workday, 4);
    assert_int_equal(p->people_pseudonyms, 4); /* ps 0, 1, 2 and 3 */
    assert_int_equal(p->people_headcount, 7 + 1 + 12 + 9);
    assert_string_equal(p->people_basis, "mixed");
    assert_int_equal(p->by_category[10].count, 3);
    assert_int_equal(p->by_category[10].minutes, 30 + 20 + 90);
    assert_int_equal(p->reach_minors, 3); /* minors > 0, or an orphan (4) */
    qs_report_free(&r);
    sqlite3_close(db);
    qs_store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_generator),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_settings_per_year),
        cmocka_unit_test(test_stale_and_as_of),
        cmocka_unit_test(test_county_store),
        cmocka_unit_test(test_services_oracle),
        cmocka_unit_test(test_services_corner_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
