/*
 * report.c — the annual compliance report, its measuring half: SQL over the
 * typed projection (project.c) fills the measured fields of qs_report, then
 * judge.c (pure, no SQL) gives every verdict. The settings table lives here.
 *
 * Every query is prepared once per report and reused per pairing. Enum codes
 * bound into queries come from the schema by name (proto/schema.c), never
 * written as numbers here; no threshold is read here but to hand it to the
 * judge. Nothing dated after 31 December of the year is read: the period's
 * end is min(as_of, 31 December), for cumulative figures too. The indexes
 * these queries read through are made with the projection (project.c,
 * REPORT_DDL): nothing here creates or drops one.
 */
#include "store/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/clock.h"
#include "proto/date.h"
#include "proto/scope.h"
#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"
#include "store/judge.h"

/* ---------------------------------------------------------------------------
 * Settings: the one table of thresholds. The store's report_settings rows
 * (year, key, value) override a default for one year, or every year (year 0).
 */

#define BIT(c) (INT64_C(1) << (c))

/* Codes by name (schema.h, QS_ENUM_CODES): the bit of code c is BIT(c). */
#define CAT(c) BIT(QS_CATEGORY_##c)
#define SPENT(c) BIT(QS_EXPENSE_CATEGORY_##c)
static const qs_setting_def setting_defs[QS_S_COUNT] = {
    [QS_S_DISPATCHED_MIN_WORKERS] = {"dispatched_min_workers", "援派持证社工人数下限", 2},
    [QS_S_DISPATCHED_MIN_CERT] = {"dispatched_min_cert", "援派社工证书等级下限（2=社会工作师）",
                                  QS_CERT_LEVEL_SOCIAL_WORKER},
    [QS_S_DISPATCHED_MIN_YEARS] = {"dispatched_min_years",
                                   "援派社工直接服务年限下限（年，按本年首次派驻日计）", 2},
    [QS_S_DISPATCHED_MIN_DAYS] = {"dispatched_min_days", "援派社工年工作日下限", 40},
    [QS_S_LOCAL_MIN_WORKERS] = {"local_min_workers", "受援机构本地社工人数下限", 3},
    [QS_S_LOCAL_MIN_DAYS] = {"local_min_days", "本地社工年工作日下限", 120},
    [QS_S_WORKER_DAYS_RULE] = {"worker_days_rule", "工作日口径（1=每人，2=合计）",
                               QS_DAYS_PER_PERSON},
    [QS_S_FUNDS_MIN_FEN] = {"funds_min_fen", "省内援派机构每家每年提供经费下限（分）", 3000000},
    [QS_S_FUNDS_ALLOWED_CATEGORIES] = {"funds_allowed_categories", "允许的支出类别（位掩码）",
                                       SPENT(ACTIVITIES) | SPENT(TRANSPORT) | SPENT(MEALS) |
                                           SPENT(ALLOWANCE) | SPENT(INSURANCE)},
    [QS_S_CULTIVATED_MIN] = {"cultivated_min", "每县帮扶期内培育社会组织下限", 1},
    [QS_S_STALE_LIMIT_S] = {"stale_limit_s", "同步过期时限（秒）", 3 * 86400},
    [QS_S_ASSISTANCE_CATEGORIES] = {"assistance_categories", "社会救助对象类别（位掩码）",
                                    CAT(DIBAO) | CAT(EXTREME_POVERTY) | CAT(DIBAO_MARGINAL) |
                                        CAT(TEMPORARY_ASSISTANCE) | CAT(POVERTY_MONITORING)},
    [QS_S_ELDERLY_CATEGORIES] = {"elderly_categories", "老年人类别（位掩码）",
                                 CAT(LEFT_BEHIND_ELDERLY) | CAT(ELDERLY_ALONE)},
    [QS_S_MINOR_CATEGORIES] = {"minor_categories", "未成年人类别（位掩码）",
                               CAT(ORPHAN) | CAT(DE_FACTO_ORPHAN) | CAT(CHILD_IN_DIFFICULTY) |
                                   CAT(LEFT_BEHIND_CHILD)},
    /* expense_source codes: 1 省级财政, 2 福彩公益金 (public funds); 3 慈善组织,
     * 4 自筹, 5 其他 are shown, not counted, unless set */
    [QS_S_FUNDS_SOURCES] = {"funds_sources",
                            "计入经费标准的资金来源（位掩码，默认省级财政、福彩公益金）",
                            BIT(QS_SOURCE_PROVINCIAL) | BIT(QS_SOURCE_LOTTERY)},
    [QS_S_PLAN_CROSS_PROVINCE] = {"plan_cross_province", "方案跨省结对数（浙江）", 5},
    [QS_S_PLAN_IN_PROVINCE] = {"plan_in_province", "方案省内结对数（青海）", 10},
    [QS_S_CERT_DATE_REQUIRED] = {"cert_date_required",
                                 "证书须登记取证日期（1=未登记不计入，0=计入并提示）", 0},
};

const qs_setting_def *qs_report_setting_def(qs_setting_id id)
{
    return (unsigned)id < QS_S_COUNT ? &setting_defs[id] : NULL;
}

