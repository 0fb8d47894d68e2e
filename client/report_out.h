/*
 * report_out.h — the annual report laid out as sheets (one per section) of
 * typed cells, and the writers that render them: table (terminal), CSV, XLSX,
 * HTML; JSON is built from the report itself. Every writer shows the same
 * cells, so every format holds the same numbers.
 */
#ifndef QS_CLI_REPORT_OUT_H
#define QS_CLI_REPORT_OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "store/judge.h"
#include "store/report.h"

typedef enum rcell_type {
    RC_TEXT,    /* s */
    RC_INT,     /* i */
    RC_MONEY,   /* i in fen, shown as yuan with two decimals */
    RC_PCT,     /* d in [0, 1], shown as a percentage with one decimal */
    RC_VERDICT, /* v, shown as its Chinese label */
} rcell_type;

typedef struct rcell {
    rcell_type t;
    char *s; /* owned; RC_TEXT only */
    int64_t i;
    double d;
    qs_verdict v;
} rcell;

typedef struct rsheet {
    const char *name; /* Chinese section title, also the XLSX sheet name */
    const char *key;  /* ASCII, for file names and ids */
    size_t ncols, nrows, cap;
    const char *const *head; /* ncols static Chinese column headers */
    rcell *cells;            /* nrows * ncols */
} rsheet;

#define RBOOK_SHEETS 16
#define RBOOK_LINES 4
typedef struct rbook {
    char title[256];
    /* under the title: the period (and 年度未结束), the recipients and the
     * reporting unit, the rule and the counts */
    char lines[RBOOK_LINES][512];
    size_t nlines;
    char subtitle[2048]; /* the lines joined, for formats with one line */
    rsheet sheets[RBOOK_SHEETS];
    size_t n;
} rbook;

void rbook_build(const qs_report *r, rbook *b);
void rbook_free(rbook *b);
/* The cell as display text (caller frees). */
char *rcell_text(const rcell *c);

/* Writers. 0 or a QS_E code with err set. */
int report_write_table(const rbook *b, FILE *fp);
int report_write_csv(const rbook *b, FILE *fp, bool bom);
int report_write_xlsx(const rbook *b, const char *path, qs_err *err);
int report_write_html(const qs_report *r, const rbook *b, FILE *fp);
json_t *report_json(const qs_report *r);

#endif
