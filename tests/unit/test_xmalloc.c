/* qs_malloc_tune: after it, a block of a few hundred KiB comes from the heap,
 * not from its own mmap, and a freed one stays in the allocator (glibc's
 * defaults: mmap from 128 KiB, give back above 128 KiB at once). The daemon
 * calls it so its store thread stops faulting pages in for every batch.
 *
 * Under AddressSanitizer, which owns malloc itself, the test is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_stay_in_the_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
