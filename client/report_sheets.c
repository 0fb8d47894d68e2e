/*
 * report_sheets.c — the annual report as sheets of typed cells (one per
 * section), and the two plain-text writers: an aligned table for the
 * terminal and CSV for Excel (UTF-8, optional BOM, Chinese headers).
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/out.h"
#include "client/report_out.h"
#include "proto/date.h"
#include "proto/schema.h"
#include "proto/scope.h"
#include "proto/xmalloc.h"

static rcell *row_add(rsheet *s)
{
    if (s->nrows == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->cells = qs_xreallocarray(s->cells, s->cap * s->ncols, sizeof *s->cells);
    }
    rcell *r = &s->cells[s->nrows++ * s->ncols];
    memset(r, 0, s->ncols * sizeof *r);
    return r;
}

static rcell T(const char *s)
{
    return (rcell){.t = RC_TEXT, .s = qs_xstrdup(s ? s : "")};
}
static rcell I(int64_t i)
{
    return (rcell){.t = RC_INT, .i = i};
}
static rcell M(int64_t fen)
{
    return (rcell){.t = RC_MONEY, .i = fen};
}
static rcell P(int64_t part, int64_t whole)
{
    return (rcell){.t = RC_PCT, .d = whole > 0 ? (double)part / (double)whole : 0};
}
static rcell V(qs_verdict v)
{
    return (rcell){.t = RC_VERDICT, .v = v};
}
static rcell D(int32_t ymd)
{
    char buf[16];
    return T(ymd > 0 ? qs_date_format(ymd, buf) : "");
}

static rsheet *sheet(rbook *b, const char *key, const char *name, const char *const *head,
                     size_t ncols)
{
    rsheet *s = &b->sheets[b->n++];
    memset(s, 0, sizeof *s);
    s->key = key;
    s->name = name;
    s->head = head;
    s->ncols = ncols;
    return s;
}

#define NCOL(a) (sizeof(a) / sizeof((a)[0]))

static const char *enum_label(uint32_t kind, const char *field, uint32_t code)
{
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(kind), field);
    const qs_enum_val *v = f ? qs_enum_by_code(f->en, code) : NULL;
    return v ? v->label : "?";
}

static void ms_text(int64_t ms, char *buf, size_t n)
{
    if (ms <= 0) {
        snprintf(buf, n, "%s", ms < 0 ? "本节点" : "从未同步");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M UTC", &tm);
}

/* The summary's header: the fixed columns, one per criterion (labels from
 * the criteria table, judge.h), the overall verdict and the data state. */
enum { SUM_FIXED = 7 };
static const char *H_SUMMARY[SUM_FIXED + QS_C_COUNT + 2] = {
    "县代码", "县（市）", "所属州", "援派机构", "援派机构所在省", "受援机构", "结对类型"};
static const char *const H_DETAIL[] = {"县代码", "县（市）", "指标", "数值", "标准",
                                       "单位",   "口径",     "结论", "说明"};
static const char *const H_CRITERIA[] = {"指标",           "键",     "方案要求", "计数口径",
                                         "标准（本报告）", "设置项", "达标",     "未达标",
                                         "进行中",         "无数据", "不适用"};
static const char *const H_COVERAGE[] = {"县代码",   "县（市）", "所属州", "在帮扶期内的结对",
                                         "援派机构", "结论",     "说明"};
static const char *const H_STRUCTURE[] = {"县代码",
                                          "县（市）",
                                          "援派机构",
                                          "援派机构所在省",
                                          "登记类型",
                                          "按所在省推定类型",
                                          "类型一致",
                                          "援派机构本年其他结对",
                                          "本县本年其他结对",
                                          "受援机构所在县",
                                          "同时记在其他结对的人日",
                                          "结论",
                                          "说明"};
static const char *const H_WORKER[] = {"县代码",   "县（市）",     "姓名",         "证书等级",
                                       "取证日期", "本年首次派驻", "直接服务起始", "派驻时服务年限",
                                       "工作日",   "资格条件",     "计入",         "说明"};
static const char *const H_LOCAL[] = {"县代码",   "县（市）", "姓名", "证书等级",
                                      "取证日期", "工作日",   "计入", "本年参加职业水平考试",
                                      "本年取证", "说明"};
