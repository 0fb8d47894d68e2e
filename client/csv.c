/*
 * csv.c — CSV decoding and splitting (see csv.h).
 */
#include "client/csv.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/xmalloc.h"

int csv_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

int csv_decode(const uint8_t *p, size_t n, const char *file, csv_text *t, qs_err *err)
{
    *t = (csv_text){.s = "", .len = 0, .encoding = "UTF-8", .owned = NULL, .owned_cap = 0};
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        if (!csv_utf8_valid(p + 3, n - 3))
            return qs_err_set(err, QS_EINVAL,
                              "%s starts with a UTF-8 mark but is not valid UTF-8: save it "
                              "again as \"CSV UTF-8\"",
                              file);
        t->s = (const char *)p + 3;
        t->len = n - 3;
        t->encoding = "UTF-8 with BOM";
        return 0;
    }
    if (csv_utf8_valid(p, n)) {
        t->s = (const char *)p;
        t->len = n;
        return 0;
    }
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1)
        return qs_err_set(err, QS_EIO, "this system cannot convert GB18030 text (iconv: %s)",
                          strerror(errno));
    /* A GB18030 character of k bytes becomes at most 2k bytes of UTF-8. */
    size_t cap = 2 * n + 1;
    char *buf = qs_xmap(cap);
    char *in = (char *)p, *o = buf;
    size_t inleft = n, outleft = cap - 1;
    int rc = 0;
    if (iconv(cd, &in, &inleft, &o, &outleft) == (size_t)-1) {
        size_t at = n - inleft;
        size_t line = 1;
        for (size_t i = 0; i < at; i++)
            line += p[i] == '\n';
        rc = qs_err_set(err, QS_EINVAL,
                        "%s:%zu: the file is neither UTF-8 nor GB18030 text (byte %zu cannot "
                        "be read): save it again from Excel as CSV",
                        file, line, at + 1);
        qs_xunmap(buf, cap);
    } else {
        *o = '\0';
        *t = (csv_text){.s = buf,
                        .len = (size_t)(o - buf),
                        .encoding = "GB18030",
                        .owned = buf,
                        .owned_cap = cap};
    }
    iconv_close(cd);
    return rc;
}

void csv_text_free(csv_text *t)
{
    qs_xunmap(t->owned, t->owned_cap);
    t->owned = NULL;
}

static void row_free(csv_row *r)
{
    for (size_t j = 0; j < r->n; j++)
        free(r->cells[j]);
    free(r->cells);
}

void csv_rows_free(csv_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        row_free(&rows[i]);
    free(rows);
}

void csv_row_free(csv_row *r)
{
    row_free(r);
    r->cells = NULL;
    r->n = 0;
}

void csv_reader_init(csv_reader *r, const char *text, size_t len, const char *file)
{
    *r = (csv_reader){.s = text, .len = len, .line = 1, .file = file};
}

void csv_reader_free(csv_reader *r)
{
    free(r->cell);
    r->cell = NULL;
}

/* The cell being read into r->cell; -1 when it would pass CSV_MAX_CELL. */
static int cell_put(csv_reader *r, char ch)
{
    if (r->ncell + 1 >= CSV_MAX_CELL)
        return -1;
    if (r->ncell + 2 > r->cell_cap) {
        r->cell_cap = r->cell_cap ? r->cell_cap * 2 : 64;
        r->cell = qs_xrealloc(r->cell, r->cell_cap);
    }
    r->cell[r->ncell++] = ch;
    return 0;
}

