/*
 * cmd_report.c — `qianshou report annual`, `qianshou nodes` and
 * `qianshou metrics`: the provincial operator's views, read from the store
 * (the durable source; live link state may later come from the daemon).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli.h"
#include "client/csv.h"
#include "client/out.h"
#include "client/report_out.h"
#include "proto/clock.h"
#include "proto/date.h"
#include "proto/schema.h"
#include "proto/xmalloc.h"

static const char REPORT_HELP[] =
    "usage: qianshou report annual --year YEAR [--as-of YYYY-MM-DD] [--county CODE]\n"
    "                              [--format table|csv|json|xlsx|html] [--bom] [-o FILE]\n"
    "                              [--narrative FILE] [--days-rule per-person|total]\n"
    "                              [--funds-sources LIST] [--stale DURATION]\n"
    "\n"
    "The Hand-in-Hand plan's annual compliance report for 1 January - 31 December\n"
    "YEAR, per pairing and for the province, each figure beside its threshold and\n"
    "the plan's words (see client/REPORTS.md). Nothing dated after 31 December\n"
    "YEAR counts; a report dated earlier is marked 年度未结束 and a figure below\n"
    "its threshold reads 进行中 (in progress), not 未达标.\n"
    "  --as-of     report date (default 31 December of YEAR, or today if earlier)\n"
    "  --format    table (default), csv (UTF-8; --bom for Excel), json, xlsx (needs -o),\n"
    "              html (one self-contained file)\n"
    "  --narrative the reporting unit's own 总结与评估 text (UTF-8 or GB18030 file)\n"
    "  --days-rule which reading of the working-days threshold decides (default: setting)\n"
    "  --funds-sources  which money counts toward the funds floor, e.g.\n"
    "              省级财政,福彩公益金 (default: the funds_sources setting, public funds)\n"
    "  --stale     a county whose last sync is older than this (e.g. 3d) is provisional\n"
    "exit: 0 done, 1 usage, 2 data error, 3 environment, 4 done but figures provisional\n";

#define NARRATIVE_MAX (256u << 10)

/* The operator's 总结与评估 text: UTF-8 (a BOM dropped) or GB18030, at most
 * NARRATIVE_MAX bytes. Owned by the caller. */
static int read_narrative(cli *c, const char *path, char **out)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cli_fail(c, CLI_ENV, "cannot read %s", path);
    uint8_t *buf = qs_xmalloc(NARRATIVE_MAX + 1);
    size_t n = fread(buf, 1, NARRATIVE_MAX + 1, fp);
    bool bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return cli_fail(c, CLI_ENV, "cannot read %s", path);
    }
    if (n > NARRATIVE_MAX) {
        free(buf);
        return cli_usage(c, "report", "--narrative %s is longer than %u KiB", path,
                         NARRATIVE_MAX >> 10);
    }
    csv_text t = {0};
    qs_err e = {0};
    if (csv_decode(buf, n, path, &t, &e)) {
        free(buf);
        return cli_fail_err(c, &e);
    }
    size_t len = t.len;
    char *s = qs_xmalloc(len + 1);
    memcpy(s, t.s, len);
    s[len] = '\0';
    csv_text_free(&t);
    free(buf);
    if (strlen(s) != len) {
        free(s);
        return cli_usage(c, "report", "--narrative %s holds a NUL byte: not a text file", path);
    }
    *out = s;
    return CLI_OK;
}

/* "省级财政,福彩公益金" (codes, names or labels of expense_source) as a bitmask. */
static int parse_sources(const char *v, int64_t *mask)
{
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(QS_K_EXPENSE), "source");
    qs_value val;
    qs_err e = {0};
    /* an ENUMSET's text form is the same list: parse it as one */
    qs_field set = *f;
    set.type = QS_F_ENUMSET;
    set.max = 64;
    if (qs_schema_parse(&set, v, &val, &e) || val.t != QS_V_ARRAY || val.u.a.n == 0) {
        qs_value_free(&val);
        return QS_EINVAL;
    }
    *mask = 0;
    for (uint32_t i = 0; i < val.u.a.n; i++)
        if (val.u.a.v[i].u.i < 63)
            *mask |= INT64_C(1) << val.u.a.v[i].u.i;
    qs_value_free(&val);
    return 0;
}

