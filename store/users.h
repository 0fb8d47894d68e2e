/*
 * users.h — local accounts of the browser interface (qianshou-web) and their
 * audit trail. Both live in the node's store but are local-only: they are
 * tables of their own (web_users, web_audit), never part of a record, a feed,
 * a digest or a report, so nothing here ever leaves the machine. A backup
 * carries them (it copies the database file).
 *
 * Passwords: argon2id (libargon2, RFC 9106), 2 passes over 19 MiB, one lane,
 * a 16-byte random salt, 32-byte tag, kept in argon2's encoded form
 * ("$argon2id$v=19$m=19456,t=2,p=1$salt$tag"). Rules: at least
 * QS_PW_MIN_LEN characters (UTF-8 code points), at most QS_PW_MAX_LEN bytes,
 * not all one character, not the user name.
 *
 * Lockout: QS_LOGIN_MAX_FAILS wrong passwords in a row lock the account for
 * QS_LOGIN_LOCK_MS; while locked every attempt is refused without checking
 * the password; a success resets the count.
 *
 * Threads: as qs_store (one thread at a time per handle). Call
 * qs_users_init once after opening a store (it creates the tables if they are
 * not there: no migration of the store's own schema is involved).
 */
#ifndef QS_USERS_H
#define QS_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "store/store.h"

#define QS_USER_MAX 33 /* user names: 1..32 of [a-z0-9_.-], starting with a letter */
#define QS_PW_MIN_LEN 10
#define QS_PW_MAX_LEN 256
#define QS_LOGIN_MAX_FAILS 5
#define QS_LOGIN_LOCK_MS (15 * 60 * 1000LL)

typedef enum qs_user_role {
    QS_UROLE_VIEWER = 1, /* reads pages */
    QS_UROLE_CLERK = 2,  /* reads and writes records, imports, resolves */
    QS_UROLE_ADMIN = 3,  /* everything, and the users page */
} qs_user_role;

typedef struct qs_user {
    char name[QS_USER_MAX];
    qs_user_role role;
    bool disabled;
    uint32_t failures;    /* wrong passwords in a row */
    int64_t locked_until; /* ms since the epoch; 0 = not locked */
    int64_t created_ms;
    int64_t last_login_ms; /* 0 = never */
    /* qs_user_get and qs_user_login: 8 bytes of SHA-256 of the stored hash,
     * which every new password (fresh salt) changes; zero from the list */
    uint8_t pw_tag[8];
} qs_user;

/* Create the tables if missing. */
int qs_users_init(qs_store *st, qs_err *err);

/* "clerk" / "viewer" / "admin" (or 职员/查看/管理员) -> role; 0 if unknown. */
qs_user_role qs_user_role_parse(const char *s);
const char *qs_user_role_name(qs_user_role r);
/* Chinese label of a role (职员, 查看者, 管理员). */
const char *qs_user_role_label(qs_user_role r);

/* 0, or QS_EINVAL with the rule broken as a sentence. */
int qs_user_name_check(const char *name, qs_err *err);
int qs_password_check(const char *user, const char *pw, qs_err *err);

/* Hash pw (argon2id, fresh salt) into out (encoded form, NUL-terminated).
 * QS_EIO if no random bytes or the KDF fails. */
#define QS_PW_HASH_MAX 160
int qs_password_hash(const char *pw, char out[QS_PW_HASH_MAX], qs_err *err);
/* Whether pw matches the encoded hash (constant time in the tag). */
bool qs_password_verify(const char *encoded, const char *pw);

/* Add a user (the password is checked against the rules and hashed).
 * QS_EEXIST if the name is taken. */
int qs_user_add(qs_store *st, const char *name, qs_user_role role, const char *pw, qs_err *err);
/* Set a new password (rules apply); also unlocks and clears the failures.
 * QS_ENOTFOUND for an unknown user. */
int qs_user_passwd(qs_store *st, const char *name, const char *pw, qs_err *err);
/* Disable (true) or enable (false) an account. */
int qs_user_set_disabled(qs_store *st, const char *name, bool disabled, qs_err *err);
/* Change a user's role. */
int qs_user_set_role(qs_store *st, const char *name, qs_user_role role, qs_err *err);
int qs_user_get(qs_store *st, const char *name, qs_user *out, qs_err *err);
/* Every user, by name. Caller frees *out. */
int qs_users_list(qs_store *st, qs_user **out, size_t *n, qs_err *err);

typedef enum qs_login_result {
    QS_LOGIN_OK = 0,
    QS_LOGIN_BAD = 1,      /* unknown user or wrong password (the same answer for both) */
    QS_LOGIN_LOCKED = 2,   /* too many failures: *until says until when */
    QS_LOGIN_DISABLED = 3, /* the account is disabled */
} qs_login_result;

/* Check a login at time now_ms, counting failures and locking as above, and
 * write one audit row (login_ok, login_failed, login_locked,
 * login_disabled). *out is filled on QS_LOGIN_OK. Returns 0 (the verdict in
 * *res) or a store error. An unknown user costs a hash too (no timing hint). */
/* Tests only: called, when set, between a login's password hash and its
 * transaction, to make another login happen in between. */
extern void (*qs__user_login_pause)(void);
int qs_user_login(qs_store *st, const char *name, const char *pw, int64_t now_ms,
                  qs_login_result *res, int64_t *until, qs_user *out, qs_err *err);

/* ---- audit ------------------------------------------------------------ */
typedef struct qs_audit_row {
    int64_t at_ms;
    char user[QS_USER_MAX];
    char action[32];
    char record[40]; /* record id (UUID text) or "" */
    char detail[256];
} qs_audit_row;

/* Append a row: user (may be the name tried at a failed login), action
 * ("login_ok", "add", ...), record id text or NULL, detail or NULL. Never a
 * password, a session id or a token. */
int qs_audit_add(qs_store *st, int64_t at_ms, const char *user, const char *action,
                 const char *record, const char *detail, qs_err *err);
/* The newest max rows, newest first. Caller frees *out. */
int qs_audit_list(qs_store *st, size_t max, qs_audit_row **out, size_t *n, qs_err *err);

/* The local user this handle's edits are authored by ("NODE/USER"): the web
 * sets it to the signed-in user before each write. QS_EINVAL for a name
 * that fails qs_user_name_check. */
int qs_store_set_user(qs_store *st, const char *user, qs_err *err);

#endif
