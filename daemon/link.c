/* session.c — the handshake session; see session.h and proto/PROTOCOL-session.md. */
#include "daemon/link.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "proto/clock.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/xmalloc.h"

#define TAG_ENV 0x51534556
#define TAG_SESSION 0x51535353
#define WINDOW 4

typedef enum state {
    S_TLS = 0,     /* county: TLS handshake in progress */
    S_WAIT_HELLO,  /* aggregator: expecting HELLO */
    S_WAIT_WELCOME,/* county: HELLO sent */
    S_WAIT_DONE,   /* WELCOME exchanged; expecting the peer's DONE */
    S_FINISHED,    /* DONE both ways; waiting for the close */
} state;

static const char *state_name(state s)
{
    static const char *const n[] = {"tls", "wait-hello", "wait-welcome", "wait-done", "finished"};
    return n[s];
}

struct qs_link {
    int tag_;
    qs_link_env *env;
    qs_net_conn *conn;        /* NULL once closed */
    qs_link *prev, *next;
    int client;
    state st;
    qs_frame_decoder *dec;
    int job_busy;             /* a job is in flight: reading paused */
    int ended;                /* on_end delivered */
    int failed;               /* result set */
    qs_buf stalled;           /* one frame refused by back-pressure (QS_ELIMIT) */
    qs_link_result res;
    qs_hello peer_hello;      /* what the peer sent */
};

typedef struct sjob { /* a store job of a session */
    qs_job job;
    qs_link *s;
    int rc;
    qs_err err;
    qs_hello out;             /* HELLO/WELCOME we send */
    int64_t skew;
    bool rejected, reset, renewed;
} sjob;

typedef struct donejob { /* peer_done, fire and forget */
    qs_job job;
    char peer[QS_NODE_MAX];
    bool ok;
    char error[QS_REASON_MAX];
} donejob;

void qs_link_env_init(qs_link_env *env)
{
    memset(env, 0, sizeof *env);
    env->tag_ = TAG_ENV;
}

static const char *peer_name(const qs_link *s)
{
    return s->res.peer[0] ? s->res.peer : "(unknown peer)";
}

static void maybe_free(qs_link *s)
{
    if (s->conn || s->job_busy || !s->ended)
        return;
    qs_link_env *env = s->env;
    if (s->prev)
        s->prev->next = s->next;
    else
        env->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    env->live--;
    qs_frame_decoder_free(s->dec);
    qs_buf_free(&s->stalled);
    free(s);
}

static qs_link *session_new(qs_link_env *env, int client)
{
    qs_link *s = qs_xcalloc(1, sizeof *s);
    s->tag_ = TAG_SESSION;
    s->env = env;
    s->client = client;
    s->dec = qs_frame_decoder_new(&env->cfg->limits);
    qs_buf_init(&s->stalled, 0);
    s->res.started_ms = qs_clock_wall_ms();
    s->next = env->head;
    if (env->head)
        env->head->prev = s;
    env->head = s;
    env->live++;
    return s;
}

/* Encode and queue one message. Back-pressure: a refused frame is kept (one
 * only) and reading pauses until on_drain. */
static int send_msg(qs_link *s, const qs_msg *m, qs_err *e)
{
    qs_buf payload, frame;
    qs_buf_init(&payload, 0);
    qs_buf_init(&frame, 0);
    int rc = qs_msg_encode(m, &payload, e);
    if (rc == 0)
        rc = qs_frame_encode(payload.data, payload.len, 0, &s->env->cfg->limits, &frame, e);
    if (rc == 0 && s->conn) {
        if (s->stalled.len) {
            rc = qs_err_set(e, QS_ELIMIT, "the peer does not read what we send");
        } else {
            rc = qs_net_write(s->conn, frame.data, frame.len, e);
            if (rc == QS_ELIMIT) {
                qs_buf_append(&s->stalled, frame.data, frame.len);
                qs_net_pause_read(s->conn);
                rc = 0;
            }
        }
    }
    qs_buf_free(&payload);
    qs_buf_free(&frame);
    return rc;
}

