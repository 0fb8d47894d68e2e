/*
 * out.h — output helpers for qianshou: values as text and JSON, records as
 * JSON objects, aligned tables that count Chinese characters as two columns.
 */
#ifndef QS_CLI_OUT_H
#define QS_CLI_OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "proto/body.h"
#include "proto/record.h"
#include "proto/schema.h"

/* The text form of v for field f (qs_schema_format): enums as Chinese labels
 * when labels, else ASCII names. "" for NIL. Caller frees. */
char *out_value_text(const qs_field *f, const qs_value *v, bool labels);
/* JSON form: numbers for INT, booleans, arrays of strings for lists, strings
 * for the rest (enums by ASCII name, money in yuan "12.50"), null for NIL. */
json_t *out_value_json(const qs_field *f, const qs_value *v);

/* Decode r's body (default limits). 0 or QS_EINVAL. */
int out_body(const qs_record *r, qs_body *b);

/* {"id", "kind", "scope", "rev", "parents", "deleted", "author", "hlc", "fields": {...}}.
 * Fields this build does not know are listed by id under "unknown_fields". */
json_t *out_record_json(const qs_record *r);

/* Print o on stdout (indented, UTF-8) and release it. */
void out_json(json_t *o);

/* Display width of UTF-8 text (East Asian wide characters count 2). */
size_t out_width(const char *s);
/* Print s padded with spaces to width w. */
void out_pad(FILE *fp, const char *s, size_t w);
/* At most w columns of s, cut with "…" (caller frees). */
char *out_clip(const char *s, size_t w);

/* A table of strings; rows are added as arrays of ncols owned strings. */
typedef struct out_table {
    size_t ncols, nrows;
    char **cells; /* nrows * ncols, row-major; row 0 is the header */
} out_table;
void out_table_init(out_table *t, size_t ncols);
void out_table_add(out_table *t, char **row); /* takes the strings (not the array) */
/* Print with columns aligned; columns that are empty in every data row are
 * left out when drop_empty. */
void out_table_print(const out_table *t, FILE *fp, bool drop_empty);
void out_table_free(out_table *t);

#endif
