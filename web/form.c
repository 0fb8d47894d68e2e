/* form.c — form bodies, query strings and cookies (web.h). HTTP itself is
 * parsed by libh2o; this is the content of a request's body and headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/uuid.h"
#include "proto/xmalloc.h"
#include "web/web.h"

/* Percent-decode s[0..n) ('+' is a space) into a new string. */
static char *pct_decode(const char *s, size_t n, size_t *outlen)
{
    char *o = qs_xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            o[j++] = ' ';
        } else if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n || (h = qs_hexval(s[i + 1])) < 0 || (l = qs_hexval(s[i + 2])) < 0) {
                free(o);
                return NULL;
            }
            o[j++] = (char)(h * 16 + l);
            i += 2;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = '\0';
    *outlen = j;
    return o;
}

static int push(kvs *out, char *k, char *v, size_t vlen, char *filename)
{
    if (out->n >= WEB_MAX_FIELDS) {
        free(k);
        free(v);
        free(filename);
        return QS_ELIMIT;
    }
    out->a = qs_xrealloc(out->a, (out->n + 1) * sizeof *out->a);
    out->a[out->n++] = (kv){.k = k, .v = v, .vlen = vlen, .filename = filename};
    return 0;
}

int form_urlencoded(const char *s, size_t n, kvs *out)
{
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && s[end] != '&' && s[end] != ';')
            end++;
        if (end > i) {
            size_t eq = i;
            while (eq < end && s[eq] != '=')
                eq++;
            size_t kl, vl;
            char *k = pct_decode(s + i, eq - i, &kl);
            char *v = eq < end ? pct_decode(s + eq + 1, end - eq - 1, &vl) : qs_xcalloc(1, 1);
            if (eq >= end)
                vl = 0;
            if (!k || !v || strlen(k) != kl) {
                free(k);
                free(v);
                return QS_EINVAL;
            }
            int rc = push(out, k, v, vl, NULL);
            if (rc)
                return rc;
        }
        i = end + 1;
    }
    return 0;
}

static const char *memfind(const char *h, size_t hn, const char *needle, size_t nn)
{
    if (nn == 0 || hn < nn)
        return NULL;
    return memmem(h, hn, needle, nn);
}

/* The value of param (e.g. name="x") in a header line [p, e): a new string. */
static char *header_param(const char *p, const char *e, const char *param)
{
    size_t pl = strlen(param);
    for (const char *q = p; q + pl + 1 < e; q++) {
        if (strncasecmp(q, param, pl) != 0 || q[pl] != '=')
            continue;
        if (q > p && q[-1] != ' ' && q[-1] != ';' && q[-1] != '\t')
            continue;
        const char *v = q + pl + 1, *ve;
        if (v < e && *v == '"') {
            v++;
            ve = v;
            while (ve < e && *ve != '"')
                ve++;
        } else {
            ve = v;
            while (ve < e && *ve != ';' && *ve != ' ')
                ve++;
        }
        char *o = qs_xmalloc((size_t)(ve - v) + 1);
        memcpy(o, v, (size_t)(ve - v));
        o[ve - v] = '\0';
        return o;
    }
    return NULL;
}

int form_multipart(const char *ctype, size_t ctlen, const char *body, size_t n, kvs *out)
{
    char *bnd = header_param(ctype, ctype + ctlen, "boundary");
    if (!bnd || !*bnd || strlen(bnd) > 200) {
        free(bnd);
        return QS_EINVAL;
    }
    char delim[256];
    size_t dl = (size_t)snprintf(delim, sizeof delim, "--%s", bnd);
    free(bnd);
    const char *p = memfind(body, n, delim, dl), *end = body + n;
    if (!p)
        return QS_EINVAL;
    for (;;) {
        p += dl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return 0; /* the closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return QS_EINVAL;
        p += 2;
        const char *hend = memfind(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend)
            return QS_EINVAL;
        char *name = NULL, *filename = NULL;
        for (const char *line = p; line < hend;) {
            const char *le = memfind(line, (size_t)(hend - line), "\r\n", 2);
            if (!le)
                le = hend;
            if ((size_t)(le - line) > 20 && strncasecmp(line, "Content-Disposition:", 20) == 0) {
                free(name);
                free(filename);
                name = header_param(line, le, "name");
                filename = header_param(line, le, "filename");
            }
            line = le + 2;
        }
        const char *data = hend + 4;
        char crlf_delim[260];
        size_t cdl = (size_t)snprintf(crlf_delim, sizeof crlf_delim, "\r\n%s", delim);
        const char *next = memfind(data, (size_t)(end - data), crlf_delim, cdl);
        if (!next || !name) {
            free(name);
            free(filename);
            return QS_EINVAL;
        }
        size_t vl = (size_t)(next - data);
        char *v = qs_xmalloc(vl + 1);
        memcpy(v, data, vl);
        v[vl] = '\0';
        int rc = push(out, name, v, vl, filename);
        if (rc)
            return rc;
        p = next + 2;
    }
}

const kv *kvs_get(const kvs *f, const char *k)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->a[i].k, k) == 0)
            return &f->a[i];
    return NULL;
}

const char *kvs_str(const kvs *f, const char *k)
{
    const kv *x = kvs_get(f, k);
    return x ? x->v : "";
}

void kvs_free(kvs *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->a[i].k);
        free(f->a[i].v);
        free(f->a[i].filename);
    }
    free(f->a);
    f->a = NULL;
    f->n = 0;
}

bool cookie_get(const char *hdr, size_t hlen, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < hlen) {
        while (i < hlen && (hdr[i] == ' ' || hdr[i] == ';'))
            i++;
        size_t end = i;
        while (end < hlen && hdr[end] != ';')
            end++;
        if (end - i > nl && memcmp(hdr + i, name, nl) == 0 && hdr[i + nl] == '=') {
            size_t vl = end - i - nl - 1;
            if (vl + 1 > n)
                return false;
            memcpy(out, hdr + i + nl + 1, vl);
            out[vl] = '\0';
            return true;
        }
        i = end + 1;
    }
    return false;
}
