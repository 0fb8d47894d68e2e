/* check.c — qianshoud --check [--connect]; see check.h. */
#include "daemon/check.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/net.h"
#include "daemon/log.h"
#include "daemon/tls.h"
#include "proto/clock.h"
#include "proto/schema.h"
#include "proto/scope.h"
#include "store/store.h"

/* ---- --check ---- */

/* --check --connect: one TCP connection and TLS handshake to the upstream,
 * and which part failed. Nothing is sent past TLS, nothing stored. */
typedef struct probe {
    int done, tcp_ok, tls_ok;
    qs_err err;
    char peer[QS_NODE_MAX];
} probe;

static void probe_handshake(qs_net_conn *c)
{
    probe *p = qs_net_conn_data(c);
    p->tcp_ok = p->tls_ok = 1;
    snprintf(p->peer, sizeof p->peer, "%s", qs_net_peer_id(c));
    qs_net_close(c);
}

static void probe_data(qs_net_conn *c, const uint8_t *b, size_t n)
{
    (void)c, (void)b, (void)n;
}

static void probe_close(qs_net_conn *c, const qs_err *reason)
{
    probe *p = qs_net_conn_data(c);
    if (!p->tls_ok)
        p->err = *reason;
    p->done = 1;
}

static int check_connect(const qs_config *cfg, qs_tls_ctx *ctx)
{
    static const qs_net_callbacks cb = {probe_handshake, probe_data, NULL, probe_close};
    uv_loop_t loop;
    uv_loop_init(&loop);
    probe p = {0};
    qs_net_conn *c = NULL;
    qs_net_opts o = {.handshake_timeout_ms = (uint64_t)cfg->handshake_timeout * 1000};
    qs_err e = {0};
    int rc = qs_net_connect(&c, &loop, cfg->up.address, cfg->up.port, cfg->up.host, ctx, &cb, &o,
                            &p, &e);
    if (rc == 0)
        uv_run(&loop, UV_RUN_DEFAULT);
    else
        p.err = e;
    uv_loop_close(&loop);
    if (p.tls_ok) {
        printf("connect: TCP to %s:%d ok; TLS 1.3 ok: the aggregator's certificate names node %s "
               "and host %s\n",
               cfg->up.address, cfg->up.port, p.peer, cfg->up.host);
        if (!qs_node_is_below(p.peer, cfg->node)) {
            fprintf(stderr,
                    "qianshoud --check: the upstream's certificate names node %s, which "
                    "is not above this node (%s): a sync would be refused\n",
                    p.peer, cfg->node);
            return QS_EXIT_ENV;
        }
        return 0;
    }
    bool tcp = p.err.code == QS_EIO && strncmp(p.err.msg, "connect", 7) == 0;
    fprintf(stderr, "qianshoud --check: %s %s:%d (host %s) failed: %s\n",
            tcp ? "TCP connection to" : "TLS handshake with", cfg->up.address, cfg->up.port,
            cfg->up.host, p.err.msg);
    return QS_EXIT_ENV;
}

int qs_check_run(const qs_config *cfg, bool connect)
{
    int rc = QS_EXIT_ENV;
    qs_err e = {0};
    qs_tls_ctx *ctx = NULL;
    qs_store *st = NULL;
    char b1[32], b2[32];
    if (qs_config_tls_ctx(cfg, &ctx, &e) != 0) {
        fprintf(stderr, "qianshoud --check: %s\n", e.msg);
        goto out;
    }
    qs_tls_ctx_info in;
    qs_tls_ctx_get_info(ctx, &in);
    qs_log_iso((int64_t)in.not_before * 1000, b1, sizeof b1);
    qs_log_iso((int64_t)in.not_after * 1000, b2, sizeof b2);
    printf("certificate: node %s, valid from %s to %s (%ld days left)\n", in.node_id, b1, b2,
           (long)((in.not_after - qs_clock_wall_time()) / 86400));
    if (in.crl_next_update) {
        qs_log_iso((int64_t)in.crl_last_update * 1000, b1, sizeof b1);
        qs_log_iso((int64_t)in.crl_next_update * 1000, b2, sizeof b2);
        printf("crl: last update %s, next update %s (%ld days left)\n", b1, b2,
               (long)((in.crl_next_update - qs_clock_wall_time()) / 86400));
        if (in.crl_next_update - qs_clock_wall_time() < QS_CRL_WARN_DAYS * 86400L)
            printf("warning: the CRL's next update is less than %d days away: regenerate it\n",
                   QS_CRL_WARN_DAYS);
    }
    if (strcmp(in.node_id, cfg->node) != 0) {
        fprintf(stderr,
                "qianshoud --check: node id mismatch: the config says %s ([node] id) "
                "but the certificate %s says %s\n",
                cfg->node, cfg->role == QS_ROLE_AGGREGATOR ? cfg->listen.cert : cfg->up.cert,
                in.node_id);
        goto out;
    }
    char db[QS_CFG_PATH + 32];
    snprintf(db, sizeof db, "%s/%s", cfg->data_dir, QS_DB_FILE);
    if (!cfg->store.postgresql && access(db, F_OK) != 0) {
        printf("store: none yet in %s (created at the first start)\n", cfg->data_dir);
    } else {
        qs_store_opts o = qs_store_opts_default();
        o.dir = cfg->data_dir;
        o.conninfo = cfg->store.postgresql ? cfg->store.conninfo : NULL;
        o.limits = cfg->limits;
        qs_store_info si;
        if (qs_store_open(&o, &st, &e) != 0 || qs_store_info_get(st, &si, &e) != 0) {
            fprintf(stderr, "qianshoud --check: store %s: %s\n", cfg->data_dir, e.msg);
            goto out;
        }
        if (strcmp(si.node, cfg->node) != 0) {
            fprintf(stderr,
                    "qianshoud --check: node id mismatch: the config says %s ([node] id) "
                    "but the store in %s belongs to %s\n",
                    cfg->node, cfg->data_dir, si.node);
            goto out;
        }
        if (si.role != cfg->role) {
            fprintf(stderr,
                    "qianshoud --check: role mismatch: the config says %s but the store "
                    "in %s was made for the other role\n",
                    cfg->role == QS_ROLE_COUNTY ? "county" : "aggregator", cfg->data_dir);
            goto out;
        }
        char name[QS_NAME_MAX];
        if (qs_store_name(st, name, &e) != 0)
            name[0] = '\0';
        printf("store: %s, node %s%s%s%s, %llu records\n", cfg->data_dir, si.node,
               name[0] ? " (" : "", name, name[0] ? ")" : "", (unsigned long long)si.records);
        uint64_t counties = 0;
        if (cfg->role == QS_ROLE_AGGREGATOR &&
            qs_store_count_eq(st, QS_K_COUNTY, NULL, 0, &counties, &e) == 0) {
            printf("children: %llu counties in the reference data, %u codes in [listen] "
                   "children\n",
                   (unsigned long long)counties, cfg->listen.nchildren);
            if (counties == 0 && cfg->listen.nchildren == 0)
                printf("warning: no county is known yet, so every county will be refused: "
                       "load the plan's reference data (README, \"Operating the aggregator\")\n");
        }
    }
    if (connect && cfg->role == QS_ROLE_COUNTY && check_connect(cfg, ctx) != 0)
        goto out;
    printf("ok\n");
    rc = 0;
out:
    qs_store_close(st);
    qs_tls_ctx_unref(ctx);
    return rc;
}
