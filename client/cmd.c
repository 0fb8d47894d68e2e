/*
 * cmd.c — the command table and the one dispatcher: a command's help, its
 * options parsed against its template, the number of its arguments, its first
 * argument resolved, the store opened as its entry says, then its exec.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "client/out.h"
#include "client/records.h"

/*
 * Every command of qianshou, in the order `qianshou --help` lists them.
 *
 * To add a command: write its entry in its own cmd_NAME.c,
 *
 *     const cli_cmd cli_cmd_NAME = {
 *         .name = "NAME", .options = "force scope=", .usage = "ID [--force] ...",
 *         .summary = "one line for qianshou --help", .help = NAME_HELP,
 *         .min_args = 1, .max_args = 1, .first = CLI_FIRST_ID,
 *         .store = CLI_STORE_WRITE, .exec = NAME_exec,
 *     };
 *
 * declare it below next to the others and add &cli_cmd_NAME to the table. The
 * dispatcher does the rest: --help, unknown options and a wrong number of
 * arguments (exit 1, with the usage), the store, closing it; exec reads its
 * options with cli_opt/cli_flag. tests/cli/test_table.c checks every entry
 * (it needs a sample command line for a new one).
 */
/* clang-format off */
extern const cli_cmd cli_cmd_init;              /* cmd_admin.c */
extern const cli_cmd cli_cmd_schema;            /* cmd_admin.c */
extern const cli_cmd cli_cmd_add;               /* cmd_records.c */
extern const cli_cmd cli_cmd_edit;              /* cmd_records.c */
extern const cli_cmd cli_cmd_delete;            /* cmd_records.c */
extern const cli_cmd cli_cmd_show;              /* cmd_records.c */
extern const cli_cmd cli_cmd_list;              /* cmd_records.c */
extern const cli_cmd cli_cmd_import;            /* cmd_import.c */
extern const cli_cmd cli_cmd_export;            /* cmd_export.c */
extern const cli_cmd cli_cmd_conflicts_list;    /* cmd_conflicts.c */
extern const cli_cmd cli_cmd_conflicts_show;    /* cmd_conflicts.c */
extern const cli_cmd cli_cmd_conflicts_resolve; /* cmd_conflicts.c */
extern const cli_cmd cli_cmd_digest;            /* cmd_admin.c */
extern const cli_cmd cli_cmd_check;             /* cmd_admin.c */
extern const cli_cmd cli_cmd_backup;            /* cmd_admin.c */
extern const cli_cmd cli_cmd_restore;           /* cmd_admin.c */
extern const cli_cmd cli_cmd_sync;              /* cmd_daemon.c */
extern const cli_cmd cli_cmd_status;            /* cmd_daemon.c */
extern const cli_cmd cli_cmd_report_annual;     /* cmd_report.c */
extern const cli_cmd cli_cmd_nodes;             /* cmd_report.c */
extern const cli_cmd cli_cmd_metrics;           /* cmd_report.c */
extern const cli_cmd cli_cmd_user;              /* cmd_user.c */
extern const cli_cmd cli_cmd_migrate;           /* cmd_migrate.c */

const cli_cmd *const cli_commands[] = {
    &cli_cmd_init,
    &cli_cmd_schema,
    &cli_cmd_add,
    &cli_cmd_edit,
    &cli_cmd_delete,
    &cli_cmd_show,
    &cli_cmd_list,
    &cli_cmd_import,
    &cli_cmd_export,
    &cli_cmd_conflicts_list,
    &cli_cmd_conflicts_show,
    &cli_cmd_conflicts_resolve,
    &cli_cmd_digest,
    &cli_cmd_check,
    &cli_cmd_backup,
    &cli_cmd_restore,
    &cli_cmd_sync,
    &cli_cmd_status,
    &cli_cmd_report_annual,
    &cli_cmd_nodes,
    &cli_cmd_metrics,
    &cli_cmd_user,
    &cli_cmd_migrate,
};
/* clang-format on */
const size_t cli_ncommands = sizeof cli_commands / sizeof cli_commands[0];

