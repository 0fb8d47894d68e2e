/*
 * clock.h — the one wall-clock hook.
 *
 * Every reading of wall time in both binaries (HLC, scheduler, certificate
 * checks via X509_VERIFY_PARAM_set_time, report defaults) goes through here.
 * The environment variable QIANSHOU_CLOCK_OFFSET shifts the wall clock by a
 * signed number of seconds, with an optional unit suffix: s, m, h, d
 * ("+3600", "-2d", "90d"; at most 100 years either way). It is read once,
 * at the first call, thread-safely. A malformed value cannot make the clock
 * fail: one line naming the variable goes to stderr and the offset is 0. An
 * empty value means unset. Monotonic time (libuv timers) is never shifted.
 */
#ifndef QS_CLOCK_H
#define QS_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "proto/err.h"

/* Wall clock in milliseconds since the Unix epoch, shifted by the hook. */
int64_t qs_clock_wall_ms(void);
/* The same in seconds, as time_t (for X509_VERIFY_PARAM_set_time). */
time_t qs_clock_wall_time(void);
/* The offset in ms the hook applies (0 when unset). */
int64_t qs_clock_offset_ms(void);

/* Parse an offset like "+3600", "-2d", "12h", "90m", "30s" into ms: optional
 * sign, decimal digits, optional unit s/m/h/d, nothing else (no spaces).
 * Returns 0 or QS_EINVAL (*ms untouched). */
int qs_clock_parse_offset(const char *s, int64_t *ms);

/* The clock rule for a node's own certificate, shared by the daemon (at
 * start and before every sync) and the CLI (before it writes): 0 when
 * not_before <= now <= not_after, else QS_ECLOCK with the sentence
 * "this machine's clock says <now>, but our certificate (node <node>) is
 * valid from <a> to <b>: check the clock (renew the certificate only if the
 * clock is right)" in e. Times in seconds since the epoch (UTC). A window of
 * 0, 0 means unknown: 0. */
int qs_clock_check_window(time_t now, time_t not_before, time_t not_after, const char *node,
                          qs_err *e);

/* Tests only: replace the offset (overrides the environment). */
void qs_clock_set_offset_ms(int64_t ms);

#endif
