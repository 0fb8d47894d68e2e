/*
 * report.h — the annual "Hand-in-Hand" (牵手计划) compliance report.
 *
 * Two halves, each its own file:
 * - measure (report.c): SQL over the typed projection (the winner of every
 *   live record; deleted records and conflict losers never count) fills the
 *   *measured* fields below: per pairing what was recorded in the period,
 *   per person their certificate, dates and days, the county list, sync
 *   freshness. Nothing there decides anything.
 * - judge (judge.c, judge.h): pure code, no store and no SQL, turns the
 *   measured fields and the settings into the *judged* fields: per worker
 *   whether they count and why not, per criterion a verdict from the one
 *   table of criteria, per pairing the overall verdict, the province's
 *   coverage, split and totals. A second store backend fills the measured
 *   fields its own way and calls the same judge.
 *
 * The year is the year: a report for year Y counts nothing dated after
 * 31 December Y, whatever the report date (as_of) says. The period is
 * 1 January Y to min(as_of, 31 December Y); a report dated before the year
 * ends is "year open" (年度未结束): yearly and cumulative figures are "so
 * far", and a figure below its threshold reads in progress (进行中), never
 * fail.
 *
 * Thresholds come from ONE settings table: a static default table here,
 * overridable per year (or for every year, year 0) by rows in the store's
 * report_settings table (qs_report_setting_set). No threshold is written
 * into a query or into the judge.
 *
 * Days are distinct days everywhere: a person's day logged twice counts once.
 *
 * Free of SQLite types, like store.h.
 */
#ifndef QS_REPORT_H
#define QS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "proto/err.h"
#include "proto/scope.h"
#include "store/store.h"

typedef enum qs_verdict {
    QS_VERDICT_NA = 0, /* not applicable (funds of a cross-province pairing; a
                          pairing outside its years) */
    QS_VERDICT_PASS = 1,
    QS_VERDICT_FAIL = 2,
    QS_VERDICT_NODATA = 3,  /* nothing recorded for this criterion in the period */
    QS_VERDICT_PENDING = 4, /* in progress: the year, or the pairing's period, is not over
                               and the figure so far is below the threshold */
} qs_verdict;
#define QS_VERDICT_COUNT 5

/* "n/a", "pass", "fail", "no-data", "in-progress" and the Chinese labels
 * 不适用, 达标, 未达标, 无数据, 进行中. */
const char *qs_verdict_name(qs_verdict v);
const char *qs_verdict_label(qs_verdict v);

/* Which reading of the working-days threshold decides. */
enum { QS_DAYS_PER_PERSON = 1, QS_DAYS_TOTAL = 2 };

/* ---- settings ---------------------------------------------------------- */
typedef enum qs_setting_id {
    QS_S_DISPATCHED_MIN_WORKERS,   /* dispatched workers meeting their conditions (2) */
    QS_S_DISPATCHED_MIN_CERT,      /* cert_level code at least (2 = 社会工作师) */
    QS_S_DISPATCHED_MIN_YEARS,     /* whole years of direct service at the year's
                                      first working day on the pairing (2) */
    QS_S_DISPATCHED_MIN_DAYS,      /* working days each (40) */
    QS_S_LOCAL_MIN_WORKERS,        /* local workers (3) */
    QS_S_LOCAL_MIN_DAYS,           /* working days each (120) */
    QS_S_WORKER_DAYS_RULE,         /* QS_DAYS_PER_PERSON or QS_DAYS_TOTAL */
    QS_S_FUNDS_MIN_FEN,            /* money provided a year, in-province (3,000,000) */
    QS_S_FUNDS_ALLOWED_CATEGORIES, /* bitmask of expense_category codes allowed */
    QS_S_CULTIVATED_MIN,           /* cultivated agencies per county over the period (1) */
    QS_S_STALE_LIMIT_S,            /* last successful sync older than this: provisional */
    QS_S_ASSISTANCE_CATEGORIES,    /* bitmask: social-assistance recipients */
    QS_S_ELDERLY_CATEGORIES,       /* bitmask: the elderly (or domain elderly) */
    QS_S_MINOR_CATEGORIES,         /* bitmask: minors (or minors > 0) */
    QS_S_FUNDS_SOURCES,            /* bitmask of expense_source codes whose money counts
                                      toward the funds floor (public funds: 1, 2) */
    QS_S_PLAN_CROSS_PROVINCE,      /* pairings with aiding agencies from outside the
                                      province (5, from Zhejiang) */
    QS_S_PLAN_IN_PROVINCE,         /* pairings with agencies of the province (10) */
    QS_S_CERT_DATE_REQUIRED,       /* 1: a certificate without a date does not count;
                                      0: it counts, and the worker is flagged */
    QS_S_COUNT
} qs_setting_id;

typedef struct qs_setting_def {
    const char *key;   /* "dispatched_min_days" */
    const char *label; /* Chinese */
    int64_t def;       /* the plan's value */
} qs_setting_def;

const qs_setting_def *qs_report_setting_def(qs_setting_id id);
/* By key; -1 when unknown. */
int qs_report_setting_find(const char *key);
/* The value in force for year (a row for that year, else for year 0, else
 * the default). */
