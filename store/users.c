/*
 * users.c — local web accounts and the audit trail (users.h). Kept out of
 * store.c's migrations on purpose: the tables are created here, on demand,
 * and no other part of the store reads them. The rules (names, passwords,
 * argon2id, lockout, what the audit says) are here once for both backends;
 * only the statements have a PostgreSQL twin (pg_users.c).
 */
#include "store/users.h"

#include <argon2.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "proto/clock.h"
#include "proto/sha256.h"
#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

#define PW_T_COST 2
#define PW_M_COST 19456 /* KiB */
#define PW_LANES 1
#define PW_SALT 16
#define PW_TAG 32

/* Local accounts and their audit trail. The indexes the web's pages read
 * through (open conflicts, service logs by month and by station) are the
 * projection's: store/project.c. */
static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS web_users("
    " name TEXT PRIMARY KEY, role INTEGER NOT NULL,"
    " hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
    " failures INTEGER NOT NULL DEFAULT 0,"
    " locked_until INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL, last_login_ms INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS web_audit("
    " seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,"
    " user TEXT NOT NULL, action TEXT NOT NULL,"
    " record TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '');";

int qs_users_init(qs_store *st, qs_err *err)
{
    /* Every other function here needs this one first. */
    if (st->pg)
        return qs__pg_users_init(st, err);
    sqlite3_stmt *s = NULL;
    /* Only write when the tables are missing: a reader (a viewer's page)
     * must not need the write lock. */
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT count(*) FROM sqlite_master WHERE name IN "
                                "('web_users','web_audit')",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return qs__sqlerr(st, rc, "web users", err);
    int have = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    if (have == 2)
        return 0;
    return qs__exec(st, SCHEMA, err);
}

qs_user_role qs_user_role_parse(const char *s)
{
    if (strcmp(s, "viewer") == 0 || strcmp(s, "查看者") == 0)
        return QS_UROLE_VIEWER;
    if (strcmp(s, "clerk") == 0 || strcmp(s, "职员") == 0)
        return QS_UROLE_CLERK;
    if (strcmp(s, "admin") == 0 || strcmp(s, "管理员") == 0)
        return QS_UROLE_ADMIN;
    return 0;
}

const char *qs_user_role_name(qs_user_role r)
{
    return r == QS_UROLE_VIEWER  ? "viewer"
           : r == QS_UROLE_CLERK ? "clerk"
           : r == QS_UROLE_ADMIN ? "admin"
                                 : "?";
}

const char *qs_user_role_label(qs_user_role r)
{
    return r == QS_UROLE_VIEWER  ? "查看者"
           : r == QS_UROLE_CLERK ? "职员"
           : r == QS_UROLE_ADMIN ? "管理员"
                                 : "?";
}

int qs_user_name_check(const char *name, qs_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n >= QS_USER_MAX)
        return qs_err_set(err, QS_EINVAL, "a user name has 1 to %d characters", QS_USER_MAX - 1);
    if (!(name[0] >= 'a' && name[0] <= 'z'))
        return qs_err_set(err, QS_EINVAL, "a user name starts with a lower-case letter a-z");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return qs_err_set(err, QS_EINVAL,
                              "a user name has only lower-case letters a-z, digits, '_', '.' "
                              "and '-' (\"%s\" has another)",
                              name);
    }
    return 0;
}

int qs_password_check(const char *user, const char *pw, qs_err *err)
{
    size_t bytes = strlen(pw), chars = 0;
    for (size_t i = 0; i < bytes; i++)
        chars += ((unsigned char)pw[i] & 0xc0) != 0x80;
    if (bytes > QS_PW_MAX_LEN)
        return qs_err_set(err, QS_EINVAL, "a password has at most %d bytes", QS_PW_MAX_LEN);
    if (chars < QS_PW_MIN_LEN)
        return qs_err_set(err, QS_EINVAL,
                          "a password has at least %d characters (this one has %zu) — a "
                          "short sentence is easy to remember",
                          QS_PW_MIN_LEN, chars);
    bool same = true;
    for (size_t i = 1; i < bytes; i++)
        same &= pw[i] == pw[0];
    if (same)
        return qs_err_set(err, QS_EINVAL, "a password is not one character repeated");
    if (user && strcasestr(pw, user) && strlen(user) * 2 >= bytes)
        return qs_err_set(err, QS_EINVAL, "a password is not the user name");
    return 0;
}

