/* proto/sha256.c: our SHA-256 and HMAC-SHA-256 against the FIPS 180-4 and
 * RFC 4231 vectors, and against OpenSSL on 4,000 random messages fed in
 * random pieces — each through the portable C and, where the CPU has them,
 * the SHA extensions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/sha256.h"

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void expect_sha(const void *msg, size_t n, const char *want)
{
    uint8_t md[32];
    char got[65];
    qs_sha256(msg, n, md);
    hex(md, 32, got);
    assert_string_equal(got, want);
}

/* Each implementation the machine has; the test runs its body for each. */
static int impls(int out[2])
{
    int n = 0;
    out[n++] = 1;
    if (qs__sha256_impl(2) == 0)
        out[n++] = 2;
    return n;
}

static void test_fips_vectors(void **state)
{
    (void)state;
    int use[2], n = impls(use);
    for (int i = 0; i < n; i++) {
        assert_int_equal(qs__sha256_impl(use[i]), 0);
        expect_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        expect_sha(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        expect_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        {
            qs_sha256_ctx c; /* an empty piece (NULL, as an empty body is) mid-block */
            uint8_t md[32];
            char got[65];
            qs_sha256_init(&c);
            qs_sha256_update(&c, "ab", 2);
            qs_sha256_update(&c, NULL, 0);
            qs_sha256_update(&c, "c", 1);
            qs_sha256_final(&c, md);
            hex(md, 32, got);
            assert_string_equal(got,
                                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        }
        const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        expect_sha(m448, strlen(m448),
                   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                           "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
        expect_sha(m896, strlen(m896),
                   "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
        /* one million 'a', fed in uneven pieces */
        qs_sha256_ctx c;
        qs_sha256_init(&c);
        char a[1024]; /* pieces are 1..1003 bytes */
        memset(a, 'a', sizeof a);
        size_t left = 1000000, piece = 1;
        while (left) {
            size_t k = piece < left ? piece : left;
            qs_sha256_update(&c, a, k);
            left -= k;
            piece = piece % 997 + 7;
        }
        uint8_t md[32];
        char got[65];
        qs_sha256_final(&c, md);
        hex(md, 32, got);
        assert_string_equal(got,
                            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
    qs__sha256_impl(0);
}

static void expect_hmac(const void *key, size_t klen, const void *msg, size_t n, const char *want)
{
    uint8_t md[32];
    char got[65];
    qs_hmac_sha256(key, klen, msg, n, md);
    hex(md, 32, got);
    assert_string_equal(got, want);
}

static void test_rfc4231_vectors(void **state)
{
    (void)state;
    uint8_t k20[20], k131[131], d50[50];
    memset(k20, 0x0b, sizeof k20);
    expect_hmac(k20, 20, "Hi There", 8,
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    expect_hmac("Jefe", 4, "what do ya want for nothing?", 28,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(k20, 0xaa, sizeof k20);
    memset(d50, 0xdd, sizeof d50);
    expect_hmac(k20, 20, d50, 50,
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    /* keys longer than a block are hashed first */
    memset(k131, 0xaa, sizeof k131);
    const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    expect_hmac(k131, 131, t6, strlen(t6),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *t7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    expect_hmac(k131, 131, t7, strlen(t7),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* Messages of every length across the block and padding boundaries (and
 * some long ones), each fed in random pieces, and HMAC with random keys of
 * 0-200 bytes: the same bytes as OpenSSL. */
static void test_same_as_openssl(void **state)
{
    (void)state;
    enum { MAX = 3000 };
    uint8_t *msg = malloc(MAX), key[200];
    srand(42);
    for (int i = 0; i < MAX; i++)
        msg[i] = (uint8_t)rand();
    int use[2], n = impls(use);
    for (int u = 0; u < n; u++) {
        assert_int_equal(qs__sha256_impl(use[u]), 0);
        for (int t = 0; t < 2000; t++) {
            size_t len = t < 300 ? (size_t)t : (size_t)rand() % MAX;
            uint8_t ours[32], theirs[32];
            unsigned int hl = 0;
            qs_sha256_ctx c;
            qs_sha256_init(&c);
            for (size_t off = 0; off < len;) {
                size_t k = 1 + (size_t)rand() % 150;
                if (k > len - off)
                    k = len - off;
                qs_sha256_update(&c, msg + off, k);
                off += k;
            }
            qs_sha256_final(&c, ours);
            assert_int_equal(EVP_Digest(msg, len, theirs, &hl, EVP_sha256(), NULL), 1);
            assert_memory_equal(ours, theirs, 32);

            size_t klen = (size_t)rand() % sizeof key;
            for (size_t i = 0; i < klen; i++)
                key[i] = (uint8_t)rand();
            qs_hmac_sha256(key, klen, msg, len, ours);
            HMAC(EVP_sha256(), key, (int)klen, msg, len, theirs, &hl);
            assert_memory_equal(ours, theirs, 32);
        }
    }
    qs__sha256_impl(0);
    free(msg);
}

/* The context is wiped by final: no part of the message stays behind. */
static void test_final_wipes(void **state)
{
    (void)state;
    qs_sha256_ctx c, zero;
    memset(&zero, 0, sizeof zero);
    qs_sha256_init(&c);
    qs_sha256_update(&c, "secret id number", 16);
    uint8_t md[32];
    qs_sha256_final(&c, md);
    assert_memory_equal(&c, &zero, sizeof c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_rfc4231_vectors),
        cmocka_unit_test(test_same_as_openssl),
        cmocka_unit_test(test_final_wipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