int qs_report_setting_get(qs_store *st, int year, qs_setting_id id, int64_t *value, qs_err *err);
/* Override a setting for year (0 = every year). */
int qs_report_setting_set(qs_store *st, int year, qs_setting_id id, int64_t value, qs_err *err);

/* ---- the report -------------------------------------------------------- */
typedef struct qs_report_params {
    int year;              /* required */
    int32_t as_of;         /* YYYYMMDD; 0 = 31 Dec of year, or today if that is earlier */
    const char *county;    /* NULL = every county; else one county code */
    int worker_days_rule;  /* 0 = the setting */
    int64_t stale_limit_s; /* 0 = the setting */
    int64_t funds_sources; /* 0 = the setting; else a bitmask of expense_source codes */
    const char *narrative; /* the operator's own text for 总结与评估 (UTF-8), or NULL;
                              copied into the report */
} qs_report_params;

typedef enum qs_crit {
    QS_C_COVERAGE,           /* an active pairing of a plan county with a receiving agency */
    QS_C_STRUCTURE,          /* one-to-one, the receiving agency in the county */
    QS_C_DISPATCHED_WORKERS, /* dispatched workers with the qualifications >= min */
    QS_C_DISPATCHED_DAYS,    /* of them, giving the days (per person, or the total) */
    QS_C_LOCAL_WORKERS,      /* local workers >= min */
    QS_C_LOCAL_DAYS,         /* of them, giving the days (per person, or the total) */
    QS_C_FUNDS,              /* in-province: money provided >= min */
    QS_C_CULTIVATED,         /* cultivated agencies over the pairing's period >= min */
    QS_C_COUNT
} qs_crit;

/* "coverage", "structure", ... and Chinese labels (the table in judge.h). */
const char *qs_crit_key(qs_crit c);
const char *qs_crit_label(qs_crit c);

typedef struct qs_criterion {
    int64_t value; /* the figure that decides (see the criteria table) */
    int64_t threshold;
    const char *unit; /* static: "人", "天", "元" (value in fen), "家", "" */
    qs_verdict verdict;
    bool period_pending; /* in progress only because the pairing's period is not over:
                            does not hold back a closed year's overall verdict */
    char note[384];      /* why, when it is not plainly pass (Chinese), else "" */
} qs_criterion;

typedef struct qs_report_worker {
    /* measured */
    uint8_t id[16];
    char name[96];
    int role;              /* person_role code */
    int cert_level;        /* -1 when not given */
    int32_t cert_date;     /* 0 when not given */
    int32_t service_since; /* 0 when not given */
    int exam_year;         /* 0 when not given */
    int32_t first_day;     /* the first work day on this pairing in the period: the
                              year's dispatch */
    int64_t days;          /* distinct days on this pairing in the period */
    /* judged */
    int service_years; /* whole years at first_day, -1 when unknown */
    bool cert_ok;      /* level >= the setting */
    bool cert_in_time; /* dated on or before first_day (or undated, by the setting) */
    bool years_ok;
    bool credentialed;        /* dispatched: cert_ok, cert_in_time, years_ok; local: true */
    bool days_ok;             /* days >= the setting */
    bool counted;             /* meets all their conditions (days too, per-person rule) */
    bool exam_this_year;      /* sat the national exam in the report's year */
    bool certified_this_year; /* cert_date in the period */
    char why[256];            /* the conditions not met, or flags (Chinese); "" if none */
} qs_report_worker;

typedef struct qs_report_count {
    uint32_t code; /* enum code */
    int64_t count; /* service logs */
    int64_t minutes;
} qs_report_count;

#define QS_REPORT_ENUM_MAX 32