int qs_report_setting_find(const char *key)
{
    for (int i = 0; key && i < QS_S_COUNT; i++)
        if (strcmp(setting_defs[i].key, key) == 0)
            return i;
    return -1;
}

static const char SETTINGS_DDL[] =
    "CREATE TABLE IF NOT EXISTS report_settings(year INTEGER NOT NULL, key TEXT NOT NULL, "
    "value INTEGER NOT NULL, PRIMARY KEY(year, key))";

static bool table_exists(qs_store *st, const char *name)
{
    sqlite3_stmt *s = NULL;
    bool yes = false;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        yes = sqlite3_step(s) == SQLITE_ROW;
    }
    sqlite3_finalize(s);
    return yes;
}

int qs_report_setting_get(qs_store *st, int year, qs_setting_id id, int64_t *value, qs_err *err)
{
    if ((unsigned)id >= QS_S_COUNT)
        return qs_err_set(err, QS_EINVAL, "unknown report setting %d", (int)id);
    *value = setting_defs[id].def;
    if (st->pg)
        return qs__pg_setting_get(st, year, setting_defs[id].key, value, err);
    if (!table_exists(st, "report_settings"))
        return 0;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT value FROM report_settings WHERE key = ?1 AND "
                                "year IN (?2, 0) ORDER BY year DESC LIMIT 1",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return qs__sqlerr(st, rc, "reading report settings", err);
    sqlite3_bind_text(s, 1, setting_defs[id].key, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, year);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(s, 0);
    rc = (rc == SQLITE_ROW || rc == SQLITE_DONE)
             ? 0
             : qs__sqlerr(st, rc, "reading report settings", err);
    sqlite3_finalize(s);
    return rc;
}

int qs_report_setting_set(qs_store *st, int year, qs_setting_id id, int64_t value, qs_err *err)
{
    if ((unsigned)id >= QS_S_COUNT)
        return qs_err_set(err, QS_EINVAL, "unknown report setting %d", (int)id);
    if (st->pg)
        return qs__pg_setting_set(st, year, setting_defs[id].key, value, err);
    int rc = qs__exec(st, SETTINGS_DDL, err);
    if (rc)
        return rc;
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(st->db,
                            "INSERT OR REPLACE INTO report_settings(year, key, value) "
                            "VALUES (?, ?, ?)",
                            -1, &s, NULL);
    if (rc != SQLITE_OK)
        return qs__sqlerr(st, rc, "saving a report setting", err);
    sqlite3_bind_int(s, 1, year);
    sqlite3_bind_text(s, 2, setting_defs[id].key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, value);
    rc = sqlite3_step(s);
    rc = rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "saving a report setting", err);
    sqlite3_finalize(s);
    return rc;
}

int32_t qs_report_default_as_of(int year, time_t now)
{
    int32_t dec31 = year * 10000 + 1231, today = qs_date_from_time(now);
    return today < dec31 ? today : dec31;
}

/* ---------------------------------------------------------------------------
 * Queries. Parameters: ?1 pairing id (blob) or county code low bound,
 * ?2 ... as noted at each.
 */

enum {
    Q_PAIRINGS,
    Q_COUNTIES,
    Q_WORKERS,
    Q_ANYDAY,
    Q_DUPS,
    Q_OUTSIDE,
    Q_SHARED,
    Q_SHARED_ALL,
    Q_OTHER_AIDING,
    Q_OTHER_COUNTY,
    Q_FUNDS,
    Q_OUTPUTS,
    Q_STATIONS,
    Q_SERVICES,
    Q_SERVICE_SCOPE,
    Q_TRAININGS,
    Q_WORKDAYS,
    Q_COUNT
};

/* Subtree of a county code c: scope >= c AND scope < c with its last digit
 * raised by one (codes are digit strings, so this is "starts with c"). */
