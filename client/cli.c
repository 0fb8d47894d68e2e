/*
 * cli.c — shared pieces of the commands: exit codes, error reporting, the
 * permission rules and opening the store.
 */
#include "client/cli.h"

#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/clock.h"
#include "proto/hlc.h"

int cli_exit_for(int code)
{
    switch (code) {
    case QS_OK:
        return CLI_OK;
    case QS_EIO:
    case QS_EFULL:
    case QS_EBUSY:
    case QS_EPERM:
    case QS_ETLS:
    case QS_ECLOCK:
    case QS_ECORRUPT:
    case QS_ESCHEMA:
        return CLI_ENV;
    default:
        return CLI_DATA;
    }
}

static int vfail(cli *c, int exit, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "qianshou: %s\n", msg);
    if (c && c->json) {
        json_t *o = json_pack("{s:s, s:i}", "error", msg, "exit", exit);
        if (o) {
            json_dumpf(o, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(o);
        }
    }
    return exit;
}

int cli_fail(cli *c, int exit, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(c, exit, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_fail_err(cli *c, const qs_err *e)
{
    if (e->code == QS_EFULL)
        return cli_fail(c, CLI_ENV, "%s — nothing was written; free some space (`df -h %s`)",
                        e->msg[0] ? e->msg : qs_strerror(e->code), c ? c->dir : ".");
    return cli_fail(c, cli_exit_for(e->code), "%s", e->msg[0] ? e->msg : qs_strerror(e->code));
}

int cli_usage(cli *c, const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cli_fail(c, CLI_USAGE, "%s (see `qianshou %s --help`)", msg, cmd ? cmd : "");
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qianshou: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

static const char *uname_of(uid_t uid, char *buf, size_t n)
{
    struct passwd *pw = getpwuid(uid);
    if (pw)
        snprintf(buf, n, "%s", pw->pw_name);
    else
        snprintf(buf, n, "uid %u", (unsigned)uid);
    return buf;
}

static const char *gname_of(gid_t gid, char *buf, size_t n)
{
    struct group *gr = getgrgid(gid);
    if (gr)
        snprintf(buf, n, "%s", gr->gr_name);
    else
        snprintf(buf, n, "gid %u", (unsigned)gid);
    return buf;
}

int cli_check_dir(cli *c, bool must_exist)
{
    struct stat sb;
    char owner[64], group[64], me[64];
    if (stat(c->dir, &sb) != 0) {
        if (errno == ENOENT && !must_exist)
            return 0;
        if (errno == ENOENT)
            return cli_fail(c, CLI_ENV,
                            "the data directory %s does not exist — create a store with "
                            "`qianshou -d %s init --node CODE --role county`, or give the right "
                            "directory with -d or QIANSHOU_DATA",
                            c->dir, c->dir);
        if (errno == EACCES)
            return cli_fail(c, CLI_ENV,
                            "you (%s) may not look into the directory that holds %s — ask an "
                            "administrator to add you to the qianshou group, then log in again",
                            uname_of(geteuid(), me, sizeof me), c->dir);
        return cli_fail(c, CLI_ENV, "cannot use the data directory %s: %s", c->dir,
                        strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return cli_fail(c, CLI_ENV, "%s is not a directory", c->dir);
    if (geteuid() == 0 && sb.st_uid != 0)
        return cli_fail(c, CLI_ENV,
                        "you are root, but the data directory %s belongs to %s: files root "
                        "creates there would lock out the daemon and the clerks — run qianshou "
                        "as a member of group %s instead (e.g. `runuser -u %s -- qianshou …`)",
                        c->dir, uname_of(sb.st_uid, owner, sizeof owner),
                        gname_of(sb.st_gid, group, sizeof group), owner);
    if (access(c->dir, R_OK | W_OK | X_OK) != 0)
        return cli_fail(c, CLI_ENV,
                        "you (%s) may not use the data directory %s: it belongs to %s, group "
                        "%s, mode %04o — ask an administrator to add you to group %s "
                        "(`adduser %s %s`), then log in again",
                        uname_of(geteuid(), me, sizeof me), c->dir,
                        uname_of(sb.st_uid, owner, sizeof owner),
                        gname_of(sb.st_gid, group, sizeof group), (unsigned)(sb.st_mode & 07777),
                        group, me, group);
    return 0;
}

int cli_open(cli *c, qs_store **st)
{
    int rc = cli_check_dir(c, true);
    if (rc)
        return rc;
    qs_store_opts o = qs_store_opts_default();
    o.dir = c->dir;
    o.user = c->user;
    qs_err err = {0};
    if ((rc = qs_store_open(&o, st, &err)) != 0) {
        /* No store, an unreadable file, a newer format: all environment. */
        return cli_fail(c, CLI_ENV, "%s", err.msg);
    }
    return 0;
}

static void fmt_ms(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, n, "(unknown time)");
}

int cli_check_clock(cli *c, qs_store *st)
{
    qs_err err = {0};
    int64_t nb, na;
    qs_store_info info;
    int rc = qs_store_cert_window(st, &nb, &na, &err);
    if (!rc)
        rc = qs_store_ident(st, &info, &err);
    if (rc)
        return cli_fail_err(c, &err);
    int64_t now = qs_clock_wall_ms();
    if (qs_clock_check_window(qs_clock_wall_time(), (time_t)nb, (time_t)na, info.node, &err))
        return cli_fail(c, CLI_ENV,
                        "%s; qianshoud refuses to run under this clock, so nothing "
                        "is written",
                        err.msg);
    qs_hlc last;
    if ((rc = qs_store_clock_last(st, &last, &err)))
        return cli_fail_err(c, &err);
    int64_t last_ms = qs_hlc_ms(last);
    if (last_ms - now > CLI_CLOCK_BACK_MS) {
        char tn[40], tl[40];
        fmt_ms(now, tn, sizeof tn);
        fmt_ms(last_ms, tl, sizeof tl);
        int64_t h = (last_ms - now) / 3600000;
        cli_warn("this machine's clock says %s, but this store's clock last read %s, %lld %s "
                 "later: either the clock went back (set it right) or it was ahead then; "
                 "what is written now is stamped after %s",
                 tn, tl, (long long)(h >= 48 ? h / 24 : h), h >= 48 ? "days" : "h", tl);
    }
    return 0;
}

int cli_open_write(cli *c, qs_store **st)
{
    int rc = cli_open(c, st);
    if (rc)
        return rc;
    if ((rc = cli_check_clock(c, *st))) {
        qs_store_close(*st);
        *st = NULL;
    }
    return rc;
}

const qs_kind *cli_kind(cli *c, const char *name, int *exit)
{
    const qs_kind *k = qs_schema_kind_by_name(name);
    if (k)
        return k;
    char list[512];
    size_t len = 0;
    list[0] = '\0';
    for (uint32_t i = 0; i < qs_schema_nkinds() && len < sizeof list; i++) {
        const qs_kind *x = qs_schema_kind_at(i);
        int w = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", x->name);
        len += w > 0 ? (size_t)w : 0;
    }
    *exit = cli_fail(c, CLI_USAGE, "there is no kind of record called \"%s\" — the kinds are: %s",
                     name, list);
    return NULL;
}
