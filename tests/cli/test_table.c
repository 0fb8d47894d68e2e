/*
 * test_table.c — qianshou's command table and its dispatcher (client/cmd.c),
 * every entry in turn: its help, its options template, a wrong number of
 * arguments and an unknown option (exit 1 with the command's usage), a
 * missing store (exit 3 for the commands that need one), and a good command
 * line on a real store (the exit code it should have). Each command line runs
 * cli_run in a child process, its stdout and stderr caught in files.
 *
 * A new command needs a line in SAMPLES below: the test fails until it has one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/cli.h"

#define ID "01890a5d-ac96-774b-bcce-b302099a8057"

/* A good command line for each entry ("@" = the test's directory), and its
 * exit code on a fresh aggregator store that holds one county record. */
static const struct sample {
    const char *name;
    const char *line;
    int rc;
} SAMPLES[] = {
    {"init", "init --node 630000 --role aggregator", 0}, /* the store is there: nothing to do */
    {"schema", "schema county", 0},
    {"add", "add county code=632323 name=同仁县 prefecture=黄南藏族自治州 townships=12", 0},
    {"edit", "edit " ID " name=x", 2}, /* no such record */
    {"delete", "delete " ID, 2},
    {"show", "show " ID " --history", 2},
    {"list", "list county --limit 5", 0},
    {"import", "import county @/county.csv", 0},
    {"export", "export county --format json -o @/out.json", 0},
    {"conflicts list", "conflicts list", 0},
    {"conflicts show", "conflicts show " ID, 2},
    {"conflicts resolve", "conflicts resolve " ID " --set name=x", 2},
    {"digest", "digest --scope 630000", 0},
    {"check", "check", 0},
    {"backup", "backup -o @/backup.db", 0},
    {"restore", "restore @/backup.db", 0},
    {"sync", "sync --timeout 5", 3}, /* no qianshoud */
    {"status", "status", 3},         /* no qianshoud */
    {"report annual", "report annual --year 2024 --format csv -o @/r.csv", 0},
    {"nodes", "nodes --stale 3d", 4}, /* the county never synced: stale */
    {"metrics", "metrics", 0},
    {"user", "user list", 0},
    {"migrate", "migrate --to postgresql --conninfo host=@/nopg", 3}, /* no server there */
};

static char dir[64];   /* the test's directory */
static char store[96]; /* an aggregator's store in it */

typedef struct result {
    int rc;
    char out[16384], err[16384];
} result;

static void slurp(FILE *fp, char *buf, size_t n)
{
    rewind(fp);
    size_t got = fread(buf, 1, n - 1, fp);
    buf[got] = '\0';
    fclose(fp);
}

/* Run `qianshou [-d data] LINE` (words split at spaces, "@" the test's
 * directory) through cli_run in a child process. */
static void run(const char *data, bool json, const char *line, result *r)
{
    char words[1024], *argv[64];
    int argc = 0;
    size_t n = 0;
    for (const char *p = line; *p && n + sizeof dir < sizeof words; p++) {
        if (*p == '@') {
            memcpy(words + n, dir, strlen(dir));
            n += strlen(dir);
        } else {
            words[n++] = *p;
        }
    }
    words[n] = '\0';
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w && argc < 63;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fileno(out), STDOUT_FILENO);
        dup2(fileno(err), STDERR_FILENO);
        cli c = {.dir = data, .json = json};
        int rc = cli_run(&c, argc, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    r->rc = WEXITSTATUS(status);
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
}

static const struct sample *sample_of(const cli_cmd *cmd)
{
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++)
        if (strcmp(SAMPLES[i].name, cmd->name) == 0)
            return &SAMPLES[i];
    fail_msg("the entry \"%s\" has no sample command line in tests/cli/test_table.c", cmd->name);
    return NULL;
}

/* "NAME x x x" with n positional arguments. */
static void with_args(const cli_cmd *cmd, int n, char *buf, size_t len)
{
    size_t have = (size_t)snprintf(buf, len, "%s", cmd->name);
    for (int i = 0; i < n && have + 3 < len; i++)
        have += (size_t)snprintf(buf + have, len - have, " x");
}

static void has_usage(const cli_cmd *cmd, const result *r)
{
    char want[128];
    snprintf(want, sizeof want, "usage: qianshou %s", cmd->name);
    if (!strstr(r->err, want))
        fail_msg("`%s`: stderr lacks \"%s\":\n%s", cmd->name, want, r->err);
    snprintf(want, sizeof want, "(see `qianshou %s --help`)", cmd->name);
    if (!strstr(r->err, want))
        fail_msg("`%s`: stderr lacks \"%s\":\n%s", cmd->name, want, r->err);
}

/* Every entry is complete, its name unique, its template well formed, and
 * `qianshou --help` lists it. */
