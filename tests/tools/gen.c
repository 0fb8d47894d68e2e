/*
 * gen.c — qs-gen: seeded, realistic data for the province and its counties,
 * written through the real store (and, with --sync, moved through the real
 * sync session), with the verdicts the annual report must give written to
 * DIR/expected.json from the generator's own plan. See tests/tools/README.md.
 *
 * The plan is made first, entirely from the seed: counties, agencies,
 * pairings, people and, per person and year, the exact set of days worked.
 * The records are then written from the plan, and expected.json is computed
 * from the plan (never by running the report). Some pairings miss specific
 * criteria by construction (the `cases` table below).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/session.h"
#include "proto/date.h"
#include "proto/schema.h"
#include "proto/xmalloc.h"
#include "store/store.h"

#define PROVINCE "630000"
#define MAX_COUNTIES 64
#define MAX_YEARS 15
#define MAX_PEOPLE 8
#define POOL 400 /* beneficiary pseudonyms per county */
#define TX_RECORDS 20000
#define BULK_MIB 64       /* page cache while a transaction of records is open */
#define AGG_CACHE_MIB 256 /* the province's page cache */

/* The plan's thresholds (the report reads its own settings table; these
 * are what the plan says, to state the expected verdicts). */
enum {
    PLAN_DISPATCHED = 2,
    PLAN_CERT = QS_CERT_LEVEL_SOCIAL_WORKER,
    PLAN_YEARS = 2,
    PLAN_DAYS = 40,
    PLAN_LOCAL = 3,
    PLAN_LOCAL_DAYS = 120,
    PLAN_CULTIVATED = 1,
};
#define PLAN_FUNDS_FEN INT64_C(3000000)

/* Cases, by pairing index (order of the counties file). A file with fewer
 * counties gets the first ones. */
enum {
    CASE_EXACT_40,            /* a worker with exactly 40 days; a deleted day; a day in conflict */
    CASE_39_DOUBLED,          /* a worker with 39 days, one logged twice */
    CASE_ASSISTANT,           /* the second dispatched worker is 助理社会工作师 */
    CASE_2Y_AFTER_DISPATCH,   /* 2 years of service reached in the year, after the dispatch */
    CASE_NO_CULTIVATED,       /* no cultivated agency at all */
    CASE_FUNDS_LOW,           /* in-province, under 30,000 yuan; spending in "other" */
    CASE_TWO_LOCALS,          /* two local workers */
    CASE_DATA_QUALITY,        /* service logs without work days, days outside the years, a dup,
                                 days also logged on another pairing */
    CASE_LATE_CULTIVATED,     /* first cultivated agency in the third year */
    CASE_NO_DATA_YEAR1,       /* nothing recorded in the first year */
    CASE_LOCAL_120,           /* a local worker with exactly 120 days */
    CASE_SHORT_STAY,          /* an extra qualified dispatched worker with 8 days a year */
    CASE_CERT_AFTER_DISPATCH, /* a certificate dated after the year's first working day */
    CASE_FUNDS_EXACT,         /* in-province, exactly 30,000 yuan of public funds, and 自筹 */
    CASE_LATE_START_SELF,     /* the pairing starts in the second year; 29,999.99 yuan of
                                 public funds and 6,000 of 自筹 */
    CASE_NONE
};
static const char *const case_names[] = {
    "exactly_40_days_deleted_and_conflict",
    "39_days_one_logged_twice",
    "assistant_certificate",
    "two_years_reached_after_dispatch",
    "no_cultivated_agency",
    "funds_under_30000_and_other_spending",
    "two_local_workers",
    "data_quality",
    "cultivated_in_third_year",
    "no_data_first_year",
    "local_worker_exactly_120_days",
    "extra_short_stay_worker",
    "certificate_after_dispatch",
    "funds_exactly_30000_and_self_raised",
    "starts_second_year_public_funds_short",
};

/* ---- random --------------------------------------------------------- */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static int rint_(int lo, int hi) /* inclusive */
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

/* ---- the plan ------------------------------------------------------- */
typedef struct person {
    uint8_t id[16];
    char name[32];
    int role;          /* person_role code */
    int cert;          /* cert_level code */
    int32_t cert_date; /* 0: none */
    int32_t since;
    int exam_year;            /* 0: none */
    bool aiding;              /* of the aiding agency (else the receiving one) */
    int32_t *days[MAX_YEARS]; /* distinct dates worked, per year index */
    int ndays[MAX_YEARS];
} person;

typedef struct county {
    char code[8], name[64], pref[64], pref_code[8];
    int townships;
} county;

typedef struct pairing {
    county cty;
    int idx, kase;
    bool cross;
    int start_year;                     /* the pairing's first year (the last is the data's last) */
    int64_t received_src[MAX_YEARS][8]; /* fen by expense_source code */
    int64_t expense_records[MAX_YEARS];
    int64_t shared[MAX_YEARS]; /* person-days also logged on another pairing */
    int64_t guidance[MAX_YEARS];
    uint8_t id[16], aiding[16], receiving[16];
    char aiding_name[96], receiving_name[96];
    person ppl[MAX_PEOPLE];
    int nppl;
    uint8_t (*stations)[16];
    int32_t *station_opened;
    int nstations;
    /* expected figures per year index */
    int64_t received[MAX_YEARS], spent[MAX_YEARS], flagged[MAX_YEARS];
    int64_t services[MAX_YEARS], minutes[MAX_YEARS], people[MAX_YEARS], with_pseudo[MAX_YEARS];
    int64_t trainings[MAX_YEARS], supervisions[MAX_YEARS], tr_minutes[MAX_YEARS],
        tr_local[MAX_YEARS];
    int64_t orphans[MAX_YEARS], dups[MAX_YEARS];
    int64_t outside;
    int32_t cultivated_on;        /* 0: never */
    int32_t documents[MAX_YEARS]; /* date of each year's document */
    int32_t brand_on;
    uint8_t conflict_day[16], deleted_day[16];
    bool has_conflict, has_deleted;
} pairing;

typedef struct node {
    char code[8];
    qs_store *st;
    unsigned pending;
} node;

typedef struct gen {
    uint64_t seed;
    int y0, y1, ny;
    double scale;
    bool sync;
    const char *out, *counties_file;
    county cty[MAX_COUNTIES];
    int ncty;
    pairing *pr;
    node prov;
    node *cn; /* one per county */
    uint64_t nrecords;
} gen;

/* The embedded default list (the same 15 as shared/data/qinghai-counties.csv). */
static const char *const embedded_counties[] = {
    "632301,同仁市,黄南藏族自治州,632300",   "632322,尖扎县,黄南藏族自治州,632300",
    "632323,泽库县,黄南藏族自治州,632300",   "632522,同德县,海南藏族自治州,632500",
    "632525,贵南县,海南藏族自治州,632500",   "632622,班玛县,果洛藏族自治州,632600",
    "632623,甘德县,果洛藏族自治州,632600",   "632624,达日县,果洛藏族自治州,632600",
    "632625,久治县,果洛藏族自治州,632600",   "632626,玛多县,果洛藏族自治州,632600",
    "632722,杂多县,玉树藏族自治州,632700",   "632723,称多县,玉树藏族自治州,632700",
    "632724,治多县,玉树藏族自治州,632700",   "632725,囊谦县,玉树藏族自治州,632700",
    "632726,曲麻莱县,玉树藏族自治州,632700",
};