static int parse_duration_s(const char *s, int64_t *out)
{
    int64_t ms;
    if (!s || *s == '-' || *s == '+' || qs_clock_parse_offset(s, &ms) || ms <= 0)
        return QS_EINVAL;
    *out = ms / 1000;
    return 0;
}

static int open_out(cli *c, const char *path, FILE **fp)
{
    if (!path || strcmp(path, "-") == 0) {
        *fp = stdout;
        return 0;
    }
    *fp = fopen(path, "wb");
    if (!*fp)
        return cli_fail(c, CLI_ENV, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* What `report annual` was asked for, checked before the store is opened. */
typedef struct annual {
    qs_report_params p;
    const char *format, *out;
    bool bom;
    char *narrative; /* --narrative's text, or NULL */
} annual;

static void annual_free(void *ctx)
{
    annual *an = ctx;
    free(an->narrative);
    free(an);
}

static int annual_check(cli *c, cli_args *a)
{
    annual *an = qs_xcalloc(1, sizeof *an);
    qs_report_params *p = &an->p;
    const char *v;
    a->ctx = an;
    a->ctx_free = annual_free;
    an->format = c->json ? "json" : "table";
    if ((v = cli_opt(a, "year"))) {
        char *end;
        long y = strtol(v, &end, 10);
        if (*end || y < 2000 || y > 2099)
            return cli_usage(c, "report", "--year wants a year like 2024, not \"%s\"", v);
        p->year = (int)y;
    }
    if ((v = cli_opt(a, "as-of")) && qs_date_parse(v, &p->as_of))
        return cli_usage(c, "report", "--as-of wants a date YYYY-MM-DD, not \"%s\"", v);
    p->county = cli_opt(a, "county");
    if ((v = cli_opt(a, "format")))
        an->format = v;
    an->out = cli_opt(a, "output");
    if ((v = cli_opt(a, "days-rule"))) {
        if (strcmp(v, "per-person") == 0 || strcmp(v, "per_person") == 0)
            p->worker_days_rule = QS_DAYS_PER_PERSON;
        else if (strcmp(v, "total") == 0)
            p->worker_days_rule = QS_DAYS_TOTAL;
        else
            return cli_usage(c, "report", "--days-rule is per-person or total");
    }
    if ((v = cli_opt(a, "stale")) && parse_duration_s(v, &p->stale_limit_s))
        return cli_usage(c, "report", "--stale wants a duration like 3d or 36h");
    if ((v = cli_opt(a, "funds-sources")) && parse_sources(v, &p->funds_sources))
        return cli_usage(c, "report",
                         "--funds-sources wants sources like 省级财政,福彩公益金 "
                         "(`qianshou schema expense` lists them), not \"%s\"",
                         v);
    an->bom = cli_flag(a, "bom");
    if (!p->year)
        return cli_usage(c, "report", "--year is required");
    bool known = false;
    static const char *const formats[] = {"table", "csv", "json", "xlsx", "html"};
    for (size_t i = 0; i < 5; i++)
        known |= strcmp(an->format, formats[i]) == 0;
    if (!known)
        return cli_usage(c, "report", "--format is table, csv, json, xlsx or html");
    if (strcmp(an->format, "xlsx") == 0 && (!an->out || strcmp(an->out, "-") == 0))
        return cli_usage(c, "report", "--format xlsx needs -o FILE.xlsx");
    if ((v = cli_opt(a, "narrative")))
        return read_narrative(c, v, &an->narrative);
    return 0;
}

static int annual_exec(cli *c, cli_args *a)
{
    annual *an = a->ctx;
    qs_report_params p = an->p;
    const char *format = an->format, *out = an->out;
    bool bom = an->bom;
    int rc = CLI_OK;
    qs_store *st = a->st;
    qs_report r;
    rbook book = {0};
    bool have_report = false;
    FILE *fp = NULL;
    p.narrative = an->narrative;
    qs_err e = {0};
    if (qs_store_report_annual(st, &p, &r, &e)) {
        rc = cli_fail_err(c, &e);
        goto done;
    }
    have_report = true;
    rbook_build(&r, &book);
    if (strcmp(format, "xlsx") == 0) {
        if (report_write_xlsx(&book, out, &e))
            rc = cli_fail_err(c, &e);
    } else if ((rc = open_out(c, out, &fp)) == 0) {
        int w = 0;
        if (strcmp(format, "json") == 0) {
            json_t *j = report_json(&r);
            w = json_dumpf(j, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) ? QS_EIO : 0;
            fputc('\n', fp);
            json_decref(j);
        } else if (strcmp(format, "csv") == 0) {
            w = report_write_csv(&book, fp, bom);
        } else if (strcmp(format, "html") == 0) {
            w = report_write_html(&r, &book, fp);
        } else {
            w = report_write_table(&book, fp);
        }
        int en = w ? errno : 0;
        bool to_stdout = fp == stdout;
        if (!to_stdout && fclose(fp) != 0)
            w = QS_EIO, en = errno;
        else if (to_stdout && fflush(stdout) != 0)
            w = QS_EIO, en = errno;
        if (w)
            rc = cli_fail(c, CLI_ENV, "writing the report to %s failed: %s", out ? out : "stdout",
                          en ? strerror(en) : "write error");
    }
    if (!rc && r.provisional) {
        cli_warn("%u of %u counties have not synced within the stale limit: their figures are "
                 "provisional",
                 r.provisional, r.npairings);
        rc = CLI_ATTN;
    }
done:
    if (have_report)
        qs_report_free(&r);
    rbook_free(&book);
    return rc;
}

const cli_cmd cli_cmd_report_annual = {
    .name = "report annual",
    .options = "year= as-of= county= format= o|output= bom narrative= days-rule= funds-sources= "
               "stale=",
    .usage = "--year Y [--as-of D] [--county C] [--format table|csv|json|xlsx|html] [-o F]",
    .summary = "the plan's annual compliance report (client/REPORTS.md)",
    .help = REPORT_HELP,
    .max_args = 0,
    .store = CLI_STORE_READ,
    .check = annual_check,
    .exec = annual_exec,
};

/* ---- the fleet: nodes and metrics ------------------------------------ */

typedef struct fleet_row {
    char node[QS_NODE_MAX];
    char name[96];
    qs_peer peer;
    bool seen;
    uint64_t rejected, conflicts;
    bool stale;
} fleet_row;

typedef struct fleet {
    fleet_row *rows;
    size_t n, cap;
    int64_t now_ms, limit_s;
    char limit_text[32]; /* the limit as written (--stale 3d), or the setting's */
    char self[QS_NODE_MAX];
    uint64_t records, conflicts, rejected;
} fleet;

static fleet_row *row_for(fleet *f, const char *node)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->rows[i].node, node) == 0)
            return &f->rows[i];
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->rows = qs_xreallocarray(f->rows, f->cap, sizeof *f->rows);
    }
    fleet_row *r = &f->rows[f->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->node, sizeof r->node, "%s", node);
    return r;
}