static void test_entries(void **state)
{
    (void)state;
    char *all = NULL;
    size_t alln = 0;
    FILE *fp = open_memstream(&all, &alln);
    cli_help_all(fp);
    fclose(fp);
    assert_true(cli_ncommands >= 20);
    for (size_t i = 0; i < cli_ncommands; i++) {
        const cli_cmd *cmd = cli_commands[i];
        assert_non_null(cmd->name);
        assert_non_null(cmd->usage);
        assert_non_null(cmd->help);
        assert_non_null(cmd->exec);
        assert_non_null(cmd->summary);
        /* the help starts with the usage of the command's first word */
        char want[64];
        snprintf(want, sizeof want, "usage: qianshou %.*s", (int)strcspn(cmd->name, " "),
                 cmd->name);
        if (strncmp(cmd->help, want, strlen(want)) != 0)
            fail_msg("the help of `%s` does not start with \"%s\"", cmd->name, want);
        if (cli_template_count(cmd->options) < 0)
            fail_msg("the options template of `%s` is malformed: \"%s\"", cmd->name, cmd->options);
        assert_true(cmd->min_args >= 0);
        assert_true(cmd->max_args == CLI_ARGS_ANY || cmd->max_args >= cmd->min_args);
        snprintf(want, sizeof want, "\n  %s", cmd->name);
        const char *at = strstr(all, want);
        if (!at || (at[strlen(want)] != ' ' && at[strlen(want)] != '\n'))
            fail_msg("`qianshou --help` does not list `%s`", cmd->name);
        for (size_t j = 0; j < i; j++) {
            const cli_cmd *o = cli_commands[j];
            assert_string_not_equal(o->name, cmd->name);
            assert_false(o->alias && strcmp(o->alias, cmd->name) == 0);
            assert_false(cmd->alias && strcmp(cmd->alias, o->name) == 0);
        }
        sample_of(cmd);
    }
    /* the template checker refuses what it should */
    assert_int_equal(cli_template_count(NULL), 0);
    assert_int_equal(cli_template_count("o|output= bom set..."), 3);
    assert_int_equal(cli_template_count("="), -1);
    assert_int_equal(cli_template_count("a=b"), -1);
    assert_int_equal(cli_template_count("a b c d e f g h i j k l m n o p q"), -1);
    free(all);
}

/* NAME --help, anywhere on the line: the entry's help on stdout, exit 0. */
static void test_help(void **state)
{
    (void)state;
    result *r = malloc(sizeof *r);
    for (size_t i = 0; i < cli_ncommands; i++) {
        const cli_cmd *cmd = cli_commands[i];
        char line[128];
        snprintf(line, sizeof line, "%s --help", cmd->name);
        run("/nonexistent", false, line, r);
        assert_int_equal(r->rc, CLI_OK);
        assert_string_equal(r->out, cmd->help);
        snprintf(line, sizeof line, "%s --no-such-option x -h", cmd->name);
        run("/nonexistent", false, line, r);
        assert_int_equal(r->rc, CLI_OK);
        assert_string_equal(r->out, cmd->help);
    }
    free(r);
}

/* Too few or too many arguments, an unknown option, an option without its
 * value: exit 1, the sentence and the command's usage on stderr, nothing on
 * stdout; with --json the error as JSON. Before any store is looked at. */
