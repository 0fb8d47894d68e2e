/* test_protocol_doc.c — the protocol documents against the code, so that what an
 * independent implementation reads cannot go stale:
 *   - PROTOCOL-records.md "Test vectors": every preimage hashes to the revision in
 *     the table; the record it spells out seals to that revision with the real code
 *     and verifies; bodies 1 and 2 are the bytes in the preimages and valid bodies
 *     of their kind;
 *   - PROTOCOL.md "Error codes": every row is a QS_E… code of proto/err.h with its
 *     number and qs_strerror name, and every code err.h has is a row;
 *   - PROTOCOL.md "Messages": every type number names the message qs_msg_type_name
 *     gives. (The kinds and fields: PROTOCOL-schema.md, ctest schema_doc.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "proto/body.h"
#include "proto/buf.h"
#include "proto/err.h"
#include "proto/msg.h"
#include "proto/record.h"
#include "proto/schema.h"

static char *read_doc(const char *name)
{
    const char *src = getenv("QS_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/proto/%s", src ? src : ".", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (QS_SOURCE_DIR=%s)", path, src ? src : "(unset)");
    qs_buf b;
    qs_buf_init(&b, 0);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(qs_buf_append(&b, chunk, n), 0);
    fclose(f);
    assert_int_equal(qs_buf_append(&b, "", 1), 0);
    return (char *)b.data;
}

/* The text from the line starting with `heading` up to the next line starting
 * with `end` (or the end of the document); a copy the caller frees. */
static char *section(const char *doc, const char *heading, const char *end)
{
    const char *p = doc;
    size_t hl = strlen(heading);
    while (p && strncmp(p, heading, hl) != 0) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p)
        fail_msg("no \"%s\" in the document", heading);
    const char *q = strchr(p, '\n');
    size_t el = strlen(end);
    while (q && strncmp(q + 1, end, el) != 0)
        q = strchr(q + 1, '\n');
    size_t n = q ? (size_t)(q + 1 - p) : strlen(p);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Append the hex digits of [p, end) to out as bytes, skipping spaces; any other
 * character is an error. */
