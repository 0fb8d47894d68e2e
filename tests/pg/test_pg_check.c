/*
 * test_pg_check.c — `qianshou check` on PostgreSQL (qs_store_check,
 * store/pg_check.c): a province with edits, a deletion and an open conflict
 * passes; then one damage at a time, each named and each undone before the
 * next: a version whose generation no longer verifies, a record without a
 * winner, a loser stored as beating its winner, a version left without a number
 * (seq 0 or below), a row too many in the projection, a list row of no record, a row
 * missing. Run through
 * tests/pg/pgtest.sh (ctest test_pg_check).
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
#include "proto/uuid.h"
#include "store/store.h"
#include "tests/support/fixture.h"

/* Everything from's feed holds for to (from the start: what to has already
 * is a duplicate). */
static void service_body(qs_body *b, const char *total)
{
    char t[32];
    snprintf(t, sizeof t, "total=%s", total);
    qs_fx_body(b, QS_K_SERVICE, "date=2024-03-01", "service_type=casework", "domain=assistance", t,
               NULL);
}

/* Run sql with every "ID" in it replaced by the record id as a bytea. */
static void pg_exec_id(const char *dir, const char *sql, const uint8_t id[16])
{
    char hex[33], lit[64], out[1024];
    qs_hex(id, 16, hex);
    snprintf(lit, sizeof lit, "'\\x%s'::bytea", hex);
    size_t o = 0;
    for (const char *p = sql; *p && o + sizeof lit < sizeof out;) {
        if (strncmp(p, "ID", 2) == 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", lit);
            p += 2;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    qs_fx_pg_exec(dir, out);
}

/* qs_store_check finds the damage, and names the record and what. */
static void damaged(qs_store *st, const uint8_t id[16], const char *what)
{
    qs_err e = {0};
    assert_int_equal(qs_store_check(st, &e), QS_ECORRUPT);
    char uuid[QS_UUID_STR];
    qs_uuid_format(id, uuid);
    if (!strstr(e.msg, uuid) || !strstr(e.msg, what))
        fail_msg("check: \"%s\" (wanted %s and \"%s\")", e.msg, uuid, what);
}

static void test_check(void **state)
{
    (void)state;
    char dir[512];
    qs_store *agg = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, dir);
    qs_store *c1 = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, NULL);
    qs_err e = {0};
    uint8_t county[16], gone[16], svc[16];
    qs_fx_create(agg, QS_K_COUNTY, county, "code=632322", "name=尖扎县", NULL);
    qs_fx_create(agg, QS_K_COUNTY, gone, "code=632323", "name=泽库县", NULL);
    qs_body b;
    qs_fx_body(&b, QS_K_COUNTY, "code=632322", "name=尖扎县（改）", NULL);
    assert_int_equal(qs_store_update(agg, county, &b, NULL, &e), 0); /* a superseded version */
    qs_body_free(&b);
    assert_int_equal(qs_store_delete(agg, gone, NULL, &e), 0); /* a live tombstone */
    /* an open conflict: the province and the county both edit a service */
    service_body(&b, "3");
    assert_int_equal(qs_store_create(c1, QS_K_SERVICE, "632322", &b, svc, NULL, &e), 0);
    qs_body_free(&b);
    int out[5];
    qs_fx_ship(c1, "632322", agg, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_APPLIED], 1);
    service_body(&b, "9");
    assert_int_equal(qs_store_update(agg, svc, &b, NULL, &e), 0);
    qs_body_free(&b);
    service_body(&b, "8");
    assert_int_equal(qs_store_update(c1, svc, &b, NULL, &e), 0);
    qs_body_free(&b);
    qs_fx_ship(c1, "632322", agg, "630000", QS_FEED_UP, out);
    assert_int_equal(out[QS_OUT_CONFLICT], 1);
    if (qs_store_check(agg, &e) != 0)
        fail_msg("a sound store: %s", e.msg);

    /* a version's generation that no longer verifies */
    pg_exec_id(dir, "UPDATE versions SET gen = gen + 1 WHERE id = ID AND head = 1", county);
    damaged(agg, county, "does not verify");
    pg_exec_id(dir, "UPDATE versions SET gen = gen - 1 WHERE id = ID AND head = 1", county);
    /* no winner */
    pg_exec_id(dir, "UPDATE versions SET head = 7 WHERE id = ID AND head = 1", county);
    damaged(agg, county, "no winner");
    pg_exec_id(dir, "UPDATE versions SET head = 1 WHERE id = ID AND head = 7", county);
    /* the conflict's heads swapped: the stored winner is the loser */
    pg_exec_id(dir,
               "UPDATE versions SET head = CASE head WHEN 1 THEN 2 ELSE 1 END "
               "WHERE id = ID AND head IN (1, 2)",
               svc);
    damaged(agg, svc, "wins over its stored winner");
    pg_exec_id(dir,
               "UPDATE versions SET head = CASE head WHEN 1 THEN 2 ELSE 1 END "
               "WHERE id = ID AND head IN (1, 2)",
               svc);
    /* a version without a number */
    pg_exec_id(dir, "UPDATE versions SET seq = -seq WHERE id = ID AND head = 1", svc);
    damaged(agg, svc, "no number");
    pg_exec_id(dir, "UPDATE versions SET seq = -seq WHERE id = ID AND head = 1", svc);
    if (qs_store_check(agg, &e) != 0)
        fail_msg("repaired: %s", e.msg);
    /* the projection: a deleted record's row back, then a live one's gone */
    pg_exec_id(dir, "INSERT INTO k_county(qs_county, id, scope) VALUES ('632323', ID, '630000')",
               gone);
    damaged(agg, gone, "in k_county that is not a live record's winner");
    pg_exec_id(dir, "DELETE FROM k_county WHERE id = ID", gone);
    pg_exec_id(dir,
               "INSERT INTO k_service__workers(qs_county, id, v) VALUES ('632322', ID, '\\x00')",
               gone);
    damaged(agg, gone, "has list rows in k_service__workers");
    pg_exec_id(dir, "DELETE FROM k_service__workers WHERE id = ID", gone);
    pg_exec_id(dir, "DELETE FROM k_service WHERE id = ID", svc);
    damaged(agg, svc, "missing from the projection (k_service)");
    qs_store_close(c1);
    qs_store_close(agg);
}

int main(void)
{
    if (!qs_fx_pg()) {
        fprintf(stderr, "test_pg_check: no PostgreSQL (run through tests/pg/pgtest.sh with "
                        "QS_TEST_PG=1): skipped\n");
        return 77;
    }
    qs_fx_init("pgcheck");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
    };
    return qs_fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
