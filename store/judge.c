/*
 * judge.c — the verdicts of the annual report: the criteria table and the
 * pure code that applies it to what report.c measured (judge.h). No store,
 * no SQL: tests/report/test_judge.c drives it with tables of made-up facts.
 *
 * Enum codes come from the schema by name, thresholds from r->settings;
 * nothing here is a number of the plan.
 */
#include "store/judge.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/date.h"
#include "proto/schema.h"

#define BIT(c) (INT64_C(1) << (c))

/* ---------------------------------------------------------------------------
 * The criteria. `plan` is the plan's requirement in its words (the sentences
 * client/REPORTS.md quotes, shortened); `counted` says what the value counts;
 * `rule[v]` when verdict v is given.
 */

static const char NA_RULE[] = "本年度不在结对的起止年度内";
static const char NO_WORKDAYS[] = "本年度本结对没有任何工作日记录";

/* The rules of a yearly count against its standard: what (人数, 数值, …) at
 * or above it passes; below it fails once the year is over, and is in
 * progress before. */
#define COUNT_RULES(what, nodata)                                                                  \
    {                                                                                              \
        [QS_VERDICT_PASS] = what " ≥ 标准", [QS_VERDICT_FAIL] = "年度已结束，" what " < 标准",     \
        [QS_VERDICT_PENDING] = "年度未结束，截至统计日" what " < 标准",                            \
        [QS_VERDICT_NODATA] = nodata, [QS_VERDICT_NA] = NA_RULE                                    \
    }

static const qs_crit_def crit_defs[QS_C_COUNT] = {
    [QS_C_COVERAGE] =
        {QS_C_COVERAGE,
         "coverage",
         "结对覆盖",
         "以国家乡村振兴重点帮扶的同仁、尖扎、泽库等15个县（市）的县（市）一级社会工作服务中心"
         "为受援机构……实现“牵手计划”全覆盖",
         "本结对本年度在帮扶期内，受援县在方案名单（县记录）中，且有受援机构",
         NULL,
         -1,
         false,
         {[QS_VERDICT_PASS] = "在帮扶期内，受援县在名单中，受援机构存在",
          [QS_VERDICT_FAIL] = "受援县不在名单中，或受援机构不存在",
          [QS_VERDICT_NA] = NA_RULE}},
    [QS_C_STRUCTURE] =
        {QS_C_STRUCTURE,
         "structure",
         "结对关系",
         "遴选15家（其中：浙江省从其省内遴选5家、青海省民政厅从本省遴选10家）社会工作服务机构"
         "一对一牵手帮扶；帮扶方式为跨省帮扶和省内帮扶",
         "本年度援派机构与受援县各只在一个结对中；受援机构登记在本县；结对类型按援派机构所在省"
         "推定并与登记核对",
         NULL,
         -1,
         false,
         {[QS_VERDICT_PASS] = "一对一，受援机构在本县（类型不符、人日重复只提示）",
          [QS_VERDICT_FAIL] = "援派机构或受援县本年度另有结对，或受援机构登记在其他县",
          [QS_VERDICT_NA] = NA_RULE}},
    [QS_C_DISPATCHED_WORKERS] =
        {QS_C_DISPATCHED_WORKERS, "dispatched_workers", "援派持证社工",
         "援派机构每年选派至少2名持有社会工作师（中级）及以上职业资格证书、具有2年以上直接服务"
         "经验的社会工作者",
         "本年在本结对有工作日的援派社工中，证书等级达到设置、取证日期不晚于本年首次派驻日、"
         "派驻时直接服务满设置年限的人数",
         NULL, QS_S_DISPATCHED_MIN_WORKERS, false, COUNT_RULES("人数", NO_WORKDAYS)},
    [QS_C_DISPATCHED_DAYS] =
        {QS_C_DISPATCHED_DAYS, "dispatched_days", "援派工作日",
         "每名援派社工每年在受援地区服务不少于40个工作日",
         "上述持证社工中，本年在本结对的工作日（同日多条记一天）达到每人标准的人数；其他人员"
         "列出但不影响结论",
         "上述持证社工本年在本结对的工作日合计", QS_S_DISPATCHED_MIN_WORKERS, false,
         COUNT_RULES("数值", NO_WORKDAYS)},
    [QS_C_LOCAL_WORKERS] = {QS_C_LOCAL_WORKERS, "local_workers", "本地社工",
                            "受援机构安排至少3名本地社会工作者参与项目",
                            "受援机构的本地社工中本年在本结对有工作日的人数", NULL,
                            QS_S_LOCAL_MIN_WORKERS, false, COUNT_RULES("人数", NO_WORKDAYS)},
    [QS_C_LOCAL_DAYS] = {QS_C_LOCAL_DAYS, "local_days", "本地工作日",
                         "每名本地社会工作者每年参与项目服务不少于120个工作日",
                         "上述本地社工中，本年在本结对的工作日达到每人标准的人数",
                         "上述本地社工本年在本结对的工作日合计", QS_S_LOCAL_MIN_WORKERS, false,
                         COUNT_RULES("数值", NO_WORKDAYS)},
    [QS_C_FUNDS] =
        {QS_C_FUNDS,
         "funds",
         "经费",
         "省内援派机构每家每年提供不少于3万元项目经费",
         "本年到账经费中，来源属于设置所列来源（默认省级财政、福彩公益金）的合计；自筹另列；"
         "支出按类别列出，非允许类别标出",
         NULL,
         QS_S_FUNDS_MIN_FEN,
         true,
         {[QS_VERDICT_PASS] = "计入的到账 ≥ 标准",
          [QS_VERDICT_FAIL] = "年度已结束，计入的到账 < 标准",
          [QS_VERDICT_PENDING] = "年度未结束，截至统计日计入的到账 < 标准",
          [QS_VERDICT_NODATA] = "本年度本结对没有任何经费记录",
          [QS_VERDICT_NA] = "跨省结对（按援派机构所在省推定），或不在帮扶期内"}},
    [QS_C_CULTIVATED] =
        {QS_C_CULTIVATED,
         "cultivated",
         "培育社会组织",
         "帮扶期间至少为每个受援地区培育1家政治可靠、成效突出、管理规范的社会工作服务机构",
         "本县自结对起始年度1月1日至统计截止日（不晚于本年12月31日）培育的社会组织累计数",
         NULL,
         QS_S_CULTIVATED_MIN,
         false,
         {[QS_VERDICT_PASS] = "累计 ≥ 标准",
          [QS_VERDICT_FAIL] = "已到结对末年度且年度已结束，累计 < 标准",
          [QS_VERDICT_PENDING] = "结对末年度之前，或末年度未结束，累计 < 标准",
          [QS_VERDICT_NA] = NA_RULE}},
};

