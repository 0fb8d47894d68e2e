/*
 * server.c — qianshou-web: the browser interface's process. libh2o on libuv
 * with OpenSSL (Debian's libh2o-dev, 2.2.5): it was chosen over libmicrohttpd
 * because it runs on the loop and TLS library the daemon uses already, its
 * headers compile cleanly under our -Wall -Wextra -Werror with gcc and clang,
 * and a TLS 1.3 hello server built with it ran clean under ASan; libmicrohttpd
 * would have brought GnuTLS as a second TLS stack. libh2o parses HTTP/1.1 and
 * HTTP/2; nothing here does.
 *
 * Every response this file makes carries the security headers (sec_headers);
 * every page is built with hb_esc for anything that is not our markup.
 * Routing: ROUTES below; a POST always needs the session's CSRF token.
 *
 * usage: qianshou-web -c CONFIG   (the node's qianshoud.conf; [web] section)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/fields.h"
#include "ctl/ctl.h"
#include "daemon/log.h"
#include "proto/clock.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"
#include "web/app.h"

static webapp APP;
static h2o_globalconf_t H2O_CONFIG;
static h2o_context_t H2O_CTX;
static h2o_accept_ctx_t ACCEPT_CTX;

#define COOKIE "qs_sid"

const char *fmt_time(int64_t ms, char *buf, size_t n)
{
    if (ms <= 0) {
        snprintf(buf, n, "—");
        return buf;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

/* ---- layout ----------------------------------------------------------- */

typedef struct menu_item {
    const char *path, *label;
    int who; /* 0 everyone signed in, 1 writers, 2 admins */
} menu_item;

static const menu_item MENU[] = {
    {"/", "首页", 0},
    {"/records", "记录", 0},
    {"/import", "导入", 1},
    {"/conflicts", "冲突", 0},
    {"/fleet", "各县同步", 2},
    {"/report", "年度报告", 2},
    {"/rejected", "被拒记录", 2},
    {"/reference", "基础数据", 2},
    {"/users", "用户", 2},
};

static bool allowed(const wsession *s, int who)
{
    if (!s || !s->user[0])
        return false;
    if (who == 1)
        return s->role == QS_UROLE_CLERK || s->role == QS_UROLE_ADMIN;
    if (who == 2)
        return s->role == QS_UROLE_ADMIN;
    return true;
}

void page_begin(wreq *r, const char *title)
{
    hbuf *b = &r->out;
    hb_raw(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
              "<link rel=\"stylesheet\" href=\"/static/app.css\"><title>");
    hb_esc(b, title);
    hb_raw(b, " — 牵手同步</title></head><body><header><span class=\"brand\">牵手同步</span> ");
    hb_esc(b, APP.name[0] ? APP.name : APP.cfg.node);
    hb_raw(b, " <span class=\"node\">");
    hb_esc(b, APP.cfg.node);
    hb_raw(b, "</span>");
    if (r->s && r->s->user[0]) {
        hb_raw(b, "<nav>");
        for (size_t i = 0; i < sizeof MENU / sizeof MENU[0]; i++) {
            if (!allowed(r->s, MENU[i].who))
                continue;
            hb_raw(b, "<a href=\"");
            hb_raw(b, MENU[i].path);
            hb_raw(b, "\">");
            hb_raw(b, MENU[i].label);
            hb_raw(b, "</a> ");
        }
        hb_raw(b, "</nav><form class=\"logout\" method=\"post\" action=\"/logout\">");
        page_csrf(r);
        hb_raw(b, "<span class=\"user\">");
        hb_esc(b, r->s->user);
        hb_raw(b, "（");
        hb_raw(b, qs_user_role_label(r->s->role));
        hb_raw(b, "）</span> <button type=\"submit\" id=\"logout\">退出</button></form>");
    }
    hb_raw(b, "</header><main><h1>");
    hb_esc(b, title);
    hb_raw(b, "</h1>");
}

