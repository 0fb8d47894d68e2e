/*
 * net.c — TLS connections over libuv. See net.h for the contract.
 *
 * Each conn owns two handles, a uv_tcp_t and a uv_timer_t (handshake timeout,
 * close timeout, deferred input after resume). It is freed when both close
 * callbacks have run. Each uv_write owns its buffer (struct wreq) until its
 * callback, which libuv runs even for writes cancelled by uv_close.
 */
#include "daemon/net.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "daemon/log.h"
#include "proto/buf.h"
#include "proto/xmalloc.h"

#define DEFAULT_MAX_QUEUED (1u << 20)
#define DEFAULT_HANDSHAKE_MS 10000
#define DEFAULT_CLOSE_MS 5000
#define DEFAULT_MAX_UNAUTH 64
#define DEFAULT_MAX_UNAUTH_PER_ADDR 8
#define TICK_MS 250          /* how often an established conn checks its idle and deadline clocks */
#define REFUSAL_LOG_MS 10000 /* at most one line per period about refused floods */
#define RECORD_PLAINTEXT 16384
#define RECORD_OVERHEAD 32 /* TLS 1.3 record: 5 header + 1 type + 16 tag, rounded up */

struct qs_net_conn {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_timer_t tick; /* established: idle timeout and deadline */
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    int open_handles;
    qs_tls *tls;
    qs_net_callbacks cb;
    qs_net_opts opts;
    void *data;
    qs_net_listener *listener;
    qs_net_conn *prev, *next; /* in listener->conns */
    size_t queued;            /* ciphertext bytes in uv_writes not yet called back */
    unsigned pending_writes;
    unsigned connected : 1, reading : 1, paused : 1, established : 1, closing : 1,
        handles_closing : 1, shutdown_started : 1, want_drain : 1, silent : 1, reason_set : 1,
        counted_unauth : 1, counted_auth : 1, heard : 1;
    qs_err reason;
    uint64_t last_activity; /* uv_now of the last byte read or write completed */
    uint64_t deadline;      /* uv_now by which qs_net_clear_deadline must come; 0 = none */
    char deadline_what[96];
    char addr[QS_NET_ADDR_MAX]; /* the peer's address, "" if unknown */
};

/* Socket reads and the plaintext handed to on_data go through one pair of
 * buffers per loop thread, not per connection (83 KiB each, which with 300
 * connections was 25 MiB): libuv calls on_alloc and then on_read for one
 * stream at a time, qs_tls_feed copies what was read, and on_data's bytes
 * are valid only during the call, which never reads another connection. */
static _Thread_local char t_rbuf[65536];
static _Thread_local uint8_t t_pbuf[RECORD_PLAINTEXT];

struct qs_net_listener {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    qs_tls_ctx *ctx;
    qs_net_callbacks cb;
    qs_net_opts opts;
    void *data;
    unsigned max_conns, nconns;
    unsigned nunauth, nauth; /* conns in the TLS handshake / past it (not closing) */
    qs_net_conn *conns;      /* newest first */
    qs_net_conn *oldest;     /* the list's other end */
    int port;
    qs_net_listener_stats stats;
    uint64_t last_refusal_log;
    uint64_t refusals_unlogged;
};

struct wreq {
    uv_write_t req;
    qs_net_conn *c;
    qs_buf buf;
};

static void begin_close(qs_net_conn *c, int graceful);
static void on_timer(uv_timer_t *t);
static void on_listener_closed(uv_handle_t *h);
static void process_input(qs_net_conn *c);

