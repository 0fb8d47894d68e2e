/* admit.c — see admit.h. */
#include "daemon/admit.h"

#include <stddef.h>

void qs_admit_init(qs_admit *a, unsigned max)
{
    *a = (qs_admit){.max = max ? max : 1};
}

static bool full(const qs_admit *a)
{
    return a->inflight >= a->max;
}

bool qs_admit_must_wait(const qs_admit *a, const qs_admit_waiter *w)
{
    return w->waiting || full(a) || (a->head && !a->admitting);
}

void qs_admit_wait(qs_admit *a, qs_admit_waiter *w)
{
    if (w->waiting)
        return;
    w->waiting = true;
    w->next = NULL;
    w->prev = a->tail;
    if (a->tail)
        a->tail->next = w;
    else
        a->head = w;
    a->tail = w;
    a->waits++;
}

void qs_admit_leave(qs_admit *a, qs_admit_waiter *w)
{
    if (!w->waiting)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        a->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        a->tail = w->prev;
    w->prev = w->next = NULL;
    w->waiting = false;
}

void qs_admit_take(qs_admit *a)
{
    if (++a->inflight > a->max_inflight)
        a->max_inflight = a->inflight;
}

void qs_admit_done(qs_admit *a)
{
    if (a->inflight > 0)
        a->inflight--;
}

void qs_admit_begin(qs_admit *a)
{
    a->admitting = true;
}

qs_admit_waiter *qs_admit_next(qs_admit *a)
{
    if (!a->head || full(a))
        return NULL;
    qs_admit_waiter *w = a->head;
    qs_admit_leave(a, w);
    return w;
}

void qs_admit_end(qs_admit *a)
{
    a->admitting = false;
}
