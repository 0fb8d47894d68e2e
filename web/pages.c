/*
 * pages.c — the clerk's pages: home, records (list, show with history, new,
 * edit, delete), import, export, conflicts, sync now. Forms are generated
 * from proto's schema; what a clerk types is parsed and checked by the
 * command line's own functions (client/fields.c, qs_schema_validate), so the
 * sentences beside a field are the CLI's.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/csv.h"
#include "client/fields.h"
#include "client/out.h"
#include "ctl/ctl.h"
#include "proto/clock.h"
#include "proto/date.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"
#include "web/app.h"

#define LIST_COLS 8

static const qs_kind *query_kind(wreq *r, const char *key)
{
    const char *name = kvs_str(r->post ? &r->f : &r->q, key);
    const qs_kind *k = *name ? qs_schema_kind_by_name(name) : qs_schema_kind(QS_K_SERVICE);
    return k;
}

static void kind_select(wreq *r, const qs_kind *cur, const char *name)
{
    hbuf *b = &r->out;
    hb_raw(b, "<select name=\"");
    hb_raw(b, name);
    hb_raw(b, "\" id=\"kind\">");
    for (uint32_t i = 0; i < qs_schema_nkinds(); i++) {
        const qs_kind *k = qs_schema_kind_at(i);
        hb_raw(b, "<option value=\"");
        hb_esc(b, k->name);
        hb_raw(b, k == cur ? "\" selected>" : "\">");
        hb_esc(b, k->label);
        hb_raw(b, "</option>");
    }
    hb_raw(b, "</select>");
}

/* The display text of field f in body b (caller frees). */
static char *field_text(wreq *r, const qs_field *f, const qs_body *b)
{
    return fields_display(r->app->st, f, qs_body_get(b, f->id), true);
}

/* ---- home ------------------------------------------------------------- */

static json_t *ctl_json(wreq *r, const char *req, int timeout_ms, char *errbuf, size_t n)
{
    char *reply = NULL;
    qs_err e = {0};
    if (qs_ctl_request(r->app->sock, req, timeout_ms, &reply, &e) != 0) {
        snprintf(errbuf, n, "%s", e.msg);
        return NULL;
    }
    json_t *j = json_loads(reply, 0, NULL);
    free(reply);
    if (!j)
        snprintf(errbuf, n, "the daemon's reply is not JSON");
    return j;
}

static void card(hbuf *b, const char *id, const char *label, const char *value)
{
    hb_raw(b, "<div class=\"card\" id=\"");
    hb_raw(b, id);
    hb_raw(b, "\"><div>");
    hb_esc(b, label);
    hb_raw(b, "</div><div class=\"big\">");
    hb_esc(b, value);
    hb_raw(b, "</div></div>");
}

void page_home(wreq *r)
{
    hbuf *b = &r->out;
    qs_store *st = r->app->st;
    qs_err e = {0};
    char v[64], when[32];
    qs_conflict *cf = NULL;
    size_t ncf = 0;
    /* Only what an index answers: not qs_store_info_get, which counts every
     * live record (a second at a million logs). */
    if (qs_store_conflicts(st, &cf, &ncf, &e) != 0) {
        page_error(r, 500, e.msg);
        return;
    }
    qs_conflicts_free(cf, ncf);
    page_begin(r, "首页");
    page_flash(r);
    /* this month's service logs */
    int32_t today = qs_date_from_time(qs_clock_wall_time());
    int32_t first = today / 100 * 100 + 1, last = today / 100 * 100 + 31;
    const qs_kind *sk = qs_schema_kind(QS_K_SERVICE);
    const qs_field *df = qs_kind_field_by_name(sk, "date");
    qs_filter flt = {.field = df->id, .value = qs_v_int(first), .upto = qs_v_int(last)};
    uint64_t month = 0;
    qs_store_count_eq(st, QS_K_SERVICE, &flt, 1, &month, NULL);
    hb_raw(b, "<div class=\"cards\">");
    snprintf(v, sizeof v, "%llu", (unsigned long long)month);
    card(b, "c-month", "本月服务记录", v);
    snprintf(v, sizeof v, "%zu", ncf);
    card(b, "c-conflicts", "未解决的冲突", v);
    char cerr[QS_ERR_MSG] = "";
    json_t *s = ctl_json(r, "{\"cmd\":\"status\"}", 1500, cerr, sizeof cerr);
    if (s && json_is_true(json_object_get(s, "ok"))) {
        json_t *p = json_object_get(s, "pending");
        if (json_is_integer(p)) {
            snprintf(v, sizeof v, "%lld", (long long)json_integer_value(p));
            card(b, "c-pending", "等待同步", v);
        }
        int64_t ok = json_integer_value(json_object_get(s, "last_ok_ms"));
        card(b, "c-last", "上次同步成功", fmt_time(ok, when, sizeof when));
        hb_raw(b, "</div>");
        const char *le = json_string_value(json_object_get(s, "last_error"));
        hb_raw(b, "<p>同步守护进程：");
        hb_esc(b, json_string_value(json_object_get(s, "link")));
        if (le && *le) {
            hb_raw(b, "；上次错误：<span class=\"error\">");
            hb_esc(b, le);
            hb_raw(b, "</span>");
        }
        hb_raw(b, "</p>");
    } else {
        /* no daemon: what the store itself knows of the parent (a county has
         * one peer, its aggregator) */
        qs_peer *peers = NULL;
        size_t np = 0;
        if (r->app->cfg.role == QS_ROLE_COUNTY && qs_store_peers(st, &peers, &np, NULL) == 0 &&
            np > 0) {
            uint64_t pending = 0;
            if (qs_store_pending(st, peers[0].node, &pending, NULL) == 0) {
                snprintf(v, sizeof v, "%llu", (unsigned long long)pending);
                card(b, "c-pending", "等待同步", v);
            }
            card(b, "c-last", "上次同步成功", fmt_time(peers[0].last_ok_ms, when, sizeof when));
        }
        free(peers);
        hb_raw(b, "</div><p class=\"error\" id=\"daemon\">同步守护进程 qianshoud 没有回答：");
        hb_esc(b, s ? json_string_value(json_object_get(s, "error")) : cerr);
        hb_raw(b, "</p>");
    }
    json_decref(s);
    if (r->app->cfg.role == QS_ROLE_COUNTY && r->s->role != QS_UROLE_VIEWER) {
        hb_raw(b, "<form method=\"post\" action=\"/sync\">");
        page_csrf(r);
        hb_raw(b, "<button type=\"submit\" id=\"sync\">立即同步</button></form>");
    }
    bool writer = r->s->role != QS_UROLE_VIEWER;
    hb_raw(b, "<h2>常用</h2><ul>");
    if (writer)
        hb_raw(b, "<li><a href=\"/new?kind=service\">新增服务记录</a></li>");
    hb_raw(b, "<li><a href=\"/records?kind=service\">查看服务记录</a></li>");
    if (writer)
        hb_raw(b, "<li><a href=\"/import\">导入表格（CSV）</a></li>");
    hb_raw(b, "<li><a href=\"/conflicts\">冲突</a></li></ul>");
    page_end(r);
}

