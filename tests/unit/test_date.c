/* Unit tests for proto/date.c: validity, parsing, formatting, day arithmetic
 * and the anniversary rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/date.h"
#include "proto/err.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_valid(void **state)
{
    static const struct {
        int32_t ymd;
        bool ok;
    } t[] = {
        {20240229, true},  /* leap year */
        {20230229, false}, /* common year */
        {20000229, true},  /* divisible by 400 */
        {19000229, false}, /* divisible by 100, not 400 */
        {21000229, false},  {20230228, true},  {20231231, true},  {20231232, false},
        {20230431, false},  {20230430, true},  {20231301, false}, {20230001, false},
        {20230100, false},  {19000101, true}, /* range ends */
        {21991231, true},   {18991231, false}, {22000101, false}, {0, false},
        {-20240101, false},
    };
    for (size_t i = 0; i < N(t); i++) {
        if (qs_date_valid(t[i].ymd) != t[i].ok)
            fail_msg("qs_date_valid(%d) should be %d", (int)t[i].ymd, t[i].ok);
    }
}

static void test_parse(void **state)
{
    static const struct {
        const char *s;
        int32_t ymd; /* 0: must fail */
    } t[] = {
        {"2024-03-01", 20240301},
        {"2024/03/01", 20240301},
        {"2024.03.01", 20240301},
        {"2024-3-1", 20240301},
        {"2024-12-31", 20241231},
        {"2024-02-29", 20240229},
        {"2023-02-29", 0},
        {"2023-2-30", 0},
        {"2024-13-01", 0},
        {"2024-00-10", 0},
        {"2024-01-00", 0},
        {"2024-03/01", 0}, /* mixed separators */
        {"2024-03-01 ", 0},
        {" 2024-03-01", 0},
        {"2024-03-011", 0},
        {"2024-003-01", 0},
        {"24-03-01", 0},
        {"20240301", 0},
        {"2024-03-", 0},
        {"2024--01", 0},
        {"", 0},
        {"1899-12-31", 0},
        {"2200-01-01", 0},
        {"abcd-ef-gh", 0},
    };
    for (size_t i = 0; i < N(t); i++) {
        int32_t v = -1;
        int rc = qs_date_parse(t[i].s, &v);
        if (t[i].ymd) {
            if (rc != 0 || v != t[i].ymd)
                fail_msg("parse \"%s\": rc %d value %d, want %d", t[i].s, rc, (int)v,
                         (int)t[i].ymd);
        } else if (rc != QS_EINVAL || v != -1) {
            fail_msg("parse \"%s\" should fail without writing (rc %d)", t[i].s, rc);
        }
    }
    int32_t v;
    assert_int_equal(qs_date_parse(NULL, &v), QS_EINVAL);
}

static void test_format(void **state)
{
    char buf[11];
    assert_string_equal(qs_date_format(20240301, buf), "2024-03-01");
    assert_string_equal(qs_date_format(19000101, buf), "1900-01-01");
    assert_string_equal(qs_date_format(21991231, buf), "2199-12-31");
    /* Round trip through parse for every day of a leap and a common year. */
    for (int32_t d = qs_date_to_days(20230101); d < qs_date_to_days(20250101); d++) {
        int32_t ymd = qs_date_from_days(d), back = 0;
        assert_true(qs_date_valid(ymd));
        assert_int_equal(qs_date_parse(qs_date_format(ymd, buf), &back), 0);
        assert_int_equal(back, ymd);
    }
}

static void test_days(void **state)
{
    static const struct {
        int32_t ymd, days;
    } t[] = {
        {19700101, 0},     {19700102, 1},     {19691231, -1},    {19000101, -25567},
        {20000101, 10957}, {20000229, 11016}, {20000301, 11017}, {20240229, 19782},
        {20240301, 19783}, {21991231, 84005}, {20380119, 24855},
    };
    for (size_t i = 0; i < N(t); i++) {
        if (qs_date_to_days(t[i].ymd) != t[i].days)
            fail_msg("to_days(%d) = %d, want %d", (int)t[i].ymd, (int)qs_date_to_days(t[i].ymd),
                     (int)t[i].days);
        if (qs_date_from_days(t[i].days) != t[i].ymd)
            fail_msg("from_days(%d) = %d, want %d", (int)t[i].days,
                     (int)qs_date_from_days(t[i].days), (int)t[i].ymd);
    }
    /* Every day of the supported range maps back to itself, consecutively. */
    int32_t prev = qs_date_from_days(qs_date_to_days(19000101));
    for (int32_t d = qs_date_to_days(19000101) + 1; d <= qs_date_to_days(21991231); d++) {
        int32_t ymd = qs_date_from_days(d);
        if (!qs_date_valid(ymd) || ymd <= prev || qs_date_to_days(ymd) != d)
            fail_msg("day %d -> %d (previous %d)", (int)d, (int)ymd, (int)prev);
        prev = ymd;
    }
}

static void test_from_time(void **state)
{
    assert_int_equal(qs_date_from_time(0), 19700101);
    assert_int_equal(qs_date_from_time(86399), 19700101);
    assert_int_equal(qs_date_from_time(86400), 19700102);
    assert_int_equal(qs_date_from_time(-1), 19691231);
    assert_int_equal(qs_date_from_time(1709251200), 20240301); /* 2024-03-01T00:00:00Z */
    assert_int_equal(qs_date_from_time(1709251199), 20240229);
}

static void test_years_between(void **state)
{
    static const struct {
        int32_t from, to;
        int years;
    } t[] = {
        {20220301, 20240229, 1}, /* the day before the anniversary */
        {20220301, 20240301, 2}, /* the anniversary */
        {20220301, 20220301, 0},
        {20220301, 20230228, 0},
        {20220301, 20230301, 1},
        {20200229, 20210228, 0}, /* a leap-day start: the anniversary is 03-01 */
        {20200229, 20210301, 1},
        {20200229, 20240229, 4},
        {20200229, 20240228, 3},
        {20221231, 20231230, 0},
        {20221231, 20231231, 1},
        {20240301, 20240229, -1}, /* to < from is negative */
        {20240301, 20220301, -2},
        {20240301, 20220302, -2},
        {20240301, 20220228, -3},
    };
    for (size_t i = 0; i < N(t); i++) {
        int y = qs_date_years_between(t[i].from, t[i].to);
        if (y != t[i].years)
            fail_msg("years_between(%d, %d) = %d, want %d", (int)t[i].from, (int)t[i].to, y,
                     t[i].years);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),     cmocka_unit_test(test_parse),
        cmocka_unit_test(test_format),    cmocka_unit_test(test_days),
        cmocka_unit_test(test_from_time), cmocka_unit_test(test_years_between),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