static const char *const zj_cities[] = {"杭州市", "宁波市", "温州市", "嘉兴市",
                                        "湖州市", "绍兴市", "金华市", "台州市"};
static const char *const qh_aiding[] = {"西宁市城东区",       "西宁市城中区", "西宁市城西区",
                                        "西宁市城北区",       "海东市乐都区", "海东市平安区",
                                        "大通回族土族自治县", "湟中区",       "湟源县",
                                        "格尔木市",           "德令哈市",     "互助土族自治县"};
static const char *const surnames[] = {"王",   "李",   "张", "刘", "陈", "杨",   "赵",   "马",
                                       "才让", "卓玛", "周", "吴", "韩", "多杰", "拉毛", "冶"};
static const char *const given[] = {"明", "华",   "丽", "军",   "燕", "强", "静",   "措",
                                    "吉", "晓东", "文", "海燕", "卓", "宁", "建国", "春梅"};
static const char *const topics[] = {"个案管理实务",     "儿童保护政策", "老年人照护技巧",
                                     "社会救助政策解读", "小组工作方法", "督导与反思"};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qs-gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return QS_EINVAL;
}

static int parse_county_line(char *line, county *c)
{
    char *f[5] = {0};
    int n = 0;
    for (char *p = line; p && n < 5; n++) {
        f[n] = p;
        p = strchr(p, ',');
        if (p)
            *p++ = '\0';
    }
    if (n < 4 || strlen(f[0]) != 6)
        return -1;
    snprintf(c->code, sizeof c->code, "%s", f[0]);
    snprintf(c->name, sizeof c->name, "%s", f[1]);
    snprintf(c->pref, sizeof c->pref, "%s", f[2]);
    f[3][strcspn(f[3], "\r\n")] = '\0';
    snprintf(c->pref_code, sizeof c->pref_code, "%s", f[3]);
    return 0;
}

static int load_counties(gen *g)
{
    char line[512];
    FILE *fp = g->counties_file ? fopen(g->counties_file, "r") : NULL;
    if (g->counties_file && !fp && errno != ENOENT)
        return fail("%s: %s", g->counties_file, strerror(errno));
    if (fp) {
        int lineno = 0;
        while (fgets(line, sizeof line, fp) && g->ncty < MAX_COUNTIES) {
            if (lineno++ == 0 && strncmp(line, "code", 4) == 0)
                continue;
            if (line[0] == '\n' || line[0] == '\r')
                continue;
            if (parse_county_line(line, &g->cty[g->ncty]))
                return fclose(fp), fail("%s:%d: expected code,name,prefecture,prefecture_code",
                                        g->counties_file, lineno);
            g->ncty++;
        }
        fclose(fp);
    } else {
        for (size_t i = 0; i < sizeof embedded_counties / sizeof *embedded_counties; i++) {
            snprintf(line, sizeof line, "%s", embedded_counties[i]);
            parse_county_line(line, &g->cty[g->ncty++]);
        }
    }
    if (g->ncty == 0)
        return fail("no counties");
    return 0;
}

/* n distinct weekdays of year y, ascending; avoid[] dates excluded. */
static int32_t *pick_days(int y, int n, const int32_t *avoid, int navoid)
{
    int32_t pool[370];
    int np = 0;
    int32_t d0 = qs_date_to_days(y * 10000 + 101), d1 = qs_date_to_days(y * 10000 + 1231);
    for (int32_t d = d0; d <= d1; d++) {
        int wd = ((d % 7) + 7) % 7; /* 0 = Thursday (1970-01-01) */
        if (wd == 2 || wd == 3)
            continue;
        int32_t ymd = qs_date_from_days(d);
        bool skip = false;
        for (int i = 0; i < navoid; i++)
            skip |= avoid[i] == ymd;
        if (!skip)
            pool[np++] = ymd;
    }
    if (n > np)
        n = np;
    for (int i = 0; i < n; i++) {
        int j = i + (int)(rnd() % (uint64_t)(np - i));
        int32_t t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
    }
    int32_t *out = qs_xmalloc((size_t)(n ? n : 1) * sizeof *out);
    memcpy(out, pool, (size_t)n * sizeof *out);
    for (int i = 1; i < n; i++) /* insertion sort */
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int32_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return out;
}

static person *add_person(pairing *p, int role, int cert, int32_t since, bool aiding)
{
    person *x = &p->ppl[p->nppl++];
    memset(x, 0, sizeof *x);
    x->role = role;
    x->cert = cert;
    x->since = since;
    x->cert_date = cert ? since + 10000 : 0; /* a year after service began */
    x->aiding = aiding;
    snprintf(x->name, sizeof x->name, "%s%s", surnames[rnd() % 16], given[rnd() % 16]);
    return x;
}

static void set_days(gen *g, person *x, int yi, int n)
{
    free(x->days[yi]);
    x->days[yi] = n > 0 ? pick_days(g->y0 + yi, n, NULL, 0) : NULL;
    x->ndays[yi] = n > 0 ? n : 0;
}

enum {
    R_DISPATCHED = QS_PERSON_ROLE_DISPATCHED,
    R_LOCAL = QS_PERSON_ROLE_LOCAL,
    R_SUPERVISOR = QS_PERSON_ROLE_SUPERVISOR
};

