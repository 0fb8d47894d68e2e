/*
 * body.h — record bodies: a msgpack map in canonical form.
 *
 * Canonical form: a map whose keys are the schema's numeric field ids (positive
 * integers) in strictly ascending order (so no duplicates), each key and value
 * in its shortest msgpack encoding (what msgpack-c's packer produces: the
 * smallest int/str/bin/array/map header that holds it). Values of fields this
 * node does not know keep their ids and their bytes, in the same order.
 *
 * The canonical bytes are what is hashed, stored and forwarded; qs_body is the
 * decoded view. A body is canonical iff decode + encode gives back the same bytes.
 */
#ifndef QS_BODY_H
#define QS_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/limits.h"

typedef enum qs_vtype {
    QS_V_NIL = 0,
    QS_V_BOOL,
    QS_V_INT,   /* any integer that fits int64 */
    QS_V_STR,   /* UTF-8 text (validated by the schema, not here) */
    QS_V_BIN,   /* bytes (e.g. a 16-byte record id) */
    QS_V_ARRAY, /* array of values */
    QS_V_RAW,   /* any other msgpack object (float, map, ext, uint > INT64_MAX),
                   kept as its exact encoded bytes */
} qs_vtype;

typedef struct qs_value {
    qs_vtype t;
    union {
        bool b;
        int64_t i;
        struct {
            char *p; /* owned; STR is NUL-terminated (n excludes the NUL) */
            uint32_t n;
        } s; /* STR, BIN, RAW */
        struct {
            struct qs_value *v; /* owned */
            uint32_t n;
        } a; /* ARRAY */
    } u;
} qs_value;

typedef struct qs_bfield {
    uint32_t id;
    qs_value v;
} qs_bfield;

typedef struct qs_body {
    qs_bfield *f; /* owned, ascending by id */
    size_t n;
    size_t cap; /* room in f */
} qs_body;

/* Value constructors; STR/BIN copy their input. */
qs_value qs_v_int(int64_t i);
qs_value qs_v_bool(bool b);
qs_value qs_v_str(const char *s); /* NUL-terminated */
qs_value qs_v_strn(const char *s, size_t n);
qs_value qs_v_bin(const void *p, size_t n);
qs_value qs_v_array(size_t n); /* n NIL elements to fill in */
void qs_value_free(qs_value *v);
qs_value qs_value_dup(const qs_value *v);
bool qs_value_eq(const qs_value *a, const qs_value *b);

void qs_body_init(qs_body *b);
void qs_body_free(qs_body *b);
/* Set field id to v (taking ownership of v), replacing any old value; keeps
 * the fields sorted. */
void qs_body_set(qs_body *b, uint32_t id, qs_value v);
/* Remove field id if present. */
void qs_body_unset(qs_body *b, uint32_t id);
/* The field's value or NULL. Valid until the body is changed. */
const qs_value *qs_body_get(const qs_body *b, uint32_t id);

/* Canonical encoding of b appended to out. */
int qs_body_encode(const qs_body *b, qs_buf *out, qs_err *err);
/* Decode canonical bytes (checked with qs_mp_check under lim and
 * lim->max_body). Rejects non-canonical input (unsorted or duplicate keys,
 * non-integer or zero keys, non-shortest encodings) with QS_EINVAL. */
int qs_body_decode(const uint8_t *p, size_t n, const qs_limits *lim, qs_body *out, qs_err *err);

#endif
