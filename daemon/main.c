/*
 * main.c — qianshoud: config, --check, the libuv loop, signals, the control
 * socket server and the county scheduler. The session protocol is session.c;
 * the store thread worker.c; TLS over libuv net.c.
 *
 * Exit codes: 0 clean stop / check passed, 1 usage, 3 environment (bad
 * config, certificates, CRL, store, lock held by another daemon).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "daemon/config.h"
#include "ctl/ctl.h"
#include "daemon/check.h"
#include "daemon/ctlsrv.h"
#include "daemon/log.h"
#include "daemon/net.h"
#include "daemon/link.h"
#include "daemon/notify.h"
#include "daemon/sched.h"
#include "daemon/tls.h"
#include "daemon/worker.h"
#include "proto/clock.h"
#include "proto/frame.h"
#include "proto/schema.h"
#include "proto/scope.h"
#include "proto/xmalloc.h"
#include "store/store.h"

#define WATCH_MS 1000 /* how often the county looks for local edits */

typedef struct daemon_s daemon_s;

typedef struct waiter { /* a ctl client waiting for the end of a sync */
    qs_ctlsrv_client *cl;
    daemon_s *d;
    uv_timer_t timer;
    int replied;
    uint64_t want; /* the sync (number) whose end it waits for */
    struct waiter *next;
} waiter;

typedef struct totals { /* sessions' counters since the daemon started */
    uint64_t syncs_ok, syncs_failed;
    uint64_t batches_sent, batches_acked, batches_resent;
    uint64_t records_sent, records_acked;
    uint64_t pushed, pulled, received, rejected, conflicts, duplicates;
    uint64_t bytes_sent, bytes_received;
} totals;

struct daemon_s {
    uv_loop_t *loop;
    qs_config cfg;
    qs_store *store;
    qs_worker *worker;
    int lock_fd;
    qs_tls_ctx *ctx;
    qs_net_listener *listener;
    qs_link_env env;
    qs_ctlsrv *ctl;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t interval, nightly, stop_timer, watch, settle, retry, trim;
    int stopping;
    totals tot;
    /* local edits (county): PRAGMA data_version polled every second */
    int watch_busy, have_version;
    uint64_t data_version;
    /* county link state */
    int syncing;
    int connected;
    int64_t last_ok_ms, last_contact_ms, last_skew_ms;
    char upstream[QS_NODE_MAX];
    char last_error[QS_ERR_MSG];
    waiter *waiters;
    uint64_t sync_no; /* syncs started */
    int sync_again;   /* start another when this one ends */
    int again_why;
    int renew_retries; /* reconnects after taking a new incarnation */
    json_t *last_sync; /* the last sync's result (county), for status */
    /* the scheduler (county): why the current sync started; backoff state */
    int why;             /* QS_WHY_*: why the current (or last) sync started */
    int have_edit;       /* local edits seen since the last sync started: */
    uint64_t edit_first; /* when the first was seen (loop ms) */
    uint64_t edit_last;  /* when the last was seen (loop ms) */
    unsigned fails;      /* failed syncs in a row (0: the link is up or untried) */
    int64_t down_ms;     /* wall ms of the first failure of this run of failures */
    uint64_t rng;        /* xorshift64 state for the jitter */
};

/* ---- helpers ---- */

/* Whether the PostgreSQL database of so holds a store already (any error
 * but "none" counts as yes: the open that follows reports it). */
static bool store_exists_pg(const qs_store_opts *so)
{
    qs_store_opts o = *so;
    o.create = false;
    qs_store *st = NULL;
    qs_err e = {0};
    if (qs_store_open(&o, &st, &e) == 0) {
        qs_store_close(st);
        return true;
    }
    return e.code != QS_ENOTFOUND;
}

static void json_time(json_t *o, const char *name, int64_t ms)
{
    char buf[32], key[64];
    snprintf(key, sizeof key, "%s_ms", name);
    json_object_set_new(o, key, json_integer(ms));
    if (ms > 0) {
        qs_log_iso(ms, buf, sizeof buf);
        json_object_set_new(o, name, json_string(buf));
    } else {
        json_object_set_new(o, name, json_null());
    }
}

static void warn_expiry(const qs_tls_ctx_info *in)
{
    time_t now = qs_clock_wall_time();
    if (in->crl_next_update && in->crl_next_update - now < QS_CRL_WARN_DAYS * 86400L) {
        char b[32];
        qs_log_iso((int64_t)in->crl_next_update * 1000, b, sizeof b);
        qs_log(QS_LOG_WARN, "tls",
               "the CRL's next update is %s, less than %d days away: "
               "regenerate it with `qs-pki crl` and reload, or every county will be refused",
               b, QS_CRL_WARN_DAYS);
    }
    if (in->not_after && in->not_after - now < QS_CRL_WARN_DAYS * 86400L)
        qs_log(QS_LOG_WARN, "tls", "our certificate expires in less than %d days: renew it",
               QS_CRL_WARN_DAYS);
}

/* ---- control socket: what the requests mean (the transport: ctlsrv.c) ---- */

/* status / nodes: a store job */
typedef struct ctl_job {
    qs_job job;
    qs_ctlsrv_client *cl;
    daemon_s *d;
    int nodes;
    int rc;
    qs_err err;
    qs_peer *peers;
    size_t npeers;
    uint64_t pending;
    qs_store_info info;
    char upstream[QS_NODE_MAX];
} ctl_job;

static void work_ctl(qs_job *job, qs_store *st)
{
    ctl_job *j = (ctl_job *)job;
    j->rc = qs_store_peers(st, &j->peers, &j->npeers, &j->err);
    if (j->rc == 0 && !j->nodes)
        j->rc = qs_store_info_get(st, &j->info, &j->err);
    if (j->rc == 0 && !j->nodes && j->d->cfg.role == QS_ROLE_COUNTY) {
        const char *up = j->upstream[0] ? j->upstream : (j->npeers ? j->peers[0].node : NULL);
        if (up)
            j->rc = qs_store_pending(st, up, &j->pending, &j->err);
    }
}

