/*
 * cmd_records.c — add, edit, delete, show, list.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli.h"
#include "client/fields.h"
#include "client/out.h"
#include "client/records.h"
#include "proto/date.h"
#include "proto/hlc.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"

static const char ADD_HELP[] =
    "usage: qianshou add KIND FIELD=VALUE... [--scope CODE]\n"
    "\n"
    "Add a record and print its id. FIELD is a field name or its Chinese label\n"
    "(see `qianshou schema KIND`). Values: enums as code, name or Chinese label;\n"
    "dates YYYY-MM-DD; money in yuan with up to two decimals; references as an id,\n"
    "or station=TOWNSHIP-CODE, person=NAME, agency=NAME, pairing=COUNTY-CODE.\n"
    "A beneficiary's id_number also gives its pseudonym; a service's pseudonyms=\n"
    "takes ID numbers and stores only their pseudonyms.\n"
    "  --scope CODE   the area that owns the record (default: this node; the\n"
    "                 province must name the county or township)\n";

static const char EDIT_HELP[] =
    "usage: qianshou edit ID FIELD=VALUE...\n"
    "\n"
    "Change fields of record ID; FIELD= with no value removes an optional field.\n";

static const char DELETE_HELP[] = "usage: qianshou delete ID\n\nDelete record ID (the deletion "
                                  "syncs like an edit; `show ID --history` keeps every version).\n";

static const char SHOW_HELP[] = "usage: qianshou show ID [--history]\n\nShow record ID; with "
                                "--history every version this node holds, oldest first.\n";

static const char LIST_HELP[] =
    "usage: qianshou list KIND [FIELD=VALUE...] [--limit N] [--deleted]\n"
    "       qianshou list --rejected\n"
    "\n"
    "List records of KIND, oldest first, that match every FIELD=VALUE. A date\n"
    "field takes a day, a month (date=2024-03) or a year (date=2024). References\n"
    "show as the station's township code, the person's or agency's name, the\n"
    "pairing's county code (the record id where that is ambiguous). For list\n"
    "fields (categories, workers, pseudonyms) a record matches when it contains the\n"
    "values. --deleted shows deleted records too (filters do not apply then).\n"
    "--rejected lists records a peer refused (ours upstream, or a child's here),\n"
    "with the reason; exit code 4 when there are any.\n";

int records_report_verrs(cli *c, const qs_kind *k, const qs_verrs *ve, const char *prefix)
{
    json_t *arr = c->json ? json_array() : NULL;
    for (uint32_t i = 0; i < ve->n; i++) {
        const qs_verr *v = &ve->e[i];
        const qs_field *f = v->name[0] && k ? qs_kind_field(k, v->field) : NULL;
        char line[512];
        if (f)
            snprintf(line, sizeof line, "%s%s (%s): %s", prefix, f->name, f->label, v->reason);
        else if (v->name[0])
            snprintf(line, sizeof line, "%s%s: %s", prefix, v->name, v->reason);
        else
            snprintf(line, sizeof line, "%s%s", prefix, v->reason);
        fprintf(stderr, "qianshou: %s\n", line);
        if (arr)
            json_array_append_new(arr, json_string(line));
    }
    if (ve->dropped)
        fprintf(stderr, "qianshou: %s… and %" PRIu32 " more problems\n", prefix, ve->dropped);
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "error", json_string("the record is not valid"));
        json_object_set_new(o, "errors", arr);
        json_object_set_new(o, "exit", json_integer(CLI_DATA));
        out_json(o);
    }
    return CLI_DATA;
}

int records_apply_args(cli *c, qs_store *st, const qs_kind *k, int argc, char **argv, qs_body *b)
{
    int bad = 0;
    json_t *arr = c->json ? json_array() : NULL;
    for (int i = 0; i < argc; i++) {
        const qs_field *f;
        const char *val;
        qs_err err = {0};
        int rc = fields_assignment(k, argv[i], &f, &val, &err);
        if (rc == 0)
            rc = fields_set(st, f, val, b, &err);
        if (rc) {
            if (cli_exit_for(rc) == CLI_ENV) {
                json_decref(arr);
                return cli_fail_err(c, &err);
            }
            fprintf(stderr, "qianshou: %s\n", err.msg);
            if (arr)
                json_array_append_new(arr, json_string(err.msg));
            bad++;
        }
    }
    if (bad && arr) {
        json_t *o = json_object();
        json_object_set_new(o, "error", json_string("some values are not valid"));
        json_object_set_new(o, "errors", arr);
        json_object_set_new(o, "exit", json_integer(CLI_DATA));
        out_json(o);
    } else {
        json_decref(arr);
    }
    return bad ? CLI_DATA : CLI_OK;
}

int records_parse_id(cli *c, const char *cmd, const char *text, uint8_t id[QS_ID_LEN])
{
    if (qs_uuid_parse(text, id) != 0)
        return cli_usage(c, cmd,
                         "\"%s\" is not a record id — ids look like "
                         "01890a5d-ac96-774b-bcce-b302099a8057 (`qianshou list KIND` shows them)",
                         text);
    return 0;
}

static int add_check(cli *c, cli_args *a)
{
    if (a->argc < 2)
        return cli_fail(c, CLI_USAGE,
                        "give the fields of the new %s as FIELD=VALUE (its "
                        "fields: `qianshou schema %s`)",
                        a->kind->name, a->kind->name);
    return 0;
}

static int add_exec(cli *c, cli_args *a)
{
    qs_body b;
    qs_body_init(&b);
    int rc = records_apply_args(c, a->st, a->kind, a->argc - 1, a->argv + 1, &b);
    if (rc == 0)
        rc = records_store(c, a->st, a->kind, cli_opt(a, "scope"), &b, "", NULL);
    qs_body_free(&b);
    return rc;
}

const cli_cmd cli_cmd_add = {
    .name = "add",
    .options = "scope=",
    .usage = "KIND FIELD=VALUE... [--scope CODE]",
    .summary = "add a record; prints its id",
    .help = ADD_HELP,
    .args_hint = "say which kind of record to add, e.g. `qianshou add station "
                 "township=632322100 name=…`",
    .min_args = 1,
    .max_args = CLI_ARGS_ANY,
    .first = CLI_FIRST_KIND,
    .store = CLI_STORE_WRITE,
    .check = add_check,
    .exec = add_exec,
};

int records_store(cli *c, qs_store *st, const qs_kind *k, const char *scope, qs_body *b,
                  const char *prefix, uint8_t out_id[QS_ID_LEN])
{
    qs_err err = {0};
    qs_verrs ve;
    int rc = fields_finish(st, k, b, &err);
    if (rc)
        return cli_fail_err(c, &err);
    if (qs_schema_validate(k, b, false, &ve, NULL) != 0)
        return records_report_verrs(c, k, &ve, prefix);
    if ((rc = fields_warn_duplicate(st, k, b, prefix, &err)))
        return cli_fail_err(c, &err);
    uint8_t id[QS_ID_LEN];
    qs_rev rev;
    if ((rc = qs_store_create(st, k->id, scope, b, id, &rev, &err)))
        return cli_fail_err(c, &err);
    if (out_id) {
        memcpy(out_id, id, QS_ID_LEN);
        return CLI_OK;
    }
    char ids[QS_UUID_STR], revs[QS_REV_STR];
    qs_uuid_format(id, ids);
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "id", json_string(ids));
        json_object_set_new(j, "kind", json_string(k->name));
        json_object_set_new(j, "rev", json_string(qs_rev_format(&rev, revs)));
        out_json(j);
    } else {
        printf("%s\n", ids);
    }
    return CLI_OK;
}

static int edit_exec(cli *c, cli_args *a)
{
    qs_store *st = a->st;
    const uint8_t *id = a->id;
    const char *ids = a->argv[0];
    qs_record r;
    qs_body b;
    qs_err err = {0};
    qs_verrs ve;
    int rc;
    qs_record_init(&r);
    qs_body_init(&b);
    if ((rc = qs_store_get(st, id, &r, &err))) {
        rc = rc == QS_ENOTFOUND ? cli_fail(c, CLI_DATA, "there is no record %s in this store", ids)
                                : cli_fail_err(c, &err);
        goto done;
    }
    const qs_kind *k = qs_schema_kind(r.kind);
    if (!k) {
        rc =
            cli_fail(c, CLI_ENV, "record %s is of a kind this program does not know: upgrade", ids);
        goto done;
    }
    if (r.deleted) {
        rc = cli_fail(c, CLI_DATA, "the %s %s was deleted; it cannot be edited", k->name, ids);
        goto done;
    }
    if (out_body(&r, &b) != 0) {
        rc = cli_fail(c, CLI_ENV, "the stored body of %s is damaged", ids);
        goto done;
    }
    if ((rc = records_apply_args(c, st, k, a->argc - 1, a->argv + 1, &b)))
        goto done;
    if ((rc = fields_finish(st, k, &b, &err))) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    if (qs_schema_validate(k, &b, false, &ve, NULL) != 0) {
        rc = records_report_verrs(c, k, &ve, "");
        goto done;
    }
    qs_rev rev;
    if ((rc = qs_store_update(st, id, &b, &rev, &err))) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    char revs[QS_REV_STR];
    qs_rev_format(&rev, revs);
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "id", json_string(ids));
        json_object_set_new(j, "rev", json_string(revs));
        out_json(j);
    } else {
        printf("updated %s %s (revision %s)\n", k->name, ids, revs);
    }
    rc = CLI_OK;
done:
    qs_body_free(&b);
    qs_record_free(&r);
    return rc;
}

const cli_cmd cli_cmd_edit = {
    .name = "edit",
    .usage = "ID FIELD=VALUE...",
    .summary = "change fields (FIELD= with nothing removes one)",
    .help = EDIT_HELP,
    .args_hint = "give the record's id and at least one FIELD=VALUE",
    .min_args = 2,
    .max_args = CLI_ARGS_ANY,
    .first = CLI_FIRST_ID,
    .store = CLI_STORE_WRITE,
    .exec = edit_exec,
};

static int delete_exec(cli *c, cli_args *a)
{
    const char *ids = a->argv[0];
    qs_err err = {0};
    qs_rev rev;
    int rc = qs_store_delete(a->st, a->id, &rev, &err);
    if (rc == QS_ENOTFOUND)
        rc = cli_fail(c, CLI_DATA, "there is no record %s in this store (or it is already deleted)",
                      ids);
    else if (rc)
        rc = cli_fail_err(c, &err);
    else if (c->json) {
        char revs[QS_REV_STR];
        json_t *j = json_object();
        json_object_set_new(j, "id", json_string(ids));
        json_object_set_new(j, "rev", json_string(qs_rev_format(&rev, revs)));
        json_object_set_new(j, "deleted", json_true());
        out_json(j);
    } else {
        printf("deleted %s\n", ids);
    }
    return rc;
}

const cli_cmd cli_cmd_delete = {
    .name = "delete",
    .usage = "ID",
    .summary = "delete a record",
    .help = DELETE_HELP,
    .args_hint = "give exactly one record id",
    .min_args = 1,
    .max_args = 1,
    .first = CLI_FIRST_ID,
    .store = CLI_STORE_WRITE,
    .exec = delete_exec,
};

/* ---- show ------------------------------------------------------------------- */

