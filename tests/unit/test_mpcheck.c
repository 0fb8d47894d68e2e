/* qs_mp_check / qs_mp_unpack: hostile msgpack is refused before msgpack-c
 * allocates anything for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/support/fixture.h"

#include "proto/mpcheck.h"

#define unhex qs_fx_unhex

enum lim_kind { L_DEFAULT, L_SMALL, L_HUGE_ARRAY };

static qs_limits limits(enum lim_kind k)
{
    qs_limits l = qs_limits_default();
    if (k == L_SMALL) {
        l.max_str = 4;
        l.max_array = 4;
        l.max_depth = 3;
        l.max_objects = 8;
    } else if (k == L_HUGE_ARRAY) {
        l.max_array = UINT32_MAX; /* only the bytes-left rule stands */
    }
    return l;
}

static const struct {
    const char *name;
    const char *hex;
    enum lim_kind lim;
    int rc;
} cases[] = {
    {"empty map", "80", L_DEFAULT, 0},
    {"small map", "82 01 02 03 a3 61 62 63", L_DEFAULT, 0},
    {"nested", "92 91 90 81 01 c4 02 00 01", L_DEFAULT, 0},
    {"fixext", "d4 01 02", L_DEFAULT, 0},
    {"ext8", "c7 02 05 aa bb", L_DEFAULT, 0},
    {"float64", "cb 3f f0 00 00 00 00 00 00", L_DEFAULT, 0},
    {"empty input", "", L_DEFAULT, QS_EINVAL},
    {"array32 bomb (96 GB ask)", "dd ff ff ff ff", L_DEFAULT, QS_ELIMIT},
    {"array32 bomb, no array limit", "dd ff ff ff ff", L_HUGE_ARRAY, QS_EINVAL},
    {"map32 bomb", "df ff ff ff ff", L_DEFAULT, QS_ELIMIT},
    {"map32 bomb, no array limit", "df ff ff ff ff 01 02", L_HUGE_ARRAY, QS_EINVAL},
    {"map16 count past bytes left", "de 00 10 01 02", L_DEFAULT, QS_EINVAL},
    {"nested count past bytes left", "92 dc 00 05 01 02", L_DEFAULT, QS_EINVAL},
    {"nested bomb inside valid map", "81 01 dd 00 00 ff ff 00", L_DEFAULT, QS_EINVAL},
    {"array over max_array", "95 01 02 03 04 05", L_SMALL, QS_ELIMIT},
    {"map over max_array", "85 01 01 02 02 03 03 04 04 05 05", L_SMALL, QS_ELIMIT},
    {"depth 3 ok", "91 91 91 01", L_SMALL, 0},
    {"depth 4 over max_depth", "91 91 91 91 01", L_SMALL, QS_ELIMIT},
    {"empty container counts for depth", "91 91 91 90", L_SMALL, QS_ELIMIT},
    {"objects over max (9 > 8)", "94 01 02 03 94 01 02 03 04", L_SMALL, QS_ELIMIT},
    {"objects at max (8)", "94 01 02 03 93 01 02 03", L_SMALL, 0},
    {"str within max_str", "a4 61 62 63 64", L_SMALL, 0},
    {"fixstr over max_str", "a5 61 62 63 64 65", L_SMALL, QS_ELIMIT},
    {"str8 over max_str", "d9 05 61 62 63 64 65", L_SMALL, QS_ELIMIT},
    {"bin8 over max_str", "c4 05 00 00 00 00 00", L_SMALL, QS_ELIMIT},
    {"ext8 over max_str", "c7 05 01 00 00 00 00 00", L_SMALL, QS_ELIMIT},
    {"str32 4 GB ask", "db ff ff ff ff 61", L_DEFAULT, QS_ELIMIT},
    {"str past the end", "a5 61 62", L_DEFAULT, QS_EINVAL},
    {"bin16 header truncated", "c5 00", L_DEFAULT, QS_EINVAL},
    {"uint64 truncated", "cf 00 00 00", L_DEFAULT, QS_EINVAL},
    {"reserved 0xc1", "c1", L_DEFAULT, QS_EINVAL},
    {"reserved 0xc1 nested", "82 01 c1 02 03", L_DEFAULT, QS_EINVAL},
    {"trailing byte", "81 01 02 00", L_DEFAULT, QS_EINVAL},
    {"two objects", "01 02", L_DEFAULT, QS_EINVAL},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[64];
        size_t n = unhex(cases[i].hex, buf, sizeof buf);
        qs_limits l = limits(cases[i].lim);
        qs_err e = {0};
        int rc = qs_mp_check(buf, n, &l, &e);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d (%s)", cases[i].name, rc, cases[i].rc, e.msg);
        if (rc)
            assert_int_equal(e.code, rc);
        /* qs_mp_unpack agrees with the check. */
        msgpack_zone z;
        msgpack_zone_init(&z, 256);
        msgpack_object o;
        rc = qs_mp_unpack(buf, n, &l, &z, &o, &e);
        msgpack_zone_destroy(&z);
        if (rc != cases[i].rc)
            fail_msg("%s: unpack rc %d, want %d", cases[i].name, rc, cases[i].rc);
    }
}

