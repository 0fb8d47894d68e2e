/*
 * session.c — the sync session state machine (see session.h).
 */
#include "daemon/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/clock.h"
#include "proto/schema.h"
#include "proto/scope.h"
#include "proto/xmalloc.h"

#define MAX_WINDOW 64

typedef enum state {
    S_NEW,
    S_WAIT_WELCOME, /* child */
    S_PUSHING,      /* child */
    S_PULLING,      /* child */
    S_WAIT_HELLO,   /* parent */
    S_SERVING,      /* parent: accepting PUSH, then serving a PULL */
    S_DONE,
} state;

typedef struct inflight {
    uint64_t batch;
    uint64_t upto;
    qs_record *recs; /* kept until acknowledged (rejections are noted with them) */
    uint32_t n;
} inflight;

struct qs_session {
    qs_store *st;
    qs_sess_role role;
    char peer[QS_NODE_MAX];
    qs_sess_opts o;
    qs_sess_emit emit;
    void *ctx;
    state state;
    qs_hello hello; /* the peer's HELLO or WELCOME */
    bool have_hello;
    qs_store_info info;
    uint32_t batch_max, window;
    /* sending side */
    uint64_t send_since;
    bool feed_more, serving_pull;
    uint64_t next_batch;
    inflight ring[MAX_WINDOW];
    uint32_t head, ninflight;
    /* receiving side */
    uint64_t expect_batch;
    bool applying;       /* a batch waits for qs_session_applied */
    qs_apply_batch pend; /* the batch, pointing into the caller's message */
    qs_apply_result *pend_res;
    qs_sess_stats stats;
};

static const char *state_name(state st)
{
    static const char *const n[] = {"new",        "wait-welcome", "pushing", "pulling",
                                    "wait-hello", "serving",      "done"};
    return n[st];
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

qs_session *qs_session_new(qs_store *st, qs_sess_role role, const char *peer,
                           const qs_sess_opts *opts, qs_sess_emit emit, void *ctx)
{
    qs_session *s = qs_xcalloc(1, sizeof *s);
    s->st = st;
    s->role = role;
    snprintf(s->peer, sizeof s->peer, "%s", peer);
    s->o = *opts;
    if (s->o.max_batch == 0)
        s->o.max_batch = 500;
    if (s->o.window == 0)
        s->o.window = 4;
    if (s->o.window > MAX_WINDOW)
        s->o.window = MAX_WINDOW;
    s->emit = emit;
    s->ctx = ctx;
    s->state = role == QS_SESS_CHILD ? S_NEW : S_WAIT_HELLO;
    s->next_batch = 1;
    s->expect_batch = 1;
    return s;
}

static void free_inflight(inflight *f)
{
    for (uint32_t i = 0; i < f->n; i++)
        qs_record_free(&f->recs[i]);
    free(f->recs);
    f->recs = NULL;
    f->n = 0;
}

void qs_session_free(qs_session *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->ninflight; i++)
        free_inflight(&s->ring[(s->head + i) % MAX_WINDOW]);
    free(s->pend_res);
    free(s);
}

bool qs_session_done(const qs_session *s)
{
    return s->state == S_DONE;
}

const qs_hello *qs_session_peer_hello(const qs_session *s)
{
    return s->have_hello ? &s->hello : NULL;
}

const qs_sess_stats *qs_session_stats(const qs_session *s)
{
    return &s->stats;
}

static int emit(qs_session *s, const qs_msg *m, qs_err *err)
{
    if (s->emit(s->ctx, m))
        return qs_err_set(err, QS_EIO, "the connection is gone");
    return 0;
}

