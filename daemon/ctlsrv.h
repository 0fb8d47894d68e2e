/*
 * ctlsrv.h — the control socket's server side: a Unix stream socket at
 * <data_dir>/qianshoud.sock, mode 0660, newline-delimited JSON requests and
 * replies (the protocol and the request/reply shapes: ctl/ctl.h). This
 * module is the transport only: it accepts clients, splits lines (a line
 * longer than QS_CTL_MAX_LINE closes the client) and hands each to the
 * owner's callback; what a request means is the owner's
 * (daemon/main.c). All on the loop thread.
 *
 * A reply may come later than the callback (a store job, the end of a
 * sync): the owner holds the client with qs_ctlsrv_hold and lets it go with
 * qs_ctlsrv_release; a held client's memory lives until then even if the
 * peer has gone (qs_ctlsrv_reply is then a no-op). Replies go out in the
 * order they are made.
 */
#ifndef QS_CTLSRV_H
#define QS_CTLSRV_H

#include <jansson.h>
#include <uv.h>

#include "proto/err.h"

typedef struct qs_ctlsrv qs_ctlsrv;
typedef struct qs_ctlsrv_client qs_ctlsrv_client;

/* One request line (len bytes, no newline, not NUL-terminated; valid during
 * the call only): qs_ctl_parse_request reads it. */
typedef void (*qs_ctlsrv_request_fn)(void *data, qs_ctlsrv_client *cl, const char *line,
                                     size_t len);

/* Listen on path (a stale socket file is removed: the caller holds the data
 * directory's lock). 0 or QS_EIO with the reason. */
int qs_ctlsrv_listen(qs_ctlsrv **out, uv_loop_t *loop, const char *path, qs_ctlsrv_request_fn fn,
                     void *data, qs_err *e);
/* Stop accepting and close every client (held ones are freed on release). */
void qs_ctlsrv_close(qs_ctlsrv *s);

/* Send one reply line; takes the reference on o. */
void qs_ctlsrv_reply(qs_ctlsrv_client *cl, json_t *o);
/* {"ok":false,"error":msg}, new reference. */
json_t *qs_ctlsrv_error(const char *msg);
void qs_ctlsrv_hold(qs_ctlsrv_client *cl);
void qs_ctlsrv_release(qs_ctlsrv_client *cl);
/* Whether the client is gone (a reply would be dropped). */
int qs_ctlsrv_gone(const qs_ctlsrv_client *cl);

#endif
