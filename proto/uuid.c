#include "proto/uuid.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "proto/err.h"

#define MS_MAX ((INT64_C(1) << 48) - 1)
#define COUNTER_BITS 12

/* The last (ms << 12 | counter) handed out by this process. The 12 rand_a
 * bits are a counter (RFC 9562 6.2 method 1): seeded randomly with its top
 * bit clear in a new ms, incremented within one ms; an overflow carries into
 * the ms field, so ids stay strictly increasing even if the wall clock stalls
 * or steps back. */
static _Atomic uint64_t last_stamp;

/* Random bits come from the kernel (getrandom), a pool per thread refilled
 * 512 bytes at a time: OpenSSL's RAND would cost a short-lived CLI process
 * more than the rest of its work (DRBG and provider set-up on first use).
 * The pool is dropped in a forked child, so parent and child never hand out
 * the same bits. */
#define POOL_LEN 512

static _Atomic unsigned fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static _Thread_local struct {
    uint8_t b[POOL_LEN];
    size_t used;
    unsigned gen;
} pool = {.used = POOL_LEN};

static void on_fork_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
}

static void watch_forks(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

static void fill(uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            /* Like running out of memory: nothing sensible to return. */
            fprintf(stderr, "qianshou: getrandom failed: %s\n", strerror(errno));
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

void qs_random_bytes(uint8_t *p, size_t n)
{
    pthread_once(&atfork_once, watch_forks);
    unsigned gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    if (n > POOL_LEN / 4) {
        fill(p, n);
        return;
    }
    if (pool.gen != gen || pool.used + n > POOL_LEN) {
        fill(pool.b, POOL_LEN);
        pool.used = 0;
        pool.gen = gen;
    }
    memcpy(p, pool.b + pool.used, n);
    memset(pool.b + pool.used, 0, n);
    pool.used += n;
}

void qs_uuid7(uint8_t out[QS_ID_LEN], int64_t wall_ms)
{
    uint8_t rnd[10];
    qs_random_bytes(rnd, sizeof rnd);
    uint64_t ms = (uint64_t)(wall_ms < 0 ? 0 : wall_ms > MS_MAX ? MS_MAX : wall_ms);
    uint64_t seed = ((uint64_t)rnd[0] << 8 | rnd[1]) & 0x7ff;

    uint64_t old = atomic_load(&last_stamp), next;
    do {
        if (ms > old >> COUNTER_BITS)
            next = ms << COUNTER_BITS | seed;
        else
            next = old + 1;
    } while (!atomic_compare_exchange_weak(&last_stamp, &old, next));

    uint64_t t = next >> COUNTER_BITS;
    uint32_t counter = (uint32_t)(next & 0xfff);
    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(t >> (40 - 8 * i));
    out[6] = (uint8_t)(0x70 | counter >> 8);
    out[7] = (uint8_t)counter;
    out[8] = (uint8_t)(0x80 | (rnd[2] & 0x3f));
    for (int i = 9; i < QS_ID_LEN; i++)
        out[i] = rnd[i - 6];
}

static const char hexdig[] = "0123456789abcdef";

char *qs_hex(const uint8_t *p, size_t n, char *buf)
{
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = hexdig[p[i] >> 4];
        buf[2 * i + 1] = hexdig[p[i] & 15];
    }
    buf[2 * n] = '\0';
    return buf;
}

int qs_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly 2n hex digits from s (no terminator check); out untouched on error. */
static int unhex_n(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < 2 * n; i++)
        if (qs_hexval(s[i]) < 0)
            return QS_EINVAL;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(qs_hexval(s[2 * i]) << 4 | qs_hexval(s[2 * i + 1]));
    return 0;
}

int qs_unhex(const char *s, uint8_t *out, size_t n)
{
    if (!s)
        return QS_EINVAL;
    /* Check the length without reading past a short string. */
    for (size_t i = 0; i < 2 * n; i++)
        if (s[i] == '\0')
            return QS_EINVAL;
    if (s[2 * n] != '\0')
        return QS_EINVAL;
    return unhex_n(s, out, n);
}

/* Byte groups of the 8-4-4-4-12 form. */
static const size_t groups[] = {4, 2, 2, 2, 6};

char *qs_uuid_format(const uint8_t id[QS_ID_LEN], char *buf)
{
    char *w = buf;
    const uint8_t *p = id;
    for (size_t g = 0; g < 5; g++) {
        if (g)
            *w++ = '-';
        qs_hex(p, groups[g], w);
        w += 2 * groups[g];
        p += groups[g];
    }
    return buf;
}

int qs_uuid_parse(const char *s, uint8_t out[QS_ID_LEN])
{
    uint8_t tmp[QS_ID_LEN];
    if (!s)
        return QS_EINVAL;
    const char *r = s;
    uint8_t *p = tmp;
    for (size_t g = 0; g < 5; g++) {
        if (g && *r++ != '-')
            return QS_EINVAL;
        for (size_t i = 0; i < 2 * groups[g]; i++)
            if (r[i] == '\0')
                return QS_EINVAL;
        if (unhex_n(r, p, groups[g]))
            return QS_EINVAL;
        r += 2 * groups[g];
        p += groups[g];
    }
    if (*r != '\0')
        return QS_EINVAL;
    for (size_t i = 0; i < QS_ID_LEN; i++)
        out[i] = tmp[i];
    return 0;
}
