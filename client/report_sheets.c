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

static const char *const H_SUMMARY[] = {"县代码", "县（市）", "所属州", "援派机构", "受援机构",
                                        "结对类型", "结对覆盖", "援派持证社工", "援派工作日",
                                        "本地社工", "本地工作日", "经费", "培育社会组织",
                                        "综合结论", "数据状态"};
static const char *const H_DETAIL[] = {"县代码", "县（市）", "指标", "数值", "标准", "结论"};
static const char *const H_WORKER[] = {"县代码", "县（市）", "姓名", "证书等级", "直接服务起始",
                                       "服务年限", "是否计入", "工作日", "标准工作日"};
static const char *const H_LOCAL[] = {"县代码", "县（市）", "姓名", "工作日", "标准工作日"};
static const char *const H_FUNDS[] = {"县代码", "县（市）", "结对类型", "到账（元）", "支出（元）",
                                      "活动经费", "交通补贴", "伙食补助", "工资津贴", "保险",
                                      "其他", "非允许类别支出（元）", "非允许类别笔数",
                                      "标准（元）", "结论"};
static const char *const H_OUTPUTS[] = {"县代码", "县（市）", "培育社会组织（累计）", "制度文件",
                                        "服务品牌项目", "社工站", "覆盖乡镇", "乡镇总数",
                                        "乡镇覆盖率"};
static const char *const H_SERVICES[] = {"县代码", "县（市）", "服务次数", "服务时长（分钟）",
                                         "服务人数", "人数口径", "社会救助对象占比",
                                         "老年人占比", "未成年人占比"};
static const char *const H_BREAKDOWN[] = {"县代码", "县（市）", "维度", "类别", "服务次数",
                                          "服务时长（分钟）"};
static const char *const H_TRAINING[] = {"县代码", "县（市）", "培训次数", "督导次数",
                                         "时长（小时）", "本地社工参与人次"};
static const char *const H_QUALITY[] = {"县代码", "县（市）", "无当日工作日的服务记录",
                                        "重复登记的工作日", "结对年度外的工作日",
                                        "最近成功同步", "数据状态"};
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

