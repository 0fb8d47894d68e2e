/* Record bodies: canonical msgpack maps, unknown fields kept byte-exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/support/fixture.h"

#include "proto/body.h"

#define unhex qs_fx_unhex

static void test_round_trip(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    qs_body b;
    qs_body_init(&b);
    static const uint8_t id[16] = {1, 2, 3};
    char longs[300];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    qs_body_set(&b, 40, qs_v_str(longs));
    qs_body_set(&b, 3, qs_v_int(-1));
    qs_body_set(&b, 1, qs_v_int(0));
    qs_body_set(&b, 2, qs_v_int(INT64_MAX));
    qs_body_set(&b, 7, qs_v_str("社会工作"));
    qs_body_set(&b, 8, qs_v_bin(id, sizeof id));
    qs_body_set(&b, 9, qs_v_bool(true));
    qs_value arr = qs_v_array(3);
    arr.u.a.v[0] = qs_v_int(300);
    arr.u.a.v[1] = qs_v_str("");
    qs_body_set(&b, 10, arr);
    qs_body_set(&b, 300, qs_v_int(INT64_MIN));
    qs_body_set(&b, 12, qs_v_int(5));
    qs_body_unset(&b, 12);
    qs_body_unset(&b, 13);
    assert_null(qs_body_get(&b, 12));
    assert_int_equal(b.n, 9);

    qs_buf enc;
    qs_buf_init(&enc, 0);
    assert_int_equal(qs_body_encode(&b, &enc, NULL), 0);
    qs_body d;
    qs_err e = {0};
    int rc = qs_body_decode(enc.data, enc.len, &l, &d, &e);
    if (rc)
        fail_msg("decode: %s", e.msg);
    assert_int_equal(d.n, b.n);
    for (size_t i = 0; i < b.n; i++) {
        assert_int_equal(d.f[i].id, b.f[i].id);
        assert_true(qs_value_eq(&d.f[i].v, &b.f[i].v));
    }
    qs_buf again;
    qs_buf_init(&again, 0);
    assert_int_equal(qs_body_encode(&d, &again, NULL), 0);
    assert_int_equal(again.len, enc.len);
    assert_memory_equal(again.data, enc.data, enc.len);
    const qs_value *v = qs_body_get(&d, 7);
    assert_non_null(v);
    assert_string_equal(v->u.s.p, "社会工作");
    qs_value dup = qs_value_dup(qs_body_get(&d, 10));
    assert_true(qs_value_eq(&dup, qs_body_get(&b, 10)));
    qs_value_free(&dup);
    qs_buf_free(&again);
    qs_buf_free(&enc);
    qs_body_free(&d);
    qs_body_free(&b);
}

static const struct {
    const char *name;
    const char *hex;
    int rc;
    int raw_field; /* >0: that field decodes to QS_V_RAW */
} cases[] = {
    {"empty body", "80", 0, 0},
    {"ints shortest", "84 01 00 02 7f 03 cc 80 04 e0", 0, 0},
    {"negative int8", "81 01 d0 80", 0, 0},
    {"unsorted keys", "82 02 01 01 01", QS_EINVAL, 0},
    {"duplicate keys", "82 01 01 01 02", QS_EINVAL, 0},
    {"zero key", "81 00 01", QS_EINVAL, 0},
    {"negative key", "81 ff 01", QS_EINVAL, 0},
    {"string key", "81 a1 61 01", QS_EINVAL, 0},
    {"key over 32 bits", "81 cf 00 00 00 01 00 00 00 00 01", QS_EINVAL, 0},
    {"non-shortest key", "81 cc 01 01", QS_EINVAL, 0},
    {"non-shortest uint8", "81 01 cc 05", QS_EINVAL, 0},
    {"non-shortest uint16", "81 01 cd 00 80", QS_EINVAL, 0},
    {"positive int as int8", "81 01 d0 05", QS_EINVAL, 0},
    {"non-shortest negative", "81 01 d1 ff ff", QS_EINVAL, 0},
    {"non-shortest str8", "81 01 d9 01 61", QS_EINVAL, 0},
    {"non-shortest bin16", "81 01 c5 00 01 61", QS_EINVAL, 0},
    {"non-shortest array16", "81 01 dc 00 01 01", QS_EINVAL, 0},
    {"non-shortest map16", "de 00 01 01 01", QS_EINVAL, 0},
    {"not a map", "91 01", QS_EINVAL, 0},
    {"trailing bytes", "81 01 01 00", QS_EINVAL, 0},
    {"reserved byte", "81 01 c1", QS_EINVAL, 0},
    {"float64 kept raw", "82 01 01 02 cb 40 09 21 fb 54 44 2d 18", 0, 2},
    {"float32 kept raw", "81 05 ca 3f c0 00 00", 0, 5},
    {"map kept raw", "81 06 82 01 02 a1 61 c0", 0, 6},
    {"ext kept raw", "81 07 d4 01 02", 0, 7},
    {"uint64 above int64 kept raw", "81 08 cf ff ff ff ff ff ff ff ff", 0, 8},
    {"nested map non-shortest", "81 06 81 01 cc 02", QS_EINVAL, 0},
    {"invalid UTF-8 is the schema's concern", "81 01 a2 ff fe", 0, 0},
};

