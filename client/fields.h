/*
 * fields.h — turning what a clerk types (FIELD=VALUE on the command line, a
 * CSV cell) into body values, with the helpful forms of DESIGN.md:
 *
 *   REF              a UUID, or the value of the field people name the kind by
 *                    (the schema's qs_kind.key, found with qs_store_find_key):
 *     station=       the township code of an existing station
 *     person=        the name of exactly one person
 *     agency=        the name of exactly one agency
 *     pairing=       the county code of a county with one pairing, or with
 *                    exactly one active this year
 *   REFLIST          a list of the above, separated by , ， 、 or ;
 *   DIGESTS          pseudonyms (32 hex) or ID numbers, which become pseudonyms
 *                    with qs_store_pseudonym (an ID number is never stored)
 *   everything else  qs_schema_parse (enum codes/names/labels, YYYY-MM-DD dates,
 *                    yuan with up to two decimals for money)
 *
 * Error messages are sentences naming the field ("station (社工站): station
 * 632322100 does not exist — add it with `qianshou add station …`").
 */
#ifndef QS_CLI_FIELDS_H
#define QS_CLI_FIELDS_H

#include "proto/body.h"
#include "proto/schema.h"
#include "store/store.h"

/* Parse text for field f of kind k into *out (QS_V_NIL for empty text). */
int fields_parse(qs_store *st, const qs_field *f, const char *text, qs_value *out, qs_err *err);

/* Set (or, for empty text, remove) field f in b from text. */
int fields_set(qs_store *st, const qs_field *f, const char *text, qs_body *b, qs_err *err);

/* Split "FIELD=VALUE" into the field of k and the value (pointing into arg).
 * QS_EINVAL with a sentence for a missing '=' or an unknown field. */
int fields_assignment(const qs_kind *k, const char *arg, const qs_field **f, const char **value,
                      qs_err *err);

/* The fields the store derives (a beneficiary's pseudonym from its ID
 * number) set in b as the store will set them, so that what is validated and
 * shown is what is stored: qs_store_derive. The store derives them again
 * itself on every write; this is not what makes them right. */
int fields_finish(qs_store *st, const qs_kind *k, qs_body *b, qs_err *err);

/* Warn on stderr (prefix, e.g. "FILE:LINE: ") when b duplicates stored
 * records by its kind's duplicate key (the schema's qs_kind.dup: a work day's
 * person and date; qs_store_count_duplicates). Returns 0 or a store error. */
int fields_warn_duplicate(qs_store *st, const qs_kind *k, const qs_body *b, const char *prefix,
                          qs_err *err);

/* The text of v for field f as a clerk would type it: a reference as its
 * station's township code, its person's or agency's name, its pairing's
 * county code, whenever that text names exactly this record in st (so a sheet
 * exported with it imports again), else as the record id; a list of
 * references the same way, joined with ","; every other field as
 * out_value_text (enums as labels when labels). st NULL: ids. Lookups are
 * cached for the process. Caller frees. */
char *fields_display(qs_store *st, const qs_field *f, const qs_value *v, bool labels);

/* Drop every cached lookup of fields_parse and fields_display. A process
 * that lives longer than one command (qianshou-web) calls it before each
 * request: records may have been added, renamed or deleted since. */
void fields_forget(void);

/* "name (label)" of a field, into buf. */
const char *fields_title(const qs_field *f, char *buf, size_t n);

#endif
