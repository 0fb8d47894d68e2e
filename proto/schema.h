/*
 * schema.h — the one schema: kinds, fields, types, bounds, enumerations.
 *
 * This table drives validation (here), the canonical body (field ids), the
 * SQL projection (store/), CSV columns and labels (client/) and report queries.
 * Adding a field is one edit in schema.c.
 *
 * Stability rules: kind ids, field ids and enum codes are never reused or
 * renumbered; a field may be added (bump QS_SCHEMA_VERSION); a field a node
 * does not know is accepted and kept in the body. Names are ASCII
 * identifiers (CLI, CSV headers, SQL columns); labels are Chinese.
 *
 * Value forms in a body (msgpack):
 *   TEXT     str, UTF-8, 1..max bytes (min/max are byte lengths)
 *   INT      int in [min, max]
 *   MONEY    int, fen (1/100 yuan), in [min, max]
 *   DATE     int YYYYMMDD (date.h)
 *   BOOL     bool
 *   ENUM     uint, a code of the field's enumeration
 *   ENUMSET  array of codes, strictly ascending (so no duplicates)
 *   CODE     str, a division code (scope.h) of the field's level range
 *   REF      bin 16: the id of a record of kind ref_kind
 *   REFLIST  array of bin 16, no duplicates, at most max elements
 *   DIGESTS  array of bin 16 (beneficiary pseudonyms), no duplicates, at most
 *            max elements; beneficiary.pseudonym, a single digest, is a
 *            DIGESTS of max 1 (so both share one form and one text form)
 *
 * A field that is absent, nil, "" or [] counts as not given: an error only
 * if the field is required. Kind-specific rules that a type cannot express
 * (USCC charset, ID-number check digit, minors <= total, expense
 * category/source by direction, ...) live in the kind's check function.
 */
#ifndef QS_SCHEMA_H
#define QS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/body.h"
#include "proto/buf.h"
#include "proto/err.h"
#include "proto/scope.h"

/* 2: person.exam_year; training type 3 项目指导 (an older node refuses a
 * record with it: upgrade the aggregator first) */
#define QS_SCHEMA_VERSION 2

typedef enum qs_ftype {
    QS_F_TEXT = 1,
    QS_F_INT,
    QS_F_MONEY,
    QS_F_DATE,
    QS_F_BOOL,
    QS_F_ENUM,
    QS_F_ENUMSET,
    QS_F_CODE,
    QS_F_REF,
    QS_F_REFLIST,
    QS_F_DIGESTS,
} qs_ftype;

/* Field flags */
#define QS_FF_REQUIRED 0x1u /* must be present (and non-empty) in a live record */
#define QS_FF_LOCAL 0x2u    /* never leaves the node (beneficiary name, ID number) */

typedef struct qs_enum_val {
    uint32_t code;     /* stable; what the wire and the database hold */
    const char *name;  /* ASCII, e.g. "casework" */
    const char *label; /* Chinese, e.g. "个案工作" */
} qs_enum_val;

typedef struct qs_enum {
    const char *name; /* e.g. "service_type" */
    const qs_enum_val *vals;
    uint32_t n;
} qs_enum;

typedef struct qs_field {
    uint32_t id;       /* stable body key, >= 1 */
    const char *name;  /* ASCII identifier */
    const char *label; /* Chinese label (CSV header alternative) */
    qs_ftype type;
    uint32_t flags;
    int64_t min, max;              /* INT/MONEY/DATE value bounds; TEXT byte length; lists: count */
    const qs_enum *en;             /* ENUM, ENUMSET */
    uint32_t ref_kind;             /* REF, REFLIST */
    qs_level min_level, max_level; /* CODE */
    /* A DIGESTS of at most 1 derived by the store, never typed (0: none):
     * whenever the TEXT field of this id is given, the store sets this field
     * to that text's pseudonym under the node's secret (qs_store_pseudonym),
     * replacing whatever the writer put there. */
    uint32_t pseudonym_of;
} qs_field;

#define QS_DUP_MAX 4 /* fields in a duplicate key (qs_kind.dup) */