static const char HELP_HEAD[] =
    "usage: qianshou [-d DATADIR] [--json] COMMAND ...\n"
    "\n"
    "Records of the Hand-in-Hand plan (牵手计划), kept in this county's store.\n"
    "\n"
    "commands:\n";

static const char HELP_TAIL[] =
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

#define SUMMARY_COL 37 /* where the summaries of `qianshou --help` start */

void cli_help_all(FILE *fp)
{
    fputs(HELP_HEAD, fp);
    for (size_t i = 0; i < cli_ncommands; i++) {
        const cli_cmd *cmd = cli_commands[i];
        const char *u = cmd->usage;
        bool first = true;
        do {
            size_t n = strcspn(u, "\n");
            int w = fprintf(fp, "  %s%s%.*s", cmd->name, n ? " " : "", (int)n, u);
            if (first && cmd->summary) {
                if (w >= SUMMARY_COL - 1)
                    fprintf(fp, "\n%*s", SUMMARY_COL, "");
                else
                    fprintf(fp, "%*s", SUMMARY_COL - w, "");
                fputs(cmd->summary, fp);
            }
            fputc('\n', fp);
            first = false;
            u += n + (u[n] == '\n');
        } while (*u);
    }
    fputs(HELP_TAIL, fp);
}

/* The usage lines of cmd on stderr, after a usage error; first: the first
 * lines printed (they start "usage:"). */
static void print_usage(const cli_cmd *cmd, bool first)
{
    const char *u = cmd->usage;
    do {
        size_t n = strcspn(u, "\n");
        fprintf(stderr, "%s qianshou %s%s%.*s\n", first ? "usage:" : "      ", cmd->name,
                n ? " " : "", (int)n, u);
        first = false;
        u += n + (u[n] == '\n');
    } while (*u);
}

/* ---- options templates ------------------------------------------------------ */

enum { TAKES_NONE, TAKES_VALUE, TAKES_REST };

typedef struct tmpl {
    int n;
    struct {
        char name[40];
        char letter; /* short form, or 0 */
        int takes;
    } o[CLI_OPTS_MAX];
} tmpl;

static int tmpl_parse(const char *t, tmpl *out)
{
    out->n = 0;
    while (t && *t) {
        t += strspn(t, " ");
        size_t len = strcspn(t, " ");
        if (len == 0)
            break;
        if (out->n == CLI_OPTS_MAX)
            return -1;
        const char *w = t, *end = t + len;
        t = end;
        char letter = 0;
        if (len > 2 && w[1] == '|') {
            letter = w[0];
            w += 2;
        }
        int takes = TAKES_NONE;
        if (end - w > 1 && end[-1] == '=') {
            takes = TAKES_VALUE;
            end--;
        } else if (end - w > 3 && strncmp(end - 3, "...", 3) == 0) {
            takes = TAKES_REST;
            end -= 3;
        }
        size_t n = (size_t)(end - w);
        if (n == 0 || n >= sizeof out->o[0].name || strcspn(w, "=|.") < n ||
            (letter && (letter == ':' || letter == '-' || letter == '?')))
            return -1;
        memcpy(out->o[out->n].name, w, n);
        out->o[out->n].name[n] = '\0';
        out->o[out->n].letter = letter;
        out->o[out->n].takes = takes;
        out->n++;
    }
    return 0;
}

int cli_template_count(const char *t)
{
    tmpl tp;
    return tmpl_parse(t, &tp) ? -1 : tp.n;
}

static int opt_index(const cli_args *a, const char *name)
{
    tmpl tp;
    if (tmpl_parse(a->cmd->options, &tp) == 0)
        for (int i = 0; i < tp.n; i++)
            if (strcmp(tp.o[i].name, name) == 0)
                return i;
    /* a name that is not in the command's own template: a programming error */
    fprintf(stderr, "qianshou: internal error: `%s` has no option --%s\n", a->cmd->name, name);
    abort();
}