static const char *const queries[Q_COUNT] = {
    [Q_PAIRINGS] =
        "SELECT p.id, p.county, p.type, p.start_year, p.end_year, a.name, a.province, r.name, "
        "r.id IS NOT NULL, c.name, c.prefecture, c.townships, p.aiding, p.receiving, "
        "c.code IS NOT NULL, r.county "
        "FROM k_pairing p LEFT JOIN k_agency a ON a.id = p.aiding "
        "LEFT JOIN k_agency r ON r.id = p.receiving LEFT JOIN k_county c ON c.code = p.county "
        "WHERE ?1 IS NULL OR p.county = ?1 ORDER BY p.county, p.start_year, p.id",
    /* the plan's counties: the county records */
    [Q_COUNTIES] = "SELECT code, name, prefecture FROM k_county WHERE ?1 IS NULL OR code = ?1 "
                   "ORDER BY code",
    /* ?1 pairing ?2 from ?3 to ?4 role ?5 agency: each person's distinct days
     * and first day (the year's dispatch) */
    [Q_WORKERS] =
        "SELECT pe.id, pe.name, pe.cert_level, pe.service_since, COUNT(DISTINCT w.date), "
        "pe.cert_date, pe.exam_year, MIN(w.date) "
        "FROM k_workday w JOIN k_person pe ON pe.id = w.person "
        "WHERE w.pairing = ?1 AND w.date BETWEEN ?2 AND ?3 AND pe.role = ?4 AND pe.agency = ?5 "
        "GROUP BY pe.id ORDER BY pe.name, pe.id",
    [Q_ANYDAY] = "SELECT COUNT(*) FROM k_workday WHERE pairing = ?1 AND date BETWEEN ?2 AND ?3",
    [Q_DUPS] = "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM k_workday "
               "WHERE pairing = ?1 AND date BETWEEN ?2 AND ?3 GROUP BY person, date)",
    /* ?2 first day of start_year, ?3 last day of end_year */
    [Q_OUTSIDE] = "SELECT COUNT(*) FROM k_workday WHERE pairing = ?1 AND (date < ?2 OR date > ?3)",
    /* ?1 pairing ?2 from ?3 to: the pairing's (person, day)s, each once (from
     * rep_workday_cover alone at the province) */
    [Q_SHARED] = "SELECT DISTINCT person, date FROM k_workday WHERE pairing = ?1 "
                 "AND date BETWEEN ?2 AND ?3 AND person IS NOT NULL",
    /* ?1 from ?2 to: every (person, day) of the period logged on two pairings or
     * more, once per report (one pass over the period's work days) */
    [Q_SHARED_ALL] = "SELECT person, date FROM k_workday WHERE date BETWEEN ?1 AND ?2 "
                     "AND person IS NOT NULL GROUP BY person, date "
                     "HAVING COUNT(DISTINCT pairing) > 1",
    /* ?1 aiding agency (or county) ?2 this pairing ?3 year: other active pairings */
    [Q_OTHER_AIDING] = "SELECT COUNT(*) FROM k_pairing WHERE aiding = ?1 AND id != ?2 "
                       "AND start_year <= ?3 AND end_year >= ?3",
    [Q_OTHER_COUNTY] = "SELECT COUNT(*) FROM k_pairing WHERE county = ?1 AND id != ?2 "
                       "AND start_year <= ?3 AND end_year >= ?3",
    [Q_FUNDS] = "SELECT direction, category, source, SUM(amount), COUNT(*) FROM k_expense "
                "WHERE pairing = ?1 AND date BETWEEN ?2 AND ?3 GROUP BY direction, category, "
                "source",
    /* ?1 ?2 subtree, ?3 from ?4 to */
    [Q_OUTPUTS] = "SELECT type, COUNT(*) FROM k_output WHERE scope >= ?1 AND scope < ?2 "
                  "AND date BETWEEN ?3 AND ?4 GROUP BY type",
    [Q_STATIONS] = "SELECT COUNT(*), COUNT(DISTINCT CASE WHEN township >= ?1 AND township < ?2 "
                   "THEN township END) FROM k_station WHERE scope >= ?1 AND scope < ?2 "
                   "AND (opened IS NULL OR opened <= ?3)",
    /* ?1 scope ?2 from ?3 to: the service logs of ONE scope in the period,
     * read from rep_service_log alone (all years of the scope; the date
     * test is made on the index entries); aggregated in C */
    [Q_SERVICES] = "SELECT date, service_type, domain, categories, minors, minutes, total, "
                   "workers, pseudonyms FROM k_service "
                   "WHERE scope = ?1 AND date BETWEEN ?2 AND ?3",
    /* ?1 after ?2 before: the next scope holding service logs (one index seek) */
    [Q_SERVICE_SCOPE] = "SELECT MIN(scope) FROM k_service WHERE scope > ?1 AND scope < ?2",
    [Q_TRAININGS] = "SELECT type, COUNT(*), COALESCE(SUM(minutes), 0), "
                    "COALESCE(SUM(local_participants), 0) FROM k_training "
                    "WHERE scope >= ?1 AND scope < ?2 AND date BETWEEN ?3 AND ?4 GROUP BY type",
    /* ?1 from ?2 to: every person's work days in the period, any pairing */
    [Q_WORKDAYS] = "SELECT person, date FROM k_workday WHERE date BETWEEN ?1 AND ?2 "
                   "AND person IS NOT NULL",
};

/* ---------------------------------------------------------------------------
 * A set of fixed-size keys (qs_keyset, internal.h; open addressing, linear
 * probing): distinct pseudonyms, and (person, date) work days. Grows at 1/2
 * load; no removal. Shared with pg_report.c.
 */
#define KEY_MAX QS_KEY_MAX
typedef qs_keyset keyset;

static uint64_t key_hash(const uint8_t *k)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < KEY_MAX; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

void qs__keyset_clear(keyset *ks)
{
    if (ks->used)
        memset(ks->used, 0, ks->cap);
    ks->n = 0;
}

void qs__keyset_free(keyset *ks)
{
    free(ks->slots);
    free(ks->used);
    memset(ks, 0, sizeof *ks);
}

static void keyset_grow(keyset *ks)
{
    keyset old = *ks;
    ks->cap = old.cap ? old.cap * 2 : 1024;
    ks->slots = qs_xmalloc(ks->cap * KEY_MAX);
    ks->used = qs_xcalloc(ks->cap, 1);
    ks->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.used[i])
            qs__keyset_add(ks, old.slots + i * KEY_MAX);
    free(old.slots);
    free(old.used);
}