static void test_usage_errors(void **state)
{
    (void)state;
    result *r = malloc(sizeof *r);
    int counted = 0;
    for (size_t i = 0; i < cli_ncommands; i++) {
        const cli_cmd *cmd = cli_commands[i];
        char line[256];
        if (cmd->max_args != CLI_ARGS_ANY) {
            with_args(cmd, cmd->max_args + 1, line, sizeof line);
            run("/nonexistent", false, line, r);
            if (r->rc != CLI_USAGE)
                fail_msg("`%s` exited %d:\n%s", line, r->rc, r->err);
            has_usage(cmd, r);
            assert_string_equal(r->out, "");
            counted++;
        }
        if (cmd->min_args > 0) {
            with_args(cmd, cmd->min_args - 1, line, sizeof line);
            run("/nonexistent", true, line, r);
            if (r->rc != CLI_USAGE)
                fail_msg("`%s` exited %d:\n%s", line, r->rc, r->err);
            has_usage(cmd, r);
            assert_non_null(strstr(r->out, "\"exit\": 1"));
            counted++;
        }
        snprintf(line, sizeof line, "%s --no-such-option", cmd->name);
        run("/nonexistent", false, line, r);
        assert_int_equal(r->rc, CLI_USAGE);
        assert_non_null(strstr(r->err, "unknown option --no-such-option"));
        has_usage(cmd, r);
        /* every option that takes a value, given none */
        const char *t = cmd->options ? cmd->options : "";
        while (*t) {
            t += strspn(t, " ");
            size_t n = strcspn(t, " ");
            if (n > 1 && t[n - 1] == '=') {
                const char *w = n > 2 && t[1] == '|' ? t + 2 : t;
                snprintf(line, sizeof line, "%s --%.*s", cmd->name, (int)(t + n - 1 - w), w);
                run("/nonexistent", false, line, r);
                if (r->rc != CLI_USAGE || !strstr(r->err, "needs a value"))
                    fail_msg("`%s` exited %d:\n%s", line, r->rc, r->err);
                has_usage(cmd, r);
            }
            t += n;
        }
    }
    assert_true(counted > 20);
    /* a command or an option that is not there */
    run("/nonexistent", false, "frobnicate", r);
    assert_int_equal(r->rc, CLI_USAGE);
    assert_string_equal(r->err,
                        "qianshou: there is no command \"frobnicate\" (see `qianshou --help`)\n");
    run("/nonexistent", false, "--bogus", r);
    assert_int_equal(r->rc, CLI_USAGE);
    /* a word with subcommands: none, or one it does not have */
    run("/nonexistent", false, "report", r);
    assert_int_equal(r->rc, CLI_USAGE);
    assert_non_null(strstr(r->err, "usage: qianshou report annual"));
    run("/nonexistent", false, "conflicts bogus", r);
    assert_int_equal(r->rc, CLI_USAGE);
    assert_non_null(strstr(r->err, "\"bogus\" is not list, show or resolve"));
    assert_non_null(strstr(r->err, "qianshou conflicts resolve ID"));
    /* a first argument that is not what the entry says: a kind, an id */
    run("/nonexistent", false, "list nosuchkind", r);
    assert_int_equal(r->rc, CLI_USAGE);
    assert_non_null(strstr(r->err, "the kinds are:"));
    run("/nonexistent", false, "show not-an-id", r);
    assert_int_equal(r->rc, CLI_USAGE);
    assert_non_null(strstr(r->err, "is not a record id"));
    /* "--set ..." takes the rest of the line, and needs something there */
    run("/nonexistent", false, "conflicts resolve " ID " --set", r);
    assert_int_equal(r->rc, CLI_USAGE);
    assert_non_null(strstr(r->err, "--set needs at least one FIELD=VALUE"));
    run("/nonexistent", false, "conflicts resolve " ID " --take 1 --set a=1", r);
    assert_int_equal(r->rc, CLI_USAGE);
    free(r);
}

/* The good line of every command that needs a store, without one: exit 3
 * and the way out (init); one that opens none does not say so. */
static void test_no_store(void **state)
{
    (void)state;
    result *r = malloc(sizeof *r);
    char none[128];
    snprintf(none, sizeof none, "%s/none", dir);
    for (size_t i = 0; i < cli_ncommands; i++) {
        const cli_cmd *cmd = cli_commands[i];
        const struct sample *s = sample_of(cmd);
        if (cmd->store == CLI_STORE_NONE)
            continue;
        run(none, false, s->line, r);
        if (r->rc != CLI_ENV || !strstr(r->err, "init --node CODE"))
            fail_msg("`%s` without a store exited %d:\n%s", s->line, r->rc, r->err);
    }
    run(none, false, "schema", r);
    assert_int_equal(r->rc, CLI_OK);
    free(r);
}

/* Every sample on a real store: the dispatcher takes the line and the
 * command does what it says. */
static void test_samples(void **state)
{
    (void)state;
    result *r = malloc(sizeof *r);
    for (size_t i = 0; i < cli_ncommands; i++) {
        const struct sample *s = sample_of(cli_commands[i]);
        run(store, false, s->line, r);
        if (r->rc != s->rc)
            fail_msg("`%s` exited %d, not %d:\nstdout: %s\nstderr: %s", s->line, r->rc, s->rc,
                     r->out, r->err);
    }
    /* the options reached exec: --limit 1 lists one of the three counties */
    run(store, true, "list county --limit 1", r);
    assert_int_equal(r->rc, CLI_OK);
    assert_non_null(strstr(r->out, "\"kind\": \"county\""));
    assert_null(strstr(strstr(r->out, "\"kind\"") + 1, "\"kind\""));
    /* "conflicts" alone is "conflicts list" */
    run(store, false, "conflicts", r);
    assert_int_equal(r->rc, CLI_OK);
    assert_string_equal(r->out, "no open conflicts\n");
    free(r);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/qs-test-table.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(store, sizeof store, "%s/p", dir);
    char path[128];
    snprintf(path, sizeof path, "%s/county.csv", dir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    fputs("code,name,prefecture,townships\n632324,河南蒙古族自治县,黄南藏族自治州,6\n", fp);
    fclose(fp);
    result *r = malloc(sizeof *r);
    run(store, false, "init --node 630000 --role aggregator", r);
    int rc = r->rc;
    if (rc == 0) {
        run(store, false,
            "add county code=632322 name=尖扎县 prefecture=黄南藏族自治州 townships=9", r);
        rc = r->rc;
    }
    free(r);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries),      cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors), cmocka_unit_test(test_no_store),
        cmocka_unit_test(test_samples),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
