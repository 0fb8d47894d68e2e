/* html.c — the page builder and the one escaping function (web.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/xmalloc.h"
#include "web/web.h"

void hb_init(hbuf *b)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->truncated = false;
}

void hb_free(hbuf *b)
{
    free(b->p);
    hb_init(b);
}

void hb_rawn(hbuf *b, const char *s, size_t n)
{
    if (b->truncated || n > WEB_MAX_PAGE - b->len) {
        b->truncated = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = qs_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void hb_raw(hbuf *b, const char *s)
{
    hb_rawn(b, s, strlen(s));
}

void hb_fmt(hbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        hb_rawn(b, small, (size_t)n);
        return;
    }
    char *big = qs_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    hb_rawn(b, big, (size_t)n);
    free(big);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void hb_escn(hbuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* p[run..i) is copied as it is */
    while (i < n) {
        const char *rep = NULL;
        size_t step = 1;
        unsigned char c = p[i];
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
                rep = "\xef\xbf\xbd";
            } else if (c >= 0x80) {
                step = utf8_len(p + i, n - i);
                if (step == 0) {
                    rep = "\xef\xbf\xbd";
                    step = 1;
                }
            }
        }
        if (rep) {
            hb_rawn(b, s + run, i - run);
            hb_raw(b, rep);
            i += step;
            run = i;
        } else {
            i += step;
        }
    }
    hb_rawn(b, s + run, n - run);
}

void hb_esc(hbuf *b, const char *s)
{
    if (s)
        hb_escn(b, s, strlen(s));
}

void hb_escf(hbuf *b, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    hb_esc(b, buf);
}

void hb_url(hbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            hb_rawn(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            hb_rawn(b, e, 3);
        }
    }
}