struct qs_verrs;
struct qs_kind;
typedef void (*qs_kind_check_fn)(const struct qs_kind *k, const qs_body *b, struct qs_verrs *e);

typedef struct qs_kind {
    uint32_t id;                   /* stable */
    const char *name;              /* "service" */
    const char *label;             /* "服务记录" */
    qs_level min_level, max_level; /* the record's scope level range */
    bool local_only;               /* never in any feed (beneficiary) */
    const qs_field *fields;
    uint32_t nfields;
    qs_kind_check_fn check; /* cross-field rules (minors <= total, ...), may be NULL */
    /* How people name a record of this kind (0: by its id only): the id of
     * the field whose value a clerk types to refer to one (a station's
     * township code, a person's name) and sees for a reference to one. When
     * several live records share that value, key_from and key_to (INT fields
     * holding years; 0: none) single out the one whose years hold the current
     * year (a county's pairings, one after another). qs_store_find_key. */
    uint32_t key, key_from, key_to;
    /* Live records with equal values in all these fields (ids, 0-terminated)
     * are duplicates worth a warning at input; none for most kinds. Never a
     * refusal: the same work day may arrive from two places, and a unique
     * index would jam sync. qs_store_count_duplicates. */
    uint32_t dup[QS_DUP_MAX + 1];
} qs_kind;

enum qs_kind_id {
    QS_K_COUNTY = 1,
    QS_K_AGENCY = 2,
    QS_K_PAIRING = 3,
    QS_K_STATION = 10,
    QS_K_PERSON = 11,
    QS_K_WORKDAY = 12,
    QS_K_SERVICE = 13,
    QS_K_TRAINING = 14,
    QS_K_EXPENSE = 15,
    QS_K_OUTPUT = 16,
    QS_K_BENEFICIARY = 20,
};

/* Enumeration codes that code singles out (a report rule, a cross-field
 * check), by name: X(constant, enumeration, value name, code) for each value
 * some code names, never every value. The codes are schema.c's (stable, never
 * renumbered); test_schema checks every constant here against the value of
 * that name in that enumeration, so a constant cannot drift from the table.
 * Write QS_PERSON_ROLE_LOCAL, never 2. */