static int make_hello(qs_session *s, uint32_t type, uint64_t cursor, const uint8_t *peer_inc,
                      qs_err *err)
{
    int rc = qs_store_ident(s->st, &s->info, err);
    if (rc)
        return rc;
    qs_msg m = {.type = type};
    qs_hello *h = &m.u.hello;
    h->proto = QS_PROTO_VERSION;
    snprintf(h->node, sizeof h->node, "%s", s->info.node);
    memcpy(h->incarnation, s->info.incarnation, QS_INC_LEN);
    h->schema = QS_SCHEMA_VERSION;
    if ((rc = qs_store_clock_now(s->st, &h->hlc, err)))
        return rc;
    h->features = s->o.features;
    h->cursor = cursor;
    if (peer_inc) {
        h->has_peer_inc = true;
        memcpy(h->peer_inc, peer_inc, QS_INC_LEN);
    }
    h->max_batch = s->o.max_batch;
    h->window = s->o.window;
    int64_t wall = qs_clock_wall_ms();
    h->has_wall = true;
    h->wall_ms = wall > 0 ? (uint64_t)wall : 0;
    return emit(s, &m, err);
}

int qs_session_start(qs_session *s, qs_err *err)
{
    if (s->role != QS_SESS_CHILD)
        return 0;
    qs_peer p;
    int rc = qs_store_peer_get(s->st, s->peer, &p, err);
    if (rc)
        return rc;
    static const uint8_t zero[QS_INC_LEN];
    bool known = memcmp(p.inc, zero, QS_INC_LEN) != 0;
    if ((rc = make_hello(s, QS_MSG_HELLO, p.recv_cursor, known ? p.inc : NULL, err)))
        return rc;
    s->state = S_WAIT_WELCOME;
    return 0;
}

/* Is the peer where it must be in the tree? A parent takes only nodes
 * strictly below itself that its reference data (or [listen] children)
 * knows; a child only a parent strictly above itself. Checked before
 * anything about the peer is stored. */
static int check_place(qs_session *s, qs_err *err)
{
    int rc = qs_store_ident(s->st, &s->info, err);
    if (rc)
        return rc;
    const char *me = s->info.node;
    if (s->role == QS_SESS_CHILD) {
        if (!qs_node_is_below(s->peer, me))
            return qs_err_set(err, QS_EPERM,
                              "the upstream's certificate names node %s, which "
                              "is not above this node (%s): refused",
                              s->peer, me);
        return 0;
    }
    if (!qs_node_is_below(me, s->peer))
        return qs_err_set(err, QS_EPERM, "node %s is not below this node (%s): refused", s->peer,
                          me);
    for (size_t i = 0; i < s->o.nchildren; i++)
        if (strcmp(s->o.children[i], s->peer) == 0)
            return 0;
    bool known = false;
    if ((rc = qs_store_node_known(s->st, s->peer, &known, err)))
        return rc;
    if (!known)
        return qs_err_set(err, QS_EPERM,
                          "node %s is neither a county nor a station in this "
                          "node's reference data, nor in [listen] children: refused",
                          s->peer);
    return 0;
}

/* Check a HELLO/WELCOME against the certificate and take its clock. */
static int take_hello(qs_session *s, const qs_hello *h, bool *reset, qs_err *err)
{
    if (h->proto != QS_PROTO_VERSION)
        return qs_err_set(err, QS_EPROTO, "peer speaks protocol version %u, this node %u", h->proto,
                          QS_PROTO_VERSION);
    if (strcmp(h->node, s->peer) != 0)
        return qs_err_set(err, QS_EPROTO, "%s says node %s but its certificate says %s: refused",
                          s->role == QS_SESS_PARENT ? "HELLO" : "WELCOME", h->node, s->peer);
    int rc = check_place(s, err);
    if (rc)
        return rc;
    s->hello = *h;
    s->have_hello = true;
    rc = qs_store_clock_recv(s->st, h->hlc, &s->stats.hlc_ahead_ms, &s->stats.skew_rejected, err);
    if (rc)
        return rc;
    /* Skew is the peer's wall clock against ours (key 11); the HLC would keep
     * reporting a far-future reading it once persisted. A peer without key 11
     * (older) is measured by its HLC, as before. */
    s->stats.skew_ms =
        h->has_wall ? (int64_t)h->wall_ms - qs_clock_wall_ms() : s->stats.hlc_ahead_ms;
    s->batch_max = min_u32(s->o.max_batch, h->max_batch ? h->max_batch : s->o.max_batch);
    s->window = min_u32(s->o.window, h->window ? h->window : s->o.window);
    s->stats.features = s->o.features & h->features;
    rc = qs_store_peer_hello(s->st, s->peer, h->incarnation, s->stats.skew_ms, reset, err);
    s->stats.inc_reset = *reset;
    if (rc == 0 && s->o.peer_cert_not_after_ms)
        rc = qs_store_peer_cert(s->st, s->peer, s->o.peer_cert_not_after_ms, err);
    return rc;
}