static void fmt_time(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, n, "-");
}

void records_print_fields(qs_store *st, const qs_record *r, const char *indent)
{
    const qs_kind *k = qs_schema_kind(r->kind);
    qs_body b;
    if (out_body(r, &b) != 0) {
        printf("%s(the stored body is damaged)\n", indent);
        return;
    }
    size_t w = 0;
    for (size_t i = 0; i < b.n; i++) {
        const qs_field *f = k ? qs_kind_field(k, b.f[i].id) : NULL;
        char t[128];
        if (f && out_width(fields_title(f, t, sizeof t)) > w)
            w = out_width(t);
    }
    for (size_t i = 0; i < b.n; i++) {
        const qs_field *f = k ? qs_kind_field(k, b.f[i].id) : NULL;
        char t[128];
        if (!f) {
            printf("%sfield %" PRIu32 " (not known to this program, kept)\n", indent, b.f[i].id);
            continue;
        }
        char *v = fields_display(st, f, &b.f[i].v, true);
        printf("%s", indent);
        out_pad(stdout, fields_title(f, t, sizeof t), w);
        printf("  %s\n", v);
        free(v);
    }
    qs_body_free(&b);
}

static const char *head_word(int head)
{
    return head == 1 ? "current" : head == 2 ? "conflict loser" : "superseded";
}