void rbook_build(const qs_report *r, rbook *b)
{
    char asof[16], buf[64];
    memset(b, 0, sizeof *b);
    snprintf(b->title, sizeof b->title, "%d年度“牵手计划”社会工作服务实施情况报告", r->year);
    snprintf(b->subtitle, sizeof b->subtitle,
             "统计截止日期 %s；工作日口径：%s；数据节点 %s；%u 个结对，%u 个达标，%u 个数据为临时",
             qs_date_format(r->as_of, asof),
             r->worker_days_rule == QS_DAYS_TOTAL ? "合计" : "每人", r->node, r->npairings,
             r->overall_pass, r->provisional);

    rsheet *sum = sheet(b, "summary", "总览", H_SUMMARY, NCOL(H_SUMMARY));
    rsheet *det = sheet(b, "criteria", "指标明细", H_DETAIL, NCOL(H_DETAIL));
    rsheet *dis = sheet(b, "dispatched", "援派社工", H_WORKER, NCOL(H_WORKER));
    rsheet *loc = sheet(b, "local", "本地社工", H_LOCAL, NCOL(H_LOCAL));
    rsheet *fun = sheet(b, "funds", "经费", H_FUNDS, NCOL(H_FUNDS));
    rsheet *outp = sheet(b, "outputs", "成果与站点", H_OUTPUTS, NCOL(H_OUTPUTS));
    rsheet *svc = sheet(b, "services", "服务", H_SERVICES, NCOL(H_SERVICES));
    rsheet *brk = sheet(b, "breakdown", "服务分类", H_BREAKDOWN, NCOL(H_BREAKDOWN));
    rsheet *trn = sheet(b, "training", "培训督导", H_TRAINING, NCOL(H_TRAINING));
    rsheet *dq = sheet(b, "quality", "数据质量", H_QUALITY, NCOL(H_QUALITY));
    rsheet *set = sheet(b, "settings", "标准设置", H_SETTINGS, NCOL(H_SETTINGS));

    for (uint32_t i = 0; i < r->npairings; i++) {
        const qs_report_pairing *p = &r->pairings[i];
        const char *type = enum_label(QS_K_PAIRING, "type", (uint32_t)p->type);
        rcell *c = row_add(sum);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(p->prefecture);
        c[3] = T(p->aiding), c[4] = T(p->receiving), c[5] = T(type);
        for (int k = 0; k < QS_C_COUNT; k++)
            c[6 + k] = V(p->crit[k].verdict);
        c[13] = V(p->overall);
        c[14] = T(p->provisional ? "临时（同步过期）" : "正式");

        for (int k = 0; k < QS_C_COUNT; k++) {
            c = row_add(det);
            c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(qs_crit_label(k));
            bool money = k == QS_C_FUNDS;
            c[3] = money ? M(p->crit[k].value) : I(p->crit[k].value);
            c[4] = money ? M(p->crit[k].threshold) : I(p->crit[k].threshold);
            c[5] = V(p->crit[k].verdict);
        }
        for (uint32_t w = 0; w < p->ndispatched; w++) {
            const qs_report_worker *x = &p->dispatched[w];
            c = row_add(dis);
            c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(x->name);
            c[3] = T(x->cert_level >= 0
                         ? enum_label(QS_K_PERSON, "cert_level", (uint32_t)x->cert_level)
                         : "");
            c[4] = D(x->service_since);
            c[5] = I(x->service_years);
            c[6] = T(x->qualified ? "是" : "否");
            c[7] = I(x->days);
            c[8] = I(r->settings[QS_S_DISPATCHED_MIN_DAYS]);
        }
        for (uint32_t w = 0; w < p->nlocal; w++) {
            c = row_add(loc);
            c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(p->local[w].name);
            c[3] = I(p->local[w].days);
            c[4] = I(r->settings[QS_S_LOCAL_MIN_DAYS]);
        }
        c = row_add(fun);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = T(type);
        c[3] = M(p->funds_received), c[4] = M(p->funds_spent);
        for (int k = 1; k <= 6; k++)
            c[4 + k] = M(p->spent_by_category[k]);
        c[11] = M(p->spent_flagged), c[12] = I(p->spent_flagged_count);
        c[13] = M(p->crit[QS_C_FUNDS].threshold), c[14] = V(p->crit[QS_C_FUNDS].verdict);

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
            const qs_report_count *arr =
                (const qs_report_count *)((const char *)p + dims[d].off);
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
        c[3] = I(p->supervisions);
        snprintf(buf, sizeof buf, "%.1f", (double)p->training_minutes / 60.0);
        c[4] = T(buf);
        c[5] = I(p->training_local_participants);

        c = row_add(dq);
        c[0] = T(p->county), c[1] = T(p->county_name), c[2] = I(p->services_without_workday);
        c[3] = I(p->duplicate_person_days), c[4] = I(p->workdays_outside_years);
        ms_text(p->last_ok_ms, buf, sizeof buf);
        c[5] = T(buf);
        c[6] = T(p->provisional ? "临时（同步过期）" : "正式");
    }
    /* province totals */
    rcell *c = row_add(sum);
    c[0] = T("630000"), c[1] = T("全省合计");
    snprintf(buf, sizeof buf, "覆盖 %u/%u 县", r->counties_covered, r->counties_configured);
    c[2] = T(buf), c[3] = T(""), c[4] = T(""), c[5] = T("");
    for (int k = 0; k < QS_C_COUNT; k++) {
        snprintf(buf, sizeof buf, "%u达标/%u未达标", r->pass[k], r->fail[k]);
        c[6 + k] = T(buf);
    }
    snprintf(buf, sizeof buf, "%u/%u达标", r->overall_pass, r->npairings);
    c[13] = T(buf);
    snprintf(buf, sizeof buf, "%u个临时", r->provisional);
    c[14] = T(buf);
    c = row_add(fun);
    c[0] = T("630000"), c[1] = T("全省合计"), c[2] = T("");
    c[3] = M(r->funds_received), c[4] = M(r->funds_spent);
    for (int k = 1; k <= 6; k++) {
        int64_t s = 0;
        for (uint32_t i = 0; i < r->npairings; i++)
            s += r->pairings[i].spent_by_category[k];
        c[4 + k] = M(s);
    }
    c[11] = M(r->spent_flagged), c[12] = T(""), c[13] = T(""), c[14] = T("");
    c = row_add(svc);
    c[0] = T("630000"), c[1] = T("全省合计"), c[2] = I(r->services), c[3] = I(r->service_minutes);
    c[4] = I(r->people_served), c[5] = T(""), c[6] = T(""), c[7] = T(""), c[8] = T("");
    c = row_add(dq);
    c[0] = T("630000"), c[1] = T("全省合计"), c[2] = I(r->services_without_workday);
    c[3] = I(r->duplicate_person_days), c[4] = I(r->workdays_outside_years), c[5] = T("");
    snprintf(buf, sizeof buf, "%u个临时", r->provisional);
    c[6] = T(buf);

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
    fprintf(fp, "%s\n%s\n", b->title, b->subtitle);
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
    csv_field(fp, b->subtitle);
    fputs("\r\n\r\n", fp);
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
