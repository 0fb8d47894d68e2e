/*
 * test_pg_migrate.c — qs_store_migrate_pg: an aggregator's SQLite store,
 * with records from two counties, a conflict, a refusal and cursors, moved
 * into PostgreSQL: the same digest, heads, history, conflicts, peers and
 * sequence numbers; the counties then sync with the moved store as if
 * nothing happened. Run through tests/pg/pgtest.sh (ctest test_pg_migrate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/schema.h"
#include "store/report.h"
#include "store/store.h"
#include "store/users.h"
#include "tests/support/fixture.h"

/* Ship what the feed of from gives to, in batches of 5; outcomes counted. */
static qs_store *sqlite_aggregator(char *dir)
{
    /* QS_TEST_PG makes the fixture's aggregators PostgreSQL ones: not this one */
    setenv("QS_TEST_PG", "0", 1);
    qs_store *st = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, dir);
    setenv("QS_TEST_PG", "1", 1);
    return st;
}

static void add_service(qs_store *st, const char *total, uint8_t id[16])
{
    char t[32];
    snprintf(t, sizeof t, "total=%s", total);
    qs_fx_create(st, QS_K_SERVICE, id, "date=2024-03-01", "service_type=casework",
                 "domain=assistance", t, NULL);
}

static void test_migrate_keeps_everything(void **state)
{
    (void)state;
    char adir[512];
    qs_store *agg = sqlite_aggregator(adir);
    qs_store *c1 = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, NULL);
    qs_store *c2 = qs_fx_store("632323", QS_ROLE_COUNTY, NULL, NULL);
    qs_err e = {0};
    qs_fx_create(agg, QS_K_COUNTY, NULL, "code=632322", "name=尖扎县", NULL);
    uint8_t ids[6][16];
    for (int i = 0; i < 5; i++)
        add_service(c1, i == 0 ? "3" : "4", ids[i]);
    add_service(c2, "7", ids[5]);
    int out[5];
    assert_false(qs_fx_ship(c1, "632322", agg, "630000", QS_FEED_UP, out));
    assert_int_equal(out[QS_OUT_APPLIED], 5);
    assert_false(qs_fx_ship(c2, "632323", agg, "630000", QS_FEED_UP, out));
    assert_false(qs_fx_ship(agg, "630000", c1, "632322", QS_FEED_DOWN, out));
    /* A conflict: the province corrects a record the county edits too. */
    qs_body b;
    qs_fx_body(&b, QS_K_SERVICE, "date=2024-03-01", "service_type=casework", "domain=assistance",
               "total=9", NULL);
    assert_int_equal(qs_store_update(agg, ids[0], &b, NULL, &e), 0);
    qs_body_free(&b);
    qs_fx_body(&b, QS_K_SERVICE, "date=2024-03-01", "service_type=casework", "domain=assistance",
               "total=8", NULL);
    assert_int_equal(qs_store_update(c1, ids[0], &b, NULL, &e), 0);
    qs_body_free(&b);
    assert_false(qs_fx_ship(c1, "632322", agg, "630000", QS_FEED_UP, out));
    assert_int_equal(out[QS_OUT_CONFLICT], 1);
    /* A refusal noted for a county's record. */
    qs_record r;
    assert_int_equal(qs_store_get(agg, ids[5], &r, &e), 0);
    assert_int_equal(qs_store_note_rejected(agg, "632323", &r, "test refusal", &e), 0);
    qs_record_free(&r);

    assert_int_equal(qs_report_setting_set(agg, 2024, QS_S_DISPATCHED_MIN_DAYS, 33, &e), 0);
    qs_store_info before;
    assert_int_equal(qs_store_info_get(agg, &before, &e), 0);
    qs_peer pbefore;
    assert_int_equal(qs_store_peer_get(agg, "632322", &pbefore, &e), 0);
    qs_version_info *hv;
    size_t hn;
    assert_int_equal(qs_store_history(agg, ids[0], &hv, &hn, &e), 0);

    /* the web's accounts: one, with a failed and a good sign-in */
    qs_login_result res;
    int64_t until;
    qs_user u;
    assert_int_equal(qs_users_init(agg, &e), 0);
    assert_int_equal(qs_user_add(agg, "op", QS_UROLE_ADMIN, "operator password", &e), 0);
    assert_int_equal(qs_user_login(agg, "op", "wrong password", 1000, &res, &until, &u, &e), 0);
    assert_int_equal(qs_user_login(agg, "op", "operator password", 2000, &res, &until, &u, &e), 0);
    assert_int_equal(res, QS_LOGIN_OK);

    qs_migrate_stats ms;
    const char *ci = getenv("QS_PG_CONNINFO");
    if (qs_store_migrate_pg(agg, ci, &ms, &e) != 0)
        fail_msg("migrate: %s", e.msg);
    assert_memory_equal(ms.digest, ms.digest_pg, 32);
    assert_int_equal(ms.versions, before.max_seq); /* every version, one number each */
    /* A second run refuses: the database is not empty. */
    qs_migrate_stats ms2;
    assert_int_equal(qs_store_migrate_pg(agg, ci, &ms2, &e), QS_EEXIST);

    qs_store_opts o = qs_store_opts_default();
    o.conninfo = ci;
    qs_store *pg = NULL;
    assert_int_equal(qs_store_open(&o, &pg, &e), 0);
    /* the accounts came along: the same hash signs in, the audit in its order */
    assert_int_equal(ms.users, 1);
    assert_int_equal(ms.audit, 2);
    assert_int_equal(qs_users_init(pg, &e), 0);
    assert_int_equal(qs_user_get(pg, "op", &u, &e), 0);
    assert_int_equal(u.role, QS_UROLE_ADMIN);
    assert_int_equal(u.last_login_ms, 2000);
    assert_int_equal(qs_user_login(pg, "op", "operator password", 3000, &res, &until, &u, &e), 0);
    assert_int_equal(res, QS_LOGIN_OK);
    qs_audit_row *a;
    size_t an;
    assert_int_equal(qs_audit_list(pg, 10, &a, &an, &e), 0);
    assert_int_equal(an, 3);
    assert_int_equal(a[0].at_ms, 3000);
    assert_int_equal(a[1].at_ms, 2000);
    assert_string_equal(a[2].action, "login_failed");
    free(a);
    qs_store_info after;
    assert_int_equal(qs_store_info_get(pg, &after, &e), 0);
    assert_memory_equal(before.incarnation, after.incarnation, sizeof before.incarnation);
    assert_int_equal(before.max_seq, after.max_seq);
    assert_int_equal(before.records, after.records);
    assert_int_equal(before.conflicts, 1);
    assert_int_equal(after.conflicts, 1);
    assert_int_equal(after.rejected, before.rejected);
    qs_fx_assert_digest_eq(agg, pg, NULL);
    qs_peer pafter;
    assert_int_equal(qs_store_peer_get(pg, "632322", &pafter, &e), 0);
    assert_int_equal(pafter.recv_cursor, pbefore.recv_cursor);
    assert_int_equal(pafter.acked, pbefore.acked);
    assert_memory_equal(pafter.inc, pbefore.inc, sizeof pafter.inc);
    qs_version_info *hv2;
    size_t hn2;
    assert_int_equal(qs_store_history(pg, ids[0], &hv2, &hn2, &e), 0);
    assert_int_equal(hn, hn2);
    for (size_t i = 0; i < hn; i++) {
        assert_int_equal(hv[i].seq, hv2[i].seq);
        assert_int_equal(hv[i].head, hv2[i].head);
        assert_memory_equal(hv[i].rec.rev.hash, hv2[i].rec.rev.hash, 16);
    }
    qs_version_info_free(hv, hn);
    qs_version_info_free(hv2, hn2);
    int64_t days = 0;
    assert_int_equal(qs_report_setting_get(pg, 2024, QS_S_DISPATCHED_MIN_DAYS, &days, &e), 0);
    assert_int_equal(days, 33); /* the report's settings came along */
    assert_int_equal(qs_report_setting_get(pg, 2023, QS_S_DISPATCHED_MIN_DAYS, &days, &e), 0);
    assert_int_not_equal(days, 33); /* another year: the default */
    /* The projection was rebuilt: lists and counts work on the moved store. */
    assert_int_equal(qs_fx_count(pg, QS_K_SERVICE), qs_fx_count(agg, QS_K_SERVICE));
    assert_int_equal(qs_fx_count(pg, QS_K_COUNTY), 1);
    /* Counties notice nothing: one more edit goes up and comes down. */
    uint8_t nid[16];
    add_service(c2, "5", nid);
    assert_false(qs_fx_ship(c2, "632323", pg, "630000", QS_FEED_UP,
                            out));            /* the moved store kept its incarnation */
    assert_int_equal(out[QS_OUT_APPLIED], 1); /* just the new one: the cursor held */
    assert_int_equal(out[QS_OUT_DUPLICATE], 0);
    assert_false(qs_fx_ship(pg, "630000", c1, "632322", QS_FEED_DOWN,
                            out));              /* the moved store kept its incarnation */
    assert_int_equal(out[QS_OUT_DUPLICATE], 0); /* nothing it had is sent again */
    qs_store_close(pg);
    qs_store_close(agg);
    qs_store_close(c1);
    qs_store_close(c2);
}

int main(void)
{
    if (!qs_fx_pg()) {
        fprintf(stderr, "test_pg_migrate: no PostgreSQL: skipped\n");
        return 77;
    }
    qs_fx_init("pgmigrate");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_keeps_everything),
    };
    return qs_fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
