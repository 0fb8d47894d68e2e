/* test_record.c — revision hash vectors, verification, the winner rule. */
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/body.h"
#include "proto/buf.h"
#include "proto/record.h"

/* ---- fixtures ------------------------------------------------------------ */

static const uint8_t ID[QS_ID_LEN] = {0x01, 0x9a, 0xcd, 0x0e, 0x2f, 0x53, 0x7a, 0xbc,
                                      0x8d, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
static const qs_rev PARENT_A = {1,
                                {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                                 0xbb, 0xcc, 0xdd, 0xee, 0xff}};
static const uint8_t OTHER_HASH[QS_HASH_LEN] = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
                                                0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

/* Body 1, a valid service (kind 13) body: {1 date: 20251128, 4 service_type:
 * 4 (visit), 5 domain: 2 (elderly), 7 total: 200, 12 content: "入户探访"}. */
static void body1(qs_buf *out)
{
    qs_body b;
    qs_body_init(&b);
    qs_body_set(&b, 12, qs_v_str("\xe5\x85\xa5\xe6\x88\xb7\xe6\x8e\xa2\xe8\xae\xbf"));
    qs_body_set(&b, 1, qs_v_int(20251128));
    qs_body_set(&b, 7, qs_v_int(200));
    qs_body_set(&b, 4, qs_v_int(4));
    qs_body_set(&b, 5, qs_v_int(2));
    qs_buf_init(out, 0);
    assert_int_equal(qs_body_encode(&b, out, NULL), 0);
    qs_body_free(&b);
}

/* Body 2, also a valid service body: {1: 20251128, 4: 4, 5: 2, 7: 240}. */
static void body2(qs_buf *out)
{
    qs_body b;
    qs_body_init(&b);
    qs_body_set(&b, 1, qs_v_int(20251128));
    qs_body_set(&b, 4, qs_v_int(4));
    qs_body_set(&b, 5, qs_v_int(2));
    qs_body_set(&b, 7, qs_v_int(240));
    qs_buf_init(out, 0);
    assert_int_equal(qs_body_encode(&b, out, NULL), 0);
    qs_body_free(&b);
}

static void set_body(qs_record *r, void (*make)(qs_buf *))
{
    qs_buf b;
    make(&b);
    qs_record_set_body(r, b.data, (uint32_t)b.len);
    qs_buf_free(&b);
}

static void base(qs_record *r)
{
    qs_record_init(r);
    memcpy(r->id, ID, QS_ID_LEN);
    r->kind = 13;
    strcpy(r->scope, "632322");
    r->hlc = qs_hlc_make(INT64_C(1764373447123), 0);
    strcpy(r->author, "632322/zhangsan");
    r->schema = 1;
}

/* Vector "new": no parents, body 1. */
static void make_new(qs_record *r)
{
    base(r);
    set_body(r, body1);
    qs_record_seal(r);
}

/* Vector "edit": one parent PARENT_A, body 1. */
static void make_edit(qs_record *r)
{
    base(r);
    qs_record_set_parents(r, &PARENT_A, 1);
    set_body(r, body1);
    qs_record_seal(r);
}

/* Vector "tombstone": parent = the edit's revision, deleted, empty map. */
static void make_tombstone(qs_record *r)
{
    qs_record e;
    make_edit(&e);
    base(r);
    qs_record_set_parents(r, &e.rev, 1);
    r->deleted = true;
    static const uint8_t empty_map[] = {0x80};
    qs_record_set_body(r, empty_map, 1);
    qs_record_seal(r);
    qs_record_free(&e);
}

/* Vector "merge": parents (2, OTHER_HASH) and the edit's revision (both
 * generation 2, listed here in descending order), body 2. */
static void make_merge(qs_record *r)
{
    qs_record e;
    make_edit(&e);
    base(r);
    qs_rev p[2] = {{2, {0}}, e.rev};
    memcpy(p[0].hash, OTHER_HASH, QS_HASH_LEN);
    qs_record_set_parents(r, p, 2);
    set_body(r, body2);
    qs_record_seal(r);
    qs_record_free(&e);
}

/* ---- an independent implementation of the preimage layout ---------------- */

static void be(qs_buf *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        assert_int_equal(qs_buf_append(b, &c, 1), 0);
    }
}

