/*
 * sha256.h — SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), our own.
 *
 * Why not libcrypto: the command-line tool needs nothing else from it, and
 * loading libcrypto (4 MB, 21,000 relocations, its start-up) cost a
 * one-record `qianshou add` about 4 ms of its ~12. The daemon still links
 * OpenSSL for TLS; every revision hash, digest and pseudonym in the product
 * goes through here, so both tools agree by construction.
 *
 * On x86-64 CPUs with the SHA extensions the block function uses them (as
 * OpenSSL does); elsewhere portable C. Both are checked against the FIPS and
 * RFC 4231 vectors and against OpenSSL in tests/unit/test_sha256.c.
 */
#ifndef QS_SHA256_H
#define QS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define QS_SHA256_LEN 32
#define QS_SHA256_BLOCK 64

typedef struct {
    uint32_t h[8];
    uint64_t len;                 /* bytes hashed so far */
    uint8_t buf[QS_SHA256_BLOCK]; /* a partial block */
    size_t nbuf;
} qs_sha256_ctx;

void qs_sha256_init(qs_sha256_ctx *c);
void qs_sha256_update(qs_sha256_ctx *c, const void *p, size_t n);
/* Writes the digest and wipes the context. */
void qs_sha256_final(qs_sha256_ctx *c, uint8_t out[QS_SHA256_LEN]);
void qs_sha256(const void *p, size_t n, uint8_t out[QS_SHA256_LEN]);

/* HMAC-SHA-256; keys longer than a block are hashed first (RFC 2104). The
 * key's padded copies are wiped before returning. */
void qs_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                    uint8_t out[QS_SHA256_LEN]);

/* Tests only: 0 = choose by CPU (the default), 1 = portable C, 2 = the SHA
 * extensions (returns -1, changing nothing, when the CPU lacks them). */
int qs__sha256_impl(int which);

#endif
