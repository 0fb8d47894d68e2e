/*
 * cmd_import.c — import KIND FILE.csv [--partial] [--again] [--scope CODE].
 *
 * The sheet is read whole (at most CSV_MAX_BYTES), hashed (SHA-256 of the
 * bytes, to refuse a sheet imported before), decoded (UTF-8 or GB18030),
 * split, and every row is checked. All rows go into the store in one
 * transaction: with a bad row nothing is imported, unless --partial.
 */
#include <errno.h>
#include <getopt.h>
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

/* Check and store one row. 0 = stored, 1 = bad row (reported), else a CLI_ENV
 * exit code after a store failure. */
static int import_row(cli *c, const sink *to, const qs_kind *k, const char *file,
                      const csv_row *row, const column *cols, size_t ncols, const char *scope,
                      report *rep)
{
    qs_store *st = to->pipe ? to->look : to->st;
    qs_body b;
    qs_err err = {0};
    bool bad = false;
    int rc;
    const char *row_scope = scope;
    /* "FILE:LINE: ", made when the row has something to say (most have not) */
    char prefix[600];
    prefix[0] = '\0';
#define PFX                                                                                        \
    (prefix[0] ? prefix : (snprintf(prefix, sizeof prefix, "%s:%zu: ", file, row->line), prefix))
    qs_body_init(&b);
    for (size_t i = 0; i < row->n; i++) {
        if (i >= ncols) {
            if (row->cells[i][0]) {
                row_problem(rep, "%smore cells than the first row has columns", PFX);
                bad = true;
            }
            continue;
        }
        if (cols[i].what == COL_SCOPE) {
            char *s = row->cells[i];
            trim(s);
            if (*s)
                row_scope = s;
        } else if (cols[i].what == COL_FIELD) {
            if ((rc = fields_set(st, cols[i].f, row->cells[i], &b, &err))) {
                if (cli_exit_for(rc) == CLI_ENV) {
                    qs_body_free(&b);
                    return cli_fail_err(c, &err);
                }
                row_problem(rep, "%s%s", PFX, err.msg);
                bad = true;
            }
        }
    }
    if (!bad && (rc = fields_finish(st, k, &b, &err))) {
        row_problem(rep, "%s%s", PFX, err.msg);
        bad = true;
    }
    if (!bad) {
        qs_verrs ve;
        if (qs_schema_validate(k, &b, false, &ve, NULL) != 0) {
            for (uint32_t i = 0; i < ve.n; i++) {
                const qs_field *f = qs_kind_field(k, ve.e[i].field);
                if (f)
                    row_problem(rep, "%s%s (%s): %s", PFX, f->name, f->label, ve.e[i].reason);
                else
                    row_problem(rep, "%s%s", PFX, ve.e[i].reason);
            }
            bad = true;
        }
    }
    if (!bad && (rc = fields_warn_duplicate(st, k, &b, PFX, &err))) {
        qs_body_free(&b);
        return cli_fail_err(c, &err);
    }
    if (!bad && (rc = to->pipe ? qs_pipe_create(to->pipe, k->id, row_scope, &b, true, &err)
                               : qs_store_create(st, k->id, row_scope, &b, NULL, NULL, &err))) {
        if (cli_exit_for(rc) == CLI_ENV) {
            qs_body_free(&b);
            return cli_fail_err(c, &err);
        }
        row_problem(rep, "%s%s", PFX, err.msg);
        bad = true;
    }
    qs_body_free(&b);
    return bad ? 1 : 0;
#undef PFX
}