static const char *const H_FUNDS[] = {"县代码",
                                      "县（市）",
                                      "结对类型（推定）",
                                      "到账合计（元）",
                                      "到账：省级财政",
                                      "到账：福彩公益金",
                                      "到账：慈善组织",
                                      "到账：自筹（另列）",
                                      "到账：其他",
                                      "计入标准的到账（元）",
                                      "支出合计（元）",
                                      "支出：活动经费",
                                      "支出：交通补贴",
                                      "支出：伙食补助",
                                      "支出：工资津贴",
                                      "支出：保险",
                                      "支出：其他",
                                      "非允许类别支出（元）",
                                      "非允许类别笔数",
                                      "标准（元）",
                                      "结论"};
static const char *const H_OUTPUTS[] = {
    "县代码",   "县（市）",     "培育社会组织（结对起至统计截止）",
    "制度文件", "服务品牌项目", "社工站",
    "覆盖乡镇", "乡镇总数",     "乡镇覆盖率"};
static const char *const H_SERVICES[] = {"县代码",           "县（市）",   "服务次数",
                                         "服务时长（分钟）", "服务人数",   "人数口径",
                                         "社会救助对象占比", "老年人占比", "未成年人占比"};
static const char *const H_BREAKDOWN[] = {"县代码", "县（市）", "维度",
                                          "类别",   "服务次数", "服务时长（分钟）"};
static const char *const H_TRAINING[] = {
    "县代码",          "县（市）",     "培训次数",         "督导次数",
    "项目指导次数",    "时长（小时）", "本地社工参与人次", "本地社工本年参加职业水平考试",
    "本地社工本年取证"};
static const char *const H_QUALITY[] = {"县代码",
                                        "县（市）",
                                        "无当日工作日的服务记录",
                                        "重复登记的工作日",
                                        "结对年度外的工作日",
                                        "同时记在其他结对的人日",
                                        "结对类型与援派机构所在省不符",
                                        "最近成功同步",
                                        "数据状态"};
static const char *const H_ASSESS[] = {"部分", "内容"};
static const char *const H_SETTINGS[] = {"设置项", "说明", "取值"};

static const char *basis_label(const char *b)
{
    if (strcmp(b, "pseudonyms") == 0)
        return "按服务对象标识去重";
    if (strcmp(b, "head counts") == 0)
        return "按登记人数";
    if (strcmp(b, "mixed") == 0)
        return "标识去重＋登记人数";
    return "无服务记录";
}

static const char *yes(bool b)
{
    return b ? "是" : "否";
}

static const char *cert_text(int level)
{
    return level >= 0 ? enum_label(QS_K_PERSON, "cert_level", (uint32_t)level) : "";
}

/* "12达标/1未达标/2进行中" for a row of verdict counts (zeros left out). */
static rcell verdict_counts(const uint32_t *n)
{
    static const qs_verdict order[] = {QS_VERDICT_PASS, QS_VERDICT_FAIL, QS_VERDICT_PENDING,
                                       QS_VERDICT_NODATA, QS_VERDICT_NA};
    char buf[160] = "";
    size_t len = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!n[order[i]] && order[i] != QS_VERDICT_PASS)
            continue;
        int w = snprintf(buf + len, sizeof buf - len, "%s%u%s", len ? "/" : "", n[order[i]],
                         qs_verdict_label(order[i]));
        if (w > 0 && (size_t)w < sizeof buf - len)
            len += (size_t)w;
    }
    return T(buf);
}

/* A whole paragraph per row: the text split at line ends, blank lines dropped. */
static void text_rows(rsheet *s, const char *part, const char *text)
{
    const char *p = text;
    while (p && *p) {
        size_t n = strcspn(p, "\r\n");
        if (n) {
            char *line = qs_xmalloc(n + 1);
            memcpy(line, p, n);
            line[n] = '\0';
            rcell *c = row_add(s);
            c[0] = T(part), c[1] = (rcell){.t = RC_TEXT, .s = line};
        }
        p += n;
        p += strspn(p, "\r\n");
    }
}

