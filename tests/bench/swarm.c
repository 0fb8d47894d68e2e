/*
 * swarm.c — qs-bench-swarm: benchmark #5's client. Many simulated counties in
 * one process on one libuv loop, all connecting to one aggregator at once.
 *
 * Each county is real: its own certificate and key (TLS 1.3 with client
 * certificates, exactly as qianshoud's), its own county store, its own store
 * thread (daemon/worker.h) and the product's own connection code
 * (daemon/link.h: frames, zstd, window, the session of daemon/session.h). So
 * the bytes on the wire and the work at the aggregator are what that many
 * qianshoud county processes would cause; only their scheduler, control
 * socket and process are not there. Nothing is cached: each county reads its
 * feed from its store and records the aggregator's ACKs in it as a county
 * daemon does.
 *
 *   qs-bench-swarm [--window N] [--timeout S] [--quiet] ADDRESS PORT[,PORT...] HOST CA LIST
 *
 * LIST: one county a line, "NODE_ID DATA_DIR CERT KEY". HOST is the DNS name
 * in the aggregator's certificate, CA the provincial CA certificate. With
 * several ports (front-ends of one aggregator on PostgreSQL, all with the
 * same certificate), the counties are dealt out in turn: the k-th county of
 * LIST (from 0) connects to port k mod the number of ports.
 * Every county's TLS context and store are opened (and its store thread
 * started and its compression context made) before the clock starts; then
 * every county connects at once.
 *
 * Prints one line per county, then a summary:
 *   county=ID ok=0|1 pushed=N acked=N ms=SESSION_MS error="..."
 *   counties=N ok=N failed=N pushed=N ms=FIRST_CONNECT_TO_LAST_END rate=REC_PER_S
 * Exit 0 when every session completed, 1 otherwise, 2 on a setup error.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "daemon/config.h"
#include "daemon/link.h"
#include "daemon/log.h"
#include "daemon/tls.h"
#include "daemon/worker.h"
#include "proto/clock.h"
#include "proto/frame.h"
#include "proto/xmalloc.h"
#include "store/store.h"

typedef struct county {
    char id[QS_NODE_MAX];
    qs_config cfg;
    qs_tls_ctx *ctx;
    qs_store *st;
    qs_worker *worker;
    qs_link_env env;
    int ended;
    qs_link_result res;
    uint64_t end_ns;
} county;

static county *g_c;
static size_t g_n, g_ended;
static uint64_t g_t0, g_t1;
static uv_loop_t g_loop;
static uv_timer_t g_timer;

static void usage(void)
{
    fprintf(stderr, "usage: qs-bench-swarm [--window N] [--timeout S] [--quiet] ADDRESS "
                    "PORT[,PORT...] HOST CA LIST\n  LIST: lines \"NODE_ID DATA_DIR CERT KEY\"\n");
    exit(2);
}

static void on_end(const qs_link_result *r, void *data)
{
    county *c = data;
    c->res = *r;
    c->ended = 1;
    c->end_ns = uv_hrtime();
    if (++g_ended == g_n) {
        g_t1 = c->end_ns;
        uv_timer_stop(&g_timer);
        uv_close((uv_handle_t *)&g_timer, NULL);
        for (size_t i = 0; i < g_n; i++)
            qs_worker_close_handle(g_c[i].worker);
    }
}

static void on_timeout(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "qs-bench-swarm: timeout: %zu of %zu sessions ended\n", g_ended, g_n);
    for (size_t i = 0; i < g_n; i++)
        qs_link_close_all(&g_c[i].env);
}

enum { MAX_PORTS = 16 };

/* PORTS: "P" or "P1,P2,...": the ports in OUT, their number returned. */
static size_t parse_ports(const char *ports, int out[MAX_PORTS])
{
    size_t n = 0;
    const char *p = ports;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 65535 || n == MAX_PORTS || (*end != ',' && *end != '\0')) {
            fprintf(stderr, "qs-bench-swarm: PORT: \"%s\" is not a port or a list of up to %d\n",
                    ports, MAX_PORTS);
            exit(2);
        }
        out[n++] = (int)v;
        if (*end == '\0')
            return n;
        p = end + 1;
    }
}

