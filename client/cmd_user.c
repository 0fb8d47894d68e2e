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

int cmd_user(cli *c, int argc, char **argv)
{
    qs_store *st = NULL;
    qs_err e = {0};
    char pw[QS_PW_MAX_LEN + 2];
    int rc;
    if (cli_wants_help(argc, argv) || argc < 2) {
        fputs(HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    const char *name = argc > 2 ? argv[2] : NULL;
    bool is_list = strcmp(sub, "list") == 0;
    if (!is_list && !name)
        return cli_usage(c, "user", "`user %s` needs a user name", sub);
    if ((rc = cli_open(c, &st)))
        return rc;
    if (qs_users_init(st, &e) != 0) {
        rc = cli_fail_err(c, &e);
        goto done;
    }
    if (is_list) {
        rc = list_users(c, st);
    } else if (strcmp(sub, "add") == 0) {
        qs_user_role role = 0;
        for (int i = 3; i < argc; i++)
            if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
                role = qs_user_role_parse(argv[++i]);
            else if (strncmp(argv[i], "--role=", 7) == 0)
                role = qs_user_role_parse(argv[i] + 7);
            else {
                rc = cli_usage(c, "user", "unknown argument %s", argv[i]);
                goto done;
            }
        if (!role) {
            rc = cli_usage(c, "user", "`user add` needs --role clerk, viewer or admin");
            goto done;
        }
        if (qs_user_name_check(name, &e) != 0) {
            rc = cli_fail(c, CLI_DATA, "%s", e.msg);
            goto done;
        }
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
        if (qs_user_get(st, name, &u, &e) != 0) {
            rc = cli_fail_err(c, &e);
            goto done;
        }
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
        if (qs_user_set_disabled(st, name, off, &e) != 0) {
            rc = cli_fail_err(c, &e);
            goto done;
        }
        qs_audit_add(st, qs_clock_wall_ms(), name, sub, NULL, "from the command line", NULL);
        printf("%s %s\n", name, off ? "disabled: it can no longer sign in" : "enabled");
    } else if (strcmp(sub, "role") == 0) {
        qs_user_role role = argc > 3 ? qs_user_role_parse(argv[3]) : 0;
        if (!role) {
            rc = cli_usage(c, "user", "`user role NAME` needs clerk, viewer or admin");
            goto done;
        }
        if (qs_user_set_role(st, name, role, &e) != 0) {
            rc = cli_fail_err(c, &e);
            goto done;
        }
        qs_audit_add(st, qs_clock_wall_ms(), name, "role", NULL, qs_user_role_name(role), NULL);
        printf("%s is now %s\n", name, qs_user_role_name(role));
    } else {
        rc = cli_usage(c, "user",
                       "unknown subcommand %s (add, passwd, disable, enable, role, list)", sub);
    }
done:
    explicit_bzero(pw, sizeof pw);
    qs_store_close(st);
    return rc;
}