static void header_lines(const qs_report *r, rbook *b)
{
    char asof[16], unit[128];
    const char *rule = r->worker_days_rule == QS_DAYS_TOTAL ? "合计" : "每人";
    b->nlines = 0;
    if (r->year_open)
        snprintf(b->lines[b->nlines++], sizeof b->lines[0],
                 "【年度未结束】报告期：%d年1月1日至12月31日；统计截至 %s，各项为截至该日的数，"
                 "不足标准的为“进行中”",
                 r->year, qs_date_format(r->period_to, asof));
    else
        snprintf(b->lines[b->nlines++], sizeof b->lines[0],
                 "报告期：%d年1月1日至12月31日；报告日期 %s", r->year,
                 qs_date_format(r->as_of, asof));
    snprintf(b->lines[b->nlines++], sizeof b->lines[0], "报送：%s、%s；报送单位：%s",
             qs_report_recipients[0], qs_report_recipients[1],
             qs_report_unit(r, unit, sizeof unit));
    snprintf(b->lines[b->nlines++], sizeof b->lines[0],
             "工作日口径：%s；%u 个结对（在帮扶期内 %u 个）：达标 %u，未达标 %u，进行中 %u，"
             "无数据 %u；数据为临时 %u 个",
             rule, r->npairings, r->active, r->overall[QS_VERDICT_PASS],
             r->overall[QS_VERDICT_FAIL], r->overall[QS_VERDICT_PENDING],
             r->overall[QS_VERDICT_NODATA], r->provisional);
    size_t len = 0;
    b->subtitle[0] = '\0';
    for (size_t i = 0; i < b->nlines; i++) {
        int w = snprintf(b->subtitle + len, sizeof b->subtitle - len, "%s%s", i ? "　" : "",
                         b->lines[i]);
        if (w > 0 && (size_t)w < sizeof b->subtitle - len)
            len += (size_t)w;
    }
}

