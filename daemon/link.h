/*
 * link.h — one sync connection (a "link") on a qs_net connection: it moves
 * frames between the network and the sync session (session.h), which it runs
 * on the store thread.
 *
 *   loop thread                               store thread (worker.h)
 *   bytes -> frame decoder -> qs_msg  --job-->  qs_session_recv (store calls)
 *                                               emit: qs_msg_encode + qs_frame_encode
 *   qs_net_write <- framed bytes      <--done-- (zstd level 3 once both sides
 *                                               advertised QS_FEAT_ZSTD)
 *
 * One message per connection is processed at a time: reading is paused while
 * its job is in flight and while framed output waits for the network (bytes
 * already received wait in a bounded input buffer). The session's window of
 * unacknowledged batches keeps the pipe full meanwhile.
 *
 * Group commit (aggregator): PUSH jobs are posted with a worker group
 * function, so batches that arrive on several connections while the store
 * thread is busy are applied by one qs_store_apply (one transaction); each
 * session then emits its own ACK.
 *
 * Identity: the peer's node id is qs_net_peer_id() (its certificate CN) and
 * nothing else; the session refuses a HELLO/WELCOME naming another node.
 * A parent closes at once a connection whose certificate names a node not
 * below itself; it holds at most one session per node id (a new connection
 * from the same node replaces the old one), and closes a connection whose
 * first message does not come within hello_timeout_ms of TLS.
 * A broken frame, a limit crossed, an unknown message type or a message in
 * the wrong state: a WARN line, ERROR to the peer (best effort), close. PING
 * is answered on the loop thread once HELLO/WELCOME has been exchanged.
 *
 * All functions run on the loop thread.
 */
#ifndef QS_LINK_H
#define QS_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/admit.h"
#include "daemon/config.h"
#include "daemon/net.h"
#include "daemon/session.h"
#include "daemon/worker.h"

typedef struct qs_link qs_link;

typedef struct qs_link_result {
    qs_err err;                          /* code 0 = the session completed (DONE) */
    bool handshaked;                     /* TLS was up and the peer's id known */
    bool welcomed;                       /* HELLO/WELCOME exchanged */
    char peer[QS_NODE_MAX];              /* "" when the TLS handshake failed */
    int64_t skew_ms;                     /* peer clock - ours, measured at HELLO/WELCOME */
    bool skew_rejected;                  /* beyond the maximum offset: our clock not dragged */
    bool inc_reset;                      /* the peer's incarnation changed: cursors start over */
    bool renewed;                        /* we took a new incarnation: reconnect (err QS_EAGAIN) */
    qs_sess_stats stats;                 /* the session's counters */
    uint64_t bytes_sent, bytes_received; /* frames (headers + payloads) on the wire */
    int64_t started_ms, ended_ms;
} qs_link_result;

typedef struct qs_link_counters { /* aggregated over links, loop thread */
    uint64_t apply_txns;          /* qs_store_apply calls made for received batches */
    uint64_t apply_batches;       /* batches applied by them */
    uint64_t max_group;           /* most batches in one transaction */
    uint64_t read_ahead;          /* messages decoded and checked while the link's last one was
                                     with the store thread */
    uint64_t replaced;            /* sessions closed because the same node connected again */
    uint64_t refused_place;       /* certificates naming a node not below this one */
} qs_link_counters;

typedef struct qs_link_env {
    int tag_; /* private: set by qs_link_env_init */
    uv_loop_t *loop;
    qs_worker *worker;
    qs_store *store; /* the worker's store: sessions use it on the store thread only */
    const qs_config *cfg;
    qs_net_opts opts;
    uint32_t window;           /* unacknowledged batches in flight (default 4) */
    uint64_t hello_timeout_ms; /* parent: TLS up to the child's first message; 0 = 5 s */
    uint64_t prev_sent;        /* county: highest seq sent upstream before (resent count) */
    /* Called once per session (client: for every qs_link_connect that
     * returned 0; server: for every connection that passed TLS), on the loop
     * thread, when the connection has closed. */
    void (*on_end)(const qs_link_result *r, void *data);
    void *data;
    unsigned live; /* sessions not yet freed */
    /* Test-only crash hook, from QIANSHOU_TEST_EXIT_AFTER_FRAME=k[:in|:out]
     * (read by qs_link_env_init; default :out): the daemon raises SIGKILL
     * right after it has sent (out) session frame k of a session, or after
     * it has received frame k and processed it (its answer, e.g. the ACK
     * of an applied batch, sent). Session frames are HELLO/WELCOME, PUSH,
     * ACK, PULL, CHANGES, DONE; PING/PONG/ERROR do not count. "Sent" = the
     * bytes up to the end of frame k were handed to the kernel; frames the
     * same step would emit after k are never sent. 0 = off. */
    unsigned exit_after;
    int exit_in;
    qs_link_counters counters;
    /* Admission to the store thread (admit.h): admission.max (cfg's
     * store_queue; set it after qs_link_env_init) messages of all links at
     * most; waits and the most at once are counted there too. */
    qs_admit admission;
    qs_link *head; /* private: live sessions */
} qs_link_env;

void qs_link_env_init(qs_link_env *env);

/* net callbacks for a listener whose user pointer is the env: sessions are
 * made as connections pass TLS; refused connections are logged. */
const qs_net_callbacks *qs_link_server_callbacks(void);

/* County: connect to the upstream and run a session. 0, or an error (nothing
 * started, on_end will not be called). */
int qs_link_connect(qs_link_env *env, qs_tls_ctx *ctx, qs_err *e);

/* Close every live session gracefully (shutdown). */
void qs_link_close_all(qs_link_env *env);

#endif