static void next_attempt(daemon_s *d, int64_t *at_ms, int *why);

static json_t *totals_json(const daemon_s *d)
{
    const totals *t = &d->tot;
    json_t *o = json_object();
#define NUM(k) json_object_set_new(o, #k, json_integer((json_int_t)t->k))
    NUM(syncs_ok);
    NUM(syncs_failed);
    NUM(batches_sent);
    NUM(batches_acked);
    NUM(batches_resent);
    NUM(records_sent);
    NUM(records_acked);
    NUM(pushed);
    NUM(pulled);
    NUM(received);
    NUM(rejected);
    NUM(conflicts);
    NUM(duplicates);
    NUM(bytes_sent);
    NUM(bytes_received);
#undef NUM
    const qs_link_counters *c = &d->env.counters;
    json_object_set_new(o, "apply_txns", json_integer((json_int_t)c->apply_txns));
    json_object_set_new(o, "apply_batches", json_integer((json_int_t)c->apply_batches));
    json_object_set_new(o, "max_group", json_integer((json_int_t)c->max_group));
    json_object_set_new(o, "read_ahead", json_integer((json_int_t)c->read_ahead));
    const qs_admit *ad = &d->env.admission;
    json_object_set_new(o, "store_waits", json_integer((json_int_t)ad->waits));
    json_object_set_new(o, "store_max_queued", json_integer((json_int_t)ad->max_inflight));
    return o;
}

/* The aggregator's door: connections by budget now, refusals since start. */
static json_t *net_json(const daemon_s *d)
{
    json_t *o = json_object();
    qs_net_listener_stats ls = {0};
    if (d->listener)
        qs_net_listener_get_stats(d->listener, &ls);
    const qs_link_counters *c = &d->env.counters;
#define NUM(k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))
    NUM("unauthenticated", ls.unauthenticated);
    NUM("authenticated", ls.authenticated);
    NUM("accepted", ls.accepted);
    NUM("refused_per_address", ls.refused_per_addr);
    NUM("dropped_unauthenticated", ls.dropped_unauth);
    NUM("handshake_timeouts", ls.handshake_timeouts);
    NUM("refused_full", ls.refused_full);
    NUM("refused_not_below", c->refused_place);
    NUM("hello_timeouts", ls.deadline_timeouts);
    NUM("idle_timeouts", ls.idle_timeouts);
    NUM("replaced_sessions", c->replaced);
#undef NUM
    return o;
}

static json_t *peer_json(const qs_peer *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "node", json_string(p->node));
    json_time(o, "last_contact", p->last_contact_ms);
    json_time(o, "last_ok", p->last_ok_ms);
    json_object_set_new(o, "last_error", json_string(p->last_error));
    json_object_set_new(o, "skew_ms", json_integer(p->skew_ms));
    json_object_set_new(o, "pending", json_integer((json_int_t)p->pending));
    return o;
}

static void done_ctl(qs_job *job)
{
    ctl_job *j = (ctl_job *)job;
    qs_ctlsrv_client *cl = j->cl;
    daemon_s *d = j->d;
    if (!job->cancelled && !qs_ctlsrv_gone(cl)) {
        json_t *o;
        if (j->rc != 0) {
            o = qs_ctlsrv_error(j->err.msg);
        } else if (j->nodes) {
            json_t *arr = json_array();
            for (size_t i = 0; i < j->npeers; i++)
                json_array_append_new(arr, peer_json(&j->peers[i]));
            o = json_pack("{s:b, s:o}", "ok", 1, "nodes", arr);
        } else {
            const qs_config *c = &d->cfg;
            int county = c->role == QS_ROLE_COUNTY;
            o = json_object();
            json_object_set_new(o, "ok", json_true());
            json_object_set_new(o, "role", json_string(county ? "county" : "aggregator"));
            json_object_set_new(o, "node", json_string(c->node));
            json_object_set_new(o, "link",
                                json_string(!county        ? "listening"
                                            : d->connected ? "connected"
                                            : d->syncing   ? "connecting"
                                                           : "idle"));
            if (county) {
                const qs_peer *p = NULL;
                for (size_t i = 0; i < j->npeers; i++)
                    if (!d->upstream[0] || strcmp(j->peers[i].node, d->upstream) == 0)
                        p = &j->peers[i];
                json_object_set_new(o, "upstream", p ? json_string(p->node) : json_null());
                json_time(o, "last_ok", p ? p->last_ok_ms : 0);
                json_time(o, "last_contact", p ? p->last_contact_ms : 0);
                json_object_set_new(o, "pending", json_integer((json_int_t)j->pending));
                json_object_set_new(o, "skew_ms", json_integer(p ? p->skew_ms : 0));
                int64_t at = 0;
                int why = QS_WHY_NONE;
                next_attempt(d, &at, &why);
                json_time(o, "next_attempt", at);
                json_object_set_new(o, "next_reason",
                                    why ? json_string(qs_sched_why_name(why)) : json_null());
                json_object_set_new(
                    o, "reason", d->syncing ? json_string(qs_sched_why_name(d->why)) : json_null());
                json_object_set_new(o, "failed_attempts", json_integer(d->fails));
                json_time(o, "down_since", d->fails ? d->down_ms : 0);
                json_object_set_new(o, "last_error",
                                    json_string(d->last_error[0] ? d->last_error
                                                : p              ? p->last_error
                                                                 : ""));
            } else {
                json_object_set_new(
                    o, "connections",
                    json_integer(d->listener ? qs_net_listener_conns(d->listener) : 0));
                json_object_set_new(o, "nodes", json_integer((json_int_t)j->npeers));
                json_object_set_new(o, "net", net_json(d));
                json_object_set_new(o, "last_error", json_string(d->last_error));
            }
            json_object_set_new(o, "records", json_integer((json_int_t)j->info.records));
            json_object_set_new(o, "rejected", json_integer((json_int_t)j->info.rejected));
            json_object_set_new(o, "conflicts", json_integer((json_int_t)j->info.conflicts));
            json_object_set_new(o, "parked", json_integer((json_int_t)j->info.parked));
            json_object_set_new(o, "counters", totals_json(d));
            if (county)
                json_object_set(o, "last_sync", d->last_sync ? d->last_sync : json_null());
            qs_tls_ctx_info in;
            qs_tls_ctx_get_info(d->ctx, &in);
            time_t now = qs_clock_wall_time();
            json_t *cert = json_object();
            json_object_set_new(cert, "node", json_string(in.node_id));
            json_time(cert, "not_before", (int64_t)in.not_before * 1000);
            json_time(cert, "not_after", (int64_t)in.not_after * 1000);
            json_object_set_new(cert, "days_left", json_integer((in.not_after - now) / 86400));
            json_object_set_new(o, "cert", cert);
            if (in.crl_next_update) {
                json_t *crl = json_object();
                json_time(crl, "last_update", (int64_t)in.crl_last_update * 1000);
                json_time(crl, "next_update", (int64_t)in.crl_next_update * 1000);
                json_object_set_new(crl, "days_left",
                                    json_integer((in.crl_next_update - now) / 86400));
                json_object_set_new(o, "crl", crl);
            } else {
                json_object_set_new(o, "crl", json_null());
            }
        }
        qs_ctlsrv_reply(cl, o);
    }
    free(j->peers);
    free(j);
    qs_ctlsrv_release(cl);
}