static void plan_pairing(gen *g, pairing *p)
{
    int k = p->kase;
    int boundary = g->y1 - 1 >= g->y0 ? g->y1 - 1 : g->y0; /* the cases' decisive year */
    p->start_year = k == CASE_LATE_START_SELF && g->y1 > g->y0 ? g->y0 + 1 : g->y0;
    p->cty.townships = rint_(6, 15);
    enum { NONE = QS_CERT_LEVEL_NONE, ASSISTANT = QS_CERT_LEVEL_ASSISTANT };
    enum { SW = QS_CERT_LEVEL_SOCIAL_WORKER, SENIOR = QS_CERT_LEVEL_SENIOR };
    person *a =
        add_person(p, R_DISPATCHED, rint_(SW, SENIOR), rint_(2012, 2018) * 10000 + 301, true);
    person *b = add_person(p, R_DISPATCHED, SW, rint_(2010, 2017) * 10000 + 915, true);
    person *cx = NULL, *d = NULL;
    if (k == CASE_ASSISTANT)
        b->cert = ASSISTANT; /* 助理社会工作师, long service and many days: still not counted */
    if (k == CASE_2Y_AFTER_DISPATCH) {
        /* service began on 1 December two years before the boundary year: 2 years
         * by 31 December of it, but not at its first working day (January) */
        b->since = (boundary - 2) * 10000 + 1201;
        b->cert_date = b->since;
        cx = add_person(p, R_DISPATCHED, SENIOR, 2014 * 10000 + 610, true);
    }
    if (k == CASE_CERT_AFTER_DISPATCH) {
        /* A's 社会工作师 certificate is dated 15 June of the boundary year, after
         * A's first working day that year: A counts from the next year only */
        a->cert = SW;
        a->cert_date = boundary * 10000 + 615;
        cx = add_person(p, R_DISPATCHED, SW, 2013 * 10000 + 510, true);
    }
    if (k == CASE_SHORT_STAY)
        d = add_person(p, R_DISPATCHED, SW, 2015 * 10000 + 820, true);
    person *sup = add_person(p, R_SUPERVISOR, SENIOR, 2008 * 10000 + 101, true);
    int nlocal = k == CASE_TWO_LOCALS ? 2 : 3;
    person *loc[3];
    for (int i = 0; i < nlocal; i++) {
        loc[i] =
            add_person(p, R_LOCAL, rint_(NONE, ASSISTANT), rint_(2019, 2021) * 10000 + 401, false);
        /* two of them sat the national exam, in a year that varies by county */
        loc[i]->exam_year = i < 2 ? g->y0 + (p->idx + i) % g->ny : 0;
    }
    for (int yi = 0; yi < g->ny; yi++) {
        int y = g->y0 + yi;
        if ((k == CASE_NO_DATA_YEAR1 && yi == 0) || y < p->start_year)
            continue;
        int ad = k == CASE_EXACT_40 ? 40 : rint_(45, 70);
        int bd = k == CASE_39_DOUBLED ? 39 : rint_(45, 70);
        if (k == CASE_2Y_AFTER_DISPATCH && y < boundary - 1) {
            set_days(g, cx, yi, rint_(45, 70)); /* before B joined, C served */
            bd = 0;
        }
        if (k == CASE_CERT_AFTER_DISPATCH && y < boundary) {
            set_days(g, cx, yi, rint_(45, 70)); /* before A came, C served */
            ad = 0;
        }
        set_days(g, a, yi, ad);
        set_days(g, b, yi, bd);
        if (d)
            set_days(g, d, yi, 8);
        set_days(g, sup, yi, rint_(5, 12));
        for (int i = 0; i < nlocal; i++)
            set_days(g, loc[i], yi, k == CASE_LOCAL_120 && i == 0 ? 120 : rint_(125, 160));
        if (k == CASE_39_DOUBLED || k == CASE_DATA_QUALITY)
            p->dups[yi] = 1;
    }
    if (k == CASE_DATA_QUALITY)
        p->outside = 2;
    p->cultivated_on = k == CASE_NO_CULTIVATED     ? 0
                       : k == CASE_LATE_CULTIVATED ? (g->y0 + 2) * 10000 + 520
                                                   : p->start_year * 10000 + 630;
    p->brand_on = (g->y0 + 1) * 10000 + 1110;
    for (int yi = 0; yi < g->ny; yi++)
        p->documents[yi] = (k == CASE_NO_DATA_YEAR1 && yi == 0) || g->y0 + yi < p->start_year
                               ? 0
                               : (g->y0 + yi) * 10000 + 901;
}

/* ---- writing records ------------------------------------------------ */
static uint32_t fid(uint32_t kind, const char *name)
{
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(kind), name);
    if (!f) {
        fprintf(stderr, "qs-gen: schema has no %s field\n", name);
        abort(); /* the generator and the schema disagree: a bug */
    }
    return f->id;
}
static void put_int(qs_body *b, uint32_t kind, const char *f, int64_t v)
{
    qs_body_set(b, fid(kind, f), qs_v_int(v));
}
static void put_str(qs_body *b, uint32_t kind, const char *f, const char *v)
{
    qs_body_set(b, fid(kind, f), qs_v_str(v));
}
static void put_ref(qs_body *b, uint32_t kind, const char *f, const uint8_t id[16])
{
    qs_body_set(b, fid(kind, f), qs_v_bin(id, 16));
}

static int flush(node *n, bool reopen)
{
    qs_err e = {0};
    if (qs_store_commit(n->st, &e))
        return fail("%s: commit: %s", n->code, e.msg);
    n->pending = 0;
    if (reopen && qs_store_begin_bulk(n->st, BULK_MIB, &e))
        return fail("%s: begin: %s", n->code, e.msg);
    return 0;
}

static int create(gen *g, node *n, uint32_t kind, qs_body *b, uint8_t id[16])
{
    qs_err e = {0};
    uint8_t tmp[16];
    int rc = qs_store_create(n->st, kind, NULL, b, id ? id : tmp, NULL, &e);
    qs_body_free(b);
    qs_body_init(b);
    if (rc)
        return fail("%s: %s: %s", n->code, qs_schema_kind(kind)->name, e.msg);
    g->nrecords++;
    if (++n->pending >= TX_RECORDS)
        return flush(n, true);
    return 0;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)))                                                                            \
            goto out;                                                                              \
    } while (0)

static int write_reference(gen *g)
{
    int rc = 0;
    qs_body b;
    qs_body_init(&b);
    node *n = &g->prov;
    for (int i = 0; i < g->ncty; i++) {
        pairing *p = &g->pr[i];
        county *c = &p->cty;
        put_str(&b, QS_K_COUNTY, "code", c->code);
        put_str(&b, QS_K_COUNTY, "name", c->name);
        put_str(&b, QS_K_COUNTY, "prefecture", c->pref);
        put_str(&b, QS_K_COUNTY, "prefecture_code", c->pref_code);
        put_int(&b, QS_K_COUNTY, "townships", c->townships);
        TRY(create(g, n, QS_K_COUNTY, &b, NULL));

        if (p->cross)
            snprintf(p->aiding_name, sizeof p->aiding_name, "浙江省%s社会工作协会援青服务队",
                     zj_cities[i % 8]);
        else
            snprintf(p->aiding_name, sizeof p->aiding_name, "%s社会工作服务中心",
                     qh_aiding[i % 12]);
        put_str(&b, QS_K_AGENCY, "name", p->aiding_name);
        put_int(&b, QS_K_AGENCY, "role", QS_AGENCY_ROLE_AIDING);
        put_str(&b, QS_K_AGENCY, "province", p->cross ? "浙江省" : "青海省");
        put_str(&b, QS_K_AGENCY, "contact", p->ppl[0].name);
        TRY(create(g, n, QS_K_AGENCY, &b, p->aiding));

        snprintf(p->receiving_name, sizeof p->receiving_name, "%s社会工作服务中心", c->name);
        put_str(&b, QS_K_AGENCY, "name", p->receiving_name);
        put_int(&b, QS_K_AGENCY, "role", QS_AGENCY_ROLE_RECEIVING);
        put_str(&b, QS_K_AGENCY, "province", "青海省");
        put_str(&b, QS_K_AGENCY, "county", c->code);
        TRY(create(g, n, QS_K_AGENCY, &b, p->receiving));

        put_ref(&b, QS_K_PAIRING, "aiding", p->aiding);
        put_ref(&b, QS_K_PAIRING, "receiving", p->receiving);
        put_str(&b, QS_K_PAIRING, "county", c->code);
        put_int(&b, QS_K_PAIRING, "type",
                p->cross ? QS_PAIRING_TYPE_CROSS_PROVINCE : QS_PAIRING_TYPE_IN_PROVINCE);
        put_int(&b, QS_K_PAIRING, "start_year", p->start_year);
        put_int(&b, QS_K_PAIRING, "end_year", g->y1);
        TRY(create(g, n, QS_K_PAIRING, &b, p->id));
    }
out:
    qs_body_free(&b);
    return rc;
}

