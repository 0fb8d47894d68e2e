/*
 * session.h — one sync session between a child (county) and its parent
 * (aggregator), as a state machine with no I/O.
 *
 * The owner feeds it decoded messages (qs_session_recv) and it answers through
 * an emit callback with the messages to send. It calls the store directly, so
 * it runs where the store runs (the daemon's store thread); the loop thread
 * only moves frames. Flow (PROTOCOL-session.md "Sync"):
 *
 *   child                              parent
 *   HELLO(inc, pull cursor, ...)  ->
 *                                 <-   WELCOME(inc, push cursor, ...)
 *   PUSH(batch 1..n, window W)    ->   apply + store cursor in one transaction
 *                                 <-   ACK(batch, cursor, result per record)
 *   PULL(since)                   ->   (after every PUSH is acknowledged)
 *                                 <-   CHANGES(batch 1..m, window W)
 *   ACK(batch, cursor, results)   ->
 *                                 <-   DONE(upto)
 *   (the child closes)
 *
 * A link that drops anywhere loses nothing: each batch is applied together
 * with its cursor, and the next session starts from the acknowledged cursors.
 * Identity: the peer id given to qs_session_new comes from the peer's
 * certificate; a HELLO/WELCOME naming another node is a protocol error.
 */
#ifndef QS_SESSION_H
#define QS_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/msg.h"
#include "store/store.h"

typedef struct qs_session qs_session;

typedef enum qs_sess_role {
    QS_SESS_CHILD = 1,  /* connects, pushes, then pulls */
    QS_SESS_PARENT = 2, /* accepts, applies pushes, serves pulls */
} qs_sess_role;

typedef struct qs_sess_opts {
    uint32_t max_batch;             /* records per batch we send and accept (<= limits.max_batch) */
    uint32_t window;                /* unacknowledged batches in flight */
    uint32_t features;              /* QS_FEAT_* we support */
    uint64_t prev_sent;             /* child: highest upto sent to this parent in earlier
                                       sessions (batches at or below it count as resent) */
    int64_t peer_cert_not_after_ms; /* the peer certificate's expiry, recorded with the
                                       handshake in the store (0 = unknown) */
    bool defer_apply;               /* a received batch is not applied by qs_session_recv: it
                                       returns QS_SESS_APPLY and the owner applies it (with
                                       other sessions' batches: group commit), then calls
                                       qs_session_applied */
    /* parent: nodes taken as children besides those the store's reference
     * data knows (config [listen] children); each must still be below us */
    const char (*children)[QS_NODE_MAX];
    size_t nchildren;
} qs_sess_opts;

/* qs_session_recv's answer, with opts.defer_apply, when a batch is ready to
 * be applied (see qs_session_pending). Positive: not an error. */
#define QS_SESS_APPLY 1

typedef struct qs_sess_stats {
    uint64_t batches_sent, batches_acked, batches_resent;
    uint64_t records_sent, records_acked;
    uint64_t pushed;    /* child: our records the parent applied (or already had) */
    uint64_t pulled;    /* child: records from the parent applied here */
    uint64_t received;  /* parent: records from the child applied here */
    uint64_t rejected;  /* refused, either way */
    uint64_t conflicts; /* conflicts created, either way (an edit on both sides counts
                           once where our push arrives and once where theirs does) */
    uint64_t parked;
    uint64_t duplicates;    /* already held by the receiver (an unacknowledged batch resent) */
    int64_t skew_ms;        /* peer wall clock - ours at the handshake (HELLO/WELCOME key
                               11; a peer that does not send it: its HLC - our wall) */
    int64_t hlc_ahead_ms;   /* the peer's HLC reading - our wall clock */
    bool skew_rejected;     /* the peer's HLC reading was beyond the maximum offset: our
                               clock was not moved (see hlc_ahead_ms) */
    uint64_t highest_sent;  /* highest upto sent (for the next session's prev_sent) */
    uint64_t highest_acked; /* highest upto the peer acknowledged */
    uint32_t features;      /* agreed features (ours & the peer's) */
    bool inc_reset;         /* the peer's incarnation changed: cursors started over */
    bool renewed;           /* we took a new incarnation (restored or copied store) */
} qs_sess_stats;

/* Send one message. Return 0, or non-zero to abort the session. The message
 * and what it points to are valid only during the call. */
typedef int (*qs_sess_emit)(void *ctx, const qs_msg *m);

/* peer: the node id from the peer's certificate. The session borrows st. */
qs_session *qs_session_new(qs_store *st, qs_sess_role role, const char *peer,
                           const qs_sess_opts *opts, qs_sess_emit emit, void *ctx);
void qs_session_free(qs_session *s);

/* Child: send HELLO. Parent: nothing to do (waits for HELLO). */
int qs_session_start(qs_session *s, qs_err *err);

/* Handle one message from the peer. Returns 0, or an error: a protocol
 * violation (QS_EPROTO, "unexpected X in state Y"), a HELLO/WELCOME whose node
 * is not the certificate's (QS_EPROTO), an ERROR from the peer, or a store
 * failure (then no ACK was sent for the batch). On error the owner sends
 * ERROR if the link is up, and closes; the session is then dead.
 * With opts.defer_apply, a PUSH (parent) or CHANGES (child) that passed the
 * checks returns QS_SESS_APPLY: nothing was applied yet, and m must stay
 * valid (the pending batch points into it) until qs_session_applied. */
int qs_session_recv(qs_session *s, const qs_msg *m, qs_err *err);

/* The batch waiting after QS_SESS_APPLY: peer, direction, records, cursor and
 * a results array of n entries owned by the session. The owner passes it
 * (a copy of the struct is fine) to qs_store_apply, alone or with others. */
const qs_apply_batch *qs_session_pending(const qs_session *s);

/* The owner applied the pending batch: apply_rc is qs_store_apply's result
 * (its results are filled in when 0). 0: the ACK was emitted (and, for a
 * child, nothing else happens until the next message); else the error (a
 * failed apply is not acknowledged: the peer resends from the stored cursor). */
int qs_session_applied(qs_session *s, int apply_rc, const qs_err *apply_err, qs_err *err);

/* True once the session finished completely (child: DONE received; parent:
 * DONE sent). */
bool qs_session_done(const qs_session *s);

/* The peer's HELLO/WELCOME once received (NULL before). */
const qs_hello *qs_session_peer_hello(const qs_session *s);
const qs_sess_stats *qs_session_stats(const qs_session *s);

#endif
