/*
 * net.h — TLS connections over libuv: a uv_tcp_t driving a qs_tls engine.
 *
 * All functions and callbacks run on the loop's thread. Nothing blocks.
 *
 * Life of a connection (qs_net_conn):
 *   qs_net_connect() (client) or a qs_net_listener accepting (server) creates
 *   it. Then, in order:
 *     on_handshake(conn)        at most once: TLS is up, qs_net_peer_id() is the
 *                               peer's validated node id. Writes are allowed
 *                               from here on.
 *     on_data(conn, p, n)       zero or more times: plaintext, in order. p is
 *                               valid only during the call.
 *     on_drain(conn)            after a qs_net_write() returned QS_ELIMIT, once
 *                               the queue has fallen to half the cap.
 *     on_close(conn, reason)    exactly once for every conn that was created,
 *                               whatever happened (connect failure, handshake
 *                               failure or timeout, peer close, qs_net_close).
 *                               reason->code is 0 for an orderly close (either
 *                               side sent close_notify), else a QS_E code with
 *                               a sentence (QS_ETLS, QS_ECLOCK, QS_EIO, ...).
 *                               After on_close returns the conn is freed: drop
 *                               every pointer to it.
 *   Callbacks may call qs_net_write, qs_net_close, pause/resume on any conn,
 *   including their own. After qs_net_close no more on_data is delivered.
 *
 * Memory is bounded: at most max_queued bytes of ciphertext are held for
 * sending (each uv_write's buffer lives until its write callback). A write
 * that would cross the cap is refused whole with QS_ELIMIT (back-pressure:
 * wait for on_drain). Reading is paused/resumed by the owner (when it cannot
 * pass data on) with qs_net_pause_read/qs_net_resume_read; while paused, no
 * bytes are taken from the socket, so the peer's TCP window closes.
 *
 * Closing is graceful: close_notify is queued after the pending data, the
 * socket's write side is shut down once everything is written, then the
 * handle is closed (handles are freed only in close callbacks). A peer that
 * does not drain cannot hold a closing conn for more than close_timeout_ms.
 */
#ifndef QS_NET_H
#define QS_NET_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "daemon/tls.h"
#include "proto/err.h"

typedef struct qs_net_conn qs_net_conn;
typedef struct qs_net_listener qs_net_listener;

typedef struct qs_net_callbacks {
    void (*on_handshake)(qs_net_conn *c);
    void (*on_data)(qs_net_conn *c, const uint8_t *p, size_t n);
    void (*on_drain)(qs_net_conn *c); /* may be NULL */
    void (*on_close)(qs_net_conn *c, const qs_err *reason);
} qs_net_callbacks;

#define QS_NET_ADDR_MAX 64

typedef struct qs_net_opts {
    size_t max_queued;             /* cap on unsent ciphertext bytes; 0 = 1 MiB */
    uint64_t handshake_timeout_ms; /* from connect/accept to handshake; 0 = 10 s */
    uint64_t close_timeout_ms;     /* graceful close limit; 0 = 5 s */
    uint64_t idle_timeout_ms;      /* established: close after this long waiting on the
                                      peer (reading, or holding output it does not
                                      take) with no progress; 0 = never */
    unsigned max_unauth;           /* listener: conns in the TLS handshake; 0 = 64 */
    unsigned max_unauth_per_addr;  /* listener: of those, from one address; 0 = 8 */
    const char *bind_addr;         /* client: numeric local address to connect from;
                                      NULL = the system's choice */
} qs_net_opts;

/* A listener's counters since it started, and its conns now. */
typedef struct qs_net_listener_stats {
    uint64_t accepted;                       /* TCP connections accepted */
    uint64_t refused_per_addr;               /* refused: max_unauth_per_addr from that address */
    uint64_t dropped_unauth;                 /* a handshaking conn dropped for a new one */
    uint64_t handshake_timeouts;             /* TLS not done within handshake_timeout_ms */
    uint64_t refused_full;                   /* TLS done, but max_conns sessions were open */
    uint64_t deadline_timeouts;              /* qs_net_set_deadline passed (e.g. no HELLO) */
    uint64_t idle_timeouts;                  /* idle_timeout_ms passed */
    unsigned unauthenticated, authenticated; /* now */
} qs_net_listener_stats;

