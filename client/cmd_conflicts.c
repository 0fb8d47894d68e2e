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

static int do_list(cli *c, qs_store *st)
{
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

static int do_show(cli *c, qs_store *st, const char *ids)
{
    uint8_t id[QS_ID_LEN];
    qs_version_info *v = NULL;
    size_t nv = 0, nh = 0;
    int rc;
    if ((rc = records_parse_id(c, "conflicts", ids, id)))
        return rc;
    if ((rc = load_heads(c, st, ids, id, &v, &nv, &nh)))
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

static int do_resolve(cli *c, qs_store *st, int argc, char **argv)
{
    uint8_t id[QS_ID_LEN];
    qs_version_info *v = NULL;
    size_t nv = 0, nh = 0;
    const char *take = NULL;
    int set_at = -1, rc;
    qs_body b;
    qs_err err = {0};
    qs_body_init(&b);
    if (argc < 3)
        return cli_usage(c, "conflicts", "give the record id and --take REV or --set FIELD=VALUE");
    if ((rc = records_parse_id(c, "conflicts", argv[1], id)))
        return rc;
    for (int i = 2; i < argc && set_at < 0; i++) {
        if (strcmp(argv[i], "--take") == 0 && i + 1 < argc && !take)
            take = argv[++i];
        else if (strcmp(argv[i], "--set") == 0)
            set_at = i + 1;
        else
            return cli_usage(c, "conflicts", "unexpected \"%s\"", argv[i]);
    }
    if ((take != NULL) == (set_at >= 0))
        return cli_usage(c, "conflicts", "give either --take REV or --set FIELD=VALUE...");
    if (set_at >= argc)
        return cli_usage(c, "conflicts", "--set needs at least one FIELD=VALUE");
    if ((rc = load_heads(c, st, argv[1], id, &v, &nv, &nh)))
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
                          take, match ? "more than one" : "none", argv[1], argv[1]);
            goto done;
        }
        takep = &chosen;
    } else {
        if (!k) {
            rc = cli_fail(c, CLI_ENV, "record %s is of a kind this program does not know", argv[1]);
            goto done;
        }
        if (out_body(&v[0].rec, &b) != 0) {
            rc = cli_fail(c, CLI_ENV, "the stored body of %s is damaged", argv[1]);
            goto done;
        }
        if ((rc = records_apply_args(c, st, k, argc - set_at, argv + set_at, &b)))
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
        json_object_set_new(j, "id", json_string(argv[1]));
        json_object_set_new(j, "rev", json_string(revs));
        out_json(j);
    } else {
        printf("resolved %s: new revision %s settles %zu versions\n", argv[1], revs, nh);
    }
    rc = CLI_OK;
done:
    qs_body_free(&b);
    qs_version_info_free(v, nv);
    return rc;
}

int cmd_conflicts(cli *c, int argc, char **argv)
{
    qs_store *st = NULL;
    int rc;
    if (cli_wants_help(argc, argv)) {
        fputs(HELP, stdout);
        return CLI_OK;
    }
    const char *sub = argc > 1 ? argv[1] : "list";
    if (strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 && strcmp(sub, "resolve") != 0)
        return cli_usage(c, "conflicts", "\"%s\" is not list, show or resolve", sub);
    if (strcmp(sub, "list") == 0 && argc > 2)
        return cli_usage(c, "conflicts", "list takes no arguments");
    if (strcmp(sub, "show") == 0 && argc != 3)
        return cli_usage(c, "conflicts", "show takes one record id");
    if ((rc = strcmp(sub, "resolve") == 0 ? cli_open_write(c, &st) : cli_open(c, &st)))
        return rc;
    if (strcmp(sub, "list") == 0)
        rc = do_list(c, st);
    else if (strcmp(sub, "show") == 0)
        rc = do_show(c, st, argv[2]);
    else
        rc = do_resolve(c, st, argc - 1, argv + 1);
    qs_store_close(st);
    return rc;
}
