/* worker.c — the store thread; see worker.h. */
#include "daemon/worker.h"

#include <pthread.h>
#include <stdlib.h>

#include "proto/xmalloc.h"

struct qs_worker {
    uv_loop_t *loop;
    uv_async_t async;
    int async_open;
    qs_store *st;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qs_job *todo_head, *todo_tail; /* posted, work not run (mutex) */
    qs_job *done_head, *done_tail; /* work run, done not called (mutex) */
    int stopping;                  /* mutex */
    unsigned inflight;             /* loop thread only */
};

static void push(qs_job **head, qs_job **tail, qs_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

/* Unlink the first queued job and, if it has a group function, every other
 * queued job with the same one (up to the maximum). Mutex held. */
static size_t take(qs_worker *w, qs_job **g)
{
    qs_job *j = w->todo_head;
    size_t n = 0;
    g[n++] = j;
    w->todo_head = j->next;
    if (j->group) {
        qs_job **pp = &w->todo_head;
        while (*pp && n < QS_WORKER_MAX_GROUP) {
            if ((*pp)->group == j->group) {
                g[n++] = *pp;
                *pp = (*pp)->next;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    w->todo_tail = NULL;
    for (qs_job *t = w->todo_head; t; t = t->next)
        w->todo_tail = t;
    return n;
}

static void *thread_main(void *arg)
{
    qs_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->todo_head && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->todo_head)
            break; /* stopping and nothing left */
        qs_job *g[QS_WORKER_MAX_GROUP];
        size_t n = take(w, g);
        pthread_mutex_unlock(&w->mu);
        if (n == 1 && !g[0]->group)
            g[0]->work(g[0], w->st);
        else
            g[0]->group(g, n, w->st);
        pthread_mutex_lock(&w->mu);
        for (size_t i = 0; i < n; i++)
            push(&w->done_head, &w->done_tail, g[i]);
        if (w->async_open)
            uv_async_send(&w->async);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void deliver(qs_worker *w, int cancelled)
{
    pthread_mutex_lock(&w->mu);
    qs_job *j = w->done_head;
    w->done_head = w->done_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    while (j) {
        qs_job *next = j->next;
        w->inflight--;
        j->cancelled = cancelled;
        j->done(j); /* may free j */
        j = next;
    }
}

static void on_async(uv_async_t *a)
{
    deliver(a->data, 0);
}

int qs_worker_start(qs_worker **out, uv_loop_t *loop, qs_store *st, qs_err *e)
{
    qs_worker *w = qs_xcalloc(1, sizeof *w);
    w->loop = loop;
    w->st = st;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (uv_async_init(loop, &w->async, on_async) != 0) {
        free(w);
        return qs_err_set(e, QS_EIO, "cannot create the store thread's wake-up handle");
    }
    w->async.data = w;
    w->async_open = 1;
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        w->async_open = 0;
        uv_close((uv_handle_t *)&w->async, NULL); /* w leaks until the loop ends: fatal path */
        return qs_err_set(e, QS_EIO, "cannot start the store thread");
    }
    *out = w;
    return 0;
}

void qs_worker_post(qs_worker *w, qs_job *job)
{
    job->cancelled = 0;
    w->inflight++;
    pthread_mutex_lock(&w->mu);
    push(&w->todo_head, &w->todo_tail, job);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

unsigned qs_worker_inflight(const qs_worker *w)
{
    return w->inflight;
}

void qs_worker_close_handle(qs_worker *w)
{
    pthread_mutex_lock(&w->mu);
    int was = w->async_open;
    w->async_open = 0;
    pthread_mutex_unlock(&w->mu);
    if (was)
        uv_close((uv_handle_t *)&w->async, NULL);
}

void qs_worker_stop(qs_worker *w)
{
    if (!w)
        return;
    qs_worker_close_handle(w);
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    deliver(w, 1);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