static int do_reload(daemon_s *d, qs_err *e);
static void start_sync(daemon_s *d, int why);
static json_t *totals_json(const daemon_s *d);

static void waiter_timer_closed(uv_handle_t *h)
{
    waiter *w = h->data;
    qs_ctlsrv_release(w->cl);
    free(w);
}

static void waiter_finish(daemon_s *d, waiter *w, json_t *o)
{
    if (!w->replied) {
        w->replied = 1;
        qs_ctlsrv_reply(w->cl, o);
    } else {
        json_decref(o);
    }
    waiter **pp = &d->waiters;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp)
        *pp = w->next;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, waiter_timer_closed);
}

static void waiter_timeout(uv_timer_t *t)
{
    waiter *w = t->data;
    char msg[64];
    snprintf(msg, sizeof msg, "timed out after %llu s",
             (unsigned long long)(uv_timer_get_repeat(t) / 1000));
    json_t *o = qs_ctlsrv_error("timed out");
    json_object_set_new(o, "error", json_string(msg));
    json_object_set_new(o, "timeout", json_true());
    waiter_finish(w->d, w, o);
}

static void ctl_request(void *data, qs_ctlsrv_client *cl, const char *line, size_t len)
{
    daemon_s *d = data;
    qs_ctl_req req;
    qs_err e = {0};
    if (qs_ctl_parse_request(line, len, &req, &e) != 0) {
        qs_ctlsrv_reply(cl, qs_ctlsrv_error(e.msg));
        return;
    }
    switch (req.cmd) {
    case QS_CTL_STATUS:
    case QS_CTL_NODES: {
        ctl_job *j = qs_xcalloc(1, sizeof *j);
        j->job.work = work_ctl;
        j->job.done = done_ctl;
        j->cl = cl;
        j->d = d;
        j->nodes = req.cmd == QS_CTL_NODES;
        snprintf(j->upstream, sizeof j->upstream, "%s", d->upstream);
        qs_ctlsrv_hold(cl);
        qs_worker_post(d->worker, &j->job);
        return;
    }
    case QS_CTL_RELOAD:
        qs_ctlsrv_reply(cl, do_reload(d, &e) == 0 ? json_pack("{s:b}", "ok", 1)
                                                  : qs_ctlsrv_error(e.msg));
        return;
    case QS_CTL_SYNC:
        break;
    }
    if (d->cfg.role != QS_ROLE_COUNTY) {
        qs_ctlsrv_reply(cl, qs_ctlsrv_error("an aggregator has no upstream to sync with"));
        return;
    }
    if (req.wait) {
        waiter *w = qs_xcalloc(1, sizeof *w);
        w->cl = cl;
        w->d = d;
        w->want = d->sync_no + 1; /* the next sync to start (now, or after this one) */
        qs_ctlsrv_hold(cl);
        uv_timer_init(d->loop, &w->timer);
        w->timer.data = w;
        uint64_t ms = (uint64_t)req.timeout_s * 1000;
        uv_timer_start(&w->timer, waiter_timeout, ms, ms);
        w->next = d->waiters;
        d->waiters = w;
    } else {
        qs_ctlsrv_reply(cl, json_pack("{s:b, s:b}", "ok", 1, "started", 1));
    }
    start_sync(d, QS_WHY_MANUAL);
}

static int ctl_listen(daemon_s *d, qs_err *e)
{
    char path[QS_CFG_PATH + 32];
    qs_ctl_sock_path(d->cfg.data_dir, path, sizeof path);
    return qs_ctlsrv_listen(&d->ctl, d->loop, path, ctl_request, d, e);
}

/* ---- sync (county) ---- */

static json_t *result_json(const qs_link_result *r)
{
    const qs_sess_stats *st = &r->stats;
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_boolean(r->err.code == 0));
    if (r->err.code) {
        json_object_set_new(o, "error", json_string(r->err.msg));
        json_object_set_new(o, "clock", json_boolean(r->err.code == QS_ECLOCK));
    }
    json_object_set_new(o, "peer", r->peer[0] ? json_string(r->peer) : json_null());
