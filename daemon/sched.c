/* sched.c — see sched.h. */
#include "daemon/sched.h"

const char *qs_sched_why_name(int why)
{
    static const char *const names[] = {"none",    "start", "edit",  "interval",
                                        "nightly", "retry", "manual"};
    return why >= 0 && why <= QS_WHY_MANUAL ? names[why] : "none";
}

int64_t qs_sched_edit_due(int64_t first_edit, int64_t last_edit, uint32_t settle_ms,
                          uint32_t max_delay_ms)
{
    int64_t settled = last_edit + settle_ms;
    int64_t latest = first_edit + max_delay_ms;
    return settled < latest ? settled : latest;
}

static void consider(int64_t due, int why, int64_t *at, int *best)
{
    if (due && (!*best || due < *at)) {
        *at = due;
        *best = why;
    }
}

int qs_sched_next(const qs_sched_plan *p, int64_t now, int64_t *at)
{
    int why = QS_WHY_NONE;
    *at = 0;
    if (p->syncing) {
        *at = now;
        return p->current_why;
    }
    consider(p->retry, QS_WHY_RETRY, at, &why);
    if (p->fails > 0)
        return why; /* the other triggers wait for the retry */
    consider(p->edit, QS_WHY_EDIT, at, &why);
    consider(p->interval, QS_WHY_INTERVAL, at, &why);
    consider(p->nightly, QS_WHY_NIGHTLY, at, &why);
    return why;
}

bool qs_sched_runs(unsigned fails, int why)
{
    return fails == 0 || why == QS_WHY_RETRY || why == QS_WHY_MANUAL;
}
