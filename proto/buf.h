/*
 * buf.h — a growable byte buffer with a hard maximum fixed at init.
 *
 * Growing past max is an error (QS_ELIMIT), never a silent realloc. A buffer
 * with max == 0 is unbounded; use that only for data the program produces
 * itself. Also serves as a msgpack_packer write target (qs_buf_mp_write).
 */
#ifndef QS_BUF_H
#define QS_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct qs_buf {
    uint8_t *data; /* owned; NULL when empty */
    size_t len;
    size_t cap;
    size_t max; /* 0 = no maximum */
} qs_buf;

void qs_buf_init(qs_buf *b, size_t max);
void qs_buf_free(qs_buf *b);                 /* releases data; b may be reused after init */
void qs_buf_reset(qs_buf *b);                /* len = 0, keeps the allocation */
int qs_buf_reserve(qs_buf *b, size_t extra); /* 0 or QS_ELIMIT */
int qs_buf_append(qs_buf *b, const void *p, size_t n);
void qs_buf_consume(qs_buf *b, size_t n); /* drop n bytes from the front */

/* msgpack_packer_write callback: data is a qs_buf*. Returns 0 or -1 (limit). */
int qs_buf_mp_write(void *data, const char *buf, size_t len);

#endif