int qs_password_hash(const char *pw, char out[QS_PW_HASH_MAX], qs_err *err)
{
    uint8_t salt[PW_SALT];
    if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt)
        return qs_err_set(err, QS_EIO, "no random bytes for a password salt");
    int rc = argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_LANES, pw, strlen(pw), salt,
                                   sizeof salt, PW_TAG, out, QS_PW_HASH_MAX);
    if (rc != ARGON2_OK)
        return qs_err_set(err, QS_EIO, "argon2id: %s", argon2_error_message(rc));
    return 0;
}

bool qs_password_verify(const char *encoded, const char *pw)
{
    return argon2id_verify(encoded, pw, strlen(pw)) == ARGON2_OK;
}

/* ---- storage: one function per statement, each with its PostgreSQL
 * twin in pg_users.c (the one-line dispatch first); everything else in this
 * file is the same for both backends. */

static int prep(qs_store *st, const char *sql, sqlite3_stmt **s, qs_err *err)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
    return rc == SQLITE_OK ? 0 : qs__sqlerr(st, rc, "web users", err);
}

/* Step a write statement to its end and finalize it. */
static int run(qs_store *st, sqlite3_stmt *s, qs_err *err)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "web users", err);
}

/* QS_EEXIST (no message) when the name is taken. */
static int db_insert(qs_store *st, const char *name, qs_user_role role, const char *hash,
                     int64_t created_ms, qs_err *err)
{
    if (st->pg)
        return qs__pg_user_insert(st, name, (int)role, hash, created_ms, err);
    sqlite3_stmt *s;
    int rc = prep(st,
                  "INSERT INTO web_users(name, role, hash, created_ms) VALUES (?1, ?2, ?3, ?4) "
                  "ON CONFLICT (name) DO NOTHING",
                  &s, err);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)role);
    sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, created_ms);
    if ((rc = run(st, s, err)))
        return rc;
    return sqlite3_changes(st->db) ? 0 : QS_EEXIST;
}

static void bind_opt(sqlite3_stmt *s, int i, int64_t v)
{
    if (v < 0)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, v);
}

/* Apply set to one user; QS_ENOTFOUND (no message) when there is none. */
static int db_update(qs_store *st, const char *name, const qs__user_set *set, qs_err *err)
{
    if (st->pg)
        return qs__pg_user_update(st, name, set, err);
    sqlite3_stmt *s;
    int rc = prep(st,
                  "UPDATE web_users SET hash = coalesce(?2, hash), role = coalesce(?3, role), "
                  "disabled = coalesce(?4, disabled), failures = coalesce(?5, failures), "
                  "locked_until = coalesce(?6, locked_until), "
                  "last_login_ms = coalesce(?7, last_login_ms) WHERE name = ?1",
                  &s, err);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (set->hash)
        sqlite3_bind_text(s, 2, set->hash, -1, SQLITE_STATIC);
    bind_opt(s, 3, set->role ? set->role : -1);
    bind_opt(s, 4, set->disabled);
    bind_opt(s, 5, set->failures);
    bind_opt(s, 6, set->locked_until);
    bind_opt(s, 7, set->last_login_ms);
    if ((rc = run(st, s, err)))
        return rc;
    return sqlite3_changes(st->db) ? 0 : QS_ENOTFOUND;
}

#define USER_COLS "name, role, disabled, failures, locked_until, created_ms, last_login_ms"

static void row_user(sqlite3_stmt *s, qs_user *u)
{
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", (const char *)sqlite3_column_text(s, 0));
    u->role = (qs_user_role)sqlite3_column_int(s, 1);
    u->disabled = sqlite3_column_int(s, 2) != 0;
    u->failures = (uint32_t)sqlite3_column_int(s, 3);
    u->locked_until = sqlite3_column_int64(s, 4);
    u->created_ms = sqlite3_column_int64(s, 5);
    u->last_login_ms = sqlite3_column_int64(s, 6);
}

