/*
 * schema_doc.c — qs-schema-doc: proto/PROTOCOL-schema.md from the schema table
 * (proto/schema.c), so the document an independent implementation reads is the
 * table the code validates with.
 *
 *   qs-schema-doc               print the document
 *   qs-schema-doc -o FILE       write it to FILE (`cmake --build build --target schema-doc`)
 *   qs-schema-doc --check FILE  exit 1, naming the first differing line, unless FILE
 *                               is exactly what would be printed (ctest schema_doc)
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/date.h"
#include "proto/schema.h"

static void out(qs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(qs_buf *b, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        fprintf(stderr, "qs-schema-doc: a line longer than %zu bytes\n", sizeof line);
        exit(2);
    }
    qs_buf_append(b, line, (size_t)n);
}

static const char *level_name(qs_level l)
{
    static const char *const n[] = {"nation", "province", "prefecture", "county", "township"};
    return l <= QS_LEVEL_TOWNSHIP ? n[l] : "?";
}

static const char *level_example(qs_level l)
{
    static const char *const e[] = {"000000", "630000", "632300", "632322", "632322100"};
    return l <= QS_LEVEL_TOWNSHIP ? e[l] : "?";
}

/* "province" or "county or township" */
static void levels(char *buf, size_t n, qs_level lo, qs_level hi)
{
    if (lo == hi)
        snprintf(buf, n, "%s", level_name(lo));
    else
        snprintf(buf, n, "%s %s %s", level_name(lo), hi == lo + 1 ? "or" : "to", level_name(hi));
}

static const qs_kind *kind_of(uint32_t id)
{
    return qs_schema_kind(id);
}

/* What a value of field f may be, beyond its type. */
static void bounds(const qs_field *f, char *buf, size_t n)
{
    char lo[16], hi[16], lv[48];
    const qs_kind *rk;
    switch (f->type) {
    case QS_F_TEXT:
        if (f->min == f->max)
            snprintf(buf, n, "exactly %" PRId64 " bytes", f->max);
        else
            snprintf(buf, n, "%" PRId64 " to %" PRId64 " bytes", f->min, f->max);
        return;
    case QS_F_INT:
        snprintf(buf, n, "%" PRId64 " to %" PRId64, f->min, f->max);
        return;
    case QS_F_MONEY:
        snprintf(buf, n, "%" PRId64 " to %" PRId64 " fen", f->min, f->max);
        return;
    case QS_F_DATE:
        snprintf(buf, n, "%" PRId64 " to %" PRId64 " (%s to %s)", f->min, f->max,
                 qs_date_format((int32_t)f->min, lo), qs_date_format((int32_t)f->max, hi));
        return;
    case QS_F_BOOL:
        snprintf(buf, n, "true or false");
        return;
    case QS_F_ENUM:
        snprintf(buf, n, "a code of `%s`", f->en->name);
        return;
    case QS_F_ENUMSET:
        snprintf(buf, n, "at most %" PRId64 " codes of `%s`, ascending", f->max, f->en->name);
        return;
    case QS_F_CODE:
        levels(lv, sizeof lv, f->min_level, f->max_level);
        snprintf(buf, n, "a %s code (e.g. `%s`)", lv, level_example(f->max_level));
        return;
    case QS_F_REF:
        rk = kind_of(f->ref_kind);
        snprintf(buf, n, "the id of a kind %" PRIu32 " (`%s`) record", f->ref_kind,
                 rk ? rk->name : "?");
        return;
    case QS_F_REFLIST:
        rk = kind_of(f->ref_kind);
        snprintf(buf, n, "at most %" PRId64 " ids of kind %" PRIu32 " (`%s`) records, distinct",
                 f->max, f->ref_kind, rk ? rk->name : "?");
        return;
    case QS_F_DIGESTS:
        if (f->max == 1)
            snprintf(buf, n, "at most one 16-byte digest (an array of 0 or 1)");
        else
            snprintf(buf, n, "at most %" PRId64 " 16-byte digests, distinct", f->max);
        return;
    }
    snprintf(buf, n, "?");
}