void page_sync(wreq *r)
{
    if (!need_writer(r))
        return;
    char cerr[QS_ERR_MSG] = "";
    json_t *s = ctl_json(r, "{\"cmd\":\"sync\",\"wait\":false}", 3000, cerr, sizeof cerr);
    char msg[300];
    if (s && json_is_true(json_object_get(s, "ok")))
        snprintf(msg, sizeof msg, "已开始同步。");
    else
        snprintf(msg, sizeof msg, "没有开始同步：%s",
                 s ? json_string_value(json_object_get(s, "error")) : cerr);
    json_decref(s);
    set_flash(r, msg);
    audit(r, "sync", NULL, NULL);
    page_redirect(r, "/");
}

/* ---- list ------------------------------------------------------------- */

typedef struct list_ctx {
    wreq *r;
    const qs_kind *k;
    const qs_field *cols[LIST_COLS];
    size_t ncols;
    uint64_t skip, shown, page;
    bool more;
} list_ctx;

static int list_row(void *ctx, const qs_record *rec)
{
    list_ctx *c = ctx;
    if (c->skip) {
        c->skip--;
        return 0;
    }
    if (c->shown == c->page) {
        c->more = true;
        return 1;
    }
    c->shown++;
    hbuf *b = &c->r->out;
    qs_body body;
    qs_body_init(&body);
    out_body(rec, &body);
    hb_raw(b, "<tr>");
    page_record_cell(c->r, rec->id);
    for (size_t i = 0; i < c->ncols; i++) {
        char *t = field_text(c->r, c->cols[i], &body);
        hb_raw(b, "<td>");
        hb_esc(b, t);
        hb_raw(b, "</td>");
        free(t);
    }
    hb_raw(b, "</tr>");
    qs_body_free(&body);
    return 0;
}

