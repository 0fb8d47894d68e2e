/*
 * main.c — qianshou: global options, the command table, the overall help.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/cli.h"

static const char HELP[] =
    "usage: qianshou [-d DATADIR] [--json] COMMAND ...\n"
    "\n"
    "Records of the Hand-in-Hand plan (牵手计划), kept in this county's store.\n"
    "\n"
    "commands:\n"
    "  init --node CODE --role county|aggregator [--name NAME] [--group GROUP]\n"
    "  schema [KIND]                      kinds, fields, types, enums with Chinese labels\n"
    "  add KIND FIELD=VALUE...            add a record; prints its id\n"
    "  edit ID FIELD=VALUE...             change fields (FIELD= with nothing removes one)\n"
    "  delete ID                          delete a record\n"
    "  show ID [--history]                one record, or every version of it\n"
    "  list KIND [FIELD=VALUE...] [--limit N]\n"
    "  list --rejected                    records the aggregator refused, with reasons\n"
    "  import KIND FILE.csv [--partial] [--again]\n"
    "  export KIND [--format csv|json] [--bom] [--labels] [-o FILE]\n"
    "  conflicts [list] | conflicts show ID | conflicts resolve ID (--take REV | --set F=V...)\n"
    "  digest [--scope CODE]\n"
    "  check                              PRAGMA integrity_check of the store (exit 0 or 2)\n"
    "  backup -o FILE | restore FILE\n"
    "  sync [--wait] [--timeout S]        sync with the aggregator now (qianshoud)\n"
    "  status                             the daemon's link, last sync, counters\n"
    "  report annual --year Y [--as-of D] [--county C] [--format table|csv|json|xlsx|html] [-o F]\n"
    "  nodes [--stale DURATION] | metrics   the counties' sync state (exit 4: stale)\n"
    "\n"
    "options (anywhere on the line):\n"
    "  -d DATADIR   the data directory (default: $QIANSHOU_DATA, else /var/lib/qianshou)\n"
    "  --json       machine-readable output on stdout (errors too: {\"error\", \"exit\"})\n"
    "  --help       help for qianshou or for one command\n"
    "\n"
    "exit codes:\n"
    "  0  done\n"
    "  1  usage error: the command line is wrong\n"
    "  2  data error: a field, a record or a CSV row is wrong; nothing was changed\n"
    "  3  environment error: no store, permissions, disk, a daemon holding the store\n"
    "  4  attention needed: done, but there are conflicts, refused records or skipped rows\n";

typedef struct command {
    const char *name;
    int (*fn)(cli *c, int argc, char **argv);
} command;

static const command COMMANDS[] = {
    {"init", cmd_init},           {"schema", cmd_schema},   {"add", cmd_add},
    {"edit", cmd_edit},           {"delete", cmd_delete},   {"show", cmd_show},
    {"list", cmd_list},           {"import", cmd_import},   {"export", cmd_export},
    {"conflicts", cmd_conflicts}, {"digest", cmd_digest},   {"backup", cmd_backup},
    {"check", cmd_check},         {"restore", cmd_restore}, {"sync", cmd_sync},
    {"status", cmd_status},       {"report", cmd_report},   {"nodes", cmd_nodes},
    {"metrics", cmd_metrics},     {"migrate", cmd_migrate},
};

int main(int argc, char **argv)
{
    cli c = {.dir = NULL, .json = false};
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int n = 0, rc;
    bool rest = false;
    if (!args)
        return CLI_ENV;
    /* Files this tool creates are for the group (the daemon, other clerks). */
    umask(007);
    /* Global options may stand anywhere before "--". */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!rest && strcmp(a, "--") == 0) {
            rest = true;
            args[n++] = argv[i];
        } else if (!rest && strcmp(a, "--json") == 0) {
            c.json = true;
        } else if (!rest && (strcmp(a, "-d") == 0 || strcmp(a, "--data") == 0)) {
            if (i + 1 >= argc) {
                rc = cli_fail(&c, CLI_USAGE, "%s needs a directory (see `qianshou --help`)", a);
                goto done;
            }
            c.dir = argv[++i];
        } else if (!rest && strncmp(a, "--data=", 7) == 0) {
            c.dir = a + 7;
        } else {
            args[n++] = argv[i];
        }
    }
    if (!c.dir || !*c.dir) {
        const char *env = getenv("QIANSHOU_DATA");
        c.dir = env && *env ? env : "/var/lib/qianshou";
    }
    if (n == 0 || strcmp(args[0], "--help") == 0 || strcmp(args[0], "-h") == 0 ||
        strcmp(args[0], "help") == 0) {
        fputs(HELP, n == 0 ? stderr : stdout);
        rc = n == 0 ? CLI_USAGE : CLI_OK;
        goto done;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        if (strcmp(args[0], COMMANDS[i].name) == 0) {
            rc = COMMANDS[i].fn(&c, n, args);
            goto done;
        }
    }
    if (args[0][0] == '-')
        rc = cli_fail(&c, CLI_USAGE, "unknown option %s (see `qianshou --help`)", args[0]);
    else
        rc = cli_fail(&c, CLI_USAGE, "there is no command \"%s\" (see `qianshou --help`)", args[0]);
done:
    fflush(stdout);
    if (ferror(stdout) && rc == CLI_OK) {
        fprintf(stderr, "qianshou: could not write the output (is the disk full?)\n");
        rc = CLI_ENV;
    }
    free(args);
    return rc;
}
