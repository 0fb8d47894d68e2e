/*
 * cmd_admin.c — init, schema, digest, backup, restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/out.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"

#define NAME_FILE "qianshou.name"

static const char INIT_HELP[] =
    "usage: qianshou init --node CODE --role county|aggregator [--name NAME] [--group GROUP]\n"
    "       qianshou init --name NAME\n"
    "\n"
    "Create the data directory (mode 2770: the group keeps access, new files\n"
    "inherit its group) and an empty store for node CODE, the division code of\n"
    "this office (632322 for 尖扎县, 630000 for the province).\n"
    "qianshoud makes the same store at its first start: on a machine where it\n"
    "already did, init changes nothing but the name (and says so); a store of\n"
    "another node or role is refused.\n"
    "  --name NAME    the node's display name (尖扎县), kept in the store\n"
    "  --group GROUP  give the directory to this group (normally qianshou)\n";

static const char SCHEMA_HELP[] =
    "usage: qianshou schema [KIND]\n\nThe kinds of records, or one kind's fields with "
    "their types, whether they are required, and the allowed values with Chinese labels.\n";

static const char DIGEST_HELP[] =
    "usage: qianshou digest [--scope CODE]\n\nA digest of every record version this node "
    "holds (or those in CODE's area): two nodes that hold the same records print the same "
    "digest.\n";

static const char CHECK_HELP[] =
    "usage: qianshou check\n\nCheck the store: exit 0 and \"ok\" when it is sound, exit 2 with "
    "the first problem when it is not. SQLite: its integrity check of the database. "
    "PostgreSQL: every version's hash and generation recomputed, the sequence numbers, one "
    "winner per record, and the typed tables against the winners (the server's own pages "
    "and indexes: amcheck).\n";

static const char BACKUP_HELP[] = "usage: qianshou backup -o FILE\n\nA consistent copy of the "
                                  "store, made while it is in use (mode 0600).\n";

static const char RESTORE_HELP[] =
    "usage: qianshou restore FILE\n\nReplace the store in the data directory with a backup. "
    "Refused while the daemon runs (stop qianshoud first). The restored store takes a new "
    "incarnation, so its peers send it again whatever it lacks.\n";

static const char *role_name(qs_role r)
{
    return r == QS_ROLE_AGGREGATOR ? "aggregator" : "county";
}

/* Create the data directory if it is missing: mode 02770, group kept. */
static int make_dir(cli *c, const char *group)
{
    struct stat sb;
    if (stat(c->dir, &sb) != 0) {
        if (mkdir(c->dir, 02770) != 0)
            return cli_fail(c, CLI_ENV, "cannot create the data directory %s: %s", c->dir,
                            strerror(errno));
    }
    if (group) {
        struct group *gr = getgrnam(group);
        if (!gr)
            return cli_fail(c, CLI_USAGE,
                            "there is no group called %s on this machine (create "
                            "it with `groupadd %s`)",
                            group, group);
        if (chown(c->dir, (uid_t)-1, gr->gr_gid) != 0)
            return cli_fail(c, CLI_ENV, "cannot give %s to group %s: %s", c->dir, group,
                            strerror(errno));
    }
    if (stat(c->dir, &sb) == 0 && sb.st_uid == geteuid() && (sb.st_mode & 07777) != 02770 &&
        chmod(c->dir, 02770) != 0)
        return cli_fail(c, CLI_ENV, "cannot set the mode of %s: %s", c->dir, strerror(errno));
    return 0;
}

/* The node's name: the store's, or the file `init --name` wrote before the
 * store kept it. buf has QS_NAME_MAX bytes; "" when none. */
static void node_name(cli *c, qs_store *st, char *buf)
{
    if (qs_store_name(st, buf, NULL) == 0 && buf[0])
        return;
    buf[0] = '\0';
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", c->dir, NAME_FILE);
    FILE *fp = fopen(path, "r");
    if (fp) {
        if (fgets(buf, QS_NAME_MAX, fp))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(fp);
    }
}

/* init on a directory that holds a store already (qianshoud made it at its
 * first start, or an earlier init): the same node and role change nothing but
 * the name; anything else is refused. */