int cmd_import(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"partial", no_argument, NULL, 'p'},
                                         {"again", no_argument, NULL, 'a'},
                                         {"scope", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    bool partial = false, again = false, in_tx = false;
    const char *scope = NULL;
    uint8_t *raw = NULL;
    size_t nraw = 0, raw_cap = 0;
    csv_text text = {.owned = NULL};
    csv_reader rd;
    csv_reader_init(&rd, "", 0, "");
    csv_row header = {.cells = NULL, .n = 0, .line = 0}, row = header;
    column *cols = NULL;
    qs_store *st = NULL, *look = NULL;
    qs_pipe *pipe = NULL;
    qs_err err = {0};
    report rep = {.errors = NULL, .lines = 0};
    int o, rc;
    if (cli_wants_help(argc, argv)) {
        fputs(HELP, stdout);
        return CLI_OK;
    }
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            partial = true;
            break;
        case 'a':
            again = true;
            break;
        case 's':
            scope = optarg;
            break;
        case ':':
            return cli_usage(c, "import", "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage(c, "import", "unknown option %s", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return cli_usage(c, "import",
                         "give the kind and one CSV file, e.g. `qianshou import "
                         "service 服务记录.csv`");
    const qs_kind *k = cli_kind(c, argv[optind], &rc);
    if (!k)
        return rc;
    const char *file = argv[optind + 1];
    if ((rc = read_file(c, file, &raw, &nraw, &raw_cap)))
        return rc;
    uint8_t sha[QS_SHA256_LEN];
    qs_sha256(raw, nraw, sha);
    /* The transaction's page cache fills to about four times the sheet's
     * bytes, up to IMPORT_CACHE_MIB: faulted in at once, not page by page. */
    size_t cache = (size_t)IMPORT_CACHE_MIB << 20;
    qs_store_prefault_page_cache(nraw < cache / 4 ? 4 * nraw + (256u << 10) : cache);
    if ((rc = cli_open_write(c, &st)))
        goto done;
    if (!partial && !k->dup[0]) /* no duplicate key: see the pipe below */
        look = open_look(c);
    int64_t at_ms;
    uint64_t prev_rows;
    rc = qs_store_import_lookup(st, sha, &at_ms, &prev_rows, &err);
    if (rc == 0 && !again) {
        char when[32];
        time_t t = (time_t)(at_ms / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        rc = cli_fail(c, CLI_DATA,
                      "%s was already imported on %s (%" PRIu64 " rows): importing it again "
                      "would add its rows twice — if that is really wanted, add --again",
                      file, when, prev_rows);
        goto done;
    }
    if (rc && rc != QS_ENOTFOUND) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    if ((rc = csv_decode(raw, nraw, file, &text, &err))) {
        rc = cli_fail(c, cli_exit_for(rc), "%s", err.msg);
        goto done;
    }
    /* Row by row: the sheet is never held split into cells. A malformed row
     * further down ends the import there, and the transaction takes nothing. */
    csv_reader_init(&rd, text.s, text.len, file);
    if ((rc = csv_next(&rd, &header, &err)) < 0) {
        rc = cli_fail(c, cli_exit_for(rc), "%s", err.msg);
        goto done;
    }
    if (rc == 0) {
        rc = cli_fail(c, CLI_DATA, "%s is empty: the first row must name the columns", file);
        goto done;
    }
    cols = qs_xcalloc(header.n, sizeof *cols);
    if ((rc = map_header(c, k, file, &header, cols)))
        goto done;
    if (c->json)
        rep.errors = json_array();
    /* One transaction: all or nothing (a sheet of 500,000 rows adds about
     * 200 MB to the store), or with --partial the good rows. */
    if ((rc = partial ? qs_store_begin_bulk(st, IMPORT_CACHE_MIB, &err)
                      : qs_store_begin_all_or_nothing(st, IMPORT_CACHE_MIB, &err))) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    in_tx = true;
    /* All or nothing, and no row looks at rows of the same sheet (the
     * duplicate warning of a kind with a duplicate key, the work day's,
     * would): in two threads — this one reads, checks and seals the rows, a
     * writer stores them — with the rows' lookups through the second handle,
     * opened before this transaction began. */
    if (!partial && !k->dup[0] && look && (rc = qs_pipe_start(st, &pipe, &err))) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    sink to = {.st = st, .pipe = pipe, .look = look};
    size_t good = 0, bad = 0, data_rows = 0;
    double start = now_s(), last = 0;
    bool tty = isatty(STDERR_FILENO), shown = false;
    int more;
    while ((more = csv_next(&rd, &row, &err)) == 1) {
        if (blank_row(&row)) {
            csv_row_free(&row);
            continue;
        }
        data_rows++;
        int r = import_row(c, &to, k, file, &row, cols, header.n, scope, &rep);
        size_t line = row.line;
        csv_row_free(&row);
        if (r > 1) {
            rc = r;
            goto done;
        }
        if (r == 1)
            bad++;
        else
            good++;
        double t = now_s();
        if (tty && t - start > 2.0 && t - last > 0.2) {
            fprintf(stderr, "\rimporting %s: line %zu (%.0f%%)", file, line,
                    100.0 * (double)rd.pos / (double)(text.len ? text.len : 1));
            last = t;
            shown = true;
        }
    }
    if (shown)
        fprintf(stderr, "\r\033[K");
    if (more < 0) {
        rc = cli_fail(c, cli_exit_for(more), "%s — nothing was imported", err.msg);
        goto done;
    }
    if (data_rows == 0) {
        rc = cli_fail(c, CLI_DATA, "%s has no rows below its header", file);
        goto done;
    }
    rc = qs_pipe_end(pipe, &err);
    pipe = NULL;
    if (rc) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    if (bad && (!partial || good == 0)) {
        rc = cli_fail(c, CLI_DATA,
                      "%s: %zu of %zu rows have problems (listed above); nothing was imported — "
                      "fix them and import the sheet again%s",
                      file, bad, data_rows,
                      partial ? "" : ", or add --partial to import the good rows only");
        goto done;
    }
    if ((rc = qs_store_import_note(st, sha, k->id, file, good, &err)) ||
        (rc = qs_store_commit(st, &err))) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    in_tx = false;
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "file", json_string(file));
        json_object_set_new(j, "kind", json_string(k->name));
        json_object_set_new(j, "encoding", json_string(text.encoding));
        json_object_set_new(j, "imported", json_integer((json_int_t)good));
        json_object_set_new(j, "skipped", json_integer((json_int_t)bad));
        json_object_set_new(j, "errors", rep.errors);
        rep.errors = NULL;
        out_json(j);
    } else {
        printf("imported %zu %s record%s from %s (%s)\n", good, k->name, good == 1 ? "" : "s", file,
               text.encoding);
        if (bad)
            printf("skipped %zu row%s with problems (listed above): fix them in a new sheet with "
                   "only those rows\n",
                   bad, bad == 1 ? "" : "s");
    }
    rc = bad ? CLI_ATTN : CLI_OK;
done:
    qs_pipe_end(pipe, NULL); /* a failure: the writer stops before the rollback */
    if (in_tx)
        qs_store_rollback(st);
    qs_store_close(look);
    json_decref(rep.errors);
    free(cols);
    csv_row_free(&header);
    csv_reader_free(&rd);
    csv_text_free(&text);
    qs_xunmap(raw, raw_cap);
    qs_store_close(st);
    return rc;
}
