#include "proto/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/body.h"
#include "proto/sha256.h"
#include "proto/xmalloc.h"

void qs_record_init(qs_record *r)
{
    memset(r, 0, sizeof *r);
}

void qs_record_free(qs_record *r)
{
    free(r->parents);
    free(r->ancestry);
    free(r->body);
    qs_record_init(r);
}

void qs_record_set_parents(qs_record *r, const qs_rev *p, uint32_t n)
{
    free(r->parents);
    r->parents = n ? qs_xmalloc(n * sizeof *p) : NULL;
    if (n)
        memcpy(r->parents, p, n * sizeof *p);
    r->nparents = n;
}

void qs_record_set_ancestry(qs_record *r, const uint8_t (*a)[QS_HASH_LEN], uint32_t n)
{
    free(r->ancestry);
    r->ancestry = n ? qs_xmalloc((size_t)n * QS_HASH_LEN) : NULL;
    if (n)
        memcpy(r->ancestry, a, (size_t)n * QS_HASH_LEN);
    r->nancestry = n;
}

void qs_record_set_body(qs_record *r, const uint8_t *body, uint32_t n)
{
    free(r->body);
    r->body = qs_xmalloc(n ? n : 1);
    if (n)
        memcpy(r->body, body, n);
    r->body_len = n;
}

void qs_record_copy(qs_record *dst, const qs_record *src)
{
    *dst = *src;
    dst->parents = NULL;
    dst->ancestry = NULL;
    dst->body = NULL;
    qs_record_set_parents(dst, src->parents, src->nparents);
    qs_record_set_ancestry(dst, (const uint8_t(*)[QS_HASH_LEN])src->ancestry, src->nancestry);
    qs_record_set_body(dst, src->body, src->body_len);
}

/* ---- revisions ---------------------------------------------------------- */

int qs_rev_cmp(const qs_rev *a, const qs_rev *b)
{
    if (a->gen != b->gen)
        return a->gen < b->gen ? -1 : 1;
    int c = memcmp(a->hash, b->hash, QS_HASH_LEN);
    return (c > 0) - (c < 0);
}

bool qs_rev_eq(const qs_rev *a, const qs_rev *b)
{
    return qs_rev_cmp(a, b) == 0;
}