/* parents must be given already in ascending (gen, hash) order */
static void preimage(qs_buf *b, uint64_t gen, const qs_record *r, const qs_rev *sorted)
{
    qs_buf_init(b, 0);
    qs_buf_append(b, "qs-rev-1", 8);
    be(b, gen, 8);
    be(b, r->kind, 4);
    qs_buf_append(b, r->id, QS_ID_LEN);
    be(b, strlen(r->scope), 1);
    qs_buf_append(b, r->scope, strlen(r->scope));
    be(b, r->deleted, 1);
    be(b, r->nparents, 4);
    for (uint32_t i = 0; i < r->nparents; i++) {
        be(b, sorted[i].gen, 8);
        qs_buf_append(b, sorted[i].hash, QS_HASH_LEN);
    }
    be(b, r->body_len, 4);
    qs_buf_append(b, r->body, r->body_len);
}

static void sha256_16(const qs_buf *b, uint8_t out[QS_HASH_LEN])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(b->data, b->len, md, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(n, 32);
    memcpy(out, md, QS_HASH_LEN);
}

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
    printf("    %-9s ", label);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

/* ---- vectors ------------------------------------------------------------- */

static const struct vector {
    const char *name;
    void (*make)(qs_record *);
    uint64_t gen;
    const char *rev; /* computed by this code, quoted in PROTOCOL-records.md */
} vectors[] = {
    {"new", make_new, 1, "1-1f07d5a248c46758550b05e0d5b13b0e"},
    {"edit", make_edit, 2, "2-90f180878c093e3057fbb3c16aa9b6a8"},
    {"tombstone", make_tombstone, 3, "3-4cbc87028afd0b0bb44f84562a2306d0"},
    {"merge", make_merge, 3, "3-b177098be76cac5d9eeb0d7de959457a"},
};

static void test_vectors(void **state)
{
    (void)state;
    qs_limits lim = qs_limits_default();
    for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
        qs_record r;
        vectors[v].make(&r);
        assert_int_equal(r.rev.gen, vectors[v].gen);

        /* The layout, built by hand here, hashes to what qs_rev_hash computes. */
        qs_buf pre;
        preimage(&pre, r.rev.gen, &r, r.parents); /* seal sorted the parents */
        uint8_t h[QS_HASH_LEN];
        sha256_16(&pre, h);
        assert_memory_equal(h, r.rev.hash, QS_HASH_LEN);

        char text[QS_REV_STR];
        qs_rev_format(&r.rev, text);
        printf("vector %s: rev %s\n", vectors[v].name, text);
        print_hex("id", r.id, QS_ID_LEN);
        print_hex("body", r.body, r.body_len);
        for (uint32_t i = 0; i < r.nparents; i++) {
            qs_rev_format(&r.parents[i], text);
            printf("    parent    %s\n", text);
        }
        print_hex("preimage", pre.data, pre.len);
        qs_buf_free(&pre);

        qs_rev_format(&r.rev, text);
        if (strcmp(text, vectors[v].rev) != 0)
            fail_msg("vector %s: rev %s, documented %s", vectors[v].name, text, vectors[v].rev);
        qs_err err = {0};
        if (qs_record_verify(&r, &lim, &err) != 0)
            fail_msg("vector %s does not verify: %s", vectors[v].name, err.msg);
        qs_record_free(&r);
    }
}

static void test_same_edit_twice(void **state)
{
    (void)state;
    qs_record a, b;
    make_edit(&a);
    /* Built again from scratch, with everything that is not hashed changed. */
    base(&b);
    b.hlc = qs_hlc_make(INT64_C(1800000000000), 42);
    strcpy(b.author, "632322/lisi");
    b.schema = 7;
    uint8_t anc[3][QS_HASH_LEN] = {{1}, {2}, {3}};
    qs_record_set_ancestry(&b, (const uint8_t(*)[QS_HASH_LEN])anc, 3);
    qs_record_set_parents(&b, &PARENT_A, 1);
    set_body(&b, body1);
    qs_record_seal(&b);
    assert_true(qs_rev_eq(&a.rev, &b.rev));
    /* A different edit of the same record differs. */
    qs_record c;
    make_edit(&c);
    set_body(&c, body2);
    qs_record_seal(&c);
    assert_false(qs_rev_eq(&a.rev, &c.rev));
    assert_int_equal(c.rev.gen, a.rev.gen);
    qs_record_free(&a);
    qs_record_free(&b);
    qs_record_free(&c);
}

