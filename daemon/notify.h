/*
 * notify.h — telling systemd how the daemon is doing (sd_notify(3)), for
 * Type=notify units with a watchdog:
 *
 *   READY=1     once the store is open and the listener and the control socket
 *               are up (qs_notify_ready);
 *   WATCHDOG=1  from a libuv timer every WATCHDOG_USEC / 2, when systemd set
 *               WATCHDOG_USEC for this process (WatchdogSec= in the unit); the
 *               timer runs on the loop, so a loop that hangs stops the pings and
 *               systemd restarts the daemon;
 *   STOPPING=1  when a stop begins (qs_notify_stopping).
 *
 * Without NOTIFY_SOCKET in the environment (not started by systemd) every call
 * is a no-op. The protocol is spoken directly (no libsystemd); a socket that is
 * gone or refuses is logged at READY and otherwise ignored.
 *
 * The state is the process's (one daemon per process); loop thread only.
 */
#ifndef QS_NOTIFY_H
#define QS_NOTIFY_H

#include <uv.h>

/* Send READY=1 (with a STATUS= line) and start the watchdog timer on loop if
 * systemd asked for one. The timer is unreferenced: it never keeps the loop
 * alive on its own. Call once. */
void qs_notify_ready(uv_loop_t *loop, const char *status);

/* Send STOPPING=1 and close the watchdog timer (so the loop can end). Safe to
 * call before qs_notify_ready or more than once. */
void qs_notify_stopping(void);

#endif
