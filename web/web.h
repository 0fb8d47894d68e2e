/*
 * web.h — what the files of qianshou-web share: the server, one request, the
 * HTML page builder with its one escaping function, form and cookie
 * decoding, sessions with CSRF tokens.
 *
 * The process: one libuv loop on one thread runs libh2o (HTTP/1.1 and
 * HTTP/2, TLS from OpenSSL when [web] cert/key are set) and every handler.
 * Handlers use the store synchronously on that thread: a few clerks at a time
 * are the load, and a page is a few indexed queries (the bench's target is
 * 50 ms on a million service logs). Nothing here parses HTTP: libh2o does.
 *
 * Limits (all fixed at start): request body [web] max_upload (libh2o answers
 * 413 past it), target (path + query) WEB_MAX_TARGET bytes, header bytes
 * WEB_MAX_HEADER_BYTES (431), form fields WEB_MAX_FIELDS, sessions
 * WEB_MAX_SESSIONS (the oldest anonymous one is dropped for a new one).
 */
#ifndef QS_WEB_H
#define QS_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "store/store.h"
#include "store/users.h"

#define WEB_MAX_TARGET 4096
#define WEB_MAX_HEADER_BYTES 16384
#define WEB_MAX_FIELDS 256
#define WEB_MAX_SESSIONS 512
#define WEB_MAX_PAGE (32u << 20)
#define WEB_PAGE_ROWS 50

/* ---- HTML ------------------------------------------------------------- */
/* A page (or any response body) being built; growth past WEB_MAX_PAGE is
 * dropped and marks it truncated. */
typedef struct hbuf {
    char *p;
    size_t len, cap;
    bool truncated;
} hbuf;

void hb_init(hbuf *b);
void hb_free(hbuf *b);
/* Append bytes as they are: only for markup written in this program. */
void hb_raw(hbuf *b, const char *s);
void hb_rawn(hbuf *b, const char *s, size_t n);
/* printf as it is: only for markup and numbers, never for data. */
void hb_fmt(hbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* THE escaping function: every value that is not markup of this program —
 * record fields, names, user input, error sentences — goes through it.
 * & < > " ' become entities; invalid UTF-8 and control characters other
 * than tab and newline become U+FFFD. Safe in element text and in quoted
 * attribute values. */
void hb_esc(hbuf *b, const char *s);
void hb_escn(hbuf *b, const char *s, size_t n);
/* hb_esc of a printf result (for "第 %d 页" with data in it). */
void hb_escf(hbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Percent-encode s for a URL query value. */
void hb_url(hbuf *b, const char *s);

/* ---- forms and cookies ------------------------------------------------ */
typedef struct kv {
    char *k, *v; /* owned, NUL-terminated (a value may hold NULs only in a file part) */
    size_t vlen;
    char *filename; /* multipart file parts: the client's file name (owned), else NULL */
} kv;

typedef struct kvs {
    kv *a;
    size_t n;
} kvs;

/* Decode application/x-www-form-urlencoded (also a query string) into out,
 * appending. QS_ELIMIT past WEB_MAX_FIELDS, QS_EINVAL for bad %-escapes. */
int form_urlencoded(const char *s, size_t n, kvs *out);
/* Decode multipart/form-data given the Content-Type header's value. */
int form_multipart(const char *ctype, size_t ctlen, const char *body, size_t n, kvs *out);
/* Value of the first k, or NULL. */
const kv *kvs_get(const kvs *f, const char *k);
const char *kvs_str(const kvs *f, const char *k); /* "" when absent */
void kvs_free(kvs *f);
/* The value of cookie name from a Cookie header (NUL-terminated copy into
 * out of n bytes); false if absent or too long. */
bool cookie_get(const char *hdr, size_t hlen, const char *name, char *out, size_t n);

/* ---- sessions --------------------------------------------------------- */
#define WEB_SID_HEX 64   /* 32 random bytes */
#define WEB_TOKEN_HEX 64 /* CSRF token: 32 random bytes */

typedef struct wsession {
    char sid[WEB_SID_HEX + 1];
    char csrf[WEB_TOKEN_HEX + 1];
    char user[QS_USER_MAX]; /* "" = not signed in (a login form's session) */
    qs_user_role role;
    uint8_t pw_tag[8]; /* the account's qs_user.pw_tag at sign-in */
    int64_t created_ms, seen_ms;
    bool used;
    char flash[256]; /* a sentence for the next page (after a redirect), "" none */
} wsession;

typedef struct wsessions {
    wsession s[WEB_MAX_SESSIONS];
    int64_t idle_ms;
} wsessions;

void sessions_init(wsessions *t, int64_t idle_ms);
/* A new session (not signed in) with fresh random id and token; drops the
 * least recently seen one when the table is full. Never NULL. */
wsession *session_new(wsessions *t, int64_t now_ms);
/* The live session with id sid (constant-time compare), refreshing seen_ms;
 * NULL when unknown or idle longer than idle_ms (then it is dropped). */
wsession *session_find(wsessions *t, const char *sid, int64_t now_ms);
void session_drop(wsession *s);
/* After a sign-in: a new id and token for the same slot (session fixation). */
void session_renew(wsession *s, int64_t now_ms);
/* Whether token equals the session's CSRF token (constant time). */
bool session_csrf_ok(const wsession *s, const char *token);

#endif