static int show_exec(cli *c, cli_args *a)
{
    qs_store *st = a->st;
    const uint8_t *id = a->id;
    qs_record r;
    qs_version_info *v = NULL;
    size_t nv = 0;
    qs_err err = {0};
    bool history = cli_flag(a, "history");
    const char *ids = a->argv[0];
    int rc;
    qs_record_init(&r);
    if ((rc = qs_store_get(st, id, &r, &err))) {
        rc = rc == QS_ENOTFOUND ? cli_fail(c, CLI_DATA, "there is no record %s in this store", ids)
                                : cli_fail_err(c, &err);
        goto done;
    }
    if (history && (rc = qs_store_history(st, id, &v, &nv, &err))) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    const qs_kind *k = qs_schema_kind(r.kind);
    bool conflict = false;
    for (size_t i = 0; i < nv; i++)
        conflict |= v[i].head == 2;
    if (c->json) {
        json_t *o = out_record_json(&r);
        if (history) {
            json_t *h = json_array();
            for (size_t i = 0; i < nv; i++) {
                json_t *x = out_record_json(&v[i].rec);
                json_object_set_new(x, "seq", json_integer((json_int_t)v[i].seq));
                json_object_set_new(x, "state", json_string(head_word(v[i].head)));
                json_object_set_new(x, "from", json_string(v[i].from));
                json_array_append_new(h, x);
            }
            json_object_set_new(o, "history", h);
        }
        out_json(o);
    } else {
        char revs[QS_REV_STR], hlc[64];
        printf("%s %s %s%s\n", k ? k->name : "record", ids, k ? k->label : "",
               r.deleted ? " — deleted" : "");
        printf("  scope %s, revision %s, by %s at %s\n", r.scope, qs_rev_format(&r.rev, revs),
               r.author, qs_hlc_format(r.hlc, hlc, sizeof hlc));
        if (!r.deleted)
            records_print_fields(st, &r, "  ");
        for (size_t i = 0; history && i < nv; i++) {
            char when[32];
            fmt_time(qs_hlc_ms(v[i].rec.hlc), when, sizeof when);
            printf("\nversion %zu: %s, %s%s, by %s at %s%s%s\n", i + 1,
                   qs_rev_format(&v[i].rec.rev, revs), head_word(v[i].head),
                   v[i].rec.deleted ? " (deletion)" : "", v[i].rec.author, when,
                   v[i].from[0] ? ", received from " : "", v[i].from);
            if (!v[i].rec.deleted)
                records_print_fields(st, &v[i].rec, "  ");
        }
        if (conflict)
            printf("\nthis record has an open conflict: see `qianshou conflicts show %s`\n", ids);
    }
    rc = CLI_OK;
done:
    qs_version_info_free(v, nv);
    qs_record_free(&r);
    return rc;
}

