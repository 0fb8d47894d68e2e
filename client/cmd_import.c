/*
 * cmd_import.c — import KIND FILE.csv [--partial] [--again] [--scope CODE].
 *
 * In steps, each a function below:
 *   1. read the sheet whole (at most CSV_MAX_BYTES) and hash it (SHA-256 of
 *      the bytes), before the store is opened (import_check);
 *   2. refuse a sheet imported before, unless --again (refuse_again);
 *   3. decode it (UTF-8 or GB18030) and map its header row to fields
 *      (open_sheet);
 *   4. begin one transaction, and the writer thread when it can help (begin);
 *   5. every row: its cells into a body (row_body), checked (row_check), and
 *      stored through the pipe or directly (row_store) — import_rows;
 *   6. all or nothing (or with --partial the good rows): end the writer, note
 *      the sheet, commit (finish);
 *   7. say what was imported (summarise).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/csv.h"
#include "client/fields.h"
#include "client/out.h"
#include "proto/sha256.h"
#include "proto/xmalloc.h"

static const char HELP[] =
    "usage: qianshou import KIND FILE.csv [--partial] [--again] [--scope CODE]\n"
    "\n"
    "Add one KIND record per row of a CSV sheet. The sheet may be UTF-8 (with or\n"
    "without BOM) or GB18030 as Chinese Excel saves it. The first row names the\n"
    "columns: field names or their Chinese labels (see `qianshou schema KIND`);\n"
    "an `id` column (from `qianshou export`) is ignored, a `scope` column sets each\n"
    "record's scope. Every bad row is reported as FILE:LINE: field: reason, and\n"
    "then nothing is imported.\n"
    "  --partial     import the good rows and list the bad ones (exit code 4)\n"
    "  --again       import a sheet even though the same file was imported before\n"
    "  --scope CODE  scope for rows without a scope column (default: this node)\n";

enum { COL_IGNORE = 0, COL_FIELD, COL_SCOPE };

/* The page cache of the import's transaction. Small on purpose: the sheet's
 * pages go into the write-ahead log as the cache fills (no sync before the
 * commit), while a cache big enough to hold them all cost a page fault for
 * each of its pages — a 500,000-row sheet took 5.98 s with 256 MiB, 5.2 s
 * with 2 to 16 MiB (--partial 7.2 s and 6.6 s). */
#define IMPORT_CACHE_MIB 8

typedef struct column {
    int what;
    const qs_field *f;
} column;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_file(cli *c, const char *path, uint8_t **out, size_t *n, size_t *cap)
{
    FILE *fp = fopen(path, "rb");
    struct stat sb;
    *out = NULL;
    if (!fp)
        return cli_fail(c, CLI_ENV, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return cli_fail(c, CLI_USAGE, "%s is not a file", path);
    }
    if ((uint64_t)sb.st_size > CSV_MAX_BYTES) {
        fclose(fp);
        return cli_fail(c, CLI_DATA, "%s is %lld bytes; a sheet may have at most %u MiB — split it",
                        path, (long long)sb.st_size, CSV_MAX_BYTES >> 20);
    }
    /* read whole into pages faulted in at once (qs_xmap); the byte after
     * the sheet tells whether it grew while being read */
    uint8_t *buf = qs_xmap((size_t)sb.st_size + 1);
    size_t got = fread(buf, 1, (size_t)sb.st_size + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || got > (size_t)sb.st_size) {
        qs_xunmap(buf, (size_t)sb.st_size + 1);
        return cli_fail(c, CLI_ENV, "could not read %s (it changed while being read?)", path);
    }
    *out = buf;
    *n = got;
    *cap = (size_t)sb.st_size + 1;
    return 0;
}

