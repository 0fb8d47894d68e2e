/*
 * cmd_conflicts.c — conflicts list / show / resolve.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "client/fields.h"
#include "client/out.h"
#include "client/records.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"

static const char HELP[] =
    "usage: qianshou conflicts [list]\n"
    "       qianshou conflicts show ID\n"
    "       qianshou conflicts resolve ID --take REV\n"
    "       qianshou conflicts resolve ID --set FIELD=VALUE...\n"
    "\n"
    "Records edited in two places before a sync have a conflict: the version with\n"
    "the higher generation (then the higher hash) is shown everywhere, the others\n"
    "are kept until someone resolves it. `show` puts the versions side by side\n"
    "(* marks the fields that differ). `resolve --take REV` keeps one version;\n"
    "`--set` starts from the current winner and changes the given fields. Either\n"
    "writes a new version that settles the conflict on every node after sync.\n"
    "`list` exits with 4 when there are open conflicts.\n";

static int list_exec(cli *c, cli_args *a)
{
    qs_store *st = a->st;
    qs_conflict *cf = NULL;
    size_t n = 0;
    qs_err err = {0};
    int rc = qs_store_conflicts(st, &cf, &n, &err);
    if (rc)
        return cli_fail_err(c, &err);
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            char idb[QS_UUID_STR], revs[QS_REV_STR];
            const qs_kind *k = qs_schema_kind(cf[i].kind);
            json_t *o = json_object();
            json_object_set_new(o, "id", json_string(qs_uuid_format(cf[i].id, idb)));
            json_object_set_new(o, "kind", k ? json_string(k->name) : json_integer(cf[i].kind));
            json_object_set_new(o, "scope", json_string(cf[i].scope));
            json_object_set_new(o, "winner", json_string(qs_rev_format(&cf[i].winner, revs)));
            json_t *l = json_array();
            for (uint32_t j = 0; j < cf[i].nlosers; j++)
                json_array_append_new(l, json_string(qs_rev_format(&cf[i].losers[j], revs)));
            json_object_set_new(o, "losers", l);
            json_array_append_new(arr, o);
        }
        out_json(arr);
    } else if (n == 0) {
        printf("no open conflicts\n");
    } else {
        out_table t;
        out_table_init(&t, 5);
        char *hdr[5] = {qs_xstrdup("id"), qs_xstrdup("kind"), qs_xstrdup("scope"),
                        qs_xstrdup("winner"), qs_xstrdup("other versions")};
        out_table_add(&t, hdr);
        for (size_t i = 0; i < n; i++) {
            char idb[QS_UUID_STR], revs[QS_REV_STR];
            const qs_kind *k = qs_schema_kind(cf[i].kind);
            char *row[5] = {qs_xstrdup(qs_uuid_format(cf[i].id, idb)),
                            qs_xstrdup(k ? k->name : "?"), qs_xstrdup(cf[i].scope),
                            qs_xstrdup(qs_rev_format(&cf[i].winner, revs)),
                            qs_xasprintf("%" PRIu32, cf[i].nlosers)};
            out_table_add(&t, row);
        }
        out_table_print(&t, stdout, false);
        out_table_free(&t);
        printf("\n%zu record%s with an open conflict: look with `qianshou conflicts show ID`\n", n,
               n == 1 ? "" : "s");
    }
    qs_conflicts_free(cf, n);
    return n ? CLI_ATTN : CLI_OK;
}

/* The heads (winner first, then open losers) of record id. */
static int load_heads(cli *c, qs_store *st, const char *ids, const uint8_t id[QS_ID_LEN],
                      qs_version_info **v, size_t *nv, size_t *heads)
{
    qs_err err = {0};
    int rc = qs_store_history(st, id, v, nv, &err);
    if (rc == QS_ENOTFOUND)
        return cli_fail(c, CLI_DATA, "there is no record %s in this store", ids);
    if (rc)
        return cli_fail_err(c, &err);
    /* winner first, then losers, dropping superseded versions */
    size_t k = 0;
    for (int want = 1; want <= 2; want++)
        for (size_t i = k; i < *nv; i++)
            if ((*v)[i].head == want) {
                qs_version_info tmp = (*v)[k];
                (*v)[k] = (*v)[i];
                (*v)[i] = tmp;
                k++;
            }
    *heads = k;
    if (k < 2)
        return cli_fail(c, CLI_DATA, "record %s has no open conflict", ids);
    return 0;
}