void page_list(wreq *r)
{
    hbuf *b = &r->out;
    const qs_kind *k = query_kind(r, "kind");
    if (!k) {
        page_error(r, 404, "没有这种记录。");
        return;
    }
    const char *month = kvs_str(&r->q, "month"), *station = kvs_str(&r->q, "station");
    long pg = strtol(kvs_str(&r->q, "page"), NULL, 10);
    if (pg < 1 || pg > 1000000)
        pg = 1;
    qs_filter flt[2];
    size_t nf = 0;
    char problem[QS_ERR_MSG] = "";
    const qs_field *df = qs_kind_field_by_name(k, "date");
    const qs_field *sf = qs_kind_field_by_name(k, "station");
    if (*month && df && df->type == QS_F_DATE) {
        int y, m;
        char tail;
        if (sscanf(month, "%4d-%2d%c", &y, &m, &tail) == 2 && y >= 1900 && y <= 2999 && m >= 1 &&
            m <= 12) {
            flt[nf++] = (qs_filter){.field = df->id,
                                    .value = qs_v_int(y * 10000 + m * 100 + 1),
                                    .upto = qs_v_int(y * 10000 + m * 100 + 31)};
        } else {
            snprintf(problem, sizeof problem, "月份请写成 2024-03 这样的形式（“%.40s”不是）。",
                     month);
        }
    }
    if (*station && sf) {
        qs_value v = {.t = QS_V_NIL};
        qs_err e = {0};
        if (fields_parse(r->app->st, sf, station, &v, &e) == 0 && v.t != QS_V_NIL)
            flt[nf++] = (qs_filter){.field = sf->id, .value = v};
        else
            snprintf(problem, sizeof problem, "%s", e.msg);
    }
    char title[160];
    snprintf(title, sizeof title, "%s列表", k->label);
    page_begin(r, title);
    hb_raw(b, "<form method=\"get\" action=\"/records\" class=\"filters\">类型 ");
    kind_select(r, k, "kind");
    if (df) {
        hb_raw(b, " 月份 <input name=\"month\" id=\"f-month\" placeholder=\"2024-03\" size=\"8\" "
                  "value=\"");
        hb_esc(b, month);
        hb_raw(b, "\">");
    }
    if (sf) {
        hb_raw(b, " 社工站 <input name=\"station\" id=\"f-station\" placeholder=\"乡镇代码\" "
                  "size=\"10\" value=\"");
        hb_esc(b, station);
        hb_raw(b, "\">");
    }
    hb_raw(b, " <button type=\"submit\">筛选</button></form>");
    if (*problem)
        page_problem(r, problem);
    hb_raw(b, "<p>");
    if (r->s->role != QS_UROLE_VIEWER) {
        hb_raw(b, "<a href=\"/new?kind=");
        hb_url(b, k->name);
        hb_raw(b, "\" id=\"new\">新增");
        hb_esc(b, k->label);
        hb_raw(b, "</a> · ");
    }
    hb_raw(b, "<a href=\"/export?kind=");
    hb_url(b, k->name);
    if (*month) {
        hb_raw(b, "&amp;month=");
        hb_url(b, month);
    }
    if (*station) {
        hb_raw(b, "&amp;station=");
        hb_url(b, station);
    }
    hb_raw(b, *month || *station ? "\" id=\"export\">导出筛选出的记录（CSV）</a></p>"
                                 : "\" id=\"export\">导出全部（CSV）</a></p>");
    list_ctx c = {
        .r = r, .k = k, .page = WEB_PAGE_ROWS, .skip = (uint64_t)(pg - 1) * WEB_PAGE_ROWS};
    for (uint32_t i = 0; i < k->nfields && c.ncols < LIST_COLS; i++)
        c.cols[c.ncols++] = &k->fields[i];
    hb_raw(b, "<table id=\"records\"><thead><tr><th>编号</th>");
    for (size_t i = 0; i < c.ncols; i++) {
        hb_raw(b, "<th>");
        hb_esc(b, c.cols[i]->label);
        hb_raw(b, "</th>");
    }
    hb_raw(b, "</tr></thead><tbody>");
    /* LIMIT: SQLite keeps only the first rows of a filtered set's sort */
    qs_query q = {
        .kind = k->id, .filters = flt, .nfilters = *problem ? 0 : nf, .limit = c.skip + c.page + 1};
    qs_err e = {0};
    int rc = *problem ? 0 : qs_store_list(r->app->st, &q, list_row, &c, &e);
    hb_raw(b, "</tbody></table>");
    for (size_t i = 0; i < nf; i++) {
        qs_value_free(&flt[i].value);
        qs_value_free(&flt[i].upto);
    }
    if (rc < 0)
        page_problem(r, e.msg);
    hb_fmt(b, "<p>第 %ld 页，本页 %llu 条。", pg, (unsigned long long)c.shown);
    hbuf link;
    hb_init(&link);
    hb_raw(&link, "/records?kind=");
    hb_url(&link, k->name);
    hb_raw(&link, "&amp;month=");
    hb_url(&link, month);
    hb_raw(&link, "&amp;station=");
    hb_url(&link, station);
    if (pg > 1)
        hb_fmt(b, " <a href=\"%s&amp;page=%ld\" id=\"prev\">上一页</a>", link.p, pg - 1);
    if (c.more)
        hb_fmt(b, " <a href=\"%s&amp;page=%ld\" id=\"next\">下一页</a>", link.p, pg + 1);
    hb_raw(b, "</p>");
    hb_free(&link);
    page_end(r);
}

/* ---- show ------------------------------------------------------------- */

static bool query_id(wreq *r, uint8_t id[QS_ID_LEN])
{
    const char *s = kvs_str(r->post ? &r->f : &r->q, "id");
    if (qs_uuid_parse(s, id) != 0) {
        page_error(r, 404, "记录编号不对。");
        return false;
    }
    return true;
}

static void fields_table(wreq *r, const qs_kind *k, const qs_body *body)
{
    hbuf *b = &r->out;
    hb_raw(b, "<table class=\"fields\" id=\"fields\">");
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_field *f = &k->fields[i];
        char *t = field_text(r, f, body);
        hb_raw(b, "<tr><th>");
        hb_esc(b, f->label);
        hb_raw(b, "</th><td>");
        hb_esc(b, t);
        hb_raw(b, "</td></tr>");
        free(t);
    }
    hb_raw(b, "</table>");
}