#define NUM(k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))
    NUM("pushed", st->pushed);
    NUM("pulled", st->pulled);
    NUM("rejected", st->rejected);
    NUM("conflicts", st->conflicts);
    NUM("duplicates", st->duplicates);
    NUM("bytes_sent", r->bytes_sent);
    NUM("bytes_received", r->bytes_received);
    NUM("batches_sent", st->batches_sent);
    NUM("batches_acked", st->batches_acked);
    NUM("batches_resent", st->batches_resent);
    NUM("records_sent", st->records_sent);
    NUM("records_acked", st->records_acked);
    NUM("skew_ms", r->skew_ms);
    NUM("duration_ms", r->ended_ms - r->started_ms);
#undef NUM
    json_object_set_new(o, "skew_rejected", json_boolean(r->skew_rejected));
    json_object_set_new(o, "incarnation_reset", json_boolean(r->inc_reset));
    json_object_set_new(o, "compressed", json_boolean(st->features & QS_FEAT_ZSTD));
    char b[32];
    qs_log_iso(r->ended_ms, b, sizeof b);
    json_object_set_new(o, "at", json_string(b));
    return o;
}

static void add_totals(totals *t, const qs_link_result *r)
{
    const qs_sess_stats *st = &r->stats;
    if (r->err.code == 0)
        t->syncs_ok++;
    else
        t->syncs_failed++;
    t->batches_sent += st->batches_sent;
    t->batches_acked += st->batches_acked;
    t->batches_resent += st->batches_resent;
    t->records_sent += st->records_sent;
    t->records_acked += st->records_acked;
    t->pushed += st->pushed;
    t->pulled += st->pulled;
    t->received += st->received;
    t->rejected += st->rejected;
    t->conflicts += st->conflicts;
    t->duplicates += st->duplicates;
    t->bytes_sent += r->bytes_sent;
    t->bytes_received += r->bytes_received;
}

static void check_pending(daemon_s *d);

/* ---- backoff (county) ---- */

static uint64_t next_rand(daemon_s *d)
{
    uint64_t x = d->rng; /* xorshift64: jitter needs spread, not secrecy */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    d->rng = x;
    return x;
}

/* Full jitter: uniform in [0, min(cap, base * 2^(fails-1))] ms. */
static uint64_t backoff_ms(daemon_s *d)
{
    uint64_t cap = (uint64_t)d->cfg.up.retry_cap * 1000;
    uint64_t ceil = (uint64_t)d->cfg.up.retry_base * 1000;
    for (unsigned i = 1; i < d->fails && ceil < cap; i++)
        ceil *= 2;
    if (ceil > cap)
        ceil = cap;
    return next_rand(d) % (ceil + 1);
}

static void on_retry(uv_timer_t *t)
{
    start_sync(t->data, QS_WHY_RETRY);
}

static void duration_text(int64_t ms, char *out, size_t n)
{
    int64_t s = ms / 1000;
    if (s < 120)
        snprintf(out, n, "%lld s", (long long)s);
    else if (s < 7200)
        snprintf(out, n, "%lld min", (long long)(s / 60));
    else
        snprintf(out, n, "%lld h %lld min", (long long)(s / 3600), (long long)(s / 60 % 60));
}

/* A sync failed: the first failure of a run logs one line; every failure
 * plans the next attempt. */
static void link_failed(daemon_s *d, const qs_link_result *r)
{
    if (d->fails == 0) {
        d->down_ms = r->ended_ms ? r->ended_ms : qs_clock_wall_ms();
        if (r->err.code == QS_ECLOCK)
            qs_log(QS_LOG_ERROR, "clock", "%s", r->err.msg);
        else
            qs_log(QS_LOG_WARN, "sync",
                   "link to %s down: %s; retrying with backoff (at most "
                   "every %u s), one line when it is back",
                   d->cfg.up.host, r->err.msg, d->cfg.up.retry_cap);
    }
    d->fails++;
    if (d->stopping)
        return;
    uint64_t ms = backoff_ms(d);
    qs_log(QS_LOG_DEBUG, "sync", "attempt %u failed (%s); next in %llu ms", d->fails, r->err.msg,
           (unsigned long long)ms);
    uv_timer_start(&d->retry, on_retry, ms, 0);
}

static void link_up(daemon_s *d, const qs_link_result *r)
{
    if (d->fails > 0) {
        char dur[48];
        duration_text(r->ended_ms - d->down_ms, dur, sizeof dur);
        qs_log(QS_LOG_INFO, "sync",
               "link to %s back after %s down (%u failed attempts): "
               "sent %llu records (%llu bytes), received %llu records (%llu bytes)",
               d->cfg.up.host, dur, d->fails, (unsigned long long)r->stats.records_sent,
               (unsigned long long)r->bytes_sent, (unsigned long long)r->stats.pulled,
               (unsigned long long)r->bytes_received);
    }
    d->fails = 0;
}

/* When timer t fires (wall ms), 0 when it is not armed. */
static int64_t timer_at(uv_timer_t *t, int64_t now)
{
    return uv_is_active((uv_handle_t *)t) ? now + (int64_t)uv_timer_get_due_in(t) : 0;
}

/* The next planned attempt (wall ms) and why; 0/NULL when none is planned.
 * During a sync: now, and why that one started. Loop thread. */
static void next_attempt(daemon_s *d, int64_t *at_ms, int *why)
{
    int64_t now = qs_clock_wall_ms();
    *at_ms = 0;
    *why = QS_WHY_NONE;
    if (d->stopping)
        return;
    uv_update_time(d->loop);
    qs_sched_plan p = {
        .syncing = d->syncing,
        .current_why = d->why,
        .fails = d->fails,
        .retry = timer_at(&d->retry, now),
        .edit = timer_at(&d->settle, now),
        .interval = timer_at(&d->interval, now),
        .nightly = timer_at(&d->nightly, now),
    };
    *why = qs_sched_next(&p, now, at_ms);
}

