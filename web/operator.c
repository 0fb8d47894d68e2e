/*
 * operator.c — the province's pages (admins only): the fleet, the annual
 * report (in the page, and as CSV, XLSX or HTML downloads made by the
 * command line's own report code), rejected records, reference data, users
 * and the audit trail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/csv.h"
#include "client/fields.h"
#include "client/out.h"
#include "daemon/log.h"
#include "proto/clock.h"
#include "proto/date.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"
#include "web/app.h"

#define STALE_MS (3LL * 24 * 3600 * 1000)

void page_fleet(wreq *r)
{
    if (!need_admin(r))
        return;
    hbuf *b = &r->out;
    qs_peer *p = NULL;
    size_t n = 0;
    qs_err e = {0};
    char when[32], when2[32];
    page_begin(r, "各县同步");
    if (qs_store_peers(r->app->st, &p, &n, &e) != 0) {
        page_end_error(r, e.msg);
        return;
    }
    hb_raw(b, "<p>三天以上没有成功同步的节点标为红色。</p><table id=\"fleet\"><tr><th>节点</th>"
              "<th>上次联系</th><th>上次同步成功</th><th>待上传</th><th>时钟偏差（毫秒）</th>"
              "<th>证书到期</th><th>上次错误</th></tr>");
    size_t stale = 0;
    for (size_t i = 0; i < n; i++) {
        bool old = r->now - p[i].last_ok_ms > STALE_MS;
        stale += old;
        hb_raw(b, old ? "<tr class=\"stale\"><td>" : "<tr><td>");
        hb_esc(b, p[i].node);
        hb_raw(b, "</td><td>");
        hb_esc(b, fmt_time(p[i].last_contact_ms, when, sizeof when));
        hb_raw(b, "</td><td>");
        hb_esc(b, fmt_time(p[i].last_ok_ms, when2, sizeof when2));
        hb_fmt(b, "</td><td class=\"num\">%llu</td><td class=\"num\">%lld</td><td>",
               (unsigned long long)p[i].pending, (long long)p[i].skew_ms);
        hb_esc(b, fmt_time(p[i].cert_not_after_ms, when, sizeof when));
        hb_raw(b, "</td><td>");
        hb_esc(b, p[i].last_error);
        hb_raw(b, "</td></tr>");
    }
    hb_fmt(b, "</table><p id=\"fleet-summary\">%zu 个节点，%zu 个超过三天没有同步。</p>", n, stale);
    free(p);
    page_end(r);
}

/* Run `report annual` for year into a scratch file in format fmt; the
 * file's contents into *body. 0, or the exit code with the error in *err. */