static void read_list(const char *path, const char *addr, const int *ports, size_t nports,
                      const char *host, const char *ca)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 0;
    char line[4 * QS_CFG_PATH];
    while (fgets(line, sizeof line, f)) {
        char id[QS_NODE_MAX], dir[QS_CFG_PATH], cert[QS_CFG_PATH], key[QS_CFG_PATH];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%15s %1023s %1023s %1023s", id, dir, cert, key) != 4) {
            fprintf(stderr, "qs-bench-swarm: %s: not \"NODE_ID DATA_DIR CERT KEY\": %s", path,
                    line);
            exit(2);
        }
        if (g_n == cap) {
            cap = cap ? cap * 2 : 64;
            g_c = qs_xrealloc(g_c, cap * sizeof *g_c);
        }
        county *c = &g_c[g_n++];
        memset(c, 0, sizeof *c);
        snprintf(c->id, sizeof c->id, "%s", id);
        qs_config *cfg = &c->cfg;
        snprintf(cfg->node, sizeof cfg->node, "%s", id);
        cfg->role = QS_ROLE_COUNTY;
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", dir);
        snprintf(cfg->up.host, sizeof cfg->up.host, "%s", host);
        snprintf(cfg->up.address, sizeof cfg->up.address, "%s", addr);
        cfg->up.port = ports[(g_n - 1) % nports];
        snprintf(cfg->up.ca, sizeof cfg->up.ca, "%s", ca);
        snprintf(cfg->up.cert, sizeof cfg->up.cert, "%s", cert);
        snprintf(cfg->up.key, sizeof cfg->up.key, "%s", key);
        cfg->limits = qs_limits_default();
        cfg->net_max_queued = 1u << 20; /* the daemon's default */
    }
    fclose(f);
    if (g_n == 0) {
        fprintf(stderr, "qs-bench-swarm: %s lists no county\n", path);
        exit(2);
    }
}

/* What a county daemon does before its first sync: TLS context, store,
 * store thread, link environment. */
static void open_county(county *c, uint32_t window)
{
    qs_err e = {0};
    const qs_config *cfg = &c->cfg;
    if (qs_tls_ctx_new(&c->ctx, QS_TLS_CLIENT, cfg->up.ca, cfg->up.cert, cfg->up.key, NULL, &e) !=
        0) {
        fprintf(stderr, "qs-bench-swarm: %s: %s\n", c->id, e.msg);
        exit(2);
    }
    qs_store_opts so = qs_store_opts_default();
    so.dir = cfg->data_dir;
    so.node = cfg->node;
    so.limits = cfg->limits;
    if (qs_store_open(&so, &c->st, &e) != 0) {
        fprintf(stderr, "qs-bench-swarm: %s: %s\n", c->id, e.msg);
        exit(2);
    }
    if (qs_worker_start(&c->worker, &g_loop, c->st, &e) != 0) {
        fprintf(stderr, "qs-bench-swarm: %s: %s\n", c->id, e.msg);
        exit(2);
    }
    qs_link_env_init(&c->env);
    c->env.loop = &g_loop;
    c->env.worker = c->worker;
    c->env.store = c->st;
    c->env.cfg = cfg;
    c->env.opts.max_queued = cfg->net_max_queued;
    if (window)
        c->env.window = window;
    c->env.on_end = on_end;
    c->env.data = c;
}

/* Before the clock, each county's store thread makes the zstd context it
 * will frame its batches with, as a county daemon does at its session's
 * first batch on its own machine: ~1 MiB written whole. Made inside the
 * measured window, 300 counties' contexts would fault their pages on the
 * aggregator's cores (README.md, "Where the time went"). */
static size_t g_warming;