/* End the session with an error: log, ERROR to the peer (best effort), close. */
static void fail(qs_link *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(qs_link *s, int code, const char *fmt, ...)
{
    if (s->failed || !s->conn)
        return;
    char msg[QS_ERR_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->failed = 1;
    qs_err_set(&s->res.err, code, "%s", msg);
    qs_log(QS_LOG_WARN, "session", "%s: closing the connection: %s", peer_name(s), msg);
    if (qs_net_is_open(s->conn)) {
        qs_msg m = {.type = QS_MSG_ERROR};
        m.u.error.code = code;
        snprintf(m.u.error.msg, sizeof m.u.error.msg, "%.*s", (int)sizeof m.u.error.msg - 1, msg);
        send_msg(s, &m, NULL);
    }
    qs_net_close(s->conn);
}

static void finish_ok(qs_link *s)
{
    s->st = S_FINISHED;
    s->failed = 1; /* result final: ok */
    s->res.err.code = 0;
}

/* ---- store jobs ---- */

static void fill_hello(sjob *j, qs_store *st, const char *peer)
{
    qs_store_info info;
    qs_peer p;
    const qs_config *cfg = j->s->env->cfg;
    if ((j->rc = qs_store_info_get(st, &info, &j->err)) != 0)
        return;
    if ((j->rc = qs_store_peer_get(st, peer, &p, &j->err)) != 0)
        return;
    qs_hello *h = &j->out;
    memset(h, 0, sizeof *h);
    h->proto = QS_PROTO_VERSION;
    snprintf(h->node, sizeof h->node, "%s", cfg->node);
    memcpy(h->incarnation, info.incarnation, QS_INC_LEN);
    h->schema = info.schema;
    if ((j->rc = qs_store_clock_now(st, &h->hlc, &j->err)) != 0)
        return;
    h->features = 0; /* zstd is announced once the session (issue 6) sends batches */
    static const uint8_t zero[QS_INC_LEN];
    if (memcmp(p.inc, zero, QS_INC_LEN) != 0) {
        h->cursor = p.recv_cursor;
        h->has_peer_inc = true;
        memcpy(h->peer_inc, p.inc, QS_INC_LEN);
    }
    h->max_batch = cfg->limits.max_batch;
    h->window = WINDOW;
}

/* Record the peer's HELLO/WELCOME: skew, incarnation, its view of our cursor. */
static void record_hello(sjob *j, qs_store *st)
{
    const qs_hello *ph = &j->s->peer_hello;
    const char *peer = j->s->res.peer;
    if ((j->rc = qs_store_clock_recv(st, ph->hlc, &j->skew, &j->rejected, &j->err)) != 0)
        return;
    if ((j->rc = qs_store_peer_hello(st, peer, ph->incarnation, j->skew, &j->reset, &j->err)) != 0)
        return;
    qs_store_info info;
    if ((j->rc = qs_store_info_get(st, &info, &j->err)) != 0)
        return;
    if (ph->has_peer_inc && memcmp(ph->peer_inc, info.incarnation, QS_INC_LEN) == 0)
        j->rc = qs_store_check_cursor(st, ph->cursor, &j->renewed, &j->err);
}

static void work_client_hello(qs_job *job, qs_store *st)
{
    sjob *j = (sjob *)job;
    fill_hello(j, st, j->s->res.peer);
}

static void work_server_welcome(qs_job *job, qs_store *st)
{
    sjob *j = (sjob *)job;
    record_hello(j, st);
    if (j->rc == 0)
        fill_hello(j, st, j->s->res.peer);
}

static void work_client_record(qs_job *job, qs_store *st)
{
    record_hello((sjob *)job, st);
}

static void work_done(qs_job *job, qs_store *st)
{
    donejob *j = (donejob *)job;
    qs_err e = {0};
    if (qs_store_peer_done(st, j->peer, j->ok, j->ok ? NULL : j->error, UINT64_MAX, &e) != 0)
        qs_log(QS_LOG_ERROR, "store", "cannot record the end of the session with %s: %s",
               j->peer, e.msg);
}

static void free_done(qs_job *job)
{
    free(job);
}

static void post_done(qs_link *s)
{
    donejob *j = qs_xcalloc(1, sizeof *j);
    j->job.work = work_done;
    j->job.done = free_done;
    snprintf(j->peer, sizeof j->peer, "%s", s->res.peer);
    j->ok = s->res.err.code == 0;
    snprintf(j->error, sizeof j->error, "%.*s", (int)sizeof j->error - 1, s->res.err.msg);
    qs_worker_post(s->env->worker, &j->job);
}

static void job_done(qs_job *job);

static void post(qs_link *s, void (*work)(qs_job *, qs_store *))
{
    sjob *j = qs_xcalloc(1, sizeof *j);
    j->job.work = work;
    j->job.done = job_done;
    j->s = s;
    s->job_busy = 1;
    if (s->conn)
        qs_net_pause_read(s->conn);
    qs_worker_post(s->env->worker, &j->job);
}

static void note_skew(qs_link *s, const sjob *j)
{
    s->res.skew_ms = j->skew;
    s->res.skew_rejected = j->rejected;
    s->res.inc_reset = j->reset;
    if (j->rejected)
        qs_log(QS_LOG_WARN, "clock", "%s's clock is %lld ms ahead of ours: beyond the maximum "
               "offset, our clock was not moved; check both clocks", s->res.peer,
               (long long)j->skew);
    if (j->reset)
        qs_log(QS_LOG_INFO, "session", "%s has a new incarnation: cursors start over",
               s->res.peer);
    if (j->renewed)
        qs_log(QS_LOG_WARN, "session", "%s holds more of our versions than we have (restored "
               "or copied store): took a new incarnation", s->res.peer);
}

static void job_done(qs_job *job)
{
    sjob *j = (sjob *)job;
    qs_link *s = j->s;
    s->job_busy = 0;
    if (job->cancelled || !s->conn || s->failed) {
        free(j);
        maybe_free(s);
        return;
    }
    if (j->rc != 0) {
        fail(s, j->rc, "store: %s", j->err.msg);
        free(j);
        return;
    }
    qs_err e = {0};
    qs_msg m = {0};
    if (job->work == work_client_hello) {
        m.type = QS_MSG_HELLO;
        m.u.hello = j->out;
        s->st = S_WAIT_WELCOME;
    } else if (job->work == work_server_welcome) {
        note_skew(s, j);
        m.type = QS_MSG_WELCOME;
        m.u.hello = j->out;
        s->st = S_WAIT_DONE;
    } else { /* work_client_record: WELCOME recorded; nothing to push yet */
        note_skew(s, j);
        m.type = QS_MSG_DONE;
        m.u.done.upto = 0;
        s->st = S_WAIT_DONE;
    }
    free(j);
    if (send_msg(s, &m, &e) != 0) {
        fail(s, e.code, "cannot send %s: %s", qs_msg_type_name(m.type), e.msg);
        return;
    }
    if (!s->stalled.len)
        qs_net_resume_read(s->conn);
}

/* ---- messages ---- */

static int check_hello(qs_link *s, const qs_hello *h, const char *what)
{
    if (h->proto != QS_PROTO_VERSION) {
        fail(s, QS_EPROTO, "%s carries protocol version %u, we speak %d", what,
             (unsigned)h->proto, QS_PROTO_VERSION);
        return -1;
    }
    if (strcmp(h->node, s->res.peer) != 0) {
        fail(s, QS_EPROTO, "%s says node %s but its certificate says %s: refused", what,
             h->node, s->res.peer);
        return -1;
    }
    return 0;
}

static void handle(qs_link *s, qs_msg *m)
{
    if (s->job_busy) {
        fail(s, QS_EPROTO, "%s while the previous message is being processed (wrong state)",
             qs_msg_type_name(m->type));
        return;
    }
    if (m->type == QS_MSG_ERROR) {
        fail(s, QS_EPROTO, "the peer reported an error: %s", m->u.error.msg);
        return;
    }
    if (m->type == QS_MSG_PING && (s->st == S_WAIT_DONE || s->st == S_FINISHED)) {
        qs_msg pong = {.type = QS_MSG_PONG};
        pong.u.ping.token = m->u.ping.token;
        qs_err e = {0};
        if (send_msg(s, &pong, &e) != 0)
            fail(s, e.code, "cannot send PONG: %s", e.msg);
        return;
    }
    if (m->type == QS_MSG_PONG && (s->st == S_WAIT_DONE || s->st == S_FINISHED))
        return;
    if (!s->client && s->st == S_WAIT_HELLO && m->type == QS_MSG_HELLO) {
        if (check_hello(s, &m->u.hello, "HELLO") != 0)
            return;
        s->peer_hello = m->u.hello;
        post(s, work_server_welcome);
        return;
    }
    if (s->client && s->st == S_WAIT_WELCOME && m->type == QS_MSG_WELCOME) {
        if (check_hello(s, &m->u.hello, "WELCOME") != 0)
            return;
        s->peer_hello = m->u.hello;
        post(s, work_client_record);
        return;
    }
    if (s->st == S_WAIT_DONE && m->type == QS_MSG_DONE) {
        if (!s->client) { /* answer with our DONE: nothing to send down yet */
            qs_msg d = {.type = QS_MSG_DONE};
            qs_err e = {0};
            if (send_msg(s, &d, &e) != 0) {
                fail(s, e.code, "cannot send DONE: %s", e.msg);
                return;
            }
            finish_ok(s);
            qs_log(QS_LOG_INFO, "session", "%s: handshake recorded (skew %lld ms)", s->res.peer,
                   (long long)s->res.skew_ms);
        } else {
            finish_ok(s);
            qs_log(QS_LOG_INFO, "session", "sync with %s complete (skew %lld ms)", s->res.peer,
                   (long long)s->res.skew_ms);
            qs_net_close(s->conn);
        }
        return;
    }
    fail(s, QS_EPROTO, "unexpected %s in state %s", qs_msg_type_name(m->type),
         state_name(s->st));
}

/* ---- net callbacks ---- */

static void on_handshake(qs_net_conn *c)
{
    qs_link *s = qs_net_conn_data(c);
    if (s->tag_ == TAG_ENV) { /* server: the connection passed TLS */
        s = session_new((qs_link_env *)s, 0);
        s->conn = c;
        qs_net_conn_set_data(c, s);
        s->st = S_WAIT_HELLO;
    }
    s->res.handshaked = true;
    snprintf(s->res.peer, sizeof s->res.peer, "%s", qs_net_peer_id(c));
    qs_log(QS_LOG_INFO, "session", "connected to %s", s->res.peer);
    if (s->client)
        post(s, work_client_hello);
}

static void on_data(qs_net_conn *c, const uint8_t *p, size_t n)
{
    qs_link *s = qs_net_conn_data(c);
    if (s->tag_ != TAG_SESSION)
        return;
    while (n > 0 && !s->failed && s->conn) {
        size_t used = 0, plen = 0;
        const uint8_t *payload = NULL;
        uint8_t flags = 0;
        qs_err e = {0};
        int r = qs_frame_decoder_feed(s->dec, p, n, &used, &payload, &plen, &flags, &e);
        if (r < 0) {
            fail(s, r, "bad frame: %s", e.msg);
            return;
        }
        p += used;
        n -= used;
        if (r == 0)
            break;
        qs_msg m;
        if ((r = qs_msg_decode(payload, plen, &s->env->cfg->limits, &m, &e)) != 0) {
            fail(s, r, "bad message: %s", e.msg);
            return;
        }
        handle(s, &m);
        qs_msg_free(&m);
    }
    if (n > 0 && s->failed && s->st == S_FINISHED && s->res.err.code == 0)
        qs_log(QS_LOG_WARN, "session", "%s: data after DONE ignored", peer_name(s));
}

static void on_drain(qs_net_conn *c)
{
    qs_link *s = qs_net_conn_data(c);
    if (s->tag_ != TAG_SESSION || !s->stalled.len)
        return;
    qs_err e = {0};
    int rc = qs_net_write(c, s->stalled.data, s->stalled.len, &e);
    if (rc == QS_ELIMIT)
        return;
    qs_buf_reset(&s->stalled);
    if (rc != 0) {
        fail(s, rc, "write: %s", e.msg);
        return;
    }
    if (!s->job_busy)
        qs_net_resume_read(c);
}

static void on_close(qs_net_conn *c, const qs_err *reason)
{
    qs_link *s = qs_net_conn_data(c);
    if (s->tag_ == TAG_ENV) { /* server: refused before or during TLS */
        qs_log(QS_LOG_WARN, "net", "refused a connection: %s",
               reason->code ? reason->msg : "closed by the peer during the TLS handshake");
        return;
    }
    s->conn = NULL;
    if (!s->failed) {
        s->failed = 1;
        if (reason->code)
            s->res.err = *reason;
        else
            qs_err_set(&s->res.err, QS_EIO, "the peer closed the connection (state %s)",
                       state_name(s->st));
        if (s->res.handshaked)
            qs_log(QS_LOG_WARN, "session", "%s: %s", peer_name(s), s->res.err.msg);
        else
            qs_log(QS_LOG_WARN, "session", "cannot connect upstream: %s", s->res.err.msg);
    }
    s->res.ended_ms = qs_clock_wall_ms();
    if (s->res.handshaked && s->st >= S_WAIT_DONE)
        post_done(s);
    s->ended = 1;
    if (s->env->on_end)
        s->env->on_end(&s->res, s->env->data);
    maybe_free(s);
}

static const qs_net_callbacks g_cb = {
    .on_handshake = on_handshake,
    .on_data = on_data,
    .on_drain = on_drain,
    .on_close = on_close,
};

const qs_net_callbacks *qs_link_server_callbacks(void)
{
    return &g_cb;
}

int qs_link_connect(qs_link_env *env, qs_tls_ctx *ctx, qs_err *e)
{
    const qs_config *cfg = env->cfg;
    qs_link *s = session_new(env, 1);
    s->st = S_TLS;
    int rc = qs_net_connect(&s->conn, env->loop, cfg->up.address, cfg->up.port, cfg->up.host,
                            ctx, &g_cb, &env->opts, s, e);
    if (rc != 0) {
        s->conn = NULL;
        s->ended = 1;
        maybe_free(s);
    }
    return rc;
}

void qs_link_close_all(qs_link_env *env)
{
    for (qs_link *s = env->head; s; s = s->next)
        if (s->conn)
            qs_net_close(s->conn);
}
