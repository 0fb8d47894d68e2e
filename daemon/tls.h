/*
 * tls.h — the TLS engine: OpenSSL over memory BIOs, no sockets inside.
 *
 * Policy (fixed, not configurable): TLS 1.3 only; the CA is pinned (only the
 * given ca_file is trusted, never the system store); both sides present a
 * certificate; a server given a CRL checks it for the whole chain; no session
 * tickets and no session cache; every verification uses the hooked wall
 * clock (proto/clock.h) through X509_VERIFY_PARAM_set_time, set when a
 * connection is created. A peer's node id is its certificate subject CN and
 * nothing else, and must be a GB/T 2260 division code (6 or 9 digits).
 *
 * Clock rule (DESIGN.md): when OUR OWN certificate is outside its validity
 * window at the hooked time, the error is QS_ECLOCK "this machine's clock says
 * <t>, but our certificate is valid from <a> to <b>: check the clock ...",
 * not a TLS error. Checked by qs_tls_ctx_new and whenever a handshake fails.
 *
 * Ownership: a qs_tls_ctx is reference counted (new = 1 reference). Each
 * qs_tls holds a reference on its ctx, so a ctx may be replaced (SIGHUP) and
 * unreferenced while connections made from it live on. Not thread-safe: one
 * loop thread uses a ctx and its connections.
 *
 * Data flow for one connection (the caller owns the socket):
 *   bytes from the socket  -> qs_tls_feed()
 *   drive the handshake    -> qs_tls_handshake()   (until it returns 0)
 *   plaintext in           <- qs_tls_read()
 *   plaintext out          -> qs_tls_write()
 *   bytes to the socket    <- qs_tls_pending_out() after EVERY call above
 * The engine drains OpenSSL's write BIO into its own output buffer after
 * every SSL call, so nothing is lost if the caller collects output late.
 * Every SSL call is preceded by ERR_clear_error(). Any failure is final: the
 * engine enters QS_TLS_FAILED and every later call returns the same error.
 */
#ifndef QS_TLS_H
#define QS_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/buf.h"
#include "proto/err.h"

typedef struct ssl_ctx_st SSL_CTX; /* from <openssl/ssl.h> */

typedef enum qs_tls_role { QS_TLS_SERVER = 1, QS_TLS_CLIENT = 2 } qs_tls_role;

/* Longest node id: 9 digits. */
#define QS_NODE_ID_MAX 9

typedef struct qs_tls_ctx qs_tls_ctx;

/* What --check and status report about a ctx. Times are Unix seconds; 0 when
 * unknown (a ctx made by qs_tls_ctx_from_ssl_ctx, or no CRL). */
typedef struct qs_tls_ctx_info {
    char node_id[QS_NODE_ID_MAX + 1];        /* our certificate's CN ("" if unknown) */
    time_t not_before, not_after;            /* our certificate's validity window */
    time_t crl_last_update, crl_next_update; /* the CRL's, 0 without one */
} qs_tls_ctx_info;

/*
 * Make a ctx. ca_file: PEM, the only trust anchor(s). cert_file/key_file: PEM,
 * our certificate (CN = our node id, checked to be 6 or 9 digits) and its
 * private key (checked to match). crl_file: PEM CRL or NULL; when given,
 * revocation is checked for every certificate of the peer's chain and a
 * missing or lapsed CRL fails the handshake (fail closed).
 * Errors: QS_EIO (unreadable file), QS_ETLS (bad PEM, key mismatch, bad CN),
 * QS_ECLOCK (our certificate is outside its window at the hooked time; the
 * message names the clock, the window and the certificate).
 * On success *out holds one reference.
 */
int qs_tls_ctx_new(qs_tls_ctx **out, qs_tls_role role, const char *ca_file, const char *cert_file,
                   const char *key_file, const char *crl_file, qs_err *e);

/* Tests and diagnostics: wrap an SSL_CTX the caller built (e.g. one limited to
 * TLS 1.2, or one without a certificate). Takes its own reference on ssl_ctx
 * (SSL_CTX_up_ref); no policy is applied and info fields are empty. */
int qs_tls_ctx_from_ssl_ctx(qs_tls_ctx **out, qs_tls_role role, SSL_CTX *ssl_ctx, qs_err *e);

