#include "proto/mpcheck.h"

#include <string.h>

#define MP_MAX_DEPTH 64 /* hard ceiling on lim->max_depth */

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode the header at buf[pos]: the bytes the header itself takes (hdr), the
 * payload bytes that follow it (skip) and, for containers, the number of
 * child objects (elems). Returns 0 or QS_EINVAL on truncation or 0xc1. */
static int header(const uint8_t *buf, size_t len, size_t pos, size_t *hdr, uint64_t *skip,
                  uint64_t *elems, int *container, int *strlike)
{
    uint8_t b = buf[pos];
    size_t left = len - pos - 1; /* bytes after the type byte */
    *skip = 0;
    *elems = 0;
    *container = 0;
    *strlike = 0;
    *hdr = 1;
#define NEED(n)                                                                                    \
    do {                                                                                           \
        if (left < (n))                                                                            \
            return QS_EINVAL;                                                                      \
    } while (0)
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;
    if (b >= 0x80 && b <= 0x8f) {
        *elems = 2u * (b & 0x0f);
        *container = 1;
        return 0;
    }
    if (b >= 0x90 && b <= 0x9f) {
        *elems = b & 0x0f;
        *container = 1;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        *skip = b & 0x1f;
        *strlike = 1;
        return 0;
    }
    const uint8_t *p = buf + pos + 1;
    /* one line a type byte, as the spec's table */
    /* clang-format off */
    switch (b) {
    case 0xc4: case 0xd9: NEED(1); *hdr = 2; *skip = p[0]; *strlike = 1; return 0;
    case 0xc5: case 0xda: NEED(2); *hdr = 3; *skip = be16(p); *strlike = 1; return 0;
    case 0xc6: case 0xdb: NEED(4); *hdr = 5; *skip = be32(p); *strlike = 1; return 0;
    case 0xc7: NEED(2); *hdr = 3; *skip = p[0]; *strlike = 1; return 0;
    case 0xc8: NEED(3); *hdr = 4; *skip = be16(p); *strlike = 1; return 0;
    case 0xc9: NEED(5); *hdr = 6; *skip = be32(p); *strlike = 1; return 0;
    case 0xca: *skip = 4; return 0;
    case 0xcb: *skip = 8; return 0;
    case 0xcc: case 0xd0: *skip = 1; return 0;
    case 0xcd: case 0xd1: *skip = 2; return 0;
    case 0xce: case 0xd2: *skip = 4; return 0;
    case 0xcf: case 0xd3: *skip = 8; return 0;
    case 0xd4: *skip = 2; return 0;
    case 0xd5: *skip = 3; return 0;
    case 0xd6: *skip = 5; return 0;
    case 0xd7: *skip = 9; return 0;
    case 0xd8: *skip = 17; return 0;
    case 0xdc: NEED(2); *hdr = 3; *elems = be16(p); *container = 1; return 0;
    case 0xdd: NEED(4); *hdr = 5; *elems = be32(p); *container = 1; return 0;
    case 0xde: NEED(2); *hdr = 3; *elems = 2ull * be16(p); *container = 1; return 0;
    case 0xdf: NEED(4); *hdr = 5; *elems = 2ull * be32(p); *container = 1; return 0;
    default: return QS_EINVAL; /* 0xc1, never used */
    }
    /* clang-format on */
#undef NEED
}

/* The walk behind qs_mp_check. *slots = the msgpack_object slots msgpack-c's
 * unpacker will allocate for the containers (map entries count twice). */
