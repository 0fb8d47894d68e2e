/* notify.c — see notify.h. The protocol is systemd's documented, stable
 * notification protocol (sd_notify(3), "NOTIFY_SOCKET"): one datagram of
 * newline-separated KEY=VALUE lines to the AF_UNIX socket named by
 * NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Spoken here
 * directly: libsystemd would bring five more libraries (gcrypt, lzma, lz4,
 * cap, gpg-error) into a daemon that must stay small on an old office PC. */
#include "daemon/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/log.h"

static uv_timer_t watchdog;
static int watchdog_on;

/* 0, or -errno. Nothing to do (0) without NOTIFY_SOCKET. */
static int notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || n < 2 || n >= sizeof sa.sun_path)
        return -EINVAL;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract: the name is exactly n bytes */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* WATCHDOG_USEC when systemd set it for this very process (WATCHDOG_PID
 * absent or ours), else 0. */
static uint64_t watchdog_usec(void)
{
    const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    if (!us || !*us)
        return 0;
    if (pid && *pid) {
        char *end;
        long p = strtol(pid, &end, 10);
        if (*end || p != (long)getpid())
            return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(us, &end, 10);
    return errno || *end || us[0] == '-' ? 0 : (uint64_t)v;
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    notify("WATCHDOG=1");
}

static void watchdog_closed(uv_handle_t *h)
{
    (void)h;
}

void qs_notify_ready(uv_loop_t *loop, const char *status)
{
    if (!getenv("NOTIFY_SOCKET"))
        return;
    char msg[600];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
    int r = notify(msg);
    if (r < 0)
        qs_log(QS_LOG_WARN, "daemon", "could not tell systemd we are ready (NOTIFY_SOCKET: %s)",
               strerror(-r));
    uint64_t usec = watchdog_usec();
    if (usec > 0 && !watchdog_on) {
        uint64_t every_ms = usec / 2000;
        if (every_ms == 0)
            every_ms = 1;
        uv_timer_init(loop, &watchdog);
        uv_timer_start(&watchdog, on_watchdog, every_ms, every_ms);
        uv_unref((uv_handle_t *)&watchdog);
        watchdog_on = 1;
        notify("WATCHDOG=1");
        qs_log(QS_LOG_DEBUG, "daemon", "systemd watchdog: a ping every %llu ms",
               (unsigned long long)every_ms);
    }
}

void qs_notify_stopping(void)
{
    if (watchdog_on) {
        watchdog_on = 0;
        uv_close((uv_handle_t *)&watchdog, watchdog_closed);
    }
    notify("STOPPING=1");
}