void rbook_build(const qs_report *r, rbook *b)
{
    char asof[16], buf[256], scope[64];
    memset(b, 0, sizeof *b);
    for (int k = 0; k < QS_C_COUNT; k++)
        H_SUMMARY[SUM_FIXED + k] = qs_crit_label((qs_crit)k);
    H_SUMMARY[SUM_FIXED + QS_C_COUNT] = "综合结论";
    H_SUMMARY[SUM_FIXED + QS_C_COUNT + 1] = "数据状态";
    snprintf(b->title, sizeof b->title, "%d年度“牵手计划”社会工作服务实施情况报告", r->year);
    header_lines(r, b);
    if (r->year_open)
        snprintf(scope, sizeof scope, "截至%s", qs_date_format(r->period_to, asof));
    else
        snprintf(scope, sizeof scope, "全年");

    rsheet *sum = sheet(b, "summary", "总览", H_SUMMARY, NCOL(H_SUMMARY));
    rsheet *ass = sheet(b, "assessment", "总结与评估", H_ASSESS, NCOL(H_ASSESS));
    rsheet *det = sheet(b, "criteria", "指标明细", H_DETAIL, NCOL(H_DETAIL));
    rsheet *cov = sheet(b, "coverage", "覆盖", H_COVERAGE, NCOL(H_COVERAGE));
    rsheet *stc = sheet(b, "structure", "结对结构", H_STRUCTURE, NCOL(H_STRUCTURE));
    rsheet *dis = sheet(b, "dispatched", "援派社工", H_WORKER, NCOL(H_WORKER));
    rsheet *loc = sheet(b, "local", "本地社工", H_LOCAL, NCOL(H_LOCAL));
    rsheet *fun = sheet(b, "funds", "经费", H_FUNDS, NCOL(H_FUNDS));
    rsheet *outp = sheet(b, "outputs", "成果与站点", H_OUTPUTS, NCOL(H_OUTPUTS));
    rsheet *svc = sheet(b, "services", "服务", H_SERVICES, NCOL(H_SERVICES));
    rsheet *brk = sheet(b, "breakdown", "服务分类", H_BREAKDOWN, NCOL(H_BREAKDOWN));
    rsheet *trn = sheet(b, "training", "培训督导", H_TRAINING, NCOL(H_TRAINING));
    rsheet *dq = sheet(b, "quality", "数据质量", H_QUALITY, NCOL(H_QUALITY));
    rsheet *crt = sheet(b, "rules", "指标说明", H_CRITERIA, NCOL(H_CRITERIA));
    rsheet *set = sheet(b, "settings", "标准设置", H_SETTINGS, NCOL(H_SETTINGS));

    for (uint32_t i = 0; i < r->npairings; i++) {
        const qs_report_pairing *p = &r->pairings[i];
        const char *type = enum_label(QS_K_PAIRING, "type", (uint32_t)p->type);
        const char *derived = enum_label(QS_K_PAIRING, "type", (uint32_t)p->type_derived);
        rcell *c = row_add(sum);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(p->prefecture);
        c[3] = T(p->aiding), c[4] = T(p->aiding_province), c[5] = T(p->receiving);
        c[6] = T(derived);
        for (int k = 0; k < QS_C_COUNT; k++)
            c[SUM_FIXED + k] = V(p->crit[k].verdict);
        c[SUM_FIXED + QS_C_COUNT] = V(p->overall);
        c[SUM_FIXED + QS_C_COUNT + 1] = T(p->provisional ? "临时（同步过期）" : "正式");

        for (int k = 0; k < QS_C_COUNT; k++) {
            const qs_criterion *x = &p->crit[k];
            c = row_add(det);
            c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(qs_crit_label(k));
            bool money = qs_crit_def_of(k)->money;
            c[3] = money ? M(x->value) : I(x->value);
            c[4] = money ? M(x->threshold) : I(x->threshold);
            c[5] = T(x->unit), c[6] = T(scope), c[7] = V(x->verdict), c[8] = T(x->note);
        }
        for (uint32_t w = 0; w < p->ndispatched; w++) {
            const qs_report_worker *x = &p->dispatched[w];
            c = row_add(dis);
            c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(x->name);
            c[3] = T(cert_text(x->cert_level)), c[4] = D(x->cert_date), c[5] = D(x->first_day);
            c[6] = D(x->service_since), c[7] = I(x->service_years), c[8] = I(x->days);
            c[9] = T(yes(x->credentialed)), c[10] = T(yes(x->counted)), c[11] = T(x->why);
        }
        for (uint32_t w = 0; w < p->nlocal; w++) {
            const qs_report_worker *x = &p->local[w];
            c = row_add(loc);
            c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(x->name);
            c[3] = T(cert_text(x->cert_level)), c[4] = D(x->cert_date), c[5] = I(x->days);
            c[6] = T(yes(x->counted)), c[7] = T(yes(x->exam_this_year));
            c[8] = T(yes(x->certified_this_year)), c[9] = T(x->why);
        }
        c = row_add(fun);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(derived);
        c[3] = M(p->funds_received);
        for (int k = 1; k <= 5; k++) /* expense_source codes 1..5 */
            c[3 + k] = M(p->received_by_source[k]);
        c[9] = M(p->funds_counted), c[10] = M(p->funds_spent);
        for (int k = 1; k <= 6; k++) /* expense_category codes 1..6 */
            c[10 + k] = M(p->spent_by_category[k]);
        c[17] = M(p->spent_flagged), c[18] = I(p->spent_flagged_count);
        c[19] = M(p->crit[QS_C_FUNDS].threshold), c[20] = V(p->crit[QS_C_FUNDS].verdict);

        c = row_add(stc);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(p->aiding);
        c[3] = T(p->aiding_province), c[4] = T(type), c[5] = T(derived);
        c[6] = T(p->type_from_province ? yes(!p->type_mismatch) : "无法推定");
        c[7] = I(p->other_pairings_aiding), c[8] = I(p->other_pairings_county);
        c[9] = T(p->receiving_county), c[10] = I(p->shared_person_days);
        c[11] = V(p->crit[QS_C_STRUCTURE].verdict), c[12] = T(p->crit[QS_C_STRUCTURE].note);

        if (!p->county_known) { /* a pairing of a county that is not on the list */
            c = row_add(cov);
            c[0] = T(p->county), c[1] = T(""), c[2] = T(""), c[3] = I(p->active);
            c[4] = T(p->aiding), c[5] = V(p->active ? QS_VERDICT_FAIL : QS_VERDICT_NA);
            c[6] = T("结对的受援县不在方案名单（无县记录）");
        }

        c = row_add(outp);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = I(p->cultivated);
        c[3] = I(p->documents), c[4] = I(p->brands), c[5] = I(p->stations);
        c[6] = I(p->townships_covered), c[7] = I(p->townships);
        c[8] = P(p->townships_covered, p->townships);

        c = row_add(svc);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = I(p->services);
        c[3] = I(p->service_minutes), c[4] = I(p->people_served);
        c[5] = T(basis_label(p->people_basis));
        c[6] = P(p->reach_assistance, p->services), c[7] = P(p->reach_elderly, p->services);
        c[8] = P(p->reach_minors, p->services);

        static const struct {
            const char *dim, *field;
            uint32_t kind;
            size_t off;
        } dims[] = {
            {"服务类型", "service_type", QS_K_SERVICE, offsetof(qs_report_pairing, by_type)},
            {"服务领域", "domain", QS_K_SERVICE, offsetof(qs_report_pairing, by_domain)},
            {"服务对象类别", "categories", QS_K_SERVICE, offsetof(qs_report_pairing, by_category)},
        };
        for (size_t d = 0; d < NCOL(dims); d++) {
            const qs_report_count *arr = (const qs_report_count *)((const char *)p + dims[d].off);
            for (int k = 0; k < QS_REPORT_ENUM_MAX; k++) {
                if (!arr[k].count)
                    continue;
                c = row_add(brk);
                c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(dims[d].dim);
                c[3] = T(enum_label(dims[d].kind, dims[d].field, (uint32_t)k));
                c[4] = I(arr[k].count), c[5] = I(arr[k].minutes);
            }
        }
        c = row_add(trn);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = I(p->trainings);
        c[3] = I(p->supervisions), c[4] = I(p->guidance);
        snprintf(buf, sizeof buf, "%.1f", (double)p->training_minutes / 60.0);
        c[5] = T(buf);
        c[6] = I(p->training_local_participants), c[7] = I(p->local_exam_takers);
        c[8] = I(p->local_certified);

        c = row_add(dq);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = I(p->services_without_workday);
        c[3] = I(p->duplicate_person_days), c[4] = I(p->workdays_outside_years);
        c[5] = I(p->shared_person_days), c[6] = T(p->type_mismatch ? "是" : "");
        ms_text(p->last_ok_ms, buf, sizeof buf);
        c[7] = T(buf);
        c[8] = T(p->provisional ? "临时（同步过期）" : "正式");
    }
    /* province totals */
    const char *tot = r->year_open ? "全省合计（截至统计日）" : "全省合计";
    const char *node = qs_code_level(r->node) == QS_LEVEL_PROVINCE ? r->node : "";
    rcell *c = row_add(sum);
    c[0] = T(node), c[1] = T(tot);
    snprintf(buf, sizeof buf, "覆盖 %u/%u 县", r->counties_covered, r->counties_configured);
    c[2] = T(buf), c[3] = T(""), c[4] = T(""), c[5] = T("");
    snprintf(buf, sizeof buf, "跨省%u/省内%u", r->split_cross, r->split_in);
    c[6] = T(buf);
    for (int k = 0; k < QS_C_COUNT; k++)
        c[SUM_FIXED + k] = verdict_counts(r->verdicts[k]);
    c[SUM_FIXED + QS_C_COUNT] = verdict_counts(r->overall);
    snprintf(buf, sizeof buf, "%u个临时", r->provisional);
    c[SUM_FIXED + QS_C_COUNT + 1] = T(buf);

    /* 总结与评估: the automatic sentences, then the operator's own text */
    static char lines[QS_ASSESS_MAX][QS_ASSESS_LINE];
    size_t nl = qs_report_assess(r, lines, QS_ASSESS_MAX);
    for (size_t i = 0; i < nl; i++) {
        c = row_add(ass);
        c[0] = T("自动评估"), c[1] = T(lines[i]);
    }
    if (r->narrative && r->narrative[strspn(r->narrative, " \t\r\n")])
        text_rows(ass, "报送单位总结", r->narrative);
    else {
        c = row_add(ass);
        c[0] = T("报送单位总结"),
        c[1] = T("（未提供；用 --narrative FILE 附上报送单位的总结与评估）");
    }

    /* coverage: the plan's counties */
    for (uint32_t k = 0; k < r->ncounties; k++) {
        const qs_report_county *cy = &r->counties[k];
        const char *aiding = "";
        for (uint32_t i = 0; i < r->npairings; i++)
            if (r->pairings[i].active && strcmp(r->pairings[i].county, cy->code) == 0)
                aiding = r->pairings[i].aiding;
        c = row_add(cov);
        c[0] = T(cy->code), c[1] = T(cy->name), c[2] = T(cy->prefecture);
        c[3] = I(cy->active_pairings), c[4] = T(aiding);
        c[5] = V(cy->covered ? QS_VERDICT_PASS : QS_VERDICT_FAIL);
        c[6] = T(cy->covered           ? ""
                 : cy->active_pairings ? "结对缺受援机构"
                                       : "未覆盖：本年度没有在帮扶期内的结对");
    }
    c = row_add(cov);
    c[0] = T(node), c[1] = T(tot);
    snprintf(buf, sizeof buf, "覆盖 %u/%u 县", r->counties_covered, r->counties_configured);
    c[2] = T(buf), c[3] = I(r->active), c[4] = T("");
    c[5] = V(r->counties_covered == r->counties_configured && r->counties_configured
                 ? QS_VERDICT_PASS
                 : QS_VERDICT_FAIL);
    c[6] = T("");

    c = row_add(stc);
    c[0] = T(node), c[1] = T(tot);
    snprintf(buf, sizeof buf, "跨省 %u 个（方案 %lld）；省内 %u 个（方案 %lld）", r->split_cross,
             (long long)r->settings[QS_S_PLAN_CROSS_PROVINCE], r->split_in,
             (long long)r->settings[QS_S_PLAN_IN_PROVINCE]);
    c[2] = T(buf);
    for (int k = 3; k <= 9; k++)
        c[k] = T("");
    c[10] = I(r->shared_person_days);
    c[11] = V(r->split_verdict);
    c[12] = T(r->filter[0] ? "按县筛选：不核对全省结构" : "");

    c = row_add(fun);
    c[0] = T(node), c[1] = T(tot), c[2] = T("");
    c[3] = M(r->funds_received);
    for (int k = 1; k <= 5; k++) {
        int64_t s = 0;
        for (uint32_t i = 0; i < r->npairings; i++)
            s += r->pairings[i].received_by_source[k];
        c[3 + k] = M(s);
    }
    c[9] = M(r->funds_counted), c[10] = M(r->funds_spent);
    for (int k = 1; k <= 6; k++) {
        int64_t s = 0;
        for (uint32_t i = 0; i < r->npairings; i++)
            s += r->pairings[i].spent_by_category[k];
        c[10 + k] = M(s);
    }
    c[17] = M(r->spent_flagged), c[18] = T(""), c[19] = T(""), c[20] = T("");
    c = row_add(svc);
    c[0] = T(node), c[1] = T(tot), c[2] = I(r->services), c[3] = I(r->service_minutes);
    c[4] = I(r->people_served), c[5] = T(""), c[6] = T(""), c[7] = T(""), c[8] = T("");
    c = row_add(trn);
    c[0] = T(node), c[1] = T(tot), c[2] = I(r->trainings), c[3] = I(r->supervisions);
    c[4] = I(r->guidance);
    snprintf(buf, sizeof buf, "%.1f", (double)r->training_minutes / 60.0);
    c[5] = T(buf), c[6] = T(""), c[7] = I(r->local_exam_takers), c[8] = T("");
    c = row_add(dq);
    c[0] = T(node), c[1] = T(tot), c[2] = I(r->services_without_workday);
    c[3] = I(r->duplicate_person_days), c[4] = I(r->workdays_outside_years);
    c[5] = I(r->shared_person_days), c[6] = T(""), c[7] = T("");
    snprintf(buf, sizeof buf, "%u个临时", r->provisional);
    c[8] = T(buf);

    /* the criteria table itself, as this report applied it */
    for (int k = 0; k < QS_C_COUNT; k++) {
        const qs_crit_def *d = qs_crit_def_of((qs_crit)k);
        bool total = r->worker_days_rule == QS_DAYS_TOTAL && d->counted_total;
        c = row_add(crt);
        c[0] = T(d->label), c[1] = T(d->key), c[2] = T(d->plan);
        c[3] = T(total ? d->counted_total : d->counted);
        int sid = d->setting;
        if (total && k == QS_C_DISPATCHED_DAYS)
            sid = QS_S_DISPATCHED_MIN_DAYS;
        else if (total && k == QS_C_LOCAL_DAYS)
            sid = QS_S_LOCAL_MIN_DAYS;
        if (sid < 0)
            c[4] = T(""), c[5] = T("");
        else {
            c[4] = d->money ? M(r->settings[sid]) : I(r->settings[sid]);
            c[5] = T(qs_report_setting_def((qs_setting_id)sid)->key);
        }
        static const qs_verdict cols[] = {QS_VERDICT_PASS, QS_VERDICT_FAIL, QS_VERDICT_PENDING,
                                          QS_VERDICT_NODATA, QS_VERDICT_NA};
        for (size_t v = 0; v < NCOL(cols); v++)
            c[6 + v] = T(d->rule[cols[v]] ? d->rule[cols[v]] : "—");
    }

    for (int k = 0; k < QS_S_COUNT; k++) {
        const qs_setting_def *d = qs_report_setting_def((qs_setting_id)k);
        c = row_add(set);
        c[0] = T(d->key), c[1] = T(d->label), c[2] = I(r->settings[k]);
    }
}

