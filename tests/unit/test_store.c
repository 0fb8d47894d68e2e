/*
 * test_store.c — the store: local edits, the four apply outcomes, the conflict
 * matrix, arrival-order independence, cursors, scope rules on the feed,
 * unknown fields, local-only kinds, the shared clock, backups, incarnations.
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
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "proto/clock.h"
#include "proto/hlc.h"
#include "proto/uuid.h"
#include "proto/msg.h"
#include "proto/schema.h"
#include "proto/scope.h"
#include "store/store.h"
#include "tests/support/fixture.h"

#define open_store(node, role, lim) qs_fx_store(node, role, lim, NULL)
#define reopen qs_fx_reopen
#define mkbody qs_fx_body
#define assert_same_digest qs_fx_assert_digest_eq

static void service_body(qs_body *b, const char *date, const char *total)
{
    char d[48], t[48];
    snprintf(d, sizeof d, "date=%s", date);
    snprintf(t, sizeof t, "total=%s", total);
    mkbody(b, QS_K_SERVICE, d, "service_type=casework", "domain=assistance", t, NULL);
}

static void create_service(qs_store *st, const char *date, const char *total, uint8_t id[16])
{
    qs_body b;
    service_body(&b, date, total);
    qs_err e = {0};
    if (qs_store_create(st, QS_K_SERVICE, NULL, &b, id, NULL, &e))
        fail_msg("create: %s", e.msg);
    qs_body_free(&b);
}

/* First in this program, before SQLite is in use: the process's page cache
 * comes from one mapping faulted in at once (what `qianshou import` asks for),
 * a bulk transaction's pages are taken from it, and asking again once SQLite
 * is in use does nothing. Every later test here runs on that cache too. */
static void test_prefault_page_cache(void **state)
{
    QS_FX_SQLITE_ONLY();
    assert_true(qs_store_prefault_page_cache(1u << 20));
    char dir[512];
    qs_store *st = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, dir);
    qs_err e = {0};
    assert_int_equal(qs_store_begin_bulk(st, 8, &e), 0);
    uint8_t id[16];
    for (int i = 0; i < 300; i++)
        create_service(st, "2024-03-01", "5", id);
    assert_int_equal(qs_store_commit(st, &e), 0);
    int cur = 0, hi = 0;
    assert_int_equal(sqlite3_status(SQLITE_STATUS_PAGECACHE_USED, &cur, &hi, 0), SQLITE_OK);
    assert_true(hi > 10); /* pages of the transaction came from it */
    assert_false(qs_store_prefault_page_cache(1u << 20));
    qs_store_close(st);
}

static void update_service(qs_store *st, const uint8_t id[16], const char *total)
{
    qs_body b;
    service_body(&b, "2024-03-01", total);
    qs_err e = {0};
    if (qs_store_update(st, id, &b, NULL, &e))
        fail_msg("update: %s", e.msg);
    qs_body_free(&b);
}

/* Ship everything `from` would send to `to` and apply it there. dir: the
 * direction as seen by `from` (QS_FEED_UP: from is the child). Returns the
 * count of each outcome in out[5]. */
static void digest(qs_store *st, const char *scope, uint8_t d[32], uint64_t *count)
{
    qs_err e = {0};
    if (qs_store_digest(st, scope, d, count, &e))
        fail_msg("digest: %s", e.msg);
}

static int64_t total_of(qs_store *st, const uint8_t id[16])
{
    qs_record r;
    qs_err e = {0};
    assert_int_equal(qs_store_get(st, id, &r, &e), 0);
    qs_body b;
    qs_limits lim = qs_limits_default();
    assert_int_equal(qs_body_decode(r.body, r.body_len, &lim, &b, &e), 0);
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(QS_K_SERVICE), "total");
    const qs_value *v = qs_body_get(&b, f->id);
    int64_t t = v && v->t == QS_V_INT ? v->u.i : -1;
    qs_body_free(&b);
    qs_record_free(&r);
    return t;
}

static size_t nconflicts(qs_store *st, qs_conflict **out)
{
    qs_conflict *c;
    size_t n;
    qs_err e = {0};
    assert_int_equal(qs_store_conflicts(st, &c, &n, &e), 0);
    if (out)
        *out = c;
    else
        qs_conflicts_free(c, n);
    return n;
}

/* ---- tests ------------------------------------------------------------- */

static void test_create_open_modes(void **state)
{
    char dir[512], path[600];
    qs_store *st = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, dir);
    qs_store_info info;
    qs_err e = {0};
    assert_int_equal(qs_store_info_get(st, &info, &e), 0);
    assert_string_equal(info.node, "632322");
    assert_int_equal(info.role, QS_ROLE_COUNTY);
    snprintf(path, sizeof path, "%s/%s", dir, QS_DB_FILE);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0660);
    qs_store_close(st);
    /* Reopen with the wrong node id: refused. */
    qs_store_opts o = qs_store_opts_default();
    o.dir = dir;
    o.node = "632323";
    qs_store *bad = NULL;
    assert_int_not_equal(qs_store_open(&o, &bad, &e), 0);
    assert_non_null(strstr(e.msg, "632322"));
    /* Creating over an existing store: refused. */
    o.create = true;
    o.node = "632322";
    o.role = QS_ROLE_COUNTY;
    assert_int_equal(qs_store_open(&o, &bad, &e), QS_EEXIST);
    st = reopen(dir);
    qs_store_info again;
    assert_int_equal(qs_store_info_get(st, &again, &e), 0);
    assert_memory_equal(again.incarnation, info.incarnation, 16);
    qs_store_close(st);
}

static void test_local_edits(void **state)
{
    qs_store *st = open_store("632322", QS_ROLE_COUNTY, NULL);
    uint8_t id[16];
    qs_err e = {0};
    create_service(st, "2024-03-01", "5", id);
    assert_int_equal(total_of(st, id), 5);
    update_service(st, id, "7");
    assert_int_equal(total_of(st, id), 7);
    qs_version_info *v;
    size_t n;
    assert_int_equal(qs_store_history(st, id, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].head, 0);
    assert_int_equal(v[1].head, 1);
    assert_int_equal(v[1].rec.rev.gen, 2);
    assert_true(qs_rev_eq(&v[1].rec.parents[0], &v[0].rec.rev));
    assert_string_equal(v[1].rec.author, "632322/tester");
    assert_true(v[1].rec.hlc > v[0].rec.hlc);
    qs_version_info_free(v, n);

    /* Invalid body: every field error reported. */
    qs_body b;
    mkbody(&b, QS_K_SERVICE, "service_type=casework", NULL);
    assert_int_equal(qs_store_create(st, QS_K_SERVICE, NULL, &b, NULL, NULL, &e), QS_EINVAL);
    assert_non_null(strstr(e.msg, "date"));
    assert_non_null(strstr(e.msg, "total"));
    qs_body_free(&b);

    /* A county may not create province-level reference data. */
    mkbody(&b, QS_K_COUNTY, "code=632322", "name=尖扎县", NULL);
    assert_int_equal(qs_store_create(st, QS_K_COUNTY, "630000", &b, NULL, NULL, &e), QS_ESCOPE);
    assert_int_equal(qs_store_create(st, QS_K_COUNTY, NULL, &b, NULL, NULL, &e), QS_ESCOPE);
    qs_body_free(&b);
    /* Nor write into a sibling county. */
    service_body(&b, "2024-03-01", "1");
    assert_int_equal(qs_store_create(st, QS_K_SERVICE, "632323", &b, NULL, NULL, &e), QS_ESCOPE);
    qs_body_free(&b);

    /* Delete: a tombstone, gone from lists. */
    qs_query q = {.kind = QS_K_SERVICE};
    uint64_t cnt;
    assert_int_equal(qs_store_count_eq(st, QS_K_SERVICE, NULL, 0, &cnt, &e), 0);
    assert_int_equal(cnt, 1);
    assert_int_equal(qs_store_delete(st, id, NULL, &e), 0);
    assert_int_equal(qs_store_count_eq(st, QS_K_SERVICE, NULL, 0, &cnt, &e), 0);
    assert_int_equal(cnt, 0);
    qs_record r;
    assert_int_equal(qs_store_get(st, id, &r, &e), 0);
    assert_true(r.deleted);
    qs_record_free(&r);
    assert_int_equal(qs_store_update(st, id, &b, NULL, &e), QS_ENOTFOUND);
    (void)q;
    qs_store_close(st);
}

static int count_cb(void *ctx, const qs_record *r)
{
    (*(int *)ctx)++;
    return 0;
}

static void test_list_filters(void **state)
{
    qs_store *st = open_store("632322", QS_ROLE_COUNTY, NULL);
    uint8_t id[16];
    create_service(st, "2024-03-01", "5", id);
    create_service(st, "2024-03-02", "6", id);
    create_service(st, "2024-03-02", "7", id);
    const qs_kind *k = qs_schema_kind(QS_K_SERVICE);
    qs_value v;
    qs_err e = {0};
    assert_int_equal(qs_schema_parse(qs_kind_field_by_name(k, "date"), "2024-03-02", &v, &e), 0);
    qs_filter f = {.field = qs_kind_field_by_name(k, "date")->id, .value = v};
    qs_query q = {.kind = QS_K_SERVICE, .filters = &f, .nfilters = 1};
    int n = 0;
    assert_int_equal(qs_store_list(st, &q, count_cb, &n, &e), 0);
    assert_int_equal(n, 2);
    q.limit = 1;
    n = 0;
    assert_int_equal(qs_store_list(st, &q, count_cb, &n, &e), 0);
    assert_int_equal(n, 1);
    qs_value_free(&v);
    qs_store_close(st);
}

/* Two counties can't share records; use the province and one county. */
/* One batch holding two versions of one record and a new record: the
 * aggregator on PostgreSQL gathers a batch's rows into multi-row INSERTs
 * (store/pg_bulk.c), so the second version must see the first, still
 * gathered, and the projection must end with the edit. */
