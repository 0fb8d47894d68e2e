/*
 * test_judge.c — the report's judge (store/judge.c) on made-up measurements,
 * no store: every criterion at, one step below and one step above its
 * threshold, for a report dated mid-year, at the year's end and after it;
 * each rule of issue 19 as a row of a table; the overall verdict; the
 * province's coverage and split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "store/judge.h"
#include "store/report.h"

#define YEAR 2024
#define MID 20240630   /* the year is not over */
#define END 20241231   /* the year's last day */
#define AFTER 20250315 /* dated after the year: the year is still the year */

static qs_report R;
static qs_report_pairing P;
static qs_report_worker DW[8], LW[8];
static qs_report_county C[2];

/* A pairing of 632322 that meets the plan: in-province, two qualified
 * dispatched workers with 50 days, three locals with 130, 35,000 yuan of
 * public funds, one cultivated agency; period 2021-2025. */
static void base(int32_t as_of)
{
    memset(&R, 0, sizeof R);
    memset(&P, 0, sizeof P);
    memset(DW, 0, sizeof DW);
    memset(LW, 0, sizeof LW);
    memset(C, 0, sizeof C);
    R.year = YEAR;
    R.as_of = as_of;
    R.period_from = YEAR * 10000 + 101;
    R.period_to = as_of < YEAR * 10000 + 1231 ? as_of : YEAR * 10000 + 1231;
    R.generated_ms = INT64_C(1735689600000); /* 2025-01-01 */
    snprintf(R.node, sizeof R.node, "630000");
    for (int i = 0; i < QS_S_COUNT; i++)
        R.settings[i] = qs_report_setting_def((qs_setting_id)i)->def;
    R.settings[QS_S_PLAN_CROSS_PROVINCE] = 0;
    R.settings[QS_S_PLAN_IN_PROVINCE] = 1;

    snprintf(P.county, sizeof P.county, "632322");
    snprintf(P.county_name, sizeof P.county_name, "尖扎县");
    P.county_known = true;
    snprintf(P.aiding, sizeof P.aiding, "西宁市城东区社会工作服务中心");
    snprintf(P.aiding_province, sizeof P.aiding_province, "青海省");
    snprintf(P.receiving, sizeof P.receiving, "尖扎县社会工作服务中心");
    P.has_receiving = true;
    snprintf(P.receiving_county, sizeof P.receiving_county, "632322");
    P.type = 2; /* in_province */
    P.start_year = 2021;
    P.end_year = 2025;
    P.last_ok_ms = -1;
    P.any_day = true;
    for (int i = 0; i < 2; i++) {
        qs_report_worker *w = &DW[i];
        snprintf(w->name, sizeof w->name, "援派%d", i);
        w->role = 1;
        w->cert_level = 2;
        w->cert_date = 20200601;
        w->service_since = 20180301;
        w->first_day = 20240108;
        w->days = 50;
    }
    P.dispatched = DW;
    P.ndispatched = 2;
    for (int i = 0; i < 3; i++) {
        snprintf(LW[i].name, sizeof LW[i].name, "本地%d", i);
        LW[i].role = 2;
        LW[i].cert_level = -1;
        LW[i].first_day = 20240103;
        LW[i].days = 130;
    }
    P.local = LW;
    P.nlocal = 3;
    P.expense_records = 3;
    P.received_by_source[1] = 2000000;
    P.received_by_source[2] = 1500000;
    P.spent_by_category[1] = 3000000;
    P.spent_count_by_category[1] = 1;
    P.cultivated = 1;
    R.pairings = &P;
    R.npairings = 1;
    snprintf(C[0].code, sizeof C[0].code, "632322");
    snprintf(C[0].name, sizeof C[0].name, "尖扎县");
    R.counties = C;
    R.ncounties = 1;
}