static int workday(gen *g, node *n, pairing *p, person *x, int32_t date, const char *summary,
                   uint8_t id[16])
{
    qs_body b;
    qs_body_init(&b);
    put_ref(&b, QS_K_WORKDAY, "person", x->id);
    put_ref(&b, QS_K_WORKDAY, "pairing", p->id);
    put_int(&b, QS_K_WORKDAY, "date", date);
    put_int(&b, QS_K_WORKDAY, "mode", rnd() % 5 ? QS_WORK_MODE_ONSITE : QS_WORK_MODE_REMOTE);
    put_str(&b, QS_K_WORKDAY, "summary", summary);
    return create(g, n, QS_K_WORKDAY, &b, id);
}

static int service(gen *g, node *n, pairing *p, int yi, int32_t date, const person *w,
                   uint8_t *seen)
{
    qs_body b;
    qs_body_init(&b);
    put_int(&b, QS_K_SERVICE, "date", date);
    if (p->nstations)
        put_ref(&b, QS_K_SERVICE, "station", p->stations[rnd() % (uint64_t)p->nstations]);
    qs_value ws = qs_v_array(1);
    ws.u.a.v[0] = qs_v_bin(w->id, 16);
    qs_body_set(&b, fid(QS_K_SERVICE, "workers"), ws);
    put_int(&b, QS_K_SERVICE, "service_type", rint_(1, 10));
    put_int(&b, QS_K_SERVICE, "domain", rint_(1, 5));
    int ncat = rint_(0, 2), c1 = rint_(1, 14), c2 = rint_(1, 14);
    if (ncat == 2 && c1 == c2)
        ncat = 1;
    if (ncat) {
        qs_value cs = qs_v_array((size_t)ncat);
        cs.u.a.v[0] = qs_v_int(ncat == 2 && c2 < c1 ? c2 : c1);
        if (ncat == 2)
            cs.u.a.v[1] = qs_v_int(c2 < c1 ? c1 : c2);
        qs_body_set(&b, fid(QS_K_SERVICE, "categories"), cs);
    }
    int total = rint_(1, 20), minutes = rint_(20, 180);
    put_int(&b, QS_K_SERVICE, "total", total);
    put_int(&b, QS_K_SERVICE, "minors", rint_(0, total));
    put_int(&b, QS_K_SERVICE, "female", rint_(0, total));
    put_int(&b, QS_K_SERVICE, "minutes", minutes);
    put_str(&b, QS_K_SERVICE, "content", "入户走访，了解需求并开展服务");
    p->services[yi]++;
    p->minutes[yi] += minutes;
    if (p->idx % 2 == 0) { /* this county records pseudonyms */
        int k = rint_(1, total < 3 ? total : 3);
        int picks[3];
        qs_value ps = qs_v_array((size_t)k);
        for (int i = 0; i < k; i++) {
            int j;
            bool again;
            do { /* distinct within the log */
                j = rint_(0, POOL - 1);
                again = false;
                for (int q = 0; q < i; q++)
                    again |= picks[q] == j;
            } while (again);
            picks[i] = j;
            uint8_t d[16];
            memset(d, 0, sizeof d);
            memcpy(d, p->cty.code, 6);
            d[14] = (uint8_t)(j >> 8);
            d[15] = (uint8_t)j;
            ps.u.a.v[i] = qs_v_bin(d, 16);
            if (!seen[j]) {
                seen[j] = 1;
                p->people[yi]++;
            }
        }
        qs_body_set(&b, fid(QS_K_SERVICE, "pseudonyms"), ps);
        p->with_pseudo[yi]++;
    } else {
        p->people[yi] += total;
    }
    return create(g, n, QS_K_SERVICE, &b, NULL);
}

static int expense(gen *g, node *n, pairing *p, int yi, int32_t date, bool received, int code,
                   int64_t fen, bool flagged)
{
    qs_body b;
    qs_body_init(&b);
    char v[32];
    put_ref(&b, QS_K_EXPENSE, "pairing", p->id);
    put_int(&b, QS_K_EXPENSE, "date", date);
    put_int(&b, QS_K_EXPENSE, "direction", received ? QS_DIRECTION_RECEIVED : QS_DIRECTION_SPENT);
    put_int(&b, QS_K_EXPENSE, "amount", fen);
    snprintf(v, sizeof v, "PZ%d-%04d", date / 10000, (int)(rnd() % 10000));
    put_str(&b, QS_K_EXPENSE, "voucher", v);
    put_int(&b, QS_K_EXPENSE, received ? "source" : "category", code);
    if (received) {
        p->received[yi] += fen;
        p->received_src[yi][code] += fen;
    } else {
        p->spent[yi] += fen;
    }
    p->expense_records[yi]++;
    if (flagged)
        p->flagged[yi] += fen;
    return create(g, n, QS_K_EXPENSE, &b, NULL);
}

