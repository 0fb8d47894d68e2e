/*
 * cmd_daemon.c — sync, status: requests to the running qianshoud over
 * its control socket (ctl/ctl.h documents the JSON).
 */
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/cli.h"
#include "client/out.h"
#include "ctl/ctl.h"
#include "proto/xmalloc.h"

static const char SYNC_HELP[] =
    "usage: qianshou sync [--wait] [--timeout S]\n"
    "\n"
    "Ask qianshoud to sync with the aggregator now (or join the sync it is running).\n"
    "  --wait        wait for the end and print what moved: records pushed and pulled,\n"
    "                refused and conflicting records, bytes on the wire\n"
    "  --timeout S   wait at most S seconds (default 60)\n"
    "Exit 4 when the sync did not complete (the aggregator is unreachable, the link\n"
    "dropped, or it took longer than the timeout).\n";

static const char STATUS_HELP[] =
    "usage: qianshou status\n\nWhat the running qianshoud is doing: its link, the last sync, "
    "records waiting to go up, refused and conflicting records, counters since it started, "
    "certificate and CRL expiry.\n";

/* One request; *reply is the parsed object. 0 or an exit code (printed). */
static int request(cli *c, const char *req, int timeout_ms, json_t **reply)
{
    char path[4096 + 32], *text = NULL;
    qs_err e = {0};
    qs_ctl_sock_path(c->dir, path, sizeof path);
    if (qs_ctl_request(path, req, timeout_ms, &text, &e) != 0)
        return cli_fail(c, e.code == QS_EAGAIN ? CLI_ATTN : CLI_ENV, "%s", e.msg);
    json_error_t je;
    *reply = json_loads(text, 0, &je);
    free(text);
    if (!*reply)
        return cli_fail(c, CLI_ENV, "qianshoud sent a reply that is not JSON: %s", je.text);
    return 0;
}

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void bytes_text(json_int_t n, char *out, size_t len)
{
    if (n < 10 * 1024)
        snprintf(out, len, "%lld B", (long long)n);
    else if (n < 10 * 1024 * 1024)
        snprintf(out, len, "%.1f KiB", (double)n / 1024);
    else
        snprintf(out, len, "%.1f MiB", (double)n / (1024 * 1024));
}

static int sync_exec(cli *c, cli_args *a)
{
    bool wait = cli_flag(a, "wait");
    const char *t = cli_opt(a, "timeout");
    long timeout = 60;
    int rc;
    if (t) {
        char *end;
        timeout = strtol(t, &end, 10);
        if (*end || timeout < 1 || timeout > 3600)
            return cli_usage(c, "sync", "--timeout takes 1 to 3600 seconds, not \"%s\"", t);
    }
    char req[128];
    snprintf(req, sizeof req, "{\"cmd\":\"sync\",\"wait\":%s,\"timeout\":%ld}",
             wait ? "true" : "false", timeout);
    json_t *r = NULL;
    if ((rc = request(c, req, (int)(timeout + 5) * 1000, &r)) != 0)
        return rc;
    bool ok = json_is_true(json_object_get(r, "ok"));
    rc = ok ? CLI_OK : CLI_ATTN;
    if (c->json) {
        json_object_set_new(r, "exit", json_integer(rc));
        out_json(r);
        return rc;
    }
    if (!wait && ok) {
        printf("sync started (see `qianshou status`)\n");
    } else if (ok) {
        char sent[32], recv[32];
        bytes_text(num(r, "bytes_sent"), sent, sizeof sent);
        bytes_text(num(r, "bytes_received"), recv, sizeof recv);
        printf("synced with %s: pushed %lld, pulled %lld, rejected %lld, conflicts %lld; "
               "%s sent, %s received%s (%.1f s)\n",
               str(r, "peer"), (long long)num(r, "pushed"), (long long)num(r, "pulled"),
               (long long)num(r, "rejected"), (long long)num(r, "conflicts"), sent, recv,
               json_is_true(json_object_get(r, "compressed")) ? " (zstd)" : "",
               (double)num(r, "duration_ms") / 1000);
        if (num(r, "rejected") > 0)
            printf("note: refused records are listed by `qianshou list --rejected`\n");
        if (num(r, "conflicts") > 0)
            printf("note: conflicting edits are listed by `qianshou conflicts`\n");
    } else {
        fprintf(stderr, "qianshou: the sync did not complete: %s\n", str(r, "error"));
    }
    json_decref(r);
    return rc;
}