static int init_existing(cli *c, const char *node, qs_role role, bool role_given, const char *name)
{
    qs_store *st = NULL;
    qs_err err = {0};
    qs_store_info info;
    char old[QS_NAME_MAX];
    int rc = cli_open(c, &st);
    if (rc)
        return rc;
    if ((rc = qs_store_ident(st, &info, &err))) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    if ((node && strcmp(node, info.node) != 0) || (role_given && role != info.role)) {
        rc = cli_fail(c, CLI_DATA,
                      "%s already holds the %s store of node %s: init changes nothing there "
                      "(a store is for one node; give another directory with -d)",
                      c->dir, role_name(info.role), info.node);
        goto done;
    }
    node_name(c, st, old);
    if (name && (rc = qs_store_set_name(st, name, &err))) {
        rc = cli_fail_err(c, &err);
        goto done;
    }
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "dir", json_string(c->dir));
        json_object_set_new(j, "node", json_string(info.node));
        json_object_set_new(j, "role", json_string(role_name(info.role)));
        json_object_set_new(j, "created", json_false());
        if (name || old[0])
            json_object_set_new(j, "name", json_string(name ? name : old));
        out_json(j);
    } else if (name) {
        printf("the %s store of node %s is already in %s (nothing to create); its name is now "
               "%s\n",
               role_name(info.role), info.node, c->dir, name);
    } else {
        printf("the %s store of node %s%s%s%s is already in %s: nothing to do\n",
               role_name(info.role), info.node, old[0] ? " (" : "", old, old[0] ? ")" : "", c->dir);
    }
    rc = CLI_OK;
done:
    qs_store_close(st);
    return rc;
}

static int init_exec(cli *c, cli_args *a)
{
    const char *node = cli_opt(a, "node"), *role = cli_opt(a, "role"), *name = cli_opt(a, "name"),
               *group = cli_opt(a, "group");
    int rc;
    qs_store_opts so = qs_store_opts_default();
    if (role && strcmp(role, "county") == 0)
        so.role = QS_ROLE_COUNTY;
    else if (role && strcmp(role, "aggregator") == 0)
        so.role = QS_ROLE_AGGREGATOR;
    else if (role)
        return cli_usage(c, "init", "--role is county or aggregator, not \"%s\"", role);
    if (node && !qs_code_valid(node))
        return cli_fail(c, CLI_USAGE,
                        "\"%s\" is not a division code: give 6 digits (632322 for 尖扎县, "
                        "630000 for the province) or 9 for a township station",
                        node);
    if (name && (!*name || strlen(name) >= QS_NAME_MAX))
        return cli_usage(c, "init", "--name takes 1 to %d bytes", QS_NAME_MAX - 1);
    char db[4200], pgfile[4200];
    snprintf(db, sizeof db, "%s/%s", c->dir, QS_DB_FILE);
    snprintf(pgfile, sizeof pgfile, "%s/store.conninfo", c->dir); /* a store in PostgreSQL */
    if (access(db, F_OK) == 0 || access(pgfile, F_OK) == 0) {
        if (group && (rc = make_dir(c, group)))
            return rc;
        return init_existing(c, node, so.role, role != NULL, name);
    }
    if (!node || !role)
        return cli_usage(c, "init", "give --node CODE and --role county|aggregator");
    if ((rc = cli_check_dir(c, false)) || (rc = make_dir(c, group)) ||
        (rc = cli_check_dir(c, true)))
        return rc;
    so.dir = c->dir;
    so.create = true;
    so.node = node;
    qs_store *st = NULL;
    qs_err err = {0};
    if ((rc = qs_store_open(&so, &st, &err)))
        return cli_fail(c, rc == QS_EEXIST ? CLI_DATA : CLI_ENV, "%s", err.msg);
    if (name && (rc = qs_store_set_name(st, name, &err))) {
        qs_store_close(st);
        return cli_fail(c, CLI_ENV, "the store was created, but its name could not be set: %s",
                        err.msg);
    }
    qs_store_close(st);
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "dir", json_string(c->dir));
        json_object_set_new(j, "node", json_string(node));
        json_object_set_new(j, "role", json_string(role));
        json_object_set_new(j, "created", json_true());
        if (name)
            json_object_set_new(j, "name", json_string(name));
        out_json(j);
    } else {
        printf("created the %s store of node %s%s%s%s in %s\n", role, node, name ? " (" : "",
               name ? name : "", name ? ")" : "", c->dir);
    }
    return CLI_OK;
}

const cli_cmd cli_cmd_init = {
    .name = "init",
    .options = "node= role= name= group=",
    .usage = "--node CODE --role county|aggregator [--name NAME] [--group GROUP]\n--name NAME",
    .summary = "create this node's store (or name it)",
    .help = INIT_HELP,
    .max_args = 0,
    .store = CLI_STORE_NONE, /* it makes the store, or opens the one qianshoud made */
    .exec = init_exec,
};