static int write_county(gen *g, pairing *p, node *n)
{
    int rc = 0;
    qs_body b;
    qs_body_init(&b);
    char buf[128];
    uint8_t *seen = qs_xcalloc(POOL, 1);

    /* stations: one per township for about two thirds of the townships */
    p->nstations = (p->cty.townships * 2 + 2) / 3;
    p->stations = qs_xcalloc((size_t)p->nstations, 16);
    p->station_opened = qs_xcalloc((size_t)p->nstations, sizeof *p->station_opened);
    for (int i = 0; i < p->nstations; i++) {
        snprintf(buf, sizeof buf, "%s%03d", p->cty.code, i + 1);
        put_str(&b, QS_K_STATION, "township", buf);
        snprintf(buf, sizeof buf, "%s第%d乡镇社工站", p->cty.name, i + 1);
        put_str(&b, QS_K_STATION, "name", buf);
        p->station_opened[i] = (g->y0 + i % 3) * 10000 + 100 * rint_(1, 12) + rint_(1, 28);
        put_int(&b, QS_K_STATION, "opened", p->station_opened[i]);
        put_int(&b, QS_K_STATION, "resident_workers", rint_(1, 3));
        TRY(create(g, n, QS_K_STATION, &b, p->stations[i]));
    }
    for (int i = 0; i < p->nppl; i++) {
        person *x = &p->ppl[i];
        put_ref(&b, QS_K_PERSON, "agency", x->aiding ? p->aiding : p->receiving);
        put_str(&b, QS_K_PERSON, "name", x->name);
        put_int(&b, QS_K_PERSON, "role", x->role);
        put_int(&b, QS_K_PERSON, "cert_level", x->cert);
        if (x->cert) {
            snprintf(buf, sizeof buf, "%d%s%02d", x->since / 10000, p->cty.code, i);
            put_str(&b, QS_K_PERSON, "cert_no", buf);
        }
        put_int(&b, QS_K_PERSON, "service_since", x->since);
        if (x->cert_date)
            put_int(&b, QS_K_PERSON, "cert_date", x->cert_date);
        if (x->exam_year)
            put_int(&b, QS_K_PERSON, "exam_year", x->exam_year);
        TRY(create(g, n, QS_K_PERSON, &b, x->id));
    }
    /* data quality: work days before the pairing's first year */
    if (p->outside)
        for (int i = 0; i < p->outside; i++)
            TRY(workday(g, n, p, &p->ppl[p->nppl - 1], (g->y0 - 1) * 10000 + 1214 + i,
                        "项目启动前的调研", NULL));
    for (int yi = 0; yi < g->ny; yi++) {
        int y = g->y0 + yi;
        const person *locals[MAX_PEOPLE];
        int nl = 0;
        for (int i = 0; i < p->nppl; i++) {
            person *x = &p->ppl[i];
            for (int d = 0; d < x->ndays[yi]; d++) {
                uint8_t id[16];
                TRY(workday(g, n, p, x, x->days[yi][d], "驻点开展个案与社区服务", id));
                if (p->kase == CASE_EXACT_40 && yi == 0 && d == 0 && i == 0) {
                    memcpy(p->conflict_day, id, 16);
                    p->has_conflict = true;
                }
            }
            if (x->role == R_LOCAL && x->ndays[yi])
                locals[nl++] = x;
            /* the day logged twice: same person, same date, another record */
            if (p->dups[yi] && x->ndays[yi] &&
                ((p->kase == CASE_39_DOUBLED && i == 1) ||
                 (p->kase == CASE_DATA_QUALITY && x->role == R_LOCAL && nl == 1)))
                TRY(workday(g, n, p, x, x->days[yi][x->ndays[yi] / 2], "补录（重复）", NULL));
            /* the same person-days also logged on another county's pairing */
            if (p->kase == CASE_DATA_QUALITY && x->role == R_LOCAL && nl == 1 &&
                x->ndays[yi] >= 2 && g->ncty > CASE_LOCAL_120) {
                pairing *other = &g->pr[CASE_LOCAL_120];
                for (int j = 0; j < 2; j++)
                    TRY(workday(g, n, other, x, x->days[yi][j], "误记到其他结对", NULL));
                p->shared[yi] += 2;
                other->shared[yi] += 2;
            }
        }
        /* a deleted day: worker A's 41st day, created then deleted */
        if (p->kase == CASE_EXACT_40 && yi == 0 && p->ppl[0].ndays[0]) {
            int32_t *extra = pick_days(y, 1, p->ppl[0].days[0], p->ppl[0].ndays[0]);
            TRY(workday(g, n, p, &p->ppl[0], extra[0], "误录", p->deleted_day));
            free(extra);
            p->has_deleted = true;
        }
        /* outputs */
        if (p->documents[yi]) {
            snprintf(buf, sizeof buf, "%s社会工作服务管理办法（%d年修订）", p->cty.name, y);
            put_int(&b, QS_K_OUTPUT, "type", QS_OUTPUT_TYPE_DOCUMENT);
            put_str(&b, QS_K_OUTPUT, "name", buf);
            put_int(&b, QS_K_OUTPUT, "date", p->documents[yi]);
            put_ref(&b, QS_K_OUTPUT, "pairing", p->id);
            TRY(create(g, n, QS_K_OUTPUT, &b, NULL));
        }
        if (p->cultivated_on / 10000 == y) {
            snprintf(buf, sizeof buf, "%s阳光社会工作服务社", p->cty.name);
            put_int(&b, QS_K_OUTPUT, "type", QS_OUTPUT_TYPE_AGENCY);
            put_str(&b, QS_K_OUTPUT, "name", buf);
            put_int(&b, QS_K_OUTPUT, "date", p->cultivated_on);
            put_ref(&b, QS_K_OUTPUT, "pairing", p->id);
            TRY(create(g, n, QS_K_OUTPUT, &b, NULL));
        }
        if (p->brand_on / 10000 == y) {
            snprintf(buf, sizeof buf, "“%s暖心”服务品牌", p->cty.name);
            put_int(&b, QS_K_OUTPUT, "type", QS_OUTPUT_TYPE_BRAND);
            put_str(&b, QS_K_OUTPUT, "name", buf);
            put_int(&b, QS_K_OUTPUT, "date", p->brand_on);
            TRY(create(g, n, QS_K_OUTPUT, &b, NULL));
        }
        if (nl == 0)
            continue; /* nothing recorded this year */
        memset(seen, 0, POOL);
        int nserv = (int)(g->scale * rint_(250, 350) + 0.5);
        for (int s = 0; s < nserv; s++) {
            const person *w = locals[rnd() % (uint64_t)nl];
            TRY(service(g, n, p, yi, w->days[yi][rnd() % (uint64_t)w->ndays[yi]], w, seen));
        }
        if (p->kase == CASE_DATA_QUALITY) /* logs whose worker has no work day that date */
            for (int s = 0; s < 3; s++) {
                const person *w = locals[0];
                int32_t *free_day = pick_days(y, 1, w->days[yi], w->ndays[yi]);
                TRY(service(g, n, p, yi, free_day[0], w, seen));
                free(free_day);
                p->orphans[yi]++;
            }
        for (int t = 0; t < 6; t++) {
            bool sup = t >= 4;
            int minutes = 60 * rint_(2, 6), part = rint_(8, 30), local = rint_(2, 8);
            put_int(&b, QS_K_TRAINING, "date", y * 10000 + (t * 2 + 1) * 100 + rint_(1, 28));
            put_int(&b, QS_K_TRAINING, "type",
                    sup ? QS_TRAINING_TYPE_SUPERVISION : QS_TRAINING_TYPE_TRAINING);
            put_str(&b, QS_K_TRAINING, "trainer", p->ppl[sup ? 2 : 0].name);
            put_str(&b, QS_K_TRAINING, "topic", topics[rnd() % 6]);
            put_int(&b, QS_K_TRAINING, "minutes", minutes);
            put_int(&b, QS_K_TRAINING, "participants", part);
            put_int(&b, QS_K_TRAINING, "local_participants", local);
            put_ref(&b, QS_K_TRAINING, "pairing", p->id);
            TRY(create(g, n, QS_K_TRAINING, &b, NULL));
            if (sup)
                p->supervisions[yi]++;
            else
                p->trainings[yi]++;
            p->tr_minutes[yi] += minutes;
            p->tr_local[yi] += local;
        }
        { /* 项目指导: the aiding agency's on-site guidance of the project */
            int minutes = 60 * rint_(2, 4), local = rint_(2, 6);
            put_int(&b, QS_K_TRAINING, "date", y * 10000 + 700 + rint_(1, 28));
            put_int(&b, QS_K_TRAINING, "type", QS_TRAINING_TYPE_GUIDANCE);
            put_str(&b, QS_K_TRAINING, "trainer", p->ppl[0].name);
            put_str(&b, QS_K_TRAINING, "topic", "项目设计与实施指导");
            put_int(&b, QS_K_TRAINING, "minutes", minutes);
            put_int(&b, QS_K_TRAINING, "participants", local + 2);
            put_int(&b, QS_K_TRAINING, "local_participants", local);
            put_ref(&b, QS_K_TRAINING, "pairing", p->id);
            TRY(create(g, n, QS_K_TRAINING, &b, NULL));
            p->guidance[yi]++;
            p->tr_minutes[yi] += minutes;
            p->tr_local[yi] += local;
        }
        /* funds */
        enum { PROVINCIAL = QS_SOURCE_PROVINCIAL, LOTTERY = QS_SOURCE_LOTTERY };
        enum { CHARITY = QS_SOURCE_CHARITY, SELF = QS_SOURCE_SELF };
        if (p->kase == CASE_FUNDS_LOW) {
            TRY(expense(g, n, p, yi, y * 10000 + 315, true, PROVINCIAL, 1800000, false));
            TRY(expense(g, n, p, yi, y * 10000 + 815, true, LOTTERY, 1000000, false));
            TRY(expense(g, n, p, yi, y * 10000 + 420, false, QS_EXPENSE_CATEGORY_ACTIVITIES,
                        1200000, false));
            TRY(expense(g, n, p, yi, y * 10000 + 620, false, QS_EXPENSE_CATEGORY_TRANSPORT, 800000,
                        false));
            TRY(expense(g, n, p, yi, y * 10000 + 920, false, QS_EXPENSE_CATEGORY_MEALS, 400000,
                        false));
            TRY(expense(g, n, p, yi, y * 10000 + 1020, false, QS_EXPENSE_CATEGORY_OTHER, 160000,
                        true));
        } else {
            /* public funds (省级财政, 福彩公益金) count; 慈善组织 and 自筹 are
             * shown apart */
            int64_t pub = p->kase == CASE_FUNDS_EXACT       ? 1200000
                          : p->kase == CASE_LATE_START_SELF ? 999999
                                                            : 1500000;
            TRY(expense(g, n, p, yi, y * 10000 + 310, true, PROVINCIAL,
                        p->kase == CASE_FUNDS_EXACT ? 1800000 : 2000000, false));
            TRY(expense(g, n, p, yi, y * 10000 + 810, true, LOTTERY, pub, false));
            if (p->kase == CASE_FUNDS_EXACT || p->kase == CASE_LATE_START_SELF)
                TRY(expense(g, n, p, yi, y * 10000 + 905, true, SELF,
                            p->kase == CASE_FUNDS_EXACT ? 500000 : 600000, false));
            else if (p->idx % 4 == 1)
                TRY(expense(g, n, p, yi, y * 10000 + 906, true, CHARITY, 250000, false));
            /* the five categories the plan allows: 活动经费 to 保险 */
            for (int c = QS_EXPENSE_CATEGORY_ACTIVITIES; c <= QS_EXPENSE_CATEGORY_INSURANCE; c++)
                TRY(expense(g, n, p, yi, y * 10000 + (c + 3) * 100 + 12, false, c,
                            INT64_C(100) * rint_(6200, 6800), false));
        }
    }
out:
    free(seen);
    qs_body_free(&b);
    return rc;
}

