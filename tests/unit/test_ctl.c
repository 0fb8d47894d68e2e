/* test_ctl.c — the control socket's request parser (ctl/ctl.h) as a table:
 * what the server does with each line a client may send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl.h"

static void test_parse_table(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int cmd; /* 0: refused */
        int wait;
        unsigned timeout;
        const char *error; /* refused: the reply's error */
    } t[] = {
        {"{\"cmd\":\"status\"}", QS_CTL_STATUS, 0, 30, NULL},
        {"{\"cmd\":\"nodes\",\"extra\":[1,2]}", QS_CTL_NODES, 0, 30, NULL}, /* unknown keys */
        {"{\"cmd\":\"reload\"}", QS_CTL_RELOAD, 0, 30, NULL},
        {"{\"cmd\":\"sync\"}", QS_CTL_SYNC, 0, 30, NULL},
        {"{\"cmd\":\"sync\",\"wait\":true,\"timeout\":20}", QS_CTL_SYNC, 1, 20, NULL},
        {"{\"cmd\":\"sync\",\"wait\":1}", QS_CTL_SYNC, 0, 30, NULL}, /* wait is a bool */
        {"{\"cmd\":\"sync\",\"timeout\":3600}", QS_CTL_SYNC, 0, 3600, NULL},
        {"{\"cmd\":\"sync\",\"timeout\":0}", 0, 0, 0, "\"timeout\" must be 1..3600 seconds"},
        {"{\"cmd\":\"sync\",\"timeout\":3601}", 0, 0, 0, "\"timeout\" must be 1..3600 seconds"},
        {"{\"cmd\":\"sync\",\"timeout\":-5}", 0, 0, 0, "\"timeout\" must be 1..3600 seconds"},
        {"{\"cmd\":\"sync\",\"timeout\":\"9\"}", QS_CTL_SYNC, 0, 30, NULL}, /* not an integer */
        {"{\"cmd\":\"format\"}", 0, 0, 0, "unknown command \"format\""},
        {"{\"cmd\":42}", 0, 0, 0, "missing \"cmd\""},
        {"{}", 0, 0, 0, "missing \"cmd\""},
        {"[\"status\"]", 0, 0, 0, "missing \"cmd\""},
        {"status", 0, 0, 0, "request is not JSON"},
        {"", 0, 0, 0, "request is not JSON"},
        {"{\"cmd\":\"status\"", 0, 0, 0, "request is not JSON"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_ctl_req r;
        qs_err e = {0};
        int rc = qs_ctl_parse_request(t[i].line, strlen(t[i].line), &r, &e);
        if (t[i].cmd == 0) {
            if (rc != QS_EINVAL || strcmp(e.msg, t[i].error) != 0)
                fail_msg("%s: rc %d \"%s\", want \"%s\"", t[i].line, rc, e.msg, t[i].error);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: refused: %s", t[i].line, e.msg);
        if ((int)r.cmd != t[i].cmd || r.wait != t[i].wait || r.timeout_s != t[i].timeout)
            fail_msg("%s: cmd %d wait %d timeout %u", t[i].line, r.cmd, r.wait, r.timeout_s);
    }
}

/* The line is read by length: what follows it is not part of it. */
static void test_length_bounds(void **state)
{
    (void)state;
    const char buf[] = "{\"cmd\":\"status\"}garbage";
    qs_ctl_req r;
    qs_err e = {0};
    assert_int_equal(qs_ctl_parse_request(buf, 16, &r, &e), 0);
    assert_int_equal(r.cmd, QS_CTL_STATUS);
    assert_int_equal(qs_ctl_parse_request(buf, sizeof buf - 1, &r, &e), QS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_length_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
