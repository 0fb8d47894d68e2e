/*
 * out.c — text, JSON and table output (see out.h).
 */
#include "client/out.h"

#include <stdlib.h>
#include <string.h>

#include "proto/hlc.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"

char *out_value_text(const qs_field *f, const qs_value *v, bool labels)
{
    if (!v || v->t == QS_V_NIL)
        return qs_xstrdup("");
    qs_buf b;
    qs_buf_init(&b, 0);
    char *s;
    if (qs_schema_format(f, v, labels, &b) == 0)
        s = b.data ? qs_xstrndup((const char *)b.data, b.len) : qs_xstrdup("");
    else
        s = qs_xstrdup("(unreadable value)");
    qs_buf_free(&b);
    return s;
}

json_t *out_value_json(const qs_field *f, const qs_value *v)
{
    if (!v || v->t == QS_V_NIL)
        return json_null();
    if (f->type == QS_F_INT && v->t == QS_V_INT)
        return json_integer(v->u.i);
    if (f->type == QS_F_BOOL && v->t == QS_V_BOOL)
        return json_boolean(v->u.b);
    if ((f->type == QS_F_ENUMSET || f->type == QS_F_REFLIST || f->type == QS_F_DIGESTS) &&
        v->t == QS_V_ARRAY) {
        json_t *a = json_array();
        for (uint32_t i = 0; i < v->u.a.n; i++) {
            char *s = out_value_text(
                f, &(qs_value){.t = QS_V_ARRAY, .u.a = {.v = &v->u.a.v[i], .n = 1}}, false);
            json_array_append_new(a, json_string(s));
            free(s);
        }
        return a;
    }
    char *s = out_value_text(f, v, false);
    json_t *j = json_string(s);
    free(s);
    return j ? j : json_null();
}

int out_body(const qs_record *r, qs_body *b)
{
    qs_limits lim = qs_limits_default();
    qs_body_init(b);
    if (r->body_len == 0)
        return 0;
    return qs_body_decode(r->body, r->body_len, &lim, b, NULL);
}

json_t *out_record_json(const qs_record *r)
{
    char id[QS_UUID_STR], rev[QS_REV_STR], hlc[64];
    const qs_kind *k = qs_schema_kind(r->kind);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(qs_uuid_format(r->id, id)));
    json_object_set_new(o, "kind", k ? json_string(k->name) : json_integer(r->kind));
    json_object_set_new(o, "scope", json_string(r->scope));
    json_object_set_new(o, "rev", json_string(qs_rev_format(&r->rev, rev)));
    json_t *par = json_array();
    for (uint32_t i = 0; i < r->nparents; i++)
        json_array_append_new(par, json_string(qs_rev_format(&r->parents[i], rev)));
    json_object_set_new(o, "parents", par);
    json_object_set_new(o, "deleted", json_boolean(r->deleted));
    json_object_set_new(o, "author", json_string(r->author));
    json_object_set_new(o, "hlc", json_string(qs_hlc_format(r->hlc, hlc, sizeof hlc)));
    json_t *fields = json_object();
    json_t *unknown = json_array();
    qs_body b;
    if (out_body(r, &b) == 0) {
        for (size_t i = 0; i < b.n; i++) {
            const qs_field *f = k ? qs_kind_field(k, b.f[i].id) : NULL;
            if (f)
                json_object_set_new(fields, f->name, out_value_json(f, &b.f[i].v));
            else
                json_array_append_new(unknown, json_integer(b.f[i].id));
        }
    }
    qs_body_free(&b);
    json_object_set_new(o, "fields", fields);
    if (json_array_size(unknown))
        json_object_set_new(o, "unknown_fields", unknown);
    else
        json_decref(unknown);
    return o;
}

void out_json(json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(o);
}

/* ---- widths ------------------------------------------------------------------ */

static uint32_t next_cp(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    uint32_t c = *p++;
    int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (more)
        c &= (uint32_t)(0x3F >> more);
    while (more-- > 0 && (*p & 0xC0) == 0x80)
        c = (c << 6) | (*p++ & 0x3F);
    *pp = p;
    return c;
}

static size_t cp_width(uint32_t c)
{
    if (c < 0x20)
        return 0;
    if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
        (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
        (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD))
        return 2;
    return 1;
}

size_t out_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p)
        w += cp_width(next_cp(&p));
    return w;
}

void out_pad(FILE *fp, const char *s, size_t w)
{
    fputs(s, fp);
    for (size_t x = out_width(s); x < w; x++)
        fputc(' ', fp);
}

char *out_clip(const char *s, size_t w)
{
    if (out_width(s) <= w)
        return qs_xstrdup(s);
    const unsigned char *p = (const unsigned char *)s, *last = p;
    size_t x = 0;
    while (*p) {
        const unsigned char *q = p;
        uint32_t c = next_cp(&q);
        size_t cw = cp_width(c);
        if (x + cw + 1 > w)
            break;
        x += cw;
        p = q;
        last = p;
    }
    size_t n = (size_t)(last - (const unsigned char *)s);
    char *out = qs_xmalloc(n + 4);
    memcpy(out, s, n);
    memcpy(out + n, "…", 4); /* 3 bytes and the NUL */
    /* newlines inside a cell would break the table */
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
    return out;
}

/* ---- tables -------------------------------------------------------------------- */

void out_table_init(out_table *t, size_t ncols)
{
    t->ncols = ncols;
    t->nrows = 0;
    t->cells = NULL;
}

void out_table_add(out_table *t, char **row)
{
    t->cells = qs_xreallocarray(t->cells, (t->nrows + 1) * t->ncols, sizeof *t->cells);
    for (size_t i = 0; i < t->ncols; i++) {
        char *s = row[i];
        for (char *c = s; *c; c++)
            if (*c == '\n' || *c == '\r' || *c == '\t')
                *c = ' ';
        t->cells[t->nrows * t->ncols + i] = s;
    }
    t->nrows++;
}

void out_table_print(const out_table *t, FILE *fp, bool drop_empty)
{
    size_t *w = qs_xcalloc(t->ncols ? t->ncols : 1, sizeof *w);
    bool *show = qs_xcalloc(t->ncols ? t->ncols : 1, sizeof *show);
    for (size_t c = 0; c < t->ncols; c++) {
        show[c] = !drop_empty || t->nrows <= 1;
        for (size_t r = 0; r < t->nrows; r++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t x = out_width(s);
            if (x > w[c])
                w[c] = x;
            if (r > 0 && *s)
                show[c] = true;
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        bool first = true;
        size_t last = 0;
        for (size_t c = 0; c < t->ncols; c++)
            if (show[c])
                last = c;
        for (size_t c = 0; c < t->ncols; c++) {
            if (!show[c])
                continue;
            if (!first)
                fputs("  ", fp);
            first = false;
            if (c == last)
                fputs(t->cells[r * t->ncols + c], fp);
            else
                out_pad(fp, t->cells[r * t->ncols + c], w[c]);
        }
        fputc('\n', fp);
    }
    free(w);
    free(show);
}

void out_table_free(out_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}