static void fill_opts(qs_net_opts *dst, const qs_net_opts *src)
{
    memset(dst, 0, sizeof *dst);
    if (src)
        *dst = *src;
    if (!dst->max_queued)
        dst->max_queued = DEFAULT_MAX_QUEUED;
    if (!dst->handshake_timeout_ms)
        dst->handshake_timeout_ms = DEFAULT_HANDSHAKE_MS;
    if (!dst->close_timeout_ms)
        dst->close_timeout_ms = DEFAULT_CLOSE_MS;
    if (!dst->max_unauth)
        dst->max_unauth = DEFAULT_MAX_UNAUTH;
    if (!dst->max_unauth_per_addr)
        dst->max_unauth_per_addr = DEFAULT_MAX_UNAUTH_PER_ADDR;
}

/* The listener's budgets: a conn counts as unauthenticated from accept until
 * TLS is up, then as authenticated, until it starts closing. */
static void uncount(qs_net_conn *c)
{
    qs_net_listener *l = c->listener;
    if (!l)
        return;
    if (c->counted_unauth)
        l->nunauth--;
    if (c->counted_auth)
        l->nauth--;
    c->counted_unauth = c->counted_auth = 0;
}

/* Remember why the conn ends (the first reason wins). */
static void set_reason(qs_net_conn *c, const qs_err *e)
{
    if (c->reason_set)
        return;
    c->reason_set = 1;
    c->reason = *e;
}

static void set_reason_fmt(qs_net_conn *c, int code, const char *msg)
{
    qs_err e;
    qs_err_set(&e, code, "%s", msg);
    set_reason(c, &e);
}

/* ---- closing ---- */

static void on_handle_closed(uv_handle_t *h)
{
    qs_net_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    if (c->listener) {
        qs_net_listener *l = c->listener;
        uncount(c);
        if (c->prev)
            c->prev->next = c->next;
        else
            l->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        else
            l->oldest = c->prev;
        l->nconns--;
    }
    if (!c->silent && c->cb.on_close) {
        if (!c->reason_set)
            set_reason_fmt(c, 0, "closed");
        c->cb.on_close(c, &c->reason);
    }
    qs_tls_free(c->tls);
    free(c);
}

static void close_handles(qs_net_conn *c)
{
    if (c->handles_closing)
        return;
    c->handles_closing = 1;
    c->closing = 1;
    uncount(c);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tick, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    close_handles(req->data);
}

/* Once everything queued is written, shut down the write side, then close. */
static void maybe_shutdown(qs_net_conn *c)
{
    if (!c->closing || c->handles_closing || c->shutdown_started || c->pending_writes > 0)
        return;
    if (!c->connected) {
        close_handles(c);
        return;
    }
    c->shutdown_started = 1;
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        close_handles(c);
}

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    qs_net_conn *c = w->c;
    c->queued -= w->buf.len;
    c->pending_writes--;
    c->last_activity = uv_now(c->loop);
    qs_buf_free(&w->buf);
    free(w);
    if (status < 0 && status != UV_ECANCELED) {
        qs_err e;
        qs_err_set(&e, QS_EIO, "write: %s", uv_strerror(status));
        set_reason(c, &e);
        close_handles(c);
        return;
    }
    if (c->closing) {
        maybe_shutdown(c);
        return;
    }
    if (c->want_drain && c->queued <= c->opts.max_queued / 2) {
        c->want_drain = 0;
        if (c->cb.on_drain)
            c->cb.on_drain(c);
    }
}

/* Send whatever ciphertext the engine has produced. */
static void flush(qs_net_conn *c)
{
    if (c->handles_closing || !c->connected || qs_tls_pending_out_len(c->tls) == 0)
        return;
    struct wreq *w = qs_xcalloc(1, sizeof *w);
    qs_buf_init(&w->buf, 0);
    qs_tls_pending_out(c->tls, &w->buf);
    w->c = c;
    uv_buf_t b = uv_buf_init((char *)w->buf.data, (unsigned)w->buf.len);
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) {
        qs_err e;
        qs_err_set(&e, QS_EIO, "write: %s", uv_strerror(r));
        qs_buf_free(&w->buf);
        free(w);
        set_reason(c, &e);
        close_handles(c);
        return;
    }
    c->queued += w->buf.len;
    c->pending_writes++;
}