static void test_table(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[64];
        size_t n = unhex(cases[i].hex, buf, sizeof buf);
        qs_body b;
        qs_err e = {0};
        int rc = qs_body_decode(buf, n, &l, &b, &e);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d (%s)", cases[i].name, rc, cases[i].rc, e.msg);
        if (rc) {
            assert_int_equal(b.n, 0);
            assert_null(b.f);
            continue;
        }
        if (cases[i].raw_field) {
            const qs_value *v = qs_body_get(&b, (uint32_t)cases[i].raw_field);
            assert_non_null(v);
            if (v->t != QS_V_RAW)
                fail_msg("%s: field not kept raw", cases[i].name);
        }
        /* Byte-exact: encoding the decoded view gives the input back. */
        qs_buf out;
        qs_buf_init(&out, 0);
        assert_int_equal(qs_body_encode(&b, &out, NULL), 0);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.data, buf, n);
        qs_buf_free(&out);
        qs_body_free(&b);
    }
}

static void test_limits(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    l.max_body = 8;
    uint8_t buf[16];
    size_t n = unhex("81 01 a7 61 62 63 64 65 66 67", buf, sizeof buf); /* 10 bytes */
    qs_body b;
    assert_int_equal(qs_body_decode(buf, n, &l, &b, NULL), QS_ELIMIT);
    l.max_body = 10;
    assert_int_equal(qs_body_decode(buf, n, &l, &b, NULL), 0);
    qs_body_free(&b);
    l.max_str = 6;
    assert_int_equal(qs_body_decode(buf, n, &l, &b, NULL), QS_ELIMIT);
    /* Unknown keys' bytes are also under the msgpack limits. */
    n = unhex("81 01 dd ff ff ff ff", buf, sizeof buf);
    assert_int_equal(qs_body_decode(buf, n, &l, &b, NULL), QS_ELIMIT);
}

static void test_encode_out_of_order(void **state)
{
    (void)state;
    qs_bfield f[2] = {{.id = 2, .v = {.t = QS_V_NIL}}, {.id = 1, .v = {.t = QS_V_NIL}}};
    qs_body b = {.f = f, .n = 2};
    qs_buf out;
    qs_buf_init(&out, 0);
    assert_int_equal(qs_body_encode(&b, &out, NULL), QS_EINVAL);
    qs_buf_free(&out);
    /* A bounded buffer that is too small. */
    qs_body c;
    qs_body_init(&c);
    qs_body_set(&c, 1, qs_v_str("a long enough string"));
    qs_buf_init(&out, 4);
    assert_int_equal(qs_body_encode(&c, &out, NULL), QS_ELIMIT);
    qs_buf_free(&out);
    qs_body_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_encode_out_of_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