/* ---- the setups: each changes one thing of the base by arg ---- */
static void s_none(int64_t a)
{
    (void)a;
}
static void s_days1(int64_t a)
{
    DW[1].days = a;
}
static void s_extra_short(int64_t a)
{
    DW[2] = DW[0];
    DW[2].days = a;
    P.ndispatched = 3;
}
static void s_one_dispatched(int64_t a)
{
    (void)a;
    P.ndispatched = 1;
}
static void s_ndispatched(int64_t a)
{
    DW[2] = DW[0];
    P.ndispatched = (uint32_t)a;
}
static void s_cert_level(int64_t a)
{
    DW[1].cert_level = (int)a;
}
static void s_cert_none(int64_t a)
{
    (void)a;
    DW[1].cert_level = -1;
}
/* the certificate dated a days from the first working day (20240108) */
static void s_cert_date(int64_t a)
{
    DW[1].cert_date = 20240108 + (int32_t)a;
}
static void s_cert_undated(int64_t a)
{
    DW[1].cert_date = 0;
    R.settings[QS_S_CERT_DATE_REQUIRED] = a;
}
/* service began on 8 January 2022 shifted by a days: two years at the first
 * working day exactly when a <= 0; by 31 December always */
static void s_since(int64_t a)
{
    DW[1].service_since = 20220108 + (int32_t)a;
}
static void s_since_unknown(int64_t a)
{
    (void)a;
    DW[1].service_since = 0;
}
static void s_nlocal(int64_t a)
{
    P.nlocal = (uint32_t)a;
}
static void s_local_days(int64_t a)
{
    LW[2].days = a;
}
static void s_total_rule(int64_t a)
{
    R.settings[QS_S_WORKER_DAYS_RULE] = QS_DAYS_TOTAL;
    DW[0].days = a;
    DW[1].days = 0;
    P.ndispatched = 1;
}
static void s_total_local(int64_t a)
{
    R.settings[QS_S_WORKER_DAYS_RULE] = QS_DAYS_TOTAL;
    LW[0].days = a - 2;
    LW[1].days = LW[2].days = 1;
}
static void s_no_day(int64_t a)
{
    (void)a;
    P.any_day = false;
    P.ndispatched = P.nlocal = 0;
}
/* public funds of a fen */
static void s_public(int64_t a)
{
    P.received_by_source[1] = a;
    P.received_by_source[2] = 0;
}
static void s_self_only(int64_t a)
{
    P.received_by_source[1] = P.received_by_source[2] = 0;
    P.received_by_source[4] = a; /* 自筹 */
}
static void s_self_counted(int64_t a)
{
    s_self_only(a);
    R.settings[QS_S_FUNDS_SOURCES] |= INT64_C(1) << 4;
}
static void s_no_expense(int64_t a)
{
    (void)a;
    memset(P.received_by_source, 0, sizeof P.received_by_source);
    memset(P.spent_by_category, 0, sizeof P.spent_by_category);
    P.expense_records = 0;
}
static void s_zhejiang(int64_t a)
{
    snprintf(P.aiding_province, sizeof P.aiding_province, "浙江省");
    P.type = (int)a; /* recorded: 1 cross (agrees) or 2 in-province (disagrees) */
}
static void s_recorded_cross(int64_t a)
{
    (void)a;
    P.type = 1; /* but the agency is of 青海: in-province, funds judged */
    s_public(2900000);
}
static void s_province_unknown(int64_t a)
{
    P.aiding_province[0] = '\0';
    P.type = (int)a;
}
static void s_cultivated(int64_t a)
{
    P.cultivated = a;
}
static void s_cultivated_last(int64_t a)
{
    P.cultivated = a;
    P.end_year = YEAR;
}
static void s_county_unknown(int64_t a)
{
    (void)a;
    P.county_known = false;
}
static void s_no_receiving(int64_t a)
{
    (void)a;
    P.has_receiving = false;
    P.receiving_county[0] = '\0';
}
static void s_inactive(int64_t a)
{
    P.start_year = (int)a;
}
static void s_other_aiding(int64_t a)
{
    P.other_pairings_aiding = a;
}
static void s_other_county(int64_t a)
{
    P.other_pairings_county = a;
}
static void s_receiving_in(int64_t a)
{
    snprintf(P.receiving_county, sizeof P.receiving_county, "%s", a ? "632323" : "");
}
static void s_shared(int64_t a)
{
    P.shared_person_days = a;
}
static void s_flagged(int64_t a)
{
    P.spent_by_category[6] = a; /* 其他: not an allowed category */
    P.spent_count_by_category[6] = 1;
}

typedef struct jcase {
    const char *name;
    void (*setup)(int64_t);
    int64_t arg;
    int32_t as_of;
    qs_crit crit;
    qs_verdict want;
    int64_t value; /* -1: not checked */
} jcase;

