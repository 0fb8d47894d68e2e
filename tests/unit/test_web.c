/* test_web.c — qianshou-web's building blocks (web/web.h): the one escaping
 * function, form/query/multipart/cookie decoding, sessions and CSRF tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web/web.h"

static char *esc(const char *s, size_t n)
{
    hbuf b;
    hb_init(&b);
    hb_escn(&b, s, n);
    char *o = strdup(b.p ? b.p : "");
    hb_free(&b);
    return o;
}

static void test_escape_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n; /* 0: strlen */
        const char *out;
    } t[] = {
        {"plain text", 0, "plain text"},
        {"<script>alert(1)</script>", 0, "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"a & b", 0, "a &amp; b"},
        {"\"quoted\" 'single'", 0, "&quot;quoted&quot; &#39;single&#39;"},
        {"x\" onmouseover=\"alert(1)", 0, "x&quot; onmouseover=&quot;alert(1)"},
        {"坎布拉镇社工站", 0, "坎布拉镇社工站"},
        {"tab\tand\nnewline", 0, "tab\tand\nnewline"},
        {"nul\0after", 9,
         "nul\xef\xbf\xbd"
         "after"},                                                   /* a NUL inside data */
        {"bell\x07", 0, "bell\xef\xbf\xbd"},                         /* control characters */
        {"bad\xff utf8", 0, "bad\xef\xbf\xbd utf8"},                 /* invalid byte */
        {"\xc0\xbc", 0, "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '<' */
        {"\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"cut \xe4\xb8", 0, "cut \xef\xbf\xbd\xef\xbf\xbd"},         /* truncated sequence */
        {"😀", 0, "😀"},
        {"", 0, ""},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *o = esc(t[i].in, t[i].n ? t[i].n : strlen(t[i].in));
        assert_string_equal(o, t[i].out);
        free(o);
    }
}

static void test_escape_never_leaves_markup(void **state)
{
    (void)state;
    /* every single byte value, alone and after a lead byte */
    for (int c = 0; c < 256; c++) {
        char in[2] = {(char)c, (char)0xe4};
        char *o = esc(in, 2);
        assert_null(strchr(o, '<'));
        assert_null(strchr(o, '>'));
        assert_null(strchr(o, '"'));
        assert_null(strchr(o, '\''));
        free(o);
    }
}

static void test_url_encode(void **state)
{
    (void)state;
    hbuf b;
    hb_init(&b);
    hb_url(&b, "已保存。a b&c=d/é");
    assert_string_equal(b.p, "%E5%B7%B2%E4%BF%9D%E5%AD%98%E3%80%82a%20b%26c%3Dd%2F%C3%A9");
    hb_free(&b);
}

static void test_urlencoded(void **state)
{
    (void)state;
    kvs f = {0};
    const char *s = "csrf=ab12&name=%E5%9D%8E+%3Cb%3E&empty=&flag&k=1;k=2";
    assert_int_equal(form_urlencoded(s, strlen(s), &f), 0);
    assert_int_equal(f.n, 6);
    assert_string_equal(kvs_str(&f, "csrf"), "ab12");
    assert_string_equal(kvs_str(&f, "name"), "坎 <b>");
    assert_string_equal(kvs_str(&f, "empty"), "");
    assert_non_null(kvs_get(&f, "flag"));
    assert_string_equal(kvs_str(&f, "k"), "1");
    assert_string_equal(kvs_str(&f, "missing"), "");
    kvs_free(&f);
    static const char *bad[] = {"a=%", "a=%4", "a=%zz", "%00=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(form_urlencoded(bad[i], strlen(bad[i]), &f), QS_EINVAL);
        kvs_free(&f);
    }
    /* more fields than WEB_MAX_FIELDS */
    size_t n = (WEB_MAX_FIELDS + 1) * 4;
    char *many = malloc(n + 1);
    for (size_t i = 0; i < WEB_MAX_FIELDS + 1; i++)
        memcpy(many + i * 4, "a=1&", 4);
    many[n] = '\0';
    assert_int_equal(form_urlencoded(many, n, &f), QS_ELIMIT);
    kvs_free(&f);
    free(many);
}

static void test_multipart(void **state)
{
    (void)state;
    const char *ct = "multipart/form-data; boundary=----xyz";
    const char body[] = "------xyz\r\n"
                        "Content-Disposition: form-data; name=\"csrf\"\r\n\r\n"
                        "tok\r\n"
                        "------xyz\r\n"
                        "Content-Disposition: form-data; name=\"file\"; filename=\"三月.csv\"\r\n"
                        "Content-Type: text/csv\r\n\r\n"
                        "a,b\r\n1,\0\r\n"
                        "------xyz--\r\n";
    kvs f = {0};
    assert_int_equal(form_multipart(ct, strlen(ct), body, sizeof body - 1, &f), 0);
    assert_int_equal(f.n, 2);
    assert_string_equal(kvs_str(&f, "csrf"), "tok");
    const kv *file = kvs_get(&f, "file");
    assert_non_null(file);
    assert_string_equal(file->filename, "三月.csv");
    assert_int_equal(file->vlen, 8);
    assert_memory_equal(file->v, "a,b\r\n1,\0", 8);
    kvs_free(&f);
    /* no closing delimiter, no boundary, garbage */
    const char trunc[] = "------xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
    assert_int_equal(form_multipart(ct, strlen(ct), trunc, sizeof trunc - 1, &f), QS_EINVAL);
    kvs_free(&f);
    const char *nob = "multipart/form-data";
    assert_int_equal(form_multipart(nob, strlen(nob), body, sizeof body - 1, &f), QS_EINVAL);
    kvs_free(&f);
    assert_int_equal(form_multipart(ct, strlen(ct), "junk", 4, &f), QS_EINVAL);
    kvs_free(&f);
}

static void test_cookie(void **state)
{
    (void)state;
    char v[70];
    const char *h = "theme=dark; qs_sid=abc123; other=1";
    assert_true(cookie_get(h, strlen(h), "qs_sid", v, sizeof v));
    assert_string_equal(v, "abc123");
    assert_false(cookie_get(h, strlen(h), "qs", v, sizeof v));
    assert_false(cookie_get(h, strlen(h), "sid", v, sizeof v));
    const char *big =
        "qs_sid=0123456789012345678901234567890123456789012345678901234567890123456789";
    assert_false(cookie_get(big, strlen(big), "qs_sid", v, sizeof v));
}

static void test_sessions_and_csrf(void **state)
{
    (void)state;
    static wsessions t;
    sessions_init(&t, 900 * 1000);
    wsession *s = session_new(&t, 1000);
    assert_int_equal(strlen(s->sid), WEB_SID_HEX);
    assert_int_equal(strlen(s->csrf), WEB_TOKEN_HEX);
    assert_true(session_find(&t, s->sid, 2000) == s);
    assert_true(session_csrf_ok(s, s->csrf));
    char wrong[WEB_TOKEN_HEX + 1];
    memcpy(wrong, s->csrf, sizeof wrong);
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    assert_false(session_csrf_ok(s, wrong));
    assert_false(session_csrf_ok(s, ""));
    assert_false(session_csrf_ok(s, NULL));
    assert_false(session_csrf_ok(NULL, s->csrf));
    /* two sessions never share an id or a token */
    wsession *s2 = session_new(&t, 2000);
    assert_string_not_equal(s->sid, s2->sid);
    assert_string_not_equal(s->csrf, s2->csrf);
    assert_false(session_csrf_ok(s2, s->csrf));
    /* renewal at sign-in: the old id is gone */
    char old[WEB_SID_HEX + 1];
    memcpy(old, s->sid, sizeof old);
    session_renew(s, 3000);
    assert_null(session_find(&t, old, 3000));
    assert_true(session_find(&t, s->sid, 3000) == s);
    /* idle timeout: seen at 3000, gone after 900 s without a request */
    assert_true(session_find(&t, s->sid, 3000 + 900 * 1000) == s);
    assert_null(session_find(&t, s->sid, 3000 + 1800 * 1000 + 1));
    assert_null(session_find(&t, "short", 0));
    /* a full table drops the least recently seen anonymous session first */
    sessions_init(&t, 900 * 1000);
    wsession *signed_in = session_new(&t, 0);
    strcpy(signed_in->user, "alice");
    char keep[WEB_SID_HEX + 1];
    memcpy(keep, signed_in->sid, sizeof keep);
    for (int i = 1; i < WEB_MAX_SESSIONS + 10; i++)
        session_new(&t, i);
    assert_non_null(session_find(&t, keep, 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),      cmocka_unit_test(test_escape_never_leaves_markup),
        cmocka_unit_test(test_url_encode),        cmocka_unit_test(test_urlencoded),
        cmocka_unit_test(test_multipart),         cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_sessions_and_csrf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