static void test_parent_order(void **state)
{
    (void)state;
    qs_record m, n;
    make_merge(&m);
    /* The same merge with the parents listed the other way round. */
    qs_record_copy(&n, &m);
    qs_rev swapped[2] = {m.parents[1], m.parents[0]};
    qs_record_set_parents(&n, swapped, 2);
    uint8_t h[QS_HASH_LEN];
    qs_rev_hash(&n, h);
    assert_memory_equal(h, m.rev.hash, QS_HASH_LEN);
    assert_true(qs_rev_eq(&n.parents[0], &swapped[0])); /* qs_rev_hash leaves r alone */
    qs_record_seal(&n);
    assert_true(qs_rev_eq(&n.rev, &m.rev));
    assert_true(qs_rev_cmp(&n.parents[0], &n.parents[1]) < 0); /* seal sorted them */
    /* An unsorted received record still verifies. */
    qs_record_set_parents(&n, swapped, 2);
    qs_limits lim = qs_limits_default();
    assert_int_equal(qs_record_verify(&n, &lim, NULL), 0);
    qs_record_free(&m);
    qs_record_free(&n);
}

/* ---- forgeries and invalid records --------------------------------------- */

static void forge_gen_up(qs_record *r)
{
    r->rev.gen++;
}
static void forge_gen_zero(qs_record *r)
{
    r->rev.gen = 0;
}
static void forge_hash(qs_record *r)
{
    r->rev.hash[15] ^= 1;
}
static void forge_parent_hash(qs_record *r)
{
    r->parents[0].hash[0] ^= 0x80;
}
static void forge_parent_gen(qs_record *r)
{
    /* Claim a later parent and the generation that goes with it: the
     * generation is consistent, the hash is not. */
    r->parents[0].gen += 5;
    r->rev.gen += 5;
}
static void forge_drop_parent(qs_record *r)
{
    qs_record_set_parents(r, NULL, 0);
    r->rev.gen = 1;
}
static void forge_body(qs_record *r)
{
    set_body(r, body2);
}
static void forge_scope(qs_record *r)
{
    strcpy(r->scope, "632323");
}
static void forge_kind(qs_record *r)
{
    r->kind = 14;
}
static void forge_deleted(qs_record *r)
{
    r->deleted = !r->deleted;
}
static void forge_id(qs_record *r)
{
    r->id[15] ^= 1;
}
static void unhashed_hlc(qs_record *r)
{
    r->hlc += 99;
}
static void unhashed_author(qs_record *r)
{
    strcpy(r->author, "630000/admin");
}
static void unhashed_schema(qs_record *r)
{
    r->schema = 99;
}
static void unhashed_ancestry(qs_record *r)
{
    uint8_t a[1][QS_HASH_LEN] = {{9}};
    qs_record_set_ancestry(r, (const uint8_t(*)[QS_HASH_LEN])a, 1);
}