static int walk(const uint8_t *buf, size_t len, const qs_limits *lim, uint64_t *slots, qs_err *err)
{
    uint64_t stack[MP_MAX_DEPTH + 1];
    uint32_t max_depth = lim->max_depth < MP_MAX_DEPTH ? lim->max_depth : MP_MAX_DEPTH;
    size_t depth = 0; /* open containers */
    uint64_t objects = 0;
    size_t pos = 0;
    uint64_t root = 1; /* items left at top level */

    *slots = 0;

    if (len == 0)
        return qs_err_set(err, QS_EINVAL, "empty msgpack payload");
    while (root) {
        if (pos >= len)
            return qs_err_set(err, QS_EINVAL, "msgpack payload truncated at byte %zu", pos);
        size_t hdr;
        uint64_t skip, elems;
        int container, strlike;
        if (header(buf, len, pos, &hdr, &skip, &elems, &container, &strlike))
            return qs_err_set(err, QS_EINVAL, "malformed msgpack at byte %zu (0x%02x)", pos,
                              buf[pos]);
        if (++objects > lim->max_objects)
            return qs_err_set(err, QS_ELIMIT, "more than %u msgpack objects", lim->max_objects);
        pos += hdr;
        if (strlike && skip > lim->max_str)
            return qs_err_set(err, QS_ELIMIT, "string of %llu bytes exceeds the limit of %u",
                              (unsigned long long)skip, lim->max_str);
        if (skip > len - pos)
            return qs_err_set(err, QS_EINVAL, "msgpack value at byte %zu runs past the end",
                              pos - hdr);
        pos += skip;
        if (container) {
            uint64_t count = elems; /* maps: 2 × pairs */
            if ((buf[pos - hdr] & 0xf0) == 0x80 || buf[pos - hdr] == 0xde ||
                buf[pos - hdr] == 0xdf) {
                if (count / 2 > lim->max_array)
                    return qs_err_set(err, QS_ELIMIT, "map of %llu entries exceeds the limit of %u",
                                      (unsigned long long)(count / 2), lim->max_array);
            } else if (count > lim->max_array) {
                return qs_err_set(err, QS_ELIMIT, "array of %llu elements exceeds the limit of %u",
                                  (unsigned long long)count, lim->max_array);
            }
            if (count > len - pos)
                return qs_err_set(err, QS_EINVAL,
                                  "container at byte %zu claims %llu elements with %zu bytes left",
                                  pos - hdr, (unsigned long long)count, len - pos);
            if (depth + 1 > max_depth)
                return qs_err_set(err, QS_ELIMIT, "nesting deeper than %u", max_depth);
            *slots += count;
            if (count > 0) {
                stack[depth++] = count;
                continue;
            }
        }
        /* One item complete: close every container it completes. */
        for (;;) {
            if (depth == 0) {
                root--;
                break;
            }
            if (--stack[depth - 1] > 0)
                break;
            depth--;
        }
    }
    if (pos != len)
        return qs_err_set(err, QS_EINVAL, "%zu trailing bytes after the msgpack object", len - pos);
    return 0;
}

int qs_mp_check(const uint8_t *buf, size_t len, const qs_limits *lim, qs_err *err)
{
    uint64_t slots;
    return walk(buf, len, lim, &slots, err);
}

int qs_mp_unpack(const uint8_t *buf, size_t len, const qs_limits *lim, msgpack_zone *zone,
                 msgpack_object *out, qs_err *err)
{
    uint64_t slots;
    int rc = walk(buf, len, lim, &slots, err);
    if (rc)
        return rc;
    /* msgpack-c's zone grows in chunks of chunk_size, doubled until a request
     * fits, and abandons the rest of a chunk a request does not fit: crafted
     * container sizes (just over half a chunk each) make it use twice the
     * bytes it needs. The walk knows the exact need (slots <= max_objects), so
     * make the next chunk big enough for all of it: the zone then holds at
     * most its first chunk plus slots × sizeof(msgpack_object). */
    size_t chunk = zone->chunk_size;
    size_t need = (size_t)slots * sizeof(msgpack_object) + 64;
    if (need > zone->chunk_size)
        zone->chunk_size = need;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack((const char *)buf, len, &off, zone, out);
    zone->chunk_size = chunk;
    if (r != MSGPACK_UNPACK_SUCCESS || off != len)
        return qs_err_set(err, QS_EINVAL, "msgpack unpack failed (%d)", (int)r);
    return 0;
}

const msgpack_object *qs_mp_map_get(const msgpack_object *map, uint64_t key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER && k->via.u64 == key)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

int qs_mp_get_u64(const msgpack_object *map, uint64_t key, uint64_t *out, qs_err *err)
{
    const msgpack_object *v = qs_mp_map_get(map, key);
    if (!v)
        return qs_err_set(err, QS_ENOTFOUND, "key %llu missing", (unsigned long long)key);
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return qs_err_set(err, QS_EINVAL, "key %llu: expected an unsigned integer",
                          (unsigned long long)key);
    *out = v->via.u64;
    return 0;
}

int qs_mp_get_bin(const msgpack_object *map, uint64_t key, const uint8_t **p, uint32_t *n,
                  qs_err *err)
{
    const msgpack_object *v = qs_mp_map_get(map, key);
    if (!v)
        return qs_err_set(err, QS_ENOTFOUND, "key %llu missing", (unsigned long long)key);
    if (v->type != MSGPACK_OBJECT_BIN)
        return qs_err_set(err, QS_EINVAL, "key %llu: expected bytes", (unsigned long long)key);
    *p = (const uint8_t *)v->via.bin.ptr;
    *n = v->via.bin.size;
    return 0;
}

int qs_mp_get_str(const msgpack_object *map, uint64_t key, const char **p, uint32_t *n, qs_err *err)
{
    const msgpack_object *v = qs_mp_map_get(map, key);
    if (!v)
        return qs_err_set(err, QS_ENOTFOUND, "key %llu missing", (unsigned long long)key);
    if (v->type != MSGPACK_OBJECT_STR)
        return qs_err_set(err, QS_EINVAL, "key %llu: expected a string", (unsigned long long)key);
    *p = v->via.str.ptr;
    *n = v->via.str.size;
    return 0;
}
