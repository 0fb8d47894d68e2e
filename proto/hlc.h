/*
 * hlc.h — hybrid logical clock (Kulkarni et al.), 64 bits:
 *   high 48 bits = wall time in ms since the epoch, low 16 bits = logical counter.
 *
 * The HLC stamps edits for display, audit and skew detection. No clock ever
 * decides a conflict winner. The state is a single qs_hlc; the store persists
 * it so the CLI and the daemon on one node share one clock. Pure functions:
 * the caller passes the wall reading (qs_clock_wall_ms()).
 */
#ifndef QS_HLC_H
#define QS_HLC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t qs_hlc;

#define QS_HLC_LOGICAL_BITS 16
#define QS_HLC_LOGICAL_MAX 0xffffu

static inline int64_t qs_hlc_ms(qs_hlc h)
{
    return (int64_t)(h >> QS_HLC_LOGICAL_BITS);
}
static inline uint32_t qs_hlc_logical(qs_hlc h)
{
    return (uint32_t)(h & QS_HLC_LOGICAL_MAX);
}
static inline qs_hlc qs_hlc_make(int64_t ms, uint32_t logical)
{
    return ((qs_hlc)ms << QS_HLC_LOGICAL_BITS) | (logical & QS_HLC_LOGICAL_MAX);
}

/* Local or send event: returns the new reading, strictly greater than *state,
 * and stores it in *state. When the logical counter would overflow, the ms
 * part is advanced by one. A wall reading outside 0..2^48-1 ms is clamped. */
qs_hlc qs_hlc_now(qs_hlc *state, int64_t wall_ms);

/* Receive event for a remote reading. Otherwise the new reading is the
 * maximum of the local state, the remote reading and the wall, with the
 * logical counter advanced as in the paper; it is stored and returned. If the
 * remote physical time is more than max_offset_ms ahead of wall_ms, the state
 * is NOT advanced by it (a local event, qs_hlc_now), *rejected is set true and
 * that local reading returned. *rejected (if not NULL) is set false otherwise.
 * *skew_ms (if not NULL) = remote physical ms - wall_ms (positive = remote ahead). */
qs_hlc qs_hlc_recv(qs_hlc *state, qs_hlc remote, int64_t wall_ms, int64_t max_offset_ms,
                   int64_t *skew_ms, bool *rejected);

/* Format as "2026-11-28T23:44:07.123Z+5" (UTC; logical part after '+',
 * omitted when 0) into buf of n bytes (QS_HLC_STR always suffices; a shorter
 * buffer gets a truncated, NUL-terminated string). Returns buf. */
#define QS_HLC_STR 32
char *qs_hlc_format(qs_hlc h, char *buf, size_t n);

#endif
