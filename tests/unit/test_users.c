/* test_users.c — the web's local accounts (store/users.h): argon2id hashes,
 * the password rules, lockout after five failures for fifteen minutes, the
 * audit trail, authorship NODE/USER; and that none of it is synced. A
 * county's store on SQLite; run as test_users_pg (tests/pg/pgtest.sh,
 * QS_TEST_PG=1), the province's store on PostgreSQL (store/pg_users.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/schema.h"
#include "store/users.h"
#include "tests/support/fixture.h"

/* The store the accounts live in: a county's (SQLite), or with QS_TEST_PG
 * the province's on PostgreSQL. */
static const char *node(void)
{
    return qs_fx_pg() ? "630000" : "632322";
}

static qs_store *users_store(char dir[512])
{
    return qs_fx_store(node(), qs_fx_pg() ? QS_ROLE_AGGREGATOR : QS_ROLE_COUNTY, NULL, dir);
}

static void test_password_rules(void **state)
{
    (void)state;
    static const struct {
        const char *user, *pw;
        bool ok;
    } t[] = {
        {"alice", "correct horse", true},
        {"alice", "九个汉字的密码短句子呀", true}, /* 11 characters, 33 bytes */
        {"alice", "short", false},
        {"alice", "九个汉字的密码短句", false}, /* 9 characters */
        {"alice", "aaaaaaaaaaaa", false},
        {"alice", "alicealice", false},
        {"alice", "", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qs_err e = {0};
        int rc = qs_password_check(t[i].user, t[i].pw, &e);
        if (t[i].ok)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, QS_EINVAL);
    }
    static const struct {
        const char *name;
        bool ok;
    } n[] = {{"alice", true},  {"li.ming-2", true},
             {"Alice", false}, {"1abc", false},
             {"a b", false},   {"", false},
             {"a/b", false},   {"abcdefghijabcdefghijabcdefghijabc", false}};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
        assert_int_equal(qs_user_name_check(n[i].name, NULL) == 0, n[i].ok);
}