const qs_crit_def *qs_crit_def_of(qs_crit c)
{
    return (unsigned)c < QS_C_COUNT ? &crit_defs[c] : NULL;
}

const char *qs_crit_key(qs_crit c)
{
    return (unsigned)c < QS_C_COUNT ? crit_defs[c].key : "?";
}

const char *qs_crit_label(qs_crit c)
{
    return (unsigned)c < QS_C_COUNT ? crit_defs[c].label : "?";
}

const char *qs_verdict_name(qs_verdict v)
{
    switch (v) {
    case QS_VERDICT_PASS:
        return "pass";
    case QS_VERDICT_FAIL:
        return "fail";
    case QS_VERDICT_NODATA:
        return "no-data";
    case QS_VERDICT_PENDING:
        return "in-progress";
    default:
        return "n/a";
    }
}

const char *qs_verdict_label(qs_verdict v)
{
    switch (v) {
    case QS_VERDICT_PASS:
        return "达标";
    case QS_VERDICT_FAIL:
        return "未达标";
    case QS_VERDICT_NODATA:
        return "无数据";
    case QS_VERDICT_PENDING:
        return "进行中";
    default:
        return "不适用";
    }
}

const char *const qs_report_recipients[2] = {"民政部慈善事业促进和社会工作司",
                                             "国家乡村振兴局社会帮扶司"};

/* GB/T 2260 provincial-level units: the code pair, the short and the full name. */
static const struct {
    char pair[3];
    const char *name, *full;
} provinces[] = {
    {"11", "北京", "北京市"},           {"12", "天津", "天津市"},
    {"13", "河北", "河北省"},           {"14", "山西", "山西省"},
    {"15", "内蒙古", "内蒙古自治区"},   {"21", "辽宁", "辽宁省"},
    {"22", "吉林", "吉林省"},           {"23", "黑龙江", "黑龙江省"},
    {"31", "上海", "上海市"},           {"32", "江苏", "江苏省"},
    {"33", "浙江", "浙江省"},           {"34", "安徽", "安徽省"},
    {"35", "福建", "福建省"},           {"36", "江西", "江西省"},
    {"37", "山东", "山东省"},           {"41", "河南", "河南省"},
    {"42", "湖北", "湖北省"},           {"43", "湖南", "湖南省"},
    {"44", "广东", "广东省"},           {"45", "广西", "广西壮族自治区"},
    {"46", "海南", "海南省"},           {"50", "重庆", "重庆市"},
    {"51", "四川", "四川省"},           {"52", "贵州", "贵州省"},
    {"53", "云南", "云南省"},           {"54", "西藏", "西藏自治区"},
    {"61", "陕西", "陕西省"},           {"62", "甘肃", "甘肃省"},
    {"63", "青海", "青海省"},           {"64", "宁夏", "宁夏回族自治区"},
    {"65", "新疆", "新疆维吾尔自治区"}, {"71", "台湾", "台湾省"},
    {"81", "香港", "香港特别行政区"},   {"82", "澳门", "澳门特别行政区"},
};

static int province_index(const char *code)
{
    if (!code || strlen(code) < 2)
        return -1;
    for (size_t i = 0; i < sizeof provinces / sizeof provinces[0]; i++)
        if (code[0] == provinces[i].pair[0] && code[1] == provinces[i].pair[1])
            return (int)i;
    return -1;
}