void page_end(wreq *r)
{
    hb_raw(&r->out, "</main></body></html>\n");
}

void page_csrf(wreq *r)
{
    if (!r->s)
        return;
    hb_raw(&r->out, "<input type=\"hidden\" name=\"csrf\" value=\"");
    hb_esc(&r->out, r->s->csrf);
    hb_raw(&r->out, "\">");
}

void page_error(wreq *r, int status, const char *sentence)
{
    hb_free(&r->out);
    r->status = status;
    page_begin(r, status == 403 ? "不允许" : status == 404 ? "找不到" : "请求有误");
    hb_raw(&r->out, "<p class=\"error\" id=\"page-error\">");
    hb_esc(&r->out, sentence);
    hb_raw(&r->out, "</p><p><a href=\"/\">返回首页</a></p>");
    page_end(r);
}

void page_problem(wreq *r, const char *sentence)
{
    hb_raw(&r->out, "<p class=\"error\">");
    hb_esc(&r->out, sentence);
    hb_raw(&r->out, "</p>");
}

void page_end_error(wreq *r, const char *sentence)
{
    page_problem(r, sentence);
    page_end(r);
}

void page_record_cell(wreq *r, const uint8_t id[QS_ID_LEN])
{
    char ids[40];
    qs_uuid_format(id, ids);
    hb_raw(&r->out, "<td><a href=\"/record?id=");
    hb_raw(&r->out, ids);
    hb_raw(&r->out, "\">");
    hb_rawn(&r->out, ids + 24, 12);
    hb_raw(&r->out, "</a></td>");
}

void page_flash(wreq *r)
{
    if (!r->s || !r->s->flash[0])
        return;
    hb_raw(&r->out, "<p class=\"ok\" id=\"flash\">");
    hb_esc(&r->out, r->s->flash);
    hb_raw(&r->out, "</p>");
    r->s->flash[0] = '\0';
}

void set_flash(wreq *r, const char *sentence)
{
    if (r->s)
        snprintf(r->s->flash, sizeof r->s->flash, "%s", sentence);
}

void page_redirect(wreq *r, const char *target)
{
    r->status = 303;
    snprintf(r->location, sizeof r->location, "%s", target);
}

void page_download(wreq *r, const char *ctype, const char *fname, hbuf *body)
{
    hb_free(&r->out);
    r->out = *body;
    hb_init(body);
    r->ctype = ctype;
    /* fname is ASCII made by us; filename* carries nothing else */
    snprintf(r->disposition, sizeof r->disposition, "attachment; filename=\"%s\"", fname);
}

bool need_writer(wreq *r)
{
    if (allowed(r->s, 1))
        return true;
    page_error(r, 403, "这一页只对职员和管理员开放（查看者只能查看）。");
    return false;
}

bool need_admin(wreq *r)
{
    if (allowed(r->s, 2))
        return true;
    page_error(r, 403, "这一页只对管理员（省级操作员）开放。");
    return false;
}

void audit(wreq *r, const char *action, const uint8_t *id, const char *detail)
{
    char ids[40];
    qs_err e = {0};
    if (qs_audit_add(APP.st, r->now, r->s ? r->s->user : "", action,
                     id ? qs_uuid_format(id, ids) : NULL, detail, &e) != 0)
        qs_log(QS_LOG_ERROR, "web", "audit: %s", e.msg);
}

/* ---- running client commands in this process --------------------------- */

static char *slurp_fd(int fd)
{
    hbuf b;
    hb_init(&b);
    char chunk[8192];
    ssize_t got;
    lseek(fd, 0, SEEK_SET);
    while ((got = read(fd, chunk, sizeof chunk)) > 0)
        hb_rawn(&b, chunk, (size_t)got);
    if (!b.p)
        return qs_xcalloc(1, 1);
    return b.p;
}