bool qs__keyset_add(keyset *ks, const uint8_t *k)
{
    if ((ks->n + 1) * 2 > ks->cap)
        keyset_grow(ks);
    size_t i = key_hash(k) & (ks->cap - 1);
    while (ks->used[i]) {
        if (memcmp(ks->slots + i * KEY_MAX, k, KEY_MAX) == 0)
            return false;
        i = (i + 1) & (ks->cap - 1);
    }
    memcpy(ks->slots + i * KEY_MAX, k, KEY_MAX);
    ks->used[i] = 1;
    ks->n++;
    return true;
}

bool qs__keyset_has(const keyset *ks, const uint8_t *k)
{
    if (!ks->cap)
        return false;
    size_t i = key_hash(k) & (ks->cap - 1);
    while (ks->used[i]) {
        if (memcmp(ks->slots + i * KEY_MAX, k, KEY_MAX) == 0)
            return true;
        i = (i + 1) & (ks->cap - 1);
    }
    return false;
}

void qs__day_key(uint8_t k[QS_KEY_MAX], const void *person, int32_t date)
{
    memcpy(k, person, QS_ID_LEN);
    uint32_t d = (uint32_t)date;
    k[16] = (uint8_t)(d >> 24);
    k[17] = (uint8_t)(d >> 16);
    k[18] = (uint8_t)(d >> 8);
    k[19] = (uint8_t)d;
}

#define keyset_clear qs__keyset_clear
#define keyset_free qs__keyset_free
#define keyset_add qs__keyset_add
#define keyset_has qs__keyset_has
#define day_key qs__day_key

typedef struct ctx {
    qs_store *st;
    sqlite3_stmt *q[Q_COUNT];
    int64_t set[QS_S_COUNT];
    int32_t from, to; /* the period: 1 January to min(as_of, 31 December) */
    int year;
    keyset workdays; /* (person, date) of every work day in the period */
    bool workdays_loaded;
    keyset shared; /* (person, date)s of the period on two pairings or more */
    bool shared_loaded;
    keyset pseudonyms; /* one pairing's distinct pseudonyms, reused */
} ctx;

static int step_err(ctx *c, int rc, const char *what, qs_err *err)
{
    return qs__sqlerr(c->st, rc, what, err);
}

/* hi: the end of county's subtree (qs_scope_range; a county code is its own
 * prefix, so the range starts at county itself). */
static void subtree_end(const char *county, char hi[QS_CODE_MAX])
{
    char lo[QS_CODE_MAX];
    if (qs_scope_range(county, lo, hi) <= 0)
        snprintf(hi, QS_CODE_MAX, "%s", county); /* not a code: an empty range */
}

static void bind_range(sqlite3_stmt *s, const char *county, char *hi, int32_t from, int32_t to)
{
    subtree_end(county, hi);
    sqlite3_bind_text(s, 1, county, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hi, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, from);
    sqlite3_bind_int(s, 4, to);
}

/* Run a statement whose single row holds integers into v[0..n-1]. */
static int one_row(ctx *c, sqlite3_stmt *s, int64_t *v, int n, const char *what, qs_err *err)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        for (int i = 0; i < n; i++)
            v[i] = sqlite3_column_int64(s, i);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        for (int i = 0; i < n; i++)
            v[i] = 0;
        rc = 0;
    } else {
        rc = step_err(c, rc, what, err);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

static void copy_text(char *dst, size_t n, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* The people of role at agency with a work day on p in the period: their
 * certificate, dates, distinct days and first day. */
static int load_workers(ctx *c, qs_report_pairing *p, const void *agency, int agency_len,
                        int64_t role, qs_report_worker **out, uint32_t *n, qs_err *err)
{
    sqlite3_stmt *s = c->q[Q_WORKERS];
    size_t cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    sqlite3_bind_blob(s, 1, p->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, c->from);
    sqlite3_bind_int(s, 3, c->to);
    sqlite3_bind_int64(s, 4, role);
    sqlite3_bind_blob(s, 5, agency, agency_len, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = qs_xrealloc(*out, cap * sizeof **out);
        }
        qs_report_worker *w = &(*out)[(*n)++];
        memset(w, 0, sizeof *w);
        if (sqlite3_column_bytes(s, 0) == QS_ID_LEN)
            memcpy(w->id, sqlite3_column_blob(s, 0), QS_ID_LEN);
        copy_text(w->name, sizeof w->name, s, 1);
        w->role = (int)role;
        w->cert_level = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 2);
        w->service_since = sqlite3_column_int(s, 3);
        w->days = sqlite3_column_int64(s, 4);
        w->cert_date = sqlite3_column_int(s, 5);
        w->exam_year = sqlite3_column_int(s, 6);
        w->first_day = sqlite3_column_int(s, 7);
    }
    rc = rc == SQLITE_DONE ? 0 : step_err(c, rc, "reading workers", err);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

static int add_count(qs_report_count *arr, int64_t code, int64_t count, int64_t minutes)
{
    if (code < 0 || code >= QS_REPORT_ENUM_MAX)
        return 0;
    arr[code].code = (uint32_t)code;
    arr[code].count += count;
    arr[code].minutes += minutes;
    return 0;
}

/* Every work day in the period as (person, date), once per report. */
static int load_workdays(ctx *c, qs_err *err)
{
    if (c->workdays_loaded)
        return 0;
    sqlite3_stmt *s = c->q[Q_WORKDAYS];
    uint8_t k[KEY_MAX];
    int rc;
    sqlite3_bind_int(s, 1, c->from);
    sqlite3_bind_int(s, 2, c->to);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 0) != QS_ID_LEN)
            continue; /* not a record id: matches no worker */
        day_key(k, sqlite3_column_blob(s, 0), sqlite3_column_int(s, 1));
        keyset_add(&c->workdays, k);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return step_err(c, rc, "reading work days", err);
    c->workdays_loaded = true;
    return 0;
}