const cli_cmd cli_cmd_show = {
    .name = "show",
    .options = "history",
    .usage = "ID [--history]",
    .summary = "one record, or every version of it",
    .help = SHOW_HELP,
    .args_hint = "give the record's id",
    .min_args = 1,
    .max_args = 1,
    .first = CLI_FIRST_ID,
    .store = CLI_STORE_READ,
    .exec = show_exec,
};

/* ---- list ------------------------------------------------------------------- */

/* "2024-03" (a month) or "2024" (a year) as the first and last dates
 * (YYYYMMDD); false for anything else (a whole date is an equality filter). */
static bool date_span(const char *s, int32_t *from, int32_t *to)
{
    int y, m = 0;
    char extra;
    size_t n = strlen(s);
    if (n == 4 && sscanf(s, "%4d%c", &y, &extra) == 1 && strspn(s, "0123456789") == 4) {
        *from = y * 10000 + 101;
        *to = y * 10000 + 1231;
        return true;
    }
    if ((n == 7 || n == 6) && sscanf(s, "%4d-%2d%c", &y, &m, &extra) == 2 && s[4] == '-' &&
        strspn(s, "0123456789") == 4 && strspn(s + 5, "0123456789") == n - 5 && m >= 1 && m <= 12) {
        int32_t first = y * 10000 + m * 100 + 1;
        int32_t next = m == 12 ? (y + 1) * 10000 + 101 : y * 10000 + (m + 1) * 100 + 1;
        *from = first;
        *to = qs_date_from_days(qs_date_to_days(next) - 1);
        return true;
    }
    return false;
}

typedef struct list_ctx {
    qs_store *st;
    const qs_kind *k;
    json_t *arr;   /* --json */
    out_table tab; /* text */
} list_ctx;

