/*
 * scope.h — node identity, scope prefixes and the write/visibility rules.
 *
 * A node id / scope is a GB/T 2260 administrative division code: 6 digits
 * (province 630000, prefecture 632300, county 632322) or 9 digits (a township
 * station, 632322100). "000000" is the national node.
 *
 * Prefix: a 6-digit code drops trailing "00" pairs (630000 -> "63",
 * 632300 -> "6323", 632322 -> "632322", 000000 -> ""); a 9-digit code is its
 * own prefix.
 *
 * Write rule: node N may write a record of scope S iff prefix(N) is a prefix of S.
 * Visibility: node N receives a record of scope S iff prefix(S) is a prefix of N
 * (an ancestor's data) or prefix(N) is a prefix of S (its own subtree).
 * Each kind has a fixed scope level (schema.h): reference kinds are
 * province-level, county kinds are county- or township-level.
 */
#ifndef QS_SCOPE_H
#define QS_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#define QS_CODE_MAX 16 /* buffer size for a code: 9 digits + NUL, with room */

typedef enum qs_level {
    QS_LEVEL_NATION = 0,     /* 000000 */
    QS_LEVEL_PROVINCE = 1,   /* xx0000 */
    QS_LEVEL_PREFECTURE = 2, /* xxxx00 */
    QS_LEVEL_COUNTY = 3,     /* xxxxxx, last pair != 00 */
    QS_LEVEL_TOWNSHIP = 4,   /* 9 digits */
} qs_level;

/* True iff s is a well-formed code: 6 or 9 ASCII digits and nothing else.
 * A 6-digit code starts with a GB/T 2260 province pair (11..82, the 34
 * provincial-level units; 00 only in 000000, the nation), and its pairs may
 * be 00 only as trailing pairs: 630100, 632322 and 500101 are valid; 630022
 * is not (a 00 pair before a non-00 one), nor is 600100 (no province 60).
 * A 9-digit code is a valid county-level 6-digit code (last pair not 00)
 * followed by 3 digits that are not 000. */
bool qs_code_valid(const char *s);

/* The level of a valid code; -1 if invalid. */
int qs_code_level(const char *s);

/* Write the prefix of a valid code into out (size >= QS_CODE_MAX). Returns
 * its length, or -1 if the code is invalid. */
int qs_code_prefix(const char *code, char *out, size_t n);

/* The subtree of a code as a half-open range of scope texts [lo, hi): lo is
 * its prefix, hi the prefix with its last digit raised by one ("6323" ->
 * "6324"; '9' -> ':', which still sorts after every digit), so that
 * `scope >= lo AND scope < hi` walks an index over the subtree only. Returns
 * the prefix length; 0 for the nation (everything: lo = hi = ""), -1 for an
 * invalid code (lo = hi = "": an empty range). */
int qs_scope_range(const char *code, char lo[QS_CODE_MAX], char hi[QS_CODE_MAX]);

/* The rules above. Both return false for invalid codes. */
bool qs_scope_can_write(const char *node, const char *scope);
bool qs_scope_visible(const char *node, const char *scope);

/* True iff child is a node strictly below parent in the tree: both codes
 * are valid, prefix(parent) is a prefix of child, and prefix(child) is
 * longer (632322 and 632322100 are below 630000; 630000, 620000, 000000 and
 * 63 codes at the parent's own level are not). A parent accepts only such
 * nodes as children, and a child only such a parent (PROTOCOL-session.md). */
bool qs_node_is_below(const char *parent, const char *child);

/* True iff a record of a kind whose level range is [min_level, max_level]
 * may have this scope. */
bool qs_scope_level_ok(const char *scope, qs_level min_level, qs_level max_level);

#endif
