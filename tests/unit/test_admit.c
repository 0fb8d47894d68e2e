/* test_admit.c — admission to the store thread (daemon/admit.h) as tables:
 * each step is an event, then what must hold after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/admit.h"

enum { TAKE, DONE, WAIT, LEAVE, ROUND };

typedef struct step {
    int ev, who;        /* who: waiter index for WAIT/LEAVE */
    unsigned inflight;  /* after the step */
    const char *queue;  /* waiters queued after the step, in order ("" = none) */
    const char *let_in; /* ROUND: who qs_admit_next returned, in order */
    unsigned must_wait; /* bit i: must waiter i wait now (outside a round)? */
} step;

static void run(unsigned max, const step *steps, size_t n)
{
    qs_admit a;
    qs_admit_init(&a, max);
    qs_admit_waiter w[4] = {{0}};
    for (size_t i = 0; i < n; i++) {
        const step *s = &steps[i];
        char got[8] = "";
        size_t ng = 0;
        switch (s->ev) {
        case TAKE:
            qs_admit_take(&a);
            break;
        case DONE:
            qs_admit_done(&a);
            break;
        case WAIT:
            qs_admit_wait(&a, &w[s->who]);
            break;
        case LEAVE:
            qs_admit_leave(&a, &w[s->who]);
            break;
        case ROUND: {
            qs_admit_begin(&a);
            qs_admit_waiter *x;
            while ((x = qs_admit_next(&a))) {
                int who = (int)(x - w);
                /* the one let in may hand over its message at once */
                if (qs_admit_must_wait(&a, x))
                    fail_msg("step %zu: waiter %d let in but told to wait", i, who);
                got[ng++] = (char)('0' + who);
                qs_admit_take(&a);
            }
            qs_admit_end(&a);
            break;
        }
        }
        if (s->ev == ROUND && strcmp(got, s->let_in) != 0)
            fail_msg("step %zu: let in \"%s\", want \"%s\"", i, got, s->let_in);
        char q[8] = "";
        size_t nq = 0;
        for (qs_admit_waiter *x = a.head; x; x = x->next)
            q[nq++] = (char)('0' + (int)(x - w));
        if (strcmp(q, s->queue) != 0)
            fail_msg("step %zu: queue \"%s\", want \"%s\"", i, q, s->queue);
        if (a.inflight != s->inflight)
            fail_msg("step %zu: inflight %u, want %u", i, a.inflight, s->inflight);
        for (int k = 0; k < 4; k++)
            if (qs_admit_must_wait(&a, &w[k]) != (bool)(s->must_wait >> k & 1))
                fail_msg("step %zu: waiter %d must_wait %d", i, k, !(s->must_wait >> k & 1));
    }
}

/* Two places: a third message waits; waiters go in first come first served,
 * and a newcomer does not overtake the queue even when there is room. */
static void test_fifo(void **state)
{
    (void)state;
    static const step t[] = {
        {TAKE, 0, 1, "", "", 0x0},    {TAKE, 0, 2, "", "", 0xf}, /* full: everyone waits */
        {WAIT, 2, 2, "2", "", 0xf},   {WAIT, 0, 2, "20", "", 0xf},
        {WAIT, 2, 2, "20", "", 0xf},  /* queued once */
        {DONE, 0, 1, "20", "", 0xf},  /* room, but behind the queue: 1 and 3 wait */
        {ROUND, 0, 2, "0", "2", 0xf}, /* 2 goes in; full again */
        {DONE, 0, 1, "0", "", 0xf},   {DONE, 0, 0, "0", "", 0xf},
        {ROUND, 0, 1, "", "0", 0x0}, /* queue empty: nobody waits */
    };
    run(2, t, sizeof t / sizeof t[0]);
}

/* A waiter that closes leaves the queue; the rest keep their order. */
static void test_leave(void **state)
{
    (void)state;
    static const step t[] = {
        {TAKE, 0, 1, "", "", 0xf},    {WAIT, 1, 1, "1", "", 0xf},
        {WAIT, 2, 1, "12", "", 0xf},  {WAIT, 3, 1, "123", "", 0xf},
        {LEAVE, 2, 1, "13", "", 0xf}, {LEAVE, 2, 1, "13", "", 0xf}, /* not queued: no-op */
        {DONE, 0, 0, "13", "", 0xf},  {ROUND, 0, 1, "3", "1", 0xf},
        {LEAVE, 3, 1, "", "", 0xf}, /* full still: all wait */
        {DONE, 0, 0, "", "", 0x0},
    };
    run(1, t, sizeof t / sizeof t[0]);
}

static void test_counters(void **state)
{
    (void)state;
    qs_admit a;
    qs_admit_init(&a, 0); /* 0 means 1 */
    assert_int_equal(a.max, 1);
    qs_admit_waiter w = {0};
    qs_admit_take(&a);
    qs_admit_wait(&a, &w);
    qs_admit_wait(&a, &w);
    assert_int_equal(a.waits, 1);
    qs_admit_take(&a); /* the owner may go past max (a job at shutdown) */
    assert_int_equal(a.max_inflight, 2);
    qs_admit_done(&a);
    qs_admit_done(&a);
    qs_admit_done(&a); /* never below zero */
    assert_int_equal(a.inflight, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_leave),
        cmocka_unit_test(test_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
