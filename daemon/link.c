/* link.c — one sync connection: frames <-> the session on the store thread;
 * see link.h and proto/PROTOCOL-session.md. */
#include "daemon/link.h"

#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "proto/clock.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/testhook.h"
#include "proto/scope.h"
#include "proto/xmalloc.h"

#define TAG_ENV 0x51534556
#define TAG_LINK 0x5153534c
#define DEFAULT_WINDOW 4
#define LINK_MAX_INPUT (1u << 20) /* bytes received while a message is processed */
#define DEFAULT_MAX_JOBS 16       /* messages with the store thread, all links together */
#define DEFAULT_HELLO_MS 5000

/* What the store thread touches, only while a job of this link runs there
 * (one at a time; the loop thread makes and frees it, between jobs). */
typedef struct link_store_side {
    qs_session *sess;    /* the session: every call on the store thread */
    qs_buf *emit_to;     /* the running job's output */
    uint64_t emitted;    /* bytes framed by that job */
    unsigned frames_out; /* crash hook: session frames emitted */
    size_t hook_cut;     /* crash hook: job output ends after frame k (+1; 0 = not) */
} link_store_side;

/* The rest is the loop thread's. */
struct qs_link {
    int tag_;
    qs_link_env *env;
    qs_net_conn *conn; /* NULL once closed */
    qs_link *prev, *next;
    int client;
    link_store_side st;
    qs_frame_decoder *dec;
    int job_busy; /* a job is in flight: no new message is taken */
    int ended;    /* on_end delivered */
    int settled;  /* the result is final: DONE (done = 1) or an error */
    int done;     /* the session finished (DONE) */
    qs_buf in;    /* received bytes not yet given to the decoder */
    qs_buf out;   /* framed bytes not yet accepted by qs_net */
    qs_link_result res;
    unsigned frames_in; /* crash hook: session frames handed to the session */
    /* the next message, decoded and checked while the job works (read-ahead) */
    int has_ahead;
    qs_msg ahead;
    qs_precheck *ahead_pre;
    /* its turn with the store thread (admission, admit.h) */
    qs_admit_waiter turn;
};

typedef struct ljob {
    qs_job job;
    qs_link *l;
    int start; /* qs_session_start instead of a message */
    qs_msg msg;
    qs_precheck *pre; /* msg's batch, checked on the loop thread (or NULL) */
    int rc;
    qs_err err;
    qs_buf out; /* frames emitted while the job ran */
    uint64_t out_bytes;
    unsigned nth_in; /* this message's number among the frames received */
    int applied;     /* a batch was applied (group commit counters) */
    size_t group;    /* batches in its transaction (first of a group: > 0) */
    bool sess_done;
    qs_sess_stats stats; /* snapshot after the job */
} ljob;

typedef struct donejob { /* the end of a failed session, fire and forget */
    qs_job job;
    char peer[QS_NODE_MAX];
    char error[QS_REASON_MAX];
} donejob;

/* ---- the test-only crash hook ---- */

static qs_link *g_victim; /* the link whose frame k was sent/processed */
static uv_timer_t g_kill_timer;
static uint64_t g_kill_start;

static void die(void)
{
    qs_log(QS_LOG_WARN, "test", "QIANSHOU_TEST_EXIT_AFTER_FRAME: killing myself (SIGKILL)");
    raise(SIGKILL);
}

/* Kill once what was queued up to frame k has left for the kernel (or the
 * connection is gone, or 2 s passed). */
static void kill_poll(uv_timer_t *t)
{
    qs_link *l = g_victim;
    if (!l->conn || (!l->out.len && qs_net_queued(l->conn) == 0) ||
        uv_now(t->loop) - g_kill_start > 2000)
        die();
}

static void hook_fire(qs_link *l)
{
    if (g_victim)
        return;
    g_victim = l;
    qs_log(QS_LOG_INFO, "test", "crash hook: frame %u %s %s reached", l->env->exit_after,
           l->env->exit_in ? "received from" : "sent to", l->res.peer);
    uv_timer_init(l->env->loop, &g_kill_timer);
    g_kill_start = uv_now(l->env->loop);
    uv_timer_start(&g_kill_timer, kill_poll, 0, 1); /* never closed: we die */
}

