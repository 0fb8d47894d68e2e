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
#include "store/judge.h"
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
    qs_report_params p = {
        .year = year, .as_of = year * 10000 + 1231, .county = county, .worker_days_rule = rule};
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

/* Sorted days of the workers that count (credentialed dispatched, or local). */
static void check_days(json_t *want, const qs_report_worker *w, uint32_t n, bool qualified_only,
                       const char *what, const char *county, int year)
{
    int64_t got[32];
    size_t k = 0;
    for (uint32_t i = 0; i < n && k < 32; i++)
        if (!qualified_only || w[i].credentialed)
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

#define EQ(k, got)                                                                                 \
    do {                                                                                           \
        if (fig(f, k) != (int64_t)(got))                                                           \
            fail_msg("%s %d %s: report %lld, generator %lld", county, year, k, (long long)(got),   \
                     (long long)fig(f, k));                                                        \
    } while (0)

static void compare_pairing(const qs_report_pairing *p, json_t *ey, const char *county, int year)
{
    json_t *f = json_object_get(ey, "figures"), *v = json_object_get(ey, "verdicts");
    for (int c = 0; c < QS_C_COUNT; c++) {
        const char *want = json_string_value(json_object_get(v, qs_crit_key(c)));
        if (!want)
            fail_msg("expected.json has no verdict %s", qs_crit_key(c));
        if (strcmp(want, qs_verdict_name(p->crit[c].verdict)) != 0)
            fail_msg(
                "%s %d %s: report says %s (value %lld, threshold %lld; %s), generator built %s",
                county, year, qs_crit_key(c), qs_verdict_name(p->crit[c].verdict),
                (long long)p->crit[c].value, (long long)p->crit[c].threshold, p->crit[c].note,
                want);
    }
    if (strcmp(json_string_value(json_object_get(v, "overall")), qs_verdict_name(p->overall)))
        fail_msg("%s %d overall: report %s, generator %s", county, year,
                 qs_verdict_name(p->overall), json_string_value(json_object_get(v, "overall")));
    assert_int_equal(json_is_true(json_object_get(ey, "active")), p->active);
    EQ("dispatched_credentialed", p->dispatched_credentialed);
    EQ("dispatched_counted", p->dispatched_counted);
    check_days(json_object_get(f, "dispatched_days"), p->dispatched, p->ndispatched, true,
               "dispatched days", county, year);
    EQ("dispatched_days_total", p->dispatched_days_total);
    EQ("local_workers", p->nlocal);
    EQ("local_counted", p->local_counted);
    check_days(json_object_get(f, "local_days"), p->local, p->nlocal, false, "local days", county,
               year);
    EQ("local_days_total", p->local_days_total);
    EQ("local_exam_takers", p->local_exam_takers);
    EQ("local_certified", p->local_certified);
    EQ("funds_received_fen", p->funds_received);
    EQ("funds_counted_fen", p->funds_counted);
    EQ("funds_self_fen", p->funds_self);
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
    EQ("guidance", p->guidance);
    EQ("training_minutes", p->training_minutes);
    EQ("training_local_participants", p->training_local_participants);
    EQ("services_without_workday", p->services_without_workday);
    EQ("duplicate_person_days", p->duplicate_person_days);
    EQ("workdays_outside_years", p->workdays_outside_years);
    EQ("shared_person_days", p->shared_person_days);
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

/* The province's coverage and split against expected.json's province_years. */
static void compare_province(const qs_report *r, json_t *ex, int year)
{
    char ys[8];
    snprintf(ys, sizeof ys, "%d", year);
    json_t *py = json_object_get(json_object_get(ex, "province_years"), ys);
    assert_non_null(py);
    assert_int_equal(r->counties_configured, json_integer_value(json_object_get(py, "counties")));
    assert_int_equal(r->counties_covered, json_integer_value(json_object_get(py, "covered")));
    assert_int_equal(r->split_cross, json_integer_value(json_object_get(py, "cross_province")));
    assert_int_equal(r->split_in, json_integer_value(json_object_get(py, "in_province")));
    json_t *unc = json_object_get(py, "uncovered");
    size_t named = 0;
    for (uint32_t c = 0; c < r->ncounties; c++) {
        if (r->counties[c].covered)
            continue;
        bool listed = false;
        size_t i;
        json_t *u;
        json_array_foreach(unc, i, u) listed |=
            strcmp(json_string_value(u), r->counties[c].code) == 0;
        if (!listed)
            fail_msg("%d: %s uncovered in the report, not in expected.json", year,
                     r->counties[c].code);
        named++;
    }
    assert_int_equal(named, json_array_size(unc));
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
                assert_false(r.year_open);
                compare_province(&r, ex, year);
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

/* The year is the year: a report dated in the next year (or years later)
 * counts nothing dated after 31 December and says what the year-end report
 * says; a report dated mid-year is marked open, fails nothing that can still
 * be reached, and passes nothing the year-end report fails. */
static void test_year_is_the_year(void **state)
{
    size_t ndirs;
    char **dirs = gen_dirs(&ndirs);
    json_t *ex = load_expected(dirs[0]);
    qs_store *st = open_dir(dirs[0], "630000");
    json_t *years = json_object_get(ex, "years"), *prs = json_object_get(ex, "pairings");
    size_t yi, pi;
    json_t *y, *ep;
    json_array_foreach(years, yi, y)
    {
        int year = (int)json_integer_value(y);
        char ys[8];
        snprintf(ys, sizeof ys, "%d", year);
        qs_report end, later, mid;
        qs_err e = {0};
        qs_report_params pl = {.year = year, .as_of = (year + 1) * 10000 + 630};
        qs_report_params pm = {.year = year, .as_of = year * 10000 + 630};
        run_report(st, year, QS_DAYS_PER_PERSON, NULL, &end);
        if (qs_store_report_annual(st, &pl, &later, &e) ||
            qs_store_report_annual(st, &pm, &mid, &e))
            fail_msg("report %d: %s", year, e.msg);
        assert_false(later.year_open);
        assert_int_equal(later.period_to, year * 10000 + 1231);
        assert_true(mid.year_open);
        assert_int_equal(mid.period_to, year * 10000 + 630);
        compare_province(&later, ex, year);
        json_array_foreach(prs, pi, ep)
        {
            const char *county = json_string_value(json_object_get(ep, "county"));
            json_t *ey = json_object_get(json_object_get(ep, "years"), ys);
            compare_pairing(find(&later, county), ey, county, year);
            const qs_report_pairing *m = find(&mid, county), *z = find(&end, county);
            for (int k = QS_C_DISPATCHED_WORKERS; k < QS_C_COUNT; k++) {
                if (m->crit[k].verdict == QS_VERDICT_FAIL)
                    fail_msg("%s %d mid-year: %s fails (%s)", county, year, qs_crit_key(k),
                             m->crit[k].note);
                if (m->crit[k].verdict == QS_VERDICT_PASS && z->crit[k].verdict != QS_VERDICT_PASS)
                    fail_msg("%s %d: %s passes mid-year, not at the year's end", county, year,
                             qs_crit_key(k));
                if (z->crit[k].verdict == QS_VERDICT_FAIL &&
                    m->crit[k].verdict != QS_VERDICT_PENDING)
                    fail_msg("%s %d: %s fails at the end, mid-year it is %s", county, year,
                             qs_crit_key(k), qs_verdict_name(m->crit[k].verdict));
            }
            assert_true(m->services <= z->services);
            assert_true(m->cultivated <= z->cultivated);
        }
        qs_report_free(&end);
        qs_report_free(&later);
        qs_report_free(&mid);
    }
    qs_store_close(st);
    json_decref(ex);
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

static const qs_report_worker *worker_with(const qs_report_pairing *p, int64_t days,
                                           bool credentialed)
{
    for (uint32_t i = 0; i < p->ndispatched; i++)
        if (p->dispatched[i].days == days && p->dispatched[i].credentialed == credentialed)
            return &p->dispatched[i];
    return NULL;
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
    int boundary = last - 1;
    run_report(st, boundary, QS_DAYS_PER_PERSON, NULL, &r);

    const qs_report_pairing *p = by_case(&r, ex, "exactly_40_days_deleted_and_conflict");
    assert_non_null(worker_with(p, 40, true));
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_PASS);
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].value, 2);

    /* rule 1: the 39-day worker is listed, and the pairing misses by one person */
    p = by_case(&r, ex, "39_days_one_logged_twice");
    const qs_report_worker *w = worker_with(p, 39, true);
    assert_non_null(w);
    assert_false(w->counted);
    assert_non_null(strstr(w->why, "39天"));
    assert_int_equal(p->duplicate_person_days, 1);
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_PASS);
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_FAIL);
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].value, 1);

    p = by_case(&r, ex, "extra_short_stay_worker");
    assert_int_equal(p->ndispatched, 3);
    w = worker_with(p, 8, true);
    assert_non_null(w);
    assert_false(w->counted);
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_PASS);
    assert_int_equal(p->overall, QS_VERDICT_PASS);

    p = by_case(&r, ex, "assistant_certificate");
    assert_int_equal(p->dispatched_credentialed, 1);
    bool assistant_seen = false;
    for (uint32_t i = 0; i < p->ndispatched; i++)
        if (p->dispatched[i].cert_level == QS_CERT_LEVEL_ASSISTANT) {
            assistant_seen = true;
            assert_false(p->dispatched[i].credentialed);
            assert_true(p->dispatched[i].service_years >= 2);
            assert_true(p->dispatched[i].days >= 40);
        }
    assert_true(assistant_seen);
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_FAIL);

    /* rule 2: two years by 31 December, not at the year's first working day */
    p = by_case(&r, ex, "two_years_reached_after_dispatch");
    bool young_seen = false;
    for (uint32_t i = 0; i < p->ndispatched; i++) {
        const qs_report_worker *x = &p->dispatched[i];
        if (x->service_since != (boundary - 2) * 10000 + 1201)
            continue;
        young_seen = true;
        assert_int_equal(x->service_years, 1);
        assert_int_equal(qs_date_years_between(x->service_since, boundary * 10000 + 1231), 2);
        assert_false(x->credentialed);
        assert_non_null(strstr(x->why, "不足2年"));
    }
    assert_true(young_seen);
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_FAIL);

    /* rule 2: a certificate dated after the year's first working day */
    p = by_case(&r, ex, "certificate_after_dispatch");
    bool late_seen = false;
    for (uint32_t i = 0; i < p->ndispatched; i++) {
        const qs_report_worker *x = &p->dispatched[i];
        if (x->cert_date != boundary * 10000 + 615)
            continue;
        late_seen = true;
        assert_true(x->first_day < x->cert_date);
        assert_false(x->cert_in_time);
        assert_false(x->credentialed);
    }
    assert_true(late_seen);
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_FAIL);

    /* rule 4: no agency yet, before the pairing's last year */
    p = by_case(&r, ex, "no_cultivated_agency");
    assert_int_equal(p->cultivated, 0);
    assert_int_equal(p->crit[QS_C_CULTIVATED].verdict, QS_VERDICT_PENDING);
    assert_true(p->crit[QS_C_CULTIVATED].period_pending);
    assert_int_equal(p->overall, QS_VERDICT_PASS);

    /* rule 5: public funds counted, 自筹 apart */
    p = by_case(&r, ex, "funds_under_30000_and_other_spending");
    assert_int_equal(p->crit[QS_C_FUNDS].verdict, QS_VERDICT_FAIL);
    assert_true(p->funds_counted < 3000000);
    assert_true(p->spent_flagged > 0);
    assert_int_equal(p->spent_flagged_count, 1);
    p = by_case(&r, ex, "funds_exactly_30000_and_self_raised");
    assert_int_equal(p->crit[QS_C_FUNDS].verdict, QS_VERDICT_PASS);
    assert_int_equal(p->funds_counted, 3000000);
    assert_int_equal(p->funds_self, 500000);
    p = by_case(&r, ex, "starts_second_year_public_funds_short");
    assert_int_equal(p->crit[QS_C_FUNDS].verdict, QS_VERDICT_FAIL);
    assert_int_equal(p->funds_counted, 2999999);
    assert_int_equal(p->funds_self, 600000);

    /* rule 7: the same person-days on two pairings, flagged on both */
    p = by_case(&r, ex, "data_quality");
    assert_int_equal(p->shared_person_days, 2);
    assert_int_equal(p->crit[QS_C_STRUCTURE].verdict, QS_VERDICT_PASS);
    assert_non_null(strstr(p->crit[QS_C_STRUCTURE].note, "2个人日同时记在其他结对"));
    p = by_case(&r, ex, "local_worker_exactly_120_days");
    assert_int_equal(p->shared_person_days, 2);
    qs_report_free(&r);

    /* which sources count is a setting: with 自筹, 29,999.99 + 6,000 passes */
    qs_report_params fp = {.year = boundary,
                           .as_of = boundary * 10000 + 1231,
                           .funds_sources = (1 << 1) | (1 << 2) | (1 << 4)};
    qs_err e = {0};
    assert_int_equal(qs_store_report_annual(st, &fp, &r, &e), 0);
    p = by_case(&r, ex, "starts_second_year_public_funds_short");
    assert_int_equal(p->crit[QS_C_FUNDS].verdict, QS_VERDICT_PASS);
    assert_int_equal(p->funds_counted, 2999999 + 600000);
    qs_report_free(&r);

    /* the last year: the late worker and the late certificate count; no agency
     * by the pairing's last year fails */
    run_report(st, last, QS_DAYS_PER_PERSON, NULL, &r);
    p = by_case(&r, ex, "two_years_reached_after_dispatch");
    assert_int_equal(p->dispatched_credentialed, 2);
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_PASS);
    p = by_case(&r, ex, "certificate_after_dispatch");
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_PASS);
    p = by_case(&r, ex, "no_cultivated_agency");
    assert_int_equal(p->crit[QS_C_CULTIVATED].verdict, QS_VERDICT_FAIL);
    qs_report_free(&r);

    /* the first year: no data at all for one pairing; one pairing not yet begun,
     * its county named uncovered */
    run_report(st, first, QS_DAYS_PER_PERSON, NULL, &r);
    p = by_case(&r, ex, "no_data_first_year");
    assert_int_equal(p->crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_NODATA);
    assert_int_equal(p->crit[QS_C_FUNDS].verdict, QS_VERDICT_NODATA);
    assert_int_equal(p->overall, QS_VERDICT_NODATA);
    p = by_case(&r, ex, "cultivated_in_third_year");
    assert_int_equal(p->crit[QS_C_CULTIVATED].verdict, QS_VERDICT_PENDING);
    p = by_case(&r, ex, "starts_second_year_public_funds_short");
    assert_false(p->active);
    assert_int_equal(p->overall, QS_VERDICT_NA);
    assert_int_equal(r.counties_covered, r.counties_configured - 1);
    char lines[32][QS_ASSESS_LINE];
    size_t n = qs_report_assess(&r, lines, 32);
    char named[256];
    snprintf(named, sizeof named, "未覆盖：%s（%s）", p->county_name, p->county);
    bool said = false;
    for (size_t i = 0; i < n; i++)
        said |= strstr(lines[i], named) != NULL;
    if (!said)
        fail_msg("the assessment does not name %s", named);
    qs_report_free(&r);

    /* the conflict is open at the province, and its winner counts once */
    qs_conflict *cf = NULL;
    size_t ncf = 0;
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
    assert_int_equal(p->dispatched_counted, 2);
    for (uint32_t i = 0; i < p->ndispatched; i++)
        assert_true(p->dispatched[i].days_ok);
    qs_report_free(&r);
    run_report(st, last - 1, QS_DAYS_PER_PERSON, NULL, &r);
    assert_int_equal(r.settings[QS_S_DISPATCHED_MIN_DAYS], 40);
    p = by_case(&r, ex, "39_days_one_logged_twice");
    assert_int_equal(p->crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_FAIL);
    assert_int_equal(p->dispatched_counted, 1);
    qs_report_free(&r);
    /* year 0 applies to every year without its own row */
    assert_int_equal(qs_report_setting_set(st, 0, QS_S_CULTIVATED_MIN, 2, &e), 0);
    run_report(st, last, QS_DAYS_PER_PERSON, NULL, &r);
    assert_int_equal(r.verdicts[QS_C_CULTIVATED][QS_VERDICT_PASS], 0);
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
    bad.as_of = 20231231; /* before the year begins */
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
    snprintf(where, sizeof where, "substr(s.scope, 1, %d) = '%s' AND s.date >= %d AND s.date <= %d",
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

#define OEQ(what, got, want)                                                                       \
    do {                                                                                           \
        if ((int64_t)(got) != (int64_t)(want))                                                     \
            fail_msg("%s %d..%d %s: report %lld, oracle %lld", p->county, (int)from, (int)to,      \
                     what, (long long)(got), (long long)(want));                                   \
    } while (0)

/* Every service-log figure of p (a report over [from, to]) against SQL that
 * reads the side tables k_service__pseudonyms and k_service__workers. */
static void oracle_check(sqlite3 *db, const qs_report *r, const qs_report_pairing *p, int32_t from,
                         int32_t to)
{
    const char *cy = p->county;
    long long am = (long long)r->settings[QS_S_ASSISTANCE_CATEGORIES];
    long long em = (long long)r->settings[QS_S_ELDERLY_CATEGORIES];
    long long mm = (long long)r->settings[QS_S_MINOR_CATEGORIES];
    const qs_field *df = qs_kind_field_by_name(qs_schema_kind(QS_K_SERVICE), "domain");
    long long elderly = (long long)qs_enum_lookup(df->en, "elderly")->code;

    int64_t n = oracle_i64(db, cy, from, to, "SELECT COUNT(*) FROM k_service s WHERE %%W");
    OEQ("services", p->services, n);
    OEQ("minutes", p->service_minutes,
        oracle_i64(db, cy, from, to,
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
            snprintf(what, sizeof what, "%s %d",
                     g == 0   ? "type"
                     : g == 1 ? "domain"
                              : "category",
                     k);
            OEQ(what, got[g][k].count, cnt[k]);
            OEQ(what, got[g][k].minutes, min[k]);
        }
    }
    OEQ("reach assistance", p->reach_assistance,
        oracle_i64(db, cy, from, to,
                   "SELECT COUNT(*) FROM k_service s WHERE %%W AND (categories & %lld) != 0", am));
    OEQ("reach elderly", p->reach_elderly,
        oracle_i64(db, cy, from, to,
                   "SELECT COUNT(*) FROM k_service s WHERE %%W AND ((categories & %lld) != 0 "
                   "OR domain = %lld)",
                   em, elderly));
    OEQ("reach minors", p->reach_minors,
        oracle_i64(db, cy, from, to,
                   "SELECT COUNT(*) FROM k_service s WHERE %%W AND ((categories & %lld) != 0 "
                   "OR minors > 0)",
                   mm));
    OEQ("distinct pseudonyms", p->people_pseudonyms,
        oracle_i64(db, cy, from, to,
                   "SELECT COUNT(DISTINCT sp.v) FROM k_service s JOIN k_service__pseudonyms sp "
                   "ON sp.id = s.id WHERE %%W"));
    int64_t without =
        oracle_i64(db, cy, from, to,
                   "SELECT COUNT(*) FROM k_service s WHERE %%W AND NOT EXISTS (SELECT 1 FROM "
                   "k_service__pseudonyms sp WHERE sp.id = s.id)");
    OEQ("head counts", p->people_headcount,
        oracle_i64(db, cy, from, to,
                   "SELECT COALESCE(SUM(total), 0) FROM k_service s WHERE %%W AND NOT EXISTS "
                   "(SELECT 1 FROM k_service__pseudonyms sp WHERE sp.id = s.id)"));
    OEQ("people served", p->people_served, p->people_pseudonyms + p->people_headcount);
    const char *basis = n == 0         ? "none"
                        : without == n ? "head counts"
                        : without == 0 ? "pseudonyms"
                                       : "mixed";
    if (strcmp(basis, p->people_basis) != 0)
        fail_msg("%s: basis %s, oracle %s", cy, p->people_basis, basis);
    OEQ("without work day", p->services_without_workday,
        oracle_i64(
            db, cy, from, to,
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
    uint8_t aiding[16], receiving[16], pairing[16], w[3][16], ps[4][16], edited[16], deleted[16];
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
    service_log(st, "632322205", 20240101, 6, 1, old_alone, 9, 1, 90, w + 2, 1, NULL, 0, NULL);
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

/* Structure (rule 7) and coverage (rule 6) on a store built for them: an
 * aiding agency in two pairings, a county in two, a receiving agency of
 * another county, a type that disagrees with the agency's province, the same
 * person-day on two pairings, a county of the plan without a pairing. */
static void test_structure_store(void **state)
{
    char tmp[] = "/tmp/qs-report-structure-XXXXXX", cmd[4200];
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
    static const char *const counties[3][2] = {
        {"632322", "尖扎县"}, {"632323", "泽库县"}, {"632324", "河南县"}};
    for (int i = 0; i < 3; i++) {
        qs_body_set(&b, fid(QS_K_COUNTY, "code"), qs_v_str(counties[i][0]));
        qs_body_set(&b, fid(QS_K_COUNTY, "name"), qs_v_str(counties[i][1]));
        make(st, QS_K_COUNTY, "630000", &b, NULL);
    }
    uint8_t a[16], zj[16], r1[16], r2[16], r3[16], p1[16], p2[16], p3[16], x[16];
    qs_body_set(&b, fid(QS_K_AGENCY, "name"), qs_v_str("西宁某社工中心"));
    qs_body_set(&b, fid(QS_K_AGENCY, "role"), qs_v_int(1));
    qs_body_set(&b, fid(QS_K_AGENCY, "province"), qs_v_str("青海省"));
    make(st, QS_K_AGENCY, "630000", &b, a);
    qs_body_set(&b, fid(QS_K_AGENCY, "name"), qs_v_str("杭州某社工机构"));
    qs_body_set(&b, fid(QS_K_AGENCY, "role"), qs_v_int(1));
    qs_body_set(&b, fid(QS_K_AGENCY, "province"), qs_v_str("浙江省"));
    make(st, QS_K_AGENCY, "630000", &b, zj);
    uint8_t *rs[3] = {r1, r2, r3};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "受援机构%d", i + 1);
        qs_body_set(&b, fid(QS_K_AGENCY, "name"), qs_v_str(name));
        qs_body_set(&b, fid(QS_K_AGENCY, "role"), qs_v_int(2));
        qs_body_set(&b, fid(QS_K_AGENCY, "county"), qs_v_str("632322")); /* all of 尖扎 */
        make(st, QS_K_AGENCY, "630000", &b, rs[i]);
    }
    static const struct {
        int aid; /* 0 a, 1 zj */
        int rec;
        const char *county;
        int type, y0, y1;
    } pairs[3] = {
        {0, 0, "632322", 2, 2021, 2025}, /* 青海 agency, in-province */
        {0, 1, "632323", 1, 2021, 2025}, /* the same agency again, recorded cross-province,
                                            its receiving agency in 尖扎 */
        {1, 2, "632322", 1, 2024, 2025}, /* a second pairing for 尖扎 from 2024 */
    };
    uint8_t *ps[3] = {p1, p2, p3};
    for (int i = 0; i < 3; i++) {
        qs_body_set(&b, fid(QS_K_PAIRING, "aiding"), qs_v_bin(pairs[i].aid ? zj : a, 16));
        qs_body_set(&b, fid(QS_K_PAIRING, "receiving"), qs_v_bin(rs[pairs[i].rec], 16));
        qs_body_set(&b, fid(QS_K_PAIRING, "county"), qs_v_str(pairs[i].county));
        qs_body_set(&b, fid(QS_K_PAIRING, "type"), qs_v_int(pairs[i].type));
        qs_body_set(&b, fid(QS_K_PAIRING, "start_year"), qs_v_int(pairs[i].y0));
        qs_body_set(&b, fid(QS_K_PAIRING, "end_year"), qs_v_int(pairs[i].y1));
        make(st, QS_K_PAIRING, "630000", &b, ps[i]);
    }
    qs_body_set(&b, fid(QS_K_PERSON, "agency"), qs_v_bin(a, 16));
    qs_body_set(&b, fid(QS_K_PERSON, "name"), qs_v_str("马明"));
    qs_body_set(&b, fid(QS_K_PERSON, "role"), qs_v_int(1));
    make(st, QS_K_PERSON, "632322", &b, x);
    for (int i = 0; i < 2; i++) { /* 1 March 2024, on P1 and on P2 */
        qs_body_set(&b, fid(QS_K_WORKDAY, "person"), qs_v_bin(x, 16));
        qs_body_set(&b, fid(QS_K_WORKDAY, "pairing"), qs_v_bin(ps[i], 16));
        qs_body_set(&b, fid(QS_K_WORKDAY, "date"), qs_v_int(20240301));
        make(st, QS_K_WORKDAY, i ? "632323" : "632322", &b, NULL);
    }

    qs_report r;
    run_report(st, 2024, QS_DAYS_PER_PERSON, NULL, &r);
    assert_int_equal(r.npairings, 3);
    const qs_report_pairing *q1 = NULL, *q2 = NULL, *q3 = NULL;
    for (uint32_t i = 0; i < r.npairings; i++) {
        const qs_report_pairing *q = &r.pairings[i];
        if (memcmp(q->id, p1, 16) == 0)
            q1 = q;
        else if (memcmp(q->id, p2, 16) == 0)
            q2 = q;
        else
            q3 = q;
    }
    assert_non_null(q1);
    assert_non_null(q2);
    assert_non_null(q3);
    /* one-to-one */
    assert_int_equal(q1->other_pairings_aiding, 1);
    assert_int_equal(q1->other_pairings_county, 1);
    assert_int_equal(q1->crit[QS_C_STRUCTURE].verdict, QS_VERDICT_FAIL);
    assert_non_null(strstr(q1->crit[QS_C_STRUCTURE].note, "援派机构本年度另有1个结对"));
    assert_non_null(strstr(q1->crit[QS_C_STRUCTURE].note, "本县本年度另有1个结对"));
    assert_int_equal(q3->other_pairings_county, 1);
    assert_int_equal(q3->crit[QS_C_STRUCTURE].verdict, QS_VERDICT_FAIL);
    /* the receiving agency of another county; the type from the agency's province */
    assert_true(q2->receiving_elsewhere);
    assert_non_null(strstr(q2->crit[QS_C_STRUCTURE].note, "受援机构登记在632322"));
    assert_true(q2->type_mismatch);
    assert_int_equal(q2->type_derived, 2);
    assert_int_equal(q2->crit[QS_C_FUNDS].verdict, QS_VERDICT_NODATA); /* judged: in-province */
    assert_int_equal(q3->type_derived, 1);
    assert_int_equal(q3->crit[QS_C_FUNDS].verdict, QS_VERDICT_NA);
    /* the same person-day on two pairings */
    assert_int_equal(q1->shared_person_days, 1);
    assert_int_equal(q2->shared_person_days, 1);
    /* coverage: 河南县 has no pairing, and is named */
    assert_int_equal(r.counties_configured, 3);
    assert_int_equal(r.counties_covered, 2);
    assert_false(r.counties[2].covered);
    assert_string_equal(r.counties[2].name, "河南县");
    assert_int_equal(r.counties[0].active_pairings, 2);
    /* the split: 1 cross (浙江), 2 in-province, against the plan's 5 + 10 */
    assert_int_equal(r.split_cross, 1);
    assert_int_equal(r.split_in, 2);
    assert_int_equal(r.split_verdict, QS_VERDICT_FAIL);
    qs_report_free(&r);
    /* 2023: the third pairing has not begun */
    run_report(st, 2023, QS_DAYS_PER_PERSON, NULL, &r);
    for (uint32_t i = 0; i < r.npairings; i++) {
        const qs_report_pairing *q = &r.pairings[i];
        if (memcmp(q->id, p3, 16) == 0) {
            assert_false(q->active);
            assert_int_equal(q->overall, QS_VERDICT_NA);
        } else if (memcmp(q->id, p1, 16) == 0) {
            assert_int_equal(q->other_pairings_county, 0);
            assert_int_equal(q->other_pairings_aiding, 1);
        }
    }
    qs_report_free(&r);
    /* the county filter: the structure is still checked against every pairing */
    run_report(st, 2024, QS_DAYS_PER_PERSON, "632323", &r);
    assert_int_equal(r.npairings, 1);
    assert_int_equal(r.pairings[0].crit[QS_C_STRUCTURE].verdict, QS_VERDICT_FAIL);
    assert_int_equal(r.split_verdict, QS_VERDICT_NA);
    assert_int_equal(r.counties_configured, 1);
    qs_report_free(&r);
    qs_store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_generator),     cmocka_unit_test(test_year_is_the_year),
        cmocka_unit_test(test_structure_store),       cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_settings_per_year),     cmocka_unit_test(test_stale_and_as_of),
        cmocka_unit_test(test_county_store),          cmocka_unit_test(test_services_oracle),
        cmocka_unit_test(test_services_corner_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