static void test_batch_same_record_twice(void **state)
{
    (void)state;
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    uint8_t x[16], y[16];
    qs_err e = {0};
    qs_record recs[3];
    create_service(c, "2024-03-01", "5", x);
    assert_int_equal(qs_store_get(c, x, &recs[0], &e), 0);
    update_service(c, x, "6");
    assert_int_equal(qs_store_get(c, x, &recs[1], &e), 0);
    create_service(c, "2024-03-02", "7", y);
    assert_int_equal(qs_store_get(c, y, &recs[2], &e), 0);
    qs_store_info ci;
    assert_int_equal(qs_store_info_get(c, &ci, &e), 0);
    qs_apply_result res[3];
    qs_apply_batch b = {.peer = "632322",
                        .peer_inc = ci.incarnation,
                        .dir = QS_FROM_CHILD,
                        .recs = recs,
                        .n = 3,
                        .cursor = 3,
                        .results = res};
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(res[i].outcome, QS_OUT_APPLIED);
    assert_int_equal(total_of(p, x), 6);
    assert_int_equal(total_of(p, y), 7);
    qs_version_info *hv;
    size_t hn;
    assert_int_equal(qs_store_history(p, x, &hv, &hn, &e), 0);
    assert_int_equal(hn, 2);
    qs_version_info_free(hv, hn);
    qs_conflict *cf;
    size_t ncf;
    assert_int_equal(qs_store_conflicts(p, &cf, &ncf, &e), 0);
    assert_int_equal(ncf, 0);
    qs_conflicts_free(cf, ncf);
    /* sent again in one batch: duplicates, nothing changes */
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(res[i].outcome, QS_OUT_DUPLICATE);
    qs_fx_assert_digest_eq(c, p, "632322");
    for (int i = 0; i < 3; i++)
        qs_record_free(&recs[i]);
    qs_store_close(p);
    qs_store_close(c);
}

static void test_apply_outcomes(void **state)
{
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    uint8_t id[16];
    int out[5];
    create_service(c, "2024-03-01", "5", id);
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_APPLIED], 1);
    assert_int_equal(total_of(p, id), 5);
    /* The cursor moved: nothing more to send. */
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_APPLIED] + out[QS_OUT_DUPLICATE], 0);

    /* Re-sending the same version: duplicate. */
    qs_record r;
    qs_err e = {0};
    assert_int_equal(qs_store_get(c, id, &r, &e), 0);
    qs_store_info ci;
    qs_store_info_get(c, &ci, &e);
    qs_apply_result res;
    qs_apply_batch b = {.peer = "632322",
                        .peer_inc = ci.incarnation,
                        .dir = QS_FROM_CHILD,
                        .recs = &r,
                        .n = 1,
                        .cursor = 1,
                        .results = &res};
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    assert_int_equal(res.outcome, QS_OUT_DUPLICATE);

    /* Forged body: hash does not verify -> rejected, nothing applied. */
    qs_record forged;
    qs_record_copy(&forged, &r);
    qs_body fb;
    service_body(&fb, "2024-03-01", "500");
    qs_buf bb;
    qs_buf_init(&bb, 0);
    qs_body_encode(&fb, &bb, &e);
    qs_record_set_body(&forged, bb.data, (uint32_t)bb.len);
    forged.parents = NULL;
    qs_rev par = r.rev;
    qs_record_set_parents(&forged, &par, 1);
    forged.rev.gen = 2; /* claims to be an edit, hash left as the original's */
    b.recs = &forged;
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    assert_int_equal(res.outcome, QS_OUT_REJECTED);
    assert_int_equal(total_of(p, id), 5);

    /* A county pushing a sibling's record: rejected. */
    qs_record sib;
    qs_record_copy(&sib, &r);
    uint8_t other[16];
    memcpy(other, id, 16);
    other[15] ^= 1;
    memcpy(sib.id, other, 16);
    snprintf(sib.scope, sizeof sib.scope, "632323");
    qs_record_seal(&sib);
    b.recs = &sib;
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    assert_int_equal(res.outcome, QS_OUT_REJECTED);
    assert_non_null(strstr(res.reason, "632323"));
    qs_record_free(&r);
    assert_int_equal(qs_store_get(p, other, &r, &e), QS_ENOTFOUND);

    /* Changing the scope of an existing record (valid hash): rejected. */
    qs_record moved;
    assert_int_equal(qs_store_get(c, id, &r, &e), 0);
    qs_record_copy(&moved, &r);
    snprintf(moved.scope, sizeof moved.scope, "632322100");
    qs_record_set_parents(&moved, &r.rev, 1);
    qs_record_seal(&moved);
    b.recs = &moved;
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    assert_int_equal(res.outcome, QS_OUT_REJECTED);
    assert_non_null(strstr(res.reason, "scope"));

    /* A county rewriting reference data: rejected. */
    qs_body cb;
    mkbody(&cb, QS_K_COUNTY, "code=632322", "name=尖扎县", NULL);
    uint8_t cid[16];
    assert_int_equal(qs_store_create(p, QS_K_COUNTY, NULL, &cb, cid, NULL, &e), 0);
    qs_fx_ship(p, "630000", c, "632322", QS_FEED_DOWN, out);
    assert_int_equal(out[QS_OUT_APPLIED], 1);
    qs_record ref;
    assert_int_equal(qs_store_get(c, cid, &ref, &e), 0);
    qs_record rw;
    qs_record_copy(&rw, &ref);
    qs_record_set_parents(&rw, &ref.rev, 1);
    rw.deleted = true;
    qs_record_seal(&rw);
    b.recs = &rw;
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    assert_int_equal(res.outcome, QS_OUT_REJECTED);
    qs_record cur;
    assert_int_equal(qs_store_get(p, cid, &cur, &e), 0);
    assert_false(cur.deleted);
    /* ... and the county never pushes reference data it pulled. */
    uint64_t pending;
    assert_int_equal(qs_store_pending(c, "630000", &pending, &e), 0);
    assert_int_equal(pending, 0);
    qs_rejection *rj;
    size_t nrj;
    assert_int_equal(qs_store_rejections(p, &rj, &nrj, &e), 0);
    assert_true(nrj >= 4);
    free(rj);

    /* An unknown kind is parked, not rejected. */
    qs_record unk;
    qs_record_copy(&unk, &r);
    unk.kind = 999;
    unk.id[0] ^= 0x55;
    qs_record_set_parents(&unk, NULL, 0);
    qs_record_seal(&unk);
    b.recs = &unk;
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    assert_int_equal(res.outcome, QS_OUT_PARKED);
    qs_store_info pi;
    qs_store_info_get(p, &pi, &e);
    assert_int_equal(pi.parked, 1);

    qs_record_free(&r);
    qs_record_free(&forged);
    qs_record_free(&sib);
    qs_record_free(&moved);
    qs_record_free(&ref);
    qs_record_free(&rw);
    qs_record_free(&cur);
    qs_record_free(&unk);
    qs_body_free(&fb);
    qs_body_free(&cb);
    qs_buf_free(&bb);
    qs_store_close(c);
    qs_store_close(p);
}

/* Edit on both sides between syncs. */
static void conflict_case(const char *kind_of_edit_c, const char *kind_of_edit_p)
{
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    uint8_t id[16];
    int out[5];
    qs_err e = {0};
    create_service(c, "2024-03-01", "5", id);
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    if (strcmp(kind_of_edit_c, "edit") == 0)
        update_service(c, id, "6");
    else
        assert_int_equal(qs_store_delete(c, id, NULL, &e), 0);
    if (strcmp(kind_of_edit_p, "edit") == 0)
        update_service(p, id, "9");
    else
        assert_int_equal(qs_store_delete(p, id, NULL, &e), 0);
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    bool both_delete =
        strcmp(kind_of_edit_c, "delete") == 0 && strcmp(kind_of_edit_p, "delete") == 0;
    /* Two deletes of the same version make the same tombstone: a duplicate. */
    assert_int_equal(out[both_delete ? QS_OUT_DUPLICATE : QS_OUT_CONFLICT], 1);
    qs_fx_ship(p, "630000", c, "632322", QS_FEED_DOWN, out);
    qs_record wc, wp;
    assert_int_equal(qs_store_get(c, id, &wc, &e), 0);
    assert_int_equal(qs_store_get(p, id, &wp, &e), 0);
    assert_true(qs_rev_eq(&wc.rev, &wp.rev));
    assert_int_equal(nconflicts(c, NULL), both_delete ? 0 : 1);
    assert_int_equal(nconflicts(p, NULL), both_delete ? 0 : 1);
    assert_same_digest(c, p, "632322");
    if (!both_delete) {
        /* Resolve at the province; the county receives the resolution. */
        qs_conflict *cf;
        assert_int_equal(nconflicts(p, &cf), 1);
        qs_rev take = cf[0].losers[0];
        qs_conflicts_free(cf, 1);
        assert_int_equal(qs_store_resolve(p, id, &take, NULL, NULL, &e), 0);
        assert_int_equal(nconflicts(p, NULL), 0);
        qs_fx_ship(p, "630000", c, "632322", QS_FEED_DOWN, out);
        assert_int_equal(out[QS_OUT_APPLIED], 1);
        assert_int_equal(nconflicts(c, NULL), 0);
        assert_same_digest(c, p, "632322");
    }
    qs_record_free(&wc);
    qs_record_free(&wp);
    qs_store_close(c);
    qs_store_close(p);
}

static void test_conflict_edit_edit(void **state)
{
    conflict_case("edit", "edit");
}
static void test_conflict_edit_delete(void **state)
{
    conflict_case("edit", "delete");
}
static void test_conflict_delete_edit(void **state)
{
    conflict_case("delete", "edit");
}
static void test_conflict_delete_delete(void **state)
{
    conflict_case("delete", "delete");
}

/* More than K edits between syncs: the ancestry does not reach back. */
static void test_conflict_beyond_k(void **state)
{
    qs_limits lim = qs_limits_default();
    lim.max_ancestry = 4;
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, &lim);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, &lim);
    uint8_t id[16];
    int out[5];
    create_service(c, "2024-03-01", "1", id);
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    char t[8];
    for (int i = 2; i <= 10; i++) {
        snprintf(t, sizeof t, "%d", i);
        update_service(c, id, t);
    }
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_CONFLICT], 1);
    /* Newer generation wins; the older one is listed; nothing lost. */
    assert_int_equal(total_of(p, id), 10);
    qs_conflict *cf;
    assert_int_equal(nconflicts(p, &cf), 1);
    assert_int_equal(cf[0].winner.gen, 10);
    assert_int_equal(cf[0].nlosers, 1);
    assert_int_equal(cf[0].losers[0].gen, 1);
    qs_conflicts_free(cf, 1);
    qs_store_close(c);
    qs_store_close(p);
}