void page_show(wreq *r)
{
    uint8_t id[QS_ID_LEN];
    qs_record rec;
    qs_err e = {0};
    hbuf *b = &r->out;
    if (!query_id(r, id))
        return;
    qs_record_init(&rec);
    if (qs_store_get(r->app->st, id, &rec, &e) != 0) {
        page_error(r, 404, "没有这条记录。");
        return;
    }
    const qs_kind *k = qs_schema_kind(rec.kind);
    if (!k) {
        qs_record_free(&rec);
        page_error(r, 404, "这条记录的类型本程序还不认识。");
        return;
    }
    char ids[40], title[160], when[32], rev[80];
    qs_uuid_format(id, ids);
    snprintf(title, sizeof title, "%s %s", k->label, rec.deleted ? "（已删除）" : "");
    page_begin(r, title);
    page_flash(r);
    qs_body body;
    qs_body_init(&body);
    out_body(&rec, &body);
    fields_table(r, k, &body);
    qs_body_free(&body);
    hb_raw(b, "<p>编号 <code id=\"record-id\">");
    hb_raw(b, ids);
    hb_raw(b, "</code>；范围 ");
    hb_esc(b, rec.scope);
    hb_raw(b, "；作者 ");
    hb_esc(b, rec.author);
    hb_raw(b, "；时间 ");
    hb_esc(b, fmt_time((int64_t)(rec.hlc >> 16), when, sizeof when));
    hb_raw(b, "</p>");
    if (!rec.deleted && r->s->role != QS_UROLE_VIEWER) {
        hb_raw(b, "<p><a href=\"/edit?id=");
        hb_raw(b, ids);
        hb_raw(b, "\" id=\"edit\">修改</a></p><form method=\"post\" action=\"/delete\">");
        page_csrf(r);
        hb_raw(b, "<input type=\"hidden\" name=\"id\" value=\"");
        hb_raw(b, ids);
        hb_raw(b, "\"><button type=\"submit\" id=\"delete\">删除这条记录</button></form>");
    }
    qs_record_free(&rec);
    qs_version_info *v = NULL;
    size_t n = 0;
    if (qs_store_history(r->app->st, id, &v, &n, &e) == 0) {
        hb_raw(b, "<h2>历史版本</h2><table id=\"history\"><tr><th>代</th><th>版本</th><th>作者"
                  "</th><th>时间</th><th>来自</th><th>状态</th><th>内容</th></tr>");
        for (size_t i = 0; i < n; i++) {
            qs_body vb;
            qs_body_init(&vb);
            out_body(&v[i].rec, &vb);
            hb_fmt(b, "<tr><td>%llu</td><td><code>", (unsigned long long)v[i].rec.rev.gen);
            hb_esc(b, qs_rev_format(&v[i].rec.rev, rev));
            hb_raw(b, "</code></td><td>");
            hb_esc(b, v[i].rec.author);
            hb_raw(b, "</td><td>");
            hb_esc(b, fmt_time((int64_t)(v[i].rec.hlc >> 16), when, sizeof when));
            hb_raw(b, "</td><td>");
            hb_esc(b, v[i].from[0] ? v[i].from : "本机");
            hb_raw(b, "</td><td>");
            hb_raw(b, v[i].rec.deleted ? "删除 " : "");
            hb_raw(b, v[i].head == 1 ? "当前" : v[i].head == 2 ? "冲突（未采用）" : "旧版本");
            hb_raw(b, "</td><td>");
            for (uint32_t j = 0; j < k->nfields; j++) {
                const qs_value *fv = qs_body_get(&vb, k->fields[j].id);
                if (!fv || fv->t == QS_V_NIL)
                    continue;
                char *t = fields_display(r->app->st, &k->fields[j], fv, true);
                hb_esc(b, k->fields[j].label);
                hb_raw(b, "：");
                hb_esc(b, t);
                hb_raw(b, "；");
                free(t);
            }
            hb_raw(b, "</td></tr>");
            qs_body_free(&vb);
        }
        hb_raw(b, "</table>");
        qs_version_info_free(v, n);
    }
    page_end(r);
}

/* ---- new / edit ------------------------------------------------------- */

typedef struct ferr {
    char msg[QS_VERR_MAX + 1][QS_ERR_MSG];
} ferr;

/* Options of a reference field: the clerk's text for each record of the
 * referenced kind (township code, name), at most 300. */
typedef struct dl_ctx {
    wreq *r;
    const qs_field *f;
    int n;
} dl_ctx;

static int dl_row(void *ctx, const qs_record *rec)
{
    dl_ctx *c = ctx;
    if (c->n++ >= 300)
        return 1;
    qs_value v = qs_v_bin(rec->id, QS_ID_LEN);
    qs_field one = *c->f;
    one.type = QS_F_REF;
    char *t = fields_display(c->r->app->st, &one, &v, true);
    qs_value_free(&v);
    hb_raw(&c->r->out, "<option value=\"");
    hb_esc(&c->r->out, t);
    hb_raw(&c->r->out, "\">");
    free(t);
    return 0;
}