static int list_cb(void *p, const qs_record *r)
{
    list_ctx *lc = p;
    if (lc->arr) {
        json_array_append_new(lc->arr, out_record_json(r));
        return 0;
    }
    char **row = qs_xcalloc(lc->k->nfields + 1, sizeof *row);
    char idb[QS_UUID_STR];
    row[0] = qs_xstrdup(qs_uuid_format(r->id, idb));
    qs_body b;
    bool ok = out_body(r, &b) == 0;
    for (uint32_t i = 0; i < lc->k->nfields; i++) {
        const qs_field *f = &lc->k->fields[i];
        const qs_value *v = ok ? qs_body_get(&b, f->id) : NULL;
        if (r->deleted) {
            row[i + 1] = qs_xstrdup(i == 0 ? "(deleted)" : "");
        } else if (v && f->type == QS_F_DIGESTS && v->t == QS_V_ARRAY) {
            row[i + 1] = qs_xasprintf("%" PRIu32, v->u.a.n);
        } else {
            char *s = fields_display(lc->st, f, v, true);
            row[i + 1] = out_clip(s, f->type == QS_F_REF || f->type == QS_F_REFLIST ? 36 : 24);
            free(s);
        }
    }
    if (ok)
        qs_body_free(&b);
    out_table_add(&lc->tab, row);
    free(row);
    return 0;
}

static int list_rejected(cli *c, qs_store *st)
{
    qs_rejection *rj = NULL;
    size_t n = 0;
    qs_err err = {0};
    int rc = qs_store_rejections(st, &rj, &n, &err);
    if (rc)
        return cli_fail_err(c, &err);
    json_t *arr = c->json ? json_array() : NULL;
    out_table t;
    out_table_init(&t, 6);
    char **hdr = qs_xcalloc(6, sizeof *hdr);
    const char *h[] = {"when", "refused by", "kind", "id", "revision", "reason"};
    for (int i = 0; i < 6; i++)
        hdr[i] = qs_xstrdup(h[i]);
    out_table_add(&t, hdr);
    free(hdr);
    for (size_t i = 0; i < n; i++) {
        char when[32], idb[QS_UUID_STR], revs[QS_REV_STR];
        const qs_kind *k = qs_schema_kind(rj[i].kind);
        fmt_time(rj[i].at_ms, when, sizeof when);
        qs_uuid_format(rj[i].id, idb);
        qs_rev_format(&rj[i].rev, revs);
        if (arr) {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_string(idb));
            json_object_set_new(o, "kind", k ? json_string(k->name) : json_integer(rj[i].kind));
            json_object_set_new(o, "scope", json_string(rj[i].scope));
            json_object_set_new(o, "rev", json_string(revs));
            json_object_set_new(o, "peer", json_string(rj[i].peer));
            json_object_set_new(o, "outgoing", json_boolean(rj[i].outgoing));
            json_object_set_new(o, "reason", json_string(rj[i].reason));
            json_object_set_new(o, "at_ms", json_integer(rj[i].at_ms));
            json_array_append_new(arr, o);
            continue;
        }
        char *row[6] = {
            qs_xstrdup(when),
            rj[i].outgoing ? qs_xasprintf("%s (ours)", rj[i].peer)
                           : qs_xasprintf("us (from %s)", rj[i].peer),
            qs_xstrdup(k ? k->name : "?"),
            qs_xstrdup(idb),
            qs_xstrdup(revs),
            qs_xstrdup(rj[i].reason),
        };
        out_table_add(&t, row);
    }
    if (arr)
        out_json(arr);
    else if (n == 0)
        printf("no refused records\n");
    else
        out_table_print(&t, stdout, false);
    out_table_free(&t);
    free(rj);
    return n ? CLI_ATTN : CLI_OK;
}

int records_filters(cli *c, qs_store *st, const qs_kind *k, int argc, char **argv, qs_filter **out,
                    size_t *nout)
{
    qs_filter *flt = NULL;
    size_t nflt = 0;
    int rc = CLI_OK;
    for (int i = 0; i < argc; i++) {
        const qs_field *f;
        const char *val;
        qs_err err = {0};
        qs_value v;
        int32_t from, to;
        if ((rc = fields_assignment(k, argv[i], &f, &val, &err)) == 0 && f->type == QS_F_DATE &&
            date_span(val, &from, &to)) {
            /* date=2024-03 (a month) or date=2024 (a year) */
            flt = qs_xreallocarray(flt, nflt + 1, sizeof *flt);
            flt[nflt++] =
                (qs_filter){.field = f->id, .value = qs_v_int(from), .upto = qs_v_int(to)};
            continue;
        }
        if (rc || (rc = fields_parse(st, f, val, &v, &err))) {
            rc = cli_exit_for(rc) == CLI_ENV ? cli_fail_err(c, &err)
                                             : cli_fail(c, CLI_DATA, "%s", err.msg);
            records_filters_free(flt, nflt);
            return rc;
        }
        if ((f->type == QS_F_REFLIST || f->type == QS_F_DIGESTS) && v.t == QS_V_ARRAY) {
            /* one filter per element: the record must contain each */
            for (uint32_t j = 0; j < v.u.a.n; j++) {
                flt = qs_xreallocarray(flt, nflt + 1, sizeof *flt);
                flt[nflt++] = (qs_filter){.field = f->id, .value = qs_value_dup(&v.u.a.v[j])};
            }
            qs_value_free(&v);
        } else {
            flt = qs_xreallocarray(flt, nflt + 1, sizeof *flt);
            flt[nflt++] = (qs_filter){.field = f->id, .value = v};
        }
    }
    *out = flt;
    *nout = nflt;
    return CLI_OK;
}