static void trim(char *s)
{
    size_t n = strlen(s), a = strspn(s, " \t");
    while (n > a && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    memmove(s, s + a, n - a);
    s[n - a] = '\0';
}

/* Map header cells to fields. Exit code. */
static int map_header(cli *c, const qs_kind *k, const char *file, const csv_row *hdr, column *cols)
{
    size_t mapped = 0;
    for (size_t i = 0; i < hdr->n; i++) {
        char *h = hdr->cells[i];
        trim(h);
        cols[i].what = COL_IGNORE;
        if (!*h || strcmp(h, "id") == 0)
            continue;
        if (strcmp(h, "scope") == 0) {
            cols[i].what = COL_SCOPE;
            continue;
        }
        const qs_field *f = qs_kind_field_by_name(k, h);
        if (!f) {
            cli_warn("%s:%zu: column \"%s\" is not a field of %s; it is ignored", file, hdr->line,
                     h, k->name);
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (cols[j].what == COL_FIELD && cols[j].f == f)
                return cli_fail(c, CLI_DATA, "%s:%zu: two columns are %s (%s)", file, hdr->line,
                                f->name, f->label);
        cols[i].what = COL_FIELD;
        cols[i].f = f;
        mapped++;
    }
    if (mapped == 0)
        return cli_fail(c, CLI_DATA,
                        "%s:%zu: no column is a field of %s — the first row must name the "
                        "columns (see `qianshou schema %s`)",
                        file, hdr->line, k->name, k->name);
    for (uint32_t j = 0; j < k->nfields; j++) {
        const qs_field *f = &k->fields[j];
        bool have = false;
        for (size_t i = 0; i < hdr->n; i++)
            have |= cols[i].what == COL_FIELD && cols[i].f == f;
        if ((f->flags & QS_FF_REQUIRED) && !have)
            return cli_fail(c, CLI_DATA,
                            "%s:%zu: the sheet has no column for %s (%s), which "
                            "every %s needs",
                            file, hdr->line, f->name, f->label, k->name);
    }
    return 0;
}

typedef struct report {
    json_t *errors; /* --json */
    size_t lines;
} report;

static void row_problem(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void row_problem(report *r, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "qianshou: %s\n", line);
    if (r->errors)
        json_array_append_new(r->errors, json_string(line));
    r->lines++;
}

static bool blank_row(const csv_row *row)
{
    for (size_t i = 0; i < row->n; i++)
        if (row->cells[i][strspn(row->cells[i], " \t")] != '\0')
            return false;
    return true;
}

/* Where rows go: straight into the store, or through a pipe whose writer
 * thread stores them while the next rows are read (look: a second handle of
 * the store, for the lookups the rows need while the writer has the first). */
typedef struct sink {
    qs_store *st;
    qs_pipe *pipe;
    qs_store *look;
} sink;

/* The second handle for lookups, or NULL (the import then runs in one
 * thread: slower, the same result). */
static qs_store *open_look(cli *c)
{
    qs_store_opts o = qs_store_opts_default();
    o.dir = c->dir;
    qs_store *look = NULL;
    qs_err e = {0};
    return qs_store_open(&o, &look, &e) == 0 ? look : NULL;
}

/* One import, from the sheet read to the summary. */
typedef struct import {
    const qs_kind *k;
    const char *file, *scope; /* scope: --scope, for rows without a scope column */
    bool partial, again;
    uint8_t *raw; /* the sheet's bytes (qs_xmap) */
    size_t nraw, raw_cap;
    uint8_t sha[QS_SHA256_LEN];
    csv_text text;
    csv_reader rd;
    csv_row header;
    column *cols;
    sink to;
    bool in_tx;
    report rep;
    size_t good, bad, rows;
} import;

/* A row being imported: "FILE:LINE: " for its messages, made when the row has
 * something to say (most have not). */
typedef struct row_at {
    const import *im;
    const csv_row *row;
    char prefix[600];
} row_at;

static const char *pfx(row_at *at)
{
    if (!at->prefix[0])
        snprintf(at->prefix, sizeof at->prefix, "%s:%zu: ", at->im->file, at->row->line);
    return at->prefix;
}

/* The row's cells into b (and its scope column into *scope). 0, 1 = bad row
 * (reported), else a CLI_ENV exit code. */
static int row_body(cli *c, import *im, row_at *at, qs_body *b, const char **scope)
{
    qs_store *st = im->to.pipe ? im->to.look : im->to.st;
    const csv_row *row = at->row;
    qs_err err = {0};
    bool bad = false;
    int rc;
    for (size_t i = 0; i < row->n; i++) {
        if (i >= im->header.n) {
            if (row->cells[i][0]) {
                row_problem(&im->rep, "%smore cells than the first row has columns", pfx(at));
                bad = true;
            }
            continue;
        }
        if (im->cols[i].what == COL_SCOPE) {
            char *s = row->cells[i];
            trim(s);
            if (*s)
                *scope = s;
        } else if (im->cols[i].what == COL_FIELD) {
            if ((rc = fields_set(st, im->cols[i].f, row->cells[i], b, &err))) {
                if (cli_exit_for(rc) == CLI_ENV)
                    return cli_fail_err(c, &err);
                row_problem(&im->rep, "%s%s", pfx(at), err.msg);
                bad = true;
            }
        }
    }
    return bad ? 1 : 0;
}

/* Derived fields, validation, the duplicate warning. 0, 1 = bad row
 * (reported), else a CLI_ENV exit code. */
static int row_check(cli *c, import *im, row_at *at, qs_body *b)
{
    qs_store *st = im->to.pipe ? im->to.look : im->to.st;
    const qs_kind *k = im->k;
    qs_err err = {0};
    qs_verrs ve;
    if (fields_finish(st, k, b, &err)) {
        row_problem(&im->rep, "%s%s", pfx(at), err.msg);
        return 1;
    }
    if (qs_schema_validate(k, b, false, &ve, NULL) != 0) {
        for (uint32_t i = 0; i < ve.n; i++) {
            const qs_field *f = qs_kind_field(k, ve.e[i].field);
            if (f)
                row_problem(&im->rep, "%s%s (%s): %s", pfx(at), f->name, f->label, ve.e[i].reason);
            else
                row_problem(&im->rep, "%s%s", pfx(at), ve.e[i].reason);
        }
        return 1;
    }
    if (fields_warn_duplicate(st, k, b, pfx(at), &err))
        return cli_fail_err(c, &err);
    return 0;
}

/* Into the pipe's writer, or straight into the store. 0, 1 = refused row
 * (reported), else a CLI_ENV exit code. */
static int row_store(cli *c, import *im, row_at *at, qs_body *b, const char *scope)
{
    qs_err err = {0};
    int rc = im->to.pipe ? qs_pipe_create(im->to.pipe, im->k->id, scope, b, true, &err)
                         : qs_store_create(im->to.st, im->k->id, scope, b, NULL, NULL, &err);
    if (rc == 0)
        return 0;
    if (cli_exit_for(rc) == CLI_ENV)
        return cli_fail_err(c, &err);
    row_problem(&im->rep, "%s%s", pfx(at), err.msg);
    return 1;
}

/* One row: 0 = stored, 1 = bad row (reported), else a CLI_ENV exit code
 * after a store failure. */
static int import_row(cli *c, import *im, const csv_row *row)
{
    row_at at = {.im = im, .row = row, .prefix = ""};
    const char *scope = im->scope;
    qs_body b;
    qs_body_init(&b);
    int rc = row_body(c, im, &at, &b, &scope);
    if (rc == 0)
        rc = row_check(c, im, &at, &b);
    if (rc == 0)
        rc = row_store(c, im, &at, &b, scope);
    qs_body_free(&b);
    return rc;
}

static void import_free(void *ctx)
{
    import *im = ctx;
    csv_row_free(&im->header);
    csv_reader_free(&im->rd);
    csv_text_free(&im->text);
    free(im->cols);
    json_decref(im->rep.errors);
    qs_xunmap(im->raw, im->raw_cap);
    free(im);
}

/* Step 1, before the store is opened: the sheet read and hashed, and the
 * page cache the transaction will fill faulted in at once. */
static int import_check(cli *c, cli_args *a)
{
    import *im = qs_xcalloc(1, sizeof *im);
    a->ctx = im;
    a->ctx_free = import_free;
    im->k = a->kind;
    im->file = a->argv[1];
    im->scope = cli_opt(a, "scope");
    im->partial = cli_flag(a, "partial");
    im->again = cli_flag(a, "again");
    csv_reader_init(&im->rd, "", 0, "");
    int rc = read_file(c, im->file, &im->raw, &im->nraw, &im->raw_cap);
    if (rc)
        return rc;
    qs_sha256(im->raw, im->nraw, im->sha);
    /* The transaction's page cache fills to about four times the sheet's
     * bytes, up to IMPORT_CACHE_MIB: faulted in at once, not page by page. */
    size_t cache = (size_t)IMPORT_CACHE_MIB << 20;
    qs_store_prefault_page_cache(im->nraw < cache / 4 ? 4 * im->nraw + (256u << 10) : cache);
    return 0;
}

/* Step 2: the same bytes imported before are refused, unless --again. */
static int refuse_again(cli *c, import *im)
{
    int64_t at_ms;
    uint64_t prev_rows;
    qs_err err = {0};
    int rc = qs_store_import_lookup(im->to.st, im->sha, &at_ms, &prev_rows, &err);
    if (rc == 0 && !im->again) {
        char when[32];
        time_t t = (time_t)(at_ms / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        return cli_fail(c, CLI_DATA,
                        "%s was already imported on %s (%" PRIu64 " rows): importing it again "
                        "would add its rows twice — if that is really wanted, add --again",
                        im->file, when, prev_rows);
    }
    if (rc && rc != QS_ENOTFOUND)
        return cli_fail_err(c, &err);
    return 0;
}

/* Step 3: the text decoded and its first row mapped to fields. Row by row
 * from here: the sheet is never held split into cells. */
static int open_sheet(cli *c, import *im)
{
    qs_err err = {0};
    int rc;
    if ((rc = csv_decode(im->raw, im->nraw, im->file, &im->text, &err)))
        return cli_fail(c, cli_exit_for(rc), "%s", err.msg);
    csv_reader_free(&im->rd);
    csv_reader_init(&im->rd, im->text.s, im->text.len, im->file);
    if ((rc = csv_next(&im->rd, &im->header, &err)) < 0)
        return cli_fail(c, cli_exit_for(rc), "%s", err.msg);
    if (rc == 0)
        return cli_fail(c, CLI_DATA, "%s is empty: the first row must name the columns", im->file);
    im->cols = qs_xcalloc(im->header.n, sizeof *im->cols);
    return map_header(c, im->k, im->file, &im->header, im->cols);
}

/* Step 4: one transaction, all or nothing (a sheet of 500,000 rows adds about
 * 200 MB to the store), or with --partial the good rows. All or nothing, and
 * no row looks at rows of the same sheet (the duplicate warning of a kind
 * with a duplicate key, the work day's, would): in two threads — this one reads, checks and seals
 * the rows, a writer stores them — with the rows' lookups through the second handle, opened before
 * this transaction began. */
static int begin(cli *c, import *im)
{
    qs_err err = {0};
    qs_store *st = im->to.st;
    if (im->partial ? qs_store_begin_bulk(st, IMPORT_CACHE_MIB, &err)
                    : qs_store_begin_all_or_nothing(st, IMPORT_CACHE_MIB, &err))
        return cli_fail_err(c, &err);
    im->in_tx = true;
    if (!im->partial && !im->k->dup[0] && im->to.look && qs_pipe_start(st, &im->to.pipe, &err))
        return cli_fail_err(c, &err);
    return 0;
}

/* Step 5: every row below the header. A malformed row further down ends the
 * import there, and the transaction takes nothing. */
static int import_rows(cli *c, import *im)
{
    qs_err err = {0};
    csv_row row = {.cells = NULL, .n = 0, .line = 0};
    double start = now_s(), last = 0;
    bool tty = isatty(STDERR_FILENO), shown = false;
    int more, rc = 0;
    while ((more = csv_next(&im->rd, &row, &err)) == 1) {
        if (blank_row(&row)) {
            csv_row_free(&row);
            continue;
        }
        im->rows++;
        int r = import_row(c, im, &row);
        size_t line = row.line;
        csv_row_free(&row);
        if (r > 1) {
            rc = r;
            break;
        }
        if (r == 1)
            im->bad++;
        else
            im->good++;
        double t = now_s();
        if (tty && t - start > 2.0 && t - last > 0.2) {
            fprintf(stderr, "\rimporting %s: line %zu (%.0f%%)", im->file, line,
                    100.0 * (double)im->rd.pos / (double)(im->text.len ? im->text.len : 1));
            last = t;
            shown = true;
        }
    }
    if (shown)
        fprintf(stderr, "\r\033[K");
    if (rc)
        return rc;
    if (more < 0)
        return cli_fail(c, cli_exit_for(more), "%s — nothing was imported", err.msg);
    if (im->rows == 0)
        return cli_fail(c, CLI_DATA, "%s has no rows below its header", im->file);
    return 0;
}

/* Step 6: the writer's last rows stored; then all or nothing (with --partial
 * the good rows, if there are any), the sheet noted against a second import,
 * and the commit. */
static int finish(cli *c, import *im)
{
    qs_err err = {0};
    int rc = qs_pipe_end(im->to.pipe, &err);
    im->to.pipe = NULL;
    if (rc)
        return cli_fail_err(c, &err);
    if (im->bad && (!im->partial || im->good == 0))
        return cli_fail(c, CLI_DATA,
                        "%s: %zu of %zu rows have problems (listed above); nothing was imported "
                        "— fix them and import the sheet again%s",
                        im->file, im->bad, im->rows,
                        im->partial ? "" : ", or add --partial to import the good rows only");
    if (qs_store_import_note(im->to.st, im->sha, im->k->id, im->file, im->good, &err) ||
        qs_store_commit(im->to.st, &err))
        return cli_fail_err(c, &err);
    im->in_tx = false;
    return 0;
}

/* Step 7. */
static int summarise(cli *c, import *im)
{
    const qs_kind *k = im->k;
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "file", json_string(im->file));
        json_object_set_new(j, "kind", json_string(k->name));
        json_object_set_new(j, "encoding", json_string(im->text.encoding));
        json_object_set_new(j, "imported", json_integer((json_int_t)im->good));
        json_object_set_new(j, "skipped", json_integer((json_int_t)im->bad));
        json_object_set_new(j, "errors", im->rep.errors);
        im->rep.errors = NULL;
        out_json(j);
    } else {
        printf("imported %zu %s record%s from %s (%s)\n", im->good, k->name,
               im->good == 1 ? "" : "s", im->file, im->text.encoding);
        if (im->bad)
            printf("skipped %zu row%s with problems (listed above): fix them in a new sheet with "
                   "only those rows\n",
                   im->bad, im->bad == 1 ? "" : "s");
    }
    return im->bad ? CLI_ATTN : CLI_OK;
}

static int import_exec(cli *c, cli_args *a)
{
    import *im = a->ctx;
    int rc;
    im->to.st = a->st;
    if (!im->partial && !im->k->dup[0])
        im->to.look = open_look(c);
    if (c->json)
        im->rep.errors = json_array();
    if ((rc = refuse_again(c, im)) == 0 && (rc = open_sheet(c, im)) == 0 &&
        (rc = begin(c, im)) == 0 && (rc = import_rows(c, im)) == 0 && (rc = finish(c, im)) == 0)
        rc = summarise(c, im);
    qs_pipe_end(im->to.pipe, NULL); /* a failure: the writer stops before the rollback */
    if (im->in_tx)
        qs_store_rollback(im->to.st);
    qs_store_close(im->to.look);
    return rc;
}

const cli_cmd cli_cmd_import = {
    .name = "import",
    .options = "partial again scope=",
    .usage = "KIND FILE.csv [--partial] [--again] [--scope CODE]",
    .summary = "one record per row of a CSV sheet (UTF-8 or GB18030)",
    .help = HELP,
    .args_hint = "give the kind and one CSV file, e.g. `qianshou import service 服务记录.csv`",
    .min_args = 2,
    .max_args = 2,
    .first = CLI_FIRST_KIND,
    .store = CLI_STORE_WRITE,
    .check = import_check,
    .exec = import_exec,
};