/* ---- giving memory back when idle ----
 * A sync grows SQLite's page cache and the allocator's arenas; a daemon that
 * then waits a day for the next one should not keep them. TRIM_MS after the
 * last session ends, with none live, the store thread releases SQLite's cache
 * and returns free heap pages to the system. */
#define TRIM_MS 1000

static void work_trim(qs_job *job, qs_store *st)
{
    (void)job;
    qs_frame_thread_idle();
    qs_store_shrink(st);
}

static void done_trim(qs_job *job)
{
    free(job);
}

static void on_trim(uv_timer_t *t)
{
    daemon_s *d = t->data;
    if (d->stopping || d->env.live > 0)
        return; /* a session is running; its end schedules the next trim */
    qs_frame_thread_idle();
    qs_job *j = qs_xcalloc(1, sizeof *j);
    j->work = work_trim;
    j->done = done_trim;
    qs_worker_post(d->worker, j);
}

static void on_session_end(const qs_link_result *r, void *data)
{
    daemon_s *d = data;
    if (!d->stopping)
        uv_timer_start(&d->trim, on_trim, TRIM_MS, 0);
    if (r->handshaked)
        add_totals(&d->tot, r);
    if (d->cfg.role != QS_ROLE_COUNTY) {
        /* aggregator: a store failure (disk full, I/O) stays in status until a
         * later session completes; the session logged it */
        int store_err =
            r->err.code == QS_EFULL || r->err.code == QS_EBUSY || r->err.code == QS_ECORRUPT;
        if (store_err && r->welcomed)
            snprintf(d->last_error, sizeof d->last_error, "session with %s: %.400s", r->peer,
                     r->err.msg);
        else if (r->err.code == 0 && r->welcomed)
            d->last_error[0] = '\0';
        return;
    }
    d->syncing = 0;
    d->connected = 0;
    if (r->stats.highest_sent > d->env.prev_sent)
        d->env.prev_sent = r->stats.highest_sent;
    if (r->handshaked) {
        snprintf(d->upstream, sizeof d->upstream, "%s", r->peer);
        d->last_contact_ms = r->ended_ms;
        d->last_skew_ms = r->skew_ms;
    }
    if (r->err.code == QS_EAGAIN && r->renewed && d->renew_retries < 2 && !d->stopping) {
        /* We took a new incarnation: the same sync goes on in a new session. */
        d->renew_retries++;
        qs_log(QS_LOG_INFO, "sync", "new incarnation taken: reconnecting to %s", r->peer);
        for (waiter *w = d->waiters; w; w = w->next)
            if (w->want <= d->sync_no)
                w->want = d->sync_no + 1;
        d->syncing = 0;
        start_sync(d, d->why);
        return;
    }
    d->renew_retries = 0;
    json_t *o = result_json(r);
    if (r->err.code == 0) {
        d->last_ok_ms = r->ended_ms;
        d->last_error[0] = '\0';
        link_up(d, r);
    } else {
        snprintf(d->last_error, sizeof d->last_error, "%s", r->err.msg);
        link_failed(d, r);
    }
    json_decref(d->last_sync);
    d->last_sync = json_incref(o);
    int more = 0;
    for (waiter *w = d->waiters, *next; w; w = next) {
        next = w->next;
        if (w->want <= d->sync_no)
            waiter_finish(d, w, json_deep_copy(o));
        else
            more = 1;
    }
    json_decref(o);
    int again = d->sync_again ? d->again_why : QS_WHY_NONE;
    d->sync_again = 0;
    if (d->stopping)
        return;
    if (more)
        start_sync(d, QS_WHY_MANUAL); /* a `sync --wait` asked for one more */
    else if (again && (r->err.code == 0 || again == QS_WHY_MANUAL))
        start_sync(d, again);
    else if (r->err.code == 0)
        check_pending(d); /* edits made while it ran go up now */
}

/* The scheduler's one door: every sync of the county starts here. While the
 * link is failing (backoff), automatic triggers (edit, interval, nightly) are
 * absorbed by the planned retry, which syncs everything anyway; a manual
 * `sync` goes at once. */
static void start_sync(daemon_s *d, int why)
{
    if (d->stopping)
        return;
    if (d->syncing) {
        if (!d->sync_again || why == QS_WHY_MANUAL)
            d->again_why = why;
        d->sync_again = 1;
        return;
    }
    if (!qs_sched_runs(d->fails, why)) {
        qs_log(QS_LOG_DEBUG, "sync",
               "%s trigger while the link is down: the planned retry "
               "covers it",
               qs_sched_why_name(why));
        return;
    }
    uv_timer_stop(&d->retry);
    /* This sync takes up every edit made so far (one that commits while it
     * runs is found by check_pending after it, or by the watch). */
    uv_timer_stop(&d->settle);
    d->have_edit = 0;
    d->why = why;
    d->sync_no++;
    d->syncing = 1;
    qs_err e = {0};
    int rc = qs_tls_ctx_check_clock(d->ctx, &e);
    if (rc == 0)
        rc = qs_link_connect(&d->env, d->ctx, &e);
    if (rc != 0) {
        qs_link_result r = {.err = e};
        r.started_ms = r.ended_ms = qs_clock_wall_ms();
        qs_log(QS_LOG_DEBUG, "sync", "cannot start: %s", e.msg);
        on_session_end(&r, d);
        return;
    }
    qs_log(d->fails ? QS_LOG_DEBUG : QS_LOG_INFO, "sync", "connecting to %s (%s:%d): %s",
           d->cfg.up.host, d->cfg.up.address, d->cfg.up.port, qs_sched_why_name(why));
}

/* ---- local edits (county) ---- */

typedef struct watch_job {
    qs_job job;
    daemon_s *d;
    int pending; /* check pending records instead of data_version */
    char upstream[QS_NODE_MAX];
    int rc;
    uint64_t v;
} watch_job;