#define QS_ENUM_CODES(X)                                                                           \
    X(QS_AGENCY_ROLE_AIDING, "agency_role", "aiding", 1)                                           \
    X(QS_AGENCY_ROLE_RECEIVING, "agency_role", "receiving", 2)                                     \
    X(QS_PAIRING_TYPE_CROSS_PROVINCE, "pairing_type", "cross_province", 1)                         \
    X(QS_PAIRING_TYPE_IN_PROVINCE, "pairing_type", "in_province", 2)                               \
    X(QS_PERSON_ROLE_DISPATCHED, "person_role", "dispatched", 1)                                   \
    X(QS_PERSON_ROLE_LOCAL, "person_role", "local", 2)                                             \
    X(QS_PERSON_ROLE_SUPERVISOR, "person_role", "supervisor", 3)                                   \
    X(QS_WORK_MODE_ONSITE, "work_mode", "onsite", 1)                                               \
    X(QS_WORK_MODE_REMOTE, "work_mode", "remote", 2)                                               \
    X(QS_CERT_LEVEL_NONE, "cert_level", "none", 0)                                                 \
    X(QS_CERT_LEVEL_ASSISTANT, "cert_level", "assistant", 1)                                       \
    X(QS_CERT_LEVEL_SOCIAL_WORKER, "cert_level", "social_worker", 2)                               \
    X(QS_CERT_LEVEL_SENIOR, "cert_level", "senior", 3)                                             \
    X(QS_SERVICE_DOMAIN_ELDERLY, "service_domain", "elderly", 2)                                   \
    X(QS_CATEGORY_DIBAO, "beneficiary_category", "dibao", 1)                                       \
    X(QS_CATEGORY_EXTREME_POVERTY, "beneficiary_category", "extreme_poverty", 2)                   \
    X(QS_CATEGORY_DIBAO_MARGINAL, "beneficiary_category", "dibao_marginal", 3)                     \
    X(QS_CATEGORY_ORPHAN, "beneficiary_category", "orphan", 4)                                     \
    X(QS_CATEGORY_DE_FACTO_ORPHAN, "beneficiary_category", "de_facto_orphan", 5)                   \
    X(QS_CATEGORY_CHILD_IN_DIFFICULTY, "beneficiary_category", "child_in_difficulty", 6)           \
    X(QS_CATEGORY_LEFT_BEHIND_CHILD, "beneficiary_category", "left_behind_child", 7)               \
    X(QS_CATEGORY_LEFT_BEHIND_ELDERLY, "beneficiary_category", "left_behind_elderly", 8)           \
    X(QS_CATEGORY_ELDERLY_ALONE, "beneficiary_category", "elderly_alone", 10)                      \
    X(QS_CATEGORY_TEMPORARY_ASSISTANCE, "beneficiary_category", "temporary_assistance", 12)        \
    X(QS_CATEGORY_POVERTY_MONITORING, "beneficiary_category", "poverty_monitoring", 13)            \
    X(QS_TRAINING_TYPE_TRAINING, "training_type", "training", 1)                                   \
    X(QS_TRAINING_TYPE_SUPERVISION, "training_type", "supervision", 2)                             \
    X(QS_TRAINING_TYPE_GUIDANCE, "training_type", "guidance", 3)                                   \
    X(QS_DIRECTION_RECEIVED, "expense_direction", "received", 1)                                   \
    X(QS_DIRECTION_SPENT, "expense_direction", "spent", 2)                                         \
    X(QS_EXPENSE_CATEGORY_ACTIVITIES, "expense_category", "activities", 1)                         \
    X(QS_EXPENSE_CATEGORY_TRANSPORT, "expense_category", "transport", 2)                           \
    X(QS_EXPENSE_CATEGORY_MEALS, "expense_category", "meals", 3)                                   \
    X(QS_EXPENSE_CATEGORY_ALLOWANCE, "expense_category", "allowance", 4)                           \
    X(QS_EXPENSE_CATEGORY_INSURANCE, "expense_category", "insurance", 5)                           \
    X(QS_EXPENSE_CATEGORY_OTHER, "expense_category", "other", 6)                                   \
    X(QS_SOURCE_PROVINCIAL, "expense_source", "provincial", 1)                                     \
    X(QS_SOURCE_LOTTERY, "expense_source", "lottery", 2)                                           \
    X(QS_SOURCE_CHARITY, "expense_source", "charity", 3)                                           \
    X(QS_SOURCE_SELF, "expense_source", "self", 4)                                                 \
    X(QS_OUTPUT_TYPE_AGENCY, "output_type", "agency", 1)                                           \
    X(QS_OUTPUT_TYPE_DOCUMENT, "output_type", "document", 2)                                       \
    X(QS_OUTPUT_TYPE_BRAND, "output_type", "brand", 3)                                             \
    X(QS_GENDER_MALE, "gender", "male", 1)                                                         \
    X(QS_GENDER_FEMALE, "gender", "female", 2)

enum qs_enum_code {
#define QS_ENUM_CODE_(c, en, name, code) c = code,
    QS_ENUM_CODES(QS_ENUM_CODE_)
#undef QS_ENUM_CODE_
};

/* Lookup. NULL when unknown. Pointers are static, valid for the program's life. */
const qs_kind *qs_schema_kind(uint32_t id);
const qs_kind *qs_schema_kind_by_name(const char *name_or_label);
uint32_t qs_schema_nkinds(void);
const qs_kind *qs_schema_kind_at(uint32_t i);
const qs_field *qs_kind_field(const qs_kind *k, uint32_t id);
const qs_field *qs_kind_field_by_name(const qs_kind *k, const char *name_or_label);
const qs_enum_val *qs_enum_by_code(const qs_enum *e, uint32_t code);
/* The enumeration named name ("person_role"), as some field uses it; NULL if
 * no field does. */