typedef struct qs_report_pairing {
    /* ---- measured (store) ---- */
    uint8_t id[16];
    char county[QS_CODE_MAX];
    bool county_known; /* a county record of the plan exists for it */
    char county_name[96];
    char prefecture[96];
    char aiding[256], receiving[256];
    uint8_t aiding_id[16];
    char aiding_province[64];
    bool has_receiving;
    char receiving_county[QS_CODE_MAX]; /* the receiving agency's county, "" unknown */
    int type;                           /* pairing_type code as recorded */
    int start_year, end_year;
    int64_t last_ok_ms;            /* 0 = never; -1 = this store is the county itself */
    int64_t other_pairings_aiding; /* other pairings active in the year, same aiding agency */
    int64_t other_pairings_county; /* other pairings active in the year, same county */
    int64_t shared_person_days;    /* (person, day)s of this pairing also logged on another */
    bool any_day;                  /* any work day on the pairing in the period */

    qs_report_worker *dispatched; /* role dispatched, of the aiding agency, with a day */
    uint32_t ndispatched;
    qs_report_worker *local; /* role local, of the receiving agency, with a day */
    uint32_t nlocal;

    int64_t expense_records;
    int64_t received_by_source[QS_REPORT_ENUM_MAX]; /* fen; index = expense_source code */
    int64_t spent_by_category[QS_REPORT_ENUM_MAX];  /* fen; index = expense_category code */
    int64_t spent_uncategorised, spent_uncategorised_count;
    int64_t spent_count_by_category[QS_REPORT_ENUM_MAX];

    int64_t cultivated, documents, brands; /* from the pairing's first year to period end */
    int64_t stations, townships_covered, townships; /* townships: county.townships, 0 unknown */

    int64_t services, service_minutes;
    qs_report_count by_type[QS_REPORT_ENUM_MAX], by_domain[QS_REPORT_ENUM_MAX],
        by_category[QS_REPORT_ENUM_MAX]; /* index = code; count 0 = none */
    int64_t people_served;
    int64_t people_pseudonyms; /* distinct pseudonyms */
    int64_t people_headcount;  /* head counts of logs without pseudonyms */
    const char *people_basis;  /* "pseudonyms", "head counts", "mixed", "none" */
    int64_t reach_assistance, reach_elderly, reach_minors; /* service logs */

    int64_t sessions_by_type[QS_REPORT_ENUM_MAX]; /* trainings; index = training_type code */
    int64_t training_minutes, training_local_participants;

    int64_t services_without_workday;
    int64_t duplicate_person_days;  /* extra records of a person's day */
    int64_t workdays_outside_years; /* the pairing's work days, any year */

    /* ---- judged (judge.c) ---- */
    bool active;              /* start_year <= year <= end_year */
    bool provisional;         /* the county's last sync is older than the stale limit */
    int type_derived;         /* from the aiding agency's province (or as recorded, unknown) */
    bool type_from_province;  /* type_derived comes from the agency's province */
    bool type_mismatch;       /* recorded type disagrees with the agency's province */
    bool receiving_elsewhere; /* the receiving agency is registered in another county */

    qs_criterion crit[QS_C_COUNT];
    qs_verdict overall; /* n/a when inactive; fail if any fails; else no-data if any;
                           else in progress if any (period-only ones not counted);
                           else pass */

    uint32_t dispatched_credentialed; /* cert, cert in time, years */
    uint32_t dispatched_counted;      /* ... and (per-person rule) the days */
    int64_t dispatched_days_total;    /* the credentialed ones' days */
    int64_t dispatched_decisive_days; /* per person: the days of the min_workers-th
                                         best credentialed worker; total: the sum */
    uint32_t local_counted;
    int64_t local_days_total;
    int64_t local_decisive_days;
    uint32_t local_exam_takers, local_certified;

    int64_t funds_received, funds_counted, funds_self; /* fen: all, the counted sources,
                                                          自筹 */
    int64_t funds_spent, spent_flagged, spent_flagged_count;
    int64_t trainings, supervisions, guidance; /* sessions of each type */
} qs_report_pairing;

/* A county of the plan (a county record). */
typedef struct qs_report_county {
    char code[QS_CODE_MAX];
    char name[96];
    char prefecture[96];
    /* judged */
    uint32_t active_pairings;
    bool covered; /* some active pairing with a passing coverage criterion */
} qs_report_county;

typedef struct qs_report {
    /* ---- measured ---- */
    int year;
    int32_t as_of;
    int32_t period_from, period_to; /* 1 January; min(as_of, 31 December) */
    int64_t generated_ms;
    char node[QS_NODE_MAX];
    char filter[QS_CODE_MAX];     /* the --county filter, "" none */
    int64_t settings[QS_S_COUNT]; /* the values in force */
    char *narrative;              /* the operator's text (owned), or NULL */

    qs_report_pairing *pairings; /* ordered by county code */
    uint32_t npairings;
    qs_report_county *counties; /* the plan's counties (county records), by code */
    uint32_t ncounties;

    /* ---- judged ---- */
    bool year_open; /* as_of is before 31 December: figures so far */
    int worker_days_rule;
    int64_t stale_limit_s;
    uint32_t counties_configured; /* county records (or 1 with a county filter) */
    uint32_t counties_covered;
    uint32_t split_cross, split_in, split_unknown; /* active pairings by derived type */
    qs_verdict split_verdict; /* as the plan (5 + 10); n/a with a county filter */
    uint32_t verdicts[QS_C_COUNT][QS_VERDICT_COUNT]; /* pairings per criterion per verdict */
    uint32_t overall[QS_VERDICT_COUNT];
    uint32_t active, provisional;
    int64_t dispatched_credentialed, dispatched_counted, dispatched_days, local_workers,
        local_counted, local_days, local_exam_takers;
    int64_t funds_received, funds_counted, funds_self, funds_spent, spent_flagged, cultivated,
        stations, services, service_minutes, people_served, trainings, supervisions, guidance,
        training_minutes, services_without_workday, duplicate_person_days, workdays_outside_years,
        shared_person_days;
} qs_report;

/* Compute the report: measure, then qs_report_judge. Reading only. On success
 * the caller frees *out with qs_report_free. */
int qs_store_report_annual(qs_store *st, const qs_report_params *p, qs_report *out, qs_err *err);
void qs_report_free(qs_report *r);

/* The default report date of year at wall time now: 31 December, or today
 * if that is earlier. */
int32_t qs_report_default_as_of(int year, time_t now);

#endif