static void work_watch(qs_job *job, qs_store *st)
{
    watch_job *j = (watch_job *)job;
    qs_err e = {0};
    if (j->pending) {
        j->rc = j->upstream[0] ? qs_store_pending(st, j->upstream, &j->v, &e) : -1;
    } else {
        j->rc = qs_store_data_version(st, &j->v, &e);
    }
}

static void on_settle(uv_timer_t *t)
{
    daemon_s *d = t->data;
    uint64_t now = uv_now(d->loop);
    if (d->have_edit && now - d->edit_last < QS_SCHED_SETTLE_MS)
        qs_log(QS_LOG_INFO, "sync",
               "local edits still coming, the first %llu s ago "
               "(edit_max_delay %u s): syncing",
               (unsigned long long)(now - d->edit_first) / 1000, d->cfg.up.edit_max_delay);
    else
        qs_log(QS_LOG_INFO, "sync", "local edits settled: syncing");
    start_sync(d, QS_WHY_EDIT);
}

/* A local edit was seen (or records are still pending after a sync): plan
 * the sync that takes it up (qs_sched_edit_due: a debounce with a limit). */
static void note_edit(daemon_s *d)
{
    uint64_t now = uv_now(d->loop);
    if (!d->have_edit) {
        d->have_edit = 1;
        d->edit_first = now;
    }
    d->edit_last = now;
    int64_t due = qs_sched_edit_due((int64_t)d->edit_first, (int64_t)d->edit_last,
                                    QS_SCHED_SETTLE_MS, d->cfg.up.edit_max_delay * 1000u);
    uv_timer_start(&d->settle, on_settle, due > (int64_t)now ? (uint64_t)due - now : 0, 0);
}

static void done_watch(qs_job *job)
{
    watch_job *j = (watch_job *)job;
    daemon_s *d = j->d;
    if (!job->cancelled && !d->stopping && j->rc == 0) {
        if (j->pending) {
            if (j->v > 0)
                note_edit(d);
        } else {
            d->watch_busy = 0;
            if (d->have_version && j->v != d->data_version)
                note_edit(d);
            d->data_version = j->v;
            d->have_version = 1;
        }
    } else if (!j->pending) {
        d->watch_busy = 0;
    }
    free(j);
}

static void post_watch(daemon_s *d, int pending)
{
    watch_job *j = qs_xcalloc(1, sizeof *j);
    j->job.work = work_watch;
    j->job.done = done_watch;
    j->d = d;
    j->pending = pending;
    snprintf(j->upstream, sizeof j->upstream, "%s", d->upstream);
    if (!pending)
        d->watch_busy = 1;
    qs_worker_post(d->worker, &j->job);
}

static void check_pending(daemon_s *d)
{
    post_watch(d, 1);
}

static void on_watch(uv_timer_t *t)
{
    daemon_s *d = t->data;
    if (!d->watch_busy && !d->stopping)
        post_watch(d, 0);
}

static void on_interval(uv_timer_t *t)
{
    start_sync(t->data, QS_WHY_INTERVAL);
}

static uint64_t ms_to_nightly(int minute)
{
    time_t now = qs_clock_wall_time();
    struct tm tm;
    localtime_r(&now, &tm);
    int cur = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    int want = minute * 60;
    int delta = want > cur ? want - cur : want + 86400 - cur;
    return (uint64_t)delta * 1000;
}

static void on_nightly(uv_timer_t *t)
{
    daemon_s *d = t->data;
    start_sync(d, QS_WHY_NIGHTLY);
    uv_timer_start(&d->nightly, on_nightly, ms_to_nightly(d->cfg.up.nightly_min), 0);
}

/* ---- signals, reload, stop ---- */

/* The certificate's window goes into the store for the CLI, which applies
 * the same clock rule before it writes (README "Clocks"). */
typedef struct window_job {
    qs_job job;
    int64_t not_before, not_after;
} window_job;

static void work_window(qs_job *job, qs_store *st)
{
    window_job *j = (window_job *)job;
    qs_err e = {0};
    if (qs_store_set_cert_window(st, j->not_before, j->not_after, &e) != 0)
        qs_log(QS_LOG_WARN, "store",
               "cannot record the certificate's validity for the CLI's "
               "clock check: %s",
               e.msg);
}

static void done_window(qs_job *job)
{
    free(job);
}

static void post_window(daemon_s *d, const qs_tls_ctx_info *in)
{
    window_job *j = qs_xcalloc(1, sizeof *j);
    j->job.work = work_window;
    j->job.done = done_window;
    j->not_before = (int64_t)in->not_before;
    j->not_after = (int64_t)in->not_after;
    qs_worker_post(d->worker, &j->job);
}

static int do_reload(daemon_s *d, qs_err *e)
{
    qs_tls_ctx *nc = NULL;
    int rc = qs_config_tls_ctx(&d->cfg, &nc, e);
    if (rc != 0) {
        qs_log(QS_LOG_ERROR, "tls", "reload failed, keeping the current certificates: %s", e->msg);
        return rc;
    }
    qs_tls_ctx_info in;
    qs_tls_ctx_get_info(nc, &in);
    if (strcmp(in.node_id, d->cfg.node) != 0) {
        qs_tls_ctx_unref(nc);
        rc = qs_err_set(e, QS_ETLS, "the new certificate is for node %s, not %s", in.node_id,
                        d->cfg.node);
        qs_log(QS_LOG_ERROR, "tls", "reload failed, keeping the current certificates: %s", e->msg);
        return rc;
    }
    if (d->listener)
        qs_net_listener_set_ctx(d->listener, nc);
    qs_tls_ctx_unref(d->ctx);
    d->ctx = nc;
    char b[32] = "none";
    if (in.crl_next_update)
        qs_log_iso((int64_t)in.crl_next_update * 1000, b, sizeof b);
    qs_log(QS_LOG_INFO, "tls",
           "reloaded certificates and CRL (CRL next update %s); established "
           "connections keep their session",
           b);
    warn_expiry(&in);
    post_window(d, &in);
    return 0;
}