#define PASS QS_VERDICT_PASS
#define FAIL QS_VERDICT_FAIL
#define NODATA QS_VERDICT_NODATA
#define PENDING QS_VERDICT_PENDING
#define NA QS_VERDICT_NA

/* Rows for one threshold at a report date: below, at, above. */
#define BOUNDARY(nm, fn, lo, at, hi, date, c, below)                                               \
    {nm " below", fn, lo, date, c, below, -1}, {nm " at", fn, at, date, c, PASS, -1},              \
    {                                                                                              \
        nm " above", fn, hi, date, c, PASS, -1                                                     \
    }
/* Reversed (a date or a start that must not be later): lo and at pass, hi
 * is one step too late. */
#define LATE(nm, fn, lo, at, hi, date, c, late)                                                    \
    {nm " a step earlier", fn, lo, date, c, PASS, -1}, {nm " at", fn, at, date, c, PASS, -1},      \
    {                                                                                              \
        nm " a step later", fn, hi, date, c, late, -1                                              \
    }
#define LATE3(nm, fn, lo, at, hi, c)                                                               \
    LATE(nm " mid-year", fn, lo, at, hi, MID, c, PENDING),                                         \
        LATE(nm " year end", fn, lo, at, hi, END, c, FAIL),                                        \
        LATE(nm " after the year", fn, lo, at, hi, AFTER, c, FAIL)
/* A fact, not a total: the same verdict at every report date. */
#define FACT3(nm, fn, arg, c, v)                                                                   \
    {nm " mid-year", fn, arg, MID, c, v, -1}, {nm " year end", fn, arg, END, c, v, -1},            \
    {                                                                                              \
        nm " after the year", fn, arg, AFTER, c, v, -1                                             \
    }
/* The same at the three report dates: below reads in progress mid-year. */
#define BOUNDARY3(nm, fn, lo, at, hi, c)                                                           \
    BOUNDARY(nm " mid-year", fn, lo, at, hi, MID, c, PENDING),                                     \
        BOUNDARY(nm " year end", fn, lo, at, hi, END, c, FAIL),                                    \
        BOUNDARY(nm " after the year", fn, lo, at, hi, AFTER, c, FAIL)

