/*
 * link.h — one sync connection (a "link") on a qs_net connection: today the handshake
 * (HELLO/WELCOME, identity, skew, incarnations) and DONE both ways; issue 6
 * adds push/pull between WELCOME and DONE (states S_PUSH/S_PULL slot in where
 * this file goes from "welcomed" to "done").
 *
 * Identity: the peer's node id is qs_net_peer_id() (its certificate CN) and
 * nothing else. A HELLO/WELCOME whose node field differs is refused with an
 * ERROR message and the connection closes.
 *
 * Every message is one frame (proto/frame.h) decoded by an incremental
 * decoder under the configured limits. A broken frame, a limit crossed, an
 * unknown message type or a message in the wrong state: a WARN line, ERROR to
 * the peer (best effort), close. The store is only written through jobs on
 * the store thread (worker.h); reading is paused while a job is in flight.
 *
 * All functions run on the loop thread.
 */
#ifndef QS_LINK_H
#define QS_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/net.h"
#include "daemon/worker.h"

typedef struct qs_link qs_link;

typedef struct qs_link_result {
    qs_err err;             /* code 0 = the session completed */
    bool handshaked;        /* TLS was up and the peer's id known */
    char peer[QS_NODE_MAX]; /* "" when the TLS handshake failed */
    int64_t skew_ms;        /* peer clock - ours, measured at HELLO/WELCOME */
    bool skew_rejected;     /* beyond the maximum offset: our clock not dragged */
    bool inc_reset;         /* the peer's incarnation changed: cursors start over */
    int64_t started_ms, ended_ms;
} qs_link_result;

typedef struct qs_link_env {
    int tag_;                  /* private: set by qs_link_env_init */
    uv_loop_t *loop;
    qs_worker *worker;
    const qs_config *cfg;
    qs_net_opts opts;
    /* Called once per session (client: for every qs_link_connect that
     * returned 0; server: for every connection that passed TLS), on the loop
     * thread, when the connection has closed. */
    void (*on_end)(const qs_link_result *r, void *data);
    void *data;
    unsigned live;             /* sessions not yet freed */
    qs_link *head;          /* private: live sessions */
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