int csv_next(csv_reader *r, csv_row *out, qs_err *err)
{
    const char *s = r->s, *file = r->file;
    size_t len = r->len, i = r->pos;
    int rc;
    *out = (csv_row){.cells = NULL, .n = 0, .line = r->line};
    if (i >= len)
        return 0;
    if (r->rows >= CSV_MAX_ROWS)
        return qs_err_set(err, QS_ELIMIT, "%s:%zu: more than %d rows in one sheet", file, r->line,
                          CSV_MAX_ROWS);
    csv_row row = {.cells = NULL, .n = 0, .line = r->line};
    size_t cells_cap = 0;
    bool end_row = false;
    while (!end_row) {
        r->ncell = 0;
        size_t cell_line = r->line;
        if (i < len && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    rc = qs_err_set(err, QS_EINVAL,
                                    "%s:%zu: a quoted field is never closed (a \" is missing)",
                                    file, cell_line);
                    goto fail;
                }
                if (s[i] == '"') {
                    if (i + 1 < len && s[i + 1] == '"') {
                        if (cell_put(r, '"'))
                            goto too_long;
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (s[i] == '\r' || s[i] == '\n') {
                    /* a line break inside a cell is kept as one \n */
                    if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
                        i++;
                    i++;
                    r->line++;
                    if (cell_put(r, '\n'))
                        goto too_long;
                    continue;
                }
                if (cell_put(r, s[i++]))
                    goto too_long;
            }
            if (i < len && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
                rc = qs_err_set(err, QS_EINVAL,
                                "%s:%zu: text follows a closing quote in one field (write a "
                                "quote inside a quoted field as \"\")",
                                file, r->line);
                goto fail;
            }
        } else {
            while (i < len && s[i] != ',' && s[i] != '\n' && s[i] != '\r')
                if (cell_put(r, s[i++]))
                    goto too_long;
        }
        if (row.n >= CSV_MAX_CELLS) {
            rc = qs_err_set(err, QS_ELIMIT, "%s:%zu: more than %d cells in one row", file, row.line,
                            CSV_MAX_CELLS);
            goto fail;
        }
        if (row.n == cells_cap) {
            cells_cap = cells_cap ? 2 * cells_cap : 16;
            row.cells = qs_xreallocarray(row.cells, cells_cap, sizeof *row.cells);
        }
        row.cells[row.n++] = qs_xstrndup(r->cell ? r->cell : "", r->ncell);
        if (i >= len) {
            end_row = true;
        } else if (s[i] == ',') {
            i++;
        } else { /* \n, \r\n or \r */
            if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
                i++;
            i++;
            r->line++;
            end_row = true;
        }
    }
    r->pos = i;
    r->rows++;
    *out = row;
    return 1;
too_long:
    rc = qs_err_set(err, QS_ELIMIT, "%s:%zu: a cell is longer than %u bytes", file, r->line,
                    CSV_MAX_CELL);
fail:
    row_free(&row);
    return rc;
}

int csv_parse(const char *s, size_t len, const char *file, csv_row **rows_out, size_t *nrows_out,
              qs_err *err)
{
    csv_reader r;
    csv_reader_init(&r, s, len, file);
    csv_row *rows = NULL;
    size_t nrows = 0, rows_cap = 0;
    int rc;
    *rows_out = NULL;
    *nrows_out = 0;
    csv_row row;
    while ((rc = csv_next(&r, &row, err)) == 1) {
        if (nrows == rows_cap) {
            rows_cap = rows_cap ? 2 * rows_cap : 64;
            rows = qs_xreallocarray(rows, rows_cap, sizeof *rows);
        }
        rows[nrows++] = row;
    }
    csv_reader_free(&r);
    if (rc) {
        csv_rows_free(rows, nrows);
        return rc;
    }
    *rows_out = rows;
    *nrows_out = nrows;
    return 0;
}

void csv_write_cell(FILE *fp, const char *s)
{
    size_t n = strlen(s);
    bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (const char *c = s; *c && !quote; c++)
        quote = *c == ',' || *c == '"' || *c == '\n' || *c == '\r';
    if (!quote) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (const char *c = s; *c; c++) {
        if (*c == '"')
            fputc('"', fp);
        fputc(*c, fp);
    }
    fputc('"', fp);
}
