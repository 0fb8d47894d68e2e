#include "proto/limits.h"

#include <msgpack.h>

#include "proto/record.h"

qs_limits qs_limits_default(void)
{
    qs_limits l = {
        .max_frame = 16u << 20,
        .max_payload = 16u << 20,
        .max_str = 1u << 20,
        .max_array = 65536,
        .max_depth = 16,
        .max_objects = 2000000,
        .max_batch = 1000,
        .max_body = 256u << 10,
        .max_ancestry = 256,
        .max_parents = 16,
    };
    return l;
}

uint64_t qs_limits_alloc_bound(const qs_limits *l)
{
    /* One frame buffered, its decompressed payload, and msgpack-c's zone:
     * one msgpack_object per object (strings point into the payload). */
    /* ... plus what msg.c copies out of it: at most the payload's bytes again
     * (bodies, strings) and the record structs of one batch. */
    return (uint64_t)l->max_frame + 2ull * l->max_payload +
           (uint64_t)l->max_objects * sizeof(msgpack_object) +
           (uint64_t)l->max_batch * sizeof(qs_record) + (1u << 20);
}