static void render_field(wreq *r, const qs_field *f, const char *text, const qs_value *cur,
                         const char *error)
{
    hbuf *b = &r->out;
    hb_raw(b, "<label><span class=\"lab\">");
    hb_esc(b, f->label);
    if (f->flags & QS_FF_REQUIRED)
        hb_raw(b, " *");
    hb_raw(b, "</span> ");
    switch (f->type) {
    case QS_F_ENUM:
        hb_raw(b, "<select name=\"");
        hb_esc(b, f->name);
        hb_raw(b, "\" id=\"f-");
        hb_esc(b, f->name);
        hb_raw(b, "\"><option value=\"\"></option>");
        for (uint32_t i = 0; i < f->en->n; i++) {
            bool sel = cur && cur->t == QS_V_INT && cur->u.i == (int64_t)f->en->vals[i].code;
            if (!cur && text && *text) {
                const qs_enum_val *ev = qs_enum_lookup(f->en, text);
                sel = ev && ev->code == f->en->vals[i].code;
            }
            hb_fmt(b, "<option value=\"%u\"%s>", f->en->vals[i].code, sel ? " selected" : "");
            hb_esc(b, f->en->vals[i].label);
            hb_raw(b, "</option>");
        }
        hb_raw(b, "</select>");
        break;
    case QS_F_ENUMSET:
        for (uint32_t i = 0; i < f->en->n; i++) {
            bool on = false;
            if (cur && cur->t == QS_V_ARRAY)
                for (uint32_t j = 0; j < cur->u.a.n; j++)
                    on |= cur->u.a.v[j].t == QS_V_INT &&
                          cur->u.a.v[j].u.i == (int64_t)f->en->vals[i].code;
            hb_raw(b, "<span class=\"check\"><input type=\"checkbox\" name=\"");
            hb_esc(b, f->name);
            hb_fmt(b, "\" value=\"%u\"%s>", f->en->vals[i].code, on ? " checked" : "");
            hb_esc(b, f->en->vals[i].label);
            hb_raw(b, "</span> ");
        }
        break;
    case QS_F_BOOL: {
        bool t = cur && cur->t == QS_V_BOOL && cur->u.b,
             fl = cur && cur->t == QS_V_BOOL && !cur->u.b;
        hb_raw(b, "<select name=\"");
        hb_esc(b, f->name);
        hb_raw(b, "\" id=\"f-");
        hb_esc(b, f->name);
        hb_fmt(b,
               "\"><option value=\"\"></option><option value=\"是\"%s>是</option>"
               "<option value=\"否\"%s>否</option></select>",
               t ? " selected" : "", fl ? " selected" : "");
        break;
    }
    default:
        hb_raw(b, "<input name=\"");
        hb_esc(b, f->name);
        hb_raw(b, "\" id=\"f-");
        hb_esc(b, f->name);
        hb_raw(b, "\"");
        if (f->type == QS_F_DATE)
            hb_raw(b, " type=\"date\"");
        else if (f->type == QS_F_INT)
            hb_raw(b, " inputmode=\"numeric\"");
        if (f->type == QS_F_REF || f->type == QS_F_REFLIST) {
            hb_raw(b, " list=\"dl-");
            hb_esc(b, f->name);
            hb_raw(b, "\"");
        }
        hb_raw(b, " value=\"");
        hb_esc(b, text ? text : "");
        hb_raw(b, "\">");
        if (f->type == QS_F_REF || f->type == QS_F_REFLIST) {
            hb_raw(b, "<datalist id=\"dl-");
            hb_esc(b, f->name);
            hb_raw(b, "\">");
            dl_ctx c = {.r = r, .f = f};
            qs_query q = {.kind = f->ref_kind};
            qs_store_list(r->app->st, &q, dl_row, &c, NULL);
            hb_raw(b, "</datalist>");
        }
    }
    if (error && *error) {
        hb_raw(b, "<span class=\"field-error\" id=\"err-");
        hb_esc(b, f->name);
        hb_raw(b, "\">");
        hb_esc(b, error);
        hb_raw(b, "</span>");
    }
    hb_raw(b, "</label>");
}

/* The submitted text of field f: the value, or for an ENUMSET its checked
 * codes joined with ','. Caller frees. */
static char *posted_text(wreq *r, const qs_field *f)
{
    hbuf t;
    hb_init(&t);
    for (size_t i = 0; i < r->f.n; i++) {
        if (strcmp(r->f.a[i].k, f->name) != 0)
            continue;
        if (t.len)
            hb_raw(&t, ",");
        hb_raw(&t, r->f.a[i].v);
        if (f->type != QS_F_ENUMSET)
            break;
    }
    return t.p ? t.p : qs_xcalloc(1, 1);
}

