/*
 * cli.h — what the qianshou command files share: the invocation context, exit
 * codes, opening the store with the permission rules, and error reporting.
 *
 * Every command is `int cmd_x(cli *c, int argc, char **argv)`: argv[0] is the
 * command name, global options (-d, --json) are already removed, and the
 * return value is the process exit code (one of enum cli_exit).
 */
#ifndef QS_CLI_H
#define QS_CLI_H

#include <stdbool.h>

#include "proto/err.h"
#include "proto/schema.h"
#include "store/store.h"

enum cli_exit {
    CLI_OK = 0,    /* done */
    CLI_USAGE = 1, /* the command line is wrong */
    CLI_DATA = 2,  /* the data is wrong: a bad field, an unknown record, a bad CSV row */
    CLI_ENV = 3,   /* the environment is wrong: no store, permissions, disk, a daemon running */
    CLI_ATTN = 4,  /* done, but something needs a person: conflicts, rejections, skipped rows */
};

typedef struct cli {
    const char *dir; /* data directory */
    bool json;       /* --json: machine-readable output on stdout */
} cli;

/* Exit code for a QS_E code: environment errors (I/O, disk, permissions, busy,
 * damaged database) give CLI_ENV, everything else CLI_DATA. */
int cli_exit_for(int code);

/* Report a failure (a sentence) on stderr — and, with --json, as
 * {"error": ..., "exit": ...} on stdout — and return exit. */
int cli_fail(cli *c, int exit, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for a qs_err, with the exit code from cli_exit_for. */
int cli_fail_err(cli *c, const qs_err *e);
/* A usage error: the sentence, then "see `qianshou CMD --help`". */
int cli_usage(cli *c, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A warning on stderr ("warning: ..."); never changes the exit code. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The permission rules of DESIGN.md, checked before the store is touched:
 * root may not use a directory it does not own; a user must be able to read,
 * write and enter the directory. 0 or an exit code (message printed). */
int cli_check_dir(cli *c, bool must_exist);

/* Check the directory, then open the store in it. 0 or an exit code. */
int cli_open(cli *c, qs_store **st);

/* The clock rule, for commands that write (their records are stamped with
 * this machine's clock). Refuses (CLI_ENV, "this machine's clock says …")
 * when the clock is outside the validity window of this node's certificate
 * as the daemon last recorded it in the store: the daemon would refuse to run
 * under that clock. Warns (and goes on) when the clock is more than
 * CLI_CLOCK_BACK_MS behind the store's last clock reading: either the clock
 * went back, or it was ahead when that reading was taken; the new edits are
 * stamped after it. 0 or an exit code (message printed). */
#define CLI_CLOCK_BACK_MS (3600 * 1000LL)
int cli_check_clock(cli *c, qs_store *st);

/* cli_open, then cli_check_clock (the store is closed again on a refusal). */
int cli_open_write(cli *c, qs_store **st);

/* True when argv[1..argc-1] holds --help or -h (print usage and exit 0). */
bool cli_wants_help(int argc, char **argv);

/* Look up a kind by name or Chinese label; prints the known kinds if unknown. */
const qs_kind *cli_kind(cli *c, const char *name, int *exit);

/* Commands. */
int cmd_init(cli *c, int argc, char **argv);
int cmd_schema(cli *c, int argc, char **argv);
int cmd_digest(cli *c, int argc, char **argv);
int cmd_migrate(cli *c, int argc, char **argv); /* cmd_migrate.c */
int cmd_backup(cli *c, int argc, char **argv);
int cmd_check(cli *c, int argc, char **argv);
int cmd_restore(cli *c, int argc, char **argv);
int cmd_add(cli *c, int argc, char **argv);
int cmd_edit(cli *c, int argc, char **argv);
int cmd_delete(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_list(cli *c, int argc, char **argv);
int cmd_import(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_conflicts(cli *c, int argc, char **argv);
int cmd_sync(cli *c, int argc, char **argv); /* cmd_daemon.c: over the control socket */
int cmd_status(cli *c, int argc, char **argv);
/* cmd_report.c */
int cmd_report(cli *c, int argc, char **argv);
int cmd_nodes(cli *c, int argc, char **argv);
int cmd_metrics(cli *c, int argc, char **argv);

#endif
