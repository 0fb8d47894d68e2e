/* test_hlc.c — hybrid logical clock: local and receive events as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/hlc.h"

#define T0 INT64_C(1764373447123) /* 2025-11-28T23:44:07.123Z */
/* A reading as a constant expression, for the tables; test_layout checks it
 * against qs_hlc_make. */
#define H(ms, c) (((uint64_t)(ms) << QS_HLC_LOGICAL_BITS) | (uint64_t)(c))

static void test_layout(void **state)
{
    (void)state;
    qs_hlc h = qs_hlc_make(T0, 7);
    assert_int_equal(h, H(T0, 7));
    assert_int_equal(h, ((uint64_t)T0 << 16) | 7);
    assert_int_equal(qs_hlc_ms(h), T0);
    assert_int_equal(qs_hlc_logical(h), 7);
    assert_int_equal(qs_hlc_make(T0, 0x10005), H(T0, 5)); /* masked to 16 bits */
}

static void test_now_table(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        qs_hlc state;
        int64_t wall;
        qs_hlc want;
    } t[] = {
        {"wall ahead", H(T0, 5), T0 + 10, H(T0 + 10, 0)},
        {"wall equal", H(T0, 5), T0, H(T0, 6)},
        {"wall behind", H(T0, 5), T0 - 5000, H(T0, 6)},
        {"fresh state", 0, T0, H(T0, 0)},
        {"logical overflow", H(T0, QS_HLC_LOGICAL_MAX), T0, H(T0 + 1, 0)},
        {"overflow, wall behind", H(T0, QS_HLC_LOGICAL_MAX), T0 - 1, H(T0 + 1, 0)},
        {"negative wall", H(0, 3), -1, H(0, 4)},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_hlc s = t[i].state;
        qs_hlc got = qs_hlc_now(&s, t[i].wall);
        if (got != t[i].want || s != got)
            fail_msg("%s: got %llu:%u, want %llu:%u", t[i].what, (unsigned long long)qs_hlc_ms(got),
                     qs_hlc_logical(got), (unsigned long long)qs_hlc_ms(t[i].want),
                     qs_hlc_logical(t[i].want));
        assert_true(got > t[i].state);
    }
}

static void test_now_strictly_increasing(void **state)
{
    (void)state;
    qs_hlc s = 0, prev = 0;
    /* A frozen wall clock: 200000 events cross the logical limit three times. */
    for (int i = 0; i < 200000; i++) {
        qs_hlc h = qs_hlc_now(&s, T0);
        assert_true(h > prev);
        prev = h;
    }
    assert_int_equal(qs_hlc_ms(prev), T0 + 3);
}

static void test_recv_table(void **state)
{
    (void)state;
    const int64_t max = 60000;
    static const struct {
        const char *what;
        qs_hlc state, remote;
        int64_t wall;
        qs_hlc want;
        int64_t skew;
        bool rejected;
    } t[] = {
        {"wall ahead of both", H(T0, 3), H(T0 - 10, 9), T0 + 5, H(T0 + 5, 0), -15, false},
        {"local ahead", H(T0 + 20, 3), H(T0 + 10, 9), T0, H(T0 + 20, 4), 10, false},
        {"remote ahead, within max", H(T0, 3), H(T0 + 30000, 9), T0, H(T0 + 30000, 10), 30000,
         false},
        {"remote exactly max ahead", H(T0, 3), H(T0 + 60000, 2), T0, H(T0 + 60000, 3), 60000,
         false},
        {"remote beyond max", H(T0, 3), H(T0 + 60001, 2), T0, H(T0, 4), 60001, true},
        {"remote far beyond, wall ahead of state", H(T0, 3), H(T0 + 86400000, 0), T0 + 7,
         H(T0 + 7, 0), 86400000 - 7, true},
        {"all equal ms, remote logical higher", H(T0, 3), H(T0, 9), T0, H(T0, 10), 0, false},
        {"all equal ms, local logical higher", H(T0, 12), H(T0, 9), T0, H(T0, 13), 0, false},
        {"remote behind wall", H(T0 - 100, 0), H(T0 - 3000, 1), T0, H(T0, 0), -3000, false},
        {"logical overflow on receive", H(T0, 1), H(T0 + 10, QS_HLC_LOGICAL_MAX), T0, H(T0 + 11, 0),
         10, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_hlc s = t[i].state;
        int64_t skew = 42;
        bool rej = !t[i].rejected;
        qs_hlc got = qs_hlc_recv(&s, t[i].remote, t[i].wall, max, &skew, &rej);
        if (got != t[i].want || s != got)
            fail_msg("%s: got %llu:%u, want %llu:%u", t[i].what, (unsigned long long)qs_hlc_ms(got),
                     qs_hlc_logical(got), (unsigned long long)qs_hlc_ms(t[i].want),
                     qs_hlc_logical(t[i].want));
        if (skew != t[i].skew || rej != t[i].rejected)
            fail_msg("%s: skew %lld rejected %d, want %lld %d", t[i].what, (long long)skew, rej,
                     (long long)t[i].skew, t[i].rejected);
        assert_true(got > t[i].state);
        if (!t[i].rejected)
            assert_true(got > t[i].remote);
    }
    /* NULL out-parameters are allowed. */
    qs_hlc s = H(T0, 0);
    assert_int_equal(qs_hlc_recv(&s, H(T0 + 1, 0), T0, max, NULL, NULL), H(T0 + 1, 1));
}

static void test_format(void **state)
{
    (void)state;
    char buf[QS_HLC_STR];
    assert_string_equal(qs_hlc_format(H(T0, 0), buf, sizeof buf), "2025-11-28T23:44:07.123Z");
    assert_string_equal(qs_hlc_format(H(T0, 5), buf, sizeof buf), "2025-11-28T23:44:07.123Z+5");
    assert_string_equal(qs_hlc_format(H(0, 0), buf, sizeof buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(qs_hlc_format(H(1000, QS_HLC_LOGICAL_MAX), buf, sizeof buf),
                        "1970-01-01T00:00:01.000Z+65535");
    /* The largest reading fits QS_HLC_STR. */
    qs_hlc_format(UINT64_MAX, buf, sizeof buf);
    assert_true(strlen(buf) < sizeof buf);
    assert_non_null(strstr(buf, "+65535"));
    char small[11];
    assert_string_equal(qs_hlc_format(H(T0, 5), small, sizeof small), "2025-11-28");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_now_table),
        cmocka_unit_test(test_now_strictly_increasing),
        cmocka_unit_test(test_recv_table),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
