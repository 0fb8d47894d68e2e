/* testhook.c — see testhook.h. */
#include "proto/testhook.h"

#include <stdlib.h>

const char *qs_testhook_name(qs_testhook h)
{
    switch (h) {
    case QS_HOOK_CLOCK_OFFSET:
        return "QIANSHOU_CLOCK_OFFSET";
    case QS_HOOK_DISKFULL:
        return "QIANSHOU_TEST_DISKFULL";
    case QS_HOOK_EXIT_AFTER_FRAME:
        return "QIANSHOU_TEST_EXIT_AFTER_FRAME";
    }
    return "?";
}

const char *qs_testhook_env(qs_testhook h)
{
#ifdef QS_NO_TEST_HOOKS
    (void)h;
    return NULL;
#else
    const char *v = getenv(qs_testhook_name(h));
    return v && *v ? v : NULL;
#endif
}