void qs_tls_ctx_ref(qs_tls_ctx *ctx);
void qs_tls_ctx_unref(qs_tls_ctx *ctx); /* NULL is allowed */
qs_tls_role qs_tls_ctx_role(const qs_tls_ctx *ctx);
void qs_tls_ctx_get_info(const qs_tls_ctx *ctx, qs_tls_ctx_info *info);
/* Borrowed; valid while the ctx lives. */
SSL_CTX *qs_tls_ctx_ssl_ctx(qs_tls_ctx *ctx);

/*
 * QS_ECLOCK check on its own: 0 if our certificate's window contains the
 * hooked wall time now, else QS_ECLOCK with the clock sentence.
 */
int qs_tls_ctx_check_clock(const qs_tls_ctx *ctx, qs_err *e);

/* ---- one connection ---- */

typedef struct qs_tls qs_tls;

typedef enum qs_tls_state {
    QS_TLS_HANDSHAKE = 1, /* handshake in progress */
    QS_TLS_OPEN,          /* handshake done, peer id known */
    QS_TLS_PEER_CLOSED,   /* the peer sent close_notify; no more plaintext */
    QS_TLS_FAILED,        /* a fatal error; see qs_tls_error() */
} qs_tls_state;

/*
 * New engine using ctx (takes a reference). expected_dns: on a client, the
 * aggregator's host name, verified against the server certificate's DNS SANs
 * (the CN is never consulted) and sent as SNI; required for a client. Must be
 * NULL on a server. The verification time is the hooked clock, now.
 */
int qs_tls_new(qs_tls **out, qs_tls_ctx *ctx, const char *expected_dns, qs_err *e);
void qs_tls_free(qs_tls *t); /* NULL is allowed; releases the ctx reference */

/* Hand over n bytes received from the socket. They are buffered, not
 * processed: call qs_tls_handshake() or qs_tls_read() next. */
int qs_tls_feed(qs_tls *t, const void *p, size_t n, qs_err *e);

/*
 * Drive the handshake. Returns 0 once it is complete (state QS_TLS_OPEN, peer
 * id validated), QS_EAGAIN when more input is needed, or QS_ETLS / QS_ECLOCK
 * with a clear reason ("certificate has expired (notAfter ...)",
 * "certificate is not yet valid (notBefore ...)", "certificate revoked",
 * "unknown CA", "no client certificate", "host name mismatch",
 * "protocol version ..."). A reason the peer reported by alert is prefixed
 * "the peer refused our certificate: ..." or "the peer ...".
 * Note: in TLS 1.3 a client finishes its handshake before the server has
 * checked the client certificate; a refusal then surfaces from qs_tls_read().
 */
int qs_tls_handshake(qs_tls *t, qs_err *e);

/*
 * Decrypt into p (up to cap bytes). On 0, *got > 0 bytes were produced.
 * QS_EAGAIN: nothing available now (need input, or the peer has closed: see
 * qs_tls_state()). Errors as for qs_tls_handshake. Only after the handshake.
 */
int qs_tls_read(qs_tls *t, void *p, size_t cap, size_t *got, qs_err *e);

/* Encrypt all n plaintext bytes (memory BIOs never block). Only in state
 * QS_TLS_OPEN; otherwise QS_EPROTO. The ciphertext is in qs_tls_pending_out. */
int qs_tls_write(qs_tls *t, const void *p, size_t n, qs_err *e);

/* Queue close_notify (once). The caller sends qs_tls_pending_out, then closes. */
int qs_tls_shutdown(qs_tls *t, qs_err *e);

/*
 * Move all ciphertext waiting to be sent into out, which must be initialised
 * and empty; afterwards out owns it (qs_buf_free). Returns the byte count.
 */
size_t qs_tls_pending_out(qs_tls *t, qs_buf *out);
/* Bytes waiting in the engine's output buffer. */
size_t qs_tls_pending_out_len(const qs_tls *t);

qs_tls_state qs_tls_get_state(const qs_tls *t);
/* The peer's node id (validated CN), or NULL before the handshake is done.
 * Valid while t lives. */
const char *qs_tls_peer_id(const qs_tls *t);
/* When the peer's certificate expires (its notAfter), 0 before the handshake. */
time_t qs_tls_peer_not_after(const qs_tls *t);
/* The error that failed the engine (code 0 when none). Valid while t lives. */
const qs_err *qs_tls_error(const qs_tls *t);

/* 1 if s is a node id: exactly 6 or 9 ASCII digits. */
int qs_tls_valid_node_id(const char *s, size_t n);

#endif
