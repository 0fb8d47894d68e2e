/*
 * test_session.c — the sync session state machine over an in-memory link:
 * convergence of three counties and the province, reference data down, no
 * sibling data, conflicts resolved everywhere, rejections reported, links cut
 * at every message resuming without loss or duplicates, restored counties.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/session.h"
#include "proto/clock.h"
#include "proto/schema.h"
#include "store/store.h"
#include "tests/support/fixture.h"

#define open_store(node, role, dir) qs_fx_store(node, role, NULL, dir)
#define reopen qs_fx_reopen
#define add qs_fx_create
#define count qs_fx_count
#define assert_digest_eq qs_fx_assert_digest_eq

static void add_service(qs_store *st, int total, uint8_t id[16])
{
    char t[32];
    snprintf(t, sizeof t, "total=%d", total);
    uint8_t tmp[16];
    add(st, QS_K_SERVICE, id ? id : tmp, "date=2024-05-01", "service_type=visit", "domain=elderly",
        t, NULL);
}

/* ---- the in-memory link ------------------------------------------------ */

typedef struct msgq {
    qs_buf *items;
    size_t n, cap, head;
} msgq;

typedef struct side {
    msgq *out; /* messages this side sends */
    uint64_t bytes;
    uint64_t emitted;
    uint64_t cut_after; /* stop delivering after this many messages (0 = never) */
} side;

static int emit_cb(void *ctx, const qs_msg *m)
{
    side *sd = ctx;
    msgq *q = sd->out;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->items = realloc(q->items, q->cap * sizeof *q->items);
    }
    qs_buf *b = &q->items[q->n++];
    qs_buf_init(b, 0);
    qs_err e = {0};
    if (qs_msg_encode(m, b, &e))
        fail_msg("encode: %s", e.msg);
    sd->bytes += b->len;
    sd->emitted++;
    return 0;
}

static void q_free(msgq *q)
{
    for (size_t i = 0; i < q->n; i++)
        qs_buf_free(&q->items[i]);
    free(q->items);
    memset(q, 0, sizeof *q);
}

typedef struct link_result {
    bool done;
    int rc;
    qs_sess_stats child, parent;
    uint64_t delivered;
} link_result;

/* The counties the parent takes as children here ([listen] children); the
 * reference-data path is test_place's. */
static const char kids[][QS_NODE_MAX] = {"632301", "632322", "632323"};
#define NKIDS (sizeof kids / sizeof kids[0])

/* Run one session between child store c (node cn) and parent p (node pn).
 * Stops delivering after `cut` messages in total when cut > 0. */
static link_result run(qs_store *c, const char *cn, qs_store *p, const char *pn, uint64_t cut,
                       uint64_t prev_sent)
{
    msgq to_parent = {0}, to_child = {0};
    side cs = {.out = &to_parent}, ps = {.out = &to_child};
    qs_sess_opts o = {.max_batch = 3, .window = 2, .prev_sent = prev_sent};
    qs_session *child = qs_session_new(c, QS_SESS_CHILD, pn, &o, emit_cb, &cs);
    qs_sess_opts po = {.max_batch = 3, .window = 2, .children = kids, .nchildren = NKIDS};
    qs_session *parent = qs_session_new(p, QS_SESS_PARENT, cn, &po, emit_cb, &ps);
    link_result r = {0};
    qs_err e = {0};
    r.rc = qs_session_start(child, &e);
    while (r.rc == 0 && !qs_session_done(child)) {
        bool moved = false;
        for (int dirn = 0; dirn < 2 && r.rc == 0; dirn++) {
            msgq *q = dirn == 0 ? &to_parent : &to_child;
            qs_session *to = dirn == 0 ? parent : child;
            if (q->head >= q->n)
                continue;
            if (cut && r.delivered >= cut) {
                r.rc = QS_EIO; /* the link dropped */
                break;
            }
            qs_buf *b = &q->items[q->head++];
            qs_msg m;
            qs_limits lim = qs_limits_default();
            if (qs_msg_decode(b->data, b->len, &lim, &m, &e))
                fail_msg("decode: %s", e.msg);
            r.rc = qs_session_recv(to, &m, &e);
            if (r.rc)
                fprintf(stderr, "session: %s\n", e.msg);
            qs_msg_free(&m);
            r.delivered++;
            moved = true;
        }
        if (!moved)
            break;
    }
    r.done = qs_session_done(child);
    r.child = *qs_session_stats(child);
    r.parent = *qs_session_stats(parent);
    qs_session_free(child);
    qs_session_free(parent);
    q_free(&to_parent);
    q_free(&to_child);
    return r;
}

