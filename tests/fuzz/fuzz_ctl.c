/* libFuzzer harness for the control socket's request parser (ctl/ctl.h): any
 * bytes a local client may send as one line. A parsed request is one of the
 * four commands with a timeout in 1..3600; a refused one says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ctl: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > QS_CTL_MAX_LINE)
        return 0; /* the server closes such a client before parsing */
    qs_ctl_req r;
    qs_err e = {0};
    int rc = qs_ctl_parse_request((const char *)data, size, &r, &e);
    if (rc != 0) {
        check(rc == QS_EINVAL && e.msg[0] != '\0', "a refusal without a sentence");
        return 0;
    }
    check(r.cmd >= QS_CTL_STATUS && r.cmd <= QS_CTL_RELOAD, "unknown command accepted");
    check(r.timeout_s >= 1 && r.timeout_s <= 3600, "timeout out of range");
    check(r.wait == 0 || r.wait == 1, "wait not a bool");
    return 0;
}