/* Three-way: county edit, province edit, and a second county edit all
 * concurrent; plus arrival-order independence over many seeded orders. */
static void test_arrival_orders(void **state)
{
    /* Make a set of concurrent versions of one record on separate stores. */
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    uint8_t id[16];
    int out[5];
    qs_err e = {0};
    create_service(c, "2024-03-01", "1", id);
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    /* Versions: c edits twice (a chain), p edits once, p deletes in a 4th
     * store copy... collect all heads' histories as the version pool. */
    update_service(c, id, "2");
    update_service(c, id, "3");
    update_service(p, id, "20");
    qs_version_info *vc, *vp;
    size_t nc, np;
    assert_int_equal(qs_store_history(c, id, &vc, &nc, &e), 0);
    assert_int_equal(qs_store_history(p, id, &vp, &np, &e), 0);
    /* pool: c's 3 versions (v1, v2, v3) + p's edit (v1 duplicate skipped) */
    qs_record pool[8];
    size_t npool = 0;
    for (size_t i = 0; i < nc; i++)
        qs_record_copy(&pool[npool++], &vc[i].rec);
    for (size_t i = 1; i < np; i++)
        qs_record_copy(&pool[npool++], &vp[i].rec);
    assert_int_equal(npool, 4);
    qs_version_info_free(vc, nc);
    qs_version_info_free(vp, np);
    for (size_t i = 0; i < npool; i++)
        qs_record_set_ancestry(&pool[i], NULL, 0); /* parents only */

    uint8_t ref_digest[32];
    qs_rev ref_winner = {0};
    srand(12345);
    for (int trial = 0; trial < 24; trial++) {
        size_t order[8];
        for (size_t i = 0; i < npool; i++)
            order[i] = i;
        for (size_t i = npool - 1; i > 0; i--) {
            size_t j = (size_t)rand() % (i + 1);
            size_t t2 = order[i];
            order[i] = order[j];
            order[j] = t2;
        }
        /* a third node that receives them all: another copy of the county,
         * from the province (which relays both authors' versions down) */
        qs_store *s = open_store("632322", QS_ROLE_COUNTY, NULL);
        uint8_t inc[16] = {1};
        for (size_t i = 0; i < npool; i++) {
            qs_apply_result res;
            qs_apply_batch b = {.peer = "630000",
                                .peer_inc = inc,
                                .dir = QS_FROM_PARENT,
                                .recs = &pool[order[i]],
                                .n = 1,
                                .cursor = i + 1,
                                .results = &res};
            assert_int_equal(qs_store_apply(s, &b, 1, &e), 0);
            assert_int_not_equal(res.outcome, QS_OUT_REJECTED);
        }
        uint8_t d[32];
        uint64_t cnt;
        digest(s, NULL, d, &cnt);
        qs_record w;
        assert_int_equal(qs_store_get(s, id, &w, &e), 0);
        qs_conflict *cf;
        assert_int_equal(nconflicts(s, &cf), 1);
        assert_int_equal(cf[0].nlosers, 1);
        qs_conflicts_free(cf, 1);
        if (trial == 0) {
            memcpy(ref_digest, d, 32);
            ref_winner = w.rev;
            assert_int_equal(cnt, 2); /* two heads: v3 and p's edit */
        } else {
            assert_memory_equal(d, ref_digest, 32);
            assert_true(qs_rev_eq(&w.rev, &ref_winner));
        }
        qs_record_free(&w);
        qs_store_close(s);
    }
    for (size_t i = 0; i < npool; i++)
        qs_record_free(&pool[i]);
    qs_store_close(c);
    qs_store_close(p);
}

static void test_cursor_atomicity(void **state)
{
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    uint8_t id[16];
    for (int i = 0; i < 10; i++)
        create_service(c, "2024-03-01", "1", id);
    qs_record recs[10];
    uint32_t n;
    uint64_t upto;
    bool more;
    qs_err e = {0};
    assert_int_equal(qs_store_feed(c, "630000", QS_FEED_UP, 0, 10, recs, &n, &upto, &more, &e), 0);
    assert_int_equal(n, 10);
    qs_store_info ci;
    qs_store_info_get(c, &ci, &e);
    qs_apply_result res[10];
    qs_apply_batch b = {.peer = "632322",
                        .peer_inc = ci.incarnation,
                        .dir = QS_FROM_CHILD,
                        .recs = recs,
                        .n = n,
                        .cursor = upto,
                        .results = res};
    qs_store_test_fail_after(p, 5);
    assert_int_equal(qs_store_apply(p, &b, 1, &e), QS_EIO);
    uint64_t cnt;
    assert_int_equal(qs_store_count_eq(p, QS_K_SERVICE, NULL, 0, &cnt, &e), 0);
    assert_int_equal(cnt, 0);
    qs_peer peer;
    assert_int_equal(qs_store_peer_get(p, "632322", &peer, &e), 0);
    assert_int_equal(peer.recv_cursor, 0);
    /* The retry succeeds in full. */
    assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
    assert_int_equal(qs_store_count_eq(p, QS_K_SERVICE, NULL, 0, &cnt, &e), 0);
    assert_int_equal(cnt, 10);
    assert_int_equal(qs_store_peer_get(p, "632322", &peer, &e), 0);
    assert_int_equal(peer.recv_cursor, upto);
    for (uint32_t i = 0; i < n; i++)
        qs_record_free(&recs[i]);
    qs_store_close(c);
    qs_store_close(p);
}

static void test_feed_scope(void **state)
{
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_store *a = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *b = open_store("632323", QS_ROLE_COUNTY, NULL);
    uint8_t id[16];
    int out[5];
    create_service(a, "2024-03-01", "1", id);
    create_service(b, "2024-03-01", "2", id);
    qs_body cb;
    mkbody(&cb, QS_K_COUNTY, "code=632322", "name=尖扎县", NULL);
    qs_err e = {0};
    assert_int_equal(qs_store_create(p, QS_K_COUNTY, NULL, &cb, NULL, NULL, &e), 0);
    qs_body_free(&cb);
    qs_fx_ship(a, "632322", p, "630000", QS_FEED_UP, out);
    qs_fx_ship(b, "632323", p, "630000", QS_FEED_UP, out);
    qs_fx_ship(p, "630000", a, "632322", QS_FEED_DOWN, out);
    qs_fx_ship(p, "630000", b, "632323", QS_FEED_DOWN, out);
    /* a: its own record + the reference record; never b's. */
    uint64_t n;
    assert_int_equal(qs_store_count_eq(a, QS_K_SERVICE, NULL, 0, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(qs_store_count_eq(a, QS_K_COUNTY, NULL, 0, &n, &e), 0);
    assert_int_equal(n, 1);
    qs_query q = {.kind = QS_K_SERVICE, .scope = "632323"};
    int cnt = 0;
    assert_int_equal(qs_store_list(a, &q, count_cb, &cnt, &e), 0);
    assert_int_equal(cnt, 0);
    assert_same_digest(a, p, "632322");
    assert_same_digest(b, p, "632323");
    /* A county's upward feed never carries the reference data it pulled. */
    qs_record recs[8];
    uint32_t got;
    uint64_t upto;
    bool more;
    assert_int_equal(qs_store_feed(a, "630000", QS_FEED_UP, 0, 8, recs, &got, &upto, &more, &e), 0);
    for (uint32_t i = 0; i < got; i++) {
        assert_int_not_equal(recs[i].kind, QS_K_COUNTY);
        qs_record_free(&recs[i]);
    }
    qs_store_close(p);
    qs_store_close(a);
    qs_store_close(b);
}

static void test_unknown_fields_and_local_only(void **state)
{
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_body b;
    service_body(&b, "2024-03-01", "3");
    qs_body_set(&b, 900, qs_v_str("from a newer schema"));
    uint8_t id[16];
    qs_err e = {0};
    assert_int_equal(qs_store_create(c, QS_K_SERVICE, NULL, &b, id, NULL, &e), 0);
    qs_body_free(&b);
    /* A beneficiary: local only. */
    qs_body bb;
    mkbody(&bb, QS_K_BENEFICIARY, "name=张三", NULL);
    uint8_t bid[16];
    assert_int_equal(qs_store_create(c, QS_K_BENEFICIARY, NULL, &bb, bid, NULL, &e), 0);
    qs_body_free(&bb);
    int out[5];
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_APPLIED], 1);
    qs_record r;
    assert_int_equal(qs_store_get(p, bid, &r, &e), QS_ENOTFOUND);
    assert_int_equal(qs_store_get(p, id, &r, &e), 0);
    qs_limits lim = qs_limits_default();
    qs_body got;
    assert_int_equal(qs_body_decode(r.body, r.body_len, &lim, &got, &e), 0);
    const qs_value *v = qs_body_get(&got, 900);
    assert_non_null(v);
    assert_string_equal(v->u.s.p, "from a newer schema");
    qs_body_free(&got);
    qs_record_free(&r);
    /* Pseudonyms: stable per county, differ across counties. */
    uint8_t p1[16], p2[16], p3[16];
    assert_int_equal(qs_store_pseudonym(c, "63232219800101001X", p1, &e), 0);
    assert_int_equal(qs_store_pseudonym(c, "63232219800101001x", p2, &e), 0);
    assert_memory_equal(p1, p2, 16);
    if (qs_fx_pg()) { /* pseudonyms are a county's: an aggregator on PostgreSQL has none */
        assert_int_equal(qs_store_pseudonym(p, "63232219800101001X", p3, &e), QS_EINVAL);
    } else {
        assert_int_equal(qs_store_pseudonym(p, "63232219800101001X", p3, &e), 0);
        assert_memory_not_equal(p1, p3, 16);
    }
    qs_store_close(c);
    qs_store_close(p);
}

/* A kind the receiver does not know yet is parked, then applied by the
 * receiver itself once it is upgraded (here: the kind hidden, then shown). */