typedef qs_svc_acc svc_acc;

void qs__report_service_row(qs_report_pairing *p, const int64_t *set, const qs_keyset *workdays,
                            qs_keyset *pseudonyms, const qs_svc_row *r, qs_svc_acc *a)
{
    uint8_t k[KEY_MAX];
    p->services++;
    p->service_minutes += r->minutes;
    add_count(p->by_type, r->type, 1, r->minutes);
    add_count(p->by_domain, r->domain, 1, r->minutes);
    for (int64_t b = 0; b < QS_REPORT_ENUM_MAX; b++)
        if (r->cats & BIT(b))
            add_count(p->by_category, b, 1, r->minutes);
    if (r->cats & set[QS_S_ASSISTANCE_CATEGORIES])
        p->reach_assistance++;
    if ((r->cats & set[QS_S_ELDERLY_CATEGORIES]) || r->domain == QS_SERVICE_DOMAIN_ELDERLY)
        p->reach_elderly++;
    if ((r->cats & set[QS_S_MINOR_CATEGORIES]) || r->minors > 0)
        p->reach_minors++;
    for (int i = 0; i < r->nworkers; i++) {
        day_key(k, r->workers + i * QS_ID_LEN, r->date);
        if (!keyset_has(workdays, k)) {
            p->services_without_workday++;
            break;
        }
    }
    if (r->npseudonyms == 0) {
        a->heads += r->total;
        return;
    }
    a->with_pseudo++;
    memset(k, 0, sizeof k);
    for (int i = 0; i < r->npseudonyms; i++) {
        memcpy(k, r->pseudonyms + i * QS_ID_LEN, QS_ID_LEN);
        keyset_add(pseudonyms, k);
    }
}

void qs__report_people(qs_report_pairing *p, const qs_keyset *pseudonyms, const qs_svc_acc *a)
{
    p->people_pseudonyms = (int64_t)pseudonyms->n;
    p->people_headcount = a->heads;
    p->people_served = p->people_pseudonyms + p->people_headcount;
    p->people_basis = p->services == 0                ? "none"
                      : a->with_pseudo == 0           ? "head counts"
                      : a->with_pseudo == p->services ? "pseudonyms"
                                                      : "mixed";
}

/* The service logs of one scope in the period (see services_pass). */
static int services_of_scope(ctx *c, qs_report_pairing *p, const char *scope, svc_acc *a,
                             qs_err *err)
{
    int rc;
    sqlite3_stmt *s = c->q[Q_SERVICES];
    sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, c->from);
    sqlite3_bind_int(s, 3, c->to);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        qs_svc_row row = {
            .date = sqlite3_column_int(s, 0),
            .type = sqlite3_column_int64(s, 1),
            .domain = sqlite3_column_int64(s, 2),
            .cats = sqlite3_column_int64(s, 3),
            .minors = sqlite3_column_int64(s, 4),
            .minutes = sqlite3_column_int64(s, 5),
            .total = sqlite3_column_int64(s, 6),
            .workers = sqlite3_column_blob(s, 7),
            .nworkers = sqlite3_column_bytes(s, 7) / QS_ID_LEN,
            .pseudonyms = sqlite3_column_blob(s, 8),
            .npseudonyms = sqlite3_column_bytes(s, 8) / QS_ID_LEN,
        };
        qs__report_service_row(p, c->set, &c->workdays, &c->pseudonyms, &row, a);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : step_err(c, rc, "reading services", err);
}

/* The service logs of p's county (its own scope, then each township scope
 * under it that has logs) in the period, read once from rep_service_log,
 * every figure aggregated here:
 * - count and minutes by type, domain and beneficiary category; the reach
 *   of assistance recipients, the elderly and minors (settings' masks);
 * - people served: distinct pseudonyms over the logs that carry them, plus
 *   the head counts (total) of the logs that carry none;
 * - logs with a worker who has no work day (on any pairing) that date.
 * A NULL figure counts as 0, a NULL type or domain as code 0. */