static int county_cb(void *ctx, const qs_record *rec)
{
    fleet *f = ctx;
    qs_body b;
    if (out_body(rec, &b))
        return 0;
    const qs_kind *k = qs_schema_kind(QS_K_COUNTY);
    const qs_value *code = qs_body_get(&b, qs_kind_field_by_name(k, "code")->id);
    const qs_value *name = qs_body_get(&b, qs_kind_field_by_name(k, "name")->id);
    if (code && code->t == QS_V_STR && strcmp(code->u.s.p, f->self) != 0) {
        fleet_row *r = row_for(f, code->u.s.p);
        if (name && name->t == QS_V_STR)
            snprintf(r->name, sizeof r->name, "%s", name->u.s.p);
    }
    qs_body_free(&b);
    return 0;
}

static bool in_subtree(const char *scope, const char *node)
{
    char prefix[QS_CODE_MAX];
    if (qs_code_prefix(node, prefix, sizeof prefix) <= 0)
        return false;
    return strncmp(scope, prefix, strlen(prefix)) == 0;
}

/* Peers, counties and their problems. stale_arg NULL = the setting. */
static int fleet_load(cli *c, qs_store *st, const char *stale_arg, fleet *f)
{
    qs_err e = {0};
    qs_peer *peers = NULL;
    qs_rejection *rej = NULL;
    qs_conflict *cf = NULL;
    size_t np = 0, nr = 0, nc = 0;
    qs_store_info info;
    int rc = 0;
    memset(f, 0, sizeof *f);
    f->now_ms = qs_clock_wall_ms();
    if (stale_arg) {
        if (parse_duration_s(stale_arg, &f->limit_s))
            return cli_usage(c, "nodes", "--stale wants a duration like 3d, 36h or 90m");
        snprintf(f->limit_text, sizeof f->limit_text, "%s", stale_arg);
    } else if (qs_report_setting_get(st, 0, QS_S_STALE_LIMIT_S, &f->limit_s, &e)) {
        return cli_fail_err(c, &e);
    } else {
        /* the setting in seconds, in the largest unit that divides it */
        int64_t v = f->limit_s;
        snprintf(f->limit_text, sizeof f->limit_text, "%" PRId64 "%s",
                 v % 86400 == 0  ? v / 86400
                 : v % 3600 == 0 ? v / 3600
                 : v % 60 == 0   ? v / 60
                                 : v,
                 v % 86400 == 0  ? "d"
                 : v % 3600 == 0 ? "h"
                 : v % 60 == 0   ? "m"
                                 : "s");
    }
    if (qs_store_info_get(st, &info, &e) || qs_store_peers(st, &peers, &np, &e) ||
        qs_store_rejections(st, &rej, &nr, &e) || qs_store_conflicts(st, &cf, &nc, &e)) {
        rc = cli_fail_err(c, &e);
        goto out;
    }
    snprintf(f->self, sizeof f->self, "%s", info.node);
    f->records = info.records;
    f->conflicts = info.conflicts;
    f->rejected = info.rejected;
    qs_query q = {.kind = QS_K_COUNTY};
    if (qs_store_list(st, &q, county_cb, f, &e)) {
        rc = cli_fail_err(c, &e);
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        /* our own parent is not part of the fleet we watch */
        if (info.role == QS_ROLE_COUNTY)
            continue;
        fleet_row *r = row_for(f, peers[i].node);
        r->peer = peers[i];
        r->seen = true;
    }
    for (size_t i = 0; i < f->n; i++) {
        fleet_row *r = &f->rows[i];
        for (size_t k = 0; k < nr; k++)
            r->rejected += strcmp(rej[k].peer, r->node) == 0;
        for (size_t k = 0; k < nc; k++)
            r->conflicts += in_subtree(cf[k].scope, r->node);
        r->stale = !r->seen || r->peer.last_ok_ms <= 0 ||
                   f->now_ms - r->peer.last_ok_ms > f->limit_s * 1000;
    }
out:
    free(peers);
    free(rej);
    qs_conflicts_free(cf, nc);
    return rc;
}