static void emit_doc(qs_buf *b)
{
    uint32_t nk = qs_schema_nkinds();
    out(b, "# Qianshou sync — the schema: kinds, fields, enumerations\n\n");
    out(b,
        "<!-- Generated from proto/schema.c by tests/tools/schema_doc.c: do not edit by hand.\n"
        "     Regenerate with `cmake --build build --target schema-doc`; the ctest `schema_doc`\n"
        "     fails while this file and the schema differ. -->\n\n");
    out(b,
        "Schema version %d (`QS_SCHEMA_VERSION`; record key 11 carries the version the author\n"
        "wrote with). Kind numbers, field ids and enumeration codes are never renumbered or\n"
        "reused; a new field gets a new id. How each type is encoded in a body, what \"required\"\n"
        "means and the rules across fields: `PROTOCOL-records.md`, \"Field values\". Scope levels\n"
        "and the write and visibility rules: `PROTOCOL-records.md`, \"Node identity and "
        "scope\".\n\n",
        QS_SCHEMA_VERSION);

    out(b, "## Kinds\n\n");
    out(b, "| kind | name | label | scope level | synced | fields |\n");
    out(b, "|---:|---|---|---|---|---:|\n");
    for (uint32_t i = 0; i < nk; i++) {
        const qs_kind *k = qs_schema_kind_at(i);
        char lv[48];
        levels(lv, sizeof lv, k->min_level, k->max_level);
        out(b, "| %" PRIu32 " | `%s` | %s | %s | %s | %" PRIu32 " |\n", k->id, k->name, k->label,
            lv, k->local_only ? "never (local only: a receiver rejects it)" : "yes", k->nfields);
    }
    out(b,
        "\nA kind number not in this table is unknown: a receiver parks the record (ACK outcome\n"
        "4) and applies it once it is upgraded.\n");

    for (uint32_t i = 0; i < nk; i++) {
        const qs_kind *k = qs_schema_kind_at(i);
        char lv[48];
        levels(lv, sizeof lv, k->min_level, k->max_level);
        out(b, "\n## Kind %" PRIu32 " `%s` %s\n\n", k->id, k->name, k->label);
        out(b, "Scope: %s level%s.\n\n", lv,
            k->local_only ? "; local only, never on the wire" : "");
        out(b, "| id | name | label | type | required | value |\n");
        out(b, "|---:|---|---|---|---|---|\n");
        for (uint32_t j = 0; j < k->nfields; j++) {
            const qs_field *f = &k->fields[j];
            char bd[160], derived[160] = "";
            bounds(f, bd, sizeof bd);
            const qs_field *src = qs_kind_field(k, f->pseudonym_of);
            if (src)
                snprintf(derived, sizeof derived,
                         "; whenever `%s` is given, the writing node's store sets this to its "
                         "pseudonym (HMAC-SHA-256 under the node's secret, truncated)",
                         src->name);
            out(b, "| %" PRIu32 " | `%s` | %s | %s | %s | %s%s%s |\n", f->id, f->name, f->label,
                qs_ftype_name(f->type), (f->flags & QS_FF_REQUIRED) ? "yes" : "", bd,
                (f->flags & QS_FF_LOCAL) ? "; local: never leaves the node" : "", derived);
        }
    }

    /* Every enumeration, once, in the order the fields first name them. */
    const qs_enum *seen[64];
    size_t nseen = 0;
    out(b, "\n## Enumerations\n\n");
    out(b, "An ENUM value is the code (an unsigned integer); an ENUMSET is an array of codes in\n"
           "ascending order. Names are the ASCII forms the CLI and CSV accept, labels the Chinese\n"
           "ones; neither is ever on the wire.\n");
    for (uint32_t i = 0; i < nk; i++) {
        const qs_kind *k = qs_schema_kind_at(i);
        for (uint32_t j = 0; j < k->nfields; j++) {
            const qs_enum *e = k->fields[j].en;
            if (!e)
                continue;
            size_t s = 0;
            while (s < nseen && seen[s] != e)
                s++;
            if (s < nseen)
                continue;
            if (nseen == sizeof seen / sizeof seen[0]) {
                fprintf(stderr, "qs-schema-doc: more than %zu enumerations\n", nseen);
                exit(2);
            }
            seen[nseen++] = e;
            out(b, "\n### `%s`\n\nUsed by:", e->name);
            int first = 1;
            for (uint32_t i2 = 0; i2 < nk; i2++) {
                const qs_kind *k2 = qs_schema_kind_at(i2);
                for (uint32_t j2 = 0; j2 < k2->nfields; j2++)
                    if (k2->fields[j2].en == e) {
                        out(b, "%s `%s.%s` (kind %" PRIu32 " field %" PRIu32 ")", first ? "" : ",",
                            k2->name, k2->fields[j2].name, k2->id, k2->fields[j2].id);
                        first = 0;
                    }
            }
            out(b, ".\n\n| code | name | label |\n|---:|---|---|\n");
            for (uint32_t v = 0; v < e->n; v++)
                out(b, "| %" PRIu32 " | `%s` | %s |\n", e->vals[v].code, e->vals[v].name,
                    e->vals[v].label);
        }
    }
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    qs_buf b;
    qs_buf_init(&b, 0);
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        qs_buf_append(&b, chunk, r);
    fclose(f);
    *n = b.len;
    qs_buf_append(&b, "", 1);
    return (char *)b.data;
}