static const jcase cases[] = {
    {"the base passes", s_none, 0, END, QS_C_COUNT, PASS, -1},

    /* 1. per person: dispatched workers each give 40 days */
    BOUNDARY3("dispatched days 39/40/41", s_days1, 39, 40, 41, QS_C_DISPATCHED_DAYS),
    {"39 days: one person counts", s_days1, 39, END, QS_C_DISPATCHED_DAYS, FAIL, 1},
    {"39 days: the worker is still qualified", s_days1, 39, END, QS_C_DISPATCHED_WORKERS, PASS, 2},
    {"an extra short-stay worker fails nothing", s_extra_short, 5, END, QS_C_DISPATCHED_DAYS, PASS,
     2},
    {"an extra short-stay worker: overall", s_extra_short, 5, END, QS_C_COUNT, PASS, -1},
    {"one dispatched worker", s_one_dispatched, 0, END, QS_C_DISPATCHED_WORKERS, FAIL, 1},
    {"one dispatched worker mid-year", s_one_dispatched, 0, MID, QS_C_DISPATCHED_WORKERS, PENDING,
     1},
    BOUNDARY3("qualified dispatched workers 1/2/3", s_ndispatched, 1, 2, 3,
              QS_C_DISPATCHED_WORKERS),
    BOUNDARY3("certificate level 1/2/3", s_cert_level, 1, 2, 3, QS_C_DISPATCHED_WORKERS),
    LATE3("certificate date vs dispatch -1/0/+1 day", s_cert_date, -1, 0, 1,
          QS_C_DISPATCHED_WORKERS),
    LATE3("service start vs 2 years before dispatch -1/0/+1 day", s_since, -1, 0, 1,
          QS_C_DISPATCHED_WORKERS),
    BOUNDARY3("cultivated in the last year 0/1/2", s_cultivated_last, 0, 1, 2, QS_C_CULTIVATED),
    FACT3("the aiding agency in two pairings", s_other_aiding, 1, QS_C_STRUCTURE, FAIL),
    FACT3("the county in two pairings", s_other_county, 1, QS_C_STRUCTURE, FAIL),
    FACT3("one pairing per agency and county", s_other_aiding, 0, QS_C_STRUCTURE, PASS),
    FACT3("a county off the list", s_county_unknown, 0, QS_C_COVERAGE, FAIL),
    FACT3("no agency before the last year", s_cultivated, 0, QS_C_CULTIVATED, PENDING),
    FACT3("a cross-province pairing's funds", s_zhejiang, 1, QS_C_FUNDS, NA),
    FACT3("no expense records", s_no_expense, 0, QS_C_FUNDS, NODATA),
    {"助理社会工作师 does not count", s_cert_level, 1, END, QS_C_DISPATCHED_WORKERS, FAIL, 1},
    {"社会工作师 counts", s_cert_level, 2, END, QS_C_DISPATCHED_WORKERS, PASS, 2},
    {"高级社会工作师 counts", s_cert_level, 3, END, QS_C_DISPATCHED_WORKERS, PASS, 2},
    {"no certificate", s_cert_none, 0, END, QS_C_DISPATCHED_WORKERS, FAIL, 1},
    /* 1. local workers: 3, each 120 days */
    BOUNDARY3("local workers 2/3/4", s_nlocal, 2, 3, 4, QS_C_LOCAL_WORKERS),
    BOUNDARY3("local days 119/120/121", s_local_days, 119, 120, 121, QS_C_LOCAL_DAYS),
    {"a local with 119 days is listed, two count", s_local_days, 119, END, QS_C_LOCAL_DAYS, FAIL,
     2},
    /* the total reading, a setting */
    BOUNDARY3("total dispatched days 39/40/41", s_total_rule, 39, 40, 41, QS_C_DISPATCHED_DAYS),
    BOUNDARY3("total local days 119/120/121", s_total_local, 119, 120, 121, QS_C_LOCAL_DAYS),
    {"no work day at all", s_no_day, 0, END, QS_C_DISPATCHED_WORKERS, NODATA, -1},
    {"no work day at all: local days", s_no_day, 0, MID, QS_C_LOCAL_DAYS, NODATA, -1},

    /* 2. qualifications at the year's first working day */
    {"certificate dated the day before dispatch", s_cert_date, -1, END, QS_C_DISPATCHED_WORKERS,
     PASS, 2},
    {"certificate dated on the dispatch day", s_cert_date, 0, END, QS_C_DISPATCHED_WORKERS, PASS,
     2},
    {"certificate dated the day after dispatch", s_cert_date, 1, END, QS_C_DISPATCHED_WORKERS, FAIL,
     1},
    {"certificate after dispatch, after the year", s_cert_date, 1, AFTER, QS_C_DISPATCHED_WORKERS,
     FAIL, 1},
    {"undated certificate counts by default", s_cert_undated, 0, END, QS_C_DISPATCHED_WORKERS, PASS,
     2},
    {"undated certificate, dates required", s_cert_undated, 1, END, QS_C_DISPATCHED_WORKERS, FAIL,
     1},
    {"2 years and a day at dispatch", s_since, -1, END, QS_C_DISPATCHED_WORKERS, PASS, 2},
    {"2 years exactly at dispatch", s_since, 0, END, QS_C_DISPATCHED_WORKERS, PASS, 2},
    {"2 years less a day at dispatch (2 by 31 Dec)", s_since, 1, END, QS_C_DISPATCHED_WORKERS, FAIL,
     1},
    {"2 years reached after dispatch, after the year", s_since, 1, AFTER, QS_C_DISPATCHED_WORKERS,
     FAIL, 1},
    {"2 years reached after dispatch, mid-year", s_since, 1, MID, QS_C_DISPATCHED_WORKERS, PENDING,
     1},
    {"service start unknown", s_since_unknown, 0, END, QS_C_DISPATCHED_WORKERS, FAIL, 1},

    /* 4. cultivated agency over the pairing's period (2021-2025) */
    {"no agency before the last year: in progress", s_cultivated, 0, END, QS_C_CULTIVATED, PENDING,
     0},
    {"no agency before the last year, mid-year", s_cultivated, 0, MID, QS_C_CULTIVATED, PENDING, 0},
    {"no agency before the last year: overall pass", s_cultivated, 0, END, QS_C_COUNT, PASS, -1},
    {"no agency in the last year at its end", s_cultivated_last, 0, END, QS_C_CULTIVATED, FAIL, 0},
    {"no agency in the last year, after it", s_cultivated_last, 0, AFTER, QS_C_CULTIVATED, FAIL, 0},
    {"no agency in the last year, mid-year", s_cultivated_last, 0, MID, QS_C_CULTIVATED, PENDING,
     0},
    {"one agency in the last year", s_cultivated_last, 1, END, QS_C_CULTIVATED, PASS, 1},
    {"two agencies", s_cultivated_last, 2, END, QS_C_CULTIVATED, PASS, 2},

    /* 5. funds: money provided from the counted sources */
    BOUNDARY3("public funds 29,999.99/30,000/30,000.01", s_public, 2999999, 3000000, 3000001,
              QS_C_FUNDS),
    {"自筹 alone does not count", s_self_only, 5000000, END, QS_C_FUNDS, FAIL, 0},
    {"自筹 counts when the setting says so", s_self_counted, 3000000, END, QS_C_FUNDS, PASS,
     3000000},
    {"no expense records", s_no_expense, 0, END, QS_C_FUNDS, NODATA, -1},
    {"spending outside the categories is flagged, not failed", s_flagged, 100000, END, QS_C_FUNDS,
     PASS, -1},
    {"a Zhejiang agency: n/a", s_zhejiang, 1, END, QS_C_FUNDS, NA, -1},
    {"a Zhejiang agency recorded in-province: n/a", s_zhejiang, 2, END, QS_C_FUNDS, NA, -1},
    {"a Qinghai agency recorded cross-province: judged", s_recorded_cross, 0, END, QS_C_FUNDS, FAIL,
     2900000},
    {"no province: the recorded cross type", s_province_unknown, 1, END, QS_C_FUNDS, NA, -1},
    {"no province: the recorded in-province type", s_province_unknown, 2, END, QS_C_FUNDS, PASS,
     -1},

    /* 6. coverage */
    {"a county off the list", s_county_unknown, 0, END, QS_C_COVERAGE, FAIL, 0},
    {"no receiving agency", s_no_receiving, 0, END, QS_C_COVERAGE, FAIL, 0},
    {"before the pairing's first year: n/a", s_inactive, 2025, END, QS_C_COVERAGE, NA, -1},
    {"before the pairing's first year: overall n/a", s_inactive, 2025, END, QS_C_COUNT, NA, -1},
    {"the pairing's first year", s_inactive, 2024, END, QS_C_COVERAGE, PASS, 1},

    /* 7. structure */
    {"the aiding agency in a second pairing", s_other_aiding, 1, END, QS_C_STRUCTURE, FAIL, 0},
    {"the county in a second pairing", s_other_county, 1, MID, QS_C_STRUCTURE, FAIL, 0},
    {"the receiving agency in another county", s_receiving_in, 1, END, QS_C_STRUCTURE, FAIL, 0},
    {"the receiving agency's county not given", s_receiving_in, 0, END, QS_C_STRUCTURE, PASS, 1},
    {"type disagrees with the province: flagged", s_zhejiang, 2, END, QS_C_STRUCTURE, PASS, 1},
    {"person-days on two pairings: flagged", s_shared, 3, END, QS_C_STRUCTURE, PASS, 1},

    /* 3. the year is the year; overall verdicts */
    {"mid-year, everything below so far: overall in progress", s_days1, 10, MID, QS_C_COUNT,
     PENDING, -1},
    {"at the year's end: overall fail", s_days1, 10, END, QS_C_COUNT, FAIL, -1},
    {"a structural fail mid-year stays fail", s_other_aiding, 1, MID, QS_C_COUNT, FAIL, -1},
    {"no data outranks in progress", s_no_day, 0, MID, QS_C_COUNT, NODATA, -1},
};

