/*
 * test_refs.c — a pairing is refused at input (add, edit, an import's pipe)
 * when its county is outside the province or not a county record of the
 * plan; a peer's version is never refused for it (store/refs.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "proto/schema.h"
#include "proto/uuid.h"
#include "store/store.h"
#include "tests/support/fixture.h"

static char aiding[QS_UUID_STR], receiving[QS_UUID_STR];

static qs_store *province(void)
{
    qs_store *st = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, NULL);
    uint8_t a[16], r[16];
    qs_fx_create(st, QS_K_COUNTY, NULL, "code=632322", "name=尖扎县", NULL);
    qs_fx_create(st, QS_K_AGENCY, a, "name=援派", "role=aiding", "province=青海省", NULL);
    qs_fx_create(st, QS_K_AGENCY, r, "name=受援", "role=receiving", "county=632322", NULL);
    qs_uuid_format(a, aiding);
    qs_uuid_format(r, receiving);
    return st;
}

static int create_pairing(qs_store *st, const char *county, uint8_t id[16], qs_err *e)
{
    char c[64], ai[64], re[64];
    snprintf(c, sizeof c, "county=%s", county);
    snprintf(ai, sizeof ai, "aiding=%s", aiding);
    snprintf(re, sizeof re, "receiving=%s", receiving);
    qs_body b;
    qs_fx_body(&b, QS_K_PAIRING, ai, re, c, "type=in_province", "start_year=2022", "end_year=2025",
               NULL);
    int rc = qs_store_create(st, QS_K_PAIRING, NULL, &b, id, NULL, e);
    qs_body_free(&b);
    return rc;
}

static void test_pairing_county(void **state)
{
    (void)state;
    qs_store *st = province();
    static const struct {
        const char *county;
        int rc;
        const char *says;
    } t[] = {
        {"632322", 0, NULL},
        {"620102", QS_EINVAL, "outside this pairing's area"}, /* 甘肃: another province */
        {"632399", QS_EINVAL, "is not a county of the plan"}, /* no county record */
        {"632323", QS_EINVAL, "is not a county of the plan"}, /* not yet */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_err e = {0};
        uint8_t id[16];
        int rc = create_pairing(st, t[i].county, id, &e);
        if (rc != t[i].rc || (t[i].says && !strstr(e.msg, t[i].says)))
            fail_msg("pairing in %s: rc %d (%s), want %d (%s)", t[i].county, rc, e.msg, t[i].rc,
                     t[i].says ? t[i].says : "");
    }
    assert_int_equal(qs_fx_count(st, QS_K_PAIRING), 1);
    /* once the county is on the list, the same pairing is taken */
    qs_fx_create(st, QS_K_COUNTY, NULL, "code=632323", "name=泽库县", NULL);
    qs_err e = {0};
    uint8_t id[16];
    assert_int_equal(create_pairing(st, "632323", id, &e), 0);

    /* an edit that moves it out of the province or off the list is refused */
    qs_record rec;
    qs_body b;
    qs_limits lim = qs_limits_default();
    assert_int_equal(qs_store_get(st, id, &rec, &e), 0);
    assert_int_equal(qs_body_decode(rec.body, rec.body_len, &lim, &b, &e), 0);
    const qs_field *cf = qs_kind_field_by_name(qs_schema_kind(QS_K_PAIRING), "county");
    qs_body_set(&b, cf->id, qs_v_str("540102"));
    assert_int_equal(qs_store_update(st, id, &b, NULL, &e), QS_EINVAL);
    assert_non_null(strstr(e.msg, "outside"));
    qs_body_set(&b, cf->id, qs_v_str("632324"));
    assert_int_equal(qs_store_update(st, id, &b, NULL, &e), QS_EINVAL);
    qs_body_set(&b, cf->id, qs_v_str("632322"));
    assert_int_equal(qs_store_update(st, id, &b, NULL, &e), 0);
    qs_body_free(&b);
    qs_record_free(&rec);
    /* deleting needs no check */
    assert_int_equal(qs_store_delete(st, id, NULL, &e), 0);

    /* an import's pipe: the writer refuses it, and nothing of the sheet is kept */
    assert_int_equal(qs_store_begin_all_or_nothing(st, 0, &e), 0);
    qs_pipe *p = NULL;
    assert_int_equal(qs_pipe_start(st, &p, &e), 0);
    char c[64], ai[64], re[64];
    snprintf(ai, sizeof ai, "aiding=%s", aiding);
    snprintf(re, sizeof re, "receiving=%s", receiving);
    for (int i = 0; i < 2; i++) {
        snprintf(c, sizeof c, "county=%s", i ? "632399" : "632322");
        qs_fx_body(&b, QS_K_PAIRING, ai, re, c, "type=in_province", "start_year=2022",
                   "end_year=2025", NULL);
        qs_pipe_create(p, QS_K_PAIRING, NULL, &b, false, &e); /* may see the failure or not */
        qs_body_free(&b);
    }
    assert_int_equal(qs_pipe_end(p, &e), QS_EINVAL);
    assert_non_null(strstr(e.msg, "632399"));
    qs_store_rollback(st);
    assert_int_equal(qs_fx_count(st, QS_K_PAIRING), 1);
    qs_store_close(st);
}

int main(void)
{
    qs_fx_init("refs");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairing_county),
    };
    return qs_fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