int run_cli(wreq *r, int argc, char **argv, char **out, char **err)
{
    char po[300], pe[300];
    snprintf(po, sizeof po, "%s/out.XXXXXX", APP.tmpdir);
    snprintf(pe, sizeof pe, "%s/err.XXXXXX", APP.tmpdir);
    int fo = mkstemp(po), fe = mkstemp(pe);
    if (fo < 0 || fe < 0) {
        if (fo >= 0)
            close(fo);
        *out = qs_xcalloc(1, 1);
        *err = qs_xmalloc(128);
        snprintf(*err, 128, "cannot make a scratch file: %s", strerror(errno));
        return CLI_ENV;
    }
    unlink(po);
    unlink(pe);
    fflush(stdout);
    fflush(stderr);
    int so = dup(STDOUT_FILENO), se = dup(STDERR_FILENO);
    dup2(fo, STDOUT_FILENO);
    dup2(fe, STDERR_FILENO);
    cli c = {.dir = APP.cfg.data_dir, .json = false, .user = r->s ? r->s->user : NULL};
    fields_forget(); /* the command opens a store handle of its own */
    int rc = cli_run(&c, argc, argv);
    fields_forget();
    fflush(stdout);
    fflush(stderr);
    dup2(so, STDOUT_FILENO);
    dup2(se, STDERR_FILENO);
    close(so);
    close(se);
    *out = slurp_fd(fo);
    *err = slurp_fd(fe);
    close(fo);
    close(fe);
    return rc;
}

/* ---- sign-in ---------------------------------------------------------- */

static void page_login(wreq *r, const char *problem, const char *user)
{
    page_begin(r, "登录");
    hb_raw(&r->out, "<form method=\"post\" action=\"/login\" class=\"login\">");
    page_csrf(r);
    if (problem) {
        hb_raw(&r->out, "<p class=\"error\" id=\"login-error\">");
        hb_esc(&r->out, problem);
        hb_raw(&r->out, "</p>");
    }
    hb_raw(&r->out, "<label>用户名 <input name=\"user\" id=\"user\" autocomplete=\"username\" "
                    "maxlength=\"32\" required value=\"");
    hb_esc(&r->out, user ? user : "");
    hb_raw(&r->out, "\"></label><label>密码 <input type=\"password\" name=\"password\" "
                    "id=\"password\" autocomplete=\"current-password\" required></label>"
                    "<button type=\"submit\" id=\"login\">登录</button></form>");
    page_end(r);
}

/* Sign-ins checked per second, all users together: each costs an argon2id
 * hash (19 MiB, tens of ms) on the one loop thread, so a flood of them would
 * stall every page. A bucket of LOGIN_BURST refilled at LOGIN_RATE a second;
 * an attempt past it is answered at once, unchecked and uncounted. */
#define LOGIN_BURST 20.0
#define LOGIN_RATE 5.0

static bool login_allowed(int64_t now_ms)
{
    static double tokens = LOGIN_BURST;
    static int64_t last_ms;
    if (last_ms)
        tokens += (double)(now_ms - last_ms) / 1000.0 * LOGIN_RATE;
    if (tokens > LOGIN_BURST)
        tokens = LOGIN_BURST;
    last_ms = now_ms;
    if (tokens < 1.0)
        return false;
    tokens -= 1.0;
    return true;
}

