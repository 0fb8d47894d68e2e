/*
 * sched.h — the county scheduler's decisions, as pure functions: no I/O, no
 * clock reading, no libuv. main.c reads the times, feeds them in, and arms
 * its timers from the answers; tests/unit/test_sched.c checks them as tables.
 *
 * All times are milliseconds on one clock chosen by the caller (the daemon
 * uses the loop's monotonic time, so a wall-clock jump moves nothing).
 *
 * The triggers (README "Operating a county node", PROTOCOL-session.md
 * "Triggers"): start, local edits, every interval, the nightly time, a
 * retry after a failure (backoff), and a manual `sync`.
 */
#ifndef QS_SCHED_H
#define QS_SCHED_H

#include <stdbool.h>
#include <stdint.h>

/* Why a sync starts (status "next_reason"/"reason"). */
enum qs_sched_why {
    QS_WHY_NONE,
    QS_WHY_START,
    QS_WHY_EDIT,
    QS_WHY_INTERVAL,
    QS_WHY_NIGHTLY,
    QS_WHY_RETRY,
    QS_WHY_MANUAL,
};

/* "start", "edit", …; "none" for anything else. Static storage. */
const char *qs_sched_why_name(int why);

/* The quiet time after the last local edit before the sync that takes it up. */
#define QS_SCHED_SETTLE_MS 2000
/* Default for [upstream] edit_max_delay: the longest the first unsynced edit
 * waits while edits keep coming. */
#define QS_SCHED_EDIT_MAX_DELAY_S 30

/* When the sync after local edits is due: settle_ms after the last edit seen
 * (a debounce: a burst of edits makes one sync), but never later than
 * max_delay_ms after the first edit seen since the last sync started (a
 * county that writes every second still syncs). first <= last. */
int64_t qs_sched_edit_due(int64_t first_edit, int64_t last_edit, uint32_t settle_ms,
                          uint32_t max_delay_ms);

/* The triggers' due times (0 = not planned) and the link's state. */
typedef struct qs_sched_plan {
    bool syncing;    /* a sync is running ... */
    int current_why; /* ... and started for this reason */
    unsigned fails;  /* failed syncs in a row */
    int64_t retry, edit, interval, nightly;
} qs_sched_plan;

/* The next planned attempt: its time in *at (0 when none) and why (QS_WHY_*;
 * QS_WHY_NONE when none). During a sync: now, and why it started. While the
 * link is failing only the retry is planned: the other automatic triggers
 * are absorbed by it (qs_sched_runs). Of triggers due at the same time the
 * first of retry, edit, interval, nightly is named. */
int qs_sched_next(const qs_sched_plan *p, int64_t now, int64_t *at);

/* Whether a trigger starts a sync now, with the link failing `fails` times
 * in a row (and no sync running): a retry or a manual sync always does;
 * start, edit, interval and nightly do only while the link is not failing
 * (the planned retry syncs everything anyway). */
bool qs_sched_runs(unsigned fails, int why);

#endif