const char *qs_province_name(const char *code)
{
    int i = province_index(code);
    return i < 0 ? NULL : provinces[i].name;
}

const char *qs_report_unit(const qs_report *r, char *buf, size_t n)
{
    int i = province_index(r->node);
    if (i >= 0 && qs_code_level(r->node) == QS_LEVEL_PROVINCE)
        snprintf(buf, n, "%s民政厅", provinces[i].full);
    else
        snprintf(buf, n, "数据节点 %s", r->node);
    return buf;
}

/* ---------------------------------------------------------------------------
 * Helpers
 */

static const char *label_of(uint32_t kind, const char *field, int64_t code)
{
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(kind), field);
    const qs_enum_val *v = f && code >= 0 ? qs_enum_by_code(f->en, (uint32_t)code) : NULL;
    return v ? v->label : "?";
}

/* Append "；"-separated text to a fixed buffer (cut at a whole character). */
static void addf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void addf(char *buf, size_t n, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= n)
        return;
    if (len) {
        static const char sep[] = "；";
        if (len + sizeof sep >= n)
            return;
        memcpy(buf + len, sep, sizeof sep);
        len += sizeof sep - 1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, n - len, fmt, ap);
    va_end(ap);
    /* a cut inside a UTF-8 character: drop its bytes */
    size_t end = strlen(buf), i = end;
    while (i > 0 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && (unsigned char)buf[i - 1] >= 0xC0) {
        unsigned char lead = (unsigned char)buf[i - 1];
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (end - (i - 1) < want)
            buf[i - 1] = '\0';
    }
}

static char *ymd(int32_t d, char *buf)
{
    return d > 0 ? qs_date_format(d, buf) : strcpy(buf, "?");
}

/* At least thr: pass, else in progress while the year is open, else fail. */
static qs_verdict at_least(int64_t v, int64_t thr, bool open)
{
    return v >= thr ? QS_VERDICT_PASS : open ? QS_VERDICT_PENDING : QS_VERDICT_FAIL;
}