void rbook_free(rbook *b)
{
    for (size_t i = 0; i < b->n; i++) {
        rsheet *s = &b->sheets[i];
        for (size_t k = 0; k < s->nrows * s->ncols; k++)
            free(s->cells[k].s);
        free(s->cells);
    }
    b->n = 0;
}

char *rcell_text(const rcell *c)
{
    switch (c->t) {
    case RC_TEXT:
        return qs_xstrdup(c->s ? c->s : "");
    case RC_INT:
        return qs_xasprintf("%" PRId64, c->i);
    case RC_MONEY:
        return qs_xasprintf("%s%" PRId64 ".%02" PRId64, c->i < 0 ? "-" : "",
                            (c->i < 0 ? -c->i : c->i) / 100, (c->i < 0 ? -c->i : c->i) % 100);
    case RC_PCT:
        return qs_xasprintf("%.1f%%", c->d * 100.0);
    case RC_VERDICT:
        return qs_xstrdup(qs_verdict_label(c->v));
    }
    return qs_xstrdup("");
}

int report_write_table(const rbook *b, FILE *fp)
{
    fprintf(fp, "%s\n", b->title);
    for (size_t i = 0; i < b->nlines; i++)
        fprintf(fp, "%s\n", b->lines[i]);
    for (size_t i = 0; i < b->n; i++) {
        const rsheet *s = &b->sheets[i];
        out_table t;
        out_table_init(&t, s->ncols);
        char **row = qs_xcalloc(s->ncols, sizeof *row);
        for (size_t k = 0; k < s->ncols; k++)
            row[k] = qs_xstrdup(s->head[k]);
        out_table_add(&t, row);
        for (size_t r = 0; r < s->nrows; r++) {
            for (size_t k = 0; k < s->ncols; k++)
                row[k] = rcell_text(&s->cells[r * s->ncols + k]);
            out_table_add(&t, row);
        }
        free(row);
        fprintf(fp, "\n【%s】\n", s->name);
        out_table_print(&t, fp, false);
        out_table_free(&t);
    }
    return 0;
}