static void warm_work(qs_job *job, qs_store *st)
{
    (void)job, (void)st;
    enum { N = 512 << 10 }; /* more than a batch: the context fits every batch after */
    uint8_t *p = qs_xmalloc(N);
    for (size_t i = 0; i < N; i++)
        p[i] = (uint8_t) "qianshou"[i % 8] ^ (uint8_t)(i >> 11);
    qs_limits lim = qs_limits_default();
    qs_buf out;
    qs_buf_init(&out, 0);
    qs_err e = {0};
    if (qs_frame_encode(p, N, QS_FRAME_ZSTD_LEVEL, &lim, &out, &e) != 0)
        fprintf(stderr, "qs-bench-swarm: warming zstd: %s\n", e.msg);
    qs_buf_free(&out);
    free(p);
}

static void warm_done(qs_job *job)
{
    free(job);
    g_warming--;
}

static void warm_up(void)
{
    for (size_t k = 0; k < g_n; k++) {
        qs_job *j = qs_xcalloc(1, sizeof *j);
        j->work = warm_work;
        j->done = warm_done;
        g_warming++;
        qs_worker_post(g_c[k].worker, j);
    }
    while (g_warming)
        uv_run(&g_loop, UV_RUN_ONCE);
}

int main(int argc, char **argv)
{
    uint32_t window = 0;
    unsigned timeout_s = 3600;
    int quiet = 0;
    int i = 1;
    qs_malloc_tune(); /* as qianshoud does first thing (daemon/main.c) */
    /* A write to a connection the aggregator has closed fails with EPIPE, as in
     * qianshoud, instead of killing every county with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
            window = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout_s = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else
            usage();
    }
    if (argc - i != 5)
        usage();
    const char *addr = argv[i], *host = argv[i + 2], *ca = argv[i + 3], *list = argv[i + 4];
    int ports[MAX_PORTS];
    size_t nports = parse_ports(argv[i + 1], ports);
    qs_log_set_level(QS_LOG_WARN);
    uv_loop_init(&g_loop);
    read_list(list, addr, ports, nports, host, ca);
    for (size_t k = 0; k < g_n; k++)
        open_county(&g_c[k], window);
    warm_up();

    uv_timer_init(&g_loop, &g_timer);
    uv_timer_start(&g_timer, on_timeout, (uint64_t)timeout_s * 1000, 0);
    /* The clock starts here: every county connects at once. */
    g_t0 = uv_hrtime();
    for (size_t k = 0; k < g_n; k++) {
        county *c = &g_c[k];
        qs_err e = {0};
        if (qs_link_connect(&c->env, c->ctx, &e) != 0) {
            c->ended = 1;
            c->end_ns = uv_hrtime();
            c->res.err = e;
            g_ended++;
        }
    }
    if (g_ended == g_n) {
        uv_close((uv_handle_t *)&g_timer, NULL);
        for (size_t k = 0; k < g_n; k++)
            qs_worker_close_handle(g_c[k].worker);
        g_t1 = uv_hrtime();
    }
    uv_run(&g_loop, UV_RUN_DEFAULT);

    size_t ok = 0;
    uint64_t pushed = 0;
    for (size_t k = 0; k < g_n; k++) {
        county *c = &g_c[k];
        const qs_link_result *r = &c->res;
        int good = c->ended && r->err.code == 0;
        ok += good;
        pushed += r->stats.pushed;
        if (!quiet || !good)
            printf("county=%s ok=%d pushed=%" PRIu64 " acked=%" PRIu64 " ms=%.1f error=\"%s\"\n",
                   c->id, good, r->stats.pushed, r->stats.records_acked,
                   c->ended ? (double)(c->end_ns - g_t0) / 1e6 : -1.0,
                   c->ended ? r->err.msg : "did not end");
    }
    double ms = (double)(g_t1 - g_t0) / 1e6;
    printf("counties=%zu ok=%zu failed=%zu pushed=%" PRIu64 " ms=%.1f rate=%.1f\n", g_n, ok,
           g_n - ok, pushed, ms, ms > 0 ? (double)pushed / (ms / 1000) : 0.0);
    fflush(stdout);
    for (size_t k = 0; k < g_n; k++) {
        qs_worker_stop(g_c[k].worker);
        qs_store_close(g_c[k].st);
        qs_tls_ctx_unref(g_c[k].ctx);
    }
    uv_loop_close(&g_loop);
    free(g_c);
    return ok == g_n ? 0 : 1;
}