/* ---- schema ----------------------------------------------------------------- */

static const char *level_name(qs_level l)
{
    static const char *const n[] = {"nation", "province", "prefecture", "county", "township"};
    return (unsigned)l < 5 ? n[l] : "?";
}

static json_t *kind_json(const qs_kind *k)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(k->id));
    json_object_set_new(o, "name", json_string(k->name));
    json_object_set_new(o, "label", json_string(k->label));
    json_object_set_new(o, "min_level", json_string(level_name(k->min_level)));
    json_object_set_new(o, "max_level", json_string(level_name(k->max_level)));
    json_object_set_new(o, "local_only", json_boolean(k->local_only));
    json_t *fa = json_array();
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_field *f = &k->fields[i];
        json_t *fo = json_object();
        json_object_set_new(fo, "id", json_integer(f->id));
        json_object_set_new(fo, "name", json_string(f->name));
        json_object_set_new(fo, "label", json_string(f->label));
        json_object_set_new(fo, "type", json_string(qs_ftype_name(f->type)));
        json_object_set_new(fo, "required", json_boolean(f->flags & QS_FF_REQUIRED));
        json_object_set_new(fo, "local", json_boolean(f->flags & QS_FF_LOCAL));
        if (f->type == QS_F_REF || f->type == QS_F_REFLIST) {
            const qs_kind *rk = qs_schema_kind(f->ref_kind);
            json_object_set_new(fo, "refers_to", json_string(rk ? rk->name : "?"));
        }
        if (f->en) {
            json_t *ea = json_array();
            for (uint32_t j = 0; j < f->en->n; j++) {
                json_t *v = json_pack("{s:i, s:s, s:s}", "code", (int)f->en->vals[j].code, "name",
                                      f->en->vals[j].name, "label", f->en->vals[j].label);
                const char *al[8];
                size_t na = qs_enum_aliases(f->en, f->en->vals[j].code, al, 8);
                if (na) {
                    json_t *aa = json_array();
                    for (size_t x = 0; x < na && x < 8; x++)
                        json_array_append_new(aa, json_string(al[x]));
                    json_object_set_new(v, "aliases", aa);
                }
                json_array_append_new(ea, v);
            }
            json_object_set_new(fo, "values", ea);
        }
        json_array_append_new(fa, fo);
    }
    json_object_set_new(o, "fields", fa);
    return o;
}

static void kind_text(const qs_kind *k)
{
    printf("%s %s — scope: %s%s%s%s\n", k->name, k->label, level_name(k->min_level),
           k->min_level != k->max_level ? " or " : "",
           k->min_level != k->max_level ? level_name(k->max_level) : "",
           k->local_only ? "; stays on this machine (never synced)" : "");
    out_table t;
    out_table_init(&t, 5);
    char *hdr[5] = {qs_xstrdup("field"), qs_xstrdup("label"), qs_xstrdup("type"), qs_xstrdup(""),
                    qs_xstrdup("values")};
    out_table_add(&t, hdr);
    for (uint32_t i = 0; i < k->nfields; i++) {
        const qs_field *f = &k->fields[i];
        char *vals;
        if (f->en) {
            qs_buf b;
            qs_buf_init(&b, 0);
            for (uint32_t j = 0; j < f->en->n; j++) {
                char one[160];
                snprintf(one, sizeof one, "%s%u=%s %s", j ? ", " : "", f->en->vals[j].code,
                         f->en->vals[j].name, f->en->vals[j].label);
                qs_buf_append(&b, one, strlen(one));
                const char *al[8];
                size_t na = qs_enum_aliases(f->en, f->en->vals[j].code, al, 8);
                for (size_t x = 0; x < na && x < 8; x++) {
                    snprintf(one, sizeof one, "%s%s", x ? "/" : " (also ", al[x]);
                    qs_buf_append(&b, one, strlen(one));
                }
                if (na)
                    qs_buf_append(&b, ")", 1);
            }
            qs_buf_append(&b, "", 1);
            vals = qs_xstrdup((const char *)b.data);
            qs_buf_free(&b);
        } else if (f->type == QS_F_REF || f->type == QS_F_REFLIST) {
            const qs_kind *rk = qs_schema_kind(f->ref_kind);
            vals =
                qs_xasprintf("%s %s", f->type == QS_F_REF ? "a" : "list of", rk ? rk->name : "?");
        } else if (f->type == QS_F_MONEY) {
            vals = qs_xstrdup("yuan, up to 2 decimals");
        } else if (f->type == QS_F_DATE) {
            vals = qs_xstrdup("YYYY-MM-DD");
        } else {
            vals = qs_xstrdup("");
        }
        const char *flags = (f->flags & QS_FF_REQUIRED) && (f->flags & QS_FF_LOCAL)
                                ? "required, local"
                            : (f->flags & QS_FF_REQUIRED) ? "required"
                            : (f->flags & QS_FF_LOCAL)    ? "local"
                                                          : "";
        char *row[5] = {qs_xstrdup(f->name), qs_xstrdup(f->label),
                        qs_xstrdup(qs_ftype_name(f->type)), qs_xstrdup(flags), vals};
        out_table_add(&t, row);
    }
    out_table_print(&t, stdout, false);
    out_table_free(&t);
}