int qs_net_write(qs_net_conn *c, const void *p, size_t n, qs_err *e)
{
    if (!c->established || c->closing)
        return qs_err_set(e, QS_EPROTO, "connection is not open for writing");
    if (n == 0)
        return 0;
    size_t records = n / RECORD_PLAINTEXT + 1;
    size_t need = n + records * RECORD_OVERHEAD;
    size_t max = c->opts.max_queued;
    if (need > max)
        return qs_err_set(e, QS_ELIMIT, "write of %zu bytes exceeds the send cap of %zu", n, max);
    if (c->queued + qs_tls_pending_out_len(c->tls) + need > max) {
        c->want_drain = 1;
        return qs_err_set(e, QS_ELIMIT, "send queue full (%zu of %zu bytes): wait for drain",
                          c->queued, max);
    }
    qs_err te;
    int rc = qs_tls_write(c->tls, p, n, &te);
    flush(c);
    if (rc < 0) {
        set_reason(c, &te);
        begin_close(c, 1);
        if (e)
            *e = te;
        return rc;
    }
    return 0;
}

/* ---- closing, continued ---- */

static void begin_close(qs_net_conn *c, int graceful)
{
    if (c->closing) {
        if (!graceful)
            close_handles(c);
        return;
    }
    c->closing = 1;
    uncount(c);
    uv_timer_stop(&c->tick);
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    if (!graceful) {
        close_handles(c);
        return;
    }
    uv_timer_stop(&c->timer);
    uv_timer_start(&c->timer, on_timer, c->opts.close_timeout_ms, 0);
    if (c->established && qs_tls_get_state(c->tls) != QS_TLS_FAILED)
        qs_tls_shutdown(c->tls, NULL);
    flush(c); /* close_notify, or the alert of a failed handshake */
    maybe_shutdown(c);
}

void qs_net_fail(qs_net_conn *c, const qs_err *why)
{
    set_reason(c, why);
    begin_close(c, 1);
}

void qs_net_close(qs_net_conn *c)
{
    if (!c->reason_set)
        set_reason_fmt(c, 0, "closed by this side");
    begin_close(c, 1);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    qs_net_conn *c = h->data;
    (void)suggested;
    (void)c;
    *buf = uv_buf_init(t_rbuf, sizeof t_rbuf);
}

static void fail_tls(qs_net_conn *c, const qs_err *e)
{
    set_reason(c, e);
    begin_close(c, 1); /* sends the alert, if any */
}

/* At most one line per REFUSAL_LOG_MS about connections refused or dropped
 * for the budgets: a flood must not flood the journal too. */
static void note_refusal(qs_net_listener *l, const char *what, const char *addr)
{
    uint64_t now = uv_now(l->loop);
    if (l->last_refusal_log && now - l->last_refusal_log < REFUSAL_LOG_MS) {
        l->refusals_unlogged++;
        return;
    }
    qs_log(QS_LOG_WARN, "net",
           "refused a connection: %s (from %s; %llu more refused or "
           "dropped since the last such line; see status \"net\")",
           what, addr[0] ? addr : "unknown address", (unsigned long long)l->refusals_unlogged);
    l->last_refusal_log = now;
    l->refusals_unlogged = 0;
}

/* TLS is up on an accepted conn: it moves to the authenticated budget, or is
 * closed when that is full. */
static bool authenticated(qs_net_conn *c)
{
    qs_net_listener *l = c->listener;
    uncount(c);
    if (l->nauth >= l->max_conns) {
        char msg[128];
        snprintf(msg, sizeof msg, "%u sessions are open ([listen] max_connections)", l->max_conns);
        set_reason_fmt(c, QS_ELIMIT, msg);
        l->stats.refused_full++;
        begin_close(c, 1);
        return false;
    }
    c->counted_auth = 1;
    l->nauth++;
    return true;
}

