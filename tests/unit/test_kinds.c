/*
 * test_kinds.c — what the schema says about a kind beyond its fields, done by
 * the store: the pseudonym a beneficiary's ID number gives (set by every
 * local write, whatever the writer put there), the field people name a record
 * by (qs_store_find_key, one table row per kind), the duplicate key
 * (qs_store_count_duplicates).
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

#define ID1 "63232219900315123X"
#define ID2 "632322201001011225"
#define WRONG "00112233445566778899aabbccddeeff"

typedef struct found {
    uint8_t id[16];
    int n;
} found;

static int found_cb(void *ctx, const qs_record *r)
{
    found *fd = ctx;
    if (fd->n++ == 0)
        memcpy(fd->id, r->id, 16);
    return 0;
}

/* The pseudonym stored in record id (all zero when there is none). */
static void stored_pseudonym(qs_store *st, const uint8_t id[16], uint8_t out[16])
{
    qs_record r;
    qs_body b;
    qs_limits lim = qs_limits_default();
    memset(out, 0, 16);
    assert_int_equal(qs_store_get(st, id, &r, NULL), 0);
    assert_int_equal(qs_body_decode(r.body, r.body_len, &lim, &b, NULL), 0);
    const qs_field *f = qs_kind_field_by_name(qs_schema_kind(QS_K_BENEFICIARY), "pseudonym");
    const qs_value *v = qs_body_get(&b, f->id);
    if (v) {
        assert_int_equal(v->t, QS_V_ARRAY);
        assert_int_equal(v->u.a.n, 1);
        assert_int_equal(v->u.a.v[0].u.s.n, 16);
        memcpy(out, v->u.a.v[0].u.s.p, 16);
    }
    qs_body_free(&b);
    qs_record_free(&r);
}

static void expect_pseudonym(qs_store *st, const uint8_t id[16], const char *id_number)
{
    uint8_t want[16], got[16];
    assert_int_equal(qs_store_pseudonym(st, id_number, want, NULL), 0);
    stored_pseudonym(st, id, got);
    assert_memory_equal(got, want, 16);
}

/* Every local writer: create, update, an import's pipe. Passing none, or a
 * wrong one, the stored pseudonym is the ID number's. */