static void sync_ok(qs_store *c, const char *cn, qs_store *p, const char *pn)
{
    link_result r = run(c, cn, p, pn, 0, 0);
    assert_int_equal(r.rc, 0);
    assert_true(r.done);
}

typedef struct scope_check {
    const char *node;
    int bad;
} scope_check;

static int check_scope_cb(void *ctx, const qs_record *r)
{
    scope_check *sc = ctx;
    if (!qs_scope_visible(sc->node, r->scope))
        sc->bad++;
    return 0;
}

/* ---- tests ------------------------------------------------------------- */

static void test_three_counties_converge(void **state)
{
    const char *names[3] = {"632322", "632323", "632301"};
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = open_store(names[i], QS_ROLE_COUNTY, NULL);
        for (int j = 0; j < 10 + i; j++)
            add_service(c[i], j + 1, NULL);
    }
    uint8_t cid[16];
    add(p, QS_K_COUNTY, cid, "code=632322", "name=尖扎县", NULL);
    for (int i = 0; i < 3; i++)
        sync_ok(c[i], names[i], p, "630000");
    for (int i = 0; i < 3; i++)
        sync_ok(c[i], names[i], p, "630000"); /* picks up reference data seen late */
    assert_int_equal(count(p, QS_K_SERVICE), 10 + 11 + 12);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(count(c[i], QS_K_SERVICE), (uint64_t)(10 + i));
        assert_int_equal(count(c[i], QS_K_COUNTY), 1);
        assert_digest_eq(c[i], p, names[i]);
        /* No county holds a record it may not see. */
        for (uint32_t k = 0; k < qs_schema_nkinds(); k++) {
            scope_check sc = {.node = names[i]};
            qs_query q = {.kind = qs_schema_kind_at(k)->id, .include_deleted = true};
            qs_err e = {0};
            assert_int_equal(qs_store_list(c[i], &q, check_scope_cb, &sc, &e), 0);
            assert_int_equal(sc.bad, 0);
        }
    }
    /* A second sync moves nothing. */
    link_result r = run(c[0], names[0], p, "630000", 0, 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.child.records_sent, 0);
    assert_int_equal(r.parent.records_sent, 0);
    for (int i = 0; i < 3; i++)
        qs_store_close(c[i]);
    qs_store_close(p);
}

static void test_conflict_resolved_everywhere(void **state)
{
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    uint8_t id[16];
    add_service(c, 5, id);
    sync_ok(c, "632322", p, "630000");
    /* Edit at both ends between syncs. */
    qs_record r;
    qs_err e = {0};
    const qs_kind *k = qs_schema_kind(QS_K_SERVICE);
    const qs_field *tot = qs_kind_field_by_name(k, "total");
    for (int at_parent = 0; at_parent < 2; at_parent++) {
        qs_store *st = at_parent ? p : c;
        assert_int_equal(qs_store_get(st, id, &r, &e), 0);
        qs_body b;
        qs_limits lim = qs_limits_default();
        assert_int_equal(qs_body_decode(r.body, r.body_len, &lim, &b, &e), 0);
        qs_body_set(&b, tot->id, qs_v_int(at_parent ? 50 : 6));
        assert_int_equal(qs_store_update(st, id, &b, NULL, &e), 0);
        qs_body_free(&b);
        qs_record_free(&r);
    }
    link_result lr = run(c, "632322", p, "630000", 0, 0);
    assert_int_equal(lr.rc, 0);
    /* one made at the parent by our push, one here by the pull */
    assert_int_equal(lr.child.conflicts, 2);
    qs_conflict *cf;
    size_t n;
    assert_int_equal(qs_store_conflicts(c, &cf, &n, &e), 0);
    assert_int_equal(n, 1);
    qs_conflicts_free(cf, n);
    assert_int_equal(qs_store_conflicts(p, &cf, &n, &e), 0);
    assert_int_equal(n, 1);
    qs_rev take = cf[0].winner;
    qs_conflicts_free(cf, n);
    assert_digest_eq(c, p, "632322");
    /* Resolve at the county; the next sync ends it at the province. */
    assert_int_equal(qs_store_resolve(c, id, &take, NULL, NULL, &e), 0);
    sync_ok(c, "632322", p, "630000");
    assert_int_equal(qs_store_conflicts(p, &cf, &n, &e), 0);
    assert_int_equal(n, 0);
    free(cf);
    assert_digest_eq(c, p, "632322");
    qs_store_close(c);
    qs_store_close(p);
}

