/*
 * app.h — the web application's state and one request, shared by server.c
 * (libh2o, routing, sign-in), pages.c (clerk pages) and operator.c
 * (province pages).
 */
#ifndef QS_WEB_APP_H
#define QS_WEB_APP_H

#define H2O_USE_LIBUV 1
#include <h2o.h>

#include "client/cli.h"
#include "daemon/config.h"
#include "web/web.h"

typedef struct webapp {
    qs_config cfg;
    qs_store *st;
    wsessions sess;
    bool tls;
    char name[QS_NAME_MAX]; /* the node's display name */
    char sock[QS_CFG_PATH + 32];
    char tmpdir[256]; /* private (0700) scratch for uploads and downloads */
} webapp;

typedef struct wreq {
    webapp *app;
    h2o_req_t *req;
    char path[WEB_MAX_TARGET + 1]; /* without the query */
    kvs q;                         /* query string */
    kvs f;                         /* POST form (urlencoded or multipart) */
    bool post;
    wsession *s; /* NULL before a session exists */
    int64_t now;
    hbuf out;
    int status;
    const char *ctype;
    char disposition[256]; /* Content-Disposition, "" for a page */
    char location[WEB_MAX_TARGET + 64];
    bool set_cookie;
} wreq;

/* ---- layout (server.c) ---- */
/* Start a page: doctype, head, the top bar with the user and the menu. */
void page_begin(wreq *r, const char *title);
void page_end(wreq *r);
/* The hidden CSRF field for a form of this session. */
void page_csrf(wreq *r);
/* A full error page with status (403, 404, 400) and a sentence. */
void page_error(wreq *r, int status, const char *sentence);
/* An error sentence in the page, as a paragraph of class "error". */
void page_problem(wreq *r, const char *sentence);
/* page_problem, then page_end: a page that could not show what it is for. */
void page_end_error(wreq *r, const char *sentence);
/* A table cell linking to record id's page, named by its id's last 12 hex digits. */
void page_record_cell(wreq *r, const uint8_t id[QS_ID_LEN]);
/* Show the session's flash sentence (set before a redirect), once. */
void page_flash(wreq *r);
/* Set the flash sentence for the next page. */
void set_flash(wreq *r, const char *sentence);
/* 303 to target (a path of this site). */
void page_redirect(wreq *r, const char *target);
/* A file download of body (taken) as ctype with file name fname. */
void page_download(wreq *r, const char *ctype, const char *fname, hbuf *body);
/* Whether the signed-in user may write (clerk or admin); if not, an error
 * page was made. */
bool need_writer(wreq *r);
bool need_admin(wreq *r);
/* Audit one change by the signed-in user. */
void audit(wreq *r, const char *action, const uint8_t *id, const char *detail);
/* Format ms since the epoch as local "YYYY-MM-DD HH:MM" ("—" for 0). */
const char *fmt_time(int64_t ms, char *buf, size_t n);

/* Run a `qianshou` command line (argv[0] the command, as cli_run takes it)
 * in this process (client/'s table and dispatcher), as the signed-in
 * user (author NODE/USER), its standard output and error captured into out
 * and err (NUL-terminated, caller frees). Returns its exit code. */
int run_cli(wreq *r, int argc, char **argv, char **out, char **err);

/* ---- clerk pages (pages.c) ---- */
void page_home(wreq *r);
void page_list(wreq *r);
void page_show(wreq *r);
void page_form(wreq *r); /* new and edit, GET and POST */
void page_delete(wreq *r);
void page_import(wreq *r);
void page_export(wreq *r);
void page_conflicts(wreq *r);
void page_conflict(wreq *r);
void page_resolve(wreq *r);
void page_sync(wreq *r);

/* ---- operator pages (operator.c) ---- */
void page_fleet(wreq *r);
void page_report(wreq *r);
void page_rejected(wreq *r);
void page_reference(wreq *r);
void page_users(wreq *r);
void page_audit(wreq *r);

/* ---- static files (static.c) ---- */
extern const char WEB_CSS[];

#endif
