/*
 * record.h — the record envelope, revisions and the winner rule.
 *
 * A revision is (generation, hash). generation = 1 + the highest parent
 * generation (1 for a new record). hash = the first 16 bytes of SHA-256 over
 * the revision input (proto/PROTOCOL-records.md "Revision hash"):
 *
 *   "qs-rev-1"                 8 ASCII bytes, domain separation
 *   gen                        u64 big-endian
 *   kind                       u32 big-endian
 *   id                         16 bytes
 *   scope_len, scope           u8, ASCII digits
 *   deleted                    u8 (0 or 1)
 *   nparents                   u32 big-endian
 *   parents, sorted ascending by (gen, hash): each u64 BE gen + 16-byte hash
 *   body_len, body             u32 big-endian, the canonical body bytes
 *
 * hlc, author, ancestry and schema are NOT hashed: they never decide anything.
 * Generations are bounded: at most QS_GEN_MAX = 2^53 - 1, far below the u64's
 * range, so that no chain of edits can wrap (PROTOCOL-records.md "Generation
 * bound"). The author is "NODE/USER", NODE a division code (qs_author_node).
 * Winner rule (everywhere the same): higher generation wins, then the higher
 * hash (memcmp). qs_rev_cmp orders revisions by it. SHA-256 comes from
 * OpenSSL's EVP interface; the fixed test vectors are in PROTOCOL-records.md
 * and tests/unit/test_record.c.
 */
#ifndef QS_RECORD_H
#define QS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/hlc.h"
#include "proto/limits.h"
#include "proto/scope.h"
#include "proto/uuid.h"

#define QS_HASH_LEN 16
#define QS_AUTHOR_MAX 96 /* "632322/zhangsan" */

/* The highest generation a revision may have: 2^53 - 1 (inclusive). It fits
 * SQLite's signed 64-bit integers and is exact as a JSON number (an IEEE
 * double) in any language; 2^53 edits of one record are out of reach (a
 * million a second for 285 years). A revision at QS_GEN_MAX is valid but is
 * the last: nothing can name it as a parent (edit, delete, resolve). */
#define QS_GEN_MAX ((UINT64_C(1) << 53) - 1)

typedef struct qs_rev {
    uint64_t gen;
    uint8_t hash[QS_HASH_LEN];
} qs_rev;

typedef struct qs_record {
    uint8_t id[QS_ID_LEN];
    uint32_t kind;
    char scope[QS_CODE_MAX];
    qs_rev rev;
    qs_rev *parents; /* owned; after qs_record_seal sorted ascending */
    uint32_t nparents;
    uint8_t (*ancestry)[QS_HASH_LEN]; /* owned: earlier revision hashes, newest first */
    uint32_t nancestry;
    qs_hlc hlc;
    char author[QS_AUTHOR_MAX];
    bool deleted;
    uint32_t schema; /* schema version the author wrote with */
    uint8_t *body;   /* owned canonical body bytes */
    uint32_t body_len;
} qs_record;

void qs_record_init(qs_record *r);
void qs_record_free(qs_record *r); /* frees owned arrays; r may be re-inited */
void qs_record_copy(qs_record *dst, const qs_record *src); /* deep copy */

/* Set parents / ancestry / body (copies the input). */
void qs_record_set_parents(qs_record *r, const qs_rev *p, uint32_t n);
void qs_record_set_ancestry(qs_record *r, const uint8_t (*a)[QS_HASH_LEN], uint32_t n);
void qs_record_set_body(qs_record *r, const uint8_t *body, uint32_t n);

/* Winner order: <0 if a loses to b, 0 if equal, >0 if a wins. */
int qs_rev_cmp(const qs_rev *a, const qs_rev *b);
bool qs_rev_eq(const qs_rev *a, const qs_rev *b);

/* Compute the revision hash of r from its fields (parents need not be sorted;
 * the function sorts a copy). Does not modify r. */
void qs_rev_hash(const qs_record *r, uint8_t out[QS_HASH_LEN]);

/* Sort parents, set rev.gen = 1 + max parent gen (1 without parents) and
 * rev.hash. Call after every field that is hashed has its final value. */
void qs_record_seal(qs_record *r);

/* Verify a received record, in this order: valid scope code (qs_code_valid);
 * parents within lim->max_parents, each with a generation >= 1 and below
 * QS_GEN_MAX (one at QS_GEN_MAX or past it: QS_ELIMIT, no edit may follow
 * it), no hash listed twice; the record's own generation <= QS_GEN_MAX
 * (QS_ELIMIT); ancestry within lim->max_ancestry; body within lim->max_body
 * and a canonical map (qs_body_decode; a tombstone carries a map too, usually
 * the empty map 0x80, never zero bytes); generation = 1 + max parent
 * generation; hash recomputed equal. Returns 0, or with a sentence in err:
 * QS_ELIMIT (a limit crossed), QS_EINVAL (malformed: scope, parents, body),
 * QS_EHASH (generation or hash does not verify). Does not look at the schema
 * (see qs_schema_validate), the author, nor the write/visibility rules
 * (qs_scope_*). */
int qs_record_verify(const qs_record *r, const qs_limits *lim, qs_err *err);

/* The node part of an author "NODE/USER": NODE must be a valid division code
 * (qs_code_valid) and be followed by '/'; what follows is the local user and
 * is not looked at. Copies NODE into node (size >= QS_CODE_MAX) and returns
 * 0, or QS_EINVAL (node set to ""). author is read up to QS_AUTHOR_MAX bytes.
 * Whose records an author may name is the store's rule (store.h). */
int qs_author_node(const char *author, char node[QS_CODE_MAX]);

/* Text form of a revision: "<gen>-<32 lower-case hex>" into buf (>= QS_REV_STR),
 * gen in decimal; returns buf. Parse accepts exactly that form (gen >= 1, no
 * sign or leading zero, lower-case hex): 0 or QS_EINVAL (out untouched). */
#define QS_REV_STR 56
char *qs_rev_format(const qs_rev *r, char *buf);
int qs_rev_parse(const char *s, qs_rev *out);

#endif