static void test_identity_and_state(void **state)
{
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    /* The child's certificate says 632323 but its HELLO says 632322. */
    link_result r = run(c, "632323", p, "630000", 0, 0);
    assert_int_equal(r.rc, QS_EPROTO);
    /* A message in the wrong state. */
    msgq q = {0};
    side sd = {.out = &q};
    qs_sess_opts o = {0};
    qs_session *s = qs_session_new(p, QS_SESS_PARENT, "632322", &o, emit_cb, &sd);
    qs_msg m = {.type = QS_MSG_PULL};
    qs_err e = {0};
    assert_int_equal(qs_session_recv(s, &m, &e), QS_EPROTO);
    assert_non_null(strstr(e.msg, "PULL"));
    qs_session_free(s);
    q_free(&q);
    qs_store_close(c);
    qs_store_close(p);
}

/* Who may be whose child (issue 17): a parent takes only nodes strictly
 * below it that its reference data (or the children list) knows, and
 * stores nothing about a refused one; a child only a parent above it. */
static void test_place(void **state)
{
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *c = open_store("632324", QS_ROLE_COUNTY, NULL);
    static const struct {
        const char *node;
        const char *why;
    } refused[] = {
        {"632324", "neither a county nor a station"}, /* below, but unknown */
        {"630000", "not below this node"},            /* the parent's own level */
        {"620000", "not below this node"},            /* another province */
        {"000000", "not below this node"},            /* the nation */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        msgq q = {0};
        side sd = {.out = &q};
        qs_sess_opts o = {0};
        qs_session *s = qs_session_new(p, QS_SESS_PARENT, refused[i].node, &o, emit_cb, &sd);
        qs_msg m = {.type = QS_MSG_HELLO};
        m.u.hello.proto = QS_PROTO_VERSION;
        snprintf(m.u.hello.node, sizeof m.u.hello.node, "%s", refused[i].node);
        qs_err e = {0};
        assert_int_equal(qs_session_recv(s, &m, &e), QS_EPERM);
        if (!strstr(e.msg, refused[i].why))
            fail_msg("%s: %s", refused[i].node, e.msg);
        assert_int_equal(q.n, 0); /* no WELCOME */
        qs_session_free(s);
        q_free(&q);
    }
    qs_peer *peers = NULL;
    size_t np = 9;
    qs_err e = {0};
    assert_int_equal(qs_store_peers(p, &peers, &np, &e), 0);
    assert_int_equal(np, 0); /* nothing stored about any of them */
    free(peers);
    /* Once the province's reference data has the county, it is served. */
    qs_fx_create(p, QS_K_COUNTY, NULL, "code=632324", "name=test", (char *)NULL);
    add_service(c, 1, NULL);
    link_result r = run(c, "632324", p, "630000", 0, 0);
    assert_int_equal(r.rc, 0);
    assert_digest_eq(c, p, "632324");
    /* A child refuses a "parent" that is not above it (a sibling's cert). */
    msgq q = {0};
    side sd = {.out = &q};
    qs_sess_opts o = {0};
    qs_session *s = qs_session_new(c, QS_SESS_CHILD, "632323", &o, emit_cb, &sd);
    assert_int_equal(qs_session_start(s, &e), 0);
    qs_msg m = {.type = QS_MSG_WELCOME};
    m.u.hello.proto = QS_PROTO_VERSION;
    snprintf(m.u.hello.node, sizeof m.u.hello.node, "632323");
    assert_int_equal(qs_session_recv(s, &m, &e), QS_EPERM);
    assert_non_null(strstr(e.msg, "not above this node"));
    qs_session_free(s);
    q_free(&q);
    qs_store_close(c);
    qs_store_close(p);
}