static int schema_exec(cli *c, cli_args *a)
{
    if (a->kind) {
        if (c->json)
            out_json(kind_json(a->kind));
        else
            kind_text(a->kind);
        return CLI_OK;
    }
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "version", json_integer(QS_SCHEMA_VERSION));
        json_t *ka = json_array();
        for (uint32_t i = 0; i < qs_schema_nkinds(); i++)
            json_array_append_new(ka, kind_json(qs_schema_kind_at(i)));
        json_object_set_new(o, "kinds", ka);
        out_json(o);
        return CLI_OK;
    }
    printf("schema version %d; `qianshou schema KIND` shows a kind's fields\n\n",
           QS_SCHEMA_VERSION);
    out_table t;
    out_table_init(&t, 4);
    char *hdr[4] = {qs_xstrdup("kind"), qs_xstrdup("label"), qs_xstrdup("scope"),
                    qs_xstrdup("fields")};
    out_table_add(&t, hdr);
    for (uint32_t i = 0; i < qs_schema_nkinds(); i++) {
        const qs_kind *k = qs_schema_kind_at(i);
        char *row[4] = {qs_xstrdup(k->name), qs_xstrdup(k->label),
                        qs_xasprintf("%s%s",
                                     k->min_level == QS_LEVEL_PROVINCE ? "province" : "county",
                                     k->local_only ? ", local only" : ""),
                        qs_xasprintf("%u", k->nfields)};
        out_table_add(&t, row);
    }
    out_table_print(&t, stdout, false);
    out_table_free(&t);
    return CLI_OK;
}

const cli_cmd cli_cmd_schema = {
    .name = "schema",
    .usage = "[KIND]",
    .summary = "kinds, fields, types, enums with Chinese labels",
    .help = SCHEMA_HELP,
    .args_hint = "give at most one kind",
    .max_args = 1,
    .first = CLI_FIRST_KIND,
    .store = CLI_STORE_NONE,
    .exec = schema_exec,
};

/* ---- digest, backup, restore --------------------------------------------------- */

static int digest_check(cli *c, cli_args *a)
{
    const char *scope = cli_opt(a, "scope");
    if (scope && !qs_code_valid(scope))
        return cli_usage(c, "digest", "--scope needs a division code, not \"%s\"", scope);
    return 0;
}

static int digest_exec(cli *c, cli_args *a)
{
    const char *scope = cli_opt(a, "scope");
    qs_store *st = a->st;
    uint8_t d[32];
    uint64_t n = 0;
    qs_err err = {0};
    qs_store_info info;
    if (qs_store_digest(st, scope, d, &n, &err) || qs_store_info_get(st, &info, &err))
        return cli_fail_err(c, &err);
    char hex[65];
    qs_hex(d, sizeof d, hex);
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "node", json_string(info.node));
        json_object_set_new(j, "scope", scope ? json_string(scope) : json_null());
        json_object_set_new(j, "digest", json_string(hex));
        json_object_set_new(j, "versions", json_integer((json_int_t)n));
        out_json(j);
    } else {
        char name[QS_NAME_MAX];
        node_name(c, st, name);
        printf("node %s%s%s%s, %s: %s (%" PRIu64 " head version%s)\n", info.node,
               name[0] ? " (" : "", name, name[0] ? ")" : "", scope ? scope : "all records", hex, n,
               n == 1 ? "" : "s");
    }
    return CLI_OK;
}

const cli_cmd cli_cmd_digest = {
    .name = "digest",
    .options = "scope=",
    .usage = "[--scope CODE]",
    .summary = "a digest of the records held, to compare two nodes",
    .help = DIGEST_HELP,
    .max_args = 0,
    .store = CLI_STORE_READ,
    .check = digest_check,
    .exec = digest_exec,
};