/* The cursor a peer claims on our sequence, valid only for our current
 * incarnation; past our highest seq it means we were restored or copied. */
static int our_cursor(qs_session *s, const qs_hello *h, uint64_t claimed, uint64_t *out,
                      bool *renewed, qs_err *err)
{
    *out = 0;
    *renewed = false;
    if (!h->has_peer_inc || memcmp(h->peer_inc, s->info.incarnation, QS_INC_LEN) != 0)
        return 0;
    int rc = qs_store_check_cursor(s->st, claimed, renewed, err);
    if (*renewed)
        s->stats.renewed = true;
    if (rc == 0 && !*renewed)
        *out = claimed;
    return rc;
}

/* Send batches while the window has room; finish the phase when all is
 * sent and acknowledged. */
static int pump(qs_session *s, qs_err *err)
{
    int rc;
    qs_feed_dir dir = s->role == QS_SESS_CHILD ? QS_FEED_UP : QS_FEED_DOWN;
    while (s->feed_more && s->ninflight < s->window) {
        qs_record *recs = qs_xcalloc(s->batch_max, sizeof *recs);
        uint32_t n;
        uint64_t upto;
        bool more;
        rc = qs_store_feed(s->st, s->peer, dir, s->send_since, s->batch_max, recs, &n, &upto, &more,
                           err);
        if (rc) {
            free(recs);
            return rc;
        }
        s->feed_more = more;
        if (n == 0 && upto <= s->send_since) {
            free(recs);
            break;
        }
        qs_msg m = {.type = s->role == QS_SESS_CHILD ? QS_MSG_PUSH : QS_MSG_CHANGES};
        m.u.batch.batch = s->next_batch;
        m.u.batch.upto = upto;
        m.u.batch.recs = recs;
        m.u.batch.n = n;
        inflight *f = &s->ring[(s->head + s->ninflight) % MAX_WINDOW];
        f->batch = s->next_batch++;
        f->upto = upto;
        f->recs = recs;
        f->n = n;
        s->ninflight++;
        s->stats.batches_sent++;
        s->stats.records_sent += n;
        if (s->role == QS_SESS_CHILD && upto <= s->o.prev_sent)
            s->stats.batches_resent++;
        if (upto > s->stats.highest_sent)
            s->stats.highest_sent = upto;
        s->send_since = upto;
        if ((rc = emit(s, &m, err)))
            return rc;
    }
    if (s->feed_more || s->ninflight > 0)
        return 0;
    if (s->role == QS_SESS_CHILD && s->state == S_PUSHING) {
        qs_peer p;
        if ((rc = qs_store_peer_get(s->st, s->peer, &p, err)))
            return rc;
        qs_msg m = {.type = QS_MSG_PULL};
        m.u.pull.since = p.recv_cursor;
        s->state = S_PULLING;
        s->expect_batch = 1;
        return emit(s, &m, err);
    }
    if (s->role == QS_SESS_PARENT && s->serving_pull) {
        qs_msg m = {.type = QS_MSG_DONE};
        m.u.done.upto = s->send_since;
        s->serving_pull = false;
        s->state = S_DONE;
        if ((rc = qs_store_peer_done(s->st, s->peer, true, NULL, UINT64_MAX, err)))
            return rc;
        return emit(s, &m, err);
    }
    return 0;
}