static int services_pass(ctx *c, qs_report_pairing *p, const char *hi, qs_err *err)
{
    svc_acc a = {0};
    char scope[QS_CODE_MAX];
    int rc;
    if ((rc = load_workdays(c, err)))
        return rc;
    keyset_clear(&c->pseudonyms);
    snprintf(scope, sizeof scope, "%s", p->county);
    while (!(rc = services_of_scope(c, p, scope, &a, err))) {
        sqlite3_stmt *s = c->q[Q_SERVICE_SCOPE];
        sqlite3_bind_text(s, 1, scope, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, hi, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        bool more = rc == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_TEXT;
        if (more)
            copy_text(scope, sizeof scope, s, 0);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return step_err(c, rc, "reading services", err);
        rc = 0;
        if (!more)
            break;
    }
    if (rc)
        return rc;
    qs__report_people(p, &c->pseudonyms, &a);
    return 0;
}

/* The pairing's (person, day)s that are also logged on another pairing. */
static int count_shared(ctx *c, qs_report_pairing *p, qs_err *err)
{
    uint8_t k[KEY_MAX];
    int rc;
    sqlite3_stmt *s;
    if (!c->shared_loaded) {
        s = c->q[Q_SHARED_ALL];
        sqlite3_bind_int(s, 1, c->from);
        sqlite3_bind_int(s, 2, c->to);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            if (sqlite3_column_bytes(s, 0) == QS_ID_LEN) {
                day_key(k, sqlite3_column_blob(s, 0), sqlite3_column_int(s, 1));
                keyset_add(&c->shared, k);
            }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE)
            return step_err(c, rc, "reading work days", err);
        c->shared_loaded = true;
    }
    p->shared_person_days = 0;
    if (c->shared.n == 0)
        return 0;
    s = c->q[Q_SHARED];
    sqlite3_bind_blob(s, 1, p->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, c->from);
    sqlite3_bind_int(s, 3, c->to);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (sqlite3_column_bytes(s, 0) == QS_ID_LEN) {
            day_key(k, sqlite3_column_blob(s, 0), sqlite3_column_int(s, 1));
            p->shared_person_days += keyset_has(&c->shared, k);
        }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : step_err(c, rc, "reading work days", err);
}

void qs__report_expense_row(qs_report_pairing *p, int64_t dir, bool has_cat, int64_t cat,
                            int64_t src, int64_t sum, int64_t cnt)
{
    p->expense_records += cnt;
    if (dir == QS_DIRECTION_RECEIVED) {
        if (src >= 0 && src < QS_REPORT_ENUM_MAX)
            p->received_by_source[src] += sum;
    } else if (dir == QS_DIRECTION_SPENT) {
        if (has_cat && cat >= 0 && cat < QS_REPORT_ENUM_MAX) {
            p->spent_by_category[cat] += sum;
            p->spent_count_by_category[cat] += cnt;
        } else {
            p->spent_uncategorised += sum;
            p->spent_uncategorised_count += cnt;
        }
    }
}

void qs__report_output_row(qs_report_pairing *p, int64_t type, int64_t n)
{
    if (type == QS_OUTPUT_TYPE_AGENCY)
        p->cultivated += n;
    else if (type == QS_OUTPUT_TYPE_DOCUMENT)
        p->documents += n;
    else if (type == QS_OUTPUT_TYPE_BRAND)
        p->brands += n;
}

void qs__report_training_row(qs_report_pairing *p, int64_t type, int64_t n, int64_t minutes,
                             int64_t local)
{
    if (type >= 0 && type < QS_REPORT_ENUM_MAX)
        p->sessions_by_type[type] += n;
    p->training_minutes += minutes;
    p->training_local_participants += local;
}

/* One count from a statement binding (blob id, text or int64) ?1, ?2 and ?3. */
static int count_of(ctx *c, int q, const void *b1, int n1, const char *t1, const void *b2,
                    int32_t i3, int64_t *out, const char *what, qs_err *err)
{
    sqlite3_stmt *s = c->q[q];
    if (t1)
        sqlite3_bind_text(s, 1, t1, -1, SQLITE_STATIC);
    else
        sqlite3_bind_blob(s, 1, b1, n1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, b2, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, i3);
    return one_row(c, s, out, 1, what, err);
}