static void parse_hook(qs_link_env *env)
{
    const char *v = qs_testhook_env(QS_HOOK_EXIT_AFTER_FRAME);
    if (!v || !*v)
        return;
    char *end;
    unsigned long k = strtoul(v, &end, 10);
    int in = 0;
    if (strcmp(end, ":in") == 0)
        in = 1;
    else if (*end && strcmp(end, ":out") != 0)
        k = 0;
    if (k == 0 || k > 1000000) {
        qs_log(QS_LOG_WARN, "test",
               "QIANSHOU_TEST_EXIT_AFTER_FRAME=%s is not k[:in|:out] "
               "(k >= 1): ignored",
               v);
        return;
    }
    env->exit_after = (unsigned)k;
    env->exit_in = in;
    qs_log(QS_LOG_WARN, "test",
           "QIANSHOU_TEST_EXIT_AFTER_FRAME: this daemon kills itself "
           "after frame %lu %s of a session",
           k, in ? "received" : "sent");
}

void qs_link_env_init(qs_link_env *env)
{
    memset(env, 0, sizeof *env);
    env->tag_ = TAG_ENV;
    env->window = DEFAULT_WINDOW;
    qs_admit_init(&env->admission, DEFAULT_MAX_JOBS);
    parse_hook(env);
}

static const char *peer_name(const qs_link *l)
{
    return l->res.peer[0] ? l->res.peer : "(unknown peer)";
}

static uint32_t batch_len(const qs_msg *m)
{
    return m->type == QS_MSG_PUSH || m->type == QS_MSG_CHANGES ? m->u.batch.n : 0;
}

static void free_prechecks(qs_precheck *pre, uint32_t n)
{
    if (!pre)
        return;
    for (uint32_t i = 0; i < n; i++)
        qs_precheck_free(&pre[i]);
    free(pre);
}

/* A message and its prechecks that will not be handled (the prechecks first:
 * the message's free clears its length). */
static void drop_msg(qs_msg *m, qs_precheck *pre)
{
    free_prechecks(pre, batch_len(m));
    qs_msg_free(m);
}

/* ---- admission (admit.h): at most env->admission.max messages of all
 * links are with the store thread; a link with one more waits its turn, its
 * input unread (what the peer sends waits in TCP), and the waiting links
 * are let in in the order they came as the store thread finishes messages
 * (job_done, however the job ended). */
/* The session ended in an error (a link that finished reads on after DONE
 * to see the child close). */
static bool broken(const qs_link *l)
{
    return l->settled && !l->done;
}

static qs_link *waiter_link(qs_admit_waiter *w)
{
    return (qs_link *)((char *)w - offsetof(qs_link, turn));
}

static bool must_wait(const qs_link *l)
{
    return qs_admit_must_wait(&l->env->admission, &l->turn);
}

static void wait_turn(qs_link *l)
{
    qs_admit_wait(&l->env->admission, &l->turn);
}

static void stop_waiting(qs_link *l)
{
    qs_admit_leave(&l->env->admission, &l->turn);
}

static void handle(qs_link *l, qs_msg *m, qs_precheck *pre);
static void process_input(qs_link *l);

/* l's next message: the one read ahead if any (it waits for room too), then
 * what is in its input. */
static void next_message(qs_link *l)
{
    if (!l->conn || broken(l))
        return; /* closing (e.g. replaced while it waited): nothing more is handled */
    if (l->has_ahead) {
        if (must_wait(l)) {
            wait_turn(l);
            return;
        }
        l->has_ahead = 0;
        handle(l, &l->ahead, l->ahead_pre);
    }
    process_input(l);
}

/* Room with the store thread: the waiting links, first come first. */
static void admit(qs_link_env *env)
{
    qs_admit_begin(&env->admission);
    qs_admit_waiter *w;
    while ((w = qs_admit_next(&env->admission)))
        next_message(waiter_link(w));
    qs_admit_end(&env->admission);
}