static void test_rejected_reported_at_county(void **state)
{
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    uint8_t id[16];
    add_service(c, 1, id);
    add_service(c, 2, NULL);
    /* The province already holds a record with this id under another scope
     * (pushed by a township station): the county's version changes the
     * scope of an existing record and must be refused. */
    qs_record r;
    qs_err e = {0};
    assert_int_equal(qs_store_get(c, id, &r, &e), 0);
    snprintf(r.scope, sizeof r.scope, "632322100");
    snprintf(r.author, sizeof r.author, "632322100/station");
    qs_record_seal(&r);
    qs_apply_result res;
    uint8_t inc[16] = {7};
    qs_apply_batch b = {.peer = "632322100",
                        .peer_inc = inc,
                        .dir = QS_FROM_CHILD,
                        .recs = &r,
                        .n = 1,
                        .cursor = 1,
                        .results = &res};
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    assert_int_equal(res.outcome, QS_OUT_APPLIED);
    qs_record_free(&r);

    link_result lr = run(c, "632322", p, "630000", 0, 0);
    assert_int_equal(lr.rc, 0);
    /* Refused both ways: our version at the province, and the province's
     * version (the township's) here, since each changes the other's scope. */
    assert_int_equal(lr.child.rejected, 2);
    assert_int_equal(lr.child.pushed, 1);
    /* Reported at the county with a reason; not stored at the province. */
    qs_rejection *rj;
    size_t n;
    assert_int_equal(qs_store_rejections(c, &rj, &n, &e), 0);
    assert_int_equal(n, 2);
    size_t out = rj[0].outgoing ? 0 : 1;
    assert_true(rj[out].outgoing);
    assert_false(rj[1 - out].outgoing);
    assert_memory_equal(rj[out].id, id, 16);
    assert_string_equal(rj[out].peer, "630000");
    assert_non_null(strstr(rj[out].reason, "scope"));
    free(rj);
    qs_record held;
    assert_int_equal(qs_store_get(p, id, &held, &e), 0);
    assert_string_equal(held.scope, "632322100");
    qs_record_free(&held);
    /* The county still has its record. */
    assert_int_equal(count(c, QS_K_SERVICE), 2);
    qs_store_close(c);
    qs_store_close(p);
}

/* Cut the link after every possible number of messages; then sync fully.
 * Nothing lost, nothing duplicated, acknowledged batches never resent. */
static void test_cut_anywhere_resumes(void **state)
{
    for (uint64_t cut = 1; cut < 40; cut++) {
        qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
        qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
        for (int j = 0; j < 20; j++)
            add_service(c, j + 1, NULL);
        uint8_t cid[16];
        for (int j = 0; j < 7; j++)
            add(p, QS_K_COUNTY, cid, "code=632322", "name=尖扎县", NULL);
        link_result r1 = run(c, "632322", p, "630000", cut, 0);
        link_result r2 = run(c, "632322", p, "630000", 0, r1.child.highest_acked);
        assert_int_equal(r2.rc, 0);
        assert_true(r2.done);
        assert_int_equal(r2.child.batches_resent, 0);
        assert_int_equal(count(p, QS_K_SERVICE), 20);
        assert_int_equal(count(c, QS_K_COUNTY), 7);
        /* Each record went up exactly once as acknowledged data: the second
         * session only sent what the first did not get acknowledged. */
        assert_true(r1.child.records_acked + r2.child.records_sent <= 20 + 3 * 2);
        assert_digest_eq(c, p, "632322");
        qs_store_close(c);
        qs_store_close(p);
        if (r1.done)
            break; /* cut beyond the end of a whole session */
    }
}