static int rev_qsort_cmp(const void *a, const void *b)
{
    return qs_rev_cmp(a, b);
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void digest(qs_sha256_ctx *ctx, const void *p, size_t n)
{
    qs_sha256_update(ctx, p, n);
}

static void digest_be(qs_sha256_ctx *ctx, uint64_t v, int n)
{
    uint8_t b[8];
    put_be(b, v, n);
    digest(ctx, b, (size_t)n);
}

void qs_rev_hash(const qs_record *r, uint8_t out[QS_HASH_LEN])
{
    qs_rev *sorted = NULL;
    if (r->nparents) {
        sorted = qs_xmalloc((size_t)r->nparents * sizeof *sorted);
        memcpy(sorted, r->parents, (size_t)r->nparents * sizeof *sorted);
        qsort(sorted, r->nparents, sizeof *sorted, rev_qsort_cmp);
    }
    size_t scope_len = strnlen(r->scope, sizeof r->scope);

    qs_sha256_ctx ctx;
    qs_sha256_init(&ctx);
    digest(&ctx, "qs-rev-1", 8);
    digest_be(&ctx, r->rev.gen, 8);
    digest_be(&ctx, r->kind, 4);
    digest(&ctx, r->id, QS_ID_LEN);
    digest_be(&ctx, scope_len, 1);
    digest(&ctx, r->scope, scope_len);
    digest_be(&ctx, r->deleted ? 1 : 0, 1);
    digest_be(&ctx, r->nparents, 4);
    for (uint32_t i = 0; i < r->nparents; i++) {
        digest_be(&ctx, sorted[i].gen, 8);
        digest(&ctx, sorted[i].hash, QS_HASH_LEN);
    }
    digest_be(&ctx, r->body_len, 4);
    digest(&ctx, r->body, r->body_len);

    uint8_t md[QS_SHA256_LEN];
    qs_sha256_final(&ctx, md);
    memcpy(out, md, QS_HASH_LEN);
    free(sorted);
}

/* 1 + the highest parent generation; 1 without parents. */
static uint64_t parents_gen(const qs_record *r)
{
    uint64_t max = 0;
    for (uint32_t i = 0; i < r->nparents; i++)
        if (r->parents[i].gen > max)
            max = r->parents[i].gen;
    return max + 1;
}

void qs_record_seal(qs_record *r)
{
    if (r->nparents > 1)
        qsort(r->parents, r->nparents, sizeof *r->parents, rev_qsort_cmp);
    r->rev.gen = parents_gen(r);
    qs_rev_hash(r, r->rev.hash);
}

int qs_record_verify(const qs_record *r, const qs_limits *lim, qs_err *err)
{
    char a[QS_REV_STR], b[QS_REV_STR];
    int rc = 0;

    if (!memchr(r->scope, '\0', sizeof r->scope) || !qs_code_valid(r->scope)) {
        rc = qs_err_set(err, QS_EINVAL, "scope \"%.*s\" is not a valid division code",
                        (int)strnlen(r->scope, sizeof r->scope), r->scope);
        goto done;
    }
    if (r->nparents > lim->max_parents) {
        rc = qs_err_set(err, QS_ELIMIT, "%u parents exceed the limit of %u", r->nparents,
                        lim->max_parents);
        goto done;
    }
    if (r->nparents && !r->parents) {
        rc = qs_err_set(err, QS_EINVAL, "%u parents announced but none given", r->nparents);
        goto done;
    }
    for (uint32_t i = 0; i < r->nparents; i++) {
        const qs_rev *p = &r->parents[i];
        if (p->gen == 0) {
            rc = qs_err_set(err, QS_EINVAL, "parent %s has an impossible generation",
                            qs_rev_format(p, a));
            goto done;
        }
        if (p->gen >= QS_GEN_MAX) { /* an edit of it would pass the bound (or wrap) */
            rc = qs_err_set(err, QS_ELIMIT,
                            "parent %s: no edit may follow a generation at or past the limit "
                            "of 2^53 - 1",
                            qs_rev_format(p, a));
            goto done;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (memcmp(p->hash, r->parents[j].hash, QS_HASH_LEN) == 0) {
                rc = qs_err_set(err, QS_EINVAL, "parent %s is listed twice (as %s)",
                                qs_rev_format(p, a), qs_rev_format(&r->parents[j], b));
                goto done;
            }
        }
    }
    if (r->rev.gen > QS_GEN_MAX) {
        rc = qs_err_set(err, QS_ELIMIT, "generation %llu is past the limit of 2^53 - 1",
                        (unsigned long long)r->rev.gen);
        goto done;
    }
    if (r->nancestry > lim->max_ancestry) {
        rc = qs_err_set(err, QS_ELIMIT, "ancestry of %u hashes exceeds the limit of %u",
                        r->nancestry, lim->max_ancestry);
        goto done;
    }
    if (r->nancestry && !r->ancestry) {
        rc =
            qs_err_set(err, QS_EINVAL, "%u ancestry hashes announced but none given", r->nancestry);
        goto done;
    }
    if (r->body_len > lim->max_body) {
        rc = qs_err_set(err, QS_ELIMIT, "body of %u bytes exceeds the limit of %u", r->body_len,
                        lim->max_body);
        goto done;
    }
    if (r->body_len && !r->body) {
        rc = qs_err_set(err, QS_EINVAL, "body of %u bytes announced but none given", r->body_len);
        goto done;
    }
    qs_body body;
    rc = qs_body_decode(r->body, r->body_len, lim, &body, err);
    if (rc) {
        qs_err_prefix(err, "body");
        goto done;
    }
    qs_body_free(&body);

    uint64_t want = parents_gen(r);
    if (r->rev.gen != want) {
        rc = qs_err_set(err, QS_EHASH,
                        "generation %llu does not follow from its parents (expected %llu)",
                        (unsigned long long)r->rev.gen, (unsigned long long)want);
        goto done;
    }
    uint8_t h[QS_HASH_LEN];
    qs_rev_hash(r, h);
    if (memcmp(h, r->rev.hash, QS_HASH_LEN) != 0) {
        qs_rev computed = {.gen = r->rev.gen};
        memcpy(computed.hash, h, QS_HASH_LEN);
        rc = qs_err_set(err, QS_EHASH, "revision %s does not match its content (computed %s)",
                        qs_rev_format(&r->rev, a), qs_rev_format(&computed, b));
        goto done;
    }
done:
    return rc;
}

int qs_author_node(const char *author, char node[QS_CODE_MAX])
{
    node[0] = '\0';
    const char *slash = memchr(author, '/', strnlen(author, QS_AUTHOR_MAX));
    if (!slash || slash == author || (size_t)(slash - author) >= QS_CODE_MAX)
        return QS_EINVAL;
    char code[QS_CODE_MAX];
    memcpy(code, author, (size_t)(slash - author));
    code[slash - author] = '\0';
    if (!qs_code_valid(code))
        return QS_EINVAL;
    memcpy(node, code, sizeof code);
    return 0;
}

char *qs_rev_format(const qs_rev *r, char *buf)
{
    char hex[2 * QS_HASH_LEN + 1];
    snprintf(buf, QS_REV_STR, "%llu-%s", (unsigned long long)r->gen,
             qs_hex(r->hash, QS_HASH_LEN, hex));
    return buf;
}

int qs_rev_parse(const char *s, qs_rev *out)
{
    if (!s || *s < '1' || *s > '9') /* no sign, no leading zero, gen >= 1 */
        return QS_EINVAL;
    uint64_t gen = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (gen > (UINT64_MAX - d) / 10)
            return QS_EINVAL;
        gen = gen * 10 + d;
    }
    if (*p++ != '-')
        return QS_EINVAL;
    for (size_t i = 0; i < 2 * QS_HASH_LEN && p[i]; i++)
        if (p[i] >= 'A' && p[i] <= 'F') /* one text form per revision */
            return QS_EINVAL;
    uint8_t hash[QS_HASH_LEN];
    if (qs_unhex(p, hash, QS_HASH_LEN))
        return QS_EINVAL;
    out->gen = gen;
    memcpy(out->hash, hash, QS_HASH_LEN);
    return 0;
}