static void test_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const jcase *t = &cases[i];
        base(t->as_of);
        t->setup(t->arg);
        qs_report_judge(&R);
        qs_verdict got = t->crit == QS_C_COUNT ? P.overall : P.crit[t->crit].verdict;
        const char *what = t->crit == QS_C_COUNT ? "overall" : qs_crit_key(t->crit);
        if (got != t->want ||
            (t->value >= 0 && t->crit != QS_C_COUNT && P.crit[t->crit].value != t->value)) {
            print_error("%s (arg %lld, %d): %s is %s value %lld, want %s value %lld; note %s\n",
                        t->name, (long long)t->arg, (int)t->as_of, what, qs_verdict_name(got),
                        t->crit == QS_C_COUNT ? 0LL : (long long)P.crit[t->crit].value,
                        qs_verdict_name(t->want), (long long)t->value,
                        t->crit == QS_C_COUNT ? "" : P.crit[t->crit].note);
            bad++;
        }
        /* a report dated after the year says the same as one dated 31 December */
        if (t->as_of == AFTER) {
            qs_report_pairing after = P;
            base(END);
            t->setup(t->arg);
            qs_report_judge(&R);
            for (int k = 0; k < QS_C_COUNT; k++)
                if (after.crit[k].verdict != P.crit[k].verdict) {
                    print_error("%s: %s differs after the year\n", t->name, qs_crit_key(k));
                    bad++;
                }
        }
        /* nothing fails mid-year but coverage and structure */
        if (t->as_of == MID)
            for (int k = QS_C_DISPATCHED_WORKERS; k < QS_C_COUNT; k++)
                if (P.crit[k].verdict == QS_VERDICT_FAIL) {
                    print_error("%s: %s fails mid-year\n", t->name, qs_crit_key(k));
                    bad++;
                }
    }
    if (bad)
        fail_msg("%d judge case(s) wrong", bad);
}