static int on_ack(qs_session *s, const qs_ack *a, qs_err *err)
{
    if (s->ninflight == 0)
        return qs_err_set(err, QS_EPROTO, "ACK for batch %llu, but none is in flight",
                          (unsigned long long)a->batch);
    inflight *f = &s->ring[s->head];
    if (a->batch != f->batch || a->cursor != f->upto || a->n != f->n)
        return qs_err_set(err, QS_EPROTO,
                          "ACK for batch %llu (cursor %llu, %u results) does not match batch "
                          "%llu (cursor %llu, %u records)",
                          (unsigned long long)a->batch, (unsigned long long)a->cursor, a->n,
                          (unsigned long long)f->batch, (unsigned long long)f->upto, f->n);
    int rc = qs_store_begin(s->st, err);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < a->n && !rc; i++) {
        switch (a->results[i].outcome) {
        case QS_OUT_REJECTED:
            s->stats.rejected++;
            rc = qs_store_note_rejected(s->st, s->peer, &f->recs[i],
                                        a->results[i].reason ? a->results[i].reason : "", err);
            break;
        case QS_OUT_CONFLICT:
            s->stats.conflicts++;
            s->stats.pushed++;
            break;
        case QS_OUT_PARKED:
            s->stats.parked++;
            s->stats.pushed++;
            break;
        case QS_OUT_DUPLICATE:
            s->stats.duplicates++;
            s->stats.pushed++;
            break;
        default:
            s->stats.pushed++;
            break;
        }
    }
    if (!rc)
        rc = qs_store_peer_acked(s->st, s->peer, f->upto, err);
    if (rc) {
        qs_store_rollback(s->st);
        return rc;
    }
    if ((rc = qs_store_commit(s->st, err)))
        return rc;
    s->stats.batches_acked++;
    if (f->upto > s->stats.highest_acked)
        s->stats.highest_acked = f->upto;
    s->stats.records_acked += f->n;
    free_inflight(f);
    s->head = (s->head + 1) % MAX_WINDOW;
    s->ninflight--;
    return pump(s, err);
}

static int on_batch(qs_session *s, const qs_batch *b, qs_err *err)
{
    if (b->batch != s->expect_batch)
        return qs_err_set(err, QS_EPROTO, "batch %llu arrived, expected %llu",
                          (unsigned long long)b->batch, (unsigned long long)s->expect_batch);
    if (b->n > s->o.max_batch)
        return qs_err_set(err, QS_ELIMIT, "batch of %u records exceeds the agreed %u", b->n,
                          s->o.max_batch);
    free(s->pend_res);
    s->pend_res = qs_xcalloc(b->n ? b->n : 1, sizeof *s->pend_res);
    s->pend = (qs_apply_batch){
        .peer = s->peer,
        .peer_inc = s->hello.incarnation,
        .dir = s->role == QS_SESS_PARENT ? QS_FROM_CHILD : QS_FROM_PARENT,
        .recs = b->recs,
        .n = b->n,
        .cursor = b->upto,
        .results = s->pend_res,
    };
    s->applying = true;
    if (s->o.defer_apply)
        return QS_SESS_APPLY;
    qs_err aerr = {0};
    int arc = qs_store_apply(s->st, &s->pend, 1, &aerr);
    return qs_session_applied(s, arc, &aerr, err);
}

const qs_apply_batch *qs_session_pending(const qs_session *s)
{
    return s->applying ? &s->pend : NULL;
}

int qs_session_applied(qs_session *s, int apply_rc, const qs_err *apply_err, qs_err *err)
{
    if (!s->applying)
        return qs_err_set(err, QS_EINVAL, "no batch is waiting to be applied");
    s->applying = false;
    if (apply_rc) { /* no ACK: the peer resends from the stored cursor */
        free(s->pend_res);
        s->pend_res = NULL;
        if (err && apply_err)
            *err = *apply_err;
        else
            qs_err_set(err, apply_rc, "applying the batch failed");
        return apply_rc;
    }
    const qs_apply_batch *b = &s->pend;
    const qs_apply_result *res = s->pend_res;
    s->expect_batch++;
    qs_msg m = {.type = QS_MSG_ACK};
    m.u.ack.batch = s->expect_batch - 1;
    m.u.ack.cursor = b->cursor;
    m.u.ack.n = b->n;
    qs_result *out = qs_xcalloc(b->n ? b->n : 1, sizeof *out);
    for (uint32_t i = 0; i < b->n; i++) {
        out[i].outcome = res[i].outcome;
        out[i].reason = res[i].reason[0] ? (char *)res[i].reason : NULL;
        switch (res[i].outcome) {
        case QS_OUT_REJECTED:
            s->stats.rejected++;
            break;
        case QS_OUT_CONFLICT:
            s->stats.conflicts++;
            break;
        case QS_OUT_PARKED:
            s->stats.parked++;
            break;
        case QS_OUT_DUPLICATE:
            s->stats.duplicates++;
            break;
        default:
            break;
        }
        if (res[i].outcome != QS_OUT_REJECTED) {
            if (s->role == QS_SESS_CHILD)
                s->stats.pulled++;
            else
                s->stats.received++;
        }
    }
    m.u.ack.results = out;
    int rc = emit(s, &m, err);
    free(out);
    /* The results (n x QS_REASON_MAX bytes: 250 KiB for a batch of 1,000)
     * are not kept until the next batch: a parent holds one per connection. */
    free(s->pend_res);
    s->pend_res = NULL;
    return rc;
}