const char *cli_opt(const cli_args *a, const char *name)
{
    return a->opt[opt_index(a, name)];
}

bool cli_flag(const cli_args *a, const char *name)
{
    return a->opt[opt_index(a, name)] != NULL;
}

/* ---- dispatch ---------------------------------------------------------------- */

/* The options of argv[1..argc-1] (argv[0] the command's name) into a; the
 * positional arguments left in a->argv. Exit code (a usage error printed). */
static int parse_options(cli *c, const cli_cmd *cmd, int argc, char **argv, cli_args *a)
{
    tmpl tp;
    struct option lo[CLI_OPTS_MAX + 1];
    char so[2 + 2 * CLI_OPTS_MAX + 1];
    size_t ns = 0;
    int rest_opt = -1;
    if (tmpl_parse(cmd->options, &tp) != 0)
        return cli_fail(c, CLI_USAGE, "internal error: the options of `%s` are malformed",
                        cmd->name);
    so[ns++] = ':';
    for (int i = 0; i < tp.n; i++) {
        lo[i] = (struct option){tp.o[i].name,
                                tp.o[i].takes == TAKES_VALUE ? required_argument : no_argument,
                                NULL, tp.o[i].letter ? tp.o[i].letter : 256 + i};
        if (tp.o[i].letter) {
            so[ns++] = tp.o[i].letter;
            if (tp.o[i].takes == TAKES_VALUE)
                so[ns++] = ':';
        }
        if (tp.o[i].takes == TAKES_REST)
            rest_opt = i;
    }
    lo[tp.n] = (struct option){NULL, 0, NULL, 0};
    so[ns] = '\0';
    /* "--NAME..." ends the options: what follows it is its list */
    if (rest_opt >= 0) {
        char flag[48];
        snprintf(flag, sizeof flag, "--%s", tp.o[rest_opt].name);
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
            if (strcmp(argv[i], flag) == 0) {
                a->opt[rest_opt] = "";
                a->rest = argv + i + 1;
                a->nrest = argc - i - 1;
                argc = i;
                break;
            }
        }
    }
    optind = 0;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, so, lo, NULL)) != -1) {
        if (o == '?') {
            char shortname[3] = {'-', (char)optopt, '\0'};
            const char *bad = optopt > 0 && optopt < 256 ? shortname : argv[optind - 1];
            cli_usage(c, cmd->name, "unknown option %s", bad);
            print_usage(cmd, true);
            return CLI_USAGE;
        }
        if (o == ':') {
            cli_usage(c, cmd->name, "%s needs a value", argv[optind - 1]);
            print_usage(cmd, true);
            return CLI_USAGE;
        }
        for (int i = 0; i < tp.n; i++)
            if (o == lo[i].val)
                a->opt[i] = tp.o[i].takes == TAKES_VALUE ? optarg : "";
    }
    a->argv = argv + optind;
    a->argc = argc - optind;
    return 0;
}

static int count_error(cli *c, const cli_cmd *cmd, const cli_args *a)
{
    if (cmd->args_hint)
        cli_usage(c, cmd->name, "%s", cmd->args_hint);
    else if (a->argc > cmd->min_args)
        cli_usage(c, cmd->name, "unexpected \"%s\"", a->argv[cmd->max_args]);
    else
        cli_usage(c, cmd->name, "missing arguments");
    print_usage(cmd, true);
    return CLI_USAGE;
}