/* The person-level findings: who counts and why not. */
static void test_workers(void **state)
{
    (void)state;
    base(END);
    DW[1].days = 39;
    DW[2] = DW[0];
    DW[2].cert_date = 20240601; /* after its first day, 8 January */
    DW[3] = DW[0];
    DW[3].service_since = 20220601; /* 1 year at dispatch */
    DW[4] = DW[0];
    DW[4].cert_level = 1;
    P.ndispatched = 5;
    LW[1].exam_year = YEAR;
    LW[2].exam_year = YEAR - 1;
    LW[0].cert_date = 20240520;
    qs_report_judge(&R);
    assert_true(DW[0].counted);
    assert_string_equal(DW[0].why, "");
    assert_true(DW[1].credentialed);
    assert_false(DW[1].counted);
    assert_non_null(strstr(DW[1].why, "39天"));
    assert_false(DW[2].cert_in_time);
    assert_false(DW[2].credentialed);
    assert_non_null(strstr(DW[2].why, "取证日期2024-06-01晚于本年首次派驻日2024-01-08"));
    assert_int_equal(DW[3].service_years, 1);
    assert_false(DW[3].credentialed);
    assert_non_null(strstr(DW[3].why, "不足2年"));
    assert_false(DW[4].cert_ok);
    assert_non_null(strstr(DW[4].why, "助理社会工作师"));
    assert_int_equal(P.dispatched_credentialed, 2);
    assert_int_equal(P.dispatched_counted, 1);
    assert_int_equal(P.dispatched_decisive_days, 39); /* the second best credentialed */
    assert_int_equal(P.crit[QS_C_DISPATCHED_WORKERS].verdict, QS_VERDICT_PASS);
    assert_int_equal(P.crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_FAIL);
    assert_int_equal(P.local_exam_takers, 1);
    assert_int_equal(P.local_certified, 1);
    /* mid-year the same worker reads "so far" */
    base(MID);
    DW[1].days = 39;
    qs_report_judge(&R);
    assert_non_null(strstr(DW[1].why, "截至统计日"));
    assert_int_equal(P.crit[QS_C_DISPATCHED_DAYS].verdict, QS_VERDICT_PENDING);
    assert_non_null(strstr(P.crit[QS_C_DISPATCHED_DAYS].note, "年度未结束，截至2024-06-30"));
    assert_true(R.year_open);
    /* judging twice gives the same */
    qs_report_pairing once = P;
    qs_report_judge(&R);
    assert_memory_equal(&once.crit, &P.crit, sizeof P.crit);
    assert_int_equal(once.dispatched_counted, P.dispatched_counted);
}

/* Funds: what counts and what is shown apart. */
static void test_funds(void **state)
{
    (void)state;
    base(END);
    P.received_by_source[3] = 250000; /* 慈善组织 */
    P.received_by_source[4] = 600000; /* 自筹 */
    P.spent_by_category[6] = 1000;
    P.spent_count_by_category[6] = 2;
    P.spent_uncategorised = 500;
    P.spent_uncategorised_count = 1;
    qs_report_judge(&R);
    assert_int_equal(P.funds_received, 2000000 + 1500000 + 250000 + 600000);
    assert_int_equal(P.funds_counted, 3500000);
    assert_int_equal(P.funds_self, 600000);
    assert_int_equal(P.funds_spent, 3000000 + 1000 + 500);
    assert_int_equal(P.spent_flagged, 1500);
    assert_int_equal(P.spent_flagged_count, 3);
    assert_non_null(strstr(P.crit[QS_C_FUNDS].note, "自筹6000.00元另列"));
    assert_non_null(strstr(P.crit[QS_C_FUNDS].note, "省级财政、福彩公益金"));
}

