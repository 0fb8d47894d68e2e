/*
 * test_sched.c — the county scheduler's decisions (daemon/sched.h) as tables:
 * when the sync after local edits is due (debounce with a limit: a county
 * writing every second must still sync), which trigger is next, and which
 * triggers a failing link absorbs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "daemon/sched.h"

#define S QS_SCHED_SETTLE_MS

/* Replay edits seen at the given times (ms, ascending, -1 ends) and return
 * the times the after-edit sync fires (each sync takes up every edit before
 * it), in out[], -1 terminated. The daemon does the same with its timer. */
static void replay(const int64_t *edits, uint32_t max_ms, int64_t *out, size_t cap)
{
    size_t n = 0;
    bool have = false;
    int64_t first = 0, last = 0, due = 0;
    for (size_t i = 0;; i++) {
        int64_t t = edits[i];
        if (have && (t < 0 || t >= due)) { /* the timer fires before this edit */
            assert_true(n + 1 < cap);
            out[n++] = due;
            have = false;
        }
        if (t < 0)
            break;
        if (!have) {
            have = true;
            first = t;
        }
        last = t;
        due = qs_sched_edit_due(first, last, S, max_ms);
    }
    out[n] = -1;
}

static void test_edit_due_table(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint32_t max_ms;
        int64_t edits[64];
        int64_t syncs[8];
    } t[] = {
        {"one edit: 2 s later", 30000, {0, -1}, {S, -1}},
        {"a burst makes one sync, 2 s after its last edit",
         30000,
         {0, 300, 900, 1500, -1},
         {1500 + S, -1}},
        {"two bursts apart", 30000, {0, 500, 10000, 10400, -1}, {500 + S, 10400 + S, -1}},
        {"an edit every second for 40 s: synced at 30 s, then 2 s after the last",
         30000,
         {0,     1000,  2000,  3000,  4000,  5000,  6000,  7000,  8000,  9000,  10000,
          11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000, 19000, 20000, 21000,
          22000, 23000, 24000, 25000, 26000, 27000, 28000, 29000, 30000, 31000, 32000,
          33000, 34000, 35000, 36000, 37000, 38000, 39000, 40000, -1},
         {30000, 40000 + S, -1}},
        {"an edit every 1.9 s (just inside the debounce)",
         10000,
         {0, 1900, 3800, 5700, 7600, 9500, 11400, 13300, -1},
         {10000, 13300 + S, -1}},
        {"the limit counts from the first edit after a sync",
         5000,
         {0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000, -1},
         {5000, 10000, 11000 + S, -1}},
        {"a limit below the debounce wins", 1000, {0, 500, -1}, {1000, -1}},
        {"an edit exactly when the sync is due goes to the next one",
         30000,
         {0, S, -1},
         {S, 2 * S, -1}},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t got[16];
        replay(t[i].edits, t[i].max_ms, got, 16);
        for (size_t k = 0;; k++) {
            if (got[k] != t[i].syncs[k])
                fail_msg("%s: sync %zu at %lld, want %lld", t[i].what, k, (long long)got[k],
                         (long long)t[i].syncs[k]);
            if (got[k] < 0)
                break;
        }
    }
}

static void test_next_table(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        qs_sched_plan p;
        int64_t at;
        int why;
    } t[] = {
        {"nothing planned", {0}, 0, QS_WHY_NONE},
        {"interval only", {.interval = 5000}, 5000, QS_WHY_INTERVAL},
        {"edit before interval", {.edit = 3000, .interval = 5000}, 3000, QS_WHY_EDIT},
        {"nightly first", {.edit = 9000, .interval = 8000, .nightly = 7000}, 7000, QS_WHY_NIGHTLY},
        {"a tie names the edit", {.edit = 5000, .interval = 5000}, 5000, QS_WHY_EDIT},
        {"syncing: now, and why it started",
         {.syncing = true, .current_why = QS_WHY_MANUAL, .interval = 5000},
         1000,
         QS_WHY_MANUAL},
        {"failing: only the retry",
         {.fails = 2, .retry = 9000, .edit = 3000, .interval = 4000},
         9000,
         QS_WHY_RETRY},
        {"failing, no retry armed: nothing", {.fails = 1, .edit = 3000}, 0, QS_WHY_NONE},
        {"a retry before the interval while up",
         {.retry = 2000, .interval = 4000},
         2000,
         QS_WHY_RETRY},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t at = -1;
        int why = qs_sched_next(&t[i].p, 1000, &at);
        if (at != t[i].at || why != t[i].why)
            fail_msg("%s: %s at %lld, want %s at %lld", t[i].what, qs_sched_why_name(why),
                     (long long)at, qs_sched_why_name(t[i].why), (long long)t[i].at);
    }
}

static void test_runs_table(void **state)
{
    (void)state;
    static const struct {
        unsigned fails;
        int why;
        bool runs;
    } t[] = {
        {0, QS_WHY_START, true},   {0, QS_WHY_EDIT, true},      {0, QS_WHY_INTERVAL, true},
        {0, QS_WHY_NIGHTLY, true}, {0, QS_WHY_MANUAL, true},    {0, QS_WHY_RETRY, true},
        {3, QS_WHY_EDIT, false},   {3, QS_WHY_INTERVAL, false}, {3, QS_WHY_NIGHTLY, false},
        {3, QS_WHY_START, false},  {3, QS_WHY_RETRY, true},     {3, QS_WHY_MANUAL, true},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (qs_sched_runs(t[i].fails, t[i].why) != t[i].runs)
            fail_msg("%s with %u failures: runs %d", qs_sched_why_name(t[i].why), t[i].fails,
                     !t[i].runs);
    assert_string_equal(qs_sched_why_name(QS_WHY_EDIT), "edit");
    assert_string_equal(qs_sched_why_name(99), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edit_due_table),
        cmocka_unit_test(test_next_table),
        cmocka_unit_test(test_runs_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