/* ---- sync over an in-memory link ------------------------------------ */
typedef struct mq {
    qs_buf *m;
    size_t n, cap, head;
} mq;

static int emit(void *ctx, const qs_msg *m)
{
    mq *q = ctx;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->m = qs_xrealloc(q->m, q->cap * sizeof *q->m);
    }
    qs_buf_init(&q->m[q->n], 0);
    qs_err e = {0};
    int rc = qs_msg_encode(m, &q->m[q->n], &e);
    q->n++;
    return rc;
}

static void mq_free(mq *q)
{
    for (size_t i = 0; i < q->n; i++)
        qs_buf_free(&q->m[i]);
    free(q->m);
    memset(q, 0, sizeof *q);
}

/* One complete session between county c and the province. */
static int sync_county(gen *g, node *c)
{
    mq up = {0}, down = {0};
    qs_sess_opts o = {.max_batch = 1000, .window = 4};
    qs_session *child = qs_session_new(c->st, QS_SESS_CHILD, PROVINCE, &o, emit, &up);
    qs_session *parent = qs_session_new(g->prov.st, QS_SESS_PARENT, c->code, &o, emit, &down);
    qs_limits lim = qs_limits_default();
    qs_err e = {0};
    int rc = qs_session_start(child, &e);
    while (!rc && !qs_session_done(child)) {
        bool moved = false;
        for (int d = 0; d < 2 && !rc; d++) {
            mq *q = d == 0 ? &up : &down;
            while (!rc && q->head < q->n) {
                qs_buf *b = &q->m[q->head++];
                qs_msg m;
                if ((rc = qs_msg_decode(b->data, b->len, &lim, &m, &e)))
                    break;
                rc = qs_session_recv(d == 0 ? parent : child, &m, &e);
                qs_msg_free(&m);
                qs_buf_free(b);
                moved = true;
            }
        }
        if (!moved)
            break;
    }
    if (!rc && !qs_session_done(child))
        rc = qs_err_set(&e, QS_EPROTO, "the session stalled before DONE");
    qs_session_free(child);
    qs_session_free(parent);
    mq_free(&up);
    mq_free(&down);
    return rc ? fail("sync %s: %s", c->code, e.msg) : 0;
}

/* Second round: a correction at the province and another at the county on
 * the same work day (a conflict; same person and date either way), and the
 * deleted day's tombstone. */
static int edit_round(gen *g, pairing *p, node *c)
{
    int rc = 0;
    qs_err e = {0};
    if (p->has_deleted && qs_store_delete(c->st, p->deleted_day, NULL, &e))
        return fail("delete: %s", e.msg);
    if (!p->has_conflict || !g->sync)
        return 0;
    for (int side = 0; side < 2 && !rc; side++) {
        qs_store *st = side ? g->prov.st : c->st;
        qs_record r;
        qs_body b;
        qs_record_init(&r);
        qs_limits lim = qs_limits_default();
        if (qs_store_get(st, p->conflict_day, &r, &e) ||
            qs_body_decode(r.body, r.body_len, &lim, &b, &e)) {
            qs_record_free(&r);
            return fail("conflict: %s", e.msg);
        }
        put_str(&b, QS_K_WORKDAY, "summary", side ? "省级核查更正" : "县级补充说明");
        if (qs_store_update(st, p->conflict_day, &b, NULL, &e))
            rc = fail("conflict edit: %s", e.msg);
        qs_body_free(&b);
        qs_record_free(&r);
    }
    return rc;
}

/* ---- the sync stage ------------------------------------------------- */
/* With --sync, county i is synced (twice, with the edit round between) by a
 * second thread while the main thread writes county i+1: the two stages take
 * about as long each, so the 2 cores of a small machine both work. Only the
 * main thread draws random numbers, so a seed gives the same data either way;
 * each store is used by one thread at a time (the province only by this one
 * once the reference data is written). */
typedef struct syncq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;  /* counties written and handed over */
    int closed; /* no more counties will come */
    int failed; /* the sync stage stopped on an error */
    gen *g;
} syncq;

static void *sync_stage(void *arg)
{
    syncq *q = arg;
    gen *g = q->g;
    int rc = 0;
    for (int i = 0; !rc; i++) {
        pthread_mutex_lock(&q->mu);
        while (q->ready <= i && !q->closed)
            pthread_cond_wait(&q->cv, &q->mu);
        bool have = q->ready > i;
        pthread_mutex_unlock(&q->mu);
        if (!have)
            break;
        node *n = &g->cn[i];
        if (!(rc = sync_county(g, n)) && !(rc = edit_round(g, &g->pr[i], n)))
            rc = sync_county(g, n);
    }
    if (rc) {
        pthread_mutex_lock(&q->mu);
        q->failed = 1;
        pthread_mutex_unlock(&q->mu);
    }
    return NULL;
}

static void syncq_push(syncq *q, int ready, bool closed)
{
    pthread_mutex_lock(&q->mu);
    q->ready = ready;
    q->closed |= closed;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static bool syncq_failed(syncq *q)
{
    pthread_mutex_lock(&q->mu);
    bool f = q->failed;
    pthread_mutex_unlock(&q->mu);
    return f;
}

/* ---- expected.json -------------------------------------------------- */
static const char *vname(int v)
{
    return v == 1 ? "pass" : v == 2 ? "fail" : v == 3 ? "no-data" : v == 4 ? "in-progress" : "n/a";
}
static int verdict(bool ok)
{
    return ok ? 1 : 2;
}

static json_t *int_list(const int64_t *v, int n)
{
    int64_t s[MAX_PEOPLE];
    memcpy(s, v, (size_t)n * sizeof *v);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            int64_t t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(s[i]));
    return a;
}

