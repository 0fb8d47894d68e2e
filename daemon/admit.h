/*
 * admit.h — admission to the store thread: at most `max` messages of all
 * connections together are with it; a connection with one more waits its
 * turn, first come first served.
 *
 * Why: each connection has at most one message with the store thread, but
 * with hundreds of counties syncing at once that made hundreds of decoded
 * batches (~0.5 MiB each) queued at once: the aggregator's memory grew with
 * the number of counties (215 MiB at 300; 128 MiB with max = 16). Sixteen
 * queued messages still give the store thread several batches to apply in
 * one transaction.
 *
 * No I/O and no libuv: the owner (link.c) embeds a qs_admit_waiter in each
 * connection, asks qs_admit_must_wait before it hands a message over, calls
 * qs_admit_take when it does and qs_admit_done when the message is back
 * (however its job ended), and then lets the waiting in with
 * qs_admit_next. One thread (the loop's); nothing here allocates.
 */
#ifndef QS_ADMIT_H
#define QS_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct qs_admit_waiter {
    struct qs_admit_waiter *prev, *next;
    bool waiting;
} qs_admit_waiter;

typedef struct qs_admit {
    unsigned max;      /* messages with the store thread at most (>= 1) */
    unsigned inflight; /* messages with it now */
    bool admitting;    /* inside a qs_admit_next round: its waiter goes first */
    qs_admit_waiter *head, *tail;
    uint64_t waits;        /* turns waited (qs_admit_wait that queued) */
    uint64_t max_inflight; /* most messages with the store thread at once */
} qs_admit;

void qs_admit_init(qs_admit *a, unsigned max);

/* Must w wait before it hands the store thread a message? While it is
 * queued already, while the store thread has max, and behind the others
 * waiting — unless a qs_admit_next round is letting w in. */
bool qs_admit_must_wait(const qs_admit *a, const qs_admit_waiter *w);

/* Queue w at the end (no-op when queued). */
void qs_admit_wait(qs_admit *a, qs_admit_waiter *w);
/* Take w out of the queue (no-op when not queued): it closed, or gave up. */
void qs_admit_leave(qs_admit *a, qs_admit_waiter *w);

/* A message goes to / comes back from the store thread. */
void qs_admit_take(qs_admit *a);
void qs_admit_done(qs_admit *a);

/* A round of letting the waiting in: between begin and end, call
 * qs_admit_next until it returns NULL; each waiter it returns is out of the
 * queue and may hand its message over (qs_admit_must_wait says no for it). */
void qs_admit_begin(qs_admit *a);
qs_admit_waiter *qs_admit_next(qs_admit *a);
void qs_admit_end(qs_admit *a);

#endif