void page_form(wreq *r)
{
    if (!need_writer(r))
        return;
    hbuf *b = &r->out;
    qs_store *st = r->app->st;
    bool edit = strcmp(r->path, "/edit") == 0;
    uint8_t id[QS_ID_LEN];
    qs_record rec;
    qs_record_init(&rec);
    qs_body body;
    qs_body_init(&body);
    qs_err e = {0};
    const qs_kind *k;
    char ids[40] = "";
    if (edit) {
        if (!query_id(r, id))
            return;
        if (qs_store_get(st, id, &rec, &e) != 0 || rec.deleted) {
            qs_record_free(&rec);
            page_error(r, 404, "没有这条记录（或已删除）。");
            return;
        }
        k = qs_schema_kind(rec.kind);
        out_body(&rec, &body);
        qs_uuid_format(id, ids);
        qs_record_free(&rec);
    } else {
        k = query_kind(r, "kind");
    }
    if (!k) {
        qs_body_free(&body);
        page_error(r, 404, "没有这种记录。");
        return;
    }
    static ferr errs; /* one request at a time (one thread) */
    memset(&errs, 0, sizeof errs);
    char **texts = qs_xcalloc(k->nfields, sizeof *texts);
    bool bad = false;
    if (r->post) {
        for (uint32_t i = 0; i < k->nfields; i++) {
            const qs_field *f = &k->fields[i];
            texts[i] = posted_text(r, f);
            qs_err fe = {0};
            if (fields_set(st, f, texts[i], &body, &fe) != 0) {
                snprintf(errs.msg[i], sizeof errs.msg[i], "%s", fe.msg);
                bad = true;
            }
        }
        qs_verrs ve;
        if (!bad && fields_finish(st, k, &body, &e) != 0) {
            snprintf(errs.msg[QS_VERR_MAX], sizeof errs.msg[0], "%s", e.msg);
            bad = true;
        }
        if (!bad && qs_schema_validate(k, &body, false, &ve, NULL) != 0) {
            for (uint32_t j = 0; j < ve.n; j++) {
                uint32_t slot = QS_VERR_MAX;
                for (uint32_t i = 0; i < k->nfields; i++)
                    if (k->fields[i].id == ve.e[j].field)
                        slot = i;
                char *m = errs.msg[slot < k->nfields ? slot : QS_VERR_MAX];
                const qs_field *f = qs_kind_field(k, ve.e[j].field);
                if (!*m) {
                    if (f)
                        snprintf(m, QS_ERR_MSG, "%s (%s): %s", f->name, f->label, ve.e[j].reason);
                    else
                        snprintf(m, QS_ERR_MSG, "%s", ve.e[j].reason);
                }
            }
            bad = true;
        }
        if (!bad) {
            qs_rev rev;
            int rc = qs_store_set_user(st, r->s->user, &e);
            if (rc == 0)
                rc = edit ? qs_store_update(st, id, &body, &rev, &e)
                          : qs_store_create(st, k->id, NULL, &body, id, &rev, &e);
            if (rc == 0) {
                audit(r, edit ? "edit" : "add", id, k->name);
                qs_uuid_format(id, ids);
                char target[80];
                snprintf(target, sizeof target, "/record?id=%s", ids);
                set_flash(r, edit ? "已保存修改。" : "已保存。");
                page_redirect(r, target);
                goto done;
            }
            snprintf(errs.msg[QS_VERR_MAX], sizeof errs.msg[0], "%s", e.msg);
            bad = true;
        }
    } else {
        for (uint32_t i = 0; i < k->nfields; i++)
            texts[i] = edit ? field_text(r, &k->fields[i], &body) : qs_xcalloc(1, 1);
    }
    char title[160];
    snprintf(title, sizeof title, "%s%s", edit ? "修改" : "新增", k->label);
    page_begin(r, title);
    if (bad) {
        hb_raw(b, "<p class=\"error\" id=\"form-error\">没有保存：请改正标出的地方。");
        hb_esc(b, errs.msg[QS_VERR_MAX]);
        hb_raw(b, "</p>");
    }
    hb_raw(b, "<form method=\"post\" class=\"record\" action=\"");
    hb_raw(b, edit ? "/edit" : "/new");
    hb_raw(b, "\">");
    page_csrf(r);
    if (edit) {
        hb_raw(b, "<input type=\"hidden\" name=\"id\" value=\"");
        hb_raw(b, ids);
        hb_raw(b, "\">");
    } else {
        hb_raw(b, "<input type=\"hidden\" name=\"kind\" value=\"");
        hb_esc(b, k->name);
        hb_raw(b, "\">");
    }
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_field *f = &k->fields[i];
        const qs_value *cur = r->post ? NULL : qs_body_get(&body, f->id);
        if (r->post && (f->type == QS_F_ENUM || f->type == QS_F_ENUMSET || f->type == QS_F_BOOL))
            cur = qs_body_get(&body, f->id);
        render_field(r, f, texts[i], cur, errs.msg[i]);
    }
    hb_raw(b, "<button type=\"submit\" id=\"save\">保存</button></form>");
    page_end(r);
done:
    for (uint32_t i = 0; i < k->nfields; i++)
        free(texts[i]);
    free(texts);
    qs_body_free(&body);
}

void page_delete(wreq *r)
{
    if (!need_writer(r))
        return;
    uint8_t id[QS_ID_LEN];
    qs_err e = {0};
    qs_rev rev;
    if (!query_id(r, id))
        return;
    if (qs_store_set_user(r->app->st, r->s->user, &e) != 0 ||
        qs_store_delete(r->app->st, id, &rev, &e) != 0) {
        page_error(r, 400, e.msg);
        return;
    }
    audit(r, "delete", id, NULL);
    char t[200], ids[40];
    snprintf(t, sizeof t, "/record?id=%s", qs_uuid_format(id, ids));
    set_flash(r, "已删除（删除也会同步；历史版本仍然保留）。");
    page_redirect(r, t);
}

/* ---- import / export -------------------------------------------------- */

/* A file name safe for the scratch directory: the client's base name with
 * anything but letters, digits, CJK, '.', '-', '_' replaced by '_'. */
static void safe_name(const char *in, char *out, size_t n)
{
    const char *base = in ? strrchr(in, '/') : NULL;
    base = base ? base + 1 : in;
    const char *bs = base ? strrchr(base, '\\') : NULL;
    base = bs ? bs + 1 : base;
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)(base ? base : ""); *p && j + 1 < n; p++)
        out[j++] =
            (isalnum(*p) || *p >= 0x80 || *p == '.' || *p == '-' || *p == '_') ? (char)*p : '_';
    out[j] = '\0';
    if (j == 0 || out[0] == '.')
        snprintf(out, n, "upload.csv");
}

