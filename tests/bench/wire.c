/*
 * wire.c — qs-bench-wire: benchmark #7's protocol side. Runs the real sync
 * session (daemon/session.h) between an existing county store and a new
 * aggregator store over an in-memory link, and counts the bytes every
 * message takes as a frame (proto/frame.h) both ways: plain, and with zstd at
 * the daemon's level (3, never for HELLO/WELCOME, as daemon/link.c frames
 * them). TLS adds its record overhead (about 22 bytes per 16 KiB record) on
 * top; that is not counted here.
 *
 *   qs-bench-wire COUNTY_DIR COUNTY_ID AGG_DIR
 *
 * Prints: records=N plain=BYTES zstd=BYTES plain_up=BYTES zstd_up=BYTES messages=M
 * (the totals count both directions; *_up only county -> aggregator).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/session.h"
#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "store/store.h"

#define WINDOW 4

typedef struct msgq {
    qs_buf *items;
    size_t n, cap, head;
} msgq;

typedef struct side {
    msgq *out;
    uint64_t *plain, *zstd, *messages;
} side;

static void die(const char *what, const qs_err *e)
{
    fprintf(stderr, "qs-bench-wire: %s: %s\n", what, e->msg);
    exit(1);
}

static int emit_cb(void *ctx, const qs_msg *m)
{
    side *sd = ctx;
    msgq *q = sd->out;
    qs_limits lim = qs_limits_default();
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->items = realloc(q->items, q->cap * sizeof *q->items);
        if (!q->items)
            abort();
    }
    qs_buf *b = &q->items[q->n++];
    qs_buf_init(b, 0);
    qs_err e = {0};
    if (qs_msg_encode(m, b, &e))
        die("encode", &e);
    qs_buf f;
    qs_buf_init(&f, 0);
    if (qs_frame_encode(b->data, b->len, 0, &lim, &f, &e))
        die("frame", &e);
    *sd->plain += f.len;
    f.len = 0;
    int level = m->type == QS_MSG_HELLO || m->type == QS_MSG_WELCOME ? 0 : QS_FRAME_ZSTD_LEVEL;
    if (qs_frame_encode(b->data, b->len, level, &lim, &f, &e))
        die("frame", &e);
    *sd->zstd += f.len;
    qs_buf_free(&f);
    (*sd->messages)++;
    return 0;
}

static qs_store *open_store(const char *dir, bool create, const char *node, qs_role role)
{
    qs_store_opts o = qs_store_opts_default();
    o.dir = dir;
    o.create = create;
    o.node = node;
    o.role = role;
    qs_store *st;
    qs_err e = {0};
    if (qs_store_open(&o, &st, &e))
        die(dir, &e);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: qs-bench-wire COUNTY_DIR COUNTY_ID AGG_DIR\n");
        return 2;
    }
    qs_store *c = open_store(argv[1], false, argv[2], QS_ROLE_COUNTY);
    qs_store *p = open_store(argv[3], true, "630000", QS_ROLE_AGGREGATOR);
    uint64_t plain = 0, zstd = 0, plain_down = 0, zstd_down = 0, messages = 0;
    msgq to_parent = {0}, to_child = {0};
    side cs = {&to_parent, &plain, &zstd, &messages};
    side ps = {&to_child, &plain_down, &zstd_down, &messages};
    qs_limits lim = qs_limits_default();
    qs_sess_opts o = {.max_batch = lim.max_batch, .window = WINDOW, .features = QS_FEAT_ZSTD};
    qs_session *child = qs_session_new(c, QS_SESS_CHILD, "630000", &o, emit_cb, &cs);
    /* the county is known to the aggregator as a configured child (the
     * benchmark's aggregator has no reference data) */
    char kid[1][QS_NODE_MAX];
    snprintf(kid[0], sizeof kid[0], "%s", argv[2]);
    qs_sess_opts po = o;
    po.children = kid;
    po.nchildren = 1;
    qs_session *parent = qs_session_new(p, QS_SESS_PARENT, argv[2], &po, emit_cb, &ps);
    qs_err e = {0};
    if (qs_session_start(child, &e))
        die("start", &e);
    while (!qs_session_done(child)) {
        bool moved = false;
        for (int d = 0; d < 2; d++) {
            msgq *q = d == 0 ? &to_parent : &to_child;
            if (q->head >= q->n)
                continue;
            qs_buf *b = &q->items[q->head++];
            qs_msg m;
            if (qs_msg_decode(b->data, b->len, &lim, &m, &e))
                die("decode", &e);
            if (qs_session_recv(d == 0 ? parent : child, &m, &e))
                die("session", &e);
            qs_msg_free(&m);
            qs_buf_free(b);
            moved = true;
        }
        if (!moved) {
            fprintf(stderr, "qs-bench-wire: the session stalled before DONE\n");
            return 1;
        }
    }
    const qs_sess_stats *st = qs_session_stats(child);
    printf("records=%" PRIu64 " plain=%" PRIu64 " zstd=%" PRIu64 " plain_up=%" PRIu64
           " zstd_up=%" PRIu64 " messages=%" PRIu64 "\n",
           st->pushed, plain + plain_down, zstd + zstd_down, plain, zstd, messages);
    qs_session_free(child);
    qs_session_free(parent);
    free(to_parent.items);
    free(to_child.items);
    qs_store_close(c);
    qs_store_close(p);
    return 0;
}