static void body_bytes(qs_record *r, const char *bytes, size_t n)
{
    qs_record_set_body(r, (const uint8_t *)bytes, (uint32_t)n);
    qs_record_seal(r); /* the author hashed it: only the body is at fault */
}
static void bad_body_long_int(qs_record *r)
{
    body_bytes(r, "\x81\x01\xcc\x01", 4);
}
static void bad_body_unsorted(qs_record *r)
{
    body_bytes(r, "\x82\x02\x01\x01\x01", 5);
}
static void bad_body_dup(qs_record *r)
{
    body_bytes(r, "\x82\x01\x01\x01\x02", 5);
}
static void bad_body_zero_key(qs_record *r)
{
    body_bytes(r, "\x81\x00\x01", 3);
}
static void bad_body_not_map(qs_record *r)
{
    body_bytes(r, "\x91\x01", 2);
}
static void bad_body_empty(qs_record *r)
{
    body_bytes(r, "", 0);
}
static void bad_body_trailing(qs_record *r)
{
    body_bytes(r, "\x80\x80", 2);
}
static void bad_body_long_map(qs_record *r)
{
    body_bytes(r, "\xde\x00\x01\x01\x01", 5);
}
static void bad_scope(qs_record *r)
{
    strcpy(r->scope, "632322000");
    qs_record_seal(r);
}
static void bad_scope_empty(qs_record *r)
{
    r->scope[0] = '\0';
    qs_record_seal(r);
}
static void bad_scope_unterminated(qs_record *r)
{
    memset(r->scope, '6', sizeof r->scope);
}
static void bad_parent_gen0(qs_record *r)
{
    r->parents[0].gen = 0;
    qs_record_seal(r);
}
static void bad_dup_parent(qs_record *r)
{
    qs_rev p[2] = {r->parents[0], r->parents[0]};
    qs_record_set_parents(r, p, 2);
    qs_record_seal(r);
}
static void bad_too_many_parents(qs_record *r)
{
    qs_rev p[17];
    for (int i = 0; i < 17; i++) {
        p[i].gen = 1;
        memset(p[i].hash, i + 1, QS_HASH_LEN);
    }
    qs_record_set_parents(r, p, 17);
    qs_record_seal(r);
}
static void bad_too_much_ancestry(qs_record *r)
{
    uint8_t(*a)[QS_HASH_LEN] = calloc(257, QS_HASH_LEN);
    qs_record_set_ancestry(r, (const uint8_t(*)[QS_HASH_LEN])a, 257);
    free(a);
}
static void ok_max_ancestry(qs_record *r)
{
    uint8_t(*a)[QS_HASH_LEN] = calloc(256, QS_HASH_LEN);
    qs_record_set_ancestry(r, (const uint8_t(*)[QS_HASH_LEN])a, 256);
    free(a);
}
static void ok_max_parents(qs_record *r)
{
    qs_rev p[16];
    for (int i = 0; i < 16; i++) {
        p[i].gen = (uint64_t)i + 1;
        memset(p[i].hash, i + 1, QS_HASH_LEN);
    }
    qs_record_set_parents(r, p, 16);
    qs_record_seal(r);
}

/* Generations near the bound (QS_GEN_MAX = 2^53 - 1) and near 2^64: each
 * sealed by its author, so the hash is right and only the bound can stop it. */
static void parent_gen(qs_record *r, uint64_t gen)
{
    r->parents[0].gen = gen;
    qs_record_seal(r);
}
static void gen_near_2_64(qs_record *r)
{
    parent_gen(r, UINT64_MAX - 2);
}
static void gen_wraps(qs_record *r)
{
    parent_gen(r, UINT64_MAX);
} /* seal wraps to 0 */
static void gen_parent_at_bound(qs_record *r)
{
    parent_gen(r, QS_GEN_MAX);
}
static void gen_parent_past_bound(qs_record *r)
{
    parent_gen(r, QS_GEN_MAX + 1);
}
static void gen_last(qs_record *r)
{
    parent_gen(r, QS_GEN_MAX - 1);
}
static void gen_one_parent_past(qs_record *r)
{
    qs_rev p[2] = {r->parents[0], {UINT64_C(1) << 62, {7}}};
    qs_record_set_parents(r, p, 2);
    qs_record_seal(r);
}
static void gen_claimed_past(qs_record *r)
{
    qs_record_set_parents(r, NULL, 0); /* a new record claiming a huge generation */
    r->rev.gen = QS_GEN_MAX + 1;
    qs_rev_hash(r, r->rev.hash);
}

