/*
 * mpcheck.h — walk a msgpack buffer before unpacking it.
 *
 * msgpack-c's unpacker allocates count × sizeof(msgpack_object) as soon as it
 * reads an array or map header, with no limits of its own (the five bytes
 * dd ff ff ff ff ask for ~96 GB). qs_mp_check walks the encoded bytes without
 * allocating and rejects:
 *   - a container count larger than the bytes left (each element takes >= 1 byte),
 *   - a count above limits->max_array, a str/bin/ext above limits->max_str,
 *   - nesting deeper than limits->max_depth,
 *   - more than limits->max_objects objects in total,
 *   - truncation, the reserved byte 0xc1, and trailing bytes after the object.
 * qs_mp_unpack runs the check, then msgpack_unpack into the caller's zone.
 */
#ifndef QS_MPCHECK_H
#define QS_MPCHECK_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/limits.h"

/* Check that buf[0..len) holds exactly one msgpack object within the limits.
 * Returns 0, QS_EINVAL (malformed, truncated, trailing bytes) or QS_ELIMIT. */
int qs_mp_check(const uint8_t *buf, size_t len, const qs_limits *lim, qs_err *err);

/* qs_mp_check, then unpack into zone. *out points into zone and into buf
 * (str/bin are not copied, not NUL-terminated): both must outlive its use.
 * The zone grows by at most one chunk holding every container's objects, so
 * it stays within its first chunk + objects × sizeof(msgpack_object). */
int qs_mp_unpack(const uint8_t *buf, size_t len, const qs_limits *lim, msgpack_zone *zone,
                 msgpack_object *out, qs_err *err);

/* Small accessors for maps with integer keys. They return NULL when the key
 * is absent. */
const msgpack_object *qs_mp_map_get(const msgpack_object *map, uint64_t key);

/* Typed getters: 0 on success, QS_ENOTFOUND when absent, QS_EINVAL on a wrong
 * type (the message names the key via ctx). */
int qs_mp_get_u64(const msgpack_object *map, uint64_t key, uint64_t *out, qs_err *err);
int qs_mp_get_bin(const msgpack_object *map, uint64_t key, const uint8_t **p, uint32_t *n,
                  qs_err *err);
int qs_mp_get_str(const msgpack_object *map, uint64_t key, const char **p, uint32_t *n,
                  qs_err *err);

#endif