static void test_hash(void **state)
{
    (void)state;
    char h1[QS_PW_HASH_MAX], h2[QS_PW_HASH_MAX];
    assert_int_equal(qs_password_hash("correct horse", h1, NULL), 0);
    assert_int_equal(qs_password_hash("correct horse", h2, NULL), 0);
    assert_true(strncmp(h1, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    assert_string_not_equal(h1, h2); /* fresh salt each time */
    assert_true(qs_password_verify(h1, "correct horse"));
    assert_true(qs_password_verify(h2, "correct horse"));
    assert_false(qs_password_verify(h1, "correct horsf"));
    assert_false(qs_password_verify(h1, ""));
    assert_false(qs_password_verify("garbage", "correct horse"));
}

static void test_accounts_and_lockout(void **state)
{
    (void)state;
    char dir[512];
    qs_store *st = users_store(dir);
    qs_err e = {0};
    assert_int_equal(qs_users_init(st, &e), 0);
    assert_int_equal(qs_users_init(st, &e), 0); /* again: nothing to do */
    assert_int_equal(qs_user_add(st, "alice", QS_UROLE_CLERK, "correct horse", &e), 0);
    assert_int_equal(qs_user_add(st, "alice", QS_UROLE_CLERK, "correct horse", &e), QS_EEXIST);
    assert_int_equal(qs_user_add(st, "bob", QS_UROLE_VIEWER, "short", &e), QS_EINVAL);
    qs_login_result res;
    int64_t until, t0 = 1700000000000LL;
    qs_user u;
    assert_int_equal(qs_user_login(st, "alice", "correct horse", t0, &res, &until, &u, &e), 0);
    assert_int_equal(res, QS_LOGIN_OK);
    assert_int_equal(u.role, QS_UROLE_CLERK);
    assert_int_equal(qs_user_login(st, "nobody", "correct horse", t0, &res, &until, &u, &e), 0);
    assert_int_equal(res, QS_LOGIN_BAD);
    /* four failures: still open; the fifth locks for 15 minutes */
    for (int i = 1; i <= 4; i++) {
        assert_int_equal(qs_user_login(st, "alice", "wrong one!", t0 + i, &res, &until, &u, &e), 0);
        assert_int_equal(res, QS_LOGIN_BAD);
    }
    assert_int_equal(qs_user_login(st, "alice", "wrong one!", t0 + 5, &res, &until, &u, &e), 0);
    assert_int_equal(res, QS_LOGIN_LOCKED);
    assert_int_equal(until, t0 + 5 + QS_LOGIN_LOCK_MS);
    /* locked: even the right password is refused */
    assert_int_equal(qs_user_login(st, "alice", "correct horse", t0 + 60000, &res, &until, &u, &e),
                     0);
    assert_int_equal(res, QS_LOGIN_LOCKED);
    /* after the lock, the right password works and resets the count */
    assert_int_equal(qs_user_login(st, "alice", "correct horse", t0 + 5 + QS_LOGIN_LOCK_MS + 1,
                                   &res, &until, &u, &e),
                     0);
    assert_int_equal(res, QS_LOGIN_OK);
    assert_int_equal(qs_user_get(st, "alice", &u, &e), 0);
    assert_int_equal(u.failures, 0);
    /* a success in between resets the count: 4 + ok + 4 does not lock */
    int64_t t1 = t0 + 10 * QS_LOGIN_LOCK_MS;
    for (int i = 0; i < 4; i++)
        qs_user_login(st, "alice", "wrong one!", t1 + i, &res, &until, &u, &e);
    qs_user_login(st, "alice", "correct horse", t1 + 10, &res, &until, &u, &e);
    assert_int_equal(res, QS_LOGIN_OK);
    for (int i = 0; i < 4; i++)
        qs_user_login(st, "alice", "wrong one!", t1 + 20 + i, &res, &until, &u, &e);
    assert_int_equal(res, QS_LOGIN_BAD);
    /* passwd unlocks; disable refuses */
    assert_int_equal(qs_user_passwd(st, "alice", "another good one", &e), 0);
    assert_int_equal(qs_user_set_disabled(st, "alice", true, &e), 0);
    assert_int_equal(qs_user_login(st, "alice", "another good one", t1 + 100, &res, &until, &u, &e),
                     0);
    assert_int_equal(res, QS_LOGIN_DISABLED);
    assert_int_equal(qs_user_set_disabled(st, "nobody", true, &e), QS_ENOTFOUND);
    /* the audit trail has every attempt, newest first, and no password */
    qs_audit_row *a;
    size_t n;
    assert_int_equal(qs_audit_list(st, 100, &a, &n, &e), 0);
    assert_true(n >= 17);
    assert_string_equal(a[0].action, "login_disabled");
    size_t failed = 0, ok = 0, locked = 0;
    for (size_t i = 0; i < n; i++) {
        failed += strcmp(a[i].action, "login_failed") == 0;
        ok += strcmp(a[i].action, "login_ok") == 0;
        locked += strcmp(a[i].action, "login_locked") == 0;
        assert_null(strstr(a[i].detail, "wrong one"));
        assert_null(strstr(a[i].detail, "correct horse"));
    }
    assert_int_equal(ok, 3);
    assert_int_equal(locked, 1);
    assert_int_equal(failed, 14); /* 5 + 4 + 4 and the unknown user */
    free(a);
    /* authorship: NODE/USER */
    assert_int_equal(qs_store_set_user(st, "alice", &e), 0);
    assert_int_equal(qs_store_set_user(st, "../x", &e), QS_EINVAL);
    uint8_t id[QS_ID_LEN];
    /* a record this node may write: a station at a county, a county at the province */
    uint32_t kind = qs_fx_pg() ? QS_K_COUNTY : QS_K_STATION;
    if (qs_fx_pg())
        qs_fx_create(st, kind, id, "code=632322", "name=尖扎县", NULL);
    else
        qs_fx_create(st, kind, id, "township=632322100", "name=站", NULL);
    qs_record r;
    qs_record_init(&r);
    assert_int_equal(qs_store_get(st, id, &r, &e), 0);
    char author[64];
    snprintf(author, sizeof author, "%s/alice", node());
    assert_string_equal(r.author, author);
    qs_record_free(&r);
    /* nothing of it is in the feed: only that record goes up (or down) */
    qs_record out[8];
    uint32_t got;
    uint64_t upto;
    bool more;
    if (qs_fx_pg())
        assert_int_equal(
            qs_store_feed(st, "632322", QS_FEED_DOWN, 0, 8, out, &got, &upto, &more, &e), 0);
    else
        assert_int_equal(qs_store_feed(st, "630000", QS_FEED_UP, 0, 8, out, &got, &upto, &more, &e),
                         0);
    assert_int_equal(got, 1);
    assert_int_equal(out[0].kind, kind);
    qs_record_free(&out[0]);
    qs_store_close(st);
}

/* pw_tag: the same for the same stored hash (get and login agree), another
 * after every new password, even the same password again (fresh salt) */
static void test_password_tag(void **state)
{
    (void)state;
    char dir[512];
    qs_store *st = users_store(dir);
    qs_err e = {0};
    assert_int_equal(qs_users_init(st, &e), 0);
    assert_int_equal(qs_user_add(st, "carol", QS_UROLE_CLERK, "carol's first pw", &e), 0);
    qs_user a, b, c, d;
    qs_login_result res;
    int64_t until;
    static const uint8_t zero[8];
    assert_int_equal(qs_user_get(st, "carol", &a, &e), 0);
    assert_memory_not_equal(a.pw_tag, zero, 8);
    assert_int_equal(qs_user_login(st, "carol", "carol's first pw", 1000, &res, &until, &b, &e), 0);
    assert_int_equal(res, QS_LOGIN_OK);
    assert_memory_equal(a.pw_tag, b.pw_tag, 8);
    assert_int_equal(qs_user_set_role(st, "carol", QS_UROLE_VIEWER, &e), 0);
    assert_int_equal(qs_user_get(st, "carol", &c, &e), 0);
    assert_memory_equal(a.pw_tag, c.pw_tag, 8); /* a role is not a password */
    assert_int_equal(qs_user_passwd(st, "carol", "carol's first pw", &e), 0);
    assert_int_equal(qs_user_get(st, "carol", &d, &e), 0);
    assert_memory_not_equal(a.pw_tag, d.pw_tag, 8);
    qs_store_close(st);
}

/* Front-ends (here: threads, each with its own handle) starting at once on
 * a store without the tables all make or find them, and see each other's
 * accounts. */
#define STARTERS 4
typedef struct starter {
    const char *dir;
    int rc;
    char msg[sizeof(qs_err){0}.msg];
} starter;

static void *start_main(void *arg)
{
    starter *s = arg;
    qs_store *st = qs_fx_reopen(s->dir);
    qs_err e = {0};
    s->rc = qs_users_init(st, &e);
    snprintf(s->msg, sizeof s->msg, "%s", e.msg);
    qs_store_close(st);
    return NULL;
}

static void test_init_at_once(void **state)
{
    (void)state;
    char dir[512];
    qs_store *st = users_store(dir);
    pthread_t th[STARTERS];
    starter s[STARTERS];
    for (int i = 0; i < STARTERS; i++) {
        s[i] = (starter){.dir = dir};
        pthread_create(&th[i], NULL, start_main, &s[i]);
    }
    for (int i = 0; i < STARTERS; i++) {
        pthread_join(th[i], NULL);
        if (s[i].rc)
            fail_msg("starter %d: %s", i, s[i].msg);
    }
    qs_err e = {0};
    assert_int_equal(qs_users_init(st, &e), 0);
    assert_int_equal(qs_user_add(st, "dave", QS_UROLE_ADMIN, "dave's long pw", &e), 0);
    qs_store *other = qs_fx_reopen(dir);
    qs_user *v;
    size_t n;
    assert_int_equal(qs_users_init(other, &e), 0);
    assert_int_equal(qs_users_list(other, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "dave");
    assert_int_equal(v[0].role, QS_UROLE_ADMIN);
    free(v);
    qs_store_close(other);
    qs_store_close(st);
}

/* Logins that overlap, as on two front-ends of one PostgreSQL or two
 * processes on one file: each is decided on the account's row as it is when
 * it writes, not as it was before its password hash ran. */
static qs_store *race_other;
static int64_t race_at;
static const char *race_pw;
static qs_login_result race_res;

static void race_pause(void)
{
    qs__user_login_pause = NULL; /* the other login runs without a pause */
    int64_t until;
    qs_user u;
    qs_err e = {0};
    if (qs_user_login(race_other, "erin", race_pw, race_at, &race_res, &until, &u, &e))
        fail_msg("the other login: %s", e.msg);
}

/* the password changed while a login's hash runs */
static void change_pause(void)
{
    qs__user_login_pause = NULL;
    qs_err e = {0};
    if (qs_user_passwd(race_other, "erin", "erin's third passphrase", &e))
        fail_msg("passwd: %s", e.msg);
}

static void test_login_overlap(void **state)
{
    (void)state;
    char dir[512];
    qs_store *st = users_store(dir);
    qs_err e = {0};
    assert_int_equal(qs_users_init(st, &e), 0);
    assert_int_equal(qs_user_add(st, "erin", QS_UROLE_CLERK, "erin's passphrase", &e), 0);
    race_other = qs_fx_reopen(dir);
    qs_login_result res;
    int64_t until, t0 = 1700000000000LL;
    qs_user u;
    /* two wrong guesses at once count twice */
    race_pw = "guess one!";
    race_at = t0;
    qs__user_login_pause = race_pause;
    assert_int_equal(qs_user_login(st, "erin", "guess two!", t0, &res, &until, &u, &e), 0);
    assert_null(qs__user_login_pause); /* the pause ran */
    assert_int_equal(race_res, QS_LOGIN_BAD);
    assert_int_equal(res, QS_LOGIN_BAD);
    assert_int_equal(qs_user_get(st, "erin", &u, &e), 0);
    assert_int_equal(u.failures, 2);
    for (int i = 1; i <= 2; i++) {
        assert_int_equal(qs_user_login(st, "erin", "guess more", t0 + i, &res, &until, &u, &e), 0);
        assert_int_equal(res, QS_LOGIN_BAD);
    }
    /* the fifth guess locks while the right password's hash runs: locked */
    race_at = t0 + 10;
    qs__user_login_pause = race_pause;
    assert_int_equal(qs_user_login(st, "erin", "erin's passphrase", t0 + 10, &res, &until, &u, &e),
                     0);
    assert_int_equal(race_res, QS_LOGIN_LOCKED);
    assert_int_equal(res, QS_LOGIN_LOCKED);
    assert_int_equal(until, t0 + 10 + QS_LOGIN_LOCK_MS);
    /* a new password set while the old one's hash runs: the old one fails */
    int64_t t1 = t0 + 2 * QS_LOGIN_LOCK_MS;
    assert_int_equal(qs_user_passwd(race_other, "erin", "erin's new passphrase", &e), 0);
    assert_int_equal(qs_user_login(st, "erin", "erin's new passphrase", t1, &res, &until, &u, &e),
                     0);
    assert_int_equal(res, QS_LOGIN_OK);
    qs__user_login_pause = change_pause;
    assert_int_equal(
        qs_user_login(st, "erin", "erin's new passphrase", t1 + 1, &res, &until, &u, &e), 0);
    assert_int_equal(res, QS_LOGIN_BAD);
    assert_int_equal(qs_user_get(st, "erin", &u, &e), 0);
    assert_int_equal(u.failures, 1);
    qs_store_close(race_other);
    qs_store_close(st);
}

int main(void)
{
    qs_fx_init("users");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_rules),       cmocka_unit_test(test_hash),
        cmocka_unit_test(test_accounts_and_lockout), cmocka_unit_test(test_password_tag),
        cmocka_unit_test(test_init_at_once),         cmocka_unit_test(test_login_overlap),
    };
    return qs_fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