/* Everything recorded for p in the period (the measured fields). */
static int fill_pairing(ctx *c, qs_report_pairing *p, const void *aiding, int aiding_len,
                        const void *receiving, int receiving_len, qs_err *err)
{
    int rc;
    int64_t v[4] = {0};
    char hi[QS_CODE_MAX];

    /* workers and days */
    if ((rc = load_workers(c, p, aiding, aiding_len, QS_PERSON_ROLE_DISPATCHED, &p->dispatched,
                           &p->ndispatched, err)))
        return rc;
    if ((rc = load_workers(c, p, receiving, receiving_len, QS_PERSON_ROLE_LOCAL, &p->local,
                           &p->nlocal, err)))
        return rc;
    sqlite3_stmt *s = c->q[Q_ANYDAY];
    sqlite3_bind_blob(s, 1, p->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, c->from);
    sqlite3_bind_int(s, 3, c->to);
    if ((rc = one_row(c, s, v, 1, "counting work days", err)))
        return rc;
    p->any_day = v[0] > 0;

    /* data quality on the pairing's work days */
    s = c->q[Q_DUPS];
    sqlite3_bind_blob(s, 1, p->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, c->from);
    sqlite3_bind_int(s, 3, c->to);
    if ((rc = one_row(c, s, &p->duplicate_person_days, 1, "counting duplicate days", err)))
        return rc;
    s = c->q[Q_OUTSIDE];
    sqlite3_bind_blob(s, 1, p->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, p->start_year * 10000 + 101);
    sqlite3_bind_int(s, 3, p->end_year * 10000 + 1231);
    if ((rc = one_row(c, s, &p->workdays_outside_years, 1, "counting work days", err)))
        return rc;
    if ((rc = count_shared(c, p, err)))
        return rc;

    /* structure: the other pairings of the year with the same agency or county */
    if (aiding_len == QS_ID_LEN &&
        (rc = count_of(c, Q_OTHER_AIDING, aiding, aiding_len, NULL, p->id, c->year,
                       &p->other_pairings_aiding, "reading pairings", err)))
        return rc;
    if ((rc = count_of(c, Q_OTHER_COUNTY, NULL, 0, p->county, p->id, c->year,
                       &p->other_pairings_county, "reading pairings", err)))
        return rc;

    /* funds */
    s = c->q[Q_FUNDS];
    sqlite3_bind_blob(s, 1, p->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, c->from);
    sqlite3_bind_int(s, 3, c->to);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        qs__report_expense_row(p, sqlite3_column_int64(s, 0),
                               sqlite3_column_type(s, 1) != SQLITE_NULL, sqlite3_column_int64(s, 1),
                               sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3),
                               sqlite3_column_int64(s, 4));
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return step_err(c, rc, "reading expenses", err);

    /* outputs, cumulative from the start of the pairing to the period's end */
    s = c->q[Q_OUTPUTS];
    bind_range(s, p->county, hi, p->start_year * 10000 + 101, c->to);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        qs__report_output_row(p, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1));
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return step_err(c, rc, "reading outputs", err);

    s = c->q[Q_STATIONS];
    bind_range(s, p->county, hi, c->to, 0); /* ?4 is not used */
    if ((rc = one_row(c, s, v, 2, "reading stations", err)))
        return rc;
    p->stations = v[0];
    p->townships_covered = v[1];

    /* services: one pass over the county's logs in the period */
    subtree_end(p->county, hi);
    if ((rc = services_pass(c, p, hi, err)))
        return rc;

    s = c->q[Q_TRAININGS];
    bind_range(s, p->county, hi, c->from, c->to);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        qs__report_training_row(p, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                                sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3));
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return step_err(c, rc, "reading trainings", err);
    return 0;
}

static int load_counties(ctx *c, qs_report *r, const char *county, qs_err *err)
{
    sqlite3_stmt *s = c->q[Q_COUNTIES];
    size_t cap = 0;
    int rc;
    if (county)
        sqlite3_bind_text(s, 1, county, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (r->ncounties == cap) {
            cap = cap ? cap * 2 : 16;
            r->counties = qs_xrealloc(r->counties, cap * sizeof *r->counties);
        }
        qs_report_county *cy = &r->counties[r->ncounties++];
        memset(cy, 0, sizeof *cy);
        copy_text(cy->code, sizeof cy->code, s, 0);
        copy_text(cy->name, sizeof cy->name, s, 1);
        copy_text(cy->prefecture, sizeof cy->prefecture, s, 2);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : step_err(c, rc, "reading counties", err);
}

/* The SQLite measure: counties and pairings with everything recorded for
 * them (freshness aside). */
static int measure(ctx *c, const char *county, qs_report *r, qs_err *err)
{
    int rc = 0;
    size_t cap = 0;
    for (int i = 0; i < Q_COUNT; i++) {
        int src = sqlite3_prepare_v2(c->st->db, queries[i], -1, &c->q[i], NULL);
        if (src != SQLITE_OK)
            return qs__sqlerr(c->st, src, "preparing the report", err);
    }
    if ((rc = load_counties(c, r, county, err)))
        return rc;

    sqlite3_stmt *s = c->q[Q_PAIRINGS];
    if (county)
        sqlite3_bind_text(s, 1, county, -1, SQLITE_STATIC);
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (r->npairings == cap) {
            cap = cap ? cap * 2 : 16;
            r->pairings = qs_xrealloc(r->pairings, cap * sizeof *r->pairings);
        }
        qs_report_pairing *p = &r->pairings[r->npairings++];
        memset(p, 0, sizeof *p);
        memcpy(p->id, sqlite3_column_blob(s, 0), QS_ID_LEN);
        copy_text(p->county, sizeof p->county, s, 1);
        p->type = sqlite3_column_int(s, 2);
        p->start_year = sqlite3_column_int(s, 3);
        p->end_year = sqlite3_column_int(s, 4);
        copy_text(p->aiding, sizeof p->aiding, s, 5);
        copy_text(p->aiding_province, sizeof p->aiding_province, s, 6);
        copy_text(p->receiving, sizeof p->receiving, s, 7);
        p->has_receiving = sqlite3_column_int(s, 8);
        copy_text(p->county_name, sizeof p->county_name, s, 9);
        copy_text(p->prefecture, sizeof p->prefecture, s, 10);
        p->townships = sqlite3_column_int64(s, 11);
        if (sqlite3_column_bytes(s, 12) == QS_ID_LEN)
            memcpy(p->aiding_id, sqlite3_column_blob(s, 12), QS_ID_LEN);
        p->county_known = sqlite3_column_int(s, 14);
        copy_text(p->receiving_county, sizeof p->receiving_county, s, 15);
        rc = fill_pairing(c, p, sqlite3_column_blob(s, 12), sqlite3_column_bytes(s, 12),
                          sqlite3_column_blob(s, 13), sqlite3_column_bytes(s, 13), err);
        if (rc)
            break;
    }
    sqlite3_reset(s);
    if (!rc && src != SQLITE_DONE)
        rc = step_err(c, src, "reading pairings", err);
    return rc;
}

