/* qs_malloc_tune: after it, a block of a few hundred KiB comes from the heap,
 * not from its own mmap, and a freed one stays in the allocator (glibc's
 * defaults: mmap from 128 KiB, give back above 128 KiB at once). The daemon
 * calls it so its store thread stops faulting pages in for every batch.
 *
 * Under AddressSanitizer, which owns malloc itself, the test is skipped.
 *
 * qs_xmap: a buffer about to be filled whole comes with its pages faulted
 * in already, so filling it takes no page fault per 4 KiB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <malloc.h>

#include "proto/xmalloc.h"
#include "tests/support/sanitizer.h"

static void test_blocks_stay_in_the_heap(void **state)
{
#ifdef UNDER_ASAN
    skip();
#else
    qs_malloc_tune();
    struct mallinfo2 before = mallinfo2();
    enum { N = 8, SZ = 512 << 10 };
    char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = qs_xmalloc(SZ);
        memset(p[i], i, SZ); /* touched: really in use */
    }
    struct mallinfo2 during = mallinfo2();
    /* no block of its own mapping (default: each of these would be one) */
    assert_int_equal(during.hblks, before.hblks);
    for (int i = N - 1; i >= 0; i--)
        free(p[i]);
    struct mallinfo2 after = mallinfo2();
    /* 4 MiB freed at the top of the heap: kept for the next batch, not
     * trimmed (default: given back as soon as 128 KiB are free at the top) */
    assert_true(after.fordblks >= (size_t)N * SZ);
    assert_true(after.arena >= before.arena + (size_t)N * SZ);
    malloc_trim(0); /* what the idle daemon does: now it goes back */
    assert_true(mallinfo2().arena < after.arena);
#endif
}

static long minor_faults(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_minflt;
}

static void test_xmap_comes_faulted_in(void **state)
{
    enum { N = 4 << 20 }; /* 1,024 pages */
    unsigned char *p = qs_xmap(N);
    long f1 = minor_faults();
    for (size_t i = 0; i < N; i += 4096) {
        assert_int_equal(p[i], 0); /* zeroed */
        p[i] = 1;
    }
    p[N - 1] = 1;
    long f2 = minor_faults();
    qs_xunmap(p, N);
    qs_xunmap(qs_xmap(0), 0); /* an empty file's buffer */
#ifdef UNDER_ASAN
    (void)f1, (void)f2; /* its shadow memory faults as the buffer is checked */
    skip();
#endif
    /* the mapping faulted its pages in at once, not as they were written */
    assert_true(f2 - f1 < 16);
    /* what a plain mapping does, for contrast (and to show the count works) */
    p = mmap(NULL, N, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    madvise(p, N, MADV_NOHUGEPAGE); /* 4 KiB pages, as qs_xmap's would be */
    long g1 = minor_faults();
    for (size_t i = 0; i < N; i += 4096)
        p[i] = 1;
    long g2 = minor_faults();
    munmap(p, N);
    assert_true(g2 - g1 >= N / 4096 / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_stay_in_the_heap),
        cmocka_unit_test(test_xmap_comes_faulted_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