static int check_exec(cli *c, cli_args *a)
{
    int rc;
    qs_err err = {0};
    int r = qs_store_check(a->st, &err);
    if (r == 0)
        rc = CLI_OK;
    else if (r == QS_ECORRUPT)
        rc = CLI_DATA;
    else
        return cli_fail_err(c, &err);
    if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "ok", json_boolean(r == 0));
        json_object_set_new(j, "problem", r == 0 ? json_null() : json_string(err.msg));
        out_json(j);
    } else if (r == 0) {
        printf("ok\n");
    } else {
        fprintf(stderr, "qianshou: the store is damaged: %s\n", err.msg);
    }
    return rc;
}

const cli_cmd cli_cmd_check = {
    .name = "check",
    .usage = "",
    .summary = "check the store's integrity (exit 0 or 2)",
    .help = CHECK_HELP,
    .max_args = 0,
    .store = CLI_STORE_READ,
    .exec = check_exec,
};

static int backup_check(cli *c, cli_args *a)
{
    if (!cli_opt(a, "output"))
        return cli_usage(c, "backup", "say where the backup goes with -o FILE");
    return 0;
}

static int backup_exec(cli *c, cli_args *a)
{
    const char *out = cli_opt(a, "output");
    qs_store *st = a->st;
    int rc;
    qs_err err = {0};
    qs_store_info info;
    if ((rc = qs_store_backup(st, out, &err)) || (rc = qs_store_info_get(st, &info, &err))) {
        rc = cli_fail_err(c, &err);
    } else if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "file", json_string(out));
        json_object_set_new(j, "node", json_string(info.node));
        json_object_set_new(j, "records", json_integer((json_int_t)info.records));
        out_json(j);
    } else {
        printf("backed up node %s (%" PRIu64 " records) to %s\n", info.node, info.records, out);
    }
    return rc;
}

const cli_cmd cli_cmd_backup = {
    .name = "backup",
    .options = "o|output=",
    .usage = "-o FILE",
    .summary = "a consistent copy of the store, made while it is in use",
    .help = BACKUP_HELP,
    .max_args = 0,
    .store = CLI_STORE_READ,
    .check = backup_check,
    .exec = backup_exec,
};

static int restore_exec(cli *c, cli_args *a)
{
    int rc;
    const char *file = a->argv[0];
    if (access(file, R_OK) != 0)
        return cli_fail(c, CLI_DATA, "cannot read the backup %s: %s", file, strerror(errno));
    if ((rc = cli_check_dir(c, false)) || (rc = make_dir(c, NULL)) || (rc = cli_check_dir(c, true)))
        return rc;
    qs_err err = {0};
    if ((rc = qs_store_restore(c->dir, file, &err))) {
        if (rc == QS_EBUSY)
            return cli_fail(c, CLI_ENV,
                            "%s — the restore was refused and nothing was changed "
                            "(`systemctl stop qianshoud`, restore, then start it again)",
                            err.msg);
        return cli_fail(c, rc == QS_ECORRUPT || rc == QS_ENOTFOUND ? CLI_DATA : cli_exit_for(rc),
                        "%s", err.msg);
    }
    qs_store *st = NULL;
    if ((rc = cli_open(c, &st)))
        return rc;
    qs_store_info info;
    if ((rc = qs_store_info_get(st, &info, &err))) {
        rc = cli_fail_err(c, &err);
    } else if (c->json) {
        json_t *j = json_object();
        json_object_set_new(j, "dir", json_string(c->dir));
        json_object_set_new(j, "node", json_string(info.node));
        json_object_set_new(j, "role", json_string(role_name(info.role)));
        json_object_set_new(j, "records", json_integer((json_int_t)info.records));
        out_json(j);
    } else {
        printf("restored node %s (%s, %" PRIu64 " records) into %s; it has a new incarnation, "
               "so its peers will send it again whatever it lacks\n",
               info.node, role_name(info.role), info.records, c->dir);
    }
    qs_store_close(st);
    return rc;
}

const cli_cmd cli_cmd_restore = {
    .name = "restore",
    .usage = "FILE",
    .summary = "replace the store with a backup (qianshoud stopped)",
    .help = RESTORE_HELP,
    .args_hint = "give exactly one backup file",
    .min_args = 1,
    .max_args = 1,
    .store = CLI_STORE_NONE, /* it puts the store in place, then opens it */
    .exec = restore_exec,
};