static void do_login(wreq *r)
{
    if (!r->post) {
        if (!r->s) {
            r->s = session_new(&APP.sess, r->now);
            r->set_cookie = true;
        }
        if (r->s->user[0]) {
            page_redirect(r, "/");
            return;
        }
        page_login(r, NULL, NULL);
        return;
    }
    const char *user = kvs_str(&r->f, "user"), *pw = kvs_str(&r->f, "password");
    qs_login_result res;
    int64_t until;
    qs_user u;
    qs_err e = {0};
    if (strlen(user) >= QS_USER_MAX || strlen(pw) > QS_PW_MAX_LEN) {
        page_login(r, "用户名或密码不对。", NULL);
        return;
    }
    static bool flooded; /* log the start of a flood, not each attempt */
    bool allowed = login_allowed(r->now);
    if (!allowed && !flooded)
        qs_log(QS_LOG_WARN, "web", "sign-ins past %.0f a second: refused unchecked", LOGIN_RATE);
    flooded = !allowed;
    if (!allowed) {
        page_login(r, "登录尝试太多，请过几秒再试。", user);
        return;
    }
    if (qs_user_login(APP.st, user, pw, r->now, &res, &until, &u, &e) != 0) {
        qs_log(QS_LOG_ERROR, "web", "login: %s", e.msg);
        page_error(r, 500, "数据库暂时不能使用，请稍后再试。");
        return;
    }
    char when[32];
    switch (res) {
    case QS_LOGIN_OK:
        session_renew(r->s, r->now);
        snprintf(r->s->user, sizeof r->s->user, "%s", u.name);
        r->s->role = u.role;
        memcpy(r->s->pw_tag, u.pw_tag, sizeof r->s->pw_tag);
        r->set_cookie = true;
        qs_log(QS_LOG_INFO, "web", "%s signed in (%s)", u.name, qs_user_role_name(u.role));
        page_redirect(r, "/");
        return;
    case QS_LOGIN_LOCKED: {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "连续 %d 次密码错误，账户已锁定到 %s，请稍后再试或请管理员重设密码。",
                 QS_LOGIN_MAX_FAILS, fmt_time(until, when, sizeof when));
        qs_log(QS_LOG_WARN, "web", "account %s is locked after failed sign-ins", user);
        page_login(r, msg, user);
        return;
    }
    case QS_LOGIN_DISABLED:
        page_login(r, "这个账户已停用，请找管理员。", user);
        return;
    default:
        page_login(r, "用户名或密码不对。", user);
        return;
    }
}

static void do_logout(wreq *r)
{
    if (r->s->user[0]) {
        audit(r, "logout", NULL, NULL);
        qs_log(QS_LOG_INFO, "web", "%s signed out", r->s->user);
    }
    session_drop(r->s);
    r->s = session_new(&APP.sess, r->now);
    r->set_cookie = true;
    page_redirect(r, "/login");
}

/* ---- routing ---------------------------------------------------------- */

typedef struct route {
    const char *path;
    void (*fn)(wreq *r);
    bool post_ok, get_ok;
} route;

static const route ROUTES[] = {
    {"/", page_home, false, true},
    {"/records", page_list, false, true},
    {"/record", page_show, false, true},
    {"/new", page_form, true, true},
    {"/edit", page_form, true, true},
    {"/delete", page_delete, true, false},
    {"/import", page_import, true, true},
    {"/export", page_export, false, true},
    {"/conflicts", page_conflicts, false, true},
    {"/conflict", page_conflict, false, true},
    {"/resolve", page_resolve, true, false},
    {"/sync", page_sync, true, false},
    {"/fleet", page_fleet, false, true},
    {"/report", page_report, false, true},
    {"/rejected", page_rejected, false, true},
    {"/reference", page_reference, false, true},
    {"/users", page_users, true, true},
    {"/audit", page_audit, false, true},
};

/* The security headers of every response (with Cache-Control and, under
 * TLS, HSTS). */
static const struct {
    const char *k, *v;
} SEC_HEADERS[] = {
    {"content-security-policy",
     "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
     "frame-ancestors 'none'; base-uri 'none'"},
    {"x-content-type-options", "nosniff"},
    {"referrer-policy", "no-referrer"},
    {"x-frame-options", "DENY"},
    {"cross-origin-opener-policy", "same-origin"},
};
#define N_SEC_HEADERS (sizeof SEC_HEADERS / sizeof SEC_HEADERS[0])
static const char HSTS[] = "max-age=31536000";