/* The user (pw_tag not set) and its stored hash; QS_ENOTFOUND (no message). */
static int db_get(qs_store *st, const char *name, qs_user *out, char hash[QS_PW_HASH_MAX],
                  bool lock, qs_err *err)
{
    /* lock: inside a transaction, the row stays as read until it ends (on
     * SQLite, BEGIN IMMEDIATE holds the whole database already) */
    if (st->pg)
        return qs__pg_user_get(st, name, out, hash, lock, err);
    sqlite3_stmt *s;
    int rc = prep(st, "SELECT " USER_COLS ", hash FROM web_users WHERE name = ?1", &s, err);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        row_user(s, out);
        const char *h = (const char *)sqlite3_column_text(s, 7);
        snprintf(hash, QS_PW_HASH_MAX, "%s", h ? h : "");
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? QS_ENOTFOUND : qs__sqlerr(st, rc, "web users", err);
    }
    sqlite3_finalize(s);
    return rc;
}

static int db_list(qs_store *st, qs_user **out, size_t *n, qs_err *err)
{
    if (st->pg)
        return qs__pg_users_list(st, out, n, err);
    sqlite3_stmt *s;
    size_t cap = 8;
    int rc = prep(st, "SELECT " USER_COLS " FROM web_users ORDER BY name", &s, err);
    if (rc)
        return rc;
    qs_user *v = qs_xmalloc(cap * sizeof *v);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap)
            v = qs_xrealloc(v, (cap *= 2) * sizeof *v);
        row_user(s, &v[(*n)++]);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(v);
        *n = 0;
        return qs__sqlerr(st, rc, "web users", err);
    }
    *out = v;
    return 0;
}

static int db_audit_add(qs_store *st, int64_t at_ms, const char *user, const char *action,
                        const char *record, const char *detail, qs_err *err)
{
    if (st->pg)
        return qs__pg_audit_add(st, at_ms, user, action, record, detail, err);
    sqlite3_stmt *s;
    int rc = prep(st,
                  "INSERT INTO web_audit(at_ms, user, action, record, detail) "
                  "VALUES (?1, ?2, ?3, ?4, ?5)",
                  &s, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, at_ms);
    sqlite3_bind_text(s, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, record, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, detail, -1, SQLITE_STATIC);
    return run(st, s, err);
}

/* The newest max rows into v (max of them), newest first. */
static int db_audit_list(qs_store *st, size_t max, qs_audit_row *v, size_t *n, qs_err *err)
{
    if (st->pg)
        return qs__pg_audit_list(st, max, v, n, err);
    sqlite3_stmt *s;
    int rc = prep(st,
                  "SELECT at_ms, user, action, record, detail FROM web_audit "
                  "ORDER BY seq DESC LIMIT ?1",
                  &s, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)max);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
        qs_audit_row *a = &v[(*n)++];
        a->at_ms = sqlite3_column_int64(s, 0);
        snprintf(a->user, sizeof a->user, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(a->action, sizeof a->action, "%s", (const char *)sqlite3_column_text(s, 2));
        snprintf(a->record, sizeof a->record, "%s", (const char *)sqlite3_column_text(s, 3));
        snprintf(a->detail, sizeof a->detail, "%s", (const char *)sqlite3_column_text(s, 4));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        *n = 0;
        return qs__sqlerr(st, rc, "web audit", err);
    }
    return 0;
}

/* ---- accounts (both backends) ----------------------------------------- */

static int no_user(const char *name, qs_err *err)
{
    return qs_err_set(err, QS_ENOTFOUND, "no user %s (see `qianshou user list`)", name);
}

static int update_user(qs_store *st, const char *name, const qs__user_set *set, qs_err *err)
{
    int rc = db_update(st, name, set, err);
    return rc == QS_ENOTFOUND ? no_user(name, err) : rc;
}