/* Every proper prefix of a valid object is refused (msgpack is prefix-free). */
static void test_truncation(void **state)
{
    (void)state;
    static const char *valid[] = {
        ("83 00 01 01 c4 10 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 02 92 a3 61 62 63 "
         "cf 00 00 00 00 00 00 01 00"),
        "dc 00 03 cb 3f f0 00 00 00 00 00 00 d4 01 02 de 00 01 01 c0",
        "db 00 00 00 02 61 62",
    };
    qs_limits l = qs_limits_default();
    for (size_t v = 0; v < sizeof valid / sizeof valid[0]; v++) {
        uint8_t buf[128];
        size_t n = unhex(valid[v], buf, sizeof buf);
        assert_int_equal(qs_mp_check(buf, n, &l, NULL), 0);
        for (size_t cut = 0; cut < n; cut++) {
            qs_err e = {0};
            if (qs_mp_check(buf, cut, &l, &e) != QS_EINVAL)
                fail_msg("valid %zu cut at %zu accepted", v, cut);
        }
    }
}

/* Differential: whatever the check accepts, msgpack-c unpacks completely. */
static void test_random_agrees_with_msgpack(void **state)
{
    (void)state;
    qs_limits l = qs_limits_default();
    uint32_t seed = 12345;
    int accepted = 0;
    static const uint8_t alphabet[] = {0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x90, 0x91,
                                       0x92, 0xa0, 0xa1, 0xc0, 0xc2, 0xc3, 0xc4, 0xcc,
                                       0xd4, 0xdc, 0xde, 0xff, 0x02, 0x03};
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t buf[12];
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % sizeof alphabet];
        }
        if (qs_mp_check(buf, n, &l, NULL))
            continue;
        accepted++;
        msgpack_zone z;
        msgpack_zone_init(&z, 256);
        msgpack_object o;
        size_t off = 0;
        msgpack_unpack_return r = msgpack_unpack((const char *)buf, n, &off, &z, &o);
        msgpack_zone_destroy(&z);
        if (r != MSGPACK_UNPACK_SUCCESS || off != n)
            fail_msg("check accepted what msgpack-c refuses (iter %d, r %d)", iter, (int)r);
    }
    assert_true(accepted > 1000);
}

static void test_getters(void **state)
{
    (void)state;
    uint8_t buf[32];
    size_t n = unhex("83 01 07 02 c4 02 aa bb 03 a2 68 69", buf, sizeof buf);
    qs_limits l = qs_limits_default();
    msgpack_zone z;
    msgpack_zone_init(&z, 256);
    msgpack_object o;
    assert_int_equal(qs_mp_unpack(buf, n, &l, &z, &o, NULL), 0);
    uint64_t u = 0;
    const uint8_t *p;
    const char *s;
    uint32_t len;
    assert_int_equal(qs_mp_get_u64(&o, 1, &u, NULL), 0);
    assert_int_equal(u, 7);
    assert_int_equal(qs_mp_get_bin(&o, 2, &p, &len, NULL), 0);
    assert_int_equal(len, 2);
    assert_int_equal(p[1], 0xbb);
    assert_int_equal(qs_mp_get_str(&o, 3, &s, &len, NULL), 0);
    assert_memory_equal(s, "hi", 2);
    assert_int_equal(qs_mp_get_u64(&o, 9, &u, NULL), QS_ENOTFOUND);
    assert_int_equal(qs_mp_get_u64(&o, 2, &u, NULL), QS_EINVAL);
    assert_int_equal(qs_mp_get_bin(&o, 3, &p, &len, NULL), QS_EINVAL);
    assert_int_equal(qs_mp_get_str(&o, 1, &s, &len, NULL), QS_EINVAL);
    assert_null(qs_mp_map_get(&o.via.map.ptr[0].val, 1)); /* not a map */
    msgpack_zone_destroy(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_random_agrees_with_msgpack),
        cmocka_unit_test(test_getters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
