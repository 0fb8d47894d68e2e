/* notify.c — see notify.h. */
#include "daemon/notify.h"

#include <stdint.h>
#include <stdlib.h>

#include "daemon/log.h"

#ifdef QS_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static uv_timer_t watchdog;
static int watchdog_on;

static void on_watchdog(uv_timer_t *t)
{
    sd_notify(0, "WATCHDOG=1");
}

static void watchdog_closed(uv_handle_t *h)
{
}

void qs_notify_ready(uv_loop_t *loop, const char *status)
{
    if (!getenv("NOTIFY_SOCKET"))
        return;
    int r = sd_notifyf(0, "READY=1\nSTATUS=%s", status);
    if (r < 0)
        qs_log(QS_LOG_WARN, "daemon", "could not tell systemd we are ready (sd_notify: error %d)",
               -r);
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0 && !watchdog_on) {
        uint64_t every_ms = usec / 2000;
        if (every_ms == 0)
            every_ms = 1;
        uv_timer_init(loop, &watchdog);
        uv_timer_start(&watchdog, on_watchdog, every_ms, every_ms);
        uv_unref((uv_handle_t *)&watchdog);
        watchdog_on = 1;
        sd_notify(0, "WATCHDOG=1");
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
    if (getenv("NOTIFY_SOCKET"))
        sd_notify(0, "STOPPING=1");
}

#else /* no libsystemd at build time */

void qs_notify_ready(uv_loop_t *loop, const char *status)
{
    if (getenv("NOTIFY_SOCKET"))
        qs_log(QS_LOG_WARN, "daemon", "NOTIFY_SOCKET is set but this qianshoud was built without "
               "libsystemd: use Type=simple in the unit, or rebuild with libsystemd-dev");
}

void qs_notify_stopping(void)
{
}

#endif