static int show_exec(cli *c, cli_args *a)
{
    qs_store *st = a->st;
    const char *ids = a->argv[0];
    qs_version_info *v = NULL;
    size_t nv = 0, nh = 0;
    int rc;
    if ((rc = load_heads(c, st, ids, a->id, &v, &nv, &nh)))
        goto done;
    const qs_kind *k = qs_schema_kind(v[0].rec.kind);
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < nh; i++) {
            json_t *o = out_record_json(&v[i].rec);
            json_object_set_new(o, "state", json_string(i == 0 ? "winner" : "loser"));
            json_object_set_new(o, "from", json_string(v[i].from));
            json_array_append_new(arr, o);
        }
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(ids));
        json_object_set_new(o, "kind", json_string(k ? k->name : "?"));
        json_object_set_new(o, "versions", arr);
        out_json(o);
        rc = CLI_OK;
        goto done;
    }
    qs_body *b = qs_xcalloc(nh, sizeof *b);
    for (size_t i = 0; i < nh; i++)
        if (out_body(&v[i].rec, &b[i]) != 0)
            qs_body_init(&b[i]);
    out_table t;
    out_table_init(&t, nh + 2);
    char **row = qs_xcalloc(nh + 2, sizeof *row);
    row[0] = qs_xstrdup("");
    row[1] = qs_xstrdup("field");
    for (size_t i = 0; i < nh; i++) {
        char revs[QS_REV_STR];
        qs_rev_format(&v[i].rec.rev, revs);
        row[i + 2] = qs_xasprintf("%s %.14s…", i == 0 ? "winner" : "other", revs);
    }
    out_table_add(&t, row);
    for (uint32_t fi = 0; k && fi < k->nfields; fi++) {
        const qs_field *f = &k->fields[fi];
        bool any = false, differ = false;
        const qs_value *first = qs_body_get(&b[0], f->id);
        for (size_t i = 0; i < nh; i++) {
            const qs_value *x = qs_body_get(&b[i], f->id);
            any |= x != NULL;
            if ((x == NULL) != (first == NULL) || (x && first && !qs_value_eq(x, first)))
                differ = true;
        }
        if (!any)
            continue;
        row[0] = qs_xstrdup(differ ? "*" : "");
        row[1] = qs_xstrdup(f->name);
        for (size_t i = 0; i < nh; i++) {
            char *s = v[i].rec.deleted ? qs_xstrdup("(deleted)")
                                       : fields_display(st, f, qs_body_get(&b[i], f->id), true);
            row[i + 2] = out_clip(s, 30);
            free(s);
        }
        out_table_add(&t, row);
    }
    printf("%s %s has %zu versions:\n", k ? k->name : "record", ids, nh);
    for (size_t i = 0; i < nh; i++) {
        char revs[QS_REV_STR];
        printf("  %s %s by %s%s%s\n", i == 0 ? "winner" : "other ",
               qs_rev_format(&v[i].rec.rev, revs), v[i].rec.author,
               v[i].from[0] ? ", received from " : "", v[i].from);
    }
    putchar('\n');
    out_table_print(&t, stdout, false);
    printf("\nkeep one with `qianshou conflicts resolve %s --take REV`, or set fields with "
           "`qianshou conflicts resolve %s --set FIELD=VALUE...`\n",
           ids, ids);
    out_table_free(&t);
    free(row);
    for (size_t i = 0; i < nh; i++)
        qs_body_free(&b[i]);
    free(b);
    rc = CLI_OK;
done:
    qs_version_info_free(v, nv);
    return rc;
}