static void crit_set(qs_criterion *c, int64_t value, int64_t thr, const char *unit, qs_verdict v)
{
    c->value = value;
    c->threshold = thr;
    c->unit = unit;
    c->verdict = v;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The days of the k-th best of the counted workers (k >= 1), 0 if fewer. */
static int64_t kth_days(const qs_report_worker *w, uint32_t n, bool (*in)(const qs_report_worker *),
                        int64_t k)
{
    if (k < 1 || n == 0)
        return 0;
    int64_t *d = calloc(n, sizeof *d);
    uint32_t m = 0;
    if (!d)
        abort();
    for (uint32_t i = 0; i < n; i++)
        if (in(&w[i]))
            d[m++] = w[i].days;
    qsort(d, m, sizeof *d, cmp_desc);
    int64_t v = (uint64_t)k <= m ? d[k - 1] : 0;
    free(d);
    return v;
}

static bool is_credentialed(const qs_report_worker *w)
{
    return w->credentialed;
}

/* ---------------------------------------------------------------------------
 * People
 */

static void judge_dispatched(const qs_report *r, qs_report_pairing *p)
{
    const int64_t *set = r->settings;
    bool total = r->worker_days_rule == QS_DAYS_TOTAL;
    char a[16], b[16];
    p->dispatched_credentialed = p->dispatched_counted = 0;
    p->dispatched_days_total = 0;
    for (uint32_t i = 0; i < p->ndispatched; i++) {
        qs_report_worker *w = &p->dispatched[i];
        w->why[0] = '\0';
        w->cert_ok = w->cert_level >= set[QS_S_DISPATCHED_MIN_CERT];
        w->cert_in_time =
            w->cert_date > 0 ? w->cert_date <= w->first_day : set[QS_S_CERT_DATE_REQUIRED] == 0;
        w->service_years = w->service_since > 0 && qs_date_valid(w->service_since) &&
                                   w->first_day > 0 && qs_date_valid(w->first_day)
                               ? qs_date_years_between(w->service_since, w->first_day)
                               : -1;
        w->years_ok = w->service_years >= 0 && w->service_years >= set[QS_S_DISPATCHED_MIN_YEARS];
        w->credentialed = w->cert_ok && w->cert_in_time && w->years_ok;
        w->days_ok = w->days >= set[QS_S_DISPATCHED_MIN_DAYS];
        w->counted = w->credentialed && (total || w->days_ok);
        w->exam_this_year = w->exam_year == r->year;
        w->certified_this_year = w->cert_date >= r->period_from && w->cert_date <= r->period_to;
        if (!w->cert_ok)
            addf(w->why, sizeof w->why, "证书等级%s，低于%s",
                 w->cert_level >= 0 ? label_of(QS_K_PERSON, "cert_level", w->cert_level) : "未登记",
                 label_of(QS_K_PERSON, "cert_level", set[QS_S_DISPATCHED_MIN_CERT]));
        else if (w->cert_date > 0 && !w->cert_in_time)
            addf(w->why, sizeof w->why, "取证日期%s晚于本年首次派驻日%s", ymd(w->cert_date, a),
                 ymd(w->first_day, b));
        else if (w->cert_date <= 0)
            addf(w->why, sizeof w->why, "%s",
                 w->cert_in_time ? "未登记取证日期，按派驻时已持证计" : "未登记取证日期，不计入");
        if (w->service_years < 0)
            addf(w->why, sizeof w->why, "未登记直接服务起始日期");
        else if (!w->years_ok)
            addf(w->why, sizeof w->why, "本年首次派驻日%s直接服务%d年，不足%" PRId64 "年",
                 ymd(w->first_day, a), w->service_years, set[QS_S_DISPATCHED_MIN_YEARS]);
        if (!total && !w->days_ok)
            addf(w->why, sizeof w->why, "%s工作日%" PRId64 "天，不足%" PRId64 "天",
                 r->year_open ? "截至统计日" : "本年", w->days, set[QS_S_DISPATCHED_MIN_DAYS]);
        if (w->credentialed) {
            p->dispatched_credentialed++;
            p->dispatched_days_total += w->days;
        }
        p->dispatched_counted += w->credentialed && w->days_ok;
    }
    p->dispatched_decisive_days = total ? p->dispatched_days_total
                                        : kth_days(p->dispatched, p->ndispatched, is_credentialed,
                                                   set[QS_S_DISPATCHED_MIN_WORKERS]);
}

static void judge_local(const qs_report *r, qs_report_pairing *p)
{
    const int64_t *set = r->settings;
    bool total = r->worker_days_rule == QS_DAYS_TOTAL;
    p->local_counted = p->local_exam_takers = p->local_certified = 0;
    p->local_days_total = 0;
    for (uint32_t i = 0; i < p->nlocal; i++) {
        qs_report_worker *w = &p->local[i];
        w->why[0] = '\0';
        w->cert_ok = w->cert_in_time = w->years_ok = w->credentialed = true;
        w->service_years = w->service_since > 0 && w->first_day > 0 &&
                                   qs_date_valid(w->service_since) && qs_date_valid(w->first_day)
                               ? qs_date_years_between(w->service_since, w->first_day)
                               : -1;
        w->days_ok = w->days >= set[QS_S_LOCAL_MIN_DAYS];
        w->counted = total || w->days_ok;
        w->exam_this_year = w->exam_year == r->year;
        w->certified_this_year = w->cert_date >= r->period_from && w->cert_date <= r->period_to;
        if (!total && !w->days_ok)
            addf(w->why, sizeof w->why, "%s工作日%" PRId64 "天，不足%" PRId64 "天",
                 r->year_open ? "截至统计日" : "本年", w->days, set[QS_S_LOCAL_MIN_DAYS]);
        p->local_counted += w->days_ok;
        p->local_days_total += w->days;
        p->local_exam_takers += w->exam_this_year;
        p->local_certified += w->certified_this_year;
    }
    p->local_decisive_days =
        total ? p->local_days_total
              : kth_days(p->local, p->nlocal, is_credentialed, set[QS_S_LOCAL_MIN_WORKERS]);
}

/* ---------------------------------------------------------------------------
 * A pairing
 */

static void judge_money(const qs_report *r, qs_report_pairing *p)
{
    const int64_t *set = r->settings;
    const int64_t self = QS_SOURCE_SELF;
    p->funds_received = p->funds_counted = p->funds_self = 0;
    p->funds_spent = p->spent_uncategorised;
    p->spent_flagged = p->spent_uncategorised;
    p->spent_flagged_count = p->spent_uncategorised_count;
    for (int s = 0; s < QS_REPORT_ENUM_MAX; s++) {
        p->funds_received += p->received_by_source[s];
        if (set[QS_S_FUNDS_SOURCES] & BIT(s))
            p->funds_counted += p->received_by_source[s];
        if (s == self)
            p->funds_self += p->received_by_source[s];
        p->funds_spent += p->spent_by_category[s];
        if (!(set[QS_S_FUNDS_ALLOWED_CATEGORIES] & BIT(s))) {
            p->spent_flagged += p->spent_by_category[s];
            p->spent_flagged_count += p->spent_count_by_category[s];
        }
    }
}

/* "省级财政、福彩公益金" for the counted sources. */
static void sources_text(const qs_report *r, char *buf, size_t n)
{
    buf[0] = '\0';
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(QS_K_EXPENSE), "source");
    size_t len = 0;
    for (uint32_t i = 0; f && i < f->en->n; i++) {
        if (!(r->settings[QS_S_FUNDS_SOURCES] & BIT(f->en->vals[i].code)))
            continue;
        int w = snprintf(buf + len, n - len, "%s%s", len ? "、" : "", f->en->vals[i].label);
        if (w < 0 || (size_t)w >= n - len)
            break;
        len += (size_t)w;
    }
    if (!len)
        snprintf(buf, n, "（无）");
}

