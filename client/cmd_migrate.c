/*
 * cmd_migrate.c — qianshou migrate --to postgresql: move an aggregator's
 * SQLite store into PostgreSQL (store.h qs_store_migrate_pg), prove it with
 * digests, then switch the data directory over (store.conninfo).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/cli.h"
#include "proto/xmalloc.h"

static const char MIGRATE_HELP[] =
    "usage: qianshou migrate --to postgresql --conninfo CONNINFO   (-d DATADIR: the aggregator's)\n"
    "\n"
    "Move this aggregator's store from SQLite (DATADIR/qianshou.db) into an empty\n"
    "PostgreSQL database: every version with its sequence number, history,\n"
    "conflicts, peers and their cursors, refusals, parked records and the\n"
    "settings (node id, incarnation, clock). Then both sides' digests and counters\n"
    "are compared; only when they are equal does DATADIR switch over (it gets a\n"
    "store.conninfo file, and qianshou and qianshoud use PostgreSQL from then on).\n"
    "The counties notice nothing: their cursors stay valid.\n"
    "\n"
    "Stop qianshoud first. Afterwards set, in qianshoud.conf:\n"
    "  [store]\n"
    "  backend = postgresql\n"
    "  conninfo = CONNINFO\n"
    "CONNINFO is a libpq connection string without a password (use a passfile:\n"
    "passfile=PATH in it, or PGPASSFILE). qianshou.db is kept, untouched.\n"
    "\n"
    "exit: 0 moved; 1 usage; 2 the copy differs or the database is not empty;\n"
    "3 no store, a daemon running, no connection\n";

static int migrate_exec(cli *c, cli_args *a)
{
    const char *to = cli_opt(a, "to"), *conninfo = cli_opt(a, "conninfo");
    int rc;
    if (!to || strcmp(to, "postgresql") != 0)
        return cli_usage(c, "migrate", "give --to postgresql (the only target)");
    if (!conninfo || !*conninfo)
        return cli_usage(c, "migrate", "give --conninfo (a libpq connection string)");
    qs_err err = {0};
    if (qs_store_conninfo_check(conninfo, &err))
        return cli_fail(c, CLI_USAGE, "%s", err.msg);
    if ((rc = cli_check_dir(c, true)))
        return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/store.conninfo", c->dir);
    if (access(path, F_OK) == 0)
        return cli_fail(c, CLI_DATA, "the store in %s is on PostgreSQL already (%s)", c->dir, path);
    int lock = -1;
    if (qs_store_lock(c->dir, &lock, &err))
        return cli_fail(c, CLI_ENV, "%s (stop qianshoud before migrating)", err.msg);
    qs_store *st = NULL;
    if ((rc = cli_open(c, &st))) {
        qs_store_unlock(lock);
        return rc;
    }
    qs_migrate_stats ms;
    rc = qs_store_migrate_pg(st, conninfo, &ms, &err);
    qs_store_close(st);
    if (rc) {
        qs_store_unlock(lock);
        return cli_fail(c, rc == QS_EIO || rc == QS_EPERM ? CLI_ENV : CLI_DATA,
                        "migrate: %s (the SQLite store stays in use)", err.msg);
    }
    /* Switch over: opening with dir and conninfo writes store.conninfo. */
    qs_store_opts so = qs_store_opts_default();
    so.dir = c->dir;
    so.conninfo = conninfo;
    if ((rc = qs_store_open(&so, &st, &err))) {
        qs_store_unlock(lock);
        return cli_fail(c, CLI_ENV,
                        "migrate: the copy is complete, but switching %s over failed: %s", c->dir,
                        err.msg);
    }
    qs_store_close(st);
    qs_store_unlock(lock);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", ms.digest_pg[i]);
    if (c->json) {
        printf("{\"versions\": %llu, \"history\": %llu, \"peers\": %llu, \"rejections\": %llu, "
               "\"parked\": %llu, \"users\": %llu, \"audit\": %llu, \"heads\": %llu, "
               "\"digest\": \"%s\"}\n",
               (unsigned long long)ms.versions, (unsigned long long)ms.history,
               (unsigned long long)ms.peers, (unsigned long long)ms.rejections,
               (unsigned long long)ms.parked, (unsigned long long)ms.users,
               (unsigned long long)ms.audit, (unsigned long long)ms.heads, hex);
    } else {
        printf("moved %llu versions, %llu history hashes, %llu peers, %llu refusals, %llu "
               "parked\n",
               (unsigned long long)ms.versions, (unsigned long long)ms.history,
               (unsigned long long)ms.peers, (unsigned long long)ms.rejections,
               (unsigned long long)ms.parked);
        if (ms.users || ms.audit)
            printf("and the web's %llu accounts with %llu rows of their audit trail\n",
                   (unsigned long long)ms.users, (unsigned long long)ms.audit);
        printf("digest %s over %llu heads: equal on both sides\n", hex,
               (unsigned long long)ms.heads);
        printf("%s now uses PostgreSQL; set [store] backend = postgresql and conninfo in "
               "qianshoud.conf before starting qianshoud\n",
               c->dir);
    }
    return CLI_OK;
}

const cli_cmd cli_cmd_migrate = {
    .name = "migrate",
    .options = "to= conninfo=",
    .usage = "--to postgresql --conninfo CONNINFO",
    .summary = "move an aggregator's store into PostgreSQL, proved by digests",
    .help = MIGRATE_HELP,
    .min_args = 0,
    .max_args = 0,
    .store = CLI_STORE_NONE, /* it locks the directory and opens both stores itself */
    .exec = migrate_exec,
};