static void hex_append(qs_buf *out, const char *p, const char *end)
{
    int hi = -1;
    for (; p < end; p++) {
        int v = 0;
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            continue;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else
            fail_msg("not hex in a vector: \"%.*s\"", (int)(end - p), p);
        if (hi < 0) {
            hi = v;
        } else {
            uint8_t c = (uint8_t)(hi << 4 | v);
            assert_int_equal(qs_buf_append(out, &c, 1), 0);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
}

/* The bytes of the first ``` block after `marker` in s. */
static void code_block_after(const char *s, const char *marker, qs_buf *out)
{
    const char *m = strstr(s, marker);
    if (!m)
        fail_msg("no \"%s\" in Test vectors", marker);
    const char *open = strstr(m, "```\n");
    assert_non_null(open);
    open += 4;
    const char *close = strstr(open, "```");
    assert_non_null(close);
    qs_buf_init(out, 0);
    hex_append(out, open, close);
}

#define MAXV 8
typedef struct docvec {
    char name[16];
    char rev[64];  /* the table's expected revision, text form */
    char body[16]; /* the table's body column: "body 1", "body 2" or "80" */
    qs_buf pre;    /* the preimage block's bytes */
} docvec;

static docvec *find(docvec *v, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

static uint64_t be_get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Spell the record out of a preimage (the layout of "Revision hash"). */
static void record_from_preimage(const qs_buf *pre, qs_record *r, uint64_t *gen)
{
    const uint8_t *p = pre->data, *end = pre->data + pre->len;
    assert_true(pre->len >= 8 + 8 + 4 + 16 + 1);
    assert_memory_equal(p, "qs-rev-1", 8);
    p += 8;
    qs_record_init(r);
    *gen = be_get(p, 8);
    p += 8;
    r->kind = (uint32_t)be_get(p, 4);
    p += 4;
    memcpy(r->id, p, QS_ID_LEN);
    p += QS_ID_LEN;
    size_t sl = *p++;
    assert_true(sl < sizeof r->scope && p + sl + 1 + 4 <= end);
    memcpy(r->scope, p, sl);
    r->scope[sl] = '\0';
    p += sl;
    assert_true(*p <= 1);
    r->deleted = *p++ == 1;
    uint32_t np = (uint32_t)be_get(p, 4);
    p += 4;
    assert_true(np <= 16 && p + np * 24 + 4 <= end);
    qs_rev parents[16];
    /* listed here in the order the hash sorts them; hand them over reversed, so
     * that qs_record_seal's sorting is exercised too */
    for (uint32_t i = 0; i < np; i++) {
        parents[np - 1 - i].gen = be_get(p, 8);
        memcpy(parents[np - 1 - i].hash, p + 8, QS_HASH_LEN);
        p += 24;
    }
    if (np)
        qs_record_set_parents(r, parents, np);
    uint32_t bl = (uint32_t)be_get(p, 4);
    p += 4;
    assert_true(p + bl == end);
    qs_record_set_body(r, p, bl);
    strcpy(r->author, "632322/doc");
    r->schema = QS_SCHEMA_VERSION;
}

static void test_revision_vectors(void **state)
{
    (void)state;
    char *doc = read_doc("PROTOCOL-records.md");
    char *s = section(doc, "### Test vectors", "## ");
    free(doc);

    qs_buf body[2];
    code_block_after(s, "Body 1 =", &body[0]);
    code_block_after(s, "Body 2 =", &body[1]);

    /* The table: | name | deleted | parents | body | `rev` | */
    docvec v[MAXV];
    int nv = 0;
    const char *t = strstr(s, "| vector");
    assert_non_null(t);
    for (const char *line = strchr(t, '\n'); line && line[1] == '|';
         line = strchr(line + 1, '\n')) {
        char name[16], deleted[8], parents[200], bodycol[16], rev[64];
        if (sscanf(line + 1, "| %15s | %7s | %199[^|] | %15[^|] | `%63[^`]` |", name, deleted,
                   parents, bodycol, rev) != 5)
            continue; /* the |---| row */
        assert_true(nv < MAXV);
        snprintf(v[nv].name, sizeof v[nv].name, "%s", name);
        snprintf(v[nv].rev, sizeof v[nv].rev, "%s", rev);
        snprintf(v[nv].body, sizeof v[nv].body, "%s", bodycol);
        for (char *e = v[nv].body + strlen(v[nv].body); e > v[nv].body && e[-1] == ' ';)
            *--e = '\0';
        qs_buf_init(&v[nv].pre, 0);
        nv++;
    }
    assert_int_equal(nv, 4);

    /* The preimage block: "name hex…" then indented continuation lines. */
    const char *pb = strstr(s, "The full preimages");
    assert_non_null(pb);
    pb = strstr(pb, "```\n");
    assert_non_null(pb);
    pb += 4;
    const char *pe = strstr(pb, "```");
    assert_non_null(pe);
    docvec *cur = NULL;
    for (const char *line = pb; line < pe;) {
        const char *eol = memchr(line, '\n', (size_t)(pe - line));
        if (!eol)
            eol = pe;
        const char *hex = line;
        if (*line != ' ') {
            size_t nl = strcspn(line, " ");
            char name[16];
            snprintf(name, sizeof name, "%.*s", (int)nl, line);
            cur = find(v, nv, name);
            if (!cur)
                fail_msg("preimage \"%s\" is not in the table", name);
            hex = line + nl;
        }
        assert_non_null(cur);
        hex_append(&cur->pre, hex, eol);
        line = eol + 1;
    }

    qs_limits lim = qs_limits_default();
    for (int i = 0; i < nv; i++) {
        qs_rev want;
        if (qs_rev_parse(v[i].rev, &want) != 0)
            fail_msg("vector %s: \"%s\" is not a revision", v[i].name, v[i].rev);
        assert_true(v[i].pre.len > 0);

        /* SHA-256 of the preimage, first 16 bytes, as documented */
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned int mdn = 0;
        assert_int_equal(EVP_Digest(v[i].pre.data, v[i].pre.len, md, &mdn, EVP_sha256(), NULL), 1);
        if (memcmp(md, want.hash, QS_HASH_LEN) != 0)
            fail_msg("vector %s: its preimage does not hash to %s", v[i].name, v[i].rev);

        /* the record it spells out, sealed by the real code */
        qs_record r;
        uint64_t gen;
        record_from_preimage(&v[i].pre, &r, &gen);
        assert_int_equal(gen, want.gen);
        qs_record_seal(&r);
        char text[QS_REV_STR];
        qs_rev_format(&r.rev, text);
        if (!qs_rev_eq(&r.rev, &want))
            fail_msg("vector %s: the record seals to %s, documented %s", v[i].name, text, v[i].rev);
        qs_err err = {0};
        if (qs_record_verify(&r, &lim, &err) != 0)
            fail_msg("vector %s does not verify: %s", v[i].name, err.msg);

        /* the body column names the body whose bytes are in the preimage */
        const qs_buf *b = NULL;
        if (strcmp(v[i].body, "body 1") == 0)
            b = &body[0];
        else if (strcmp(v[i].body, "body 2") == 0)
            b = &body[1];
        if (b) {
            assert_int_equal(r.body_len, b->len);
            assert_memory_equal(r.body, b->data, b->len);
        } else if (strcmp(v[i].body, "`80`") == 0) {
            assert_int_equal(r.body_len, 1);
            assert_int_equal(r.body[0], 0x80);
        } else {
            fail_msg("vector %s: body column \"%s\"", v[i].name, v[i].body);
        }

        /* and that body is one a receiver accepts for the kind */
        const qs_kind *k = qs_schema_kind(r.kind);
        assert_non_null(k);
        qs_body decoded;
        if (qs_body_decode(r.body, r.body_len, &lim, &decoded, &err) != 0)
            fail_msg("vector %s: body not canonical: %s", v[i].name, err.msg);
        if (qs_schema_validate(k, &decoded, r.deleted, NULL, &err) != 0)
            fail_msg("vector %s: not a valid %s body: %s", v[i].name, k->name, err.msg);
        qs_body_free(&decoded);
        printf("  vector %-9s %s (kind %u %s, %u body bytes): preimage, seal, verify and "
               "schema agree\n",
               v[i].name, text, r.kind, k->name, r.body_len);
        qs_record_free(&r);
        qs_buf_free(&v[i].pre);
    }
    qs_buf_free(&body[0]);
    qs_buf_free(&body[1]);
    free(s);
}

/* proto/err.h, by name. A code added there must be added here and to the doc:
 * the loop over qs_strerror below notices one that is not. */
static const struct {
    const char *name;
    int code;
} codes[] = {
    {"QS_EINVAL", QS_EINVAL},       {"QS_ELIMIT", QS_ELIMIT},
    {"QS_EAGAIN", QS_EAGAIN},       {"QS_EPROTO", QS_EPROTO},
    {"QS_EHASH", QS_EHASH},         {"QS_ESCOPE", QS_ESCOPE},
    {"QS_ENOTFOUND", QS_ENOTFOUND}, {"QS_EEXIST", QS_EEXIST},
    {"QS_ECONFLICT", QS_ECONFLICT}, {"QS_EIO", QS_EIO},
    {"QS_EFULL", QS_EFULL},         {"QS_EBUSY", QS_EBUSY},
    {"QS_ECLOCK", QS_ECLOCK},       {"QS_ETLS", QS_ETLS},
    {"QS_EPERM", QS_EPERM},         {"QS_ESCHEMA", QS_ESCHEMA},
    {"QS_ECORRUPT", QS_ECORRUPT},
};
#define NCODES (sizeof codes / sizeof codes[0])

static void test_error_codes(void **state)
{
    (void)state;
    const char *unknown = qs_strerror(-100000);
    for (int c = -1; c >= -200; c--) {
        if (strcmp(qs_strerror(c), unknown) == 0)
            continue;
        size_t i = 0;
        while (i < NCODES && codes[i].code != c)
            i++;
        if (i == NCODES)
            fail_msg("err.h has code %d (\"%s\"), which this test and PROTOCOL.md do not list", c,
                     qs_strerror(c));
    }

    char *doc = read_doc("PROTOCOL.md");
    char *s = section(doc, "## Error codes", "## ");
    free(doc);
    bool seen[NCODES] = {false};
    int rows = 0;
    for (const char *line = strstr(s, "\n|"); line; line = strstr(line + 1, "\n|")) {
        int num;
        char name[32], short_name[64];
        if (sscanf(line + 1, "| %d | `%31[^`]` | %63[^|]|", &num, name, short_name) != 3)
            continue;
        for (char *e = short_name + strlen(short_name); e > short_name && e[-1] == ' ';)
            *--e = '\0';
        size_t i = 0;
        while (i < NCODES && strcmp(codes[i].name, name) != 0)
            i++;
        if (i == NCODES)
            fail_msg("PROTOCOL.md lists %s (%d), which err.h does not have", name, num);
        if (codes[i].code != num)
            fail_msg("PROTOCOL.md says %s is %d; err.h says %d", name, num, codes[i].code);
        if (strcmp(qs_strerror(num), short_name) != 0)
            fail_msg("PROTOCOL.md calls %d \"%s\"; qs_strerror says \"%s\"", num, short_name,
                     qs_strerror(num));
        if (seen[i])
            fail_msg("PROTOCOL.md lists %s twice", name);
        seen[i] = true;
        rows++;
    }
    for (size_t i = 0; i < NCODES; i++)
        if (!seen[i])
            fail_msg("PROTOCOL.md \"Error codes\" does not list %s (%d)", codes[i].name,
                     codes[i].code);
    printf("  %d error codes: PROTOCOL.md agrees with err.h\n", rows);
    free(s);
}

static void test_message_types(void **state)
{
    (void)state;
    char *doc = read_doc("PROTOCOL.md");
    char *s = section(doc, "## Messages", "## ");
    free(doc);
    int rows = 0;
    bool listed[64] = {false};
    for (const char *line = strstr(s, "\n|"); line; line = strstr(line + 1, "\n|")) {
        unsigned type;
        char name[32];
        if (sscanf(line + 1, "| %u | %31s |", &type, name) != 2)
            continue;
        if (strcmp(qs_msg_type_name(type), name) != 0)
            fail_msg("PROTOCOL.md: message type %u is %s, the code says %s", type, name,
                     qs_msg_type_name(type));
        if (type < 64)
            listed[type] = true;
        rows++;
    }
    const char *unknown = qs_msg_type_name(100000);
    for (unsigned t = 0; t < 64; t++)
        if (!listed[t] && strcmp(qs_msg_type_name(t), unknown) != 0)
            fail_msg("the code has message type %u (%s), which PROTOCOL.md does not list", t,
                     qs_msg_type_name(t));
    assert_true(rows >= 10);
    printf("  %d message types: PROTOCOL.md agrees with msg.c\n", rows);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revision_vectors),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_message_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