/* Run cmd on argv[0..argc-1], argv[0] its (last) name. */
static int dispatch(cli *c, const cli_cmd *cmd, int argc, char **argv)
{
    cli_args a = {.cmd = cmd};
    int rc;
    if (cli_wants_help(argc, argv)) {
        fputs(cmd->help, stdout);
        return CLI_OK;
    }
    if ((rc = parse_options(c, cmd, argc, argv, &a)))
        return rc;
    if (a.argc < cmd->min_args || (cmd->max_args != CLI_ARGS_ANY && a.argc > cmd->max_args))
        return count_error(c, cmd, &a);
    if (cmd->first == CLI_FIRST_KIND && a.argc > 0 && !(a.kind = cli_kind(c, a.argv[0], &rc)))
        return rc;
    if (cmd->first == CLI_FIRST_ID && a.argc > 0 &&
        (rc = records_parse_id(c, cmd->name, a.argv[0], a.id)))
        return rc;
    if (cmd->check && (rc = cmd->check(c, &a)))
        goto done;
    if (cmd->store == CLI_STORE_READ)
        rc = cli_open(c, &a.st);
    else if (cmd->store == CLI_STORE_WRITE)
        rc = cli_open_write(c, &a.st);
    if (rc)
        goto done;
    rc = cmd->exec(c, &a);
done:
    qs_store_close(a.st);
    if (a.ctx_free)
        a.ctx_free(a.ctx);
    return rc;
}

/* The first word of an entry's name: "conflicts" of "conflicts show". */
static bool group_is(const cli_cmd *cmd, const char *word)
{
    size_t n = strcspn(cmd->name, " ");
    return cmd->name[n] == ' ' && strlen(word) == n && strncmp(cmd->name, word, n) == 0;
}

/* "list, show or resolve": the subcommands of group word. */
static void subcommands(const char *word, char *out, size_t len)
{
    size_t have = 0, total = 0, k = 0;
    for (size_t i = 0; i < cli_ncommands; i++)
        total += group_is(cli_commands[i], word);
    out[0] = '\0';
    for (size_t i = 0; i < cli_ncommands && have < len; i++) {
        if (!group_is(cli_commands[i], word))
            continue;
        k++;
        int w = snprintf(out + have, len - have, "%s%s",
                         k == 1       ? ""
                         : k == total ? " or "
                                      : ", ",
                         cli_commands[i]->name + strlen(word) + 1);
        have += w > 0 ? (size_t)w : 0;
    }
}

static void print_group_usage(const char *word)
{
    bool first = true;
    for (size_t i = 0; i < cli_ncommands; i++)
        if (group_is(cli_commands[i], word)) {
            print_usage(cli_commands[i], first);
            first = false;
        }
}

int cli_run(cli *c, int argc, char **argv)
{
    const char *word = argv[0];
    bool group = false;
    const cli_cmd *first_of_group = NULL;
    for (size_t i = 0; i < cli_ncommands; i++) {
        const cli_cmd *cmd = cli_commands[i];
        if (group_is(cmd, word)) {
            group = true;
            first_of_group = first_of_group ? first_of_group : cmd;
            if (argc > 1 && strcmp(cmd->name + strlen(word) + 1, argv[1]) == 0)
                return dispatch(c, cmd, argc - 1, argv + 1);
        }
    }
    /* a word of a group followed by a word that is none of its subcommands */
    if (group && argc > 1 && argv[1][0] != '-') {
        char subs[256];
        if (cli_wants_help(argc, argv)) {
            fputs(first_of_group->help, stdout);
            return CLI_OK;
        }
        subcommands(word, subs, sizeof subs);
        cli_usage(c, word, "\"%s\" is not %s", argv[1], subs);
        print_group_usage(word);
        return CLI_USAGE;
    }
    for (size_t i = 0; i < cli_ncommands; i++) {
        const cli_cmd *cmd = cli_commands[i];
        if (strcmp(cmd->name, word) == 0 || (cmd->alias && strcmp(cmd->alias, word) == 0))
            return dispatch(c, cmd, argc, argv);
    }
    if (group) {
        char subs[256];
        if (cli_wants_help(argc, argv)) {
            fputs(first_of_group->help, stdout);
            return CLI_OK;
        }
        subcommands(word, subs, sizeof subs);
        cli_usage(c, word, "say which: %s", subs);
        print_group_usage(word);
        return CLI_USAGE;
    }
    if (word[0] == '-')
        return cli_fail(c, CLI_USAGE, "unknown option %s (see `qianshou --help`)", word);
    return cli_fail(c, CLI_USAGE, "there is no command \"%s\" (see `qianshou --help`)", word);
}
