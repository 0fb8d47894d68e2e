/*
 * pg_bulk.c — on PostgreSQL: multi-row INSERTs for applying a batch.
 *
 * A batch of a first sync is thousands of new records, each a row of
 * versions and a row of its kind's projection (and of history for an edited
 * one). One INSERT per row costs PostgreSQL a statement's whole round of
 * work per row. Gathered, up to BULK_ROWS rows go in one prepared statement,
 * INSERT ... SELECT ... FROM unnest($1::qs_row_E[]) AS u(c1, ...), the one
 * parameter an array of rows of a composite type made for the gatherer's
 * columns (qs_row_E, E the columns' letters: t text, b bytea), sent in
 * PostgreSQL's binary format. Two ways measured slower on the server
 * (tests/bench/README.md, issue 22): a multi-row VALUES list is parsed anew
 * each time, and unnest($1::text[], $2::bytea[], ...) with an array per
 * column makes the server materialize each array on its own before it
 * zips them (about 4 us a row for versions' 19 columns, against under 1 us
 * for the one array of rows).
 *
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
#define OID_BYTEA 17
#define OID_TEXT 25

struct qs_pg_bulk {
    char *sql;     /* INSERT ... SELECT ... FROM unnest($1::qs_row_E[]) ...: prepared */
    char *elems;   /* per column: 't' text, 'b' bytea */
    char type[64]; /* qs_row_E */
    uint32_t oid;  /* its type's oid (qs__pg_bulk_types) */
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
    /* a type name is at most 63 bytes: 56 columns, more than any kind has */
    if (b->np < 1 || b->np > 56)
        abort();
    snprintf(b->type, sizeof b->type, "qs_row_%s", elems);
    size_t cap = strlen(head) + strlen(select) + strlen(tail) + (size_t)b->np * 8 + 128;
    b->sql = qs_xmalloc(cap);
    size_t n = (size_t)snprintf(b->sql, cap, "%s SELECT %s FROM unnest($1::%s[]) AS u(", head,
                                select, b->type);
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

/* The gathered rows as a one-dimensional array of b->type in PostgreSQL's
 * binary format (array_recv): ndim, has-nulls, element type, size and lower
 * bound, then each element's length and bytes; an element is a row
 * (record_recv): its number of columns, then each column's type, length
 * (-1: NULL) and bytes. */
static char *rows(const qs_pg_bulk *b, size_t *n)
{
    char *a = NULL;
    size_t len = 0, cap = 0;
    put32(&a, &len, &cap, 1);
    put32(&a, &len, &cap, 0);
    put32(&a, &len, &cap, b->oid);
    put32(&a, &len, &cap, (uint32_t)b->rows);
    put32(&a, &len, &cap, 1);
    for (int k = 0; k < b->rows; k++) {
        size_t at = len;
        put32(&a, &len, &cap, 0); /* the row's length, filled in below */
        put32(&a, &len, &cap, (uint32_t)b->np);
        for (int col = 0; col < b->np; col++) {
            size_t off = b->off[k * b->np + col];
            put32(&a, &len, &cap, b->elems[col] == 'b' ? OID_BYTEA : OID_TEXT);
            if (off == SIZE_MAX) {
                put32(&a, &len, &cap, UINT32_MAX);
                continue;
            }
            put32(&a, &len, &cap, b->vlen[k * b->np + col]);
            put(&a, &len, &cap, b->data + off, b->vlen[k * b->np + col]);
        }
        uint32_t row = (uint32_t)(len - at - 4);
        unsigned char be[4] = {(unsigned char)(row >> 24), (unsigned char)(row >> 16),
                               (unsigned char)(row >> 8), (unsigned char)row};
        memcpy(a + at, be, 4);
    }
    *n = len;
    return a;
}

/* Each gatherer's row type: with make, created where missing (in the
 * transaction that creates the tables, under its lock); then every
 * gatherer learns its type's oid, which its binary rows carry. */
int qs__pg_bulk_types(qs_store *st, bool make, qs_err *err)
{
    struct qs_pg *pg = st->pg;
    for (int i = 0; make && i < pg->nbulks; i++) {
        const qs_pg_bulk *b = pg->bulks[i];
        size_t cap = 256 + (size_t)b->np * 16, n;
        char *sql = qs_xmalloc(cap);
        n = (size_t)snprintf(sql, cap,
                             "DO $$BEGIN IF to_regtype('%s') IS NULL THEN CREATE TYPE %s AS (",
                             b->type, b->type);
        for (int c = 0; c < b->np; c++)
            n += (size_t)snprintf(sql + n, cap - n, "%sc%d %s", c ? ", " : "", c + 1,
                                  b->elems[c] == 'b' ? "bytea" : "text");
        snprintf(sql + n, cap - n, "); END IF; END$$");
        int rc = qs__pg_exec(st, sql, "creating the tables", err);
        free(sql);
        if (rc)
            return rc;
    }
    PGresult *r = qs__pg_q(st,
                           "SELECT typname::text, oid::int8 FROM pg_type WHERE typname LIKE "
                           "'qs\\_row\\_%' AND pg_type_is_visible(oid)",
                           NULL, "opening", err);
    if (!r)
        return err ? err->code : QS_EIO;
    for (int i = 0; i < pg->nbulks; i++) {
        qs_pg_bulk *b = pg->bulks[i];
        b->oid = 0;
        for (int k = 0; k < PQntuples(r) && !b->oid; k++)
            if (strcmp(PQgetvalue(r, k, 0), b->type) == 0)
                b->oid = (uint32_t)qs__pg_int(r, k, 1);
    }
    PQclear(r);
    for (int i = 0; i < pg->nbulks; i++)
        if (!pg->bulks[i]->oid)
            return qs_err_set(err, QS_ECORRUPT,
                              "PostgreSQL has no type %s: the tables were made by another "
                              "build; open the store with this build's qianshoud once",
                              pg->bulks[i]->type);
    return 0;
}

static int flush_one(qs_store *st, qs_pg_bulk *b, const char *what, qs_err *err)
{
    if (b->rows == 0)
        return 0;
    qs_pgp p = {0};
    size_t n;
    char *arr = rows(b, &n);
    qs__pgp_bin(&p, arr, n);
    b->rows = 0;
    b->len = 0;
    int rc = qs__pg_cmd(st, b->sql, &p, what, err);
    free(arr);
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