int qs_user_add(qs_store *st, const char *name, qs_user_role role, const char *pw, qs_err *err)
{
    char hash[QS_PW_HASH_MAX];
    int rc;
    if ((rc = qs_user_name_check(name, err)) || (rc = qs_password_check(name, pw, err)))
        return rc;
    if (role < QS_UROLE_VIEWER || role > QS_UROLE_ADMIN)
        return qs_err_set(err, QS_EINVAL, "a role is clerk, viewer or admin");
    qs_user u;
    if (qs_user_get(st, name, &u, NULL) == 0)
        return qs_err_set(err, QS_EEXIST, "user %s exists already", name);
    if ((rc = qs_password_hash(pw, hash, err)))
        return rc;
    rc = db_insert(st, name, role, hash, qs_clock_wall_ms(), err);
    return rc == QS_EEXIST ? qs_err_set(err, QS_EEXIST, "user %s exists already", name) : rc;
}

int qs_user_passwd(qs_store *st, const char *name, const char *pw, qs_err *err)
{
    char hash[QS_PW_HASH_MAX];
    int rc;
    if ((rc = qs_password_check(name, pw, err)) || (rc = qs_password_hash(pw, hash, err)))
        return rc;
    qs__user_set set = QS__USER_SET_NONE;
    set.hash = hash;
    set.failures = 0;
    set.locked_until = 0;
    return update_user(st, name, &set, err);
}

int qs_user_set_disabled(qs_store *st, const char *name, bool disabled, qs_err *err)
{
    qs__user_set set = QS__USER_SET_NONE;
    set.disabled = disabled;
    return update_user(st, name, &set, err);
}

int qs_user_set_role(qs_store *st, const char *name, qs_user_role role, qs_err *err)
{
    if (role < QS_UROLE_VIEWER || role > QS_UROLE_ADMIN)
        return qs_err_set(err, QS_EINVAL, "a role is clerk, viewer or admin");
    qs__user_set set = QS__USER_SET_NONE;
    set.role = (int)role;
    return update_user(st, name, &set, err);
}

/* The user with its pw_tag and, if hash is not NULL, the stored hash; with
 * lock, as db_get. */
static int get_user(qs_store *st, const char *name, qs_user *out, char hash[QS_PW_HASH_MAX],
                    bool lock, qs_err *err)
{
    char h[QS_PW_HASH_MAX];
    int rc = db_get(st, name, out, h, lock, err);
    if (rc)
        return rc == QS_ENOTFOUND ? no_user(name, err) : rc;
    uint8_t d[QS_SHA256_LEN];
    qs_sha256(h, strlen(h), d);
    memcpy(out->pw_tag, d, sizeof out->pw_tag);
    if (hash)
        memcpy(hash, h, QS_PW_HASH_MAX);
    return 0;
}

int qs_user_get(qs_store *st, const char *name, qs_user *out, qs_err *err)
{
    return get_user(st, name, out, NULL, false, err);
}

int qs_users_list(qs_store *st, qs_user **out, size_t *n, qs_err *err)
{
    *out = NULL;
    *n = 0;
    return db_list(st, out, n, err);
}

/* The verdict of a login on the account's row u (ok: the password
 * matches its hash), written with its audit row: a disabled or locked
 * account refuses, a match resets the count, a failure counts and the
 * QS_LOGIN_MAX_FAILS-th locks. */
