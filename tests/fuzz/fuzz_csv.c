/* libFuzzer harness for the sheet reader (client/csv.c): the bytes a clerk's
 * file holds, UTF-8 (with or without BOM) or GB18030, through csv_decode and
 * then row by row through csv_reader.
 *
 * Invariants: every cell is well-formed UTF-8 and NUL-terminated at its
 * length; rows start on non-decreasing lines; a row has at most
 * CSV_MAX_CELLS cells of less than CSV_MAX_CELL bytes; the whole-sheet
 * parser (csv_parse) agrees with the reader, row for row and cell for cell,
 * and fails exactly when the reader does. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_csv: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    csv_text t;
    qs_err e = {0};
    if (csv_decode(data, size, "fuzz.csv", &t, &e) != 0) {
        check(e.msg[0] != '\0', "a refused sheet has no message");
        return 0;
    }
    check(csv_utf8_valid((const uint8_t *)t.s, t.len), "decoded text is not UTF-8");

    csv_row *rows = NULL;
    size_t nrows = 0;
    qs_err pe = {0};
    int prc = csv_parse(t.s, t.len, "fuzz.csv", &rows, &nrows, &pe);

    csv_reader r;
    csv_reader_init(&r, t.s, t.len, "fuzz.csv");
    csv_row row = {0};
    size_t i = 0, last_line = 0;
    int rc;
    qs_err re = {0};
    while ((rc = csv_next(&r, &row, &re)) == 1) {
        check(row.n <= CSV_MAX_CELLS, "too many cells in a row");
        check(row.line >= last_line && row.line >= 1, "rows out of line order");
        last_line = row.line;
        for (size_t j = 0; j < row.n; j++) {
            size_t len = strlen(row.cells[j]);
            check(len < CSV_MAX_CELL, "a cell past CSV_MAX_CELL");
            check(csv_utf8_valid((const uint8_t *)row.cells[j], len), "a cell is not UTF-8");
        }
        if (prc == 0) {
            check(i < nrows, "csv_parse found fewer rows");
            check(rows[i].n == row.n && rows[i].line == row.line, "csv_parse row differs");
            for (size_t j = 0; j < row.n; j++)
                check(strcmp(rows[i].cells[j], row.cells[j]) == 0, "csv_parse cell differs");
        }
        i++;
        csv_row_free(&row);
    }
    check(rc == 0 || re.msg[0] != '\0', "a malformed row has no message");
    check((rc == 0) == (prc == 0), "csv_parse and the reader disagree on failure");
    if (prc == 0) {
        check(i == nrows, "csv_parse found more rows");
        csv_rows_free(rows, nrows);
    }
    csv_reader_free(&r);
    csv_text_free(&t);
    return 0;
}
