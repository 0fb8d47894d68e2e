/*
 * xfer.c — test helper: move head versions from one store to another the way
 * a sync session would (qs_store_feed on the sender, qs_store_apply on the
 * receiver), without the network. Used by the CLI tests to bring reference
 * data down to a county and to make real conflicts.
 *
 *   qs_test_xfer FROM_DIR TO_DIR up|down
 *
 * up: FROM is the child (feed UP, applied as a PUSH); down: FROM is the parent.
 * Prints "applied A duplicate D conflict C rejected R parked P".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static qs_store *open_dir(const char *dir)
{
    qs_store_opts o = qs_store_opts_default();
    o.dir = dir;
    qs_store *st = NULL;
    qs_err err = {0};
    if (qs_store_open(&o, &st, &err) != 0) {
        fprintf(stderr, "qs_test_xfer: %s\n", err.msg);
        return NULL;
    }
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "up") != 0 && strcmp(argv[3], "down") != 0)) {
        fprintf(stderr, "usage: qs_test_xfer FROM_DIR TO_DIR up|down\n");
        return 1;
    }
    bool up = strcmp(argv[3], "up") == 0;
    int rc = 1;
    qs_store *from = open_dir(argv[1]), *to = open_dir(argv[2]);
    qs_store_info fi, ti;
    qs_err err = {0};
    unsigned long counts[5] = {0};
    enum { MAX = 100 };
    qs_record recs[MAX];
    qs_apply_result res[MAX];
    if (!from || !to || qs_store_info_get(from, &fi, &err) || qs_store_info_get(to, &ti, &err))
        goto done;
    uint64_t since = 0;
    bool more = true;
    while (more) {
        uint32_t n = 0;
        uint64_t upto = 0;
        if (qs_store_feed(from, ti.node, up ? QS_FEED_UP : QS_FEED_DOWN, since, MAX, recs, &n,
                          &upto, &more, &err) != 0)
            goto done;
        qs_apply_batch b = {.peer = fi.node,
                            .peer_inc = fi.incarnation,
                            .dir = up ? QS_FROM_CHILD : QS_FROM_PARENT,
                            .recs = recs,
                            .n = n,
                            .cursor = upto,
                            .results = res};
        int r = qs_store_apply(to, &b, 1, &err);
        for (uint32_t i = 0; i < n; i++) {
            if (r == 0 && res[i].outcome < 5)
                counts[res[i].outcome]++;
            if (r == 0 && res[i].outcome == QS_OUT_REJECTED)
                fprintf(stderr, "qs_test_xfer: rejected: %s\n", res[i].reason);
            qs_record_free(&recs[i]);
        }
        if (r != 0)
            goto done;
        since = upto;
    }
    printf("applied %lu duplicate %lu conflict %lu rejected %lu parked %lu\n", counts[0], counts[1],
           counts[2], counts[3], counts[4]);
    rc = 0;
done:
    if (rc && err.msg[0])
        fprintf(stderr, "qs_test_xfer: %s\n", err.msg);
    qs_store_close(from);
    qs_store_close(to);
    return rc;
}
