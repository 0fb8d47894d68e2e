/*
 * report.h — the annual "Hand-in-Hand" (牵手计划) compliance report, computed
 * by SQL over the typed projection (the winner of every live record; deleted
 * records and conflict losers never count).
 *
 * One row per pairing (one county each today) plus province totals. Every
 * criterion carries its figure, its threshold and a verdict. Thresholds come
 * from ONE settings table: a static default table here, overridable per year
 * (or for every year, year 0) by rows in the store's report_settings table
 * (qs_report_setting_set). No threshold is written into a query.
 *
 * Days are distinct days everywhere: a person's day logged twice counts once.
 * A period is 1 January of the year to min(31 December, as_of).
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
    QS_VERDICT_NA = 0,     /* not applicable (funds of a cross-province pairing) */
    QS_VERDICT_PASS = 1,
    QS_VERDICT_FAIL = 2,
    QS_VERDICT_NODATA = 3, /* nothing recorded for this criterion in the period */
} qs_verdict;

/* "pass", "fail", "no-data", "n/a" and the Chinese labels. */
const char *qs_verdict_name(qs_verdict v);
const char *qs_verdict_label(qs_verdict v);

/* Which reading of the working-days threshold decides. */
enum { QS_DAYS_PER_PERSON = 1, QS_DAYS_TOTAL = 2 };

/* ---- settings ---------------------------------------------------------- */
typedef enum qs_setting_id {
    QS_S_DISPATCHED_MIN_WORKERS,   /* qualified dispatched workers a year (2) */
    QS_S_DISPATCHED_MIN_CERT,      /* cert_level code at least (2 = 社会工作师) */
    QS_S_DISPATCHED_MIN_YEARS,     /* whole years of direct service on as_of (2) */
    QS_S_DISPATCHED_MIN_DAYS,      /* working days (40) */
    QS_S_LOCAL_MIN_WORKERS,        /* local workers with a day in the year (3) */
    QS_S_LOCAL_MIN_DAYS,           /* working days (120) */
    QS_S_WORKER_DAYS_RULE,         /* QS_DAYS_PER_PERSON or QS_DAYS_TOTAL */
    QS_S_FUNDS_MIN_FEN,            /* in-province aiding: received and spent (3,000,000) */
    QS_S_FUNDS_ALLOWED_CATEGORIES, /* bitmask of expense_category codes allowed */
    QS_S_CULTIVATED_MIN,           /* cultivated agencies per county, cumulative (1) */
    QS_S_STALE_LIMIT_S,            /* last successful sync older than this: provisional */
    QS_S_ASSISTANCE_CATEGORIES,    /* bitmask: social-assistance recipients */
    QS_S_ELDERLY_CATEGORIES,       /* bitmask: the elderly (or domain elderly) */
    QS_S_MINOR_CATEGORIES,         /* bitmask: minors (or minors > 0) */
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
} qs_report_params;

typedef enum qs_crit {
    QS_C_COVERAGE,           /* an active pairing with a receiving agency */
    QS_C_DISPATCHED_WORKERS, /* qualified dispatched workers >= min */
    QS_C_DISPATCHED_DAYS,    /* their days (per person or total) >= min */
    QS_C_LOCAL_WORKERS,      /* local workers >= min */
    QS_C_LOCAL_DAYS,         /* their days (per person or total) >= min */
    QS_C_FUNDS,              /* in-province: received and spent >= min */
    QS_C_CULTIVATED,         /* cultivated agencies so far >= min */
    QS_C_COUNT
} qs_crit;

/* "coverage", "dispatched_workers", ... and Chinese labels. */
const char *qs_crit_key(qs_crit c);
const char *qs_crit_label(qs_crit c);

typedef struct qs_criterion {
    int64_t value;     /* the figure that decides (days: the minimum per person,
                          or the total, by the rule; funds: the smaller of
                          received and spent, fen) */
    int64_t threshold;
    qs_verdict verdict;
} qs_criterion;