static void yuan(int64_t fen, char *buf, size_t n)
{
    snprintf(buf, n, "%s%" PRId64 ".%02" PRId64, fen < 0 ? "-" : "", (fen < 0 ? -fen : fen) / 100,
             (fen < 0 ? -fen : fen) % 100);
}

static void judge_pairing(const qs_report *r, qs_report_pairing *p, int64_t stale_ref)
{
    const int64_t *set = r->settings;
    const bool open = r->year_open, total = r->worker_days_rule == QS_DAYS_TOTAL;
    const int64_t cross = QS_PAIRING_TYPE_CROSS_PROVINCE, inprov = QS_PAIRING_TYPE_IN_PROVINCE;
    char a[16], b[64], c[64];
    char upto[64];
    if (open)
        snprintf(upto, sizeof upto, "年度未结束，截至%s", ymd(r->period_to, a));
    else
        upto[0] = '\0';

    memset(p->crit, 0, sizeof p->crit);
    for (int k = 0; k < QS_C_COUNT; k++)
        p->crit[k].unit = "";
    p->active = r->year >= p->start_year && r->year <= p->end_year;

    /* type from the aiding agency's province */
    const char *prov = qs_province_name(p->county);
    p->type_from_province = prov && p->aiding_province[0];
    p->type_derived =
        p->type_from_province ? (int)(strstr(p->aiding_province, prov) ? inprov : cross) : p->type;
    p->type_mismatch = p->type_from_province && (p->type == cross || p->type == inprov) &&
                       p->type != p->type_derived;
    p->receiving_elsewhere = p->receiving_county[0] && strcmp(p->receiving_county, p->county) != 0;
    p->provisional = p->last_ok_ms >= 0 && (p->last_ok_ms == 0 || p->last_ok_ms < stale_ref);

    judge_dispatched(r, p);
    judge_local(r, p);
    judge_money(r, p);
    _Static_assert(QS_TRAINING_TYPE_GUIDANCE < QS_REPORT_ENUM_MAX, "a code indexes the counts");
    p->trainings = p->sessions_by_type[QS_TRAINING_TYPE_TRAINING];
    p->supervisions = p->sessions_by_type[QS_TRAINING_TYPE_SUPERVISION];
    p->guidance = p->sessions_by_type[QS_TRAINING_TYPE_GUIDANCE];

    qs_criterion *cr = p->crit;
    if (!p->active) {
        for (int k = 0; k < QS_C_COUNT; k++) {
            cr[k].verdict = QS_VERDICT_NA;
            snprintf(cr[k].note, sizeof cr[k].note, "结对起止年度%d–%d，本年度不在其内",
                     p->start_year, p->end_year);
        }
        p->overall = QS_VERDICT_NA;
        return;
    }

    /* coverage */
    crit_set(&cr[QS_C_COVERAGE], p->county_known && p->has_receiving, 1, "",
             p->county_known && p->has_receiving ? QS_VERDICT_PASS : QS_VERDICT_FAIL);
    if (!p->county_known)
        addf(cr[QS_C_COVERAGE].note, sizeof cr->note, "受援县%s不在方案名单（无县记录）",
             p->county);
    if (!p->has_receiving)
        addf(cr[QS_C_COVERAGE].note, sizeof cr->note, "受援机构不存在");

    /* structure */
    qs_criterion *st = &cr[QS_C_STRUCTURE];
    bool bad =
        p->other_pairings_aiding > 0 || p->other_pairings_county > 0 || p->receiving_elsewhere;
    crit_set(st, !bad, 1, "", bad ? QS_VERDICT_FAIL : QS_VERDICT_PASS);
    if (p->other_pairings_aiding > 0)
        addf(st->note, sizeof st->note, "援派机构本年度另有%" PRId64 "个结对（应一对一）",
             p->other_pairings_aiding);
    if (p->other_pairings_county > 0)
        addf(st->note, sizeof st->note, "本县本年度另有%" PRId64 "个结对（应一对一）",
             p->other_pairings_county);
    if (p->receiving_elsewhere)
        addf(st->note, sizeof st->note, "受援机构登记在%s，不在本县", p->receiving_county);
    if (p->has_receiving && !p->receiving_county[0])
        addf(st->note, sizeof st->note, "受援机构未登记所在县（提示）");
    if (p->type_mismatch)
        addf(st->note, sizeof st->note, "登记为%s，援派机构所在省为%s，按%s计（提示）",
             label_of(QS_K_PAIRING, "type", p->type), p->aiding_province,
             label_of(QS_K_PAIRING, "type", p->type_derived));
    if (p->shared_person_days > 0)
        addf(st->note, sizeof st->note, "%" PRId64 "个人日同时记在其他结对（提示）",
             p->shared_person_days);

    /* people */
    qs_criterion *dw = &cr[QS_C_DISPATCHED_WORKERS], *dd = &cr[QS_C_DISPATCHED_DAYS];
    qs_criterion *lw = &cr[QS_C_LOCAL_WORKERS], *ld = &cr[QS_C_LOCAL_DAYS];
    int64_t dmin = set[QS_S_DISPATCHED_MIN_WORKERS], lmin = set[QS_S_LOCAL_MIN_WORKERS];
    crit_set(dw, p->dispatched_credentialed, dmin, "人",
             at_least(p->dispatched_credentialed, dmin, open));
    if (total)
        crit_set(dd, p->dispatched_days_total, set[QS_S_DISPATCHED_MIN_DAYS], "天",
                 at_least(p->dispatched_days_total, set[QS_S_DISPATCHED_MIN_DAYS], open));
    else
        crit_set(dd, p->dispatched_counted, dmin, "人",
                 at_least(p->dispatched_counted, dmin, open));
    crit_set(lw, p->nlocal, lmin, "人", at_least(p->nlocal, lmin, open));
    if (total)
        crit_set(ld, p->local_days_total, set[QS_S_LOCAL_MIN_DAYS], "天",
                 at_least(p->local_days_total, set[QS_S_LOCAL_MIN_DAYS], open));
    else
        crit_set(ld, p->local_counted, lmin, "人", at_least(p->local_counted, lmin, open));
    if (p->ndispatched > p->dispatched_credentialed)
        addf(dw->note, sizeof dw->note, "另有%" PRIu32 "名援派人员不符合资格条件，列出不计",
             p->ndispatched - p->dispatched_credentialed);
    if (!total && p->dispatched_credentialed > p->dispatched_counted)
        addf(dd->note, sizeof dd->note, "%" PRIu32 "名持证社工工作日不足%" PRId64 "天，列出不计",
             p->dispatched_credentialed - p->dispatched_counted, set[QS_S_DISPATCHED_MIN_DAYS]);
    if (!total && p->nlocal > p->local_counted)
        addf(ld->note, sizeof ld->note, "%" PRIu32 "名本地社工工作日不足%" PRId64 "天，列出不计",
             p->nlocal - p->local_counted, set[QS_S_LOCAL_MIN_DAYS]);
    if (!p->any_day)
        for (int k = QS_C_DISPATCHED_WORKERS; k <= QS_C_LOCAL_DAYS; k++) {
            cr[k].verdict = QS_VERDICT_NODATA;
            cr[k].note[0] = '\0';
            addf(cr[k].note, sizeof cr[k].note, "本年度本结对没有工作日记录");
        }

    /* funds */
    qs_criterion *fu = &cr[QS_C_FUNDS];
    crit_set(fu, p->funds_counted, set[QS_S_FUNDS_MIN_FEN], "元", QS_VERDICT_NA);
    if (p->type_derived != inprov) {
        addf(fu->note, sizeof fu->note, "跨省结对，经费标准只适用于省内援派机构");
    } else if (p->expense_records == 0) {
        fu->verdict = QS_VERDICT_NODATA;
        addf(fu->note, sizeof fu->note, "本年度没有经费记录");
    } else {
        fu->verdict = at_least(p->funds_counted, set[QS_S_FUNDS_MIN_FEN], open);
        sources_text(r, b, sizeof b);
        yuan(p->funds_self, c, sizeof c);
        addf(fu->note, sizeof fu->note, "计入来源：%s", b);
        if (p->funds_self)
            addf(fu->note, sizeof fu->note, "自筹%s元另列", c);
    }
    if (p->spent_flagged_count)
        addf(fu->note, sizeof fu->note, "%" PRId64 "笔支出不在允许类别（标出）",
             p->spent_flagged_count);

    /* cultivated, over the pairing's period */
    qs_criterion *cu = &cr[QS_C_CULTIVATED];
    int64_t cmin = set[QS_S_CULTIVATED_MIN];
    if (p->cultivated >= cmin) {
        crit_set(cu, p->cultivated, cmin, "家", QS_VERDICT_PASS);
    } else if (r->year < p->end_year) {
        crit_set(cu, p->cultivated, cmin, "家", QS_VERDICT_PENDING);
        cu->period_pending = true;
        addf(cu->note, sizeof cu->note, "帮扶期至%d年，期末年度前为进行中", p->end_year);
    } else {
        crit_set(cu, p->cultivated, cmin, "家", open ? QS_VERDICT_PENDING : QS_VERDICT_FAIL);
        if (!open)
            addf(cu->note, sizeof cu->note, "帮扶期末年度%d年已结束", p->end_year);
    }

    /* so far */
    for (int k = 0; k < QS_C_COUNT; k++)
        if (cr[k].verdict == QS_VERDICT_PENDING && open && !cr[k].period_pending)
            addf(cr[k].note, sizeof cr[k].note, "%s", upto);

    bool fail = false, nodata = false, pending = false;
    for (int k = 0; k < QS_C_COUNT; k++) {
        fail |= cr[k].verdict == QS_VERDICT_FAIL;
        nodata |= cr[k].verdict == QS_VERDICT_NODATA;
        pending |= cr[k].verdict == QS_VERDICT_PENDING && !cr[k].period_pending;
    }
    p->overall = fail      ? QS_VERDICT_FAIL
                 : nodata  ? QS_VERDICT_NODATA
                 : pending ? QS_VERDICT_PENDING
                           : QS_VERDICT_PASS;
}

