/* ctlsrv.c — the control socket's server side; see ctlsrv.h. */
#include "daemon/ctlsrv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "daemon/log.h"
#include "proto/buf.h"
#include "proto/xmalloc.h"

struct qs_ctlsrv_client {
    uv_pipe_t pipe;
    qs_ctlsrv *srv;
    qs_buf in;
    int closing;
    unsigned refs; /* 1 for the handle + 1 per hold */
    qs_ctlsrv_client *prev, *next;
};

struct qs_ctlsrv {
    uv_pipe_t pipe;
    uv_loop_t *loop;
    qs_ctlsrv_request_fn fn;
    void *data;
    int closing;
    qs_ctlsrv_client *clients;
};

typedef struct ctl_write {
    uv_write_t req;
    char *text;
} ctl_write;

void qs_ctlsrv_hold(qs_ctlsrv_client *cl)
{
    cl->refs++;
}

void qs_ctlsrv_release(qs_ctlsrv_client *cl)
{
    if (--cl->refs == 0) {
        qs_buf_free(&cl->in);
        free(cl);
    }
}

int qs_ctlsrv_gone(const qs_ctlsrv_client *cl)
{
    return cl->closing;
}

static void client_closed(uv_handle_t *h)
{
    qs_ctlsrv_client *cl = h->data;
    if (cl->srv) {
        if (cl->prev)
            cl->prev->next = cl->next;
        else
            cl->srv->clients = cl->next;
        if (cl->next)
            cl->next->prev = cl->prev;
    }
    qs_ctlsrv_release(cl);
}

static void client_close(qs_ctlsrv_client *cl)
{
    if (cl->closing)
        return;
    cl->closing = 1;
    uv_close((uv_handle_t *)&cl->pipe, client_closed);
}

static void written(uv_write_t *req, int status)
{
    (void)status;
    ctl_write *w = (ctl_write *)req;
    free(w->text);
    free(w);
}

void qs_ctlsrv_reply(qs_ctlsrv_client *cl, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s || cl->closing) {
        free(s);
        return;
    }
    ctl_write *w = qs_xcalloc(1, sizeof *w);
    w->text = qs_xasprintf("%s\n", s);
    free(s);
    uv_buf_t b = uv_buf_init(w->text, (unsigned)strlen(w->text));
    if (uv_write(&w->req, (uv_stream_t *)&cl->pipe, &b, 1, written) != 0) {
        free(w->text);
        free(w);
        client_close(cl);
    }
}

json_t *qs_ctlsrv_error(const char *msg)
{
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    static char slab[4096]; /* loop thread only; consumed in on_read */
    buf->base = slab;
    buf->len = sizeof slab;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    qs_ctlsrv_client *cl = st->data;
    if (n < 0) {
        client_close(cl);
        return;
    }
    if (qs_buf_append(&cl->in, buf->base, (size_t)n) != 0) {
        qs_log(QS_LOG_WARN, "ctl", "request longer than %d bytes: closing", QS_CTL_MAX_LINE);
        client_close(cl);
        return;
    }
    char *nl;
    qs_ctlsrv_hold(cl); /* the callback may close it */
    while (!cl->closing && cl->in.len && (nl = memchr(cl->in.data, '\n', cl->in.len)) != NULL) {
        size_t len = (size_t)(nl - (char *)cl->in.data);
        char *line = qs_xstrndup((const char *)cl->in.data, len);
        qs_buf_consume(&cl->in, len + 1);
        cl->srv->fn(cl->srv->data, cl, line, len);
        free(line);
    }
    qs_ctlsrv_release(cl);
}

static void on_accept(uv_stream_t *server, int status)
{
    qs_ctlsrv *s = server->data;
    if (status < 0 || s->closing)
        return;
    qs_ctlsrv_client *cl = qs_xcalloc(1, sizeof *cl);
    cl->srv = s;
    cl->refs = 1;
    qs_buf_init(&cl->in, QS_CTL_MAX_LINE);
    uv_pipe_init(s->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    cl->next = s->clients;
    if (s->clients)
        s->clients->prev = cl;
    s->clients = cl;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0 ||
        uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) != 0)
        client_close(cl);
}

int qs_ctlsrv_listen(qs_ctlsrv **out, uv_loop_t *loop, const char *path, qs_ctlsrv_request_fn fn,
                     void *data, qs_err *e)
{
    *out = NULL;
    qs_ctlsrv *s = qs_xcalloc(1, sizeof *s);
    s->loop = loop;
    s->fn = fn;
    s->data = data;
    unlink(path); /* stale: the caller holds the data-dir lock */
    uv_pipe_init(loop, &s->pipe, 0);
    s->pipe.data = s;
    mode_t old = umask(0117);
    int r = uv_pipe_bind(&s->pipe, path);
    umask(old);
    if (r == 0)
        r = chmod(path, 0660) == 0 ? 0 : uv_translate_sys_error(errno);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->pipe, 16, on_accept);
    *out = s; /* closed by qs_ctlsrv_close either way */
    if (r != 0)
        return qs_err_set(e, QS_EIO, "control socket %s: %s", path, uv_strerror(r));
    return 0;
}

static void server_closed(uv_handle_t *h)
{
    free(h->data);
}

void qs_ctlsrv_close(qs_ctlsrv *s)
{
    if (!s || s->closing)
        return;
    s->closing = 1;
    for (qs_ctlsrv_client *cl = s->clients; cl; cl = cl->next) {
        cl->srv = NULL; /* the server goes first: no unlinking later */
        client_close(cl);
    }
    s->clients = NULL;
    uv_close((uv_handle_t *)&s->pipe, server_closed);
}
