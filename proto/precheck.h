/*
 * precheck.h — the checks of a received record that need nothing stored.
 *
 * Before a receiver looks at its tables it checks, in this order: the
 * record itself (qs_record_verify: scope code, parents, generation bound,
 * ancestry, canonical body, hash); its kind (unknown: PARKED; local-only:
 * refused); the scope rules against the sender (from a child: the child may
 * write the scope; from the parent: the scope is visible to this node); the
 * author (NODE/USER: NODE is the child or below it when from a child, and
 * may write the record's scope either way); the kind's scope level; and,
 * unless it is a deletion, the body against the schema. Stateless: any
 * thread may run them (the daemon's loop thread does, while the store
 * thread works on the previous batch); the store runs the same function for
 * a record nobody checked ahead, so both give one outcome and one reason.
 * The reasons repeat only what the sender sent (PROTOCOL-records.md).
 */
#ifndef QS_PRECHECK_H
#define QS_PRECHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/body.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "proto/record.h"

typedef enum qs_direction {
    QS_FROM_CHILD = 1,  /* a PUSH: the sender must be allowed to write each record */
    QS_FROM_PARENT = 2, /* CHANGES: each record must be visible to this node */
} qs_direction;

/* Verdicts. AUTHOR: refused for its author (not hashed) alone; the store
 * still calls it a duplicate if it holds that revision already (a relayed
 * copy of what it accepted). */
enum { QS_PRE_NONE = 0, QS_PRE_OK, QS_PRE_REJECTED, QS_PRE_PARKED, QS_PRE_AUTHOR };

/* The checks above for r, received by node (its id) from peer in direction
 * dir under lim. Returns the verdict (QS_PRE_OK..AUTHOR); for REJECTED,
 * PARKED and AUTHOR a sentence in reason. body: room for the decoded body
 * (initialised by the caller, freed by the caller), filled for OK unless
 * r is a deletion. */
int qs_precheck_check(const char *node, const qs_limits *lim, const char *peer, qs_direction dir,
                      const qs_record *r, qs_body *body, char reason[QS_REASON_MAX]);

/* The same, kept for the store: verdict, reason (owned) and, with
 * keep_body, the decoded body (~0.5 KiB a record) so the apply does not
 * decode it again. Free with qs_precheck_free on the thread that made it. */
typedef struct qs_precheck {
    uint8_t verdict; /* QS_PRE_*: NONE = not checked, the store checks it all */
    bool has_body;   /* OK: body holds the decoded, validated body */
    char *reason;    /* REJECTED, AUTHOR: why (owned) */
    qs_body body;
} qs_precheck;

void qs_precheck_run(const char *node, const qs_limits *lim, const char *peer, qs_direction dir,
                     const qs_record *r, bool keep_body, qs_precheck *out);
void qs_precheck_free(qs_precheck *p);

#endif