/* ---------------------------------------------------------------------------
 * The province
 */

void qs_report_judge(qs_report *r)
{
    const int64_t *set = r->settings;
    const int64_t cross = QS_PAIRING_TYPE_CROSS_PROVINCE, inprov = QS_PAIRING_TYPE_IN_PROVINCE;
    r->year_open = r->as_of < r->year * 10000 + 1231;
    r->worker_days_rule =
        set[QS_S_WORKER_DAYS_RULE] == QS_DAYS_TOTAL ? QS_DAYS_TOTAL : QS_DAYS_PER_PERSON;
    r->stale_limit_s = set[QS_S_STALE_LIMIT_S];
    /* staleness: at the end of the report date, or now if earlier */
    int64_t stale_ref = (int64_t)(qs_date_to_days(r->as_of) + 1) * 86400000;
    if (stale_ref > r->generated_ms)
        stale_ref = r->generated_ms;
    stale_ref -= set[QS_S_STALE_LIMIT_S] * 1000;

    memset(r->verdicts, 0, sizeof r->verdicts);
    memset(r->overall, 0, sizeof r->overall);
    r->counties_covered = r->split_cross = r->split_in = r->split_unknown = 0;
    r->active = r->provisional = 0;
    r->dispatched_credentialed = r->dispatched_counted = r->dispatched_days = 0;
    r->local_workers = r->local_counted = r->local_days = r->local_exam_takers = 0;
    r->funds_received = r->funds_counted = r->funds_self = r->funds_spent = 0;
    r->spent_flagged = r->cultivated = r->stations = r->services = r->service_minutes = 0;
    r->people_served = r->trainings = r->supervisions = r->guidance = 0;
    r->training_minutes = r->services_without_workday = r->duplicate_person_days = 0;
    r->workdays_outside_years = r->shared_person_days = 0;

    for (uint32_t i = 0; i < r->npairings; i++) {
        qs_report_pairing *p = &r->pairings[i];
        judge_pairing(r, p, stale_ref);
        for (int k = 0; k < QS_C_COUNT; k++)
            r->verdicts[k][p->crit[k].verdict]++;
        r->overall[p->overall]++;
        r->provisional += p->provisional;
        if (p->active) {
            r->active++;
            if (p->type_derived == cross)
                r->split_cross++;
            else if (p->type_derived == inprov)
                r->split_in++;
            else
                r->split_unknown++;
        }
        r->dispatched_credentialed += p->dispatched_credentialed;
        r->dispatched_counted += p->dispatched_counted;
        r->dispatched_days += p->dispatched_days_total;
        r->local_workers += p->nlocal;
        r->local_counted += p->local_counted;
        r->local_days += p->local_days_total;
        r->local_exam_takers += p->local_exam_takers;
        r->funds_received += p->funds_received;
        r->funds_counted += p->funds_counted;
        r->funds_self += p->funds_self;
        r->funds_spent += p->funds_spent;
        r->spent_flagged += p->spent_flagged;
        r->cultivated += p->cultivated;
        r->stations += p->stations;
        r->services += p->services;
        r->service_minutes += p->service_minutes;
        r->people_served += p->people_served;
        r->trainings += p->trainings;
        r->supervisions += p->supervisions;
        r->guidance += p->guidance;
        r->training_minutes += p->training_minutes;
        r->services_without_workday += p->services_without_workday;
        r->duplicate_person_days += p->duplicate_person_days;
        r->workdays_outside_years += p->workdays_outside_years;
        r->shared_person_days += p->shared_person_days;
    }
    r->counties_configured = r->ncounties;
    for (uint32_t c = 0; c < r->ncounties; c++) {
        qs_report_county *cy = &r->counties[c];
        cy->active_pairings = 0;
        cy->covered = false;
        for (uint32_t i = 0; i < r->npairings; i++) {
            const qs_report_pairing *p = &r->pairings[i];
            if (!p->active || strcmp(p->county, cy->code) != 0)
                continue;
            cy->active_pairings++;
            cy->covered |= p->crit[QS_C_COVERAGE].verdict == QS_VERDICT_PASS;
        }
        r->counties_covered += cy->covered;
    }
    if (r->filter[0])
        r->split_verdict = QS_VERDICT_NA;
    else
        r->split_verdict = r->split_cross == set[QS_S_PLAN_CROSS_PROVINCE] &&
                                   r->split_in == set[QS_S_PLAN_IN_PROVINCE] &&
                                   r->split_unknown == 0
                               ? QS_VERDICT_PASS
                               : QS_VERDICT_FAIL;
}