static void test_restored_county(void **state)
{
    char cdir[512], bk[600];
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, cdir);
    snprintf(bk, sizeof bk, "%s/county-backup.db", qs_fx_root());
    for (int j = 0; j < 5; j++)
        add_service(c, j + 1, NULL);
    sync_ok(c, "632322", p, "630000");
    qs_err e = {0};
    assert_int_equal(qs_store_backup(c, bk, &e), 0);
    for (int j = 0; j < 4; j++)
        add_service(c, 100 + j, NULL);
    sync_ok(c, "632322", p, "630000");
    assert_int_equal(count(p, QS_K_SERVICE), 9);
    /* The county's disk dies; it is restored from the older backup. */
    qs_store_close(c);
    assert_int_equal(qs_store_restore(cdir, bk, &e), 0);
    c = reopen(cdir);
    assert_int_equal(count(c, QS_K_SERVICE), 5);
    add_service(c, 200, NULL);
    sync_ok(c, "632322", p, "630000");
    /* It gets back what the province held, and its new record went up. */
    assert_int_equal(count(c, QS_K_SERVICE), 10);
    assert_int_equal(count(p, QS_K_SERVICE), 10);
    assert_digest_eq(c, p, "632322");
    qs_store_close(c);
    qs_store_close(p);
}

static void test_copied_county(void **state)
{
    /* A data directory copied from an older state of the same node (same
     * incarnation, older sequence): the parent's cursor is past our highest
     * seq, so we take a new incarnation and converge. */
    char cdir[512], bk[600];
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, cdir);
    snprintf(bk, sizeof bk, "%s/county-copy.db", qs_fx_root());
    add_service(c, 1, NULL);
    qs_err e = {0};
    assert_int_equal(qs_store_backup(c, bk, &e), 0); /* the "copy" */
    for (int j = 0; j < 6; j++)
        add_service(c, 10 + j, NULL);
    sync_ok(c, "632322", p, "630000");
    qs_store_close(c);
    /* Put the copy in place without the restore step (same incarnation). */
    char db[700];
    snprintf(db, sizeof db, "%s/%s", cdir, QS_DB_FILE);
    char cmd[4000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", bk, db, db, db);
    assert_int_equal(system(cmd), 0);
    c = reopen(cdir);
    link_result r = run(c, "632322", p, "630000", 0, 0);
    assert_int_equal(r.rc, QS_EAGAIN); /* new incarnation taken: reconnect */
    sync_ok(c, "632322", p, "630000");
    assert_int_equal(count(c, QS_K_SERVICE), 7);
    assert_digest_eq(c, p, "632322");
    qs_store_close(c);
    qs_store_close(p);
}

/* Group commit: two children push at once to one parent whose sessions defer
 * their applies; batches that are ready together go into one qs_store_apply
 * (one transaction) and each session still gets its own ACK. */