/* Established conns: the deadline (qs_net_set_deadline) and the idle
 * timeout. Idle time counts only while the conn waits on the peer: reading
 * (not paused by the owner), or holding output the peer has not taken. */
static void on_tick(uv_timer_t *t)
{
    qs_net_conn *c = t->data;
    if (c->closing)
        return;
    uint64_t now = uv_now(c->loop);
    if (c->deadline && now >= c->deadline) {
        set_reason_fmt(c, QS_EPROTO, c->deadline_what);
        if (c->listener)
            c->listener->stats.deadline_timeouts++;
        begin_close(c, 1);
        return;
    }
    if (!c->opts.idle_timeout_ms)
        return;
    bool waiting = !c->paused || c->queued > 0 || qs_tls_pending_out_len(c->tls) > 0;
    if (!waiting) {
        c->last_activity = now;
        return;
    }
    if (now - c->last_activity >= c->opts.idle_timeout_ms) {
        char msg[128];
        snprintf(msg, sizeof msg, "idle for %llu s: the peer sent nothing and took nothing",
                 (unsigned long long)(now - c->last_activity) / 1000);
        set_reason_fmt(c, QS_EIO, msg);
        if (c->listener)
            c->listener->stats.idle_timeouts++;
        begin_close(c, 1);
    }
}

static void process_input(qs_net_conn *c)
{
    qs_err e;
    int rc;
    if (c->closing)
        return;
    if (!c->established) {
        rc = qs_tls_handshake(c->tls, &e);
        flush(c);
        if (rc == QS_EAGAIN)
            return;
        if (rc < 0) {
            fail_tls(c, &e);
            return;
        }
        c->established = 1;
        uv_timer_stop(&c->timer);
        if (c->listener && !authenticated(c))
            return;
        c->last_activity = uv_now(c->loop);
        uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
        if (c->cb.on_handshake)
            c->cb.on_handshake(c);
    }
    while (!c->paused && !c->closing) {
        size_t got = 0;
        rc = qs_tls_read(c->tls, t_pbuf, sizeof t_pbuf, &got, &e);
        flush(c);
        if (rc == 0) {
            if (c->cb.on_data)
                c->cb.on_data(c, t_pbuf, got);
            continue;
        }
        if (rc == QS_EAGAIN) {
            if (qs_tls_get_state(c->tls) == QS_TLS_PEER_CLOSED) {
                set_reason_fmt(c, 0, "closed by the peer");
                begin_close(c, 1);
            }
            return;
        }
        fail_tls(c, &e);
        return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    qs_net_conn *c = s->data;
    qs_err e;
    if (nread == 0)
        return;
    if (nread > 0) {
        c->last_activity = uv_now(c->loop);
        c->heard = 1;
        if (qs_tls_feed(c->tls, buf->base, (size_t)nread, &e) < 0) {
            fail_tls(c, &e);
            return;
        }
        process_input(c);
        return;
    }
    if (nread == UV_EOF) {
        if (!c->established)
            qs_err_set(&e, QS_ETLS, "the peer closed the connection during the TLS handshake");
        else
            qs_err_set(&e, QS_EIO, "the peer closed the connection without close_notify");
        set_reason(c, &e);
        begin_close(c, 1);
        return;
    }
    qs_err_set(&e, QS_EIO, "read: %s", uv_strerror((int)nread));
    set_reason(c, &e);
    begin_close(c, 0);
}

static void start_reading(qs_net_conn *c)
{
    if (c->reading || c->paused || c->closing || !c->connected)
        return;
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        qs_err e;
        qs_err_set(&e, QS_EIO, "read: %s", uv_strerror(r));
        set_reason(c, &e);
        begin_close(c, 0);
        return;
    }
    c->reading = 1;
}