/* ---------------------------------------------------------------------------
 * 总结与评估, the automatic part
 */

size_t qs_report_assess(const qs_report *r, char (*lines)[QS_ASSESS_LINE], size_t max)
{
    size_t n = 0;
    char a[64], b[64];
#define LINE(...)                                                                                  \
    do {                                                                                           \
        if (n < max)                                                                               \
            snprintf(lines[n++], QS_ASSESS_LINE, __VA_ARGS__);                                     \
    } while (0)
    if (r->year_open)
        LINE(
            "报告期为%d年1月1日至12月31日。本报告统计截至%s，年度未结束：各项年度数和累计数均为截至"
            "该日的数，尚未达到标准的标为“进行中”，不作“未达标”判定。",
            r->year, ymd(r->period_to, a));
    else
        LINE("报告期为%d年1月1日至12月31日，报告日期%s；%d年12月31日以后的记录不计入本报告。",
             r->year, ymd(r->as_of, a), r->year);
    if (r->counties_configured) {
        char *ln = n < max ? lines[n] : NULL;
        LINE("方案名单中的%" PRIu32 "个受援县（市）中，%" PRIu32 "个本年度有在帮扶期内的结对。",
             r->counties_configured, r->counties_covered);
        for (uint32_t c = 0, k = 0; ln && c < r->ncounties; c++)
            if (!r->counties[c].covered)
                addf(ln, QS_ASSESS_LINE, "%s%s（%s）", k++ ? "" : "未覆盖：",
                     r->counties[c].name[0] ? r->counties[c].name : r->counties[c].code,
                     r->counties[c].code);
    }
    if (!r->filter[0])
        LINE("本年度在帮扶期内的结对%" PRIu32 "个：跨省%" PRIu32 "个、省内%" PRIu32
             "个（按援派机构所在省推定）；方案为跨省%" PRId64 "个、省内%" PRId64 "个，%s。",
             r->active, r->split_cross, r->split_in, r->settings[QS_S_PLAN_CROSS_PROVINCE],
             r->settings[QS_S_PLAN_IN_PROVINCE],
             r->split_verdict == QS_VERDICT_PASS ? "与方案一致" : "与方案不一致");
    LINE("综合结论：达标%" PRIu32 "个，未达标%" PRIu32 "个，进行中%" PRIu32 "个，无数据%" PRIu32
         "个%s。",
         r->overall[QS_VERDICT_PASS], r->overall[QS_VERDICT_FAIL], r->overall[QS_VERDICT_PENDING],
         r->overall[QS_VERDICT_NODATA], r->overall[QS_VERDICT_NA] ? "，其余不在帮扶期内" : "");
    for (uint32_t i = 0; i < r->npairings; i++) {
        const qs_report_pairing *p = &r->pairings[i];
        if (p->overall != QS_VERDICT_FAIL || n >= max)
            continue;
        char *ln = lines[n];
        LINE("%s（%s）未达标：", p->county_name[0] ? p->county_name : p->county, p->county);
        bool first = true;
        for (int k = 0; k < QS_C_COUNT; k++) {
            const qs_criterion *c = &p->crit[k];
            if (c->verdict != QS_VERDICT_FAIL)
                continue;
            size_t len = strlen(ln);
            if (crit_defs[k].money) {
                yuan(c->value, a, sizeof a);
                yuan(c->threshold, b, sizeof b);
                snprintf(ln + len, QS_ASSESS_LINE - len, "%s%s %s元/标准%s元%s%s",
                         first ? "" : "；", crit_defs[k].label, a, b, c->note[0] ? "，" : "",
                         c->note);
            } else if (k <= QS_C_STRUCTURE) {
                snprintf(ln + len, QS_ASSESS_LINE - len, "%s%s（%s）", first ? "" : "；",
                         crit_defs[k].label, c->note);
            } else {
                snprintf(ln + len, QS_ASSESS_LINE - len, "%s%s %" PRId64 "%s/标准%" PRId64 "%s%s%s",
                         first ? "" : "；", crit_defs[k].label, c->value, c->unit, c->threshold,
                         c->unit, c->note[0] ? "，" : "", c->note);
            }
            first = false;
        }
        size_t len = strlen(ln);
        snprintf(ln + len, QS_ASSESS_LINE - len, "。");
    }
    LINE("援派持证社工%" PRId64 "人（其中工作日达标%" PRId64 "人），本地社工%" PRId64
         "人（工作日达标%" PRId64 "人，本年参加社会工作者职业水平考试%" PRId64
         "人）；开展培训%" PRId64 "次、督导%" PRId64 "次、项目指导%" PRId64 "次；服务记录%" PRId64
         "条，服务对象%" PRId64 "人（口径见服务表）。",
         r->dispatched_credentialed, r->dispatched_counted, r->local_workers, r->local_counted,
         r->local_exam_takers, r->trainings, r->supervisions, r->guidance, r->services,
         r->people_served);
    if (r->provisional)
        LINE("%" PRIu32 "个县最近一次成功同步早于时限，其数字为临时数，以同步后重出的报告为准。",
             r->provisional);
    if (r->duplicate_person_days || r->shared_person_days || r->services_without_workday)
        LINE("数据质量：重复登记的工作日%" PRId64 "条（各计一天），同时记在两个结对的人日%" PRId64
             "个，无当日工作日的服务记录%" PRId64 "条。",
             r->duplicate_person_days, r->shared_person_days, r->services_without_workday);
#undef LINE
    return n;
}
