/* test_clock.c — the QIANSHOU_CLOCK_OFFSET hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/clock.h"
#include "proto/err.h"

static void test_parse_table(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int rc;
        int64_t ms;
    } t[] = {
        {"0", 0, 0},
        {"+3600", 0, 3600000},
        {"3600", 0, 3600000},
        {"-3600", 0, -3600000},
        {"-2d", 0, -2 * 86400000LL},
        {"90d", 0, 90 * 86400000LL},
        {"12h", 0, 12 * 3600000LL},
        {"90m", 0, 90 * 60000LL},
        {"30s", 0, 30000},
        {"-0", 0, 0},
        {"+36500d", 0, 36500 * 86400000LL},
        {"-3153600000", 0, -3153600000000LL},
        {"", QS_EINVAL, 0},
        {"+", QS_EINVAL, 0},
        {"-", QS_EINVAL, 0},
        {"d", QS_EINVAL, 0},
        {"2x", QS_EINVAL, 0},
        {"2dd", QS_EINVAL, 0},
        {"2 d", QS_EINVAL, 0},
        {" 2d", QS_EINVAL, 0},
        {"2d ", QS_EINVAL, 0},
        {"--2", QS_EINVAL, 0},
        {"+-2", QS_EINVAL, 0},
        {"1.5h", QS_EINVAL, 0},
        {"2D", QS_EINVAL, 0},
        {"0x10", QS_EINVAL, 0},
        {"36501d", QS_EINVAL, 0}, /* beyond 100 years */
        {"3153600001", QS_EINVAL, 0},
        {"99999999999999999999999", QS_EINVAL, 0}, /* would overflow */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t ms = 12345;
        int rc = qs_clock_parse_offset(t[i].s, &ms);
        if (rc != t[i].rc)
            fail_msg("parse(\"%s\") returned %d, want %d", t[i].s, rc, t[i].rc);
        if (rc == 0 && ms != t[i].ms)
            fail_msg("parse(\"%s\") = %lld, want %lld", t[i].s, (long long)ms, (long long)t[i].ms);
        if (rc != 0)
            assert_int_equal(ms, 12345); /* untouched on error */
    }
    int64_t ms;
    assert_int_equal(qs_clock_parse_offset(NULL, &ms), QS_EINVAL);
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs first in this process: the environment sets -2d. */
static void test_env_read_once(void **state)
{
    (void)state;
    assert_int_equal(qs_clock_offset_ms(), -2 * 86400000LL);
    int64_t before = real_ms();
    int64_t w = qs_clock_wall_ms();
    int64_t after = real_ms();
    assert_true(w >= before - 2 * 86400000LL && w <= after - 2 * 86400000LL);
    /* Read once: a later change to the environment is not seen. */
    setenv("QIANSHOU_CLOCK_OFFSET", "+1h", 1);
    assert_int_equal(qs_clock_offset_ms(), -2 * 86400000LL);
}

static void test_set_offset_shifts(void **state)
{
    (void)state;
    static const int64_t offsets[] = {0, 3600000, -90 * 86400000LL, 10 * 365 * 86400000LL};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        qs_clock_set_offset_ms(offsets[i]);
        assert_int_equal(qs_clock_offset_ms(), offsets[i]);
        int64_t before = real_ms();
        int64_t w = qs_clock_wall_ms();
        time_t t = qs_clock_wall_time();
        int64_t after = real_ms();
        assert_true(w >= before + offsets[i] && w <= after + offsets[i]);
        assert_true((int64_t)t >= (before + offsets[i]) / 1000 - 1);
        assert_true((int64_t)t <= (after + offsets[i]) / 1000 + 1);
    }
    qs_clock_set_offset_ms(0);
}

/* In a child process (a fresh read-once): a malformed value gives one warning
 * line naming the variable and no shift. */
static void test_env_malformed(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        setenv("QIANSHOU_CLOCK_OFFSET", "tomorrow", 1);
        /* Re-exec so the read-once hook starts fresh in the child. */
        execl("/proc/self/exe", "test_clock", "--malformed-child", (char *)NULL);
        _exit(99);
    }
    close(fd[1]);
    char out[1024] = {0};
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fd[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    close(fd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_non_null(strstr(out, "QIANSHOU_CLOCK_OFFSET"));
    assert_non_null(strstr(out, "tomorrow"));
    assert_non_null(strchr(out, '\n'));
    assert_true(strchr(out, '\n') == out + n - 1); /* exactly one line */
}

static int malformed_child(void)
{
    /* Two reads, one warning; the clock still works, unshifted. */
    if (qs_clock_offset_ms() != 0 || qs_clock_offset_ms() != 0)
        return 1;
    int64_t d = qs_clock_wall_ms() - real_ms();
    return d >= -1000 && d <= 1000 ? 0 : 2;
}

/* The clock rule for a node's own certificate (daemon and CLI share it). */
static void test_check_window_table(void **state)
{
    (void)state;
    const time_t nb = 1700000000, na = nb + 90 * 86400;
    static const struct {
        const char *what;
        time_t now, nb, na;
        int rc;
    } t[] = {
        {"inside", 1700000000 + 86400, 1700000000, 1700000000 + 90 * 86400, 0},
        {"at notBefore", 1700000000, 1700000000, 1700000000 + 90 * 86400, 0},
        {"at notAfter", 1700000000 + 90 * 86400, 1700000000, 1700000000 + 90 * 86400, 0},
        {"a second early", 1700000000 - 1, 1700000000, 1700000000 + 90 * 86400, QS_ECLOCK},
        {"a second late", 1700000000 + 90 * 86400 + 1, 1700000000, 1700000000 + 90 * 86400,
         QS_ECLOCK},
        {"800 days ahead", 1700000000 + 800 * 86400, 1700000000, 1700000000 + 90 * 86400,
         QS_ECLOCK},
        {"window unknown", 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_err e = {0};
        int rc = qs_clock_check_window(t[i].now, t[i].nb, t[i].na, "632322", &e);
        if (rc != t[i].rc)
            fail_msg("%s: rc %d, want %d", t[i].what, rc, t[i].rc);
        if (rc)
            assert_non_null(strstr(e.msg, "this machine's clock says "));
    }
    qs_err e = {0};
    assert_int_equal(qs_clock_check_window(nb - 86400, nb, na, "632322", &e), QS_ECLOCK);
    assert_string_equal(e.msg, "this machine's clock says 2023-11-13 22:13:20 UTC, but our "
                               "certificate (node 632322) is valid from 2023-11-14 22:13:20 UTC "
                               "to 2024-02-12 22:13:20 UTC: check the clock (renew the "
                               "certificate only if the clock is right)");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--malformed-child") == 0)
        return malformed_child();
    setenv("QIANSHOU_CLOCK_OFFSET", "-2d", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_read_once),      cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_set_offset_shifts),  cmocka_unit_test(test_env_malformed),
        cmocka_unit_test(test_check_window_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