const cli_cmd cli_cmd_sync = {
    .name = "sync",
    .options = "wait timeout=",
    .usage = "[--wait] [--timeout S]",
    .summary = "sync with the aggregator now (qianshoud)",
    .help = SYNC_HELP,
    .args_hint = "sync takes no arguments",
    .max_args = 0,
    .store = CLI_STORE_NONE, /* a request to qianshoud */
    .exec = sync_exec,
};

static void line(const char *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(const char *k, const char *fmt, ...)
{
    va_list ap;
    printf("%-14s", k);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static int status_exec(cli *c, cli_args *a)
{
    (void)a;
    json_t *r = NULL;
    int rc = request(c, "{\"cmd\":\"status\"}", 10000, &r);
    if (rc)
        return rc;
    if (!json_is_true(json_object_get(r, "ok"))) {
        rc = cli_fail(c, CLI_ENV, "qianshoud: %s", str(r, "error"));
        json_decref(r);
        return rc;
    }
    if (c->json) {
        out_json(r);
        return CLI_OK;
    }
    bool county = strcmp(str(r, "role"), "county") == 0;
    json_t *ct = json_object_get(r, "counters");
    line("node", "%s (%s)", str(r, "node"), str(r, "role"));
    line("link", "%s", str(r, "link"));
    if (county) {
        line("upstream", "%s",
             json_is_string(json_object_get(r, "upstream")) ? str(r, "upstream")
                                                            : "(never reached)");
        line("last sync ok", "%s",
             json_is_string(json_object_get(r, "last_ok")) ? str(r, "last_ok") : "never");
        line("pending", "%lld records waiting to go up", (long long)num(r, "pending"));
        line("clock skew", "%lld ms", (long long)num(r, "skew_ms"));
        if (json_is_string(json_object_get(r, "next_attempt")))
            line("next attempt", "%s (%s)", str(r, "next_attempt"), str(r, "next_reason"));
        else
            line("next attempt", "none planned");
        if (num(r, "failed_attempts"))
            line("link down", "since %s, %lld failed attempts (retrying with backoff)",
                 str(r, "down_since"), (long long)num(r, "failed_attempts"));
    } else {
        line("connections", "%lld", (long long)num(r, "connections"));
        line("nodes", "%lld counties seen (`qianshou nodes`)", (long long)num(r, "nodes"));
        line("group commit", "%lld batches in %lld transactions (at most %lld together)",
             (long long)num(ct, "apply_batches"), (long long)num(ct, "apply_txns"),
             (long long)num(ct, "max_group"));
    }
    line("records", "%lld", (long long)num(r, "records"));
    line("rejected", "%lld%s", (long long)num(r, "rejected"),
         num(r, "rejected") ? " (`qianshou list --rejected`)" : "");
    line("conflicts", "%lld%s", (long long)num(r, "conflicts"),
         num(r, "conflicts") ? " (`qianshou conflicts`)" : "");
    char sent[32], recv[32];
    bytes_text(num(ct, "bytes_sent"), sent, sizeof sent);
    bytes_text(num(ct, "bytes_received"), recv, sizeof recv);
    line("since start",
         "%lld syncs ok, %lld failed; batches sent %lld, acknowledged %lld, "
         "resent %lld; records sent %lld, acknowledged %lld; %s sent, %s received",
         (long long)num(ct, "syncs_ok"), (long long)num(ct, "syncs_failed"),
         (long long)num(ct, "batches_sent"), (long long)num(ct, "batches_acked"),
         (long long)num(ct, "batches_resent"), (long long)num(ct, "records_sent"),
         (long long)num(ct, "records_acked"), sent, recv);
    if (str(r, "last_error")[0])
        line("last error", "%s", str(r, "last_error"));
    json_t *cert = json_object_get(r, "cert");
    line("certificate", "node %s, valid until %s (%lld days)", str(cert, "node"),
         str(cert, "not_after"), (long long)num(cert, "days_left"));
    json_t *crl = json_object_get(r, "crl");
    if (json_is_object(crl))
        line("crl", "next update %s (%lld days)", str(crl, "next_update"),
             (long long)num(crl, "days_left"));
    json_decref(r);
    return CLI_OK;
}

const cli_cmd cli_cmd_status = {
    .name = "status",
    .usage = "",
    .summary = "the daemon's link, last sync, counters",
    .help = STATUS_HELP,
    .args_hint = "status takes no arguments",
    .max_args = 0,
    .store = CLI_STORE_NONE, /* a request to qianshoud */
    .exec = status_exec,
};