/*
 * Client: connect to ip:port (a numeric IPv4 or IPv6 address; name
 * resolution is the caller's job) and do the TLS handshake, verifying the
 * server certificate's DNS SAN against expected_dns. ctx must be a client
 * ctx; the conn takes a reference. opts may be NULL. data is the conn's user
 * pointer (qs_net_conn_data). On 0, *out is the conn and on_close will come;
 * on error nothing was created and no callback will come.
 */
int qs_net_connect(qs_net_conn **out, uv_loop_t *loop, const char *ip, int port,
                   const char *expected_dns, qs_tls_ctx *ctx, const qs_net_callbacks *cb,
                   const qs_net_opts *opts, void *data, qs_err *e);

/*
 * Queue n plaintext bytes (copied; p may be reused on return). Only after
 * on_handshake and before close. QS_ELIMIT: the queue would exceed the cap;
 * nothing was queued; retry after on_drain. QS_EPROTO: not open.
 */
int qs_net_write(qs_net_conn *c, const void *p, size_t n, qs_err *e);

/* Stop / restart taking bytes from the socket. Idempotent. resume_read may
 * deliver buffered plaintext from a later loop iteration, never from inside
 * the call. */
void qs_net_pause_read(qs_net_conn *c);
void qs_net_resume_read(qs_net_conn *c);

/* Graceful close (see above). Idempotent; on_close follows from the loop. */
void qs_net_close(qs_net_conn *c);
/* The same, with why as on_close's reason (unless one was set before). */
void qs_net_fail(qs_net_conn *c, const qs_err *why);

const char *qs_net_peer_id(const qs_net_conn *c);   /* NULL before on_handshake */
const char *qs_net_peer_addr(const qs_net_conn *c); /* numeric address, "" if unknown */
/* Close the conn (reason: what, QS_EPROTO) unless qs_net_clear_deadline comes
 * within ms (checked every 250 ms once established), e.g. a parent waiting
 * for HELLO. One deadline at a time; setting replaces it. */
void qs_net_set_deadline(qs_net_conn *c, uint64_t ms, const char *what);
void qs_net_clear_deadline(qs_net_conn *c);
time_t qs_net_peer_not_after(const qs_net_conn *c); /* peer cert's notAfter; 0 before */
size_t qs_net_queued(const qs_net_conn *c);         /* ciphertext bytes held for sending */
size_t qs_net_max_queued(const qs_net_conn *c);
int qs_net_is_open(const qs_net_conn *c); /* handshake done, not closing */
void *qs_net_conn_data(const qs_net_conn *c);
void qs_net_conn_set_data(qs_net_conn *c, void *data);

/*
 * Server: listen on ip:port (port 0 picks a free port: qs_net_listener_port)
 * with a server ctx (the listener takes a reference). Every accepted conn
 * gets cb, opts and user pointer data. Two budgets, so that sockets without
 * a certificate never take the places of nodes:
 *   - before TLS is done: at most opts.max_unauth_per_addr conns from one
 *     address (a new one beyond is closed at once) and opts.max_unauth in all
 *     (a new one beyond drops the oldest that has sent nothing yet, else
 *     the oldest still handshaking);
 *   - after: at most max_conns (a conn past TLS beyond it is closed, its
 *     on_close reason says so, with no on_handshake).
 * Refusals for the budgets and handshake timeouts are counted (stats) and
 * logged at most once per 10 s, with no on_close. Connections outlive the
 * listener.
 */
int qs_net_listen(qs_net_listener **out, uv_loop_t *loop, const char *ip, int port, qs_tls_ctx *ctx,
                  unsigned max_conns, const qs_net_callbacks *cb, const qs_net_opts *opts,
                  void *data, qs_err *e);

/* Replace the ctx for connections accepted from now on (SIGHUP reload);
 * established and handshaking conns keep the ctx they started with. */
void qs_net_listener_set_ctx(qs_net_listener *l, qs_tls_ctx *ctx);
int qs_net_listener_port(const qs_net_listener *l);
unsigned qs_net_listener_conns(const qs_net_listener *l); /* live accepted conns */
void qs_net_listener_get_stats(const qs_net_listener *l, qs_net_listener_stats *out);
/* Stop listening and free the listener from its close callback. Existing
 * conns are not touched (close them yourself). */
void qs_net_listener_close(qs_net_listener *l);

#endif
