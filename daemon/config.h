/*
 * config.h — qianshoud's INI configuration (parsed by inih).
 *
 *   [node]     id = 632322            ; GB/T 2260 code, = certificate CN (required)
 *              role = county|aggregator (required)
 *              data_dir = /var/lib/qianshou (required)
 *   [upstream] (county) host = DNS name verified in the aggregator's certificate
 *              address = IP to connect to (numeric; default 127.0.0.1... no: required)
 *              port = 1..65535, ca, cert, key (PEM paths, required)
 *              crl = the CA's CRL (optional): the aggregator's certificate
 *              is checked against it, failing closed once it has lapsed
 *              interval = seconds between syncs (default 3600; 0 = never)
 *              nightly = HH:MM local time (optional)
 *              retry_base, retry_cap = seconds: after a failed sync the next
 *              attempt comes after a random delay in [0, min(cap, base*2^n)]
 *              (n = failures in a row - 1); defaults 5 and 900
 *              edit_max_delay = seconds (1..86400, default 30): a sync follows
 *              local edits 2 s after the last one, but no later than this after
 *              the first one not yet synced (daemon/sched.h)
 *   [listen]   (aggregator) address (default 0.0.0.0), port, ca, cert, key,
 *              crl (required: the aggregator fails closed without one),
 *              max_connections (default 256: sessions past TLS, at most one
 *              per node id), max_unauthenticated (default 64: connections
 *              still in the TLS handshake, all addresses together; past it
 *              the oldest silent one is dropped), max_unauthenticated_per_address
 *              (default 8: past it a new one from that address is refused),
 *              children = codes taken as children besides the counties and
 *              stations of the reference data (space or comma separated;
 *              each must be below [node] id; the key may repeat)
 *   [limits]   any qs_limits field by name (max_frame, max_payload, max_str,
 *              max_array, max_depth, max_objects, max_batch, max_body,
 *              max_ancestry, max_parents), plus net_max_queued (bytes of
 *              unsent ciphertext per connection, default 1 MiB) and
 *              store_queue (received messages waiting for the store thread,
 *              all connections together, default 16; link.c "admission"),
 *              and three timeouts in seconds: handshake_timeout (TCP accept
 *              or connect to the end of TLS, default 10), hello_timeout (TLS
 *              up to the child's HELLO, parent only, default 5), idle_timeout
 *              (nothing received and nothing sent taken by the peer while the
 *              connection waits on it, default 120)
 *   [web]      qianshou-web, the browser interface (web/): address (default
 *              127.0.0.1), port (default 8080), cert and key (PEM paths: HTTPS;
 *              both or neither), session_timeout (idle seconds before a
 *              sign-in ends, 60..86400, default 900), max_upload (bytes of a
 *              request body, e.g. a sheet, 65536..67108864, default 8 MiB).
 *              An address that is not loopback (127.0.0.0/8, ::1) without
 *              cert and key is refused: passwords would cross the office
 *              network in the clear.
 *   [store]    (aggregator) backend = sqlite|postgresql (default sqlite);
 *              conninfo = a libpq connection string (required with postgresql,
 *              e.g. "host=/run/postgresql dbname=qianshou"): no password in it,
 *              which comes from a passfile (passfile=PATH or PGPASSFILE); the
 *              value is never logged. A county refuses backend = postgresql.
 *   [log]      level = debug|info|warn|error
 *
 * An unknown section or key, a bad value, or a missing required key is an
 * error whose message names "[section] key".
 */
#ifndef QS_CONFIG_H
#define QS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/err.h"
#include "proto/limits.h"
#include "daemon/tls.h"
#include "store/store.h"

#define QS_CFG_PATH 1024
#define QS_CFG_MAX_CHILDREN 1024

typedef struct qs_config {
    char node[QS_NODE_MAX];
    qs_role role;
    char data_dir[QS_CFG_PATH];
    struct {
        char host[256];
        char address[64];
        int port;
        char ca[QS_CFG_PATH], cert[QS_CFG_PATH], key[QS_CFG_PATH];
        char crl[QS_CFG_PATH];   /* "" = none: the aggregator's certificate is not
                                    checked for revocation */
        unsigned interval;       /* seconds; 0 = no periodic sync */
        int nightly_min;         /* minutes after local midnight, -1 = none */
        unsigned retry_base;     /* seconds: first backoff ceiling (default 5) */
        unsigned retry_cap;      /* seconds: the backoff ceiling's cap (default 900) */
        unsigned edit_max_delay; /* seconds: longest wait of an edit for its sync (30) */
    } up;
    struct {
        char address[64];
        int port;
        char ca[QS_CFG_PATH], cert[QS_CFG_PATH], key[QS_CFG_PATH], crl[QS_CFG_PATH];
        unsigned max_connections;
        unsigned max_unauth, max_unauth_per_addr;
        char children[QS_CFG_MAX_CHILDREN][QS_NODE_MAX];
        unsigned nchildren;
    } listen;
    struct {
        bool postgresql;     /* [store] backend = postgresql */
        char conninfo[1024]; /* libpq conninfo, no password */
    } store;
    qs_limits limits;
    size_t net_max_queued;
    unsigned store_queue;
    unsigned handshake_timeout, hello_timeout, idle_timeout; /* seconds */
    int log_level;
    struct {
        char address[64];
        int port;
        char cert[QS_CFG_PATH], key[QS_CFG_PATH]; /* "" = plain HTTP (loopback only) */
        unsigned session_timeout;                 /* seconds */
        size_t max_upload;                        /* bytes */
    } web;
} qs_config;

/* Parse and validate path into *cfg. QS_EINVAL (bad content, message names
 * the file, line where known, section and key) or QS_EIO (unreadable). */
int qs_config_load(qs_config *cfg, const char *path, qs_err *e);

/* Whether address (numeric IPv4 or IPv6) is a loopback address. */
bool qs_config_is_loopback(const char *address);

/* The node's TLS context from its config: a server one (with the CRL) for
 * an aggregator, a client one (with [upstream] crl if set) for a county. */
int qs_config_tls_ctx(const qs_config *cfg, qs_tls_ctx **out, qs_err *e);

/* The control socket and lock paths for a config: <data_dir>/qianshoud.sock */
void qs_config_sock_path(const qs_config *cfg, char *out, size_t n);

#endif
