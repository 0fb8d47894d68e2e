#include "proto/hlc.h"

#include <stdio.h>
#include <time.h>

/* The physical part is 48 bits; readings outside it are clamped. */
#define HLC_MS_MAX ((INT64_C(1) << (64 - QS_HLC_LOGICAL_BITS)) - 1)

static int64_t clamp_ms(int64_t ms)
{
    return ms < 0 ? 0 : ms > HLC_MS_MAX ? HLC_MS_MAX : ms;
}

/* (l, c) -> reading, carrying a logical overflow into the ms part. */
static qs_hlc make_carry(int64_t l, uint64_t c)
{
    if (c > QS_HLC_LOGICAL_MAX) {
        l++;
        c = 0;
    }
    return qs_hlc_make(l, (uint32_t)c);
}

qs_hlc qs_hlc_now(qs_hlc *state, int64_t wall_ms)
{
    int64_t l_old = qs_hlc_ms(*state);
    int64_t pt = clamp_ms(wall_ms);
    qs_hlc h;
    if (pt > l_old)
        h = qs_hlc_make(pt, 0);
    else
        h = make_carry(l_old, (uint64_t)qs_hlc_logical(*state) + 1);
    *state = h;
    return h;
}

qs_hlc qs_hlc_recv(qs_hlc *state, qs_hlc remote, int64_t wall_ms, int64_t max_offset_ms,
                   int64_t *skew_ms, bool *rejected)
{
    int64_t l_m = qs_hlc_ms(remote);
    int64_t skew = l_m - wall_ms;
    bool reject = skew > max_offset_ms;
    if (skew_ms)
        *skew_ms = skew;
    if (rejected)
        *rejected = reject;
    if (reject)
        return qs_hlc_now(state, wall_ms);

    int64_t l_old = qs_hlc_ms(*state);
    uint64_t c_old = qs_hlc_logical(*state), c_m = qs_hlc_logical(remote);
    int64_t pt = clamp_ms(wall_ms);
    int64_t l = l_old > l_m ? l_old : l_m;
    if (pt > l)
        l = pt;
    uint64_t c;
    if (l == l_old && l == l_m)
        c = (c_old > c_m ? c_old : c_m) + 1;
    else if (l == l_old)
        c = c_old + 1;
    else if (l == l_m)
        c = c_m + 1;
    else
        c = 0;
    *state = make_carry(l, c);
    return *state;
}

char *qs_hlc_format(qs_hlc h, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    int64_t ms = qs_hlc_ms(h);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        buf[0] = '\0';
        return buf;
    }
    uint32_t logical = qs_hlc_logical(h);
    int w = snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    if (logical && w > 0 && (size_t)w < n)
        snprintf(buf + w, n - (size_t)w, "+%u", logical);
    return buf;
}