/* The verdicts by the plan's rules (client/REPORTS.md), from the plan itself:
 * a person counts when they meet all their conditions, measured at their
 * first working day of the year on the pairing; the cultivated agency is due
 * by the pairing's last year; funds count public money only. */
static json_t *expected_year(gen *g, pairing *p, int yi)
{
    int y = g->y0 + yi;
    int32_t as_of = y * 10000 + 1231;
    int64_t dd[MAX_PEOPLE], ld[MAX_PEOPLE];
    int nd = 0, nl = 0, dcount = 0, lcount = 0, exam = 0, certified = 0;
    int64_t dsum = 0, lsum = 0, anyday = 0;
    for (int i = 0; i < p->nppl; i++) {
        const person *x = &p->ppl[i];
        anyday += x->ndays[yi];
        if (!x->ndays[yi])
            continue;
        int32_t first = x->days[yi][0]; /* the days are sorted */
        if (x->role == R_DISPATCHED && x->cert >= PLAN_CERT &&
            (!x->cert_date || x->cert_date <= first) &&
            qs_date_years_between(x->since, first) >= PLAN_YEARS) {
            dd[nd++] = x->ndays[yi];
            dsum += x->ndays[yi];
            dcount += x->ndays[yi] >= PLAN_DAYS;
        } else if (x->role == R_LOCAL) {
            ld[nl++] = x->ndays[yi];
            lsum += x->ndays[yi];
            lcount += x->ndays[yi] >= PLAN_LOCAL_DAYS;
            exam += x->exam_year == y;
            certified += x->cert_date / 10000 == y;
        }
    }
    bool active = y >= p->start_year;
    int v[8], vt_d, vt_l;
    v[0] = 1; /* coverage */
    v[1] = 1; /* structure: one-to-one, receiving agency in the county */
    v[2] = verdict(nd >= PLAN_DISPATCHED);
    v[3] = verdict(dcount >= PLAN_DISPATCHED);
    v[4] = verdict(nl >= PLAN_LOCAL);
    v[5] = verdict(lcount >= PLAN_LOCAL);
    vt_d = verdict(dsum >= PLAN_DAYS);
    vt_l = verdict(lsum >= PLAN_LOCAL_DAYS);
    if (!anyday)
        v[2] = v[3] = v[4] = v[5] = vt_d = vt_l = 3;
    int64_t counted = p->received_src[yi][1] + p->received_src[yi][2]; /* public funds */
    v[6] = p->cross ? 0 : p->expense_records[yi] == 0 ? 3 : verdict(counted >= PLAN_FUNDS_FEN);
    int64_t cultivated = p->cultivated_on && p->cultivated_on <= as_of;
    /* in progress (4) before the pairing's last year */
    v[7] = cultivated >= PLAN_CULTIVATED ? 1 : y < g->y1 ? 4 : 2;
    int overall = 1;
    for (int k = 0; k < 8; k++)
        if (v[k] == 2)
            overall = 2;
        else if (v[k] == 3 && overall == 1)
            overall = 3;
    if (!active) {
        for (int k = 0; k < 8; k++)
            v[k] = 0;
        vt_d = vt_l = 0;
        overall = 0;
    }

    static const char *const keys[8] = {"coverage",        "structure",     "dispatched_workers",
                                        "dispatched_days", "local_workers", "local_days",
                                        "funds",           "cultivated"};
    json_t *vo = json_object(), *vt = json_object(), *f = json_object();
    for (int k = 0; k < 8; k++)
        json_object_set_new(vo, keys[k], json_string(vname(v[k])));
    json_object_set_new(vo, "overall", json_string(vname(overall)));
    json_object_set_new(vt, "dispatched_days", json_string(vname(vt_d)));
    json_object_set_new(vt, "local_days", json_string(vname(vt_l)));

    int64_t docs = 0, stations = 0;
    for (int i = 0; i <= yi; i++)
        docs += p->documents[i] != 0;
    for (int i = 0; i < p->nstations; i++)
        stations += p->station_opened[i] <= as_of;
#define FI(k, x) json_object_set_new(f, k, json_integer(x))
    FI("dispatched_credentialed", nd);
    FI("dispatched_counted", dcount);
    json_object_set_new(f, "dispatched_days", int_list(dd, nd));
    FI("dispatched_days_total", dsum);
    FI("local_workers", nl);
    FI("local_counted", lcount);
    json_object_set_new(f, "local_days", int_list(ld, nl));
    FI("local_days_total", lsum);
    FI("local_exam_takers", exam);
    FI("local_certified", certified);
    FI("funds_received_fen", p->received[yi]);
    FI("funds_counted_fen", counted);
    FI("funds_self_fen", p->received_src[yi][4]);
    FI("funds_spent_fen", p->spent[yi]);
    FI("spent_flagged_fen", p->flagged[yi]);
    FI("cultivated", cultivated);
    FI("documents", docs);
    FI("brands", p->brand_on <= as_of);
    FI("stations", stations);
    FI("townships_covered", stations);
    FI("townships", p->cty.townships);
    FI("services", p->services[yi]);
    FI("service_minutes", p->minutes[yi]);
    FI("people_served", p->people[yi]);
    json_object_set_new(f, "people_basis",
                        json_string(p->services[yi] == 0                    ? "none"
                                    : p->with_pseudo[yi] == 0               ? "head counts"
                                    : p->with_pseudo[yi] == p->services[yi] ? "pseudonyms"
                                                                            : "mixed"));
    FI("trainings", p->trainings[yi]);
    FI("supervisions", p->supervisions[yi]);
    FI("guidance", p->guidance[yi]);
    FI("training_minutes", p->tr_minutes[yi]);
    FI("training_local_participants", p->tr_local[yi]);
    FI("services_without_workday", p->orphans[yi]);
    FI("duplicate_person_days", p->dups[yi]);
    FI("workdays_outside_years", p->outside);
    FI("shared_person_days", p->shared[yi]);
#undef FI
    char d[16];
    return json_pack("{s:s, s:b, s:o, s:o, s:o}", "as_of", qs_date_format(as_of, d), "active",
                     active, "verdicts", vo, "verdicts_total_rule", vt, "figures", f);
}

