/*
 * test_report.c — the annual report against what qs-gen built in
 * (expected.json), criterion by criterion, for every generated data set
 * (QS_GEN_DIRS, colon-separated) and every year in it; the boundary cases
 * by name; the working-days rule; settings overridden per year; staleness
 * through the clock hook; a county's own store.
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

#include "proto/clock.h"
#include "proto/date.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_generator),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_settings_per_year),
        cmocka_unit_test(test_stale_and_as_of),
        cmocka_unit_test(test_county_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