void page_import(wreq *r)
{
    if (!need_writer(r))
        return;
    hbuf *b = &r->out;
    const qs_kind *k = query_kind(r, "kind");
    page_begin(r, "导入表格");
    if (r->post) {
        const kv *file = kvs_get(&r->f, "file");
        bool partial = *kvs_str(&r->f, "partial");
        if (!k || !file || !file->filename || file->vlen == 0) {
            hb_raw(b, "<p class=\"error\" id=\"import-error\">请选择记录类型和一个 CSV 文件。</p>");
        } else {
            char name[128], path[512];
            safe_name(file->filename, name, sizeof name);
            snprintf(path, sizeof path, "%s/%s", r->app->tmpdir, name);
            FILE *fp = fopen(path, "wb");
            bool ok = fp && fwrite(file->v, 1, file->vlen, fp) == file->vlen;
            if (fp && fclose(fp) != 0)
                ok = false;
            if (!ok) {
                hb_raw(b, "<p class=\"error\">不能保存上传的文件。</p>");
            } else {
                char *argv[6] = {"import", (char *)k->name, path, NULL, NULL, NULL};
                int argc = 3;
                if (partial)
                    argv[argc++] = "--partial";
                char *out = NULL, *err = NULL;
                int rc = run_cli(r, argc, argv, &out, &err);
                unlink(path);
                hb_fmt(b, "<div id=\"import-result\" class=\"%s\">", rc == 0 ? "ok" : "error");
                hb_raw(b, rc == 0 ? "<p>导入完成。</p>"
                          : rc == CLI_ATTN ? "<p>导入了没有问题的行；下面的行没有导入：</p>"
                                           : "<p>没有导入：</p>");
                hb_raw(b, "</div><ul id=\"import-problems\">");
                /* every line the import printed, with the scratch path cut */
                char *text[2] = {out, err};
                for (int t = 0; t < 2; t++) {
                    for (char *line = strtok(text[t], "\n"); line; line = strtok(NULL, "\n")) {
                        if (strncmp(line, "qianshou: ", 10) == 0)
                            line += 10;
                        char *at = strstr(line, r->app->tmpdir);
                        hb_raw(b, "<li>");
                        if (at) {
                            hb_escn(b, line, (size_t)(at - line));
                            line = at + strlen(r->app->tmpdir) + 1;
                        }
                        hb_esc(b, line);
                        hb_raw(b, "</li>");
                    }
                }
                hb_raw(b, "</ul>");
                char detail[200];
                snprintf(detail, sizeof detail, "%s %s: exit %d", k->name, name, rc);
                audit(r, "import", NULL, detail);
                free(out);
                free(err);
            }
        }
    }
    hb_raw(b, "<p>表格的第一行是列名（字段名或中文名，见“新增”页面上的名称）；Excel 存的 CSV"
              "（GB18030）和 UTF-8 都可以（.xlsx 请先在 Excel "
              "里“另存为”CSV）。有一行有问题就整个不导入，除非勾选“只导入没有问题的行”。"
              "</p><form method=\"post\" action=\"/import\" enctype=\"multipart/form-data\">");
    page_csrf(r);
    hb_raw(b, "<p>记录类型 ");
    kind_select(r, k ? k : qs_schema_kind(QS_K_SERVICE), "kind");
    hb_raw(b, "</p><p><input type=\"file\" name=\"file\" id=\"file\" accept=\".csv,text/csv\">"
              "</p><p><label><input type=\"checkbox\" name=\"partial\" value=\"1\" "
              "id=\"partial\"> 只导入没有问题的行</label></p>"
              "<button type=\"submit\" id=\"upload\">导入</button></form>");
    page_end(r);
}

