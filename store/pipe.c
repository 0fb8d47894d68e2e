/*
 * pipe.c — new records in two threads, for bulk imports (see store.h,
 * qs_pipe_*). The caller's thread checks, encodes and seals each record; a
 * writer thread writes the sealed records, in order, into the caller's
 * all-or-nothing transaction. An import spent about half its time on either
 * side (parsing cells, validating, encoding and hashing against SQLite's
 * b-tree work), so on two cores the next rows are made while the last are
 * written.
 *
 * The two threads share a ring of slots. A slot is filled by the caller and
 * emptied (freed) by the caller too, when it comes round again: everything a
 * record owns is allocated and freed on one thread; the writer only reads.
 * The store itself is the writer's alone while the pipe runs, except the
 * clock, which is the caller's (loaded before the writer starts; only sealing
 * reads and advances it, and qs__tx_end writes it back at the commit).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "proto/xmalloc.h"
#include "store/internal.h"

#define PIPE_SLOTS 256
#define PIPE_WAKE 32

typedef struct slot {
    qs_record r;
    qs_body body;
} slot;

struct qs_pipe {
    qs_store *st;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t more; /* writer: something to write, or closing */
    pthread_cond_t room; /* caller: a slot was written */
    slot ring[PIPE_SLOTS];
    uint64_t put;     /* records queued (caller) */
    uint64_t written; /* records the writer is done with */
    bool closing;
    bool writer_waits, caller_waits;
    int rc; /* the writer's first failure: then nothing more is written */
    qs_err err;
};

static void *writer(void *arg)
{
    qs_pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->written == p->put && !p->closing) {
            p->writer_waits = true;
            pthread_cond_wait(&p->more, &p->mu);
            p->writer_waits = false;
        }
        uint64_t from = p->written, to = p->put;
        if (from == to) /* closing, all written */
            break;
        int rc = p->rc;
        pthread_mutex_unlock(&p->mu);
        qs_err e = {0};
        for (uint64_t i = from; i < to && !rc; i++) {
            slot *s = &p->ring[i % PIPE_SLOTS];
            rc = qs__create_write(p->st, &s->r, &s->body, &e);
        }
        pthread_mutex_lock(&p->mu);
        if (rc && !p->rc) {
            p->rc = rc;
            p->err = e;
        }
        p->written = to;
        if (p->caller_waits)
            pthread_cond_signal(&p->room);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int qs_pipe_start(qs_store *st, qs_pipe **out, qs_err *err)
{
    *out = NULL;
    if (st->pg)
        return 0; /* PostgreSQL: no writer thread, the caller writes (store.h) */
    if (!st->in_tx || !st->all_or_nothing)
        return qs_err_set(
            err, QS_EINVAL,
            "a pipe needs an all-or-nothing transaction (qs_store_begin_all_or_nothing)");
    qs__clock_load(st);                /* the writer must never need the store for the clock */
    int rc = qs__secret_load(st, err); /* nor the caller for a pseudonym */
    if (rc)
        return rc;
    qs_pipe *p = qs_xcalloc(1, sizeof *p);
    p->st = st;
    for (size_t i = 0; i < PIPE_SLOTS; i++) {
        qs_record_init(&p->ring[i].r);
        qs_body_init(&p->ring[i].body);
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->more, NULL);
    pthread_cond_init(&p->room, NULL);
    if (pthread_create(&p->th, NULL, writer, p) != 0) {
        pthread_cond_destroy(&p->room);
        pthread_cond_destroy(&p->more);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return qs_err_set(err, QS_EIO, "cannot start the import's writer thread");
    }
    *out = p;
    return 0;
}

static void empty_slot(slot *s)
{
    qs_record_free(&s->r);
    qs_body_free(&s->body);
    qs_record_init(&s->r);
    qs_body_init(&s->body);
}

int qs_pipe_create(qs_pipe *p, uint32_t kind, const char *scope, qs_body *body, bool validated,
                   qs_err *err)
{
    qs_store *st = p->st;
    const qs_kind *k = qs_schema_kind(kind);
    /* the derived fields (a pseudonym, from the secret read at the start: no
     * statement) are set before the checks: a validated body is checked
     * again if deriving changed it */
    int rc = 0;
    if (qs__derives(k)) {
        if ((rc = qs__derive(st, k, body, err)))
            return rc;
        validated = false;
    }
    if ((rc = qs__create_check(st, kind, scope, body, validated, err)))
        return rc; /* a refused record: nothing queued, the pipe goes on */
    qs_record r;
    if ((rc = qs__create_seal(st, kind, scope, body, &r, err)))
        return rc;
    pthread_mutex_lock(&p->mu);
    while (p->put - p->written >= PIPE_SLOTS && !p->rc) {
        p->caller_waits = true;
        pthread_cond_wait(&p->room, &p->mu);
        p->caller_waits = false;
    }
    if (p->rc) {
        rc = p->rc;
        if (err)
            *err = p->err;
        pthread_mutex_unlock(&p->mu);
        qs_record_free(&r);
        return rc;
    }
    slot *s = &p->ring[p->put % PIPE_SLOTS];
    pthread_mutex_unlock(&p->mu);
    /* the slot's last record is written (the wait above): free it here, on the
     * thread that made it, and fill the slot without holding the lock — the
     * writer does not look at it before put moves past it */
    empty_slot(s);
    s->r = r;
    s->body = *body;
    qs_body_init(body);
    pthread_mutex_lock(&p->mu);
    p->put++;
    /* a sleeping writer is woken for a run of records, not for each: a
     * wake-up is a system call (qs_pipe_end wakes it for the rest) */
    if (p->writer_waits && p->put - p->written >= PIPE_WAKE)
        pthread_cond_signal(&p->more);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int qs_pipe_end(qs_pipe *p, qs_err *err)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    pthread_cond_signal(&p->more);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    int rc = p->rc;
    if (rc && err)
        *err = p->err;
    for (size_t i = 0; i < PIPE_SLOTS; i++)
        empty_slot(&p->ring[i]);
    pthread_cond_destroy(&p->room);
    pthread_cond_destroy(&p->more);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return rc;
}
