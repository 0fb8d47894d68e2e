/* log.c — see log.h. */
#include "daemon/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int g_level = QS_LOG_INFO;

static int g_stamp = -1; /* -1: not decided yet */
static int to_journal(void);

void qs_log_set_level(int level)
{
    g_level = level;
    /* decided here, at start, before any thread logs */
    g_stamp = !to_journal();
}

int qs_log_parse_level(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {
        {"debug", QS_LOG_DEBUG},  {"info", QS_LOG_INFO},   {"warn", QS_LOG_WARN},
        {"warning", QS_LOG_WARN}, {"error", QS_LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].level;
    return -1;
}

/* Whether stderr is the journal (systemd's JOURNAL_STREAM=DEV:INODE). */
static int to_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat sb;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &sb) != 0)
        return 0;
    return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

void qs_log(int level, const char *component, const char *fmt, ...)
{
    /* a program that never set the level decides now */
    if (g_stamp < 0)
        g_stamp = !to_journal();
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
    if (g_stamp) {
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