static void handle_closed_noop(uv_handle_t *h)
{
}

static void stop_timeout(uv_timer_t *t)
{
    daemon_s *d = t->data;
    qs_log(QS_LOG_WARN, "daemon", "connections still open after 10 s: abandoning them");
    uv_stop(d->loop);
}

static void begin_stop(daemon_s *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    qs_log(QS_LOG_INFO, "daemon", "stopping (%s)", why);
    qs_notify_stopping();
    uv_close((uv_handle_t *)&d->sig_term, handle_closed_noop);
    uv_close((uv_handle_t *)&d->sig_int, handle_closed_noop);
    uv_close((uv_handle_t *)&d->sig_hup, handle_closed_noop);
    uv_close((uv_handle_t *)&d->interval, handle_closed_noop);
    uv_close((uv_handle_t *)&d->nightly, handle_closed_noop);
    uv_close((uv_handle_t *)&d->watch, handle_closed_noop);
    uv_close((uv_handle_t *)&d->settle, handle_closed_noop);
    uv_close((uv_handle_t *)&d->retry, handle_closed_noop);
    uv_close((uv_handle_t *)&d->trim, handle_closed_noop);
    if (d->listener) {
        qs_net_listener_close(d->listener);
        d->listener = NULL;
    }
    while (d->waiters)
        waiter_finish(d, d->waiters, qs_ctlsrv_error("qianshoud is stopping"));
    qs_ctlsrv_close(d->ctl); /* the socket and every client */
    d->ctl = NULL;
    qs_link_close_all(&d->env);
    qs_worker_close_handle(d->worker);
    uv_timer_start(&d->stop_timer, stop_timeout, 10000, 0);
    uv_unref((uv_handle_t *)&d->stop_timer);
}

static void on_signal(uv_signal_t *s, int signum)
{
    daemon_s *d = s->data;
    if (signum == SIGHUP) {
        qs_err e = {0};
        qs_log(QS_LOG_INFO, "daemon", "SIGHUP: reloading certificates and CRL");
        do_reload(d, &e);
        return;
    }
    begin_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: qianshoud -c FILE [--check [--connect]]\n"
               "  -c, --config FILE  the INI configuration\n"
               "  --check            validate config, certificates, CRL and node ids; exit 0 or 3\n"
               "  --connect          with --check, on a county: connect to the upstream (TCP,\n"
               "                     TLS, host name) and say which part failed\n");
}

