/* test_uuid.c — UUIDv7 ids and the hex helpers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/err.h"
#include "proto/uuid.h"

#define T0 INT64_C(1764373447123)

static uint64_t id_ms(const uint8_t id[QS_ID_LEN])
{
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | id[i];
    return ms;
}

static void test_bits(void **state)
{
    (void)state;
    uint8_t id[QS_ID_LEN];
    for (int i = 0; i < 1000; i++) {
        qs_uuid7(id, T0 + 1000 * i);     /* a new ms each time: the counter is reseeded */
        assert_int_equal(id[6] >> 4, 7); /* version */
        assert_int_equal(id[8] >> 6, 2); /* variant 10 */
        assert_int_equal(id_ms(id), (uint64_t)(T0 + 1000 * i));
        assert_int_equal(id[6] & 0x08, 0); /* seeded counter leaves its top bit clear */
    }
}

static void test_monotonic_same_ms(void **state)
{
    (void)state;
    uint8_t prev[QS_ID_LEN], id[QS_ID_LEN];
    const int64_t ms = T0 + 5000000;
    qs_uuid7(prev, ms);
    for (int i = 0; i < 10000; i++) {
        qs_uuid7(id, ms);
        if (memcmp(prev, id, QS_ID_LEN) >= 0)
            fail_msg("id %d not greater than its predecessor", i);
        assert_int_equal(id[6] >> 4, 7);
        assert_int_equal(id[8] >> 6, 2);
        memcpy(prev, id, QS_ID_LEN);
    }
    /* 10000 ids cannot fit one ms's 4096 counter values: the ms field advanced. */
    assert_true(id_ms(id) > (uint64_t)ms);
    /* A clock stepping back still yields a greater id. */
    qs_uuid7(id, ms - 60000);
    assert_true(memcmp(prev, id, QS_ID_LEN) < 0);
    /* Random bits differ between ids. */
    uint8_t a[QS_ID_LEN], b[QS_ID_LEN];
    qs_uuid7(a, T0 + 9000000);
    qs_uuid7(b, T0 + 9000000);
    assert_memory_not_equal(a + 9, b + 9, 7);
}

#define THREADS 4
#define PER_THREAD 5000
static uint8_t thread_ids[THREADS][PER_THREAD][QS_ID_LEN];

static void *gen_thread(void *arg)
{
    uint8_t(*ids)[QS_ID_LEN] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        qs_uuid7(ids[i], T0 + 7000000);
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, QS_ID_LEN);
}

static void test_threads_unique(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, gen_thread, thread_ids[t]), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < THREADS; t++)
        for (int i = 1; i < PER_THREAD; i++)
            assert_true(memcmp(thread_ids[t][i - 1], thread_ids[t][i], QS_ID_LEN) < 0);
    qsort(thread_ids, THREADS * PER_THREAD, QS_ID_LEN, cmp_id);
    uint8_t(*all)[QS_ID_LEN] = &thread_ids[0][0];
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        assert_true(memcmp(all[i - 1], all[i], QS_ID_LEN) < 0);
}