static void test_parked_until_upgrade(void **state)
{
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    char pdir[512];
    qs_store *p = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, pdir);
    uint8_t id[16];
    create_service(c, "2024-03-01", "4", id);
    qs_schema_test_hide_kind(QS_K_SERVICE);
    int out[5];
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_PARKED], 1);
    qs_record r;
    qs_err e = {0};
    assert_int_equal(qs_store_get(p, id, &r, &e), QS_ENOTFOUND);
    qs_store_close(p);
    qs_schema_test_hide_kind(0); /* the upgrade */
    p = qs_fx_reopen(pdir);
    assert_int_equal(qs_store_get(p, id, &r, &e), 0);
    qs_record_free(&r);
    assert_int_equal(total_of(p, id), 4);
    qs_store_info info;
    assert_int_equal(qs_store_info_get(p, &info, &e), 0);
    assert_int_equal(info.parked, 0);
    assert_same_digest(c, p, "632322");
    qs_store_close(c);
    qs_store_close(p);
}

/* Disk full (the test VFS): the write fails cleanly with a sentence, a batch
 * applies nothing and leaves its cursor, and all works once space is back. */
static void test_disk_full(void **state)
{
    QS_FX_SQLITE_ONLY();
    char flag[600];
    snprintf(flag, sizeof flag, "%s/disk-is-full", qs_fx_root());
    setenv("QIANSHOU_TEST_DISKFULL", flag, 1);
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    uint8_t id[16];
    for (int i = 0; i < 5; i++)
        create_service(c, "2024-03-01", "1", id);
    qs_body b;
    service_body(&b, "2024-03-02", "2");
    qs_err e = {0};
    assert_int_equal(qs_store_create(p, QS_K_SERVICE, "632322", &b, NULL, NULL, &e), 0);
    FILE *f = fopen(flag, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(qs_store_create(p, QS_K_SERVICE, "632322", &b, NULL, NULL, &e), QS_EFULL);
    assert_non_null(strstr(e.msg, "disk is full"));
    /* A batch: nothing applied, no cursor stored. */
    qs_record recs[5];
    uint32_t n;
    uint64_t upto;
    bool more;
    assert_int_equal(qs_store_feed(c, "630000", QS_FEED_UP, 0, 5, recs, &n, &upto, &more, &e), 0);
    qs_store_info ci;
    qs_store_info_get(c, &ci, &e);
    qs_apply_result res[5];
    qs_apply_batch ab = {.peer = "632322",
                         .peer_inc = ci.incarnation,
                         .dir = QS_FROM_CHILD,
                         .recs = recs,
                         .n = n,
                         .cursor = upto,
                         .results = res};
    assert_int_equal(qs_store_apply(p, &ab, 1, &e), QS_EFULL);
    unlink(flag);
    assert_int_equal(qs_fx_count(p, QS_K_SERVICE), 1);
    qs_peer peer;
    assert_int_equal(qs_store_peer_get(p, "632322", &peer, &e), 0);
    assert_int_equal(peer.recv_cursor, 0);
    /* Space is back: the same batch applies, the store is intact. */
    assert_int_equal(qs_store_apply(p, &ab, 1, &e), 0);
    assert_int_equal(qs_fx_count(p, QS_K_SERVICE), 6);
    assert_int_equal(qs_store_create(p, QS_K_SERVICE, "632322", &b, NULL, NULL, &e), 0);
    assert_int_equal(qs_store_check(p, &e), 0);
    for (uint32_t i = 0; i < n; i++)
        qs_record_free(&recs[i]);
    qs_body_free(&b);
    qs_store_close(c);
    qs_store_close(p);
    unsetenv("QIANSHOU_TEST_DISKFULL");
}

static void test_shared_clock(void **state)
{
    char dir[512];
    qs_store *a = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, dir);
    qs_store *b = reopen(dir);
    qs_err e = {0};
    qs_hlc last = 0;
    for (int i = 0; i < 50; i++) {
        qs_hlc h;
        assert_int_equal(qs_store_clock_now(i % 2 ? a : b, &h, &e), 0);
        assert_true(h > last);
        last = h;
    }
    /* A remote reading far ahead does not drag the clock. */
    int64_t skew;
    bool rejected;
    qs_hlc far = qs_hlc_make(qs_clock_wall_ms() + 86400000LL, 0);
    assert_int_equal(qs_store_clock_recv(a, far, &skew, &rejected, &e), 0);
    assert_true(rejected);
    assert_true(skew > 86000000LL);
    qs_hlc h;
    assert_int_equal(qs_store_clock_now(b, &h, &e), 0);
    assert_true(qs_hlc_ms(h) < qs_clock_wall_ms() + 60000);
    /* The last reading, as the other handle (the CLI) sees it, not advanced. */
    qs_hlc seen, again;
    assert_int_equal(qs_store_clock_last(a, &seen, &e), 0);
    assert_true(seen == h);
    assert_int_equal(qs_store_clock_last(a, &again, &e), 0);
    assert_true(again == h);
    /* The certificate window the daemon records for the CLI: none, then one. */
    int64_t nb = -1, na = -1;
    assert_int_equal(qs_store_cert_window(b, &nb, &na, &e), 0);
    assert_true(nb == 0 && na == 0);
    assert_int_equal(qs_store_set_cert_window(a, 1700000000, 1707776000, &e), 0);
    assert_int_equal(qs_store_cert_window(b, &nb, &na, &e), 0);
    assert_true(nb == 1700000000 && na == 1707776000);
    qs_store_close(a);
    qs_store_close(b);
}

static void test_backup_restore_incarnation(void **state)
{
    QS_FX_SQLITE_ONLY();
    char dir[512], bk[600];
    qs_store *c = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, dir);
    snprintf(bk, sizeof bk, "%s/backup.db", qs_fx_root());
    uint8_t id[16];
    for (int i = 0; i < 50; i++)
        create_service(c, "2024-03-01", "1", id);
    /* Back up while another connection writes. */
    qs_store *w = reopen(dir);
    qs_err e = {0};
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 200; i++)
            create_service(w, "2024-03-02", "2", id);
        _exit(0);
    }
    assert_int_equal(qs_store_backup(c, bk, &e), 0);
    int status;
    waitpid(pid, &status, 0);
    qs_store_close(w);
    struct stat sb;
    assert_int_equal(stat(bk, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    qs_store_info before;
    qs_store_info_get(c, &before, &e);
    qs_store_close(c);
    assert_int_equal(qs_store_restore(dir, bk, &e), 0);
    c = reopen(dir);
    assert_int_equal(qs_store_check(c, &e), 0);
    qs_store_info after;
    qs_store_info_get(c, &after, &e);
    assert_memory_not_equal(after.incarnation, before.incarnation, 16);
    assert_true(after.records >= 50);
    /* Restore refuses while the daemon lock is held. */
    int fd;
    assert_int_equal(qs_store_lock(dir, &fd, &e), 0);
    assert_int_equal(qs_store_restore(dir, bk, &e), QS_EBUSY);
    qs_store_unlock(fd);
    /* A peer claiming a cursor past our highest seq: new incarnation. */
    bool renewed;
    assert_int_equal(qs_store_check_cursor(c, after.max_seq, &renewed, &e), 0);
    assert_false(renewed);
    assert_int_equal(qs_store_check_cursor(c, after.max_seq + 1, &renewed, &e), 0);
    assert_true(renewed);
    qs_store_info again;
    qs_store_info_get(c, &again, &e);
    assert_memory_not_equal(again.incarnation, after.incarnation, 16);
    qs_store_close(c);
}

static void test_echo_and_incarnation_reset(void **state)
{
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    uint8_t id[16];
    int out[5];
    create_service(c, "2024-03-01", "1", id);
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    /* Pulling back: the county's own version is not echoed. */
    qs_fx_ship(p, "630000", c, "632322", QS_FEED_DOWN, out);
    assert_int_equal(out[QS_OUT_APPLIED] + out[QS_OUT_DUPLICATE], 0);
    /* A county with a new incarnation (restored) gets it back. */
    qs_err e = {0};
    uint8_t newinc[16] = {9, 9, 9};
    bool reset;
    assert_int_equal(qs_store_peer_hello(p, "632322", newinc, 0, &reset, &e), 0);
    assert_true(reset);
    qs_record recs[4];
    uint32_t n;
    uint64_t upto;
    bool more;
    assert_int_equal(qs_store_feed(p, "632322", QS_FEED_DOWN, 0, 4, recs, &n, &upto, &more, &e), 0);
    assert_int_equal(n, 1);
    qs_record_free(&recs[0]);
    qs_store_close(c);
    qs_store_close(p);
}

/* The down feed (found through versions_scope) gives a child exactly the
 * versions the visibility rule lets it see, for every kind of scope: its
 * ancestors, its subtree, its townships, siblings and their townships,
 * cousins, other provinces, the nation. Rows are planted with SQL (a copy
 * of one real version under each scope) and the feed is compared with
 * qs_scope_visible over every row. */
static void test_down_feed_scopes(void **state)
{
    (void)state;
    char dir[512];
    qs_store *p = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, dir);
    qs_fx_create(p, QS_K_COUNTY, NULL, "code=632322", "name=x", NULL);
    static const char *const scopes[] = {
        "000000",    "630000",    "632300", "632322", "632323", "632322100",
        "632322199", "632323101", "632200", "632201", "632390", "632399",
        "620000",    "622322",    "650000", "632700", "632722", "632722001",
    };
    const size_t ns = sizeof scopes / sizeof scopes[0];
    char db[600];
    snprintf(db, sizeof db, "%s/qianshou.db", dir);
    for (size_t i = 0; i < ns && qs_fx_pg(); i++) { /* the same rows on PostgreSQL */
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "INSERT INTO versions(county, seq, id, kind, scope, gen, hash, parents, "
                 "ancestry, hlc, author, deleted, schema, body, head, local, stored_ms) "
                 "SELECT left('%s', 6), (pg_current_xact_id()::text::int8 << 20) + 1, "
                 "decode(md5(random()::text), 'hex'), kind, '%s', "
                 "gen, decode(md5(random()::text), 'hex'), parents, ancestry, hlc, author, "
                 "deleted, schema, body, 1, false, stored_ms FROM versions "
                 "ORDER BY seq LIMIT 1",
                 scopes[i], scopes[i]);
        qs_fx_pg_exec(dir, sql);
    }
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    for (size_t i = 0; i < ns && !qs_fx_pg(); i++) {
        char *sql = sqlite3_mprintf(
            "INSERT INTO versions(id, kind, scope, gen, hash, parents, ancestry, hlc, author, "
            "deleted, schema, body, head, local, src_peer, src_inc, stored_ms) "
            "SELECT randomblob(16), kind, %Q, gen, randomblob(16), parents, ancestry, hlc, "
            "author, deleted, schema, body, 1, 0, NULL, NULL, stored_ms FROM versions "
            "ORDER BY seq LIMIT 1",
            scopes[i]);
        assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_free(sql);
    }
    sqlite3_close(h);
    static const char *const peers[] = {"632322", "632322100", "632323", "632300", "632200",
                                        "630000", "632722001", "650000", "000000"};
    for (size_t k = 0; k < sizeof peers / sizeof peers[0]; k++) {
        int want[32] = {0}, got[32] = {0};
        for (size_t i = 0; i < ns; i++)
            want[i] = qs_scope_visible(peers[k], scopes[i]);
        qs_record recs[8];
        uint32_t n;
        uint64_t since = 0, upto;
        bool more = true;
        qs_err e = {0};
        while (more) { /* small batches: the cursor moves through the index too */
            assert_int_equal(
                qs_store_feed(p, peers[k], QS_FEED_DOWN, since, 3, recs, &n, &upto, &more, &e), 0);
            for (uint32_t j = 0; j < n; j++) {
                size_t i = 0;
                while (i < ns && strcmp(recs[j].scope, scopes[i]) != 0)
                    i++;
                if (i < ns) /* the real county record (630000) counts apart */
                    got[i]++;
                qs_record_free(&recs[j]);
            }
            assert_true(upto >= since);
            since = upto;
        }
        for (size_t i = 0; i < ns; i++)
            if (got[i] != want[i] + (strcmp(scopes[i], "630000") == 0 && want[i]))
                fail_msg("child %s, scope %s: fed %d, visible %d", peers[k], scopes[i], got[i],
                         want[i]);
    }
    qs_store_close(p);
}

