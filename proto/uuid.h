/*
 * uuid.h — UUIDv7 record ids (RFC 9562): 48-bit ms timestamp, version 7,
 * 74 random bits. Time-ordered keys keep B-tree inserts local.
 */
#ifndef QS_UUID_H
#define QS_UUID_H

#include <stddef.h>
#include <stdint.h>

#define QS_ID_LEN 16
#define QS_UUID_STR 37 /* 36 chars + NUL */

/* New UUIDv7 for the given wall time (ms); randomness from the kernel (getrandom)
 * (a failure aborts, like running out of memory). The 12 rand_a bits are a
 * counter seeded randomly at each new ms (RFC 9562 6.2, method 1). Ids made by
 * one process are strictly increasing (memcmp), from any thread: in the same
 * ms, and also when wall_ms stalls or steps back (the last ms is reused) or
 * the counter overflows (the ms field advances by one). */
void qs_uuid7(uint8_t out[QS_ID_LEN], int64_t wall_ms);

/* n bytes from the kernel's CSPRNG (getrandom), through a per-thread pool that a
 * forked child drops; aborts if the kernel cannot give them. */
void qs_random_bytes(uint8_t *p, size_t n);
/* Lower-case 8-4-4-4-12 form into buf (QS_UUID_STR bytes). Returns buf. */
char *qs_uuid_format(const uint8_t id[QS_ID_LEN], char *buf);
/* Parse the 36-char form (case-insensitive), any version. 0 or QS_EINVAL
 * (out untouched). */
int qs_uuid_parse(const char *s, uint8_t out[QS_ID_LEN]);

/* Hex helpers used for hashes: 2*n lower-case chars + NUL into buf (returns
 * buf); parse exactly 2*n hex digits (either case) and nothing more, 0 or
 * QS_EINVAL (out untouched). */
char *qs_hex(const uint8_t *p, size_t n, char *buf);
int qs_unhex(const char *s, uint8_t *out, size_t n);
/* The value of one hex digit (either case), or -1. */
int qs_hexval(char c);

#endif