static void fmt_ms(int64_t ms, char *buf, size_t n)
{
    if (ms <= 0) {
        snprintf(buf, n, "never");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static void fmt_age(int64_t now, int64_t ms, char *buf, size_t n)
{
    if (ms <= 0) {
        snprintf(buf, n, "-");
        return;
    }
    int64_t s = (now - ms) / 1000;
    if (s < 0)
        s = 0;
    if (s < 3600)
        snprintf(buf, n, "%" PRId64 "m", s / 60);
    else if (s < 172800)
        snprintf(buf, n, "%" PRId64 "h", s / 3600);
    else
        snprintf(buf, n, "%" PRId64 "d", s / 86400);
}

static const char NODES_HELP[] =
    "usage: qianshou nodes [--stale DURATION]\n"
    "Per county: last contact, last successful sync, records waiting at the county (as\n"
    "it reported), refused records, open conflicts, clock skew, when its certificate\n"
    "expires (RENEW under 30 days). A county whose last\n"
    "successful sync is older than DURATION (default: the stale_limit_s report setting,\n"
    "3d) or that never synced is stale.\n"
    "exit: 0 all fresh, 4 some county is stale, 3 no store\n";

/* "2027-11-28 (364 d)", "EXPIRED 2026-01-01", "RENEW 2026-12-10 (12 d)" (under 30
 * days), or "-" when unknown. Owned by the caller. */
static char *cert_expiry(int64_t not_after_ms, int64_t now_ms)
{
    if (not_after_ms <= 0)
        return qs_xstrdup("-");
    time_t t = (time_t)(not_after_ms / 1000);
    struct tm tm;
    char day[16];
    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    int64_t left = (not_after_ms - now_ms) / 86400000;
    if (not_after_ms <= now_ms)
        return qs_xasprintf("EXPIRED %s", day);
    return qs_xasprintf("%s%s (%" PRId64 " d)", left < 30 ? "RENEW " : "", day, left);
}

/* The common start of `nodes` and `metrics`: the store's role (nodes is the
 * aggregator's) and the fleet, with --stale DURATION. */
static int fleet_start(cli *c, cli_args *a, const char *cmd, fleet *f)
{
    qs_store_info info;
    qs_err e = {0};
    int rc;
    /* nodes only: metrics keeps writing its file wherever it is run */
    if ((rc = qs_store_ident(a->st, &info, &e)) == 0 && info.role == QS_ROLE_COUNTY &&
        strcmp(cmd, "nodes") == 0)
        return cli_fail(c, CLI_USAGE,
                        "`%s` is for the aggregator: it lists the counties that "
                        "sync to it; this store (%s) is a county's — `qianshou status` shows "
                        "this node's link and last sync",
                        cmd, info.node);
    if (rc)
        return cli_fail_err(c, &e);
    return fleet_load(c, a->st, cli_opt(a, "stale"), f);
}

static int nodes_exec(cli *c, cli_args *args)
{
    fleet f;
    int rc = fleet_start(c, args, "nodes", &f);
    if (rc)
        return rc;
    size_t nstale = 0;
    for (size_t i = 0; i < f.n; i++)
        nstale += f.rows[i].stale;
    if (c->json) {
        json_t *a = json_array();
        char t1[32], t2[32];
        for (size_t i = 0; i < f.n; i++) {
            fleet_row *r = &f.rows[i];
            fmt_ms(r->peer.last_contact_ms, t1, sizeof t1);
            fmt_ms(r->peer.last_ok_ms, t2, sizeof t2);
            json_array_append_new(
                a, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:s, s:I}", "node",
                             r->node, "name", r->name, "last_contact", t1, "last_ok", t2, "pending",
                             (json_int_t)r->peer.pending, "rejected", (json_int_t)r->rejected,
                             "conflicts", (json_int_t)r->conflicts, "skew_ms",
                             (json_int_t)r->peer.skew_ms, "stale", r->stale, "last_error",
                             r->peer.last_error, "cert_not_after_ms",
                             (json_int_t)r->peer.cert_not_after_ms));
        }
        out_json(json_pack("{s:o, s:I, s:I}", "nodes", a, "stale_limit_s", (json_int_t)f.limit_s,
                           "stale", (json_int_t)nstale));
    } else {
        static const char *const head[] = {"node", "name",         "last contact", "last ok",
                                           "age",  "pending",      "rejected",     "conflicts",
                                           "skew", "cert expires", "state",        "last error"};
        enum { NCOL = sizeof head / sizeof head[0] };
        out_table t;
        out_table_init(&t, NCOL);
        char **row = qs_xcalloc(NCOL, sizeof *row);
        for (int k = 0; k < NCOL; k++)
            row[k] = qs_xstrdup(head[k]);
        out_table_add(&t, row);
        for (size_t i = 0; i < f.n; i++) {
            fleet_row *r = &f.rows[i];
            char a[32], b[32], age[16];
            fmt_ms(r->peer.last_contact_ms, a, sizeof a);
            fmt_ms(r->peer.last_ok_ms, b, sizeof b);
            fmt_age(f.now_ms, r->peer.last_ok_ms, age, sizeof age);
            row[0] = qs_xstrdup(r->node);
            row[1] = qs_xstrdup(r->name);
            row[2] = qs_xstrdup(a);
            row[3] = qs_xstrdup(b);
            row[4] = qs_xstrdup(age);
            row[5] = qs_xasprintf("%" PRIu64, r->peer.pending);
            row[6] = qs_xasprintf("%" PRIu64, r->rejected);
            row[7] = qs_xasprintf("%" PRIu64, r->conflicts);
            row[8] = qs_xasprintf("%.1fs", (double)r->peer.skew_ms / 1000.0);
            row[9] = cert_expiry(r->peer.cert_not_after_ms, f.now_ms);
            row[10] = qs_xstrdup(r->stale ? "STALE" : "ok");
            row[11] = qs_xstrdup(r->peer.last_error);
            out_table_add(&t, row);
        }
        free(row);
        out_table_print(&t, stdout, false);
        out_table_free(&t);
        printf("%zu node(s), %zu stale (limit %s)\n", f.n, nstale, f.limit_text);
    }
    rc = nstale ? CLI_ATTN : CLI_OK;
    free(f.rows);
    return rc;
}