void qs_net_pause_read(qs_net_conn *c)
{
    c->paused = 1;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void on_timer(uv_timer_t *t)
{
    qs_net_conn *c = t->data;
    if (c->closing) {
        close_handles(c); /* close timeout */
        return;
    }
    if (!c->established) {
        char msg[96];
        snprintf(msg, sizeof msg, "TLS handshake timed out after %llu ms",
                 (unsigned long long)c->opts.handshake_timeout_ms);
        set_reason_fmt(c, QS_ETLS, msg);
        if (c->listener) { /* a flood of these is logged in summary */
            c->listener->stats.handshake_timeouts++;
            note_refusal(c->listener, msg, c->addr);
            c->silent = 1;
        }
        begin_close(c, 0);
        return;
    }
    process_input(c); /* deferred after resume: plaintext already buffered */
}

void qs_net_resume_read(qs_net_conn *c)
{
    if (!c->paused)
        return;
    c->paused = 0;
    start_reading(c);
    if (c->established && !c->closing)
        uv_timer_start(&c->timer, on_timer, 0, 0);
}

/* ---- creating ---- */

static qs_net_conn *conn_new(uv_loop_t *loop, qs_tls_ctx *ctx, const char *expected_dns,
                             const qs_net_callbacks *cb, const qs_net_opts *opts, void *data,
                             qs_err *e)
{
    qs_tls *tls = NULL;
    if (qs_tls_new(&tls, ctx, expected_dns, e) < 0)
        return NULL;
    qs_net_conn *c = qs_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->tls = tls;
    c->cb = *cb;
    fill_opts(&c->opts, opts);
    c->data = data;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    uv_timer_init(loop, &c->tick);
    c->open_handles = 3;
    c->tcp.data = c;
    c->timer.data = c;
    c->tick.data = c;
    return c;
}

static int parse_addr(const char *ip, int port, struct sockaddr_storage *ss, qs_err *e)
{
    if (port < 0 || port > 65535)
        return qs_err_set(e, QS_EINVAL, "bad port %d", port);
    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return qs_err_set(e, QS_EINVAL, "\"%s\" is not a numeric IP address", ip);
}

static void on_connect(uv_connect_t *req, int status)
{
    qs_net_conn *c = req->data;
    if (status == UV_ECANCELED || c->closing)
        return;
    if (status < 0) {
        qs_err e;
        qs_err_set(&e, QS_EIO, "connect: %s", uv_strerror(status));
        set_reason(c, &e);
        begin_close(c, 0);
        return;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    start_reading(c);
    process_input(c); /* sends the ClientHello */
}

int qs_net_connect(qs_net_conn **out, uv_loop_t *loop, const char *ip, int port,
                   const char *expected_dns, qs_tls_ctx *ctx, const qs_net_callbacks *cb,
                   const qs_net_opts *opts, void *data, qs_err *e)
{
    struct sockaddr_storage ss;
    int rc;
    *out = NULL;
    if (qs_tls_ctx_role(ctx) != QS_TLS_CLIENT)
        return qs_err_set(e, QS_EINVAL, "qs_net_connect needs a client TLS context");
    if ((rc = parse_addr(ip, port, &ss, e)) < 0)
        return rc;
    qs_net_conn *c = conn_new(loop, ctx, expected_dns, cb, opts, data, e);
    if (!c)
        return e ? e->code : QS_ETLS;
    snprintf(c->addr, sizeof c->addr, "%s", ip);
    struct sockaddr_storage local;
    if (c->opts.bind_addr && (parse_addr(c->opts.bind_addr, 0, &local, e) < 0 ||
                              (rc = uv_tcp_bind(&c->tcp, (struct sockaddr *)&local, 0)) < 0)) {
        c->silent = 1;
        close_handles(c);
        if (rc < 0)
            return qs_err_set(e, QS_EIO, "bind to %s: %s", c->opts.bind_addr, uv_strerror(rc));
        return e ? e->code : QS_EINVAL;
    }
    c->connect_req.data = c;
    rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&ss, on_connect);
    if (rc < 0) {
        c->silent = 1;
        close_handles(c);
        return qs_err_set(e, QS_EIO, "connect to %s:%d: %s", ip, port, uv_strerror(rc));
    }
    uv_timer_start(&c->timer, on_timer, c->opts.handshake_timeout_ms, 0);
    *out = c;
    return 0;
}

/* ---- listener ---- */

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void peer_addr(qs_net_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    c->addr[0] = '\0';
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        uv_ip_name((struct sockaddr *)&ss, c->addr, sizeof c->addr);
}

/* The conn to drop for a new one when the handshake budget is full: the
 * oldest that has sent nothing at all, else the oldest still in the TLS
 * handshake (the list is newest first). A real client sends its ClientHello
 * within a round trip of connecting and finishes within another; a flood's
 * socket sits silent, so a county is not dropped for it. */
static bool has_spoken(qs_net_conn *c)
{
    if (c->heard)
        return true;
    /* Accepted in this loop iteration, its ClientHello not read yet: the
     * kernel may hold it already (it arrives with the handshake's last ACK). */
    uv_os_fd_t fd;
    int pending = 0;
    return uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, FIONREAD, &pending) == 0 &&
           pending > 0;
}