static void test_pseudonym_derived_by_every_writer(void **state)
{
    (void)state;
    qs_store *st = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, NULL);
    qs_err e = {0};
    uint8_t a[16], b[16], c[16], got[16];

    qs_fx_create(st, QS_K_BENEFICIARY, a, "name=才让", "id_number=" ID1, NULL);
    expect_pseudonym(st, a, ID1);
    qs_fx_create(st, QS_K_BENEFICIARY, b, "name=卓玛", "id_number=" ID1, "pseudonym=" WRONG, NULL);
    expect_pseudonym(st, b, ID1);

    /* update: a wrong one is replaced; a new ID number gives its pseudonym */
    qs_body body;
    qs_fx_body(&body, QS_K_BENEFICIARY, "name=卓玛", "id_number=" ID1, "pseudonym=" WRONG, NULL);
    assert_int_equal(qs_store_update(st, b, &body, NULL, &e), 0);
    qs_body_free(&body);
    expect_pseudonym(st, b, ID1);
    qs_fx_body(&body, QS_K_BENEFICIARY, "name=卓玛", "id_number=" ID2, NULL);
    assert_int_equal(qs_store_update(st, b, &body, NULL, &e), 0);
    qs_body_free(&body);
    expect_pseudonym(st, b, ID2);

    /* without an ID number, the pseudonym given is kept (nothing to derive) */
    qs_fx_create(st, QS_K_BENEFICIARY, c, "name=无证", "pseudonym=" WRONG, NULL);
    stored_pseudonym(st, c, got);
    uint8_t wrong[16];
    qs_unhex(WRONG, wrong, 16);
    assert_memory_equal(got, wrong, 16);

    /* the pipe, with a body the caller says it validated */
    assert_int_equal(qs_store_begin_all_or_nothing(st, 0, &e), 0);
    qs_pipe *p = NULL;
    assert_int_equal(qs_pipe_start(st, &p, &e), 0);
    qs_fx_body(&body, QS_K_BENEFICIARY, "name=央金", "id_number=" ID2, "pseudonym=" WRONG, NULL);
    assert_int_equal(qs_pipe_create(p, QS_K_BENEFICIARY, NULL, &body, true, &e), 0);
    qs_body_free(&body);
    assert_int_equal(qs_pipe_end(p, &e), 0);
    assert_int_equal(qs_store_commit(st, &e), 0);
    found fd = {.n = 0};
    qs_filter flt = {.field = 1, .value = qs_v_str("央金")}; /* name */
    qs_query q = {.kind = QS_K_BENEFICIARY, .filters = &flt, .nfilters = 1};
    assert_int_equal(qs_store_list(st, &q, found_cb, &fd, &e), 0);
    qs_value_free(&flt.value);
    assert_int_equal(fd.n, 1);
    expect_pseudonym(st, fd.id, ID2);

    /* qs_store_derive: what the writers do, for a caller that shows the body */
    qs_fx_body(&body, QS_K_BENEFICIARY, "name=x", "id_number=" ID1, "pseudonym=" WRONG, NULL);
    assert_int_equal(qs_store_derive(st, QS_K_BENEFICIARY, &body, &e), 0);
    const qs_value *v = qs_body_get(&body, 3);
    uint8_t want[16];
    assert_int_equal(qs_store_pseudonym(st, ID1, want, NULL), 0);
    assert_memory_equal(v->u.a.v[0].u.s.p, want, 16);
    qs_body_free(&body);
    /* a malformed number is refused naming the field */
    qs_fx_body(&body, QS_K_BENEFICIARY, "name=x",
               "id_number=6323221990031512345678901234567890123456789012345678901234567890", NULL);
    assert_int_equal(qs_store_create(st, QS_K_BENEFICIARY, NULL, &body, NULL, NULL, &e), QS_EINVAL);
    assert_non_null(strstr(e.msg, "id_number (身份证号): ID number too long"));
    qs_body_free(&body);
    /* kinds without derived fields are left alone */
    qs_fx_body(&body, QS_K_STATION, "township=632322100", "name=站", NULL);
    assert_int_equal(qs_store_derive(st, QS_K_STATION, &body, &e), 0);
    assert_int_equal(body.n, 2);
    qs_body_free(&body);

    /* another county's secret gives another pseudonym for the same number */
    qs_store *other = qs_fx_store("632323", QS_ROLE_COUNTY, NULL, NULL);
    uint8_t there[16];
    assert_int_equal(qs_store_pseudonym(other, ID1, there, NULL), 0);
    assert_memory_not_equal(there, want, 16);
    qs_store_close(other);
    qs_store_close(st);
}

