/*
 * limits.h — every size that comes from outside has a maximum fixed at start-up.
 *
 * One struct carries them all; the daemon fills it from its config, tests and
 * fuzzers from qs_limits_default(). Decoders check sizes against these before
 * they allocate anything.
 */
#ifndef QS_LIMITS_H
#define QS_LIMITS_H

#include <stdint.h>

typedef struct qs_limits {
    uint32_t max_frame;    /* bytes of one frame payload as sent (compressed or not) */
    uint32_t max_payload;  /* bytes of one payload after decompression */
    uint32_t max_str;      /* bytes of one msgpack str or bin */
    uint32_t max_array;    /* elements of one msgpack array or map */
    uint32_t max_depth;    /* nesting depth of containers (top-level map = depth 1) */
    uint32_t max_objects;  /* msgpack objects in one payload, containers included */
    uint32_t max_batch;    /* records in one PUSH/CHANGES batch */
    uint32_t max_body;     /* bytes of one record body */
    uint32_t max_ancestry; /* K: ancestry hashes carried with one record */
    uint32_t max_parents;  /* parents of one revision */
} qs_limits;

/* Sensible defaults: 16 MiB frames and payloads, 1 MiB strings, 65536 elements,
 * depth 16, 2,000,000 objects, 1000 records a batch, 256 KiB bodies,
 * K = 256 ancestry, 16 parents. */
qs_limits qs_limits_default(void);

/* The number of bytes a decoder may allocate for one payload under these
 * limits (upper bound used by the allocation tests). */
uint64_t qs_limits_alloc_bound(const qs_limits *l);

#endif
