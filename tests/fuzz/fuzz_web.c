/* libFuzzer harness for what qianshou-web decodes from a request (web/web.h):
 * the first byte picks the decoder — a form or query string, a multipart
 * body, a Cookie header — and the rest is its input; every decoded value is
 * then put through the one escaping function, whose output must never hold
 * markup characters. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_web: %s\n", what);
        abort();
    }
}

static void escaped_clean(const char *s, size_t n)
{
    hbuf b;
    hb_init(&b);
    hb_escn(&b, s, n);
    for (size_t i = 0; i < b.len; i++)
        check(b.p[i] != '<' && b.p[i] != '>' && b.p[i] != '"' && b.p[i] != '\'' && b.p[i] != '\0',
              "markup or NUL left by the escaping");
    hb_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    kvs f = {0};
    int rc = 0;
    static const char CT[] = "multipart/form-data; boundary=XyZ";
    switch (data[0] % 4) {
    case 0:
        rc = form_urlencoded(in, n, &f);
        break;
    case 1:
        rc = form_multipart(CT, sizeof CT - 1, in, n, &f);
        break;
    case 2: {
        char v[80];
        if (cookie_get(in, n, "qs_sid", v, sizeof v))
            check(strlen(v) < sizeof v, "cookie value past its buffer");
        break;
    }
    default:
        escaped_clean(in, n);
    }
    check(rc == 0 || rc == QS_EINVAL || rc == QS_ELIMIT, "an unexpected error code");
    check(f.n <= WEB_MAX_FIELDS, "more fields than the limit");
    for (size_t i = 0; i < f.n; i++) {
        check(f.a[i].vlen <= n, "a value longer than the input");
        escaped_clean(f.a[i].k, strlen(f.a[i].k));
        escaped_clean(f.a[i].v, f.a[i].vlen);
    }
    kvs_free(&f);
    return 0;
}