void page_export(wreq *r)
{
    const qs_kind *k = query_kind(r, "kind");
    if (!k) {
        page_error(r, 404, "没有这种记录。");
        return;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/export-%s.csv", r->app->tmpdir, k->name);
    /* the list's filters (month, station): the export is the list the clerk
     * is looking at, every page of it */
    const char *month = kvs_str(&r->q, "month"), *station = kvs_str(&r->q, "station");
    char *fdate = NULL, *fstation = NULL;
    char *argv[9] = {"export", (char *)k->name, "--bom", "--labels", "-o", path};
    int argc = 6;
    if (*month && qs_kind_field_by_name(k, "date"))
        argv[argc++] = fdate = qs_xasprintf("date=%s", month);
    if (*station && qs_kind_field_by_name(k, "station"))
        argv[argc++] = fstation = qs_xasprintf("station=%s", station);
    char *out = NULL, *err = NULL;
    int rc = run_cli(r, argc, argv, &out, &err);
    free(out);
    free(fdate);
    free(fstation);
    FILE *fp = rc == 0 ? fopen(path, "rb") : NULL;
    if (!fp) {
        page_error(r, rc == CLI_DATA || rc == CLI_USAGE ? 400 : 500, *err ? err : "导出失败。");
        free(err);
        unlink(path);
        return;
    }
    free(err);
    hbuf body;
    hb_init(&body);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        hb_rawn(&body, chunk, got);
    fclose(fp);
    unlink(path);
    char fname[96];
    snprintf(fname, sizeof fname, "%s.csv", k->name);
    page_download(r, "text/csv; charset=utf-8", fname, &body);
}

/* ---- conflicts -------------------------------------------------------- */

void page_conflicts(wreq *r)
{
    hbuf *b = &r->out;
    qs_conflict *c = NULL;
    size_t n = 0;
    qs_err e = {0};
    page_begin(r, "冲突");
    page_flash(r);
    if (qs_store_conflicts(r->app->st, &c, &n, &e) != 0) {
        page_end_error(r, e.msg);
        return;
    }
    hb_raw(b, "<p>同一条记录在两处被修改（同步之前）时，两个版本都保留在这里，直到有人选定一个。"
              "</p><table id=\"conflicts\"><tr><th>记录</th><th>类型</th><th>范围</th>"
              "<th>未采用的版本数</th></tr>");
    for (size_t i = 0; i < n; i++) {
        char ids[40];
        const qs_kind *k = qs_schema_kind(c[i].kind);
        qs_uuid_format(c[i].id, ids);
        hb_raw(b, "<tr><td><a href=\"/conflict?id=");
        hb_raw(b, ids);
        hb_raw(b, "\">");
        hb_raw(b, ids);
        hb_raw(b, "</a></td><td>");
        hb_esc(b, k ? k->label : "?");
        hb_raw(b, "</td><td>");
        hb_esc(b, c[i].scope);
        hb_fmt(b, "</td><td class=\"num\">%u</td></tr>", c[i].nlosers);
    }
    hb_raw(b, "</table>");
    if (n == 0)
        hb_raw(b, "<p id=\"no-conflicts\">没有未解决的冲突。</p>");
    qs_conflicts_free(c, n);
    page_end(r);
}

void page_conflict(wreq *r)
{
    hbuf *b = &r->out;
    uint8_t id[QS_ID_LEN];
    qs_version_info *v = NULL;
    size_t n = 0;
    qs_err e = {0};
    if (!query_id(r, id))
        return;
    if (qs_store_history(r->app->st, id, &v, &n, &e) != 0 || n == 0) {
        page_error(r, 404, "没有这条记录。");
        return;
    }
    const qs_kind *k = qs_schema_kind(v[0].rec.kind);
    size_t heads[QS_VERR_MAX], nh = 0;
    for (size_t i = 0; i < n && nh < QS_VERR_MAX; i++)
        if (v[i].head)
            heads[nh++] = i;
    page_begin(r, "解决冲突");
    if (!k || nh < 2) {
        hb_raw(b, "<p id=\"no-conflicts\">这条记录没有未解决的冲突。</p>");
        qs_version_info_free(v, n);
        page_end(r);
        return;
    }
    qs_body *bodies = qs_xcalloc(nh, sizeof *bodies);
    for (size_t h = 0; h < nh; h++) {
        qs_body_init(&bodies[h]);
        out_body(&v[heads[h]].rec, &bodies[h]);
    }
    char ids[40], rev[80], when[32];
    qs_uuid_format(id, ids);
    hb_raw(b, "<table class=\"diff\" id=\"versions\"><tr><th>字段</th>");
    for (size_t h = 0; h < nh; h++) {
        const qs_version_info *x = &v[heads[h]];
        hb_raw(b, "<th>");
        hb_raw(b, x->head == 1 ? "目前采用的版本" : "未采用的版本");
        hb_raw(b, "<br>");
        hb_esc(b, x->rec.author);
        hb_raw(b, " · ");
        hb_esc(b, fmt_time((int64_t)(x->rec.hlc >> 16), when, sizeof when));
        hb_raw(b, "</th>");
    }
    hb_raw(b, "</tr>");
    for (uint32_t j = 0; j < k->nfields; j++) {
        const qs_field *f = &k->fields[j];
        char *t0 = fields_display(r->app->st, f, qs_body_get(&bodies[0], f->id), true);
        hb_raw(b, "<tr><th>");
        hb_esc(b, f->label);
        hb_raw(b, "</th>");
        for (size_t h = 0; h < nh; h++) {
            char *t = fields_display(r->app->st, f, qs_body_get(&bodies[h], f->id), true);
            hb_raw(b, strcmp(t, t0) != 0 ? "<td class=\"changed\">" : "<td>");
            hb_esc(b, t);
            hb_raw(b, "</td>");
            free(t);
        }
        free(t0);
        hb_raw(b, "</tr>");
    }
    hb_raw(b, "<tr><th></th>");
    for (size_t h = 0; h < nh; h++) {
        const qs_version_info *x = &v[heads[h]];
        hb_raw(b, "<td>");
        if (r->s->role != QS_UROLE_VIEWER) {
            hb_raw(b, "<form method=\"post\" action=\"/resolve\">");
            page_csrf(r);
            hb_raw(b, "<input type=\"hidden\" name=\"id\" value=\"");
            hb_raw(b, ids);
            hb_raw(b, "\"><input type=\"hidden\" name=\"take\" value=\"");
            hb_esc(b, qs_rev_format(&x->rec.rev, rev));
            hb_fmt(b, "\"><button type=\"submit\" id=\"take-%zu\">采用这个版本</button></form>", h);
        }
        hb_raw(b, "</td>");
    }
    hb_raw(b, "</tr></table>");
    for (size_t h = 0; h < nh; h++)
        qs_body_free(&bodies[h]);
    free(bodies);
    qs_version_info_free(v, n);
    page_end(r);
}

void page_resolve(wreq *r)
{
    if (!need_writer(r))
        return;
    uint8_t id[QS_ID_LEN];
    qs_rev take, rev;
    qs_err e = {0};
    if (!query_id(r, id))
        return;
    if (qs_rev_parse(kvs_str(&r->f, "take"), &take) != 0) {
        page_error(r, 400, "版本不对。");
        return;
    }
    if (qs_store_set_user(r->app->st, r->s->user, &e) != 0 ||
        qs_store_resolve(r->app->st, id, &take, NULL, &rev, &e) != 0) {
        page_error(r, 400, e.msg);
        return;
    }
    char rv[80];
    audit(r, "resolve", id, qs_rev_format(&take, rv));
    set_flash(r, "冲突已解决。");
    page_redirect(r, "/conflicts");
}