static const struct forgery {
    const char *what;
    void (*change)(qs_record *);
    int rc;
    const char *says; /* a word the message must contain */
} forgeries[] = {
    {"generation raised", forge_gen_up, QS_EHASH, "generation"},
    {"generation zero", forge_gen_zero, QS_EHASH, "generation"},
    {"hash altered", forge_hash, QS_EHASH, "does not match"},
    {"parent hash altered", forge_parent_hash, QS_EHASH, "does not match"},
    {"parent and generation raised together", forge_parent_gen, QS_EHASH, "does not match"},
    {"parent dropped, generation 1", forge_drop_parent, QS_EHASH, "does not match"},
    {"body replaced", forge_body, QS_EHASH, "does not match"},
    {"scope changed", forge_scope, QS_EHASH, "does not match"},
    {"kind changed", forge_kind, QS_EHASH, "does not match"},
    {"deleted flipped", forge_deleted, QS_EHASH, "does not match"},
    {"id changed", forge_id, QS_EHASH, "does not match"},
    {"hlc changed (not hashed)", unhashed_hlc, 0, NULL},
    {"author changed (not hashed)", unhashed_author, 0, NULL},
    {"schema changed (not hashed)", unhashed_schema, 0, NULL},
    {"ancestry changed (not hashed)", unhashed_ancestry, 0, NULL},
    {"ancestry at the limit", ok_max_ancestry, 0, NULL},
    {"parents at the limit", ok_max_parents, 0, NULL},
    {"body int not shortest", bad_body_long_int, QS_EINVAL, "canonical"},
    {"body keys unsorted", bad_body_unsorted, QS_EINVAL, "ascending"},
    {"body key twice", bad_body_dup, QS_EINVAL, "ascending"},
    {"body key zero", bad_body_zero_key, QS_EINVAL, "field id"},
    {"body not a map", bad_body_not_map, QS_EINVAL, "not a map"},
    {"body empty", bad_body_empty, QS_EINVAL, "body"},
    {"body trailing bytes", bad_body_trailing, QS_EINVAL, "body"},
    {"body map16 header for 1 entry", bad_body_long_map, QS_EINVAL, "canonical"},
    {"scope not a code", bad_scope, QS_EINVAL, "632322000"},
    {"scope empty", bad_scope_empty, QS_EINVAL, "scope"},
    {"scope unterminated", bad_scope_unterminated, QS_EINVAL, "scope"},
    {"parent generation 0", bad_parent_gen0, QS_EINVAL, "generation"},
    {"parent twice", bad_dup_parent, QS_EINVAL, "twice"},
    {"17 parents", bad_too_many_parents, QS_ELIMIT, "17 parents"},
    {"257 ancestry hashes", bad_too_much_ancestry, QS_ELIMIT, "257"},
    {"parent generation 2^64 - 3", gen_near_2_64, QS_ELIMIT, "18446744073709551613"},
    {"parent generation 2^64 - 1 (wraps)", gen_wraps, QS_ELIMIT, "2^53 - 1"},
    {"parent at the bound 2^53 - 1", gen_parent_at_bound, QS_ELIMIT, "9007199254740991"},
    {"parent just past the bound", gen_parent_past_bound, QS_ELIMIT, "9007199254740992"},
    {"one of two parents past the bound", gen_one_parent_past, QS_ELIMIT, "2^53 - 1"},
    {"generation past the bound, no parents", gen_claimed_past, QS_ELIMIT, "past the limit"},
    {"generation at the bound (the last)", gen_last, 0, NULL},
};

static void test_forgeries(void **state)
{
    (void)state;
    qs_limits lim = qs_limits_default();
    for (size_t i = 0; i < sizeof forgeries / sizeof forgeries[0]; i++) {
        const struct forgery *f = &forgeries[i];
        qs_record r;
        make_edit(&r);
        f->change(&r);
        qs_err err = {0};
        int rc = qs_record_verify(&r, &lim, &err);
        if (rc != f->rc)
            fail_msg("%s: verify returned %d (%s), want %d", f->what, rc, err.msg, f->rc);
        if (f->says && !strstr(err.msg, f->says))
            fail_msg("%s: message \"%s\" does not say \"%s\"", f->what, err.msg, f->says);
        if (rc)
            printf("  %-40s -> %s\n", f->what, err.msg);
        qs_record_free(&r);
    }
}

static void test_limits_configured(void **state)
{
    (void)state;
    qs_limits lim = qs_limits_default();
    qs_record m;
    make_merge(&m);
    qs_err err = {0};
    assert_int_equal(qs_record_verify(&m, &lim, &err), 0);
    lim.max_parents = 1;
    assert_int_equal(qs_record_verify(&m, &lim, &err), QS_ELIMIT);
    assert_non_null(strstr(err.msg, "limit of 1"));
    lim = qs_limits_default();
    lim.max_body = m.body_len;
    assert_int_equal(qs_record_verify(&m, &lim, &err), 0);
    lim.max_body = m.body_len - 1;
    assert_int_equal(qs_record_verify(&m, &lim, &err), QS_ELIMIT);
    assert_non_null(strstr(err.msg, "body"));
    lim = qs_limits_default();
    lim.max_ancestry = 0;
    assert_int_equal(qs_record_verify(&m, &lim, &err), 0);
    uint8_t a[1][QS_HASH_LEN] = {{1}};
    qs_record_set_ancestry(&m, (const uint8_t(*)[QS_HASH_LEN])a, 1);
    assert_int_equal(qs_record_verify(&m, &lim, &err), QS_ELIMIT);
    qs_record_free(&m);
}

