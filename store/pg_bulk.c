/*
 * pg_bulk.c — on PostgreSQL: multi-row INSERTs for applying a batch.
 *
 * A batch of a first sync is thousands of new records, each a row of
 * versions and a row of its kind's projection (and of history for an edited
 * one). One INSERT per row costs PostgreSQL a statement's whole round of
 * work per row. Gathered, up to BULK_ROWS rows go in one prepared statement,
 * INSERT ... SELECT ... FROM unnest($1, $2, ...), each parameter an array
 * holding one column (a multi-row VALUES list would be parsed anew each
 * time, which costs more than it saves: tests/bench/README.md, issue 22).
 * Rows are gathered only while pg->bulking is set (qs__pg_apply); otherwise
 * qs__pg_bulk_add sends the one row at once.
 *
 * Whoever reads a table that rows are gathered for flushes first (apply_one
 * before it reads a record's heads), and qs__pg_apply flushes at its end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

#define BULK_ROWS 500 /* rows of one statement, at most */

struct qs_pg_bulk {
    char *sql;   /* INSERT ... SELECT ... FROM unnest($1, ...) ...: prepared */
    char *elems; /* per column: 't' a text[] parameter, 'b' a bytea[] one */
    int np, rows;
    char *data; /* the gathered values' bytes */
    size_t len, cap;
    size_t *off; /* per value: offset in data, or SIZE_MAX for NULL */
    uint32_t *vlen;
};

qs_pg_bulk *qs__pg_bulk_new(qs_store *st, const char *head, const char *select, const char *elems,
                            const char *tail)
{
    struct qs_pg *pg = st->pg;
    qs_pg_bulk *b = qs_xcalloc(1, sizeof *b);
    b->np = (int)strlen(elems);
    b->elems = qs_xstrdup(elems);
    size_t cap = strlen(head) + strlen(select) + strlen(tail) + (size_t)b->np * 32 + 64;
    b->sql = qs_xmalloc(cap);
    size_t n = (size_t)snprintf(b->sql, cap, "%s SELECT %s FROM unnest(", head, select);
    for (int i = 0; i < b->np; i++)
        n += (size_t)snprintf(b->sql + n, cap - n, "%s$%d::%s[]", i ? ", " : "", i + 1,
                              elems[i] == 'b' ? "bytea" : "text");
    n += (size_t)snprintf(b->sql + n, cap - n, ") AS u(");
    for (int i = 0; i < b->np; i++)
        n += (size_t)snprintf(b->sql + n, cap - n, "%sc%d", i ? ", " : "", i + 1);
    snprintf(b->sql + n, cap - n, ")%s", tail);
    b->off = qs_xcalloc((size_t)BULK_ROWS * (size_t)b->np, sizeof *b->off);
    b->vlen = qs_xcalloc((size_t)BULK_ROWS * (size_t)b->np, sizeof *b->vlen);
    pg->bulks = qs_xrealloc(pg->bulks, (size_t)(pg->nbulks + 1) * sizeof *pg->bulks);
    pg->bulks[pg->nbulks++] = b;
    return b;
}

static void put(char **data, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        *cap = (*len + n) * 2 + 4096;
        *data = qs_xrealloc(*data, *cap);
    }
    memcpy(*data + *len, p, n);
    *len += n;
}

static void put32(char **data, size_t *len, size_t *cap, uint32_t v)
{
    unsigned char be[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v};
    put(data, len, cap, be, 4);
}

/* One column of the gathered rows as a one-dimensional array in
 * PostgreSQL's binary format (array_recv): ndim, has-nulls, element type,
 * size and lower bound, then each element's length (-1: NULL) and bytes. */
static char *column(const qs_pg_bulk *b, int col, size_t *n)
{
    char *a = NULL;
    size_t len = 0, cap = 0;
    bool nulls = false;
    for (int k = 0; k < b->rows; k++)
        nulls = nulls || b->off[k * b->np + col] == SIZE_MAX;
    put32(&a, &len, &cap, 1);
    put32(&a, &len, &cap, nulls);
    put32(&a, &len, &cap, b->elems[col] == 'b' ? 17 : 25); /* bytea, text */
    put32(&a, &len, &cap, (uint32_t)b->rows);
    put32(&a, &len, &cap, 1);
    for (int k = 0; k < b->rows; k++) {
        size_t at = b->off[k * b->np + col];
        if (at == SIZE_MAX) {
            put32(&a, &len, &cap, UINT32_MAX);
            continue;
        }
        put32(&a, &len, &cap, b->vlen[k * b->np + col]);
        put(&a, &len, &cap, b->data + at, b->vlen[k * b->np + col]);
    }
    *n = len;
    return a;
}

static int flush_one(qs_store *st, qs_pg_bulk *b, const char *what, qs_err *err)
{
    if (b->rows == 0)
        return 0;
    qs_pgp p = {0};
    char *arr[QS_PG_MAXP] = {0};
    for (int i = 0; i < b->np; i++) {
        size_t n;
        arr[i] = column(b, i, &n);
        qs__pgp_bin(&p, arr[i], n);
    }
    b->rows = 0;
    b->len = 0;
    int rc = qs__pg_cmd(st, b->sql, &p, what, err);
    for (int i = 0; i < b->np; i++)
        free(arr[i]);
    return rc;
}

int qs__pg_bulk_add(qs_store *st, qs_pg_bulk *b, const qs_pgp *p, const char *what, qs_err *err)
{
    int base = b->rows * b->np;
    for (int i = 0; i < b->np; i++) {
        if (!p->v[i]) {
            b->off[base + i] = SIZE_MAX;
            continue;
        }
        size_t n = p->fmt[i] ? (size_t)p->len[i] : strlen(p->v[i]);
        b->off[base + i] = b->len;
        b->vlen[base + i] = (uint32_t)n;
        put(&b->data, &b->len, &b->cap, p->v[i], n);
    }
    if (++b->rows == BULK_ROWS || !st->pg->bulking)
        return flush_one(st, b, what, err);
    return 0;
}

int qs__pg_bulk_flush(qs_store *st, qs_err *err)
{
    int rc = 0;
    for (int i = 0; i < st->pg->nbulks && !rc; i++)
        rc = flush_one(st, st->pg->bulks[i], "storing a batch", err);
    if (rc)
        qs__pg_bulk_discard(st);
    return rc;
}

void qs__pg_bulk_discard(qs_store *st)
{
    for (int i = 0; i < st->pg->nbulks; i++) {
        st->pg->bulks[i]->rows = 0;
        st->pg->bulks[i]->len = 0;
    }
}

void qs__pg_bulk_free_all(qs_store *st)
{
    for (int i = 0; i < st->pg->nbulks; i++) {
        qs_pg_bulk *b = st->pg->bulks[i];
        free(b->sql);
        free(b->elems);
        free(b->data);
        free(b->off);
        free(b->vlen);
        free(b);
    }
    free(st->pg->bulks);
    st->pg->bulks = NULL;
    st->pg->nbulks = 0;
}
