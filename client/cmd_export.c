/*
 * cmd_export.c — export KIND [FIELD=VALUE...] [--format csv|json] [--bom] [--labels]
 *                [-o FILE].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/fields.h"
#include "client/csv.h"
#include "client/out.h"
#include "client/records.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"

static const char HELP[] =
    "usage: qianshou export KIND [FIELD=VALUE...] [--format csv|json] [--bom] [--labels]\n"
    "                            [-o FILE]\n"
    "\n"
    "Write every KIND record (oldest first) that matches every FIELD=VALUE (the\n"
    "filters of `qianshou list`: date=2024-03 is a month) as CSV (the default;\n"
    "with --json the default is json) to FILE or standard output. The CSV has an\n"
    "id and a scope column, then one column per field, and can be imported again.\n"
    "  --bom      start the CSV with a UTF-8 mark, so Excel on Windows reads Chinese\n"
    "  --labels   Chinese column headers and enum labels instead of ASCII names\n"
    "  -o FILE    write to FILE (replaced only once the export is complete)\n";

typedef struct exp_ctx {
    const qs_kind *k;
    FILE *fp;
    qs_store *st; /* references as codes or names */
    bool json, labels, first, tty, shown;
    size_t n;
    struct timespec start, last;
} exp_ctx;

static double since(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static int exp_cb(void *p, const qs_record *r)
{
    exp_ctx *x = p;
    if (x->json) {
        json_t *o = out_record_json(r);
        fputs(x->first ? "[\n" : ",\n", x->fp);
        json_dumpf(o, x->fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(o);
    } else {
        char idb[QS_UUID_STR];
        qs_body b;
        bool ok = out_body(r, &b) == 0;
        fputs(qs_uuid_format(r->id, idb), x->fp);
        fputc(',', x->fp);
        csv_write_cell(x->fp, r->scope);
        for (uint32_t i = 0; i < x->k->nfields; i++) {
            const qs_field *f = &x->k->fields[i];
            char *s = fields_display(x->st, f, ok ? qs_body_get(&b, f->id) : NULL, x->labels);
            fputc(',', x->fp);
            csv_write_cell(x->fp, s);
            free(s);
        }
        fputs("\r\n", x->fp);
        if (ok)
            qs_body_free(&b);
    }
    x->first = false;
    x->n++;
    if (x->tty && since(&x->start) > 2.0 && since(&x->last) > 0.2) {
        fprintf(stderr, "\rexporting: %zu records", x->n);
        clock_gettime(CLOCK_MONOTONIC, &x->last);
        x->shown = true;
    }
    return ferror(x->fp) ? QS_EIO : 0;
}

/* --format, or its default: json with --json, else csv. */
static const char *export_format(const cli *c, const cli_args *a)
{
    const char *format = cli_opt(a, "format");
    return format ? format : c->json ? "json" : "csv";
}

static int export_check(cli *c, cli_args *a)
{
    const char *format = export_format(c, a);
    if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        return cli_usage(c, "export", "--format is csv or json, not \"%s\"", format);
    return 0;
}

static int export_exec(cli *c, cli_args *a)
{
    const qs_kind *k = a->kind;
    const char *format = export_format(c, a), *out = cli_opt(a, "output");
    bool bom = cli_flag(a, "bom"), labels = cli_flag(a, "labels");
    char *tmp = NULL;
    qs_store *st = a->st;
    exp_ctx x = {0};
    qs_filter *flt = NULL;
    size_t nflt = 0;
    int rc;
    if ((rc = records_filters(c, st, k, a->argc - 1, a->argv + 1, &flt, &nflt)))
        return rc;
    x.k = k;
    x.st = st;
    x.json = strcmp(format, "json") == 0;
    x.labels = labels;
    x.first = true;
    x.tty = isatty(STDERR_FILENO);
    clock_gettime(CLOCK_MONOTONIC, &x.start);
    x.last = x.start;
    if (out) {
        tmp = qs_xasprintf("%s.tmp-%ld", out, (long)getpid());
        x.fp = fopen(tmp, "w");
        if (!x.fp) {
            rc = cli_fail(c, CLI_ENV, "cannot write %s: %s", out, strerror(errno));
            goto done;
        }
    } else {
        x.fp = stdout;
    }
    if (!x.json) {
        if (bom)
            fputs("\xEF\xBB\xBF", x.fp);
        fputs("id,scope", x.fp);
        for (uint32_t i = 0; i < k->nfields; i++) {
            fputc(',', x.fp);
            csv_write_cell(x.fp, labels ? k->fields[i].label : k->fields[i].name);
        }
        fputs("\r\n", x.fp);
    }
    qs_query q = {.kind = k->id, .filters = flt, .nfilters = nflt};
    qs_err err = {0};
    rc = qs_store_list(st, &q, exp_cb, &x, &err);
    if (x.shown)
        fprintf(stderr, "\r\033[K");
    if (rc) {
        rc = rc == QS_EIO && !err.msg[0]
                 ? cli_fail(c, CLI_ENV, "could not write the export (is the disk full?)")
                 : cli_fail_err(c, &err);
        goto done;
    }
    if (x.json)
        fputs(x.first ? "[]\n" : "\n]\n", x.fp);
    if (out) {
        FILE *fp = x.fp;
        x.fp = NULL;
        if (fflush(fp) != 0 || fsync(fileno(fp)) != 0 || fclose(fp) != 0) {
            rc = cli_fail(c, CLI_ENV, "could not write %s: %s", out, strerror(errno));
            goto done;
        }
        if (rename(tmp, out) != 0) {
            rc = cli_fail(c, CLI_ENV, "could not put %s in place: %s", out, strerror(errno));
            goto done;
        }
        free(tmp);
        tmp = NULL;
        if (c->json) {
            json_t *j = json_object();
            json_object_set_new(j, "file", json_string(out));
            json_object_set_new(j, "kind", json_string(k->name));
            json_object_set_new(j, "records", json_integer((json_int_t)x.n));
            out_json(j);
        } else {
            fprintf(stderr, "exported %zu %s record%s to %s\n", x.n, k->name, x.n == 1 ? "" : "s",
                    out);
        }
    }
    rc = CLI_OK;
done:
    if (x.fp && x.fp != stdout)
        fclose(x.fp);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    records_filters_free(flt, nflt);
    return rc;
}

const cli_cmd cli_cmd_export = {
    .name = "export",
    .options = "format= bom labels o|output=",
    .usage = "KIND [FIELD=VALUE...] [--format csv|json] [--bom] [--labels] [-o FILE]",
    .summary = "the records of a kind (all, or those matching) as CSV or JSON",
    .help = HELP,
    .args_hint = "give the kind to export, e.g. `qianshou export service`",
    .min_args = 1,
    .max_args = CLI_ARGS_ANY,
    .first = CLI_FIRST_KIND,
    .store = CLI_STORE_READ,
    .check = export_check,
    .exec = export_exec,
};