typedef struct qs_report_worker {
    uint8_t id[16];
    char name[96];
    int role;           /* person_role code */
    int cert_level;     /* -1 when not given */
    int32_t service_since; /* 0 when not given */
    int service_years;  /* whole years on as_of, -1 when unknown */
    bool qualified;     /* dispatched: cert and years; local: always */
    int64_t days;       /* distinct days on this pairing in the period */
} qs_report_worker;

typedef struct qs_report_count {
    uint32_t code;   /* enum code */
    int64_t count;   /* service logs */
    int64_t minutes;
} qs_report_count;

#define QS_REPORT_ENUM_MAX 32

typedef struct qs_report_pairing {
    uint8_t id[16];
    char county[QS_CODE_MAX];
    char county_name[96];
    char prefecture[96];
    char aiding[256], receiving[256];
    char aiding_province[64];
    int type; /* pairing_type code */
    int start_year, end_year;
    bool active;    /* start_year <= year <= end_year */
    bool provisional; /* the county's last sync is older than the stale limit */
    int64_t last_ok_ms; /* 0 = never (or this store is the county itself: -1) */

    qs_criterion crit[QS_C_COUNT];
    qs_verdict overall; /* fail if any fails; else no-data if any is no-data; else pass */

    qs_report_worker *dispatched; /* every dispatched worker of the aiding agency with a day */
    uint32_t ndispatched;
    uint32_t dispatched_qualified;
    int64_t dispatched_days_total; /* qualified ones */
    qs_report_worker *local;
    uint32_t nlocal;
    int64_t local_days_total;

    int64_t funds_received, funds_spent; /* fen */
    int64_t spent_by_category[QS_REPORT_ENUM_MAX]; /* index = expense_category code */
    int64_t spent_flagged;       /* spending outside the allowed categories */
    int64_t spent_flagged_count;

    int64_t cultivated, documents, brands; /* cumulative to as_of */
    int64_t stations, townships_covered, townships; /* townships: county.townships, 0 unknown */

    int64_t services, service_minutes;
    qs_report_count by_type[QS_REPORT_ENUM_MAX], by_domain[QS_REPORT_ENUM_MAX],
        by_category[QS_REPORT_ENUM_MAX]; /* index = code; count 0 = none */
    int64_t people_served;
    int64_t people_pseudonyms;  /* distinct pseudonyms */
    int64_t people_headcount;   /* head counts of logs without pseudonyms */
    const char *people_basis;   /* "pseudonyms", "head counts", "mixed", "none" */
    int64_t reach_assistance, reach_elderly, reach_minors; /* service logs */

    int64_t trainings, supervisions, training_minutes, training_local_participants;

    /* data quality */
    int64_t services_without_workday;
    int64_t duplicate_person_days;  /* extra records of a person's day */
    int64_t workdays_outside_years; /* the pairing's work days, any year */
} qs_report_pairing;

typedef struct qs_report {
    int year;
    int32_t as_of;
    int worker_days_rule;
    int64_t stale_limit_s;
    int64_t generated_ms;
    char node[QS_NODE_MAX];
    int64_t settings[QS_S_COUNT]; /* the values in force */

    qs_report_pairing *pairings; /* ordered by county code */
    uint32_t npairings;

    /* province */
    uint32_t counties_configured; /* county records (or 1 with a county filter) */
    uint32_t counties_covered;    /* with an active pairing and a receiving agency */
    uint32_t pass[QS_C_COUNT], fail[QS_C_COUNT], nodata[QS_C_COUNT];
    uint32_t overall_pass, provisional;
    int64_t dispatched_qualified, dispatched_days, local_workers, local_days;
    int64_t funds_received, funds_spent, spent_flagged, cultivated, stations, services,
        service_minutes, people_served, trainings, supervisions, training_minutes,
        services_without_workday, duplicate_person_days, workdays_outside_years;
} qs_report;

/* Compute the report. Reading only (plus, once, CREATE INDEX/TABLE IF NOT
 * EXISTS for the report's indexes and settings). On success the caller frees
 * *out with qs_report_free. */
int qs_store_report_annual(qs_store *st, const qs_report_params *p, qs_report *out, qs_err *err);
void qs_report_free(qs_report *r);

/* The default report date of year at wall time now: 31 December, or today
 * if that is earlier. */
int32_t qs_report_default_as_of(int year, time_t now);

#endif