static void maybe_free(qs_link *l)
{
    if (l->conn || l->job_busy || !l->ended)
        return;
    if (l == g_victim)
        die(); /* the connection went before the frame was out: die now */
    qs_link_env *env = l->env;
    if (l->prev)
        l->prev->next = l->next;
    else
        env->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    env->live--;
    stop_waiting(l);
    if (l->has_ahead)
        drop_msg(&l->ahead, l->ahead_pre);
    qs_session_free(l->st.sess);
    qs_frame_decoder_free(l->dec);
    qs_buf_free(&l->in);
    qs_buf_free(&l->out);
    free(l);
}

static qs_link *link_new(qs_link_env *env, int client)
{
    qs_link *l = qs_xcalloc(1, sizeof *l);
    l->tag_ = TAG_LINK;
    l->env = env;
    l->client = client;
    l->dec = qs_frame_decoder_new(&env->cfg->limits);
    qs_buf_init(&l->in, LINK_MAX_INPUT);
    qs_buf_init(&l->out, 0); /* bounded: one job's output beyond the net cap */
    l->res.started_ms = qs_clock_wall_ms();
    l->next = env->head;
    if (env->head)
        env->head->prev = l;
    env->head = l;
    env->live++;
    return l;
}

/* Encode and frame one message into out; zstd when agreed. */
static int frame_msg(const qs_msg *m, int zstd, const qs_limits *lim, qs_buf *out, qs_err *e)
{
    qs_buf payload;
    qs_buf_init(&payload, 0);
    int rc = qs_msg_encode(m, &payload, e);
    if (rc == 0)
        rc =
            qs_frame_encode(payload.data, payload.len, zstd ? QS_FRAME_ZSTD_LEVEL : 0, lim, out, e);
    qs_buf_free(&payload);
    return rc;
}

/* Session emit callback (store thread, inside a job). */
static int emit_cb(void *ctx, const qs_msg *m)
{
    qs_link *l = ctx;
    const qs_sess_stats *st = qs_session_stats(l->st.sess);
    int zstd =
        (st->features & QS_FEAT_ZSTD) && m->type != QS_MSG_HELLO && m->type != QS_MSG_WELCOME;
    size_t before = l->st.emit_to->len;
    qs_err e = {0};
    if (frame_msg(m, zstd, &l->env->cfg->limits, l->st.emit_to, &e) != 0) {
        qs_log(QS_LOG_ERROR, "session", "%s: cannot frame %s: %s", peer_name(l),
               qs_msg_type_name(m->type), e.msg);
        return -1;
    }
    l->st.emitted += l->st.emit_to->len - before;
    if (l->env->exit_after && !l->env->exit_in && ++l->st.frames_out == l->env->exit_after)
        l->st.hook_cut = l->st.emit_to->len + 1; /* what follows frame k is never sent */
    return 0;
}

/* Hand queued output to qs_net in pieces it accepts (a frame may be larger
 * than the send cap). 0, or an error (the connection is failing). */
static int flush_out(qs_link *l, qs_err *e)
{
    size_t piece = qs_net_max_queued(l->conn) / 4;
    if (piece < 4096)
        piece = 4096;
    while (l->out.len && l->conn) {
        size_t n = l->out.len < piece ? l->out.len : piece;
        int rc = qs_net_write(l->conn, l->out.data, n, e);
        if (rc == QS_ELIMIT)
            return 0; /* on_drain continues */
        if (rc != 0)
            return rc;
        qs_buf_consume(&l->out, n);
    }
    return 0;
}