/* Natural keys: one row per kind that has one, and one that has none. */
static void test_find_by_key(void **state)
{
    (void)state;
    qs_store *prov = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, NULL);
    qs_store *cty = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, NULL);
    uint8_t county[16], ag[16], ag2[16], p_old[16], p_new[16], p_other[16], st1[16], pe[16];
    char agt[QS_UUID_STR], ag2t[QS_UUID_STR], a1[64], a2[64], r1[64];
    qs_fx_create(prov, QS_K_COUNTY, county, "code=632322", "name=尖扎县", NULL);
    qs_fx_create(prov, QS_K_COUNTY, NULL, "code=632323", "name=泽库县", NULL);
    qs_fx_create(prov, QS_K_AGENCY, ag, "name=援派", "role=aiding", NULL);
    qs_fx_create(prov, QS_K_AGENCY, ag2, "name=受援", "role=receiving", NULL);
    qs_fx_create(prov, QS_K_AGENCY, NULL, "name=重名", "role=receiving", NULL);
    qs_fx_create(prov, QS_K_AGENCY, NULL, "name=重名", "role=receiving", NULL);
    snprintf(a1, sizeof a1, "aiding=%s", qs_uuid_format(ag, agt));
    snprintf(r1, sizeof r1, "receiving=%s", qs_uuid_format(ag2, ag2t));
    snprintf(a2, sizeof a2, "%s", a1);
    /* 尖扎: one pairing after another; 泽库: one */
    qs_fx_create(prov, QS_K_PAIRING, p_old, a1, r1, "county=632322", "type=in_province",
                 "start_year=2021", "end_year=2023", NULL);
    qs_fx_create(prov, QS_K_PAIRING, p_new, a2, r1, "county=632322", "type=in_province",
                 "start_year=2024", "end_year=2035", NULL);
    qs_fx_create(prov, QS_K_PAIRING, p_other, a1, r1, "county=632323", "type=in_province",
                 "start_year=2021", "end_year=2021", NULL);
    qs_fx_create(cty, QS_K_STATION, st1, "township=632322100", "name=一站", NULL);
    qs_fx_create(cty, QS_K_STATION, NULL, "township=632322101", "name=二站", NULL);
    qs_fx_create(cty, QS_K_STATION, NULL, "township=632322101", "name=二站分站", NULL);
    char ag_ref[64];
    snprintf(ag_ref, sizeof ag_ref, "agency=%s", agt);
    qs_fx_create(cty, QS_K_PERSON, pe, ag_ref, "name=张三", "role=dispatched", NULL);
    qs_fx_create(cty, QS_K_PERSON, NULL, ag_ref, "name=李四", "role=local", NULL);
    qs_fx_create(cty, QS_K_PERSON, NULL, ag_ref, "name=李四", "role=local", NULL);

    static const struct {
        int county; /* in the county's store, else the province's */
        uint32_t kind;
        const char *text;
        int year;
        int rc;
        uint64_t n;
        int which; /* 0 none, else the expected first record */
    } t[] = {
        {0, QS_K_COUNTY, "632322", 0, 0, 1, 1},
        {0, QS_K_COUNTY, "632399", 0, 0, 0, 0},
        {0, QS_K_AGENCY, "援派", 0, 0, 1, 2},
        {0, QS_K_AGENCY, "重名", 0, 0, 2, 0},
        {0, QS_K_AGENCY, "无此机构", 0, 0, 0, 0},
        {0, QS_K_PAIRING, "632322", 2022, 0, 1, 3}, /* several: the years pick */
        {0, QS_K_PAIRING, "632322", 2030, 0, 1, 4},
        {0, QS_K_PAIRING, "632322", 0, 0, 1, 4},    /* this year (2024 to 2035) */
        {0, QS_K_PAIRING, "632322", 2036, 0, 0, 0}, /* none active */
        {0, QS_K_PAIRING, "632323", 2030, 0, 1, 5}, /* only one: whatever its years */
        {1, QS_K_STATION, "632322100", 0, 0, 1, 6},
        {1, QS_K_STATION, "632322101", 0, 0, 2, 0},
        {1, QS_K_PERSON, "张三", 0, 0, 1, 7},
        {1, QS_K_PERSON, "李四", 0, 0, 2, 0},
        {1, QS_K_PERSON, "王五", 0, 0, 0, 0},
        {1, QS_K_WORKDAY, "x", 0, QS_EINVAL, 0, 0}, /* named by its id only */
        {1, QS_K_BENEFICIARY, ID1, 0, QS_EINVAL, 0, 0},
        {1, 99, "x", 0, QS_ENOTFOUND, 0, 0},
    };
    const uint8_t *ids[] = {NULL, county, ag, p_old, p_new, p_other, st1, pe};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t id[16];
        uint64_t n = 99;
        qs_err e = {0};
        int rc = qs_store_find_key(t[i].county ? cty : prov, t[i].kind, t[i].text, t[i].year, id,
                                   &n, &e);
        if (rc != t[i].rc || n != t[i].n)
            fail_msg("row %zu (%u %s): rc %d n %llu (%s), want rc %d n %llu", i, t[i].kind,
                     t[i].text, rc, (unsigned long long)n, e.msg, t[i].rc,
                     (unsigned long long)t[i].n);
        if (t[i].which && memcmp(id, ids[t[i].which], 16) != 0)
            fail_msg("row %zu (%u %s): not the expected record", i, t[i].kind, t[i].text);
    }
    /* a deleted record is not found by its key */
    assert_int_equal(qs_store_delete(cty, st1, NULL, NULL), 0);
    uint8_t id[16];
    uint64_t n = 99;
    assert_int_equal(qs_store_find_key(cty, QS_K_STATION, "632322100", 0, id, &n, NULL), 0);
    assert_int_equal(n, 0);
    /* the parent's door asks the same keys */
    bool known;
    assert_int_equal(qs_store_node_known(prov, "632322", &known, NULL), 0);
    assert_true(known);
    assert_int_equal(qs_store_node_known(prov, "632399", &known, NULL), 0);
    assert_false(known);
    assert_int_equal(qs_store_node_known(cty, "632322101", &known, NULL), 0);
    assert_true(known);
    assert_int_equal(qs_store_node_known(cty, "632322100", &known, NULL), 0);
    assert_false(known); /* deleted */
    qs_store_close(cty);
    qs_store_close(prov);
}