static int write_expected(gen *g)
{
    json_t *root = json_object(), *prs = json_array(), *years = json_array();
    for (int y = g->y0; y <= g->y1; y++)
        json_array_append_new(years, json_integer(y));
    json_object_set_new(root, "seed", json_integer((json_int_t)g->seed));
    json_object_set_new(root, "years", years);
    json_object_set_new(root, "scale", json_real(g->scale));
    json_object_set_new(root, "synced", json_boolean(g->sync));
    json_object_set_new(root, "province", json_string(PROVINCE));
    json_object_set_new(root, "worker_days_rule", json_string("per_person"));
    /* the province per year: covered counties (a pairing active that year), the
     * uncovered ones named, the split by the aiding agencies' provinces */
    json_t *prov = json_object();
    for (int y = g->y0; y <= g->y1; y++) {
        json_t *unc = json_array();
        int covered = 0, cross = 0, in = 0;
        for (int i = 0; i < g->ncty; i++) {
            if (y < g->pr[i].start_year) {
                json_array_append_new(unc, json_string(g->pr[i].cty.code));
                continue;
            }
            covered++;
            cross += g->pr[i].cross;
            in += !g->pr[i].cross;
        }
        char k[8];
        snprintf(k, sizeof k, "%d", y);
        json_object_set_new(prov, k,
                            json_pack("{s:i, s:i, s:o, s:i, s:i}", "counties", g->ncty, "covered",
                                      covered, "uncovered", unc, "cross_province", cross,
                                      "in_province", in));
    }
    json_object_set_new(root, "province_years", prov);
    for (int i = 0; i < g->ncty; i++) {
        pairing *p = &g->pr[i];
        json_t *ys = json_object();
        for (int yi = 0; yi < g->ny; yi++) {
            char k[8];
            snprintf(k, sizeof k, "%d", g->y0 + yi);
            json_object_set_new(ys, k, expected_year(g, p, yi));
        }
        json_array_append_new(prs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o}", "county",
                                             p->cty.code, "name", p->cty.name, "type",
                                             p->cross ? "cross_province" : "in_province", "aiding",
                                             p->aiding_name, "case",
                                             p->kase < CASE_NONE ? case_names[p->kase] : "baseline",
                                             "start_year", p->start_year, "years", ys));
    }
    json_object_set_new(root, "pairings", prs);
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.json", g->out);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    return rc ? fail("cannot write %s", path) : 0;
}

/* ---- main ----------------------------------------------------------- */
static int open_node(gen *g, node *n, const char *code, qs_role role)
{
    char dir[4096];
    snprintf(n->code, sizeof n->code, "%s", code);
    snprintf(dir, sizeof dir, "%s/%s", g->out, code);
    if (mkdir(dir, 0770) && errno != EEXIST)
        return fail("%s: %s", dir, strerror(errno));
    qs_store_opts o = qs_store_opts_default();
    o.dir = dir;
    o.create = true;
    o.node = code;
    o.role = role;
    o.user = "qs-gen";
    /* the province takes every county's records through the session: its
     * indexes outgrow SQLite's default 2 MiB cache long before 2,000,000 logs */
    o.cache_mib = role == QS_ROLE_AGGREGATOR ? AGG_CACHE_MIB : 0;
    qs_err e = {0};
    if (qs_store_open(&o, &n->st, &e))
        return fail("%s: %s (remove the directory to generate again)", dir, e.msg);
    if (qs_store_begin_bulk(n->st, BULK_MIB, &e))
        return fail("%s: %s", dir, e.msg);
    return 0;
}

static void usage(FILE *fp)
{
    fputs("usage: qs-gen --seed N --out DIR [--years 2021-2025] [--scale S] [--sync]\n"
          "              [--counties FILE]\n"
          "Writes one store per node into DIR/<code>/ and DIR/expected.json.\n",
          fp);
}

int main(int argc, char **argv)
{
    gen g = {.seed = 0, .y0 = 2021, .y1 = 2025, .scale = 1.0};
    bool have_seed = false, syncing = false;
    int rc = 0, opt;
    pthread_t syncer;
    syncq q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .g = &g};
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'},  {"out", required_argument, NULL, 'o'},
        {"years", required_argument, NULL, 'y'}, {"scale", required_argument, NULL, 'x'},
        {"sync", no_argument, NULL, 'S'},        {"counties", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 's':
            g.seed = strtoull(optarg, &end, 10);
            have_seed = *end == '\0';
            break;
        case 'o':
            g.out = optarg;
            break;
        case 'y':
            if (sscanf(optarg, "%d-%d", &g.y0, &g.y1) == 1)
                g.y1 = g.y0;
            break;
        case 'x':
            g.scale = strtod(optarg, &end);
            if (*end || g.scale <= 0 || g.scale > 10000)
                return fail("--scale wants a positive number"), 1;
            break;
        case 'S':
            g.sync = true;
            break;
        case 'c':
            g.counties_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (!have_seed || !g.out || g.y0 < 2001 || g.y1 < g.y0 || g.y1 - g.y0 >= MAX_YEARS ||
        g.y1 > 2090) {
        usage(stderr);
        return 1;
    }
    g.ny = g.y1 - g.y0 + 1;
#ifdef QS_DEFAULT_COUNTIES
    if (!g.counties_file)
        g.counties_file = QS_DEFAULT_COUNTIES; /* falls back to the embedded copy if absent */
#endif
    rng_state = g.seed * 0x2545F4914F6CDD1Dull + 1;
    if (mkdir(g.out, 0770) && errno != EEXIST)
        return fail("%s: %s", g.out, strerror(errno)), 3;
    if ((rc = load_counties(&g)))
        return 1;
    g.pr = qs_xcalloc((size_t)g.ncty, sizeof *g.pr);
    g.cn = qs_xcalloc((size_t)g.ncty, sizeof *g.cn);
    for (int i = 0; i < g.ncty; i++) {
        pairing *p = &g.pr[i];
        p->cty = g.cty[i];
        p->idx = i;
        p->kase = i < CASE_NONE ? i : CASE_NONE;
        p->cross = i < 5;
        plan_pairing(&g, p);
    }
    TRY(open_node(&g, &g.prov, PROVINCE, QS_ROLE_AGGREGATOR));
    TRY(write_reference(&g));
    TRY(flush(&g.prov, false));
    if (g.sync && pthread_create(&syncer, NULL, sync_stage, &q) == 0)
        syncing = true;
    else if (g.sync)
        TRY(fail("cannot start the sync thread"));
    for (int i = 0; i < g.ncty && !(syncing && syncq_failed(&q)); i++) {
        node *n = &g.cn[i];
        TRY(open_node(&g, n, g.pr[i].cty.code, QS_ROLE_COUNTY));
        TRY(write_county(&g, &g.pr[i], n));
        TRY(flush(n, false));
        if (syncing)
            syncq_push(&q, i + 1, false);
        else
            TRY(edit_round(&g, &g.pr[i], n));
    }
    if (syncing) {
        syncq_push(&q, q.ready, true);
        pthread_join(syncer, NULL);
        syncing = false;
        if (q.failed)
            TRY(2);
    }
    TRY(write_expected(&g));
    printf("qs-gen: %d counties, %d years, %llu records%s into %s\n", g.ncty, g.ny,
           (unsigned long long)g.nrecords, g.sync ? ", synced," : "", g.out);
out:
    if (syncing) { /* an error in the main thread: let the sync stage finish what it has */
        syncq_push(&q, q.ready, true);
        pthread_join(syncer, NULL);
    }
    if (g.prov.st)
        qs_store_close(g.prov.st);
    for (int i = 0; g.cn && i < g.ncty; i++)
        if (g.cn[i].st)
            qs_store_close(g.cn[i].st);
    for (int i = 0; g.pr && i < g.ncty; i++) {
        for (int k = 0; k < g.pr[i].nppl; k++)
            for (int y = 0; y < g.ny; y++)
                free(g.pr[i].ppl[k].days[y]);
        free(g.pr[i].stations);
        free(g.pr[i].station_opened);
    }
    free(g.pr);
    free(g.cn);
    return rc ? 2 : 0;
}