static void test_group_commit(void **state)
{
    const char *names[2] = {"632322", "632323"};
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *c[2];
    msgq up[2] = {{0}}, down[2] = {{0}};
    side cs[2], ps[2];
    qs_session *child[2], *parent[2];
    qs_err e = {0};
    for (int i = 0; i < 2; i++) {
        c[i] = open_store(names[i], QS_ROLE_COUNTY, NULL);
        for (int j = 0; j < 7 + i; j++)
            add_service(c[i], j + 1, NULL);
        cs[i] = (side){.out = &up[i]};
        ps[i] = (side){.out = &down[i]};
        qs_sess_opts o = {.max_batch = 3, .window = 2};
        qs_sess_opts po = {
            .max_batch = 3, .window = 2, .defer_apply = true, .children = kids, .nchildren = NKIDS};
        child[i] = qs_session_new(c[i], QS_SESS_CHILD, "630000", &o, emit_cb, &cs[i]);
        parent[i] = qs_session_new(p, QS_SESS_PARENT, names[i], &po, emit_cb, &ps[i]);
        assert_int_equal(qs_session_start(child[i], &e), 0);
    }
    qs_limits lim = qs_limits_default();
    int txns = 0, grouped = 0, batches = 0;
    for (int round = 0; round < 200 && !(qs_session_done(child[0]) && qs_session_done(child[1]));
         round++) {
        qs_msg held[2];
        int nheld = 0, who[2];
        for (int i = 0; i < 2; i++) { /* one message up on each link */
            if (up[i].head >= up[i].n)
                continue;
            qs_buf *b = &up[i].items[up[i].head++];
            qs_msg *m = &held[nheld];
            assert_int_equal(qs_msg_decode(b->data, b->len, &lim, m, &e), 0);
            int rc = qs_session_recv(parent[i], m, &e);
            if (rc == QS_SESS_APPLY) {
                assert_non_null(qs_session_pending(parent[i]));
                who[nheld++] = i;
            } else {
                assert_int_equal(rc, 0);
                qs_msg_free(m);
            }
        }
        if (nheld) { /* the ready batches together, in one transaction */
            qs_apply_batch ab[2];
            for (int k = 0; k < nheld; k++)
                ab[k] = *qs_session_pending(parent[who[k]]);
            int arc = qs_store_apply(p, ab, (size_t)nheld, &e);
            assert_int_equal(arc, 0);
            txns++;
            batches += nheld;
            if (nheld == 2)
                grouped++;
            for (int k = 0; k < nheld; k++) {
                assert_int_equal(qs_session_applied(parent[who[k]], arc, &e, &e), 0);
                assert_null(qs_session_pending(parent[who[k]]));
                qs_msg_free(&held[k]);
            }
        }
        for (int i = 0; i < 2; i++) { /* one message down on each link */
            if (down[i].head >= down[i].n)
                continue;
            qs_buf *b = &down[i].items[down[i].head++];
            qs_msg m;
            assert_int_equal(qs_msg_decode(b->data, b->len, &lim, &m, &e), 0);
            assert_int_equal(qs_session_recv(child[i], &m, &e), 0);
            qs_msg_free(&m);
        }
    }
    assert_true(qs_session_done(child[0]) && qs_session_done(child[1]));
    assert_true(grouped >= 1); /* at least one transaction held both links' batches */
    assert_true(txns < batches);
    assert_int_equal(count(p, QS_K_SERVICE), 7 + 8);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(qs_session_stats(child[i])->records_acked, (uint64_t)(7 + i));
        assert_int_equal(qs_session_stats(parent[i])->received, (uint64_t)(7 + i));
        assert_digest_eq(c[i], p, names[i]);
        qs_session_free(child[i]);
        qs_session_free(parent[i]);
        q_free(&up[i]);
        q_free(&down[i]);
        qs_store_close(c[i]);
    }
    /* applied without a pending batch is refused */
    qs_session *s =
        qs_session_new(p, QS_SESS_PARENT, "632322", &(qs_sess_opts){0}, emit_cb, &ps[0]);
    assert_int_equal(qs_session_applied(s, 0, NULL, &e), QS_EINVAL);
    qs_session_free(s);
    qs_store_close(p);
}

/* Skew is measured from the wall clocks in HELLO/WELCOME (key 11), not from
 * the HLC: a county whose stored HLC was pushed far ahead by a wrong clock
 * that has since been set right shows no skew, though its HLC reading is
 * still not taken (reported apart as hlc_ahead_ms). A peer without key 11 is
 * measured by its HLC, as before. One table of HELLOs at a parent session. */
