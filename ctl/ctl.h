/*
 * ctl.h — the control socket: <data_dir>/qianshoud.sock, a Unix stream socket,
 * mode 0660 (the qianshou group). Newline-delimited JSON: one request object per
 * line, one reply object per line, in order. Requests larger than 64 KiB close
 * the connection. Every reply has "ok" (bool); when false, "error" (string).
 * Times are given twice: "<name>" an ISO-8601 UTC string (null when never) and
 * "<name>_ms" Unix milliseconds (0 when never).
 *
 * Requests and replies:
 *
 *   {"cmd":"sync","wait":true,"timeout":30}
 *     county only. Starts a sync now; during a sync, asks for one more after
 *     it. wait=false (default) replies at once {"ok":true,"started":true}.
 *     wait=true replies when that sync ends (timeout seconds, default 30,
 *     1..3600); "ok" is true only when the session reached DONE:
 *       {"ok":true,"peer":"630000","pushed":12,"pulled":3,"rejected":0,
 *        "conflicts":0,"duplicates":0,"bytes_sent":5120,"bytes_received":880,
 *        "batches_sent":3,"batches_acked":3,"batches_resent":0,"records_sent":12,
 *        "records_acked":12,"skew_ms":-12,"skew_rejected":false,
 *        "incarnation_reset":false,"compressed":true,"duration_ms":41,"at":"..."}
 *       {"ok":false,"error":"<reason>","clock":false, ...the same counters so far}
 *     "clock":true when the reason is our own clock (QS_ECLOCK).
 *     On timeout: {"ok":false,"error":"timed out after 30 s","timeout":true}.
 *     On an aggregator: {"ok":false,"error":"an aggregator has no upstream to sync with"}.
 *
 *   {"cmd":"status"}
 *     {"ok":true,"role":"county"|"aggregator","node":"632322",
 *      "link":"idle"|"connecting"|"connected"|"listening",
 *      "upstream":"630000"|null,            (county: the aggregator's id once seen)
 *      "last_ok":..., "last_ok_ms":...,      (county: last complete sync)
 *      "last_contact":..., "last_contact_ms":...,
 *      "pending":17,                         (county: records waiting to go up)
 *      "last_error":""|"<reason>",
 *      "skew_ms":-12,                        (county: measured at the last handshake)
 *      "next_attempt":...,"next_attempt_ms":...,  (county: the next planned sync,
 *      "next_reason":"start"|"edit"|"interval"|"nightly"|"retry"|"manual"|null,
 *                                            now while one runs; null: none planned)
 *      "reason":"..."|null,                  (county: why the running sync started)
 *      "failed_attempts":0,                  (county: failed syncs in a row; backoff)
 *      "down_since":...,"down_since_ms":..., (county: first failure of that run)
 *      "cert":{"node":"632322","not_before":...,"not_before_ms":...,
 *              "not_after":...,"not_after_ms":...,"days_left":712},
 *      "crl":null | {"last_update":...,"next_update":...,"next_update_ms":...,
 *                    "days_left":3650},
 *      "connections":3,                      (aggregator: live connections)
 *      "nodes":15,                           (aggregator: counties seen)
 *      "records":120,"rejected":2,"conflicts":0,"parked":0,   (the store)
 *      "last_sync":{...as the sync reply...}|null,            (county)
 *      "counters":{"syncs_ok","syncs_failed","batches_sent","batches_acked",
 *                  "batches_resent","records_sent","records_acked","pushed",
 *                  "pulled","received","rejected","conflicts","duplicates",
 *                  "bytes_sent","bytes_received",          (sessions since start)
 *                  "apply_txns","apply_batches","max_group"}} (group commit)
 *
 *   {"cmd":"nodes"}
 *     {"ok":true,"nodes":[{"node":"632322","last_contact":...,"last_contact_ms":...,
 *       "last_ok":...,"last_ok_ms":...,"last_error":"","skew_ms":-12,"pending":0}, ...]}
 *     (every peer in the store; on a county that is its aggregator)
 *
 *   {"cmd":"reload"}
 *     the same as SIGHUP: {"ok":true} or {"ok":false,"error":"<why the new
 *     certificates were not loaded; the old ones stay in use>"}
 *
 *   anything else: {"ok":false,"error":"unknown command \"x\""}
 */
#ifndef QS_CTL_H
#define QS_CTL_H

#include <stddef.h>

#include "proto/err.h"

#define QS_CTL_SOCK "qianshoud.sock"
#define QS_CTL_MAX_LINE 65536

/* Socket path for a data directory into out (n bytes). */
void qs_ctl_sock_path(const char *data_dir, char *out, size_t n);

/* A request as the server reads it. */
typedef enum qs_ctl_cmd {
    QS_CTL_STATUS = 1,
    QS_CTL_NODES,
    QS_CTL_SYNC,
    QS_CTL_RELOAD,
} qs_ctl_cmd;

typedef struct qs_ctl_req {
    qs_ctl_cmd cmd;
    int wait;           /* sync: reply when the sync ends */
    unsigned timeout_s; /* sync: 1..3600, default 30 */
} qs_ctl_req;

/* Parse one request line (len bytes, no newline; need not be NUL-terminated):
 * a JSON object with "cmd" and, for sync, "wait" (bool) and "timeout"
 * (integer seconds). Unknown keys are ignored. 0, or QS_EINVAL with the
 * sentence a reply's "error" carries ("request is not JSON", "missing
 * \"cmd\"", "unknown command \"x\"", "\"timeout\" must be 1..3600 seconds"). */
int qs_ctl_parse_request(const char *line, size_t len, qs_ctl_req *out, qs_err *e);

/*
 * Client (blocking; for the CLI and tests). Connect to sock_path, send the
 * request (one JSON object, no newline needed), read one reply line within
 * timeout_ms, and return it NUL-terminated in *reply (caller frees).
 * Errors: QS_EIO "is qianshoud running? cannot connect to <path>: ..." (no
 * daemon, stale socket), QS_EPERM (not in the group), QS_EAGAIN (timed out),
 * QS_EINVAL (reply not a JSON object line).
 */
int qs_ctl_request(const char *sock_path, const char *request, int timeout_ms, char **reply,
                   qs_err *e);

#endif
