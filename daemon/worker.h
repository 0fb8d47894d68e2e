/*
 * worker.h — the store thread. One thread owns the qs_store (one SQLite
 * connection, one thread); the libuv loop never touches SQLite.
 *
 * A job is posted from the loop thread with qs_worker_post(): job->work runs
 * on the store thread with the store; then job->done runs back on the loop
 * thread (through a uv_async), in posting order. The job struct is owned by
 * the caller and must stay alive until done has been called; done may free it.
 * Typical use: embed qs_job in a struct carrying the arguments and results.
 *
 * Group commit: a job with a non-NULL group function is not run alone when
 * other jobs with the same group function are queued: the store thread takes
 * them all (up to QS_WORKER_MAX_GROUP, from anywhere in the queue, in posting
 * order) and calls group(jobs, n, st) once instead of each work; then done
 * for each, in that order. (The aggregator applies batches that arrived on
 * several connections while the store thread was busy in one transaction.)
 * Jobs may therefore overtake other queued jobs; a caller that needs order
 * between two of its jobs posts the second from the first's done.
 *
 * Shutdown (qs_worker_stop, on the loop thread after the loop has ended):
 * the jobs already queued still run their work (they are short transactions,
 * so the batch in flight is finished, not torn), then done is called for each
 * with job->cancelled = 1 so it only frees; then the thread is joined. The
 * store itself is closed by the owner afterwards.
 */
#ifndef QS_WORKER_H
#define QS_WORKER_H

#include <uv.h>

#include "store/store.h"

typedef struct qs_job qs_job;
struct qs_job {
    void (*work)(qs_job *job, qs_store *st);              /* store thread */
    void (*done)(qs_job *job);                            /* loop thread */
    void (*group)(qs_job **jobs, size_t n, qs_store *st); /* optional, store thread */
    int cancelled;                                        /* set for done after qs_worker_stop */
    qs_job *next;                                         /* private */
};

#define QS_WORKER_MAX_GROUP 64

typedef struct qs_worker qs_worker;

/* Start the store thread for st (borrowed: the caller closes it after stop). */
int qs_worker_start(qs_worker **out, uv_loop_t *loop, qs_store *st, qs_err *e);
/* Queue a job (loop thread only). Never fails; never blocks on disk. */
void qs_worker_post(qs_worker *w, qs_job *job);
/* Jobs posted whose done has not run yet. */
unsigned qs_worker_inflight(const qs_worker *w);
/* Stop accepting results on the loop: close the async handle (its close
 * callback runs on the next loop iteration). Call before the loop's last run. */
void qs_worker_close_handle(qs_worker *w);
/* Finish queued work, deliver cancelled dones, join, free. After the loop ended. */
void qs_worker_stop(qs_worker *w);

#endif