/* 0 when same; otherwise print the first differing line and return 1. */
static int compare(const char *path, const char *want, size_t wn)
{
    size_t hn;
    char *have = slurp(path, &hn);
    if (!have) {
        fprintf(stderr, "qs-schema-doc: cannot read %s\n", path);
        return 1;
    }
    int rc = 0;
    if (hn != wn || memcmp(have, want, wn) != 0) {
        size_t i = 0, line = 1, start = 0;
        while (i < hn && i < wn && have[i] == want[i]) {
            if (have[i] == '\n') {
                line++;
                start = i + 1;
            }
            i++;
        }
        const char *he = strchr(have + start, '\n'), *we = memchr(want + start, '\n', wn - start);
        fprintf(stderr,
                "qs-schema-doc: %s differs from the schema (proto/schema.c) at line %zu:\n"
                "  file:   %.*s\n  schema: %.*s\n"
                "regenerate it: cmake --build build --target schema-doc\n",
                path, line, (int)(he ? he - (have + start) : (long)(hn - start)), have + start,
                (int)(we ? we - (want + start) : (long)(wn - start)), want + start);
        rc = 1;
    }
    free(have);
    return rc;
}

int main(int argc, char **argv)
{
    qs_buf doc;
    qs_buf_init(&doc, 0);
    emit_doc(&doc);
    if (argc == 1) {
        fwrite(doc.data, 1, doc.len, stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        int rc = compare(argv[2], (const char *)doc.data, doc.len);
        if (rc == 0)
            printf("%s matches the schema (%" PRIu32 " kinds)\n", argv[2], qs_schema_nkinds());
        qs_buf_free(&doc);
        return rc;
    }
    if (argc == 3 && strcmp(argv[1], "-o") == 0) {
        FILE *f = fopen(argv[2], "wb");
        if (!f || fwrite(doc.data, 1, doc.len, f) != doc.len || fclose(f) != 0) {
            fprintf(stderr, "qs-schema-doc: cannot write %s\n", argv[2]);
            return 1;
        }
        qs_buf_free(&doc);
        return 0;
    }
    fprintf(stderr, "usage: qs-schema-doc [-o FILE | --check FILE]\n");
    return 2;
}
