#include "proto/buf.h"

#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "proto/xmalloc.h"

void qs_buf_init(qs_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void qs_buf_free(qs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void qs_buf_reset(qs_buf *b)
{
    b->len = 0;
}

int qs_buf_reserve(qs_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return QS_ELIMIT;
    size_t need = b->len + extra;
    if (b->max && need > b->max)
        return QS_ELIMIT;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (b->max && cap > b->max)
        cap = b->max;
    b->data = qs_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int qs_buf_append(qs_buf *b, const void *p, size_t n)
{
    int rc = qs_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void qs_buf_consume(qs_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

int qs_buf_mp_write(void *data, const char *buf, size_t len)
{
    return qs_buf_append(data, buf, len) ? -1 : 0;
}