int qs_store_report_annual(qs_store *st, const qs_report_params *prm, qs_report *r, qs_err *err)
{
    int rc = 0;
    ctx c = {.st = st};
    qs_peer *peers = NULL;
    size_t npeers = 0;
    memset(r, 0, sizeof *r);
    if (!prm || prm->year < 2000 || prm->year > 2099)
        return qs_err_set(err, QS_EINVAL, "report year must be between 2000 and 2099");
    if (prm->as_of && !qs_date_valid(prm->as_of))
        return qs_err_set(err, QS_EINVAL, "report date %d is not a date", (int)prm->as_of);
    if (prm->as_of && prm->as_of < prm->year * 10000 + 101)
        return qs_err_set(err, QS_EINVAL, "report date %d is before the year %d begins",
                          (int)prm->as_of, prm->year);
    if (prm->county && qs_code_level(prm->county) != QS_LEVEL_COUNTY)
        return qs_err_set(err, QS_EINVAL, "\"%s\" is not a county code", prm->county);
    if (prm->worker_days_rule && prm->worker_days_rule != QS_DAYS_PER_PERSON &&
        prm->worker_days_rule != QS_DAYS_TOTAL)
        return qs_err_set(err, QS_EINVAL, "unknown working-days rule %d", prm->worker_days_rule);

    time_t now = qs_clock_wall_time();
    r->year = prm->year;
    r->as_of = prm->as_of ? prm->as_of : qs_report_default_as_of(prm->year, now);
    r->generated_ms = qs_clock_wall_ms();
    r->period_from = prm->year * 10000 + 101;
    r->period_to = r->as_of < prm->year * 10000 + 1231 ? r->as_of : prm->year * 10000 + 1231;
    snprintf(r->node, sizeof r->node, "%s", st->node);
    snprintf(r->filter, sizeof r->filter, "%s", prm->county ? prm->county : "");
    if (prm->narrative)
        r->narrative = qs_xstrdup(prm->narrative);
    for (int i = 0; i < QS_S_COUNT && !rc; i++)
        rc = qs_report_setting_get(st, prm->year, (qs_setting_id)i, &c.set[i], err);
    if (rc)
        goto out;
    if (prm->worker_days_rule)
        c.set[QS_S_WORKER_DAYS_RULE] = prm->worker_days_rule;
    if (prm->stale_limit_s > 0)
        c.set[QS_S_STALE_LIMIT_S] = prm->stale_limit_s;
    if (prm->funds_sources > 0)
        c.set[QS_S_FUNDS_SOURCES] = prm->funds_sources;
    memcpy(r->settings, c.set, sizeof r->settings);

    c.year = prm->year;
    c.from = r->period_from;
    c.to = r->period_to;

    if ((rc = qs_store_peers(st, &peers, &npeers, err)))
        goto out;
    if (st->pg)
        rc = qs__pg_report_measure(st, prm->county, c.set, r, err);
    else
        rc = measure(&c, prm->county, r, err);
    if (rc)
        goto out;
    /* freshness: only for counties other than this node */
    for (uint32_t j = 0; j < r->npairings; j++) {
        qs_report_pairing *p = &r->pairings[j];
        if (strcmp(p->county, st->node) == 0) {
            p->last_ok_ms = -1;
        } else {
            for (size_t i = 0; i < npeers; i++)
                if (strcmp(peers[i].node, p->county) == 0)
                    p->last_ok_ms = peers[i].last_ok_ms;
        }
    }
    qs_report_judge(r);
out:
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(c.q[i]);
    keyset_free(&c.workdays);
    keyset_free(&c.shared);
    keyset_free(&c.pseudonyms);
    free(peers);
    if (rc)
        qs_report_free(r);
    return rc;
}

void qs_report_free(qs_report *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->npairings; i++) {
        free(r->pairings[i].dispatched);
        free(r->pairings[i].local);
    }
    free(r->pairings);
    free(r->counties);
    free(r->narrative);
    r->pairings = NULL;
    r->counties = NULL;
    r->narrative = NULL;
    r->npairings = r->ncounties = 0;
}