static int run_daemon(daemon_s *d)
{
    int rc = QS_EXIT_ENV;
    qs_err e = {0};
    const qs_config *c = &d->cfg;
    d->lock_fd = -1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    d->loop = &loop;

    if (geteuid() == 0)
        qs_log(QS_LOG_WARN, "daemon",
               "RUNNING AS ROOT: qianshoud talks to the network and "
               "should run as its own user; the systemd unit runs it as qianshou, by hand use "
               "`setpriv --reuid=qianshou --regid=qianshou --init-groups qianshoud -c FILE`. As "
               "root a flaw reachable from the network would own the machine, and the files it "
               "creates in %s belong to root",
               c->data_dir);
    if (mkdir(c->data_dir, 02770) != 0 && errno != EEXIST) {
        qs_log(QS_LOG_ERROR, "daemon", "cannot create the data directory %s: %s", c->data_dir,
               strerror(errno));
        goto out;
    }
    if (qs_store_lock(c->data_dir, &d->lock_fd, &e) != 0) {
        qs_log(QS_LOG_ERROR, "daemon",
               "refusing to start: another qianshoud holds the lock on "
               "%s (%s)",
               c->data_dir, e.msg);
        goto out;
    }
    if (qs_config_tls_ctx(c, &d->ctx, &e) != 0) {
        qs_log(QS_LOG_ERROR, e.code == QS_ECLOCK ? "clock" : "tls", "%s", e.msg);
        goto out;
    }
    qs_tls_ctx_info in;
    qs_tls_ctx_get_info(d->ctx, &in);
    if (strcmp(in.node_id, c->node) != 0) {
        qs_log(QS_LOG_ERROR, "tls",
               "node id mismatch: the config says %s but the certificate "
               "says %s",
               c->node, in.node_id);
        goto out;
    }
    warn_expiry(&in);
    /* Opened here, before the loop runs; from now on only the store thread uses it. */
    qs_store_opts so = qs_store_opts_default();
    so.dir = c->data_dir;
    so.node = c->node;
    so.limits = c->limits;
    /* The aggregator takes every county's records into indexes (the report's,
     * the down feed's) that outgrow SQLite's default 2 MiB cache; a county's
     * daemon keeps the default (an old office PC). Idle, both give it back. */
    so.cache_mib = c->role == QS_ROLE_AGGREGATOR ? 32 : 0;
    char db[QS_CFG_PATH + 32];
    snprintf(db, sizeof db, "%s/%s", c->data_dir, QS_DB_FILE);
    if (c->store.postgresql) {
        so.conninfo = c->store.conninfo;
        so.cache_mib = 0;
    }
    if (c->store.postgresql ? !store_exists_pg(&so) : access(db, F_OK) != 0) {
        so.create = true;
        so.exist_ok = true; /* another front-end may be creating it at this moment */
        so.role = c->role;
        qs_log(QS_LOG_INFO, "store",
               "creating a new store in %s for node %s (its name: "
               "`qianshou init --name NAME`)",
               c->data_dir, c->node);
    }
    if (qs_store_open(&so, &d->store, &e) != 0) {
        qs_log(QS_LOG_ERROR, "store", "%s", e.msg);
        goto out;
    }
    /* The county notices clerks' edits by PRAGMA data_version; its baseline is
     * taken now, before the first sync, so an edit committed between that sync
     * and the first poll a second later is not taken for the baseline (it
     * waited for the interval: an hour). */
    if (c->role == QS_ROLE_COUNTY && qs_store_data_version(d->store, &d->data_version, &e) == 0)
        d->have_version = 1;
    if (qs_store_set_cert_window(d->store, (int64_t)in.not_before, (int64_t)in.not_after, &e))
        qs_log(QS_LOG_WARN, "store",
               "cannot record the certificate's validity for the CLI's "
               "clock check: %s",
               e.msg);
    if (qs_worker_start(&d->worker, &loop, d->store, &e) != 0) {
        qs_log(QS_LOG_ERROR, "daemon", "%s", e.msg);
        goto out;
    }
    qs_link_env_init(&d->env);
    d->env.loop = &loop;
    d->env.worker = d->worker;
    d->env.store = d->store;
    d->env.cfg = c;
    d->env.opts.max_queued = c->net_max_queued;
    d->env.opts.handshake_timeout_ms = (uint64_t)c->handshake_timeout * 1000;
    d->env.opts.idle_timeout_ms = (uint64_t)c->idle_timeout * 1000;
    d->env.opts.max_unauth = c->listen.max_unauth;
    d->env.opts.max_unauth_per_addr = c->listen.max_unauth_per_addr;
    d->env.hello_timeout_ms = (uint64_t)c->hello_timeout * 1000;
    d->env.admission.max = c->store_queue;
    d->env.on_end = on_session_end;
    d->env.data = d;

    uv_signal_init(&loop, &d->sig_term);
    uv_signal_init(&loop, &d->sig_int);
    uv_signal_init(&loop, &d->sig_hup);
    d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
    uv_timer_init(&loop, &d->interval);
    uv_timer_init(&loop, &d->nightly);
    uv_timer_init(&loop, &d->stop_timer);
    uv_timer_init(&loop, &d->watch);
    uv_timer_init(&loop, &d->settle);
    uv_timer_init(&loop, &d->retry);
    uv_timer_init(&loop, &d->trim);
    d->interval.data = d->nightly.data = d->stop_timer.data = d;
    d->watch.data = d->settle.data = d->retry.data = d->trim.data = d;
    d->rng = (uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)d) | 1;

    if (ctl_listen(d, &e) != 0) {
        qs_log(QS_LOG_ERROR, "ctl", "%s", e.msg);
        begin_stop(d, "startup failed");
        uv_run(&loop, UV_RUN_DEFAULT);
        goto out;
    }
    if (c->role == QS_ROLE_AGGREGATOR) {
        if (qs_net_listen(&d->listener, &loop, c->listen.address, c->listen.port, d->ctx,
                          c->listen.max_connections, qs_link_server_callbacks(), &d->env.opts,
                          &d->env, &e) != 0) {
            qs_log(QS_LOG_ERROR, "net", "cannot listen on %s:%d: %s", c->listen.address,
                   c->listen.port, e.msg);
            begin_stop(d, "startup failed");
            uv_run(&loop, UV_RUN_DEFAULT);
            goto out;
        }
        qs_log(QS_LOG_INFO, "daemon", "aggregator %s listening on %s:%d", c->node,
               c->listen.address, qs_net_listener_port(d->listener));
    } else {
        qs_log(QS_LOG_INFO, "daemon", "county %s started; upstream %s (%s:%d)", c->node, c->up.host,
               c->up.address, c->up.port);
        if (c->up.interval)
            uv_timer_start(&d->interval, on_interval, (uint64_t)c->up.interval * 1000,
                           (uint64_t)c->up.interval * 1000);
        if (c->up.nightly_min >= 0)
            uv_timer_start(&d->nightly, on_nightly, ms_to_nightly(c->up.nightly_min), 0);
        uv_timer_start(&d->watch, on_watch, WATCH_MS, WATCH_MS);
        start_sync(d, QS_WHY_START);
    }
    qs_notify_ready(&loop, c->role == QS_ROLE_AGGREGATOR ? "listening" : "running");
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    if (!uv_is_closing((uv_handle_t *)&d->stop_timer) && d->worker)
        uv_close((uv_handle_t *)&d->stop_timer, handle_closed_noop);
    if (d->worker)
        uv_run(&loop, UV_RUN_NOWAIT);
    qs_worker_stop(d->worker); /* finishes store work in flight */
    qs_store_close(d->store);
    qs_tls_ctx_unref(d->ctx);
    json_decref(d->last_sync);
    if (d->lock_fd >= 0) {
        char path[QS_CFG_PATH + 32];
        qs_ctl_sock_path(c->data_dir, path, sizeof path);
        unlink(path);
        qs_store_unlock(d->lock_fd);
    }
    if (uv_loop_close(&loop) != 0)
        qs_log(QS_LOG_WARN, "daemon", "some handles were still open at exit");
    if (rc == 0)
        qs_log(QS_LOG_INFO, "daemon", "stopped");
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"connect", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int check = 0, connect = 0, ch;
    /* Files the daemon creates (the database's -wal and -shm among them) are
     * for the owner and the qianshou group only. */
    umask(007);
    qs_malloc_tune();
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            check = 1;
            break;
        case 'C':
            connect = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return QS_EXIT_USAGE;
        }
    }
    if (!path || optind != argc || (connect && !check)) {
        usage(stderr);
        return QS_EXIT_USAGE;
    }
    static daemon_s d; /* large: keep it off the stack */
    qs_err e = {0};
    if (qs_config_load(&d.cfg, path, &e) != 0) {
        fprintf(stderr, "qianshoud: %s\n", e.msg);
        return QS_EXIT_ENV;
    }
    qs_log_set_level(d.cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    if (check)
        return qs_check_run(&d.cfg, connect);
    return run_daemon(&d);
}
