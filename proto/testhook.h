/*
 * testhook.h — the one seam for test hooks, as SQLite has its test-control:
 * every way a test reaches inside the product is listed here, and nothing
 * else reads a test variable from the environment.
 *
 *   QS_HOOK_CLOCK_OFFSET      QIANSHOU_CLOCK_OFFSET=±N[s|m|h|d]: shifts the
 *                             wall clock for the HLC, the scheduler and the
 *                             certificate checks of both binaries (clock.c)
 *   QS_HOOK_DISKFULL          QIANSHOU_TEST_DISKFULL=FILE: every SQLite write
 *                             fails with "disk full" while FILE exists
 *                             (store/vfs.c)
 *   QS_HOOK_EXIT_AFTER_FRAME  QIANSHOU_TEST_EXIT_AFTER_FRAME=k[:in|:out]:
 *                             qianshoud raises SIGKILL right after session
 *                             frame k (daemon/link.c, link.h)
 *   qs_schema_test_hide_kind  a kind the schema pretends not to know, for the
 *                             parked-record tests (schema.h)
 *   qs_store_test_fail_after  the store's apply fails after k records
 *                             (store.h)
 *
 * A build with -DQS_TEST_HOOKS=OFF (a release package may use it) reads
 * none of the variables: qs_testhook_env returns NULL and the hooks are
 * off. The two functions stay (the unit tests call them; nothing else does).
 */
#ifndef QS_TESTHOOK_H
#define QS_TESTHOOK_H

typedef enum qs_testhook {
    QS_HOOK_CLOCK_OFFSET,
    QS_HOOK_DISKFULL,
    QS_HOOK_EXIT_AFTER_FRAME,
} qs_testhook;

/* The hook's environment variable's name. */
const char *qs_testhook_name(qs_testhook h);
/* Its value, or NULL when it is unset, empty, or hooks are compiled out. */
const char *qs_testhook_env(qs_testhook h);

#endif