/* The bound: below both SQLite's int64 and a double's exact integers. */
static void test_generation_bound(void **state)
{
    (void)state;
    assert_true(QS_GEN_MAX == UINT64_C(9007199254740991));
    assert_true(QS_GEN_MAX <= (uint64_t)INT64_MAX);
    assert_true((uint64_t)(double)QS_GEN_MAX == QS_GEN_MAX);
    assert_true((double)(QS_GEN_MAX + 1) == (double)(QS_GEN_MAX + 2)); /* why not higher */
    /* An edit of the last generation is sealed (seal does not check) and
     * refused; the revision at the bound itself verifies. */
    qs_record r;
    make_edit(&r);
    gen_last(&r);
    qs_limits lim = qs_limits_default();
    assert_int_equal(qs_record_verify(&r, &lim, NULL), 0);
    assert_true(r.rev.gen == QS_GEN_MAX);
    qs_rev last = r.rev;
    qs_record_set_parents(&r, &last, 1);
    qs_record_seal(&r);
    qs_err err = {0};
    assert_int_equal(qs_record_verify(&r, &lim, &err), QS_ELIMIT);
    assert_non_null(strstr(err.msg, "no edit may follow"));
    qs_record_free(&r);
}

/* The author's node: "NODE/USER" with NODE a valid division code. */
static void test_author_node(void **state)
{
    (void)state;
    static const struct {
        const char *author, *node; /* node NULL: malformed */
    } t[] = {
        {"632322/zhangsan", "632322"},
        {"632322100/station", "632322100"},
        {"630000/province-admin", "630000"},
        {"000000/nation", "000000"},
        {"632322/", "632322"},    /* the user is the node's business */
        {"632322/a/b", "632322"}, /* the first '/' ends the node */
        {"632322/用户", "632322"},
        {"", NULL},
        {"zhangsan", NULL},
        {"632322", NULL}, /* no user part at all */
        {"/zhangsan", NULL},
        {"63232/x", NULL},
        {"630022/x", NULL}, /* not a division code */
        {"632322000/x", NULL},
        {"6323221000/x", NULL},
        {"632322 /x", NULL},
        {" 632322/x", NULL},
        {"0123456789012345678/x", NULL}, /* longer than any code */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char node[QS_CODE_MAX] = "junk";
        int rc = qs_author_node(t[i].author, node);
        if (rc != (t[i].node ? 0 : QS_EINVAL))
            fail_msg("author \"%s\": rc %d", t[i].author, rc);
        assert_string_equal(node, t[i].node ? t[i].node : "");
    }
    /* Not NUL-terminated within QS_AUTHOR_MAX: read no further. */
    char big[QS_AUTHOR_MAX + 8];
    memset(big, '6', sizeof big);
    big[sizeof big - 1] = '\0';
    char node[QS_CODE_MAX];
    assert_int_equal(qs_author_node(big, node), QS_EINVAL);
}

/* ---- winner rule and text form ------------------------------------------- */

static qs_rev rv(uint64_t gen, uint8_t first, uint8_t last)
{
    qs_rev r = {.gen = gen};
    memset(r.hash, 0x55, QS_HASH_LEN);
    r.hash[0] = first;
    r.hash[QS_HASH_LEN - 1] = last;
    return r;
}