static qs_net_conn *unauth_victim(qs_net_listener *l)
{
    /* From the oldest end: the first silent one ends the walk, so under a
     * flood (whose sockets are silent) it asks the kernel about few. */
    qs_net_conn *oldest = NULL;
    for (qs_net_conn *x = l->oldest; x; x = x->prev) {
        if (!x->counted_unauth)
            continue;
        if (!has_spoken(x))
            return x;
        if (!oldest)
            oldest = x;
    }
    return oldest;
}

/* Budgets before authentication: at most max_unauth_per_addr conns in the
 * TLS handshake from one address (a new one beyond is refused), and at most
 * max_unauth from all (a new one beyond drops another, so a flood cannot
 * hold the door shut: a county's handshake takes a round trip or two, the
 * flood's conns wait for their timeout). Past TLS, sessions have their own
 * budget (max_conns), which unauthenticated sockets never touch. */
static void on_connection(uv_stream_t *s, int status)
{
    qs_net_listener *l = s->data;
    qs_err e;
    if (status < 0)
        return; /* e.g. EMFILE; libuv keeps listening */
    qs_net_conn *c = conn_new(l->loop, l->ctx, NULL, &l->cb, &l->opts, l->data, &e);
    if (!c) {
        /* Accept and drop, so the backlog does not fill with a failing peer. */
        uv_tcp_t *tmp = qs_xcalloc(1, sizeof *tmp);
        uv_tcp_init(l->loop, tmp);
        uv_accept(s, (uv_stream_t *)tmp);
        uv_close((uv_handle_t *)tmp, free_handle);
        return;
    }
    if (uv_accept(s, (uv_stream_t *)&c->tcp) < 0) {
        c->silent = 1;
        close_handles(c);
        return;
    }
    l->stats.accepted++;
    peer_addr(c);
    unsigned same = 0;
    for (qs_net_conn *x = l->conns; x; x = x->next)
        if (x->counted_unauth && strcmp(x->addr, c->addr) == 0)
            same++;
    if (same >= l->opts.max_unauth_per_addr) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "%u connections from this address are in the TLS handshake "
                 "([listen] max_unauthenticated_per_address)",
                 same);
        l->stats.refused_per_addr++;
        note_refusal(l, msg, c->addr);
        c->silent = 1;
        close_handles(c);
        return;
    }
    if (l->nunauth >= l->opts.max_unauth) {
        qs_net_conn *old = unauth_victim(l);
        char msg[128];
        snprintf(msg, sizeof msg,
                 "dropped one of %u connections in the TLS handshake for a "
                 "new one ([listen] max_unauthenticated)",
                 l->nunauth);
        l->stats.dropped_unauth++;
        note_refusal(l, msg, old->addr);
        old->silent = 1;
        begin_close(old, 0);
    }
    c->connected = 1;
    c->listener = l;
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    else
        l->oldest = c;
    l->conns = c;
    l->nconns++;
    c->counted_unauth = 1;
    l->nunauth++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, on_timer, c->opts.handshake_timeout_ms, 0);
    start_reading(c);
}

