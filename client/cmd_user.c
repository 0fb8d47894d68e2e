/*
 * cmd_user.c — user add|passwd|disable|enable|role|list: the local accounts of
 * the browser interface (store/users.h). The password is read from the
 * terminal without echo (twice), or, when standard input is not a terminal,
 * as its first line (for scripts: `printf '%s\n' "$PW" | qianshou user add …`);
 * it is never taken on the command line, where `ps` would show it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "client/cli.h"
#include "proto/clock.h"
#include "store/users.h"

static const char HELP[] =
    "usage: qianshou user add NAME --role clerk|viewer|admin\n"
    "       qianshou user passwd NAME\n"
    "       qianshou user disable NAME | enable NAME\n"
    "       qianshou user role NAME clerk|viewer|admin\n"
    "       qianshou user list\n"
    "\n"
    "Accounts of the browser interface (qianshou-web) on this node only: they\n"
    "are never synced. clerk: records, imports, conflicts; viewer: reads only;\n"
    "admin: everything, and the users page. A password has at least 10\n"
    "characters; it is read from the terminal (asked twice), or as the first\n"
    "line of standard input when that is not a terminal. Five wrong passwords\n"
    "in a row lock an account for 15 minutes; `passwd` unlocks it.\n";

/* One line from stdin, echo off on a terminal. 0 or -1. */
static int read_line(const char *prompt, char *buf, size_t n)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fputs(prompt, stderr);
        fflush(stderr);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(buf, (int)n, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!got)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* The new password into pw (QS_PW_MAX_LEN + 2 bytes), checked. Exit code. */
static int new_password(cli *c, const char *user, char *pw, size_t n)
{
    char again[QS_PW_MAX_LEN + 2];
    qs_err e = {0};
    if (read_line("new password: ", pw, n) != 0)
        return cli_fail(c, CLI_USAGE, "no password given on standard input");
    if (isatty(STDIN_FILENO)) {
        if (read_line("the same again: ", again, sizeof again) != 0 || strcmp(pw, again) != 0) {
            explicit_bzero(again, sizeof again);
            return cli_fail(c, CLI_USAGE, "the two passwords differ; nothing was changed");
        }
        explicit_bzero(again, sizeof again);
    }
    if (qs_password_check(user, pw, &e) != 0)
        return cli_fail(c, CLI_DATA, "%s", e.msg);
    return 0;
}

static int list_users(cli *c, qs_store *st)
{
    qs_user *u;
    size_t n;
    qs_err e = {0};
    if (qs_users_list(st, &u, &n, &e) != 0)
        return cli_fail_err(c, &e);
    int64_t now = qs_clock_wall_ms();
    printf("%-20s %-8s %-10s %s\n", "user", "role", "state", "last login");
    for (size_t i = 0; i < n; i++) {
        char when[32] = "never";
        if (u[i].last_login_ms) {
            time_t t = (time_t)(u[i].last_login_ms / 1000);
            struct tm tm;
            localtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        }
        const char *state = u[i].disabled             ? "disabled"
                            : u[i].locked_until > now ? "locked"
                                                      : "active";
        printf("%-20s %-8s %-10s %s\n", u[i].name, qs_user_role_name(u[i].role), state, when);
    }
    printf("(%zu users)\n", n);
    free(u);
    return CLI_OK;
}

static int user_exec(cli *c, cli_args *a)
{
    qs_store *st = a->st;
    qs_err e = {0};
    char pw[QS_PW_MAX_LEN + 2];
    int rc = CLI_OK;
    const char *sub = a->argv[0];
    const char *name = a->argc > 1 ? a->argv[1] : NULL;
    const char *role_opt = cli_opt(a, "role");
    bool is_list = strcmp(sub, "list") == 0;
    if (is_list ? a->argc != 1 : !name)
        return cli_usage(c, "user", "`user %s` %s", sub,
                         is_list ? "takes no user name" : "needs a user name");
    if (qs_users_init(st, &e) != 0)
        return cli_fail_err(c, &e);
    if (is_list) {
        rc = list_users(c, st);
    } else if (strcmp(sub, "add") == 0) {
        qs_user_role role = role_opt ? qs_user_role_parse(role_opt) : 0;
        if (!role)
            return cli_usage(c, "user", "`user add` needs --role clerk, viewer or admin");
        if (qs_user_name_check(name, &e) != 0)
            return cli_fail(c, CLI_DATA, "%s", e.msg);
        if ((rc = new_password(c, name, pw, sizeof pw)))
            goto done;
        if (qs_user_add(st, name, role, pw, &e) != 0) {
            rc = cli_fail_err(c, &e);
            goto done;
        }
        qs_audit_add(st, qs_clock_wall_ms(), name, "user_add", NULL, qs_user_role_name(role), NULL);
        printf("added %s (%s)\n", name, qs_user_role_name(role));
    } else if (strcmp(sub, "passwd") == 0) {
        qs_user u;
        if (qs_user_get(st, name, &u, &e) != 0)
            return cli_fail_err(c, &e);
        if ((rc = new_password(c, name, pw, sizeof pw)))
            goto done;
        if (qs_user_passwd(st, name, pw, &e) != 0) {
            rc = cli_fail_err(c, &e);
            goto done;
        }
        qs_audit_add(st, qs_clock_wall_ms(), name, "passwd", NULL, "from the command line", NULL);
        printf("new password set for %s\n", name);
    } else if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
        bool off = strcmp(sub, "disable") == 0;
        if (qs_user_set_disabled(st, name, off, &e) != 0)
            return cli_fail_err(c, &e);
        qs_audit_add(st, qs_clock_wall_ms(), name, sub, NULL, "from the command line", NULL);
        printf("%s %s\n", name, off ? "disabled: it can no longer sign in" : "enabled");
    } else if (strcmp(sub, "role") == 0) {
        qs_user_role role = a->argc > 2 ? qs_user_role_parse(a->argv[2]) : 0;
        if (!role)
            return cli_usage(c, "user", "`user role NAME` needs clerk, viewer or admin");
        if (qs_user_set_role(st, name, role, &e) != 0)
            return cli_fail_err(c, &e);
        qs_audit_add(st, qs_clock_wall_ms(), name, "role", NULL, qs_user_role_name(role), NULL);
        printf("%s is now %s\n", name, qs_user_role_name(role));
    } else {
        return cli_usage(c, "user",
                         "unknown subcommand %s (add, passwd, disable, enable, role, list)", sub);
    }
    return rc;
done:
    explicit_bzero(pw, sizeof pw);
    return rc;
}

const cli_cmd cli_cmd_user = {
    .name = "user",
    .options = "role=",
    .usage = "add NAME --role clerk|viewer|admin\npasswd NAME\ndisable NAME | enable NAME\n"
             "role NAME clerk|viewer|admin\nlist",
    .summary = "accounts of the browser interface (qianshou-web), never synced",
    .help = HELP,
    .args_hint = "give a subcommand (add, passwd, disable, enable, role, list) and a user name",
    .min_args = 1,
    .max_args = 3,
    .store = CLI_STORE_READ, /* users, not records: nothing stamped by the clock */
    .exec = user_exec,
};
