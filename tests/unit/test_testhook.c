/* test_testhook.c — the one seam for test hooks (proto/testhook.h): each hook
 * is read from its variable, an empty value is off, and the clock hook moves
 * the wall clock through it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/clock.h"
#include "proto/testhook.h"

static void test_names_and_values(void **state)
{
    (void)state;
    static const struct {
        qs_testhook h;
        const char *name;
    } t[] = {
        {QS_HOOK_CLOCK_OFFSET, "QIANSHOU_CLOCK_OFFSET"},
        {QS_HOOK_DISKFULL, "QIANSHOU_TEST_DISKFULL"},
        {QS_HOOK_EXIT_AFTER_FRAME, "QIANSHOU_TEST_EXIT_AFTER_FRAME"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_string_equal(qs_testhook_name(t[i].h), t[i].name);
        unsetenv(t[i].name);
        assert_null(qs_testhook_env(t[i].h));
        setenv(t[i].name, "", 1);
        assert_null(qs_testhook_env(t[i].h)); /* empty: off */
        setenv(t[i].name, "7:in", 1);
        assert_string_equal(qs_testhook_env(t[i].h), "7:in");
        unsetenv(t[i].name);
    }
}

/* The clock hook is read once, through the seam, at the first reading. */
static void test_clock_through_the_seam(void **state)
{
    (void)state;
    setenv("QIANSHOU_CLOCK_OFFSET", "+2d", 1);
    assert_int_equal(qs_clock_offset_ms(), 2 * 86400 * 1000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_values),
        cmocka_unit_test(test_clock_through_the_seam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