static void test_skew_from_wall_clocks(void **state)
{
    (void)state;
    const int64_t min = 60000LL, h = 60 * min, day = 24 * h;
    static const struct {
        const char *what;
        int64_t hlc, wall; /* offsets from now */
        bool has_wall;
        int64_t skew;
        bool rejected;
    } t[] = {
        {"both clocks 5 h ahead", 5 * h, 5 * h, true, 5 * h, true},
        {"HLC stuck 800 days ahead, wall clock right", 800 * day, 0, true, 0, true},
        {"3 days behind", -3 * day, -3 * day, true, -3 * day, false},
        {"wall clock ahead, HLC not (yet)", 0, 2 * h, true, 2 * h, false},
        {"older peer without key 11: its HLC", 1 * min, 0, false, 1 * min, false},
    };
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        msgq q = {0};
        side sd = {.out = &q};
        qs_sess_opts po = {.children = kids, .nchildren = NKIDS};
        qs_session *s = qs_session_new(p, QS_SESS_PARENT, "632322", &po, emit_cb, &sd);
        int64_t now = qs_clock_wall_ms();
        qs_msg m = {.type = QS_MSG_HELLO};
        qs_hello *hl = &m.u.hello;
        hl->proto = QS_PROTO_VERSION;
        strcpy(hl->node, "632322");
        memset(hl->incarnation, 7, QS_INC_LEN);
        hl->schema = QS_SCHEMA_VERSION;
        hl->hlc = qs_hlc_make(now + t[i].hlc, 0);
        hl->has_wall = t[i].has_wall;
        hl->wall_ms = t[i].has_wall ? (uint64_t)(now + t[i].wall) : 0;
        qs_err e = {0};
        if (qs_session_recv(s, &m, &e))
            fail_msg("%s: %s", t[i].what, e.msg);
        const qs_sess_stats *st = qs_session_stats(s);
        if (llabs(st->skew_ms - t[i].skew) > 5000 || st->skew_rejected != t[i].rejected)
            fail_msg("%s: skew %lld ms rejected %d, want about %lld ms, %d", t[i].what,
                     (long long)st->skew_ms, st->skew_rejected, (long long)t[i].skew,
                     t[i].rejected);
        assert_true(llabs(st->hlc_ahead_ms - t[i].hlc) < 5000);
        /* What the province keeps and shows (`nodes`) is the same skew. */
        qs_peer peer;
        assert_int_equal(qs_store_peer_get(p, "632322", &peer, &e), 0);
        assert_true(peer.skew_ms == st->skew_ms);
        /* The WELCOME carries the parent's wall clock. */
        qs_msg w;
        qs_limits lim = qs_limits_default();
        assert_int_equal(q.n, 1);
        assert_int_equal(qs_msg_decode(q.items[0].data, q.items[0].len, &lim, &w, &e), 0);
        assert_int_equal(w.type, QS_MSG_WELCOME);
        assert_true(w.u.hello.has_wall);
        assert_true(llabs((int64_t)w.u.hello.wall_ms - qs_clock_wall_ms()) < 5000);
        qs_msg_free(&w);
        qs_session_free(s);
        q_free(&q);
    }
    /* The parent's clock was never dragged by the readings it refused. */
    qs_hlc now;
    qs_err e = {0};
    assert_int_equal(qs_store_clock_now(p, &now, &e), 0);
    assert_true(qs_hlc_ms(now) < qs_clock_wall_ms() + 3 * h);
    qs_store_close(p);
}

/* End to end: a county run once with its clock 800 days ahead (its HLC is
 * stored there), then with the right clock: both sides see no skew. */
static void test_skew_after_clock_set_right(void **state)
{
    (void)state;
    const int64_t day = 86400000LL;
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_clock_set_offset_ms(800 * day);
    add_service(c, 1, NULL); /* stamped 800 days ahead; the HLC keeps it */
    qs_clock_set_offset_ms(0);
    link_result r = run(c, "632322", p, "630000", 0, 0);
    assert_int_equal(r.rc, 0);
    assert_true(r.done);
    if (llabs(r.parent.skew_ms) > 5000 || llabs(r.child.skew_ms) > 5000)
        fail_msg("skew at the parent %lld ms, at the child %lld ms: want about 0",
                 (long long)r.parent.skew_ms, (long long)r.child.skew_ms);
    assert_true(r.parent.skew_rejected); /* the reading itself is still refused */
    assert_true(r.parent.hlc_ahead_ms > 799 * day);
    qs_store_close(c);
    qs_store_close(p);
}

int main(void)
{
    qs_fx_init("session");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_counties_converge),
        cmocka_unit_test(test_conflict_resolved_everywhere),
        cmocka_unit_test(test_identity_and_state),
        cmocka_unit_test(test_place),
        cmocka_unit_test(test_rejected_reported_at_county),
        cmocka_unit_test(test_cut_anywhere_resumes),
        cmocka_unit_test(test_restored_county),
        cmocka_unit_test(test_copied_county),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_skew_from_wall_clocks),
        cmocka_unit_test(test_skew_after_clock_set_right),
    };
    return qs_fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