static int resolve_check(cli *c, cli_args *a)
{
    if ((cli_opt(a, "take") != NULL) == cli_flag(a, "set"))
        return cli_usage(c, "conflicts", "give either --take REV or --set FIELD=VALUE...");
    if (cli_flag(a, "set") && a->nrest == 0)
        return cli_usage(c, "conflicts", "--set needs at least one FIELD=VALUE");
    return 0;
}

static int resolve_exec(cli *c, cli_args *a)
{
    qs_store *st = a->st;
    const uint8_t *id = a->id;
    const char *ids = a->argv[0];
    qs_version_info *v = NULL;
    size_t nv = 0, nh = 0;
    const char *take = cli_opt(a, "take");
    int rc;
    qs_body b;
    qs_err err = {0};
    qs_body_init(&b);
    if ((rc = load_heads(c, st, ids, id, &v, &nv, &nh)))
        goto done;
    const qs_kind *k = qs_schema_kind(v[0].rec.kind);
    qs_rev rev, chosen;
    const qs_rev *takep = NULL;
    if (take) {
        /* the full "GEN-HASH", or a prefix of it that names one head */
        size_t match = 0;
        for (size_t i = 0; i < nh; i++) {
            char revs[QS_REV_STR];
            qs_rev_format(&v[i].rec.rev, revs);
            if (strncmp(revs, take, strlen(take)) == 0) {
                chosen = v[i].rec.rev;
                match++;
            }
        }
        if (match != 1) {
            rc = cli_fail(c, CLI_DATA,
                          "%s names %s of the versions of %s — copy a revision from `qianshou "
                          "conflicts show %s`",
                          take, match ? "more than one" : "none", ids, ids);
            goto done;
        }
        takep = &chosen;
    } else {
        if (!k) {
            rc = cli_fail(c, CLI_ENV, "record %s is of a kind this program does not know", ids);
            goto done;
        }
        if (out_body(&v[0].rec, &b) != 0) {
            rc = cli_fail(c, CLI_ENV, "the stored body of %s is damaged", ids);
            goto done;
        }
        if ((rc = records_apply_args(c, st, k, a->nrest, a->rest, &b)))
            goto done;
        qs_verrs ve;
        if ((rc = fields_finish(st, k, &b, &err))) {
            rc = cli_fail_err(c, &err);
            goto done;
        }
        if (qs_schema_validate(k, &b, false, &ve, NULL) != 0) {
            rc = records_report_verrs(c, k, &ve, "");
            goto done;
        }
    }
    if ((rc = qs_store_resolve(st, id, takep, takep ? NULL : &b, &rev, &err))) {
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
        printf("resolved %s: new revision %s settles %zu versions\n", ids, revs, nh);
    }
    rc = CLI_OK;
done:
    qs_body_free(&b);
    qs_version_info_free(v, nv);
    return rc;
}

const cli_cmd cli_cmd_conflicts_list = {
    .name = "conflicts list",
    .alias = "conflicts",
    .usage = "",
    .summary = "records with an open conflict (exit 4 when there are some)",
    .help = HELP,
    .args_hint = "list takes no arguments",
    .max_args = 0,
    .store = CLI_STORE_READ,
    .exec = list_exec,
};

const cli_cmd cli_cmd_conflicts_show = {
    .name = "conflicts show",
    .usage = "ID",
    .summary = "the versions side by side",
    .help = HELP,
    .args_hint = "show takes one record id",
    .min_args = 1,
    .max_args = 1,
    .first = CLI_FIRST_ID,
    .store = CLI_STORE_READ,
    .exec = show_exec,
};

const cli_cmd cli_cmd_conflicts_resolve = {
    .name = "conflicts resolve",
    .options = "take= set...",
    .usage = "ID (--take REV | --set F=V...)",
    .summary = "keep one version, or set fields",
    .help = HELP,
    .args_hint = "give the record id and --take REV or --set FIELD=VALUE",
    .min_args = 1,
    .max_args = 1,
    .first = CLI_FIRST_ID,
    .store = CLI_STORE_WRITE,
    .check = resolve_check,
    .exec = resolve_exec,
};