/* data_version moves when another handle commits, not for our own commits:
 * the daemon polls it to notice clerks' edits. */
static void test_data_version(void **state)
{
    QS_FX_SQLITE_ONLY();
    char dir[512];
    qs_store *a = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, dir);
    qs_store *b = qs_fx_reopen(dir);
    uint64_t v1, v2, v3, v4;
    qs_err e = {0};
    assert_int_equal(qs_store_data_version(a, &v1, &e), 0);
    qs_fx_create(a, QS_K_SERVICE, NULL, "date=2024-05-01", "service_type=visit", "domain=elderly",
                 "total=1", NULL);
    assert_int_equal(qs_store_data_version(a, &v2, &e), 0);
    assert_true(v2 == v1); /* our own commit */
    qs_fx_create(b, QS_K_SERVICE, NULL, "date=2024-05-02", "service_type=visit", "domain=elderly",
                 "total=2", NULL);
    assert_int_equal(qs_store_data_version(a, &v3, &e), 0);
    assert_true(v3 != v2); /* the other handle's */
    assert_int_equal(qs_store_data_version(a, &v4, &e), 0);
    assert_true(v4 == v3);
    qs_store_close(b);
    qs_store_close(a);
}

static off_t wal_size(const char *dir)
{
    char path[700];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s-wal", dir, QS_DB_FILE);
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Short processes (one open, one record, one close each) leave a small WAL
 * in place instead of checkpointing at every close, and the WAL still stays
 * bounded: once past 512 KiB a close copies it into the database and truncates
 * it. Without the bound it would grow by every record (each opener rebuilds
 * the WAL index, which then counts nothing as copied). */
static void test_wal_kept_small(void **state)
{
    QS_FX_SQLITE_ONLY();
    (void)state;
    char dir[512];
    qs_store *st = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, dir);
    qs_store_close(st);
    char content[1200];
    memset(content, 'x', sizeof content - 1);
    content[sizeof content - 1] = '\0';
    char field[1300];
    snprintf(field, sizeof field, "content=%s", content);
    off_t max = 0;
    bool kept = false, truncated = false;
    for (int i = 0; i < 300; i++) {
        st = qs_fx_reopen(dir);
        qs_fx_create(st, QS_K_SERVICE, NULL, "date=2024-05-01", "service_type=visit",
                     "domain=elderly", "total=1", field, NULL);
        qs_store_close(st);
        off_t w = wal_size(dir);
        if (w > max)
            max = w;
        kept |= w > 0;
        truncated |= i > 0 && w == 0;
    }
    assert_true(kept);      /* left in place while small */
    assert_true(truncated); /* and copied + truncated once big */
    /* a close leaves at most 512 KiB (store.c QS_WAL_KEEP): past it, the WAL
     * is copied and truncated */
    if (max > 512 * 1024)
        fail_msg("the WAL was left at %lld bytes", (long long)max);
    st = qs_fx_reopen(dir);
    assert_int_equal(qs_fx_count(st, QS_K_SERVICE), 300);
    qs_err e = {0};
    assert_int_equal(qs_store_check(st, &e), 0);
    qs_store_close(st);
}

/* An all-or-nothing batch (an import without --partial) takes no savepoint
 * per edit: it commits whole when every edit succeeded, and once one failed
 * only a rollback is left — commit refuses and nothing is stored. */
static void test_all_or_nothing(void **state)
{
    (void)state;
    qs_store *st = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_err e = {0};
    qs_body b;
    service_body(&b, "2024-03-01", "1");
    assert_int_equal(qs_store_begin_all_or_nothing(st, 16, &e), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(qs_store_create(st, QS_K_SERVICE, NULL, &b, NULL, NULL, &e), 0);
    assert_int_equal(qs_store_commit(st, &e), 0);
    assert_int_equal(qs_fx_count(st, QS_K_SERVICE), 3);

    assert_int_equal(qs_store_begin_all_or_nothing(st, 16, &e), 0);
    assert_int_equal(qs_store_create(st, QS_K_SERVICE, NULL, &b, NULL, NULL, &e), 0);
    /* refused before writing anything: the batch stays whole */
    assert_int_equal(qs_store_create(st, QS_K_SERVICE, "632321", &b, NULL, NULL, &e), QS_ESCOPE);
    /* failed after writing its version: part of it may be left behind */
    qs_store_test_fail_after(st, 0);
    assert_int_equal(qs_store_create(st, QS_K_SERVICE, NULL, &b, NULL, NULL, &e), QS_EIO);
    assert_int_equal(qs_store_create(st, QS_K_SERVICE, NULL, &b, NULL, NULL, &e), 0);
    assert_int_equal(qs_store_commit(st, &e), QS_EINVAL);
    assert_non_null(strstr(e.msg, "nothing was stored"));
    assert_int_equal(qs_fx_count(st, QS_K_SERVICE), 3);
    /* the handle is usable again, with savepoints as before: the failed edit
     * is undone alone */
    assert_int_equal(qs_store_begin(st, &e), 0);
    qs_store_test_fail_after(st, 0);
    assert_int_equal(qs_store_create(st, QS_K_SERVICE, NULL, &b, NULL, NULL, &e), QS_EIO);
    assert_int_equal(qs_store_create(st, QS_K_SERVICE, NULL, &b, NULL, NULL, &e), 0);
    assert_int_equal(qs_store_commit(st, &e), 0);
    assert_int_equal(qs_fx_count(st, QS_K_SERVICE), 4);
    qs_body_free(&b);
    assert_int_equal(qs_store_check(st, &e), 0);
    qs_store_close(st);
}

/* An idle daemon gives its page cache back (qs_store_shrink after a sync). */
static void test_shrink(void **state)
{
    QS_FX_SQLITE_ONLY();
    (void)state;
    char dir[512];
    qs_store *st = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, dir);
    qs_err e = {0};
    assert_int_equal(qs_store_begin(st, &e), 0);
    for (int i = 0; i < 3000; i++)
        qs_fx_create(st, QS_K_SERVICE, NULL, "date=2024-05-01", "service_type=visit",
                     "domain=elderly", "total=1", "content=入户走访，了解老人近况并记录需求", NULL);
    assert_int_equal(qs_store_commit(st, &e), 0);
    uint64_t before = qs_store_cache_bytes(st);
    assert_true(before > 512 * 1024); /* the writes filled the cache */
    qs_store_shrink(st);
    uint64_t after = qs_store_cache_bytes(st);
    if (after * 4 > before)
        fail_msg("cache %llu bytes before, %llu after", (unsigned long long)before,
                 (unsigned long long)after);
    assert_int_equal(qs_fx_count(st, QS_K_SERVICE), 3000);
    qs_store_close(st);
}

/* A record built by hand: kind, scope, body from FIELD=VALUE pairs (not
 * validated: a test may want a bad one), sealed. */
