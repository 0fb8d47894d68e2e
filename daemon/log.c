/* log.c — see log.h. */
#include "daemon/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int g_level = QS_LOG_INFO;

void qs_log_set_level(int level)
{
    g_level = level;
}

int qs_log_parse_level(const char *s)
{
    static const struct { const char *name; int level; } names[] = {
        {"debug", QS_LOG_DEBUG}, {"info", QS_LOG_INFO},   {"warn", QS_LOG_WARN},
        {"warning", QS_LOG_WARN}, {"error", QS_LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].level;
    return -1;
}

void qs_log(int level, const char *component, const char *fmt, ...)
{
    static const char *const tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < g_level || level < 0 || level > QS_LOG_ERROR)
        return;
    char msg[1024], ts[32] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line per event: a newline inside a message would split it. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (isatty(STDERR_FILENO)) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S ", &tm);
    }
    fprintf(stderr, "%s%s %s: %s\n", ts, tags[level], component, msg);
}

void qs_log_iso(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