/* End the session with an error: log, ERROR to the peer (best effort), close. */
static void fail(qs_link *l, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(qs_link *l, int code, const char *fmt, ...)
{
    if (l->settled || !l->conn)
        return;
    char msg[QS_ERR_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    l->settled = 1;
    stop_waiting(l); /* no more turns with the store thread */
    qs_err_set(&l->res.err, code, "%s", msg);
    /* county: the scheduler logs the link going down once, not every attempt */
    qs_log(l->client ? QS_LOG_DEBUG : QS_LOG_WARN, "session", "%s: closing the connection: %s",
           peer_name(l), msg);
    if (qs_net_is_open(l->conn)) {
        qs_msg m = {.type = QS_MSG_ERROR};
        m.u.error.code = code;
        snprintf(m.u.error.msg, sizeof m.u.error.msg, "%.*s", (int)sizeof m.u.error.msg - 1, msg);
        qs_buf f;
        qs_buf_init(&f, 0);
        if (frame_msg(&m, 0, &l->env->cfg->limits, &f, NULL) == 0)
            qs_net_write(l->conn, f.data, f.len, NULL); /* dropped if the queue is full */
        qs_buf_free(&f);
    }
    qs_net_close(l->conn);
}

/* ---- store jobs ---- */

static void work_failed_end(qs_job *job, qs_store *st)
{
    donejob *j = (donejob *)job;
    qs_err e = {0};
    if (qs_store_peer_done(st, j->peer, false, j->error, UINT64_MAX, &e) != 0)
        qs_log(QS_LOG_ERROR, "store", "cannot record the end of the session with %s: %s", j->peer,
               e.msg);
}

static void free_job(qs_job *job)
{
    free(job);
}

static void post_failed_end(qs_link *l)
{
    donejob *j = qs_xcalloc(1, sizeof *j);
    j->job.work = work_failed_end;
    j->job.done = free_job;
    snprintf(j->peer, sizeof j->peer, "%s", l->res.peer);
    snprintf(j->error, sizeof j->error, "%.*s", (int)sizeof j->error - 1, l->res.err.msg);
    qs_worker_post(l->env->worker, &j->job);
}

/* Run the jobs' messages through their sessions; the batches that are ready
 * are applied together in one transaction (store thread). */
static void run_jobs(qs_job **jobs, size_t n, qs_store *st)
{
    ljob *apply[QS_WORKER_MAX_GROUP];
    qs_apply_batch batches[QS_WORKER_MAX_GROUP];
    size_t na = 0;
    for (size_t i = 0; i < n; i++) {
        ljob *j = (ljob *)jobs[i];
        qs_link *l = j->l;
        l->st.emit_to = &j->out;
        l->st.emitted = 0;
        j->rc = j->start ? qs_session_start(l->st.sess, &j->err)
                         : qs_session_recv(l->st.sess, &j->msg, &j->err);
        if (j->rc == QS_SESS_APPLY) {
            batches[na] = *qs_session_pending(l->st.sess);
            if (j->pre && batches[na].recs == j->msg.u.batch.recs &&
                batches[na].n == j->msg.u.batch.n)
                batches[na].pre = j->pre;
            apply[na++] = j;
        }
        j->out_bytes = l->st.emitted;
    }
    if (na > 0) {
        qs_err e = {0};
        int rc = qs_store_apply(st, batches, na, &e);
        if (rc != 0 && na > 1) {
            /* One transaction failed: give each batch its own chance. */
            for (size_t i = 0; i < na; i++) {
                qs_err ei = {0};
                int ri = qs_store_apply(st, &batches[i], 1, &ei);
                apply[i]->group = 1;
                qs_link *l = apply[i]->l;
                l->st.emit_to = &apply[i]->out;
                l->st.emitted = 0;
                apply[i]->rc = qs_session_applied(l->st.sess, ri, &ei, &apply[i]->err);
                apply[i]->applied = ri == 0;
                apply[i]->out_bytes += l->st.emitted;
            }
        } else {
            apply[0]->group = na;
            for (size_t i = 0; i < na; i++) {
                qs_link *l = apply[i]->l;
                l->st.emit_to = &apply[i]->out;
                l->st.emitted = 0;
                apply[i]->rc = qs_session_applied(l->st.sess, rc, &e, &apply[i]->err);
                apply[i]->applied = rc == 0;
                apply[i]->out_bytes += l->st.emitted;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        ljob *j = (ljob *)jobs[i];
        j->l->st.emit_to = NULL;
        j->stats = *qs_session_stats(j->l->st.sess);
        j->sess_done = qs_session_done(j->l->st.sess);
    }
}

static void work_one(qs_job *job, qs_store *st)
{
    run_jobs(&job, 1, st);
}

/* The connection is gone: once no job is in flight (its counters count),
 * report the end once and free. */
static void end_link(qs_link *l)
{
    if (l->conn || l->job_busy || l->ended)
        return;
    if (!l->done && l->res.welcomed)
        post_failed_end(l);
    l->ended = 1;
    if (l->env->on_end)
        l->env->on_end(&l->res, l->env->data);
    maybe_free(l);
}

static void job_done(qs_job *job);

static void post(qs_link *l, const qs_msg *m, qs_precheck *pre)
{
    ljob *j = qs_xcalloc(1, sizeof *j);
    j->job.work = work_one;
    j->job.group = run_jobs;
    j->job.done = job_done;
    j->l = l;
    if (m) {
        j->msg = *m; /* takes ownership of what it points to */
        j->pre = pre;
        j->nth_in = ++l->frames_in;
    } else {
        j->start = 1;
    }
    qs_buf_init(&j->out, 0);
    l->job_busy = 1;
    qs_admit_take(&l->env->admission);
    if (l->conn)
        qs_net_pause_read(l->conn);
    qs_worker_post(l->env->worker, &j->job);
}

static void note_hello(qs_link *l, const qs_sess_stats *st)
{
    l->res.welcomed = true;
    l->res.skew_ms = st->skew_ms;
    l->res.skew_rejected = st->skew_rejected;
    l->res.inc_reset = st->inc_reset;
    if (st->skew_rejected)
        qs_log(QS_LOG_WARN, "clock",
               "%s's clock reading (HLC) is %lld ms ahead of ours: beyond "
               "the maximum offset, our clock was not moved; its wall clock is %lld ms from "
               "ours",
               l->res.peer, (long long)st->hlc_ahead_ms, (long long)st->skew_ms);
    if (st->inc_reset)
        qs_log(QS_LOG_INFO, "session", "%s has a new incarnation: cursors start over", l->res.peer);
    qs_log(QS_LOG_DEBUG, "session", "%s: HELLO/WELCOME exchanged (skew %lld ms, zstd %s)",
           l->res.peer, (long long)st->skew_ms, (st->features & QS_FEAT_ZSTD) ? "on" : "off");
}

static void log_done(qs_link *l)
{
    const qs_sess_stats *st = &l->res.stats;
    if (l->client)
        qs_log(QS_LOG_INFO, "session",
               "sync with %s complete: pushed %llu, pulled %llu, rejected %llu, conflicts %llu, "
               "%llu bytes sent, %llu received (skew %lld ms)",
               l->res.peer, (unsigned long long)st->pushed, (unsigned long long)st->pulled,
               (unsigned long long)st->rejected, (unsigned long long)st->conflicts,
               (unsigned long long)l->res.bytes_sent, (unsigned long long)l->res.bytes_received,
               (long long)l->res.skew_ms);
    else
        qs_log(QS_LOG_INFO, "session",
               "%s: sync done: received %llu, sent %llu, rejected %llu, conflicts %llu, "
               "%llu bytes in, %llu out (skew %lld ms)",
               l->res.peer, (unsigned long long)st->received, (unsigned long long)st->records_sent,
               (unsigned long long)st->rejected, (unsigned long long)st->conflicts,
               (unsigned long long)l->res.bytes_received, (unsigned long long)l->res.bytes_sent,
               (long long)l->res.skew_ms);
}

static void finish_job(ljob *j);

/* A job is back from the store thread: the link goes on (finish_job, which
 * may free it), then the room it left goes to the links waiting. */
static void job_done(qs_job *job)
{
    ljob *j = (ljob *)job;
    qs_link_env *env = j->l->env;
    int cancelled = job->cancelled;
    qs_admit_done(&env->admission);
    finish_job(j);
    if (!cancelled) /* not at shutdown: nothing more is posted then */
        admit(env);
}

static void finish_job(ljob *j)
{
    qs_job *job = &j->job;
    qs_link *l = j->l;
    l->job_busy = 0;
    if (!j->start)
        drop_msg(&j->msg, j->pre);
    if (!job->cancelled) {
        qs_link_counters *c = &l->env->counters;
        if (j->group) {
            c->apply_txns++;
            if (j->group > c->max_group)
                c->max_group = j->group;
        }
        if (j->applied)
            c->apply_batches++;
        l->res.stats = j->stats;
        l->res.renewed = j->stats.renewed;
        l->res.bytes_sent += j->out_bytes;
        if (!l->res.welcomed && qs_session_peer_hello(l->st.sess))
            note_hello(l, &j->stats);
    }
    int rc = j->rc;
    qs_err err = j->err;
    int hook = 0;
    if (l->st.hook_cut) { /* crash hook: frame k (sent) is in this output */
        j->out.len = l->st.hook_cut - 1;
        l->st.hook_cut = 0;
        hook = 1;
    }
    if (l->env->exit_after && l->env->exit_in && j->nth_in == l->env->exit_after)
        hook = 1; /* crash hook: frame k (received) processed, its answer goes out */
    if (l == g_victim)
        j->out.len = 0; /* after frame k: nothing more leaves */
    /* fired even when the peer is gone already (the link reads on while a job
     * runs, so it may have seen the peer die first): frame k was processed */
    if (hook && !job->cancelled)
        hook_fire(l);
    qs_buf_append(&l->out, j->out.data, j->out.len);
    qs_buf_free(&j->out);
    bool sess_done = j->sess_done;
    int cancelled = job->cancelled;
    free(j);
    if (cancelled || !l->conn || l->settled) {
        if (!l->conn && !cancelled) {
            end_link(l); /* reports the end (with this job's counters) and frees l */
        } else {
            if (!l->conn)
                l->ended = 1; /* shutdown: the loop is gone, nobody to tell */
            maybe_free(l);
        }
        return;
    }
    qs_err e = {0};
    if (rc != 0) {
        /* what the session emitted before failing (none today) is dropped */
        qs_buf_reset(&l->out);
        fail(l, rc, "%s", err.msg);
        return;
    }
    if (flush_out(l, &e) != 0) {
        fail(l, e.code, "write: %s", e.msg);
        return;
    }
    if (sess_done && !l->done) {
        l->done = 1;
        l->settled = 1; /* the result is final: ok */
        l->res.err.code = 0;
        l->res.bytes_received = qs_frame_decoder_wire_bytes(l->dec);
        log_done(l);
        if (l->client) {
            qs_net_close(l->conn); /* the parent's DONE ends it; close_notify */
            return;
        }
    }
    next_message(l); /* a parent reads on after DONE to see the child close */
}

/* ---- messages ---- */

static void handle(qs_link *l, qs_msg *m, qs_precheck *pre)
{
    if (l->done) {
        qs_log(QS_LOG_WARN, "session", "%s: %s after DONE ignored", peer_name(l),
               qs_msg_type_name(m->type));
        drop_msg(m, pre);
        return;
    }
    if (m->type == QS_MSG_ERROR) {
        fail(l, QS_EPROTO, "the peer reported an error: %s", m->u.error.msg);
        qs_msg_free(m);
        return;
    }
    if (m->type == QS_MSG_PING || m->type == QS_MSG_PONG) {
        if (!l->res.welcomed) {
            fail(l, QS_EPROTO, "unexpected %s before HELLO/WELCOME", qs_msg_type_name(m->type));
        } else if (m->type == QS_MSG_PING) {
            qs_msg pong = {.type = QS_MSG_PONG};
            pong.u.ping.token = m->u.ping.token;
            qs_err e = {0};
            if (frame_msg(&pong, 0, &l->env->cfg->limits, &l->out, &e) != 0 ||
                flush_out(l, &e) != 0)
                fail(l, e.code, "cannot send PONG: %s", e.msg);
        }
        qs_msg_free(m);
        return;
    }
    post(l, m, pre); /* the job owns m's contents and pre now */
}

/* Read ahead (decode and check the next message while the store thread works
 * on this link's last one) only while the store thread has little else
 * queued: with many connections waiting it is never idle anyway, and every
 * message held is memory. The same rule decides whether a checked batch keeps
 * its decoded bodies for the store thread (~0.5 MiB a batch of 1,000). */
#define READ_AHEAD_MAX_INFLIGHT 2

static bool store_not_busy(const qs_link *l)
{
    return qs_worker_inflight(l->env->worker) <= READ_AHEAD_MAX_INFLIGHT;
}

/* Check a batch's records as the store would before it looks at its tables
 * (hash, kind, scope, schema), here on the loop thread: the store thread that
 * all connections wait for then only decides and writes. */
static qs_precheck *precheck(qs_link *l, const qs_msg *m)
{
    uint32_t n = batch_len(m);
    if (n == 0)
        return NULL;
    qs_precheck *pre = qs_xcalloc(n, sizeof *pre);
    qs_direction dir = l->client ? QS_FROM_PARENT : QS_FROM_CHILD;
    bool keep = store_not_busy(l);
    for (uint32_t i = 0; i < n; i++)
        qs_precheck_run(l->env->cfg->node, &l->env->cfg->limits, l->res.peer, dir,
                        &m->u.batch.recs[i], keep, &pre[i]);
    return pre;
}

/* Decode and hand on the received bytes, one message at a time; read more
 * only when nothing is in flight and the output went out. */
static void process_input(qs_link *l)
{
    if (l == g_victim) { /* crash hook fired: take nothing more */
        if (l->conn)
            qs_net_pause_read(l->conn);
        return;
    }
    while (l->conn && !broken(l) && !l->out.len && l->in.len && !l->has_ahead) {
        if (l->job_busy && !store_not_busy(l))
            break;
        if (!l->job_busy && must_wait(l)) {
            wait_turn(l); /* the message stays undecoded in l->in */
            break;
        }
        size_t used = 0, plen = 0;
        const uint8_t *payload = NULL;
        uint8_t flags = 0;
        qs_err e = {0};
        int r = qs_frame_decoder_feed(l->dec, l->in.data, l->in.len, &used, &payload, &plen, &flags,
                                      &e);
        if (r < 0) {
            fail(l, r, "bad frame: %s", e.msg);
            return;
        }
        if (r == 0) {
            qs_buf_consume(&l->in, used);
            break;
        }
        qs_msg m;
        r = qs_msg_decode(payload, plen, &l->env->cfg->limits, &m, &e);
        qs_buf_consume(&l->in, used); /* payload is not used after this */
        /* The message owns copies now: the decoder's buffers (and the input
         * buffer, once empty) go back while the message waits for the store
         * thread — with hundreds of connections waiting that is most of a
         * parent's memory. */
        qs_frame_decoder_release(l->dec);
        if (!l->in.len) {
            qs_buf_free(&l->in);
            qs_buf_init(&l->in, LINK_MAX_INPUT);
        }
        if (r != 0) {
            fail(l, r, "bad message: %s", e.msg);
            return;
        }
        if (!l->client && l->frames_in == 0 && !l->job_busy)
            qs_net_clear_deadline(l->conn); /* the first message came (HELLO or not) */
        qs_precheck *pre = precheck(l, &m);
        if (l->job_busy) { /* handled when the job is done */
            l->ahead = m;
            l->ahead_pre = pre;
            l->has_ahead = 1;
            l->env->counters.read_ahead++;
            break;
        }
        handle(l, &m, pre);
    }
    if (!l->conn || broken(l))
        return;
    if (!l->out.len && !l->in.len && (!l->job_busy || (!l->has_ahead && store_not_busy(l))))
        qs_net_resume_read(l->conn);
    else
        qs_net_pause_read(l->conn);
}

/* ---- net callbacks ---- */

static qs_sess_opts sess_opts(const qs_link_env *env, int client)
{
    qs_sess_opts o = {
        .children = env->cfg->listen.children,
        .nchildren = client ? 0 : env->cfg->listen.nchildren,
        .max_batch = env->cfg->limits.max_batch,
        .window = env->window,
        .features = QS_FEAT_ZSTD,
        .prev_sent = client ? env->prev_sent : 0,
        .defer_apply = true,
    };
    return o;
}

/* Server: a certificate that passed TLS. It must name a node below ours;
 * a session of the same node is replaced; HELLO must follow soon. */
static qs_link *accept_session(qs_link_env *env, qs_net_conn *c)
{
    const char *peer = qs_net_peer_id(c);
    if (!qs_node_is_below(env->cfg->node, peer)) {
        qs_err e;
        qs_err_set(&e, QS_EPERM,
                   "the certificate names node %s, which is not below this "
                   "node (%s)",
                   peer, env->cfg->node);
        env->counters.refused_place++;
        qs_net_fail(c, &e); /* on_close logs it */
        return NULL;
    }
    for (qs_link *o = env->head; o; o = o->next) {
        if (o->client || !o->conn || o->settled || strcmp(o->res.peer, peer) != 0)
            continue;
        env->counters.replaced++;
        fail(o, QS_EBUSY, "replaced by a new connection from the same node (%s)",
             qs_net_peer_addr(c));
    }
    qs_link *l = link_new(env, 0);
    l->conn = c;
    qs_net_conn_set_data(c, l);
    char what[96];
    uint64_t ms = env->hello_timeout_ms ? env->hello_timeout_ms : DEFAULT_HELLO_MS;
    snprintf(what, sizeof what, "no HELLO within %llu ms of TLS", (unsigned long long)ms);
    qs_net_set_deadline(c, ms, what);
    return l;
}

static void on_handshake(qs_net_conn *c)
{
    qs_link *l = qs_net_conn_data(c);
    if (l->tag_ == TAG_ENV && !(l = accept_session((qs_link_env *)l, c)))
        return;
    l->res.handshaked = true;
    snprintf(l->res.peer, sizeof l->res.peer, "%s", qs_net_peer_id(c));
    qs_sess_opts o = sess_opts(l->env, l->client);
    o.peer_cert_not_after_ms = (int64_t)qs_net_peer_not_after(c) * 1000;
    l->st.sess = qs_session_new(l->env->store, l->client ? QS_SESS_CHILD : QS_SESS_PARENT,
                                l->res.peer, &o, emit_cb, l);
    qs_log(QS_LOG_INFO, "session", "connected to %s", l->res.peer);
    if (l->client)
        post(l, NULL, NULL);
}

static void on_data(qs_net_conn *c, const uint8_t *p, size_t n)
{
    qs_link *l = qs_net_conn_data(c);
    if (l->tag_ != TAG_LINK || broken(l))
        return;
    if (qs_buf_append(&l->in, p, n) != 0) {
        fail(l, QS_ELIMIT, "the peer sent more than %u bytes while a message was processed",
             LINK_MAX_INPUT);
        return;
    }
    process_input(l);
}

static void on_drain(qs_net_conn *c)
{
    qs_link *l = qs_net_conn_data(c);
    if (l->tag_ != TAG_LINK || !l->out.len || broken(l))
        return;
    qs_err e = {0};
    if (flush_out(l, &e) != 0) {
        fail(l, e.code, "write: %s", e.msg);
        return;
    }
    process_input(l);
}

static void on_close(qs_net_conn *c, const qs_err *reason)
{
    qs_link *l = qs_net_conn_data(c);
    if (l->tag_ == TAG_ENV) { /* server: refused before, during or right after TLS */
        const char *addr = qs_net_peer_addr(c);
        qs_log(QS_LOG_WARN, "net", "refused a connection: %s (from %s)",
               reason->code ? reason->msg : "closed by the peer during the TLS handshake",
               addr[0] ? addr : "unknown address");
        return;
    }
    l->conn = NULL;
    l->res.bytes_received = qs_frame_decoder_wire_bytes(l->dec);
    if (!l->settled) {
        l->settled = 1;
        if (reason->code)
            l->res.err = *reason;
        else
            qs_err_set(&l->res.err, QS_EIO,
                       "the peer closed the connection before the "
                       "session was done");
        /* county: the scheduler logs the link going down once, not every attempt */
        int lvl = l->client ? QS_LOG_DEBUG : QS_LOG_WARN;
        if (l->res.handshaked)
            qs_log(lvl, "session", "%s: %s", peer_name(l), l->res.err.msg);
        else
            qs_log(lvl, "session", "cannot connect upstream: %s", l->res.err.msg);
    }
    l->res.ended_ms = qs_clock_wall_ms();
    end_link(l);
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
    qs_link *l = link_new(env, 1);
    int rc = qs_net_connect(&l->conn, env->loop, cfg->up.address, cfg->up.port, cfg->up.host, ctx,
                            &g_cb, &env->opts, l, e);
    if (rc != 0) {
        l->conn = NULL;
        l->ended = 1;
        maybe_free(l);
    }
    return rc;
}

void qs_link_close_all(qs_link_env *env)
{
    for (qs_link *l = env->head; l; l = l->next)
        if (l->conn)
            qs_net_close(l->conn);
}