/* The duplicate key: a work day's person and date. */
static void test_duplicates(void **state)
{
    (void)state;
    qs_store *st = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, NULL);
    const char *person = "person=0189a5d0-ac96-774b-bcce-b302099a8057";
    const char *other = "person=0189a5d0-ac96-774b-bcce-b302099a8058";
    const char *pairing = "pairing=0189a5d0-ac96-774b-bcce-b302099a8059";
    qs_fx_create(st, QS_K_WORKDAY, NULL, person, pairing, "date=2024-06-01", NULL);
    qs_fx_create(st, QS_K_WORKDAY, NULL, person, pairing, "date=2024-06-01", "mode=remote", NULL);
    qs_fx_create(st, QS_K_WORKDAY, NULL, person, pairing, "date=2024-06-02", NULL);
    static const struct {
        const char *person, *date;
        uint64_t n;
    } t[] = {
        {"p", "date=2024-06-01", 2}, /* the mode does not count */
        {"p", "date=2024-06-02", 1}, {"p", "date=2024-06-03", 0},
        {"o", "date=2024-06-01", 0}, {"p", NULL, 0}, /* a key not wholly given matches nothing */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_body b;
        qs_fx_body(&b, QS_K_WORKDAY, *t[i].person == 'p' ? person : other, pairing, "mode=onsite",
                   t[i].date, NULL);
        uint64_t n = 99;
        assert_int_equal(qs_store_count_duplicates(st, QS_K_WORKDAY, &b, &n, NULL), 0);
        if (n != t[i].n)
            fail_msg("row %zu: %llu duplicates, want %llu", i, (unsigned long long)n,
                     (unsigned long long)t[i].n);
        qs_body_free(&b);
    }
    /* a kind without a duplicate key has none */
    qs_body b;
    qs_fx_body(&b, QS_K_STATION, "township=632322100", "name=站", NULL);
    qs_fx_create(st, QS_K_STATION, NULL, "township=632322100", "name=站", NULL);
    uint64_t n = 99;
    assert_int_equal(qs_store_count_duplicates(st, QS_K_STATION, &b, &n, NULL), 0);
    assert_int_equal(n, 0);
    qs_body_free(&b);
    qs_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pseudonym_derived_by_every_writer),
        cmocka_unit_test(test_find_by_key),
        cmocka_unit_test(test_duplicates),
    };
    qs_fx_init("kinds");
    return qs_fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