static int report_file(wreq *r, int year, const char *fmt, hbuf *body, char **err)
{
    char path[300], y[16];
    snprintf(path, sizeof path, "%s/report-%d.%s", r->app->tmpdir, year, fmt);
    snprintf(y, sizeof y, "%d", year);
    char *argv[] = {"report", "annual", "--year", y, "--format", (char *)fmt, "-o", path, NULL};
    char *out = NULL;
    int rc = run_cli(r, 8, argv, &out, err);
    free(out);
    if (rc != 0 && rc != CLI_ATTN) {
        unlink(path);
        return rc ? rc : 1;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return CLI_ENV;
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        hb_rawn(body, chunk, got);
    fclose(fp);
    unlink(path);
    return 0;
}

void page_report(wreq *r)
{
    if (!need_admin(r))
        return;
    hbuf *b = &r->out;
    int this_year = qs_date_from_time(qs_clock_wall_time()) / 10000;
    long year = strtol(kvs_str(&r->q, "year"), NULL, 10);
    if (year < 2000 || year > 2999)
        year = this_year - 1;
    const char *fmt = kvs_str(&r->q, "format");
    char *err = NULL;
    hbuf body;
    hb_init(&body);
    if (!strcmp(fmt, "csv") || !strcmp(fmt, "xlsx") || !strcmp(fmt, "html")) {
        if (report_file(r, (int)year, fmt, &body, &err) != 0) {
            page_error(r, 500, err && *err ? err : "报告没有生成。");
        } else {
            char fname[64];
            snprintf(fname, sizeof fname, "report-%ld.%s", year, fmt);
            page_download(r,
                          !strcmp(fmt, "csv")    ? "text/csv; charset=utf-8"
                          : !strcmp(fmt, "xlsx") ? "application/"
                                                   "vnd.openxmlformats-officedocument."
                                                   "spreadsheetml.sheet"
                                                 : "text/html; charset=utf-8",
                          fname, &body);
        }
        free(err);
        hb_free(&body);
        return;
    }
    char title[64];
    snprintf(title, sizeof title, "%ld 年度报告", year);
    page_begin(r, title);
    hb_raw(b, "<form method=\"get\" action=\"/report\">年份 <select name=\"year\" id=\"year\">");
    for (int y = this_year; y >= 2021; y--)
        hb_fmt(b, "<option value=\"%d\"%s>%d</option>", y, y == year ? " selected" : "", y);
    hb_raw(b, "</select> <button type=\"submit\" id=\"show-report\">查看</button></form>");
    hb_fmt(b,
           "<p>下载：<a id=\"dl-csv\" href=\"/report?year=%ld&amp;format=csv\">CSV</a> · "
           "<a id=\"dl-xlsx\" href=\"/report?year=%ld&amp;format=xlsx\">XLSX</a> · "
           "<a id=\"dl-html\" href=\"/report?year=%ld&amp;format=html\">HTML（可打印）</a></p>",
           year, year, year);
    if (report_file(r, (int)year, "csv", &body, &err) != 0) {
        page_problem(r, err && *err ? err : "报告没有生成。");
    } else {
        csv_text text = {.owned = NULL};
        csv_row *rows = NULL;
        size_t nrows = 0;
        qs_err e = {0};
        if (csv_decode((const uint8_t *)body.p, body.len, "report.csv", &text, &e) == 0 &&
            csv_parse(text.s, text.len, "report.csv", &rows, &nrows, &e) == 0) {
            bool open = false;
            for (size_t i = 0; i < nrows; i++) {
                bool blank = true;
                for (size_t j = 0; j < rows[i].n; j++)
                    blank &= rows[i].cells[j][0] == '\0';
                if (blank) {
                    if (open)
                        hb_raw(b, "</table>");
                    open = false;
                    continue;
                }
                if (!open)
                    hb_raw(b, "<table class=\"report\">");
                open = true;
                hb_raw(b, "<tr>");
                for (size_t j = 0; j < rows[i].n; j++) {
                    hb_raw(b, "<td>");
                    hb_esc(b, rows[i].cells[j]);
                    hb_raw(b, "</td>");
                }
                hb_raw(b, "</tr>");
            }
            if (open)
                hb_raw(b, "</table>");
            csv_rows_free(rows, nrows);
        } else {
            page_problem(r, e.msg);
        }
        csv_text_free(&text);
    }
    free(err);
    hb_free(&body);
    page_end(r);
}

void page_rejected(wreq *r)
{
    if (!need_admin(r))
        return;
    hbuf *b = &r->out;
    qs_rejection *v = NULL;
    size_t n = 0;
    qs_err e = {0};
    char when[32], ids[40];
    page_begin(r, "被拒记录");
    if (qs_store_rejections(r->app->st, &v, &n, &e) != 0) {
        page_end_error(r, e.msg);
        return;
    }
    hb_raw(b, "<table id=\"rejected\"><tr><th>时间</th><th>方向</th><th>节点</th><th>记录</th>"
              "<th>类型</th><th>范围</th><th>原因</th></tr>");
    for (size_t i = 0; i < n; i++) {
        const qs_kind *k = qs_schema_kind(v[i].kind);
        hb_raw(b, "<tr><td>");
        hb_esc(b, fmt_time(v[i].at_ms, when, sizeof when));
        hb_raw(b, "</td><td>");
        hb_raw(b, v[i].outgoing ? "本机的，被对方拒绝" : "对方的，被本机拒绝");
        hb_raw(b, "</td><td>");
        hb_esc(b, v[i].peer);
        hb_raw(b, "</td><td>");
        hb_esc(b, qs_uuid_format(v[i].id, ids));
        hb_raw(b, "</td><td>");
        hb_esc(b, k ? k->label : "?");
        hb_raw(b, "</td><td>");
        hb_esc(b, v[i].scope);
        hb_raw(b, "</td><td>");
        hb_esc(b, v[i].reason);
        hb_raw(b, "</td></tr>");
    }
    hb_fmt(b, "</table><p>%zu 条。</p>", n);
    free(v);
    page_end(r);
}

/* ---- reference data: counties, agencies, pairings ---------------------- */

#define REF_MAX 5000 /* rows of one kind on the page (Qinghai has 45 counties) */

typedef struct ref_row {
    uint8_t id[QS_ID_LEN];
    qs_body body;
} ref_row;

typedef struct ref_set {
    const qs_kind *k;
    ref_row *v;
    size_t n, cap;
    bool more;
} ref_set;

static int ref_collect(void *ctx, const qs_record *rec)
{
    ref_set *s = ctx;
    if (s->n == REF_MAX) {
        s->more = true;
        return 1;
    }
    if (s->n == s->cap)
        s->v = qs_xreallocarray(s->v, s->cap = s->cap ? 2 * s->cap : 64, sizeof *s->v);
    ref_row *row = &s->v[s->n++];
    memcpy(row->id, rec->id, QS_ID_LEN);
    qs_body_init(&row->body);
    out_body(rec, &row->body);
    return 0;
}

static void ref_load(wreq *r, ref_set *s, uint32_t kind)
{
    s->k = qs_schema_kind(kind);
    qs_query q = {.kind = kind};
    qs_err e = {0};
    if (qs_store_list(r->app->st, &q, ref_collect, s, &e) < 0)
        qs_log(QS_LOG_ERROR, "web", "reference %s: %s", s->k->name, e.msg);
}

static void ref_free(ref_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        qs_body_free(&s->v[i].body);
    free(s->v);
}

/* The text of a STR field, or "". */
static const char *ref_str(const ref_row *row, const qs_kind *k, const char *field)
{
    const qs_field *f = qs_kind_field_by_name(k, field);
    const qs_value *v = f ? qs_body_get(&row->body, f->id) : NULL;
    return v && v->t == QS_V_STR ? v->u.s.p : "";
}

/* Whether a REF field holds the record id. */
static bool ref_is(const ref_row *row, const qs_kind *k, const char *field, const uint8_t *id)
{
    const qs_field *f = qs_kind_field_by_name(k, field);
    const qs_value *v = f ? qs_body_get(&row->body, f->id) : NULL;
    return v && v->t == QS_V_BIN && v->u.s.n == QS_ID_LEN && memcmp(v->u.s.p, id, QS_ID_LEN) == 0;
}

/* One kind's table: every field, then an extra column made by extra(). */
static void ref_table(wreq *r, const ref_set *s, const char *extra_label,
                      void (*extra)(wreq *, const ref_set *, const ref_row *, const void *),
                      const void *arg)
{
    hbuf *b = &r->out;
    const qs_kind *k = s->k;
    hb_fmt(b, "<h2 id=\"h-%s\">", k->name);
    hb_esc(b, k->label);
    hb_fmt(b, "（%zu%s 条）</h2><p>", s->n, s->more ? "+" : "");
    if (r->s->role != QS_UROLE_VIEWER) {
        hb_raw(b, "<a href=\"/new?kind=");
        hb_url(b, k->name);
        hb_fmt(b, "\" id=\"new-%s\">新增", k->name);
        hb_esc(b, k->label);
        hb_raw(b, "</a> · ");
    }
    hb_raw(b, "<a href=\"/export?kind=");
    hb_url(b, k->name);
    hb_raw(b, "\">导出（CSV）</a></p>");
    hb_fmt(b, "<table id=\"ref-%s\" class=\"ref\"><thead><tr><th>编号</th>", k->name);
    for (uint32_t i = 0; i < k->nfields; i++) {
        hb_raw(b, "<th>");
        hb_esc(b, k->fields[i].label);
        hb_raw(b, "</th>");
    }
    hb_raw(b, "<th>");
    hb_esc(b, extra_label);
    hb_raw(b, "</th></tr></thead><tbody>");
    for (size_t j = 0; j < s->n; j++) {
        const ref_row *row = &s->v[j];
        hb_raw(b, "<tr>");
        page_record_cell(r, row->id);
        for (uint32_t i = 0; i < k->nfields; i++) {
            const qs_field *f = &k->fields[i];
            char *t = fields_display(r->app->st, f, qs_body_get(&row->body, f->id), true);
            hb_raw(b, "<td>");
            hb_esc(b, t);
            hb_raw(b, "</td>");
            free(t);
        }
        hb_raw(b, "<td class=\"extra\">");
        extra(r, s, row, arg);
        hb_raw(b, "</td></tr>");
    }
    hb_raw(b, "</tbody></table>");
    if (s->more)
        hb_fmt(b, "<p>只显示了前 %d 条，其余的见导出。</p>", REF_MAX);
}

/* county: how many pairings name it */
static void extra_county(wreq *r, const ref_set *s, const ref_row *row, const void *arg)
{
    const ref_set *pairings = arg;
    const char *code = ref_str(row, s->k, "code");
    size_t n = 0;
    for (size_t i = 0; *code && i < pairings->n; i++)
        n += strcmp(ref_str(&pairings->v[i], pairings->k, "county"), code) == 0;
    hb_fmt(&r->out, "%zu", n);
}

/* agency: how many pairings it is in, on either side */
static void extra_agency(wreq *r, const ref_set *s, const ref_row *row, const void *arg)
{
    const ref_set *pairings = arg;
    size_t n = 0;
    for (size_t i = 0; i < pairings->n; i++)
        n += ref_is(&pairings->v[i], pairings->k, "aiding", row->id) ||
             ref_is(&pairings->v[i], pairings->k, "receiving", row->id);
    hb_fmt(&r->out, "%zu", n);
}

/* pairing: the name of its county ("—" when no county has its code) */
static void extra_pairing(wreq *r, const ref_set *s, const ref_row *row, const void *arg)
{
    const ref_set *counties = arg;
    const char *code = ref_str(row, s->k, "county");
    for (size_t i = 0; *code && i < counties->n; i++)
        if (strcmp(ref_str(&counties->v[i], counties->k, "code"), code) == 0) {
            hb_esc(&r->out, ref_str(&counties->v[i], counties->k, "name"));
            return;
        }
    hb_raw(&r->out, "—");
}

void page_reference(wreq *r)
{
    if (!need_admin(r))
        return;
    hbuf *b = &r->out;
    ref_set counties = {0}, agencies = {0}, pairings = {0};
    ref_load(r, &counties, QS_K_COUNTY);
    ref_load(r, &agencies, QS_K_AGENCY);
    ref_load(r, &pairings, QS_K_PAIRING);
    page_begin(r, "基础数据");
    hb_raw(b, "<p>县、机构和结对关系由省里录入，同步到各县。<a href=\"#h-county\">县</a> · "
              "<a href=\"#h-agency\">机构</a> · <a href=\"#h-pairing\">结对</a></p>");
    ref_table(r, &counties, "结对数", extra_county, &pairings);
    ref_table(r, &agencies, "结对数", extra_agency, &pairings);
    ref_table(r, &pairings, "受援县名", extra_pairing, &counties);
    page_end(r);
    ref_free(&counties);
    ref_free(&agencies);
    ref_free(&pairings);
}

void page_users(wreq *r)
{
    if (!need_admin(r))
        return;
    hbuf *b = &r->out;
    qs_store *st = r->app->st;
    qs_err e = {0};
    char msg[QS_ERR_MSG] = "";
    bool ok = false;
    if (r->post) {
        const char *act = kvs_str(&r->f, "action"), *name = kvs_str(&r->f, "name");
        int rc;
        if (!strcmp(act, "add")) {
            qs_user_role role = qs_user_role_parse(kvs_str(&r->f, "role"));
            rc = role ? qs_user_add(st, name, role, kvs_str(&r->f, "password"), &e)
                      : qs_err_set(&e, QS_EINVAL, "choose a role");
        } else if (!strcmp(act, "disable") || !strcmp(act, "enable")) {
            rc = strcmp(name, r->s->user) == 0
                     ? qs_err_set(&e, QS_EINVAL, "you cannot disable yourself")
                     : qs_user_set_disabled(st, name, !strcmp(act, "disable"), &e);
        } else if (!strcmp(act, "passwd")) {
            rc = qs_user_passwd(st, name, kvs_str(&r->f, "password"), &e);
        } else {
            rc = qs_err_set(&e, QS_EINVAL, "unknown action");
        }
        if (rc == 0) {
            char detail[80];
            snprintf(detail, sizeof detail, "%s %s", act, name);
            audit(r, !strcmp(act, "add") ? "user_add" : act, NULL, detail);
            snprintf(msg, sizeof msg, "已完成：%s %s", act, name);
            ok = true;
        } else {
            snprintf(msg, sizeof msg, "%s", e.msg);
        }
    }
    page_begin(r, "用户");
    if (*msg) {
        hb_raw(b,
               ok ? "<p class=\"ok\" id=\"users-msg\">" : "<p class=\"error\" id=\"users-msg\">");
        hb_esc(b, msg);
        hb_raw(b, "</p>");
    }
    qs_user *u = NULL;
    size_t n = 0;
    char when[32];
    if (qs_users_list(st, &u, &n, &e) == 0) {
        hb_raw(b, "<table id=\"users\"><tr><th>用户</th><th>角色</th><th>状态</th><th>上次登录"
                  "</th><th></th></tr>");
        for (size_t i = 0; i < n; i++) {
            bool locked = u[i].locked_until > r->now;
            hb_raw(b, "<tr><td>");
            hb_esc(b, u[i].name);
            hb_raw(b, "</td><td>");
            hb_raw(b, qs_user_role_label(u[i].role));
            hb_raw(b, "</td><td>");
            hb_raw(b, u[i].disabled ? "已停用" : locked ? "已锁定" : "正常");
            hb_raw(b, "</td><td>");
            hb_esc(b, fmt_time(u[i].last_login_ms, when, sizeof when));
            hb_raw(b, "</td><td><form method=\"post\" action=\"/users\">");
            page_csrf(r);
            hb_raw(b, "<input type=\"hidden\" name=\"name\" value=\"");
            hb_esc(b, u[i].name);
            hb_raw(b, u[i].disabled ? "\"><input type=\"hidden\" name=\"action\" value=\"enable\">"
                                      "<button type=\"submit\">启用</button>"
                                    : "\"><input type=\"hidden\" name=\"action\" value=\"disable\">"
                                      "<button type=\"submit\">停用</button>");
            hb_raw(b, "</form></td></tr>");
        }
        hb_raw(b, "</table>");
        free(u);
    }
    hb_raw(b, "<h2>新增用户</h2><form method=\"post\" action=\"/users\" class=\"record\">");
    page_csrf(r);
    hb_raw(b,
           "<input type=\"hidden\" name=\"action\" value=\"add\">"
           "<label><span class=\"lab\">用户名</span> <input name=\"name\" maxlength=\"32\"></label>"
           "<label><span class=\"lab\">角色</span> <select name=\"role\"><option value=\"clerk\">"
           "职员</option><option value=\"viewer\">查看者</option><option value=\"admin\">管理员"
           "</option></select></label><label><span class=\"lab\">密码（至少 10 个字）</span> "
           "<input type=\"password\" name=\"password\" autocomplete=\"new-password\"></label>"
           "<button type=\"submit\">新增</button></form>"
           "<h2>重设密码</h2><form method=\"post\" action=\"/users\" class=\"record\">");
    page_csrf(r);
    hb_raw(b,
           "<input type=\"hidden\" name=\"action\" value=\"passwd\">"
           "<label><span class=\"lab\">用户名</span> <input name=\"name\" maxlength=\"32\"></label>"
           "<label><span class=\"lab\">新密码</span> <input type=\"password\" name=\"password\" "
           "autocomplete=\"new-password\"></label><button type=\"submit\">重设（并解锁）</button>"
           "</form><p><a href=\"/audit\">操作记录</a></p>");
    page_end(r);
}

void page_audit(wreq *r)
{
    if (!need_admin(r))
        return;
    hbuf *b = &r->out;
    qs_audit_row *a = NULL;
    size_t n = 0;
    qs_err e = {0};
    char when[32];
    page_begin(r, "操作记录");
    if (qs_audit_list(r->app->st, 500, &a, &n, &e) == 0) {
        hb_raw(b, "<table id=\"audit\"><tr><th>时间</th><th>用户</th><th>操作</th><th>记录</th>"
                  "<th>说明</th></tr>");
        for (size_t i = 0; i < n; i++) {
            hb_raw(b, "<tr><td>");
            hb_esc(b, fmt_time(a[i].at_ms, when, sizeof when));
            hb_raw(b, "</td><td>");
            hb_esc(b, a[i].user);
            hb_raw(b, "</td><td>");
            hb_esc(b, a[i].action);
            hb_raw(b, "</td><td>");
            hb_esc(b, a[i].record);
            hb_raw(b, "</td><td>");
            hb_esc(b, a[i].detail);
            hb_raw(b, "</td></tr>");
        }
        hb_raw(b, "</table>");
        free(a);
    }
    page_end(r);
}