static void sec_headers(h2o_req_t *req, bool is_static)
{
    for (size_t i = 0; i < N_SEC_HEADERS; i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, SEC_HEADERS[i].k,
                              strlen(SEC_HEADERS[i].k), 0, NULL, SEC_HEADERS[i].v,
                              strlen(SEC_HEADERS[i].v));
    const char *cc = is_static ? "max-age=3600" : "no-store";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, cc, strlen(cc));
    if (APP.tls)
        h2o_add_header_by_str(&req->pool, &req->res.headers,
                              H2O_STRLIT("strict-transport-security"), 0, NULL, HSTS, strlen(HSTS));
}

/* libh2o's own refusals (413 for a body past max_upload, told by its
 * Content-Length or found while reading it) are made before our handler is
 * called, on the host's fallback path; a headers filter there gives them the
 * same security headers as our responses. (Its 400 for a request it cannot
 * parse is written straight to the socket and passes no filter.) */
static h2o_iovec_t SEC_NAMES[N_SEC_HEADERS + 2];
static h2o_headers_command_t SEC_CMDS[N_SEC_HEADERS + 3];

static void refusal_header(size_t *n, const char *name, const char *value)
{
    /* the filter wants libh2o's token for a name it has one for */
    const h2o_token_t *t = h2o_lookup_token(name, strlen(name));
    SEC_NAMES[*n] = h2o_iovec_init(name, strlen(name));
    SEC_CMDS[*n] =
        (h2o_headers_command_t){H2O_HEADERS_CMD_SET, t ? (h2o_iovec_t *)&t->buf : &SEC_NAMES[*n],
                                h2o_iovec_init(value, strlen(value))};
    (*n)++;
}

static void refusal_headers(h2o_hostconf_t *host)
{
    size_t n = 0;
    for (size_t i = 0; i < N_SEC_HEADERS; i++)
        refusal_header(&n, SEC_HEADERS[i].k, SEC_HEADERS[i].v);
    refusal_header(&n, "cache-control", "no-store");
    if (APP.tls)
        refusal_header(&n, "strict-transport-security", HSTS);
    SEC_CMDS[n] = (h2o_headers_command_t){H2O_HEADERS_CMD_NULL, NULL, {NULL, 0}};
    h2o_headers_register(&host->fallback_path, SEC_CMDS);
}

static void send_plain(h2o_req_t *req, int status, const char *reason, const char *body)
{
    req->res.status = status;
    req->res.reason = reason;
    sec_headers(req, false);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; charset=utf-8"));
    h2o_send_inline(req, body, strlen(body));
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 303:
        return "See Other";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    default:
        return "Internal Server Error";
    }
}

static void finish(wreq *r)
{
    h2o_req_t *req = r->req;
    req->res.status = r->status;
    req->res.reason = reason_of(r->status);
    sec_headers(req, false);
    if (r->set_cookie && r->s) {
        char c[256];
        int n = snprintf(c, sizeof c, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s", COOKIE,
                         r->s->sid, APP.tls ? "; Secure" : "");
        h2o_iovec_t v = h2o_strdup(&req->pool, c, (size_t)n);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, v.base, v.len);
        OPENSSL_cleanse(c, sizeof c);
    }
    if (r->status == 303) {
        h2o_iovec_t v = h2o_strdup(&req->pool, r->location, strlen(r->location));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, v.base, v.len);
        h2o_send_inline(req, "", 0);
        return;
    }
    const char *ct = r->ctype ? r->ctype : "text/html; charset=utf-8";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct, strlen(ct));
    if (r->disposition[0]) {
        h2o_iovec_t v = h2o_strdup(&req->pool, r->disposition, strlen(r->disposition));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, NULL, v.base,
                       v.len);
    }
    h2o_iovec_t body = h2o_strdup(&req->pool, r->out.p ? r->out.p : "", r->out.len);
    h2o_send_inline(req, body.base, body.len);
}

