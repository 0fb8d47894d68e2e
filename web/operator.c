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
        hb_raw(b, "<p class=\"error\">");
        hb_esc(b, e.msg);
        hb_raw(b, "</p>");
        page_end(r);
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
        hb_raw(b, "<p class=\"error\">");
        hb_esc(b, err && *err ? err : "报告没有生成。");
        hb_raw(b, "</p>");
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
            hb_raw(b, "<p class=\"error\">");
            hb_esc(b, e.msg);
            hb_raw(b, "</p>");
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
        hb_raw(b, "<p class=\"error\">");
        hb_esc(b, e.msg);
        hb_raw(b, "</p>");
        page_end(r);
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

void page_reference(wreq *r)
{
    if (!need_admin(r))
        return;
    hbuf *b = &r->out;
    page_begin(r, "基础数据");
    hb_raw(b, "<p>县、机构和结对关系由省里录入，同步到各县。</p><ul>");
    static const uint32_t kinds[] = {QS_K_COUNTY, QS_K_AGENCY, QS_K_PAIRING};
    for (size_t i = 0; i < 3; i++) {
        const qs_kind *k = qs_schema_kind(kinds[i]);
        uint64_t n = 0;
        qs_store_count_eq(r->app->st, k->id, NULL, 0, &n, NULL);
        hb_raw(b, "<li><a href=\"/records?kind=");
        hb_url(b, k->name);
        hb_raw(b, "\">");
        hb_esc(b, k->label);
        hb_fmt(b, "</a>（%llu 条）</li>", (unsigned long long)n);
    }
    hb_raw(b, "</ul>");
    page_end(r);
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