int qs_session_recv(qs_session *s, const qs_msg *m, qs_err *err)
{
    int rc;
    bool reset, renewed;
    uint64_t since;
    switch (m->type) {
    case QS_MSG_ERROR:
        return qs_err_set(err, m->u.error.code < 0 ? m->u.error.code : QS_EPROTO,
                          "the peer reported: %s", m->u.error.msg);
    case QS_MSG_PING: {
        qs_msg pong = {.type = QS_MSG_PONG};
        pong.u.ping.token = m->u.ping.token;
        return emit(s, &pong, err);
    }
    case QS_MSG_PONG:
        return 0;
    default:
        break;
    }
    if (s->applying)
        return qs_err_set(err, QS_EPROTO, "%s while a batch waits to be applied",
                          qs_msg_type_name(m->type));
    switch (s->state) {
    case S_WAIT_HELLO:
        if (m->type != QS_MSG_HELLO)
            break;
        if ((rc = take_hello(s, &m->u.hello, &reset, err)))
            return rc;
        if ((rc = qs_store_ident(s->st, &s->info, err)))
            return rc;
        {
            qs_peer p;
            if ((rc = qs_store_peer_get(s->st, s->peer, &p, err)))
                return rc;
            if ((rc = make_hello(s, QS_MSG_WELCOME, p.recv_cursor, m->u.hello.incarnation, err)))
                return rc;
        }
        s->state = S_SERVING;
        return 0;
    case S_WAIT_WELCOME:
        if (m->type != QS_MSG_WELCOME)
            break;
        if ((rc = take_hello(s, &m->u.hello, &reset, err)))
            return rc;
        if ((rc = our_cursor(s, &m->u.hello, m->u.hello.cursor, &since, &renewed, err)))
            return rc;
        if (renewed)
            return qs_err_set(err, QS_EAGAIN,
                              "the parent holds more of this node's data than this store has "
                              "(restored or copied): took a new incarnation, reconnect");
        s->send_since = since;
        s->feed_more = true;
        s->state = S_PUSHING;
        return pump(s, err);
    case S_PUSHING:
        if (m->type == QS_MSG_ACK)
            return on_ack(s, &m->u.ack, err);
        break;
    case S_PULLING:
        if (m->type == QS_MSG_CHANGES)
            return on_batch(s, &m->u.batch, err);
        if (m->type == QS_MSG_DONE) {
            s->state = S_DONE;
            return qs_store_peer_done(s->st, s->peer, true, NULL, UINT64_MAX, err);
        }
        break;
    case S_SERVING:
        if (m->type == QS_MSG_PUSH && !s->serving_pull)
            return on_batch(s, &m->u.batch, err);
        if (m->type == QS_MSG_PULL && !s->serving_pull) {
            if ((rc = our_cursor(s, &s->hello, m->u.pull.since, &since, &renewed, err)))
                return rc;
            s->send_since = since;
            s->feed_more = true;
            s->serving_pull = true;
            return pump(s, err);
        }
        if (m->type == QS_MSG_ACK && s->serving_pull)
            return on_ack(s, &m->u.ack, err);
        break;
    default:
        break;
    }
    return qs_err_set(err, QS_EPROTO, "unexpected %s in state %s", qs_msg_type_name(m->type),
                      state_name(s->state));
}