static bool header_is(h2o_iovec_t v, const char *prefix)
{
    size_t n = strlen(prefix);
    return v.len >= n && strncasecmp(v.base, prefix, n) == 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    wreq r = {.app = &APP, .req = req, .status = 200, .now = qs_clock_wall_ms()};
    hb_init(&r.out);
    /* the CLI's reference lookups are cached for a process; ours outlives
     * many edits (by clerks here, the CLI, a sync) */
    fields_forget();
    /* limits libh2o leaves to us */
    if (req->path.len > WEB_MAX_TARGET) {
        send_plain(req, 414, "URI Too Long", "request target too long\n");
        return 0;
    }
    size_t hbytes = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        hbytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    if (hbytes > WEB_MAX_HEADER_BYTES) {
        send_plain(req, 431, "Request Header Fields Too Large", "request headers too large\n");
        return 0;
    }
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    memcpy(r.path, req->path.base, plen);
    r.path[plen] = '\0';
    if (strcmp(r.path, "/static/app.css") == 0) {
        req->res.status = 200;
        req->res.reason = "OK";
        sec_headers(req, true);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/css; charset=utf-8"));
        h2o_send_inline(req, WEB_CSS, strlen(WEB_CSS));
        return 0;
    }
    r.post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    if (!r.post && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        send_plain(req, 405, "Method Not Allowed", "method not allowed\n");
        return 0;
    }
    if (req->query_at != SIZE_MAX &&
        form_urlencoded(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1,
                        &r.q) != 0) {
        send_plain(req, 400, "Bad Request", "bad query string\n");
        goto done;
    }
    if (r.post) {
        ssize_t ci = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        h2o_iovec_t ct = ci >= 0 ? req->headers.entries[ci].value : h2o_iovec_init(H2O_STRLIT(""));
        int rc;
        if (header_is(ct, "multipart/form-data"))
            rc = form_multipart(ct.base, ct.len, req->entity.base, req->entity.len, &r.f);
        else if (header_is(ct, "application/x-www-form-urlencoded"))
            rc = form_urlencoded(req->entity.base, req->entity.len, &r.f);
        else
            rc = QS_EINVAL;
        if (rc != 0) {
            send_plain(req, 400, "Bad Request", "the form could not be read\n");
            goto done;
        }
    }
    ssize_t ki = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, -1);
    for (; ki >= 0 && !r.s; ki = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, ki)) {
        char sid[WEB_SID_HEX + 1];
        h2o_iovec_t v = req->headers.entries[ki].value;
        if (cookie_get(v.base, v.len, COOKIE, sid, sizeof sid))
            r.s = session_find(&APP.sess, sid, r.now);
    }
    /* A signed-in session follows its account, read again at every request:
     * disabled, removed or given a new password since the sign-in (at the
     * users page or with `qianshou user disable|passwd`) ends it; a changed
     * role applies at once. */
    if (r.s && r.s->user[0]) {
        qs_user u;
        qs_err e = {0};
        int rc = qs_user_get(APP.st, r.s->user, &u, &e);
        const char *why = rc == QS_ENOTFOUND                                    ? "account removed"
                          : rc != 0                                             ? NULL
                          : u.disabled                                          ? "account disabled"
                          : memcmp(u.pw_tag, r.s->pw_tag, sizeof u.pw_tag) != 0 ? "new password"
                                                                                : NULL;
        if (rc != 0 && rc != QS_ENOTFOUND) {
            qs_log(QS_LOG_ERROR, "web", "users: %s", e.msg);
            page_error(&r, 500, "数据库暂时不能使用，请稍后再试。");
            finish(&r);
            goto done;
        }
        if (why) {
            qs_log(QS_LOG_WARN, "web", "%s: %s since the sign-in; session ended", r.s->user, why);
            audit(&r, "session_ended", NULL, why);
            session_drop(r.s);
            r.s = NULL;
        } else {
            r.s->role = u.role;
        }
    }
    /* Every POST: a session and its CSRF token. */
    if (r.post && (!r.s || !session_csrf_ok(r.s, kvs_str(&r.f, "csrf")))) {
        qs_log(QS_LOG_WARN, "web", "POST %s refused: no valid form token", r.path);
        page_error(&r, 403,
                   "这个表单已过期或不是从本系统的页面提交的（缺少有效的表单令牌）。请重新打开页面"
                   "再提交。");
        finish(&r);
        goto done;
    }
    if (strcmp(r.path, "/login") == 0) {
        do_login(&r);
    } else if (strcmp(r.path, "/logout") == 0 && r.post) {
        do_logout(&r);
    } else if (!r.s || !r.s->user[0]) {
        page_redirect(&r, "/login");
    } else {
        const route *rt = NULL;
        for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++)
            if (strcmp(ROUTES[i].path, r.path) == 0)
                rt = &ROUTES[i];
        if (!rt)
            page_error(&r, 404, "没有这个页面。");
        else if ((r.post && !rt->post_ok) || (!r.post && !rt->get_ok))
            page_error(&r, 405, "这个页面不接受这种请求。");
        else
            rt->fn(&r);
    }
    finish(&r);