/* The province: uncovered counties named, the split against the plan. */
static void test_province(void **state)
{
    (void)state;
    base(END);
    snprintf(C[1].code, sizeof C[1].code, "632323");
    snprintf(C[1].name, sizeof C[1].name, "泽库县");
    R.ncounties = 2;
    qs_report_judge(&R);
    assert_int_equal(R.counties_configured, 2);
    assert_int_equal(R.counties_covered, 1);
    assert_true(C[0].covered);
    assert_false(C[1].covered);
    assert_int_equal(R.split_in, 1);
    assert_int_equal(R.split_verdict, QS_VERDICT_PASS);
    char lines[16][QS_ASSESS_LINE];
    size_t n = qs_report_assess(&R, lines, 16);
    bool named = false;
    for (size_t i = 0; i < n; i++)
        named |= strstr(lines[i], "未覆盖：泽库县（632323）") != NULL;
    assert_true(named);
    /* the plan's split: 0 + 1 in this table; one more cross-province would not be it */
    R.settings[QS_S_PLAN_IN_PROVINCE] = 10;
    qs_report_judge(&R);
    assert_int_equal(R.split_verdict, QS_VERDICT_FAIL);
    snprintf(R.filter, sizeof R.filter, "632322");
    qs_report_judge(&R);
    assert_int_equal(R.split_verdict, QS_VERDICT_NA);
    /* the unit and the recipients */
    char unit[64];
    assert_string_equal(qs_report_unit(&R, unit, sizeof unit), "青海省民政厅");
    assert_string_equal(qs_report_recipients[0], "民政部慈善事业促进和社会工作司");
    assert_string_equal(qs_report_recipients[1], "国家乡村振兴局社会帮扶司");
    assert_string_equal(qs_province_name("330106"), "浙江");
    assert_null(qs_province_name("990000"));
    /* the year open: the first sentence says so */
    base(MID);
    qs_report_judge(&R);
    n = qs_report_assess(&R, lines, 16);
    assert_true(n > 0);
    assert_non_null(strstr(lines[0], "年度未结束"));
    /* staleness, at the report date or now */
    base(END);
    P.last_ok_ms = R.generated_ms - INT64_C(4) * 86400000;
    qs_report_judge(&R);
    assert_true(P.provisional);
    P.last_ok_ms = R.generated_ms - INT64_C(2) * 86400000;
    qs_report_judge(&R);
    assert_false(P.provisional);
    P.last_ok_ms = 0;
    qs_report_judge(&R);
    assert_true(P.provisional);
}

/* The table itself: every criterion has a key, a label, the plan's words and
 * rules; the verdict names are stable. */
static void test_criteria_table(void **state)
{
    (void)state;
    for (int k = 0; k < QS_C_COUNT; k++) {
        const qs_crit_def *d = qs_crit_def_of((qs_crit)k);
        assert_non_null(d);
        assert_int_equal(d->id, k);
        assert_true(d->key && *d->key && d->label && *d->label && d->plan && *d->plan);
        assert_non_null(d->rule[QS_VERDICT_PASS]);
        assert_non_null(d->rule[QS_VERDICT_NA]);
        if (k >= QS_C_DISPATCHED_WORKERS)
            assert_non_null(d->rule[QS_VERDICT_PENDING]);
    }
    assert_null(qs_crit_def_of(QS_C_COUNT));
    assert_string_equal(qs_verdict_name(QS_VERDICT_PENDING), "in-progress");
    assert_string_equal(qs_verdict_label(QS_VERDICT_PENDING), "进行中");
    assert_string_equal(qs_verdict_label(QS_VERDICT_FAIL), "未达标");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),          cmocka_unit_test(test_workers),
        cmocka_unit_test(test_funds),          cmocka_unit_test(test_province),
        cmocka_unit_test(test_criteria_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