const cli_cmd cli_cmd_nodes = {
    .name = "nodes",
    .options = "stale=",
    .usage = "[--stale DURATION]",
    .summary = "the counties' sync state (exit 4: stale)",
    .help = NODES_HELP,
    .max_args = 0,
    .store = CLI_STORE_READ,
    .exec = nodes_exec,
};

static const char METRICS_HELP[] =
    "usage: qianshou metrics [--stale DURATION]\n"
    "The `nodes` figures in Prometheus text exposition format, for node_exporter's\n"
    "textfile collector (write to a .prom file atomically: metrics > f.tmp && mv).\n";

static void metric_head(const char *name, const char *help)
{
    printf("# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static int metrics_exec(cli *c, cli_args *a)
{
    fleet f;
    int rc = fleet_start(c, a, "metrics", &f);
    if (rc)
        return rc;
    static const struct {
        const char *name, *help;
        int which;
    } ms[] = {
        {"qianshou_peer_last_contact_timestamp_seconds", "Last contact with the node.", 0},
        {"qianshou_peer_last_ok_timestamp_seconds", "Last complete sync with the node (0 never).",
         1},
        {"qianshou_peer_pending_records", "Records waiting at the node, as it reported.", 2},
        {"qianshou_peer_rejected_records", "Records refused either way with this node.", 3},
        {"qianshou_peer_open_conflicts", "Records in the node's area with an open conflict.", 4},
        {"qianshou_peer_clock_skew_seconds", "Node clock minus ours at the last handshake.", 5},
        {"qianshou_peer_stale", "1 when the last complete sync is older than the limit.", 6},
        {"qianshou_peer_cert_expiry_timestamp_seconds",
         "When the certificate the node last presented expires (0 unknown).", 7},
    };
    for (size_t m = 0; m < sizeof ms / sizeof ms[0]; m++) {
        metric_head(ms[m].name, ms[m].help);
        for (size_t i = 0; i < f.n; i++) {
            fleet_row *r = &f.rows[i];
            printf("%s{node=\"%s\"} ", ms[m].name, r->node);
            switch (ms[m].which) {
            case 0:
                printf("%.3f\n", (double)r->peer.last_contact_ms / 1000.0);
                break;
            case 1:
                printf("%.3f\n", (double)r->peer.last_ok_ms / 1000.0);
                break;
            case 2:
                printf("%" PRIu64 "\n", r->peer.pending);
                break;
            case 3:
                printf("%" PRIu64 "\n", r->rejected);
                break;
            case 4:
                printf("%" PRIu64 "\n", r->conflicts);
                break;
            case 5:
                printf("%.3f\n", (double)r->peer.skew_ms / 1000.0);
                break;
            case 7:
                printf("%.3f\n", (double)r->peer.cert_not_after_ms / 1000.0);
                break;
            default:
                printf("%d\n", r->stale ? 1 : 0);
            }
        }
    }
    metric_head("qianshou_store_records", "Live records in this store.");
    printf("qianshou_store_records{node=\"%s\"} %" PRIu64 "\n", f.self, f.records);
    metric_head("qianshou_store_open_conflicts", "Records with an open conflict in this store.");
    printf("qianshou_store_open_conflicts{node=\"%s\"} %" PRIu64 "\n", f.self, f.conflicts);
    metric_head("qianshou_stale_limit_seconds", "The staleness limit in force.");
    printf("qianshou_stale_limit_seconds %" PRId64 "\n", f.limit_s);
    rc = fflush(stdout) ? CLI_ENV : CLI_OK;
    free(f.rows);
    return rc;
}

const cli_cmd cli_cmd_metrics = {
    .name = "metrics",
    .options = "stale=",
    .usage = "[--stale DURATION]",
    .summary = "the `nodes` figures for Prometheus",
    .help = METRICS_HELP,
    .max_args = 0,
    .store = CLI_STORE_READ,
    .exec = metrics_exec,
};
