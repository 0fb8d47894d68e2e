/*
 * pq.c — libpq opened with dlopen at the first use (pq.h says why).
 */
#define QS_PQ_IMPL
#include "store/pq.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#ifndef QS_PQ_SONAME
#define QS_PQ_SONAME "libpq.so.5"
#endif
#ifndef QS_PQ_PACKAGE
#define QS_PQ_PACKAGE "libpq5"
#endif

qs_pq_api qs_pq;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[512]; /* empty when loaded */

static void load(void)
{
    void *h = dlopen(QS_PQ_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error,
                 "PostgreSQL's client library %s cannot be loaded (%s): install the package %s",
                 QS_PQ_SONAME, dlerror(), QS_PQ_PACKAGE);
        return;
    }
    /* dlsym gives a void *; POSIX guarantees it converts to a function pointer */
#define QS_PQ_SYM(f)                                                                               \
    if (!(*(void **)&qs_pq.f = dlsym(h, #f))) {                                                    \
        snprintf(load_error, sizeof load_error, "%s has no %s: a libpq older than 14?",            \
                 QS_PQ_SONAME, #f);                                                                \
        return;                                                                                    \
    }
    QS_PQ_FUNCS(QS_PQ_SYM)
#undef QS_PQ_SYM
}

int qs_pq_load(qs_err *err)
{
    pthread_once(&once, load);
    return load_error[0] ? qs_err_set(err, QS_EIO, "%s", load_error) : 0;
}
