/*
 * err.h — error codes and the error struct every qs_ function reports into.
 *
 * Functions return int: 0 on success, a negative QS_E… code on failure. Where a
 * caller wants a sentence, it passes a qs_err; the callee fills code and msg.
 * A NULL qs_err pointer is always allowed and means "code only".
 */
#ifndef QS_ERR_H
#define QS_ERR_H

#include <stddef.h>

enum {
    QS_OK = 0,
    QS_EINVAL = -1,    /* malformed or invalid input (bad frame, bad field, bad CSV row) */
    QS_ELIMIT = -2,    /* a configured limit was crossed (size, count, depth) */
    QS_EAGAIN = -3,    /* need more input; not an error for incremental decoders */
    QS_EPROTO = -4,    /* protocol violation (wrong message in this state, missing key) */
    QS_EHASH = -5,     /* a revision hash or generation does not verify */
    QS_ESCOPE = -6,    /* out of scope for the node's write or visibility rules */
    QS_ENOTFOUND = -7, /* no such record, kind, field, peer */
    QS_EEXIST = -8,    /* already exists (e.g. a sheet already imported) */
    QS_ECONFLICT = -9, /* the record has an open conflict / stale parent */
    QS_EIO = -10,      /* I/O error from the OS or SQLite */
    QS_EFULL = -11,    /* disk full */
    QS_EBUSY = -12,    /* locked or in use (database busy, daemon running) */
    QS_ECLOCK = -13,   /* clock reading outside the accepted window */
    QS_ETLS = -14,     /* TLS or certificate failure */
    QS_EPERM = -15,    /* permission denied */
    QS_ESCHEMA = -16,  /* unknown kind or schema version (parked, not rejected) */
    QS_ECORRUPT = -17, /* stored data fails an integrity check */
};

#define QS_ERR_MSG 512

typedef struct qs_err {
    int code;
    char msg[QS_ERR_MSG];
} qs_err;

/* Short constant name for a code, e.g. "invalid input". Never NULL. */
const char *qs_strerror(int code);

/* Fill e (if not NULL) with code and a printf-formatted message; returns code,
 * so callers can write `return qs_err_set(e, QS_EINVAL, "...")`. */
int qs_err_set(qs_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix the existing message in e with a printf-formatted context; returns e->code. */
int qs_err_prefix(qs_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