static void hand_record(qs_record *r, uint32_t kind, const char *scope, int tag, ...)
{
    qs_record_init(r);
    qs_uuid7(r->id, qs_clock_wall_ms());
    r->id[15] = (uint8_t)tag;
    r->kind = kind;
    snprintf(r->scope, sizeof r->scope, "%s", scope);
    snprintf(r->author, sizeof r->author, "%s/test", scope);
    r->hlc = qs_hlc_make(qs_clock_wall_ms(), 0);
    r->schema = QS_SCHEMA_VERSION;
    r->rev.gen = 1;
    qs_body b;
    qs_body_init(&b);
    va_list ap;
    va_start(ap, tag);
    const qs_kind *k = qs_schema_kind(kind == 999 ? QS_K_SERVICE : kind);
    for (const char *fv; (fv = va_arg(ap, const char *));) {
        const char *eq = strchr(fv, '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - fv), fv);
        const qs_field *f = qs_kind_field_by_name(k, name);
        assert_non_null(f);
        qs_value v;
        qs_err pe = {0};
        if (qs_schema_parse(f, eq + 1, &v, &pe))
            v = qs_v_str(eq + 1); /* not a value of the field: kept as text */
        qs_body_set(&b, f->id, v);
    }
    va_end(ap);
    qs_buf bb;
    qs_buf_init(&bb, 0);
    qs_err e = {0};
    assert_int_equal(qs_body_encode(&b, &bb, &e), 0);
    qs_record_set_body(r, bb.data, (uint32_t)bb.len);
    qs_buf_free(&bb);
    qs_body_free(&b);
    qs_record_seal(r);
}

/* Checked ahead on another thread (qs_precheck_run, bodies kept or not) or
 * by the store itself, a batch has the same outcomes, the same reasons and
 * the same stored records; a body the precheck kept stays its own. */
static void test_precheck_same_outcomes(void **state)
{
    enum { N = 8 };
    qs_record r[N];
    const char *c = "632322";
    hand_record(&r[0], QS_K_SERVICE, c, 0, "date=2024-03-01", "service_type=casework",
                "domain=assistance", "total=4", NULL);
    hand_record(&r[1], QS_K_SERVICE, "632322100", 1, "date=2024-03-02", "service_type=visit",
                "domain=elderly", "total=1", "content=入户走访", NULL);
    /* forged: the body changed after sealing */
    hand_record(&r[2], QS_K_SERVICE, c, 2, "date=2024-03-03", "service_type=casework",
                "domain=assistance", "total=2", NULL);
    r[2].body[r[2].body_len - 1] ^= 1;
    /* a sibling county's scope */
    hand_record(&r[3], QS_K_SERVICE, "632323", 3, "date=2024-03-04", "service_type=casework",
                "domain=assistance", "total=2", NULL);
    /* against the schema: no date, total not a number */
    hand_record(&r[4], QS_K_SERVICE, c, 4, "service_type=casework", "domain=assistance", "total=x",
                NULL);
    /* a kind this node does not know: parked */
    hand_record(&r[5], 999, c, 5, "total=3", NULL);
    /* a deletion of a record never seen */
    hand_record(&r[6], QS_K_SERVICE, c, 6, "date=2024-03-05", "service_type=casework",
                "domain=assistance", "total=1", NULL);
    r[6].deleted = true;
    qs_record_seal(&r[6]);
    hand_record(&r[7], QS_K_SERVICE, c, 7, "date=2024-03-06", "service_type=community",
                "domain=children", "total=9", "minors=2", NULL);

    qs_apply_result res[3][N];
    uint8_t dg[3][32];
    uint64_t cnt[3];
    qs_limits lim = qs_limits_default();
    for (int mode = 0; mode < 3; mode++) { /* store checks; ahead, bodies kept; not kept */
        qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
        qs_precheck pre[N];
        uint8_t inc[QS_INC_LEN] = {1};
        if (mode > 0)
            for (int i = 0; i < N; i++) {
                qs_precheck_run("630000", &lim, c, QS_FROM_CHILD, &r[i], mode == 1, &pre[i]);
                assert_int_equal(pre[i].has_body, mode == 1 && (i <= 1 || i == 7));
            }
        qs_apply_batch b = {.peer = c,
                            .peer_inc = inc,
                            .dir = QS_FROM_CHILD,
                            .recs = r,
                            .n = N,
                            .cursor = N,
                            .results = res[mode],
                            .pre = mode > 0 ? pre : NULL};
        qs_err e = {0};
        assert_int_equal(qs_store_apply(p, &b, 1, &e), 0);
        if (mode > 0) {
            assert_int_equal(pre[0].verdict, QS_PRE_OK);
            assert_int_equal(pre[2].verdict, QS_PRE_REJECTED);
            assert_int_equal(pre[5].verdict, QS_PRE_PARKED);
            /* still the precheck's to free (on the thread that made it) */
            assert_int_equal(pre[7].has_body, mode == 1);
            assert_true(mode == 2 || pre[7].body.n > 0); /* used in place, not moved */
            for (int i = 0; i < N; i++)
                qs_precheck_free(&pre[i]);
        }
        digest(p, "630000", dg[mode], &cnt[mode]);
        qs_store_close(p);
    }
    static const uint8_t want[N] = {QS_OUT_APPLIED,  QS_OUT_APPLIED,  QS_OUT_REJECTED,
                                    QS_OUT_REJECTED, QS_OUT_REJECTED, QS_OUT_PARKED,
                                    QS_OUT_APPLIED,  QS_OUT_APPLIED};
    for (int mode = 0; mode < 3; mode++) {
        for (int i = 0; i < N; i++) {
            assert_int_equal(res[mode][i].outcome, want[i]);
            assert_string_equal(res[mode][i].reason, res[0][i].reason);
        }
        assert_memory_equal(dg[mode], dg[0], 32);
        assert_int_equal(cnt[mode], cnt[0]);
    }
    assert_int_equal(cnt[0], 4); /* r0, r1, r6 (a tombstone), r7 */
    assert_non_null(strstr(res[0][3].reason, "632323"));
    assert_non_null(strstr(res[0][4].reason, "invalid service"));
    for (int i = 0; i < N; i++)
        qs_record_free(&r[i]);
}

/* Apply one record from peer in direction dir, the store checking it all
 * (pre = false) or a network thread ahead of it (pre = true). */
static void apply1(qs_store *st, const char *peer, qs_direction dir, const qs_record *r, bool pre,
                   qs_apply_result *res)
{
    static uint64_t cursor;
    uint8_t inc[QS_INC_LEN] = {3};
    qs_limits lim = qs_limits_default();
    qs_precheck pc;
    qs_store_info si;
    qs_err e = {0};
    assert_int_equal(qs_store_info_get(st, &si, &e), 0);
    if (pre)
        qs_precheck_run(si.node, &lim, peer, dir, r, true, &pc);
    qs_apply_batch b = {.peer = peer,
                        .peer_inc = inc,
                        .dir = dir,
                        .recs = r,
                        .n = 1,
                        .cursor = ++cursor,
                        .results = res,
                        .pre = pre ? &pc : NULL};
    if (qs_store_apply(st, &b, 1, &e))
        fail_msg("apply: %s", e.msg);
    if (pre)
        qs_precheck_free(&pc);
}

/* Apply r both ways (on two fresh stores of node): the same outcome and the
 * same reason; the first result in *res. */
static void apply_both_ways(const char *node, qs_role role, const char *peer, qs_direction dir,
                            const qs_record *r, qs_apply_result *res)
{
    qs_apply_result again;
    for (int pre = 0; pre < 2; pre++) {
        qs_store *st = open_store(node, role, NULL);
        apply1(st, peer, dir, r, pre, pre ? &again : res);
        qs_store_close(st);
    }
    assert_int_equal(again.outcome, res->outcome);
    assert_string_equal(again.reason, res->reason);
}

/* A record of kind/scope with parents of generation gen (0: none), sealed. */
static void rec_at_gen(qs_record *r, uint32_t kind, const char *scope, uint64_t gen, int tag,
                       const char *total)
{
    char t[32];
    snprintf(t, sizeof t, "total=%s", total);
    hand_record(r, kind, scope, tag, "date=2024-03-01", "service_type=casework",
                "domain=assistance", t, NULL);
    if (gen) {
        qs_rev p = {.gen = gen};
        memset(p.hash, 0x5a, QS_HASH_LEN);
        p.hash[0] = (uint8_t)tag;
        qs_record_set_parents(r, &p, 1);
        qs_record_seal(r);
    }
}

/* Generations stay <= QS_GEN_MAX (2^53 - 1) on both sides: a received record
 * whose parent is near 2^64 or at the bound is refused with a reason, by the
 * aggregator from a child and by a county from its parent, checked ahead or
 * not; a record at the bound is kept, but no local edit, deletion or
 * resolution can follow it: refused with QS_ELIMIT, nothing written. */
static void test_generation_bound(void **state)
{
    (void)state;
    static const struct {
        uint64_t parent;
        int outcome;
    } t[] = {
        {UINT64_MAX - 2, QS_OUT_REJECTED}, /* the case: two edits would wrap */
        {UINT64_MAX, QS_OUT_REJECTED},     /* sealed as generation 0 */
        {UINT64_C(1) << 62, QS_OUT_REJECTED},
        {QS_GEN_MAX, QS_OUT_REJECTED},    /* its edit would be 2^53 */
        {QS_GEN_MAX - 1, QS_OUT_APPLIED}, /* the edit is at the bound: the last */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_record r;
        rec_at_gen(&r, QS_K_SERVICE, "632322", t[i].parent, (int)i, "1");
        qs_apply_result res;
        apply_both_ways("630000", QS_ROLE_AGGREGATOR, "632322", QS_FROM_CHILD, &r, &res);
        if (res.outcome != t[i].outcome)
            fail_msg("parent generation %llu from a child: outcome %d (%s)",
                     (unsigned long long)t[i].parent, res.outcome, res.reason);
        if (t[i].outcome == QS_OUT_REJECTED)
            assert_non_null(strstr(res.reason, "generation"));
        apply_both_ways("632322", QS_ROLE_COUNTY, "630000", QS_FROM_PARENT, &r, &res);
        assert_int_equal(res.outcome, t[i].outcome);
        qs_record_free(&r);
    }

    /* At the bound: held, but no edit can follow, here or anywhere. */
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_record a, b;
    rec_at_gen(&a, QS_K_SERVICE, "632322", QS_GEN_MAX - 1, 1, "1");
    rec_at_gen(&b, QS_K_SERVICE, "632322", QS_GEN_MAX - 1, 2, "2");
    memcpy(b.id, a.id, QS_ID_LEN); /* two concurrent versions of one record */
    qs_record_seal(&b);
    qs_apply_result res;
    apply1(p, "632322", QS_FROM_CHILD, &a, false, &res);
    assert_int_equal(res.outcome, QS_OUT_APPLIED);
    qs_body body;
    service_body(&body, "2024-03-02", "9");
    qs_err e = {0};
    assert_int_equal(qs_store_update(p, a.id, &body, NULL, &e), QS_ELIMIT);
    assert_non_null(strstr(e.msg, "last generation"));
    assert_int_equal(qs_store_delete(p, a.id, NULL, &e), QS_ELIMIT);
    apply1(p, "632322", QS_FROM_CHILD, &b, false, &res);
    assert_int_equal(res.outcome, QS_OUT_CONFLICT);
    assert_int_equal(qs_store_resolve(p, a.id, &a.rev, NULL, NULL, &e), QS_ELIMIT);
    assert_int_equal(qs_store_resolve(p, a.id, NULL, &body, NULL, &e), QS_ELIMIT);
    assert_int_equal(nconflicts(p, NULL), 1); /* nothing was written */
    qs_version_info *v;
    size_t n;
    assert_int_equal(qs_store_history(p, a.id, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    qs_version_info_free(v, n);
    /* ... nor can a child's edit of it arrive. */
    qs_record c;
    rec_at_gen(&c, QS_K_SERVICE, "632322", 0, 3, "3");
    memcpy(c.id, a.id, QS_ID_LEN);
    qs_record_set_parents(&c, &a.rev, 1);
    qs_record_seal(&c);
    apply1(p, "632322", QS_FROM_CHILD, &c, true, &res);
    assert_int_equal(res.outcome, QS_OUT_REJECTED);
    assert_non_null(strstr(res.reason, "2^53 - 1"));
    /* An ordinary record is edited as always. */
    uint8_t id[16];
    assert_int_equal(qs_store_create(p, QS_K_SERVICE, "632322", &body, id, NULL, &e), 0);
    assert_int_equal(qs_store_update(p, id, &body, NULL, &e), 0);
    assert_int_equal(qs_store_delete(p, id, NULL, &e), 0);
    qs_body_free(&body);
    qs_record_free(&a);
    qs_record_free(&b);
    qs_record_free(&c);
    qs_store_close(p);
}

/* The author names a node that could have written the record, and from a
 * child, the child itself or a node below it; a malformed author is refused.
 * Checked ahead (qs_precheck_run) or by the store: the same outcome and
 * reason. */
static void test_author_rule(void **state)
{
    (void)state;
    static const struct {
        qs_direction dir;
        const char *peer, *scope, *author;
        int outcome;
        const char *says; /* in the reason */
    } t[] = {
        /* from a child, at the province */
        {QS_FROM_CHILD, "632322", "632322", "632322/zhangsan", QS_OUT_APPLIED, NULL},
        {QS_FROM_CHILD, "632322", "632322100", "632322100/station", QS_OUT_APPLIED, NULL},
        {QS_FROM_CHILD, "632322", "632322100", "632322/zhangsan", QS_OUT_APPLIED, NULL},
        {QS_FROM_CHILD, "632300", "632322", "632322/zhangsan", QS_OUT_APPLIED, NULL},
        {QS_FROM_CHILD, "632300", "632322", "632300/prefecture", QS_OUT_APPLIED, NULL},
        {QS_FROM_CHILD, "632322", "632322", "630000/province-admin", QS_OUT_REJECTED,
         "neither 632322 nor below it"},
        {QS_FROM_CHILD, "632322", "632322", "632300/prefecture", QS_OUT_REJECTED, "632300"},
        {QS_FROM_CHILD, "632322", "632322", "632323/sibling", QS_OUT_REJECTED, "632323"},
        {QS_FROM_CHILD, "632322", "632322", "000000/nation", QS_OUT_REJECTED, "000000"},
        {QS_FROM_CHILD, "632322", "632322", "632322100/station", QS_OUT_REJECTED,
         "may not write records of scope 632322"},
        {QS_FROM_CHILD, "632322", "632322", "zhangsan", QS_OUT_REJECTED, "NODE/USER"},
        {QS_FROM_CHILD, "632322", "632322", "", QS_OUT_REJECTED, "NODE/USER"},
        {QS_FROM_CHILD, "632322", "632322", "632322", QS_OUT_REJECTED, "NODE/USER"},
        {QS_FROM_CHILD, "632322", "632322", "63232/x", QS_OUT_REJECTED, "NODE/USER"},
        /* from the parent, at a county */
        {QS_FROM_PARENT, "630000", "630000", "630000/admin", QS_OUT_APPLIED, NULL},
        {QS_FROM_PARENT, "630000", "632322", "630000/admin", QS_OUT_APPLIED, NULL},
        {QS_FROM_PARENT, "630000", "632322100", "632322/zhangsan", QS_OUT_APPLIED, NULL},
        {QS_FROM_PARENT, "630000", "630000", "000000/nation", QS_OUT_APPLIED, NULL},
        {QS_FROM_PARENT, "630000", "630000", "632322/zhangsan", QS_OUT_REJECTED,
         "may not write records of scope 630000"},
        {QS_FROM_PARENT, "630000", "632322", "632323/sibling", QS_OUT_REJECTED, "632323"},
        {QS_FROM_PARENT, "630000", "632322", "632322100/station", QS_OUT_REJECTED, "632322100"},
        {QS_FROM_PARENT, "630000", "632322", "620000/other", QS_OUT_REJECTED, "620000"},
        {QS_FROM_PARENT, "630000", "632322", "admin", QS_OUT_REJECTED, "NODE/USER"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_record r;
        if (strcmp(t[i].scope, "630000") == 0)
            hand_record(&r, QS_K_COUNTY, t[i].scope, (int)i, "code=632322", "name=尖扎县", NULL);
        else
            rec_at_gen(&r, QS_K_SERVICE, t[i].scope, 0, (int)i, "1");
        snprintf(r.author, sizeof r.author, "%s", t[i].author); /* not hashed */
        qs_apply_result res;
        bool child = t[i].dir == QS_FROM_CHILD;
        apply_both_ways(child ? "630000" : "632322", child ? QS_ROLE_AGGREGATOR : QS_ROLE_COUNTY,
                        t[i].peer, t[i].dir, &r, &res);
        if (res.outcome != t[i].outcome || (t[i].says && !strstr(res.reason, t[i].says)))
            fail_msg("%s from %s, scope %s, author \"%s\": outcome %d, reason \"%s\"",
                     child ? "up" : "down", t[i].peer, t[i].scope, t[i].author, res.outcome,
                     res.reason);
        qs_record_free(&r);
    }
    /* The author this node writes passes its parent's check. */
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    uint8_t id[16];
    int out[5];
    create_service(c, "2024-03-01", "1", id);
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_APPLIED], 1);
    /* The province corrects it; the county pulls the correction. */
    update_service(p, id, "2");
    qs_fx_ship(p, "630000", c, "632322", QS_FEED_DOWN, out);
    assert_int_equal(out[QS_OUT_APPLIED], 1);
    /* Both start over (as after the province's restore: a new incarnation,
     * its cursor for the county back at 0): the county pushes all it may
     * write again, the province's correction with it. Held there already: a
     * duplicate, not a refusal. */
    qs_err e = {0};
    qs_store_info pi;
    assert_int_equal(qs_store_info_get(p, &pi, &e), 0);
    bool renewed, reset;
    /* a cursor above any this store answered (on PostgreSQL, the feed's
     * answers go up to the top of its snapshot, above max_seq) */
    assert_int_equal(qs_store_check_cursor(p, UINT64_C(1) << 62, &renewed, &e), 0);
    assert_true(renewed);
    uint8_t other_inc[QS_INC_LEN] = {4, 2};
    assert_int_equal(qs_store_peer_hello(p, "632322", other_inc, 0, &reset, &e), 0);
    qs_fx_ship(c, "632322", p, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_DUPLICATE], 1);
    assert_int_equal(out[QS_OUT_REJECTED], 0);
    /* An aggregator restored from before the correction does not take it
     * from the county: it names the province (documented in README). */
    qs_store *restored = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_fx_ship(c, "632322", restored, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_REJECTED], 1);
    qs_rejection *rj;
    size_t n;
    assert_int_equal(qs_store_rejections(restored, &rj, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_non_null(strstr(rj[0].reason, "author names node 630000"));
    free(rj);
    qs_store_close(restored);
    qs_store_close(c);
    qs_store_close(p);
}

/* A refusal says nothing about a record the sender may not see: county
 * 632322 reusing the id of 632323's record hears only that the id is taken,
 * not the record's kind or scope (the province's rejections keep those);
 * reusing the id of its own township's record it hears the whole reason. A
 * county refusing its parent's record says nothing of a local-only record. */
static void test_reasons_do_not_leak(void **state)
{
    (void)state;
    qs_store *p = open_store("630000", QS_ROLE_AGGREGATOR, NULL);
    qs_record other, mine;
    hand_record(&other, QS_K_TRAINING, "632323", 1, "date=2024-03-01", "type=training",
                "topic=secret topic", "minutes=120", NULL);
    rec_at_gen(&mine, QS_K_SERVICE, "632322100", 0, 2, "1");
    qs_apply_result res;
    apply1(p, "632323", QS_FROM_CHILD, &other, false, &res);
    assert_int_equal(res.outcome, QS_OUT_APPLIED);
    apply1(p, "632322", QS_FROM_CHILD, &mine, false, &res);
    assert_int_equal(res.outcome, QS_OUT_APPLIED);
    for (int pre = 0; pre < 2; pre++) {
        qs_record reuse;
        rec_at_gen(&reuse, QS_K_SERVICE, "632322", 0, 3, "5");
        memcpy(reuse.id, other.id, QS_ID_LEN);
        qs_record_seal(&reuse);
        apply1(p, "632322", QS_FROM_CHILD, &reuse, pre, &res);
        assert_int_equal(res.outcome, QS_OUT_REJECTED);
        assert_string_equal(res.reason, "record id already in use by another record");
        /* visible to the sender: the helpful reason */
        memcpy(reuse.id, mine.id, QS_ID_LEN);
        qs_record_seal(&reuse);
        apply1(p, "632322", QS_FROM_CHILD, &reuse, pre, &res);
        assert_int_equal(res.outcome, QS_OUT_REJECTED);
        assert_non_null(strstr(res.reason, "632322100"));
        qs_record_free(&reuse);
    }
    /* The operator sees the whole story. */
    qs_rejection *rj;
    size_t n;
    qs_err e = {0};
    assert_int_equal(qs_store_rejections(p, &rj, &n, &e), 0);
    bool full = false;
    for (size_t i = 0; i < n; i++)
        full |= memcmp(rj[i].id, other.id, QS_ID_LEN) == 0 && strstr(rj[i].reason, "14/632323");
    assert_true(full);
    free(rj);

    /* At a county: the parent's record reusing a local-only record's id. */
    qs_store *c = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_body bb;
    mkbody(&bb, QS_K_BENEFICIARY, "name=张三", NULL);
    uint8_t bid[16];
    assert_int_equal(qs_store_create(c, QS_K_BENEFICIARY, NULL, &bb, bid, NULL, &e), 0);
    qs_body_free(&bb);
    qs_record down;
    rec_at_gen(&down, QS_K_SERVICE, "632322", 0, 4, "1");
    snprintf(down.author, sizeof down.author, "630000/admin");
    memcpy(down.id, bid, QS_ID_LEN);
    qs_record_seal(&down);
    apply1(c, "630000", QS_FROM_PARENT, &down, true, &res);
    assert_int_equal(res.outcome, QS_OUT_REJECTED);
    assert_string_equal(res.reason, "record id already in use by another record");
    qs_record_free(&down);
    qs_record_free(&other);
    qs_record_free(&mine);
    qs_store_close(c);
    qs_store_close(p);
}

/* SQLite keeps no memory statistics in our processes: they cost a global
 * mutex on every allocation (store/vfs.c). */
static void test_sqlite_memstatus_off(void **state)
{
    QS_FX_SQLITE_ONLY();
    qs_store *st = open_store("632322", QS_ROLE_COUNTY, NULL);
    uint8_t id[16];
    create_service(st, "2024-03-01", "5", id);
    assert_int_equal(sqlite3_memory_used(), 0);
    qs_store_close(st);
}

static bool has_index(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/qianshou.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT 1 FROM sqlite_master WHERE type = 'index' "
                                        "AND name = ?",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    bool yes = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return yes;
}

static bool plan_uses(const char *dir, const char *sql, const char *index)
{
    char path[600];
    snprintf(path, sizeof path, "%s/qianshou.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
    bool uses = false;
    while (sqlite3_step(s) == SQLITE_ROW)
        uses |= strstr((const char *)sqlite3_column_text(s, 3), index) != NULL;
    sqlite3_finalize(s);
    sqlite3_free(q);
    sqlite3_close(db);
    return uses;
}

/* The service logs' projection has only the indexes its role reads: an
 * aggregator's are ordered by scope in the report's index already, and
 * nothing there reads them by station; a county's all have its scope, and it
 * lists them by station and by month (list_service_*). Other kinds keep
 * both; both roles index the heads of records in conflict. A store an earlier build made
 * with the indexes loses them at its first open, and the projection's
 * lookups still use an index. */
static void test_projection_indexes_by_role(void **state)
{
    QS_FX_SQLITE_ONLY();
    char cdir[512], adir[512];
    qs_store *c = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, cdir);
    qs_store *a = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, adir);
    qs_store_close(c);
    qs_store_close(a);
    assert_false(has_index(cdir, "k_service_scope"));
    assert_false(has_index(cdir, "k_service_station")); /* list_service_station_date */
    assert_true(has_index(cdir, "list_service_station_date"));
    assert_true(has_index(cdir, "list_service_date"));
    assert_false(has_index(cdir, "rep_service_log"));
    assert_false(has_index(adir, "list_service_station_date"));
    assert_false(has_index(adir, "list_service_date"));
    assert_false(has_index(adir, "k_service_scope"));
    assert_false(has_index(adir, "k_service_station"));
    assert_true(has_index(adir, "rep_service_log"));
    for (int i = 0; i < 2; i++) { /* other kinds keep theirs */
        const char *dir = i ? adir : cdir;
        assert_true(has_index(dir, "k_station_scope"));
        assert_true(has_index(dir, "k_workday_person"));
        assert_true(has_index(dir, "versions_open"));
    }

    /* as an earlier build left them: the indexes there, another fingerprint */
    for (int i = 0; i < 2; i++) {
        const char *dir = i ? adir : cdir;
        char path[600];
        snprintf(path, sizeof path, "%s/qianshou.db", dir);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "CREATE INDEX IF NOT EXISTS k_service_scope ON "
                                      "k_service(scope);"
                                      "CREATE INDEX IF NOT EXISTS k_service_station ON "
                                      "k_service(station);"
                                      "UPDATE meta SET v = 1 WHERE k = 'projection'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        qs_store_close(qs_fx_reopen(dir));
        assert_false(has_index(dir, "k_service_scope"));
        assert_false(has_index(dir, "k_service_station"));
        assert_int_equal(has_index(dir, "list_service_station_date"), dir == cdir);
    }
    assert_true(plan_uses(adir, "SELECT count(*) FROM k_service WHERE scope = '632322'",
                          "rep_service_log"));
    assert_true(plan_uses(cdir, "SELECT id FROM k_service WHERE station = x'00'",
                          "list_service_station_date"));
    assert_true(
        plan_uses(cdir, "SELECT count(*) FROM k_service WHERE date >= 20240301 AND date < 20240401",
                  "list_service_date"));
    assert_true(
        plan_uses(cdir, "SELECT count(DISTINCT id) FROM versions WHERE head = 2", "versions_open"));
}

typedef struct totals_ctx {
    int64_t sum;
    int n;
    qs_hlc last;
    bool ordered;
} totals_ctx;

static int totals_cb(void *ctx, const qs_record *r)
{
    totals_ctx *t = ctx;
    qs_body b;
    qs_limits lim = qs_limits_default();
    assert_int_equal(qs_body_decode(r->body, r->body_len, &lim, &b, NULL), 0);
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(QS_K_SERVICE), "total");
    const qs_value *v = qs_body_get(&b, f->id);
    t->sum += v ? v->u.i : 0;
    t->ordered &= r->hlc > t->last; /* listed in id (creation) order */
    t->last = r->hlc;
    t->n++;
    qs_body_free(&b);
    return 0;
}