void records_filters_free(qs_filter *flt, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        qs_value_free(&flt[i].value);
        qs_value_free(&flt[i].upto);
    }
    free(flt);
}

/* --limit N: a whole number, or false. */
static bool parse_limit(const char *text, uint64_t *n)
{
    char *end;
    *n = strtoull(text, &end, 10);
    return !*end && *text && text[0] != '-';
}

static int list_check(cli *c, cli_args *a)
{
    const char *limit = cli_opt(a, "limit");
    uint64_t n;
    if (limit && !parse_limit(limit, &n))
        return cli_usage(c, "list", "--limit needs a whole number, not \"%s\"", limit);
    if (cli_flag(a, "rejected") && a->argc > 0)
        return cli_usage(c, "list", "--rejected takes no kind or filters");
    if (!cli_flag(a, "rejected") && a->argc == 0)
        return cli_usage(c, "list",
                         "say which kind of record to list, e.g. `qianshou list "
                         "station`");
    return 0;
}

static int list_exec(cli *c, cli_args *a)
{
    qs_store *st = a->st;
    const qs_kind *k = a->kind;
    qs_filter *flt = NULL;
    size_t nflt = 0;
    uint64_t limit = 0;
    list_ctx lc = {0};
    int rc;
    if (cli_flag(a, "rejected"))
        return list_rejected(c, st);
    if (cli_opt(a, "limit"))
        parse_limit(cli_opt(a, "limit"), &limit);
    if ((rc = records_filters(c, st, k, a->argc - 1, a->argv + 1, &flt, &nflt)))
        goto done;
    lc.k = k;
    lc.st = st;
    if (c->json) {
        lc.arr = json_array();
    } else {
        out_table_init(&lc.tab, k->nfields + 1);
        char **hdr = qs_xcalloc(k->nfields + 1, sizeof *hdr);
        hdr[0] = qs_xstrdup("id");
        for (uint32_t i = 0; i < k->nfields; i++)
            hdr[i + 1] = qs_xstrdup(k->fields[i].name);
        out_table_add(&lc.tab, hdr);
        free(hdr);
    }
    qs_query q = {.kind = k->id,
                  .filters = flt,
                  .nfilters = nflt,
                  .limit = limit,
                  .include_deleted = cli_flag(a, "deleted")};
    qs_err err = {0};
    if ((rc = qs_store_list(st, &q, list_cb, &lc, &err))) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    if (lc.arr) {
        out_json(lc.arr);
        lc.arr = NULL;
    } else if (lc.tab.nrows <= 1) {
        printf("no %s records%s\n", k->name, nflt ? " match" : "");
    } else {
        out_table_print(&lc.tab, stdout, true);
        printf("(%zu %s record%s)\n", lc.tab.nrows - 1, k->name, lc.tab.nrows == 2 ? "" : "s");
    }
    rc = CLI_OK;
done:
    json_decref(lc.arr);
    out_table_free(&lc.tab);
    records_filters_free(flt, nflt);
    return rc;
}

const cli_cmd cli_cmd_list = {
    .name = "list",
    .options = "limit= rejected deleted",
    .usage = "KIND [FIELD=VALUE...] [--limit N] [--deleted]\n--rejected",
    .summary = "records of a kind; --rejected: those refused, with reasons",
    .help = LIST_HELP,
    .min_args = 0,
    .max_args = CLI_ARGS_ANY,
    .first = CLI_FIRST_KIND,
    .store = CLI_STORE_READ,
    .check = list_check,
    .exec = list_exec,
};
