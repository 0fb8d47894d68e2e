/*
 * csv.h — reading the sheets clerks keep, writing sheets Excel opens.
 *
 * Reading: the file's bytes are text in UTF-8 (with or without a BOM) or, as
 * Chinese Excel saves them, GB18030: csv_decode tries strict UTF-8 first and
 * converts from GB18030 with iconv otherwise. csv_parse then splits RFC 4180
 * CSV: CRLF, LF or CR line ends; fields in double quotes may hold commas,
 * doubled quotes and line breaks. Each row remembers the line it starts on.
 * Limits: CSV_MAX_BYTES per file, CSV_MAX_CELLS per row, CSV_MAX_CELL bytes per
 * cell, CSV_MAX_ROWS rows; crossing one is an error naming the line.
 */
#ifndef QS_CLI_CSV_H
#define QS_CLI_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/err.h"

#define CSV_MAX_BYTES (64u << 20)
#define CSV_MAX_CELLS 512
#define CSV_MAX_CELL (64u << 10)
#define CSV_MAX_ROWS 1000000

typedef struct csv_row {
    char **cells; /* owned, NUL-terminated UTF-8 */
    size_t n;
    size_t line; /* 1-based line of the file where the row starts */
} csv_row;

/* The file's text as UTF-8, BOM removed: s points into the file's bytes when
 * they are UTF-8 already (no copy: a sheet may have 64 MiB), else into the
 * converted text that csv_text_free frees. encoding: "UTF-8",
 * "UTF-8 with BOM" or "GB18030". */
typedef struct csv_text {
    const char *s;
    size_t len;
    const char *encoding;
    char *owned; /* the converted text (qs_xmap), or NULL */
    size_t owned_cap;
} csv_text;

int csv_decode(const uint8_t *p, size_t n, const char *file, csv_text *t, qs_err *err);
void csv_text_free(csv_text *t);

/* Rows one at a time from text (RFC 4180, as csv_parse): an import holds one
 * row at a time instead of the whole sheet split into cells. */
typedef struct csv_reader {
    const char *s, *file;
    size_t len, pos, line, rows;
    char *cell; /* the cell being read */
    size_t ncell, cell_cap;
} csv_reader;

void csv_reader_init(csv_reader *r, const char *text, size_t len, const char *file);
/* The next row into *row (free it with csv_row_free): 1, or 0 at the end of
 * the text, or an error (a malformed or oversized row; its line in the message). */
int csv_next(csv_reader *r, csv_row *row, qs_err *err);
void csv_reader_free(csv_reader *r);
void csv_row_free(csv_row *row);

/* Split text into rows. Caller frees with csv_rows_free. */
int csv_parse(const char *text, size_t len, const char *file, csv_row **rows, size_t *nrows,
              qs_err *err);
void csv_rows_free(csv_row *rows, size_t n);

/* True iff p[0..n) is well-formed UTF-8 (no overlong forms, no surrogates). */
int csv_utf8_valid(const uint8_t *p, size_t n);

/* One cell, quoted when it holds a comma, a quote, a line break or edge spaces. */
void csv_write_cell(FILE *fp, const char *s);

#endif