/* An import's two threads (qs_pipe_*): every record written, in order, with
 * its projection; a refused record refused at once and the rest go on; a
 * write that fails on the writer thread comes back to the caller, and the
 * transaction then stores nothing. */
static void test_pipe(void **state)
{
    QS_FX_SQLITE_ONLY();
    (void)state;
    qs_store *st = open_store("632322", QS_ROLE_COUNTY, NULL);
    qs_err e = {0};
    enum { N = 2000 }; /* several turns of the ring */
    qs_pipe *p;
    assert_int_equal(qs_pipe_start(st, &p, &e), QS_EINVAL); /* needs all-or-nothing */
    assert_int_equal(qs_store_begin_all_or_nothing(st, 16, &e), 0);
    assert_int_equal(qs_pipe_start(st, &p, &e), 0);
    int64_t want = 0;
    for (int i = 1; i <= N; i++) {
        qs_body b;
        char t[32];
        snprintf(t, sizeof t, "%d", i);
        service_body(&b, "2024-03-01", t);
        want += i;
        assert_int_equal(qs_pipe_create(p, QS_K_SERVICE, NULL, &b, i % 2 == 0, &e), 0);
        assert_int_equal(b.n, 0); /* taken */
        qs_body_free(&b);
        if (i == 7) { /* a sibling's scope: refused here, nothing queued */
            service_body(&b, "2024-03-01", "1000000");
            assert_int_equal(qs_pipe_create(p, QS_K_SERVICE, "632321", &b, true, &e), QS_ESCOPE);
            qs_body_free(&b);
            mkbody(&b, QS_K_SERVICE, "service_type=visit", "total=1", NULL); /* no date */
            assert_int_not_equal(qs_pipe_create(p, QS_K_SERVICE, NULL, &b, false, &e), 0);
            qs_body_free(&b);
        }
    }
    assert_int_equal(qs_pipe_end(p, &e), 0);
    assert_int_equal(qs_store_commit(st, &e), 0);
    totals_ctx t = {.ordered = true};
    qs_query q = {.kind = QS_K_SERVICE};
    assert_int_equal(qs_store_list(st, &q, totals_cb, &t, &e), 0);
    assert_int_equal(t.n, N);
    assert_int_equal(t.sum, want);
    assert_true(t.ordered);
    assert_int_equal(qs_fx_count(st, QS_K_SERVICE), N); /* the projection too */

    /* the writer's 5th write fails: the caller hears of it, nothing is kept */
    assert_int_equal(qs_store_begin_all_or_nothing(st, 16, &e), 0);
    assert_int_equal(qs_pipe_start(st, &p, &e), 0);
    qs_store_test_fail_after(st, 4);
    int rc = 0;
    for (int i = 0; i < N && !rc; i++) {
        qs_body b;
        service_body(&b, "2024-03-02", "1");
        rc = qs_pipe_create(p, QS_K_SERVICE, NULL, &b, true, &e);
        qs_body_free(&b);
    }
    int rc2 = qs_pipe_end(p, &e);
    assert_true(rc == QS_EIO || rc2 == QS_EIO);
    assert_non_null(strstr(e.msg, "injected failure"));
    assert_int_not_equal(qs_store_commit(st, &e), 0);
    qs_store_rollback(st);
    assert_int_equal(qs_fx_count(st, QS_K_SERVICE), N);
    assert_int_equal(qs_store_check(st, &e), 0);
    qs_store_close(st);
}