done:
    kvs_free(&r.q);
    kvs_free(&r.f);
    hb_free(&r.out);
    return 0;
}

/* ---- start-up --------------------------------------------------------- */

static void on_accept(uv_stream_t *listener, int status)
{
    if (status != 0)
        return;
    uv_tcp_t *conn = h2o_mem_alloc(sizeof *conn);
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(&ACCEPT_CTX, sock);
}

static uv_signal_t SIGTERM_H, SIGINT_H;

static void on_signal(uv_signal_t *h, int sig)
{
    qs_log(QS_LOG_INFO, "web", "stopping (signal %d)", sig);
    uv_stop(h->loop);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static SSL_CTX *make_tls(const qs_config *cfg, qs_err *e)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    ERR_clear_error();
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        qs_err_set(e, QS_ETLS, "cannot make a TLS context");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->web.cert) != 1) {
        qs_err_set(e, QS_ETLS, "[web] cert %s: not a readable PEM certificate", cfg->web.cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->web.key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        qs_err_set(e, QS_ETLS, "[web] key %s: not a readable PEM key of [web] cert", cfg->web.key);
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static const char USAGE[] =
    "usage: qianshou-web -c CONFIG [--check]\n"
    "\n"
    "The browser interface of a node: reads CONFIG (the node's qianshoud.conf), its\n"
    "[node] data_dir and [web] section (address, port, cert, key, session_timeout,\n"
    "max_upload), and serves pages for the users made with `qianshou user add`.\n"
    "  --check   check the config, open the store and exit\n";

int main(int argc, char **argv)
{
    const char *cfgpath = NULL;
    bool check = false;
    qs_err e = {0};
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (o == 'c')
            cfgpath = optarg;
        else if (o == 'k')
            check = true;
        else if (o == 'h') {
            fputs(USAGE, stdout);
            return 0;
        } else {
            fputs(USAGE, stderr);
            return 1;
        }
    }
    if (!cfgpath || optind != argc) {
        fputs(USAGE, stderr);
        return 1;
    }
    umask(007);
    signal(SIGPIPE, SIG_IGN);
    if (qs_config_load(&APP.cfg, cfgpath, &e) != 0) {
        qs_log(QS_LOG_ERROR, "web", "%s", e.msg);
        return 3;
    }
    qs_log_set_level(APP.cfg.log_level);
    qs_store_opts so = qs_store_opts_default();
    so.dir = APP.cfg.data_dir;
    so.node = APP.cfg.node;
    /* a long-lived reader of pages: a page cache that holds the indexes and
     * the rows clerks look at (SQLite's default is 2 MiB) */
    so.cache_mib = 64;
    if (qs_store_open(&so, &APP.st, &e) != 0 || qs_users_init(APP.st, &e) != 0) {
        qs_log(QS_LOG_ERROR, "web", "store %s: %s", APP.cfg.data_dir, e.msg);
        return 3;
    }
    qs_store_name(APP.st, APP.name, NULL);
    qs_ctl_sock_path(APP.cfg.data_dir, APP.sock, sizeof APP.sock);
    sessions_init(&APP.sess, (int64_t)APP.cfg.web.session_timeout * 1000);
    const char *tmp = getenv("TMPDIR");
    snprintf(APP.tmpdir, sizeof APP.tmpdir, "%s/qianshou-web.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(APP.tmpdir)) {
        qs_log(QS_LOG_ERROR, "web", "cannot make a scratch directory: %s", strerror(errno));
        return 3;
    }
    SSL_CTX *ssl = NULL;
    if (APP.cfg.web.cert[0]) {
        if (!(ssl = make_tls(&APP.cfg, &e))) {
            qs_log(QS_LOG_ERROR, "web", "%s", e.msg);
            rmdir(APP.tmpdir);
            return 3;
        }
        APP.tls = true;
    }
    if (check) {
        printf("ok: node %s, store %s, web on %s:%d (%s)\n", APP.cfg.node, APP.cfg.data_dir,
               APP.cfg.web.address, APP.cfg.web.port, APP.tls ? "https" : "http, loopback only");
        rmdir(APP.tmpdir);
        return 0;
    }

    h2o_config_init(&H2O_CONFIG);
    H2O_CONFIG.max_request_entity_size = APP.cfg.web.max_upload;
    H2O_CONFIG.server_name = h2o_iovec_init(H2O_STRLIT("qianshou-web"));
    h2o_hostconf_t *host =
        h2o_config_register_host(&H2O_CONFIG, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(pc, sizeof *h);
    h->on_req = on_req;
    refusal_headers(host);

    uv_loop_t loop;
    uv_loop_init(&loop);
    h2o_context_init(&H2O_CTX, &loop, &H2O_CONFIG);
    ACCEPT_CTX.ctx = &H2O_CTX;
    ACCEPT_CTX.hosts = H2O_CONFIG.hosts;
    ACCEPT_CTX.ssl_ctx = ssl;

    struct sockaddr_storage addr;
    int rc = strchr(APP.cfg.web.address, ':')
                 ? uv_ip6_addr(APP.cfg.web.address, APP.cfg.web.port, (struct sockaddr_in6 *)&addr)
                 : uv_ip4_addr(APP.cfg.web.address, APP.cfg.web.port, (struct sockaddr_in *)&addr);
    uv_tcp_t listener;
    uv_tcp_init(&loop, &listener);
    if (rc == 0)
        rc = uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&listener, 128, on_accept);
    if (rc != 0) {
        qs_log(QS_LOG_ERROR, "web", "cannot listen on %s:%d: %s", APP.cfg.web.address,
               APP.cfg.web.port, uv_strerror(rc));
        rmdir(APP.tmpdir);
        return 3;
    }
    uv_signal_init(&loop, &SIGTERM_H);
    uv_signal_start(&SIGTERM_H, on_signal, SIGTERM);
    uv_signal_init(&loop, &SIGINT_H);
    uv_signal_start(&SIGINT_H, on_signal, SIGINT);
    qs_log(QS_LOG_INFO, "web", "serving node %s on %s://%s:%d/", APP.cfg.node,
           APP.tls ? "https" : "http", APP.cfg.web.address, APP.cfg.web.port);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* Close everything on the loop (listener, signals, connections still
     * open, libh2o's timers), let the close callbacks run, then free. */
    h2o_context_dispose(&H2O_CTX);
    uv_walk(&loop, close_handle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    h2o_config_dispose(&H2O_CONFIG);
    qs_store_close(APP.st);
    rmdir(APP.tmpdir);
    if (ssl)
        SSL_CTX_free(ssl);
    return 0;
}