int qs_net_listen(qs_net_listener **out, uv_loop_t *loop, const char *ip, int port, qs_tls_ctx *ctx,
                  unsigned max_conns, const qs_net_callbacks *cb, const qs_net_opts *opts,
                  void *data, qs_err *e)
{
    struct sockaddr_storage ss;
    int rc, r;
    *out = NULL;
    if (qs_tls_ctx_role(ctx) != QS_TLS_SERVER)
        return qs_err_set(e, QS_EINVAL, "qs_net_listen needs a server TLS context");
    if ((rc = parse_addr(ip, port, &ss, e)) < 0)
        return rc;
    qs_net_listener *l = qs_xcalloc(1, sizeof *l);
    l->loop = loop;
    l->cb = *cb;
    fill_opts(&l->opts, opts);
    l->data = data;
    l->max_conns = max_conns;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    if ((r = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, 0)) < 0 ||
        (r = uv_listen((uv_stream_t *)&l->tcp, 128, on_connection)) < 0) {
        rc = qs_err_set(e, QS_EIO, "listen on %s:%d: %s", ip, port, uv_strerror(r));
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return rc;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &len) == 0)
        l->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    qs_tls_ctx_ref(ctx);
    l->ctx = ctx;
    *out = l;
    return 0;
}

void qs_net_listener_set_ctx(qs_net_listener *l, qs_tls_ctx *ctx)
{
    qs_tls_ctx_ref(ctx);
    qs_tls_ctx_unref(l->ctx);
    l->ctx = ctx;
}

int qs_net_listener_port(const qs_net_listener *l)
{
    return l->port;
}

unsigned qs_net_listener_conns(const qs_net_listener *l)
{
    return l->nconns;
}

void qs_net_listener_get_stats(const qs_net_listener *l, qs_net_listener_stats *out)
{
    *out = l->stats;
    out->unauthenticated = l->nunauth;
    out->authenticated = l->nauth;
}

static void on_listener_closed(uv_handle_t *h)
{
    qs_net_listener *l = h->data;
    for (qs_net_conn *c = l->conns; c; c = c->next)
        c->listener = NULL;
    qs_tls_ctx_unref(l->ctx);
    free(l);
}

void qs_net_listener_close(qs_net_listener *l)
{
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

/* ---- accessors ---- */

const char *qs_net_peer_id(const qs_net_conn *c)
{
    return c->established ? qs_tls_peer_id(c->tls) : NULL;
}

time_t qs_net_peer_not_after(const qs_net_conn *c)
{
    return c->established ? qs_tls_peer_not_after(c->tls) : 0;
}

const char *qs_net_peer_addr(const qs_net_conn *c)
{
    return c->addr;
}

void qs_net_set_deadline(qs_net_conn *c, uint64_t ms, const char *what)
{
    c->deadline = uv_now(c->loop) + (ms ? ms : 1);
    snprintf(c->deadline_what, sizeof c->deadline_what, "%s", what);
}

void qs_net_clear_deadline(qs_net_conn *c)
{
    c->deadline = 0;
}

size_t qs_net_queued(const qs_net_conn *c)
{
    return c->queued + qs_tls_pending_out_len(c->tls);
}

size_t qs_net_max_queued(const qs_net_conn *c)
{
    return c->opts.max_queued;
}

int qs_net_is_open(const qs_net_conn *c)
{
    return c->established && !c->closing;
}

void *qs_net_conn_data(const qs_net_conn *c)
{
    return c->data;
}

void qs_net_conn_set_data(qs_net_conn *c, void *data)
{
    c->data = data;
}