static void csv_field(FILE *fp, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

/* Every section in one file: a title line, the header, the rows, a blank
 * line. Numbers are plain (money in yuan with two decimals, no grouping) so
 * Excel reads them as numbers. Lines end in CRLF, as Excel writes them. */
int report_write_csv(const rbook *b, FILE *fp, bool bom)
{
    if (bom)
        fputs("\xEF\xBB\xBF", fp);
    csv_field(fp, b->title);
    fputs("\r\n", fp);
    for (size_t i = 0; i < b->nlines; i++) {
        csv_field(fp, b->lines[i]);
        fputs("\r\n", fp);
    }
    fputs("\r\n", fp);
    for (size_t i = 0; i < b->n; i++) {
        const rsheet *s = &b->sheets[i];
        fprintf(fp, "【%s】\r\n", s->name);
        for (size_t k = 0; k < s->ncols; k++) {
            if (k)
                fputc(',', fp);
            csv_field(fp, s->head[k]);
        }
        fputs("\r\n", fp);
        for (size_t r = 0; r < s->nrows; r++) {
            for (size_t k = 0; k < s->ncols; k++) {
                char *t = rcell_text(&s->cells[r * s->ncols + k]);
                if (k)
                    fputc(',', fp);
                csv_field(fp, t);
                free(t);
            }
            fputs("\r\n", fp);
        }
        fputs("\r\n", fp);
    }
    return ferror(fp) ? QS_EIO : 0;
}