static int login_decide(qs_store *st, const char *name, qs_user *u, bool ok, int64_t now_ms,
                        qs_login_result *res, int64_t *until, qs_err *err)
{
    int rc;
    if (u->disabled) {
        *res = QS_LOGIN_DISABLED;
        return qs_audit_add(st, now_ms, name, "login_disabled", NULL, NULL, err);
    }
    if (u->locked_until > now_ms) {
        *res = QS_LOGIN_LOCKED;
        *until = u->locked_until;
        return qs_audit_add(st, now_ms, name, "login_locked", NULL, "refused while locked", err);
    }
    qs__user_set set = QS__USER_SET_NONE;
    if (ok) {
        set.failures = 0;
        set.locked_until = 0;
        set.last_login_ms = now_ms;
        if ((rc = update_user(st, name, &set, err)))
            return rc;
        *res = QS_LOGIN_OK;
        u->failures = 0;
        u->locked_until = 0;
        u->last_login_ms = now_ms;
        return qs_audit_add(st, now_ms, name, "login_ok", NULL, NULL, err);
    }
    uint32_t fails = u->failures + 1;
    int64_t lock = fails >= QS_LOGIN_MAX_FAILS ? now_ms + QS_LOGIN_LOCK_MS : 0;
    set.failures = lock ? 0 : fails;
    set.locked_until = lock;
    if ((rc = update_user(st, name, &set, err)))
        return rc;
    char detail[64];
    snprintf(detail, sizeof detail, "wrong password (%u in a row)%s", fails,
             lock ? "; locked for 15 minutes" : "");
    *res = lock ? QS_LOGIN_LOCKED : QS_LOGIN_BAD;
    *until = lock;
    return qs_audit_add(st, now_ms, name, "login_failed", NULL, detail, err);
}

void (*qs__user_login_pause)(void);

int qs_user_login(qs_store *st, const char *name, const char *pw, int64_t now_ms,
                  qs_login_result *res, int64_t *until, qs_user *out, qs_err *err)
{
    /* A hash of a password nobody has, so an unknown name costs the same. */
    static const char DUMMY[] = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    char hash[QS_PW_HASH_MAX], now_hash[QS_PW_HASH_MAX];
    qs_user u;
    int rc;
    *until = 0;
    bool known =
        qs_user_name_check(name, NULL) == 0 && get_user(st, name, &u, hash, false, NULL) == 0;
    if (!known) {
        qs_password_verify(DUMMY, pw);
        *res = QS_LOGIN_BAD;
        char shown[QS_USER_MAX];
        snprintf(shown, sizeof shown, "%s", name);
        return qs_audit_add(st, now_ms, shown, "login_failed", NULL, "unknown user", err);
    }
    /* refused before the costly hash; decided again below */
    if (!u.disabled && u.locked_until <= now_ms) {
        bool ok = qs_password_verify(hash, pw);
        if (qs__user_login_pause)
            qs__user_login_pause();
        if ((rc = qs_store_begin(st, err)))
            return rc;
        /* The row again, held until the commit: another login (another
         * front-end of the same PostgreSQL, another process on the same
         * file) may have counted a failure, locked the account or changed
         * the password while the hash ran. Counting from the first read
         * would let simultaneous guesses count once. */
        if ((rc = get_user(st, name, &u, now_hash, true, err))) {
            qs_store_rollback(st);
            return rc;
        }
        ok = ok && strcmp(now_hash, hash) == 0;
        rc = login_decide(st, name, &u, ok, now_ms, res, until, err);
        if (rc) {
            qs_store_rollback(st);
            return rc;
        }
        if ((rc = qs_store_commit(st, err)))
            return rc;
        if (*res == QS_LOGIN_OK)
            *out = u;
        return 0;
    }
    return login_decide(st, name, &u, false, now_ms, res, until, err);
}

int qs_audit_add(qs_store *st, int64_t at_ms, const char *user, const char *action,
                 const char *record, const char *detail, qs_err *err)
{
    return db_audit_add(st, at_ms, user, action, record ? record : "", detail ? detail : "", err);
}

int qs_audit_list(qs_store *st, size_t max, qs_audit_row **out, size_t *n, qs_err *err)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    qs_audit_row *v = qs_xcalloc(max, sizeof *v);
    int rc = db_audit_list(st, max, v, n, err);
    if (rc) {
        free(v);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}

int qs_store_set_user(qs_store *st, const char *user, qs_err *err)
{
    int rc = qs_user_name_check(user, err);
    if (rc)
        return rc;
    snprintf(st->user, sizeof st->user, "%s", user);
    snprintf(st->author, sizeof st->author, "%s/%s", st->node, st->user);
    return 0;
}
