#include "proto/clock.h"
#include "proto/testhook.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/err.h"

/* Larger shifts are surely typing errors: +-100 years. */
#define OFFSET_MAX_S (36500LL * 86400)

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static _Atomic int64_t offset_ms;

int qs_clock_parse_offset(const char *s, int64_t *ms)
{
    if (!s)
        return QS_EINVAL;
    const char *p = s;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9')
        return QS_EINVAL;
    int64_t n = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > OFFSET_MAX_S)
            return QS_EINVAL;
    }
    int64_t unit = 1;
    switch (*p) {
    case '\0':
        break;
    case 's':
        unit = 1;
        p++;
        break;
    case 'm':
        unit = 60;
        p++;
        break;
    case 'h':
        unit = 3600;
        p++;
        break;
    case 'd':
        unit = 86400;
        p++;
        break;
    default:
        return QS_EINVAL;
    }
    if (*p != '\0' || n > OFFSET_MAX_S / unit)
        return QS_EINVAL;
    *ms = sign * n * unit * 1000;
    return 0;
}

static void read_env(void)
{
    const char *v = qs_testhook_env(QS_HOOK_CLOCK_OFFSET);
    int64_t ms = 0;
    if (v && *v && qs_clock_parse_offset(v, &ms) != 0) {
        /* The clock must never fail: say so once and run unshifted. */
        fprintf(stderr,
                "qianshou: ignoring %s=\"%.40s\": expected signed seconds with an optional "
                "s/m/h/d suffix (e.g. +3600, -2d)\n",
                qs_testhook_name(QS_HOOK_CLOCK_OFFSET), v);
        ms = 0;
    }
    atomic_store(&offset_ms, ms);
}

int64_t qs_clock_offset_ms(void)
{
    pthread_once(&env_once, read_env);
    return atomic_load(&offset_ms);
}

void qs_clock_set_offset_ms(int64_t ms)
{
    pthread_once(&env_once, read_env); /* so a later first read cannot undo this */
    atomic_store(&offset_ms, ms);
}

int64_t qs_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + qs_clock_offset_ms();
}

time_t qs_clock_wall_time(void)
{
    int64_t ms = qs_clock_wall_ms();
    int64_t s = ms / 1000;
    if (ms % 1000 < 0)
        s--; /* floor before the epoch */
    return (time_t)s;
}

static void fmt_time(time_t t, char *out, size_t n)
{
    struct tm tm;
    if (t == 0 || !gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, n, "(unknown time)");
}

int qs_clock_check_window(time_t now, time_t not_before, time_t not_after, const char *node,
                          qs_err *e)
{
    if (not_before == 0 && not_after == 0)
        return 0;
    if (now >= not_before && now <= not_after)
        return 0;
    char tn[40], ta[40], tb[40];
    fmt_time(now, tn, sizeof tn);
    fmt_time(not_before, ta, sizeof ta);
    fmt_time(not_after, tb, sizeof tb);
    return qs_err_set(e, QS_ECLOCK,
                      "this machine's clock says %s, but our certificate (node %s) is valid "
                      "from %s to %s: check the clock (renew the certificate only if the "
                      "clock is right)",
                      tn, node, ta, tb);
}