const qs_enum *qs_schema_enum(const char *name);
/* The field a clerk names a record of kind k by (qs_kind.key), or NULL. */
const qs_field *qs_kind_key(const qs_kind *k);
/* Code, ASCII name, Chinese label, or one of the value's aliases: other
 * words accepted on input for it (the plan's own words: 中级社会工作师 and
 * 社工师 for 社会工作师, 活动费用 for 活动经费, 餐补 for 伙食补助, ...), never
 * shown. */
const qs_enum_val *qs_enum_lookup(const qs_enum *e, const char *text);
/* The aliases of value code of e: up to max of them into out; returns how
 * many there are. */
size_t qs_enum_aliases(const qs_enum *e, uint32_t code, const char **out, size_t max);

/* Tests only (one of the hooks listed in testhook.h): make qs_schema_kind(id)
 * return NULL, as in an older build that
 * does not know the kind (0 = know every kind again). */
void qs_schema_test_hide_kind(uint32_t id);

/* Validation: every error, each naming its field. */
#define QS_VERR_MAX 32
typedef struct qs_verr {
    uint32_t field;   /* field id, 0 for a record-level error */
    char name[32];    /* field name ("" for record-level) */
    char reason[160]; /* a sentence without the field: "must be greater than 0";
                         show it as "amount (金额): must be greater than 0",
                         the label from qs_kind_field(k, field) */
} qs_verr;
typedef struct qs_verrs {
    qs_verr e[QS_VERR_MAX];
    uint32_t n;       /* errors kept (<= QS_VERR_MAX) */
    uint32_t dropped; /* errors beyond QS_VERR_MAX */
} qs_verrs;

/* Add an error for field f (NULL: record-level); beyond QS_VERR_MAX it is
 * only counted in dropped. The reason is cut to fit on a UTF-8 boundary. */
void qs_verrs_add(qs_verrs *e, const qs_field *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Validate a body for kind k. A tombstone (deleted) is valid with any body.
 * Unknown field ids are accepted. Returns 0, or QS_EINVAL with every problem
 * in *errs (which the function clears first; errs may be NULL). If err is
 * not NULL it gets a one-line summary
 * "kind 标签: field (标签): reason; field (标签): reason". k == NULL gives
 * QS_ESCHEMA. */
int qs_schema_validate(const qs_kind *k, const qs_body *b, bool deleted, qs_verrs *errs,
                       qs_err *err);

/* Text forms, for the CLI, CSV import/export and reports.
 * parse: enums take code, name or label; dates YYYY-MM-DD; MONEY yuan with up
 * to two decimals ("1234.5", "1,234.50", "¥12", "12元") into fen; BOOL
 * 1/0/true/false/yes/no/是/否; REF a UUID; lists separated by ',' '，' '、'
 * or ';'; DIGESTS 32 hex chars each. The empty string parses to QS_V_NIL.
 * parse trims surrounding spaces (ASCII, U+3000, U+00A0), also '，' '；' as
 * separators; empty list items are skipped; ENUMSET comes out ascending and
 * unique, REFLIST/DIGESTS in order with repeats dropped. It checks the form
 * (a date that exists, a known enum value, at most 2 decimals, no negative
 * money, a count within max) and leaves bounds to qs_schema_validate. An enum
 * label "A/B" also matches "A" or "B"; names match case-insensitively. On
 * error err says "field (标签): "text" what is wrong"; *out is then NIL.
 * format: the inverse; enums as the Chinese label when labels is true, else
 * the ASCII name (an unknown code as its number); BOOL 是/否 or true/false;
 * money "1234.50"; lists joined with ','. Appends to out and leaves a NUL
 * after out->len (not counted). NIL appends nothing. Returns 0, QS_EINVAL
 * (value of the wrong form for f; out unchanged) or QS_ELIMIT. */
int qs_schema_parse(const qs_field *f, const char *text, qs_value *out, qs_err *err);
int qs_schema_format(const qs_field *f, const qs_value *v, bool labels, qs_buf *out);

/* The name of a field type ("text", "date", ...). */
const char *qs_ftype_name(qs_ftype t);

#endif