int main(void)
{
    qs_fx_init("store");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefault_page_cache), /* first: before SQLite is in use */
        cmocka_unit_test(test_create_open_modes),
        cmocka_unit_test(test_local_edits),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_apply_outcomes),
        cmocka_unit_test(test_batch_same_record_twice),
        cmocka_unit_test(test_conflict_edit_edit),
        cmocka_unit_test(test_conflict_edit_delete),
        cmocka_unit_test(test_conflict_delete_edit),
        cmocka_unit_test(test_conflict_delete_delete),
        cmocka_unit_test(test_conflict_beyond_k),
        cmocka_unit_test(test_arrival_orders),
        cmocka_unit_test(test_cursor_atomicity),
        cmocka_unit_test(test_feed_scope),
        cmocka_unit_test(test_unknown_fields_and_local_only),
        cmocka_unit_test(test_parked_until_upgrade),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_shared_clock),
        cmocka_unit_test(test_backup_restore_incarnation),
        cmocka_unit_test(test_echo_and_incarnation_reset),
        cmocka_unit_test(test_down_feed_scopes),
        cmocka_unit_test(test_data_version),
        cmocka_unit_test(test_wal_kept_small),
        cmocka_unit_test(test_shrink),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_precheck_same_outcomes),
        cmocka_unit_test(test_generation_bound),
        cmocka_unit_test(test_author_rule),
        cmocka_unit_test(test_reasons_do_not_leak),
        cmocka_unit_test(test_sqlite_memstatus_off),
        cmocka_unit_test(test_projection_indexes_by_role),
        cmocka_unit_test(test_pipe),
    };
    return qs_fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