static void test_format_parse(void **state)
{
    (void)state;
    static const uint8_t fixed[QS_ID_LEN] = {0x01, 0x9a, 0xcd, 0x0e, 0x2f, 0x53, 0x7a, 0xbc,
                                             0x8d, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
    char s[QS_UUID_STR];
    assert_ptr_equal(qs_uuid_format(fixed, s), s);
    assert_string_equal(s, "019acd0e-2f53-7abc-8def-0123456789ab");
    uint8_t back[QS_ID_LEN];
    assert_int_equal(qs_uuid_parse(s, back), 0);
    assert_memory_equal(back, fixed, QS_ID_LEN);
    assert_int_equal(qs_uuid_parse("019ACD0E-2F53-7ABC-8DEF-0123456789AB", back), 0);
    assert_memory_equal(back, fixed, QS_ID_LEN);
    for (int i = 0; i < 100; i++) {
        uint8_t id[QS_ID_LEN];
        qs_uuid7(id, T0 + i);
        qs_uuid_format(id, s);
        assert_int_equal(strlen(s), 36);
        assert_int_equal(qs_uuid_parse(s, back), 0);
        assert_memory_equal(back, id, QS_ID_LEN);
    }
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "019acd0e-2f53-7abc-8def-0123456789a",   /* short */
        "019acd0e-2f53-7abc-8def-0123456789abc", /* long */
        "019acd0e-2f53-7abc-8def-0123456789ab ", /* trailing space */
        "019acd0e2f537abc8def0123456789ab",      /* no dashes */
        "019acd0e-2f53-7abc-8def0-123456789ab",  /* dash misplaced */
        "019acd0e-2f53-7abc-8deg-0123456789ab",  /* not hex */
        "019acd0e_2f53-7abc-8def-0123456789ab",
        "{019acd0e-2f53-7abc-8def-0123456789ab}",
        "019acd0e-2f53-7abc-8def--123456789ab",
        "019acd0e-2f53-7abc-8def-+123456789ab",
    };
    static const uint8_t keep[QS_ID_LEN] = {1, 2, 3};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[QS_ID_LEN];
        memcpy(out, keep, sizeof out);
        if (qs_uuid_parse(bad[i], out) != QS_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_memory_equal(out, keep, QS_ID_LEN);
    }
    uint8_t out[QS_ID_LEN];
    assert_int_equal(qs_uuid_parse(NULL, out), QS_EINVAL);
}

static void test_hex(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char s[2 * sizeof b + 1];
    assert_string_equal(qs_hex(b, sizeof b, s), "00017f80abff");
    assert_string_equal(qs_hex(b, 0, s), "");
    uint8_t out[sizeof b];
    assert_int_equal(qs_unhex("00017f80abff", out, sizeof out), 0);
    assert_memory_equal(out, b, sizeof b);
    assert_int_equal(qs_unhex("00017F80ABFF", out, sizeof out), 0);
    assert_memory_equal(out, b, sizeof b);
    static const char *const bad[] = {"00017f80abf",  "00017f80abff0", "00017f80abfg",
                                      "0x017f80abff", " 0017f80abff",  ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (qs_unhex(bad[i], out, sizeof out) != QS_EINVAL)
            fail_msg("unhex accepted \"%s\"", bad[i]);
    assert_int_equal(qs_unhex("", out, 0), 0);
    assert_int_equal(qs_unhex(NULL, out, 1), QS_EINVAL);
}

/* The per-thread pool of random bytes: distinct draws, and a forked child
 * never repeats what the parent draws next (it drops the inherited pool). */
static void test_random_pool_fork(void **state)
{
    (void)state;
    uint8_t a[16], b[16], zero[16] = {0};
    qs_random_bytes(a, sizeof a); /* fills the pool */
    qs_random_bytes(b, sizeof b);
    assert_memory_not_equal(a, b, sizeof a);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t c[16];
        qs_random_bytes(c, sizeof c);
        _exit(write(fd[1], c, sizeof c) == (ssize_t)sizeof c ? 0 : 1);
    }
    uint8_t child[16], parent[16];
    qs_random_bytes(parent, sizeof parent);
    close(fd[1]);
    assert_int_equal(read(fd[0], child, sizeof child), (ssize_t)sizeof child);
    close(fd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_memory_not_equal(child, parent, sizeof child);
    assert_memory_not_equal(child, zero, sizeof child);
    /* a request larger than the pool's share goes to the kernel directly */
    uint8_t big[1000];
    memset(big, 0, sizeof big);
    qs_random_bytes(big, sizeof big);
    assert_memory_not_equal(big + 500, zero, sizeof zero);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bits),
        cmocka_unit_test(test_monotonic_same_ms),
        cmocka_unit_test(test_threads_unique),
        cmocka_unit_test(test_format_parse),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_random_pool_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
