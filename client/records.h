/*
 * records.h — record helpers shared by add/edit/import/conflicts.
 */
#ifndef QS_CLI_RECORDS_H
#define QS_CLI_RECORDS_H

#include "client/cli.h"

/* Print validation errors (each "qianshou: PREFIXfield (label): reason", the
 * field's Chinese label from kind k) and return CLI_DATA. */
int records_report_verrs(cli *c, const qs_kind *k, const qs_verrs *ve, const char *prefix);
/* Apply FIELD=VALUE arguments to b, reporting every bad one. Exit code. */
int records_apply_args(cli *c, qs_store *st, const qs_kind *k, int argc, char **argv, qs_body *b);
/* Parse a record id given on the command line (usage error if it is not one). */
int records_parse_id(cli *c, const char *cmd, const char *text, uint8_t id[QS_ID_LEN]);
/* Derive fields, validate, warn on a duplicate work day, create. Prints the
 * new id unless out_id is given (then it is written there). Exit code. */
int records_store(cli *c, qs_store *st, const qs_kind *k, const char *scope, qs_body *b,
                  const char *prefix, uint8_t out_id[QS_ID_LEN]);
/* The fields of r, one per line, enums as Chinese labels, references as
 * codes or names (fields_display). */
void records_print_fields(qs_store *st, const qs_record *r, const char *indent);
/* FIELD=VALUE filters of `list` and `export` (a date field also takes a month
 * or a year: date=2024-03) into *out (caller frees with records_filters_free).
 * Exit code; a bad one is reported. */
int records_filters(cli *c, qs_store *st, const qs_kind *k, int argc, char **argv, qs_filter **out,
                    size_t *nout);
void records_filters_free(qs_filter *flt, size_t n);

#endif
