/*
 * cli.h — what the qianshou command files share: the command table's entry
 * (cli_cmd) and the arguments the dispatcher hands a command (cli_args), the
 * invocation context, exit codes, opening the store with the permission
 * rules, and error reporting.
 *
 * A command is one cli_cmd, exported by its cmd_*.c and listed once in the
 * table in cmd.c: the dispatcher there prints its --help, parses its options
 * against its template, checks the number of arguments, resolves the first
 * one (a kind, a record id), opens the store as the entry says and calls its
 * exec. Global options (-d, --json) are removed before (main.c). Every return
 * value is the process exit code (one of enum cli_exit).
 */
#ifndef QS_CLI_H
#define QS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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
    const char *dir;  /* data directory */
    bool json;        /* --json: machine-readable output on stdout */
    const char *user; /* author of edits (NODE/USER); NULL = the process's user (web: the
                         signed-in user) */
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

/* True when argv[1..argc-1] holds --help or -h before any "--". */
bool cli_wants_help(int argc, char **argv);

/* Look up a kind by name or Chinese label; prints the known kinds if unknown. */
const qs_kind *cli_kind(cli *c, const char *name, int *exit);

/* ---- the command table -------------------------------------------------- */

/* What a command needs of the store. The dispatcher opens it after the
 * command line is checked (so a wrong line is exit 1 even without a store),
 * hands it to exec in cli_args.st and closes it after. */
enum cli_store_use {
    CLI_STORE_NONE = 0, /* none, or the command opens it itself (init, restore) */
    CLI_STORE_READ,     /* cli_open: reads (and writes nothing stamped by the clock) */
    CLI_STORE_WRITE,    /* cli_open_write: writes records, so the clock rule applies */
};

/* What the first positional argument is; the dispatcher resolves it before
 * the store is opened, and a bad one is a usage error (exit 1). */
enum cli_first {
    CLI_FIRST_ANY = 0, /* nothing to resolve */
    CLI_FIRST_KIND,    /* a kind by name or Chinese label: cli_args.kind */
    CLI_FIRST_ID,      /* a record id: cli_args.id */
};

#define CLI_OPTS_MAX 16 /* options in one template */
#define CLI_ARGS_ANY -1 /* max_args: no upper limit */

typedef struct cli_args cli_args;

/*
 * One command. The options template is a list of words separated by spaces,
 * one per option: "NAME" a flag (--NAME), "NAME=" an option with a value
 * (--NAME V, --NAME=V), "x|NAME=" the same with the short form -x, and
 * "NAME..." an option that ends the options: the rest of the line is its
 * list (cli_args.rest). Long options may be abbreviated (getopt_long).
 */
typedef struct cli_cmd {
    const char *name;       /* "import"; "conflicts show": a word and its subcommand */
    const char *alias;      /* another name, or NULL ("conflicts" for "conflicts list") */
    const char *options;    /* the template, or NULL for none */
    const char *usage;      /* synopsis after the name ("KIND FILE.csv [--partial]");
                             * alternatives separated by '\n' */
    const char *summary;    /* what it does, for `qianshou --help`, or NULL */
    const char *help;       /* `qianshou NAME --help`, starting "usage: qianshou NAME" */
    const char *args_hint;  /* the sentence for a wrong number of arguments, or NULL */
    int min_args, max_args; /* positional arguments; max_args may be CLI_ARGS_ANY */
    enum cli_first first;
    enum cli_store_use store;
    /* Optional: checks of the command line that need no store, run before the
     * store is opened; may leave what it worked out in cli_args.ctx. */
    int (*check)(cli *c, cli_args *a);
    int (*exec)(cli *c, cli_args *a);
} cli_cmd;

/* What the dispatcher hands check and exec. Valid until exec returns. */
struct cli_args {
    const cli_cmd *cmd;
    int argc; /* positional arguments, without the command's name */
    char **argv;
    int nrest; /* the list after a "NAME..." option */
    char **rest;
    const char *opt[CLI_OPTS_MAX]; /* per template option: its value, "" for a
                                    * flag given, NULL when not given */
    const qs_kind *kind;           /* CLI_FIRST_KIND with argc > 0, else NULL */
    uint8_t id[QS_ID_LEN];         /* CLI_FIRST_ID */
    qs_store *st;                  /* per cmd->store, else NULL */
    void *ctx;                     /* left by check for exec; ctx_free(ctx) is */
    void (*ctx_free)(void *ctx);   /* called by the dispatcher after both */
};

/* The value of option NAME (as named in the template), or NULL when it was
 * not given; a flag gives "". Aborts when the template has no NAME. */
const char *cli_opt(const cli_args *a, const char *name);
/* True when option NAME was given. */
bool cli_flag(const cli_args *a, const char *name);

/* The table (cmd.c), in the order of `qianshou --help`; each entry is
 * defined in its command's cmd_*.c. */
extern const cli_cmd *const cli_commands[];
extern const size_t cli_ncommands;

/* Run the command line argv[0..argc-1] (argv[0] the command; global options
 * removed): --help, the command's help, or the command. argv may be
 * reordered. Exit code. */
int cli_run(cli *c, int argc, char **argv);
/* `qianshou --help`: usage, every command of the table, options, exit codes. */
void cli_help_all(FILE *fp);
/* The number of options in template t (NULL: none), or -1 when it is
 * malformed or has more than CLI_OPTS_MAX (the table test checks every entry). */
int cli_template_count(const char *t);

#endif