static void test_winner_table(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint64_t ga;
        uint8_t fa, la;
        uint64_t gb;
        uint8_t fb, lb;
        int want; /* sign: >0 a wins */
    } t[] = {
        {"higher generation wins over a higher hash", 3, 0x00, 0x00, 2, 0xff, 0xff, 1},
        {"lower generation loses", 2, 0xff, 0xff, 3, 0x00, 0x00, -1},
        {"same generation: higher first byte wins", 5, 0x80, 0x00, 5, 0x7f, 0xff, 1},
        {"same generation: bytes compare unsigned", 5, 0x7f, 0x00, 5, 0x80, 0x00, -1},
        {"same generation: last byte decides", 5, 0x10, 0x02, 5, 0x10, 0x01, 1},
        {"identical", 5, 0x10, 0x02, 5, 0x10, 0x02, 0},
        {"generations beyond 2^32", 1ull << 33, 0, 0, (1ull << 33) - 1, 0xff, 0xff, 1},
        {"generation 2^63 compares unsigned", 1ull << 63, 0, 0, 1, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_rev a = rv(t[i].ga, t[i].fa, t[i].la), b = rv(t[i].gb, t[i].fb, t[i].lb);
        int ab = qs_rev_cmp(&a, &b), ba = qs_rev_cmp(&b, &a);
        int sign = (ab > 0) - (ab < 0);
        if (sign != t[i].want)
            fail_msg("%s: cmp = %d, want sign %d", t[i].what, ab, t[i].want);
        assert_int_equal((ba > 0) - (ba < 0), -t[i].want); /* antisymmetric */
        assert_int_equal(qs_rev_eq(&a, &b), t[i].want == 0);
    }
    /* The merge vector's parents: same generation, the hash decides. */
    qs_record m;
    make_merge(&m);
    assert_int_equal(m.parents[0].gen, m.parents[1].gen);
    assert_true(qs_rev_cmp(&m.parents[1], &m.parents[0]) > 0);
    assert_true(memcmp(m.parents[1].hash, m.parents[0].hash, QS_HASH_LEN) > 0);
    qs_record_free(&m);
}

static void test_rev_text(void **state)
{
    (void)state;
    qs_rev r = rv(12345, 0xab, 0x01), back;
    char s[QS_REV_STR];
    assert_string_equal(qs_rev_format(&r, s), "12345-ab555555555555555555555555555501");
    assert_int_equal(qs_rev_parse(s, &back), 0);
    assert_true(qs_rev_eq(&r, &back));
    r.gen = UINT64_MAX;
    qs_rev_format(&r, s);
    assert_true(strlen(s) < QS_REV_STR);
    assert_int_equal(qs_rev_parse(s, &back), 0);
    assert_true(qs_rev_eq(&r, &back));

    static const char *const bad[] = {
        "",
        "1",
        "1-",
        "-1-00112233445566778899aabbccddeeff",
        "+1-00112233445566778899aabbccddeeff",
        "0-00112233445566778899aabbccddeeff",
        "01-00112233445566778899aabbccddeeff",
        "1-00112233445566778899aabbccddeef",
        "1-00112233445566778899aabbccddeeff0",
        "1-00112233445566778899AABBCCDDEEFF",
        "1-00112233445566778899aabbccddeefg",
        "1_00112233445566778899aabbccddeeff",
        "1 -00112233445566778899aabbccddeeff",
        "18446744073709551616-00112233445566778899aabbccddeeff",
        "99999999999999999999-00112233445566778899aabbccddeeff",
    };
    qs_rev keep = rv(7, 7, 7);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        back = keep;
        if (qs_rev_parse(bad[i], &back) != QS_EINVAL)
            fail_msg("parsed \"%s\"", bad[i]);
        assert_true(qs_rev_eq(&back, &keep));
    }
    assert_int_equal(qs_rev_parse(NULL, &back), QS_EINVAL);
}

static void test_copy_is_deep(void **state)
{
    (void)state;
    qs_record m, c;
    make_merge(&m);
    uint8_t a[2][QS_HASH_LEN] = {{1}, {2}};
    qs_record_set_ancestry(&m, (const uint8_t(*)[QS_HASH_LEN])a, 2);
    qs_record_copy(&c, &m);
    assert_ptr_not_equal(c.body, m.body);
    assert_ptr_not_equal(c.parents, m.parents);
    qs_record_free(&m);
    qs_limits lim = qs_limits_default();
    assert_int_equal(qs_record_verify(&c, &lim, NULL), 0);
    assert_int_equal(c.ancestry[1][0], 2);
    qs_record_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),           cmocka_unit_test(test_same_edit_twice),
        cmocka_unit_test(test_parent_order),      cmocka_unit_test(test_forgeries),
        cmocka_unit_test(test_limits_configured), cmocka_unit_test(test_generation_bound),
        cmocka_unit_test(test_author_node),       cmocka_unit_test(test_winner_table),
        cmocka_unit_test(test_rev_text),          cmocka_unit_test(test_copy_is_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
