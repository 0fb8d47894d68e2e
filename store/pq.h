/*
 * pq.h — libpq, loaded when a store on PostgreSQL is first named.
 *
 * Linked, libpq brings libssl, libcrypto, Kerberos and LDAP into every
 * process that links the store, and the dynamic loader maps and relocates
 * them at every start: `qianshou add` on a county's SQLite store took three
 * times as long (tests/bench #3). So libpq is opened with dlopen by
 * qs_pq_load (store/pq.c), which the first conninfo check calls, and the
 * PostgreSQL code (store/pg*.c) calls it through the table below: the names
 * are libpq's, so that code reads as plain libpq. Include this, never
 * <libpq-fe.h> alone, in store/pg*.c.
 */
#ifndef QS_STORE_PQ_H
#define QS_STORE_PQ_H

#include <libpq-fe.h>

#include "proto/err.h"

/* Every libpq function the store calls. */
#define QS_PQ_FUNCS(X)                                                                             \
    X(PQclear)                                                                                     \
    X(PQcmdStatus)                                                                                 \
    X(PQconnectdb)                                                                                 \
    X(PQconninfoFree)                                                                              \
    X(PQconninfoParse)                                                                             \
    X(PQenterPipelineMode)                                                                         \
    X(PQerrorMessage)                                                                              \
    X(PQescapeLiteral)                                                                             \
    X(PQexec)                                                                                      \
    X(PQexecParams)                                                                                \
    X(PQexecPrepared)                                                                              \
    X(PQexitPipelineMode)                                                                          \
    X(PQfinish)                                                                                    \
    X(PQfreemem)                                                                                   \
    X(PQgetResult)                                                                                 \
    X(PQgetisnull)                                                                                 \
    X(PQgetlength)                                                                                 \
    X(PQgetvalue)                                                                                  \
    X(PQntuples)                                                                                   \
    X(PQpipelineStatus)                                                                            \
    X(PQpipelineSync)                                                                              \
    X(PQprepare)                                                                                   \
    X(PQreset)                                                                                     \
    X(PQresultErrorField)                                                                          \
    X(PQresultStatus)                                                                              \
    X(PQsendQueryParams)                                                                           \
    X(PQsendQueryPrepared)                                                                         \
    X(PQsetClientEncoding)                                                                         \
    X(PQstatus)

typedef struct qs_pq_api {
#define QS_PQ_MEMBER(f) __typeof__(&f) f;
    QS_PQ_FUNCS(QS_PQ_MEMBER)
#undef QS_PQ_MEMBER
} qs_pq_api;

extern qs_pq_api qs_pq;

/* Open libpq (its SONAME, QS_PQ_SONAME, found by CMake) and fill qs_pq, once
 * per process; later calls give the first one's result. QS_EIO with the
 * package to install when it is missing. Thread-safe. */
int qs_pq_load(qs_err *err);

#ifndef QS_PQ_IMPL
#define PQclear qs_pq.PQclear
#define PQcmdStatus qs_pq.PQcmdStatus
#define PQconnectdb qs_pq.PQconnectdb
#define PQconninfoFree qs_pq.PQconninfoFree
#define PQconninfoParse qs_pq.PQconninfoParse
#define PQenterPipelineMode qs_pq.PQenterPipelineMode
#define PQerrorMessage qs_pq.PQerrorMessage
#define PQescapeLiteral qs_pq.PQescapeLiteral
#define PQexec qs_pq.PQexec
#define PQexecParams qs_pq.PQexecParams
#define PQexecPrepared qs_pq.PQexecPrepared
#define PQexitPipelineMode qs_pq.PQexitPipelineMode
#define PQfinish qs_pq.PQfinish
#define PQfreemem qs_pq.PQfreemem
#define PQgetResult qs_pq.PQgetResult
#define PQgetisnull qs_pq.PQgetisnull
#define PQgetlength qs_pq.PQgetlength
#define PQgetvalue qs_pq.PQgetvalue
#define PQntuples qs_pq.PQntuples
#define PQpipelineStatus qs_pq.PQpipelineStatus
#define PQpipelineSync qs_pq.PQpipelineSync
#define PQprepare qs_pq.PQprepare
#define PQreset qs_pq.PQreset
#define PQresultErrorField qs_pq.PQresultErrorField
#define PQresultStatus qs_pq.PQresultStatus
#define PQsendQueryParams qs_pq.PQsendQueryParams
#define PQsendQueryPrepared qs_pq.PQsendQueryPrepared
#define PQsetClientEncoding qs_pq.PQsetClientEncoding
#define PQstatus qs_pq.PQstatus
#endif

#endif
