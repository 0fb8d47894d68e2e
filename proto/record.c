#include "proto/record.h"

#include <stdlib.h>
#include <string.h>

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
