/*
 * store.c — opening the database, migrations, meta, transactions, the shared
 * clock, permissions, backups, the daemon lock, pseudonyms (and the fields
 * the store derives with them) and imports.
 */
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/clock.h"
#include "proto/sha256.h"
#include "proto/scope.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

/* Migrations by PRAGMA user_version: entry i brings the database to version i+1. */
static const char *const MIGRATIONS[] = {
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
    "CREATE TABLE versions("
    "  seq INTEGER PRIMARY KEY," /* local sequence number */
    "  id BLOB NOT NULL, kind INTEGER NOT NULL, scope TEXT NOT NULL,"
    "  gen INTEGER NOT NULL, hash BLOB NOT NULL,"
    "  parents BLOB,"  /* n x (u64 BE gen + 16-byte hash), sorted */
    "  ancestry BLOB," /* as received, n x 16 bytes; NULL if none */
    "  hlc INTEGER NOT NULL, author TEXT NOT NULL, deleted INTEGER NOT NULL,"
    "  schema INTEGER NOT NULL, body BLOB NOT NULL,"
    "  head INTEGER NOT NULL,"       /* 0 superseded, 1 winner, 2 open loser */
    "  local INTEGER NOT NULL,"      /* a local-only kind: never in a feed */
    "  src_peer TEXT, src_inc BLOB," /* NULL for local edits */
    "  stored_ms INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX versions_rev ON versions(id, hash);"
    /* hashes known from received ancestries and parents (not always held) */
    "CREATE TABLE history(id BLOB NOT NULL, hash BLOB NOT NULL,"
    "  PRIMARY KEY(id, hash)) WITHOUT ROWID;"
    "CREATE TABLE peers(peer TEXT PRIMARY KEY, inc BLOB,"
    "  recv_cursor INTEGER NOT NULL DEFAULT 0, acked INTEGER NOT NULL DEFAULT 0,"
    "  last_contact INTEGER, last_ok INTEGER, skew INTEGER, pending INTEGER,"
    "  last_error TEXT);"
    "CREATE TABLE rejections(rid INTEGER PRIMARY KEY, id BLOB NOT NULL, kind INTEGER,"
    "  scope TEXT, gen INTEGER, hash BLOB NOT NULL, peer TEXT NOT NULL,"
    "  outgoing INTEGER NOT NULL, reason TEXT, at INTEGER,"
    "  UNIQUE(id, hash, peer, outgoing));"
    "CREATE TABLE parked(id BLOB NOT NULL, hash BLOB NOT NULL, kind INTEGER,"
    "  peer TEXT, dir INTEGER, wire BLOB NOT NULL, at INTEGER,"
    "  PRIMARY KEY(id, hash)) WITHOUT ROWID;"
    "CREATE TABLE imports(sha BLOB PRIMARY KEY, kind INTEGER, file TEXT,"
    "  rows INTEGER, at INTEGER);"
    "CREATE TABLE local_secret(k TEXT PRIMARY KEY, v BLOB NOT NULL);",
    /* 2: when each peer's certificate expires, for the fleet view */
    "ALTER TABLE peers ADD COLUMN cert_not_after INTEGER;",
};
#define NMIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])

qs_store_opts qs_store_opts_default(void)
{
    qs_store_opts o = {0};
    o.limits = qs_limits_default();
    o.max_clock_offset_ms = 5 * 60 * 1000;
    o.busy_timeout_ms = 5000;
    return o;
}

int qs__sqlerr(qs_store *st, int rc, const char *what, qs_err *err)
{
    const char *m = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return qs_err_set(err, QS_EFULL, "%s: the disk is full (%s)", what, m);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return qs_err_set(err, QS_EBUSY, "%s: the database is busy (%s)", what, m);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return qs_err_set(err, QS_ECORRUPT, "%s: the database is damaged (%s)", what, m);
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
        return qs_err_set(err, QS_EPERM, "%s: cannot write the database (%s)", what, m);
    case SQLITE_CONSTRAINT:
        return qs_err_set(err, QS_EINVAL, "%s: %s", what, m);
    default:
        return qs_err_set(err, QS_EIO, "%s: %s", what, m);
    }
}

sqlite3_stmt *qs__stmt(qs_store *st, const char *sql, qs_err *err)
{
    size_t i;
    for (i = 0; i < QS_STMT_CACHE && st->cache[i].sql; i++) {
        if (st->cache[i].sql == sql) {
            sqlite3_reset(st->cache[i].st);
            sqlite3_clear_bindings(st->cache[i].st);
            return st->cache[i].st;
        }
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        qs__sqlerr(st, rc, "preparing a query", err);
        return NULL;
    }
    if (i < QS_STMT_CACHE) {
        st->cache[i].sql = sql;
        st->cache[i].st = s;
    } else {
        /* The cache is sized for every literal in store/: this is a bug. */
        abort();
    }
    return s;
}

int qs__exec(qs_store *st, const char *sql, qs_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int r = qs__sqlerr(st, rc, "database", err);
        if ((rc & 0xff) == SQLITE_FULL)
            qs_err_set(err, QS_EFULL, "the disk is full (%s)", msg ? msg : sqlite3_errstr(rc));
        else if (err && msg)
            snprintf(err->msg, sizeof err->msg, "%s", msg);
        sqlite3_free(msg);
        return r;
    }
    return 0;
}

/* Run one cached statement without results (savepoints). */
static int step_stmt(qs_store *st, const char *sql, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st, sql, err);
    if (!s)
        return err ? err->code : QS_EIO;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "database", err);
}

static const char SQL_SAVEPOINT[] = "SAVEPOINT qs_op";
static const char SQL_RELEASE[] = "RELEASE qs_op";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO qs_op";

int qs__tx_begin(qs_store *st, bool *mine, qs_err *err)
{
    if (st->pg)
        return qs__pg_tx_begin(st, mine, err);
    *mine = false;
    /* Inside the caller's transaction each operation is still all-or-nothing:
     * a savepoint undoes just its own writes when it fails. */
    if (st->in_tx)
        return st->all_or_nothing ? 0 : step_stmt(st, SQL_SAVEPOINT, err);
    int rc = qs__exec(st, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    st->in_tx = true;
    st->hlc_loaded = st->hlc_dirty = false;
    *mine = true;
    return 0;
}

static void restore_cache(qs_store *st)
{
    if (st->saved_cache == 0)
        return;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = %lld", (long long)st->saved_cache);
    sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    sqlite3_exec(st->db, "PRAGMA temp_store = DEFAULT", NULL, NULL, NULL);
    st->saved_cache = 0;
}

int qs__tx_end(qs_store *st, bool mine, int rc, qs_err *err)
{
    if (st->pg)
        return qs__pg_tx_end(st, mine, rc, err);
    if (!mine && st->all_or_nothing) {
        if (rc)
            st->failed = true;
        return rc;
    }
    if (!mine) {
        if (rc) {
            step_stmt(st, SQL_ROLLBACK_TO, NULL);
            step_stmt(st, SQL_RELEASE, NULL);
            return rc;
        }
        return step_stmt(st, SQL_RELEASE, err);
    }
    /* The clock's last reading goes into the same commit as the edits that
     * used it; a rolled-back transaction leaves the stored reading as it was
     * (readings are only handed out, never reused, by the commit that stores
     * them). */
    if (!rc && st->hlc_dirty)
        rc = qs__meta_set_int(st, "hlc", (int64_t)st->hlc, err);
    st->in_tx = false;
    st->hlc_loaded = st->hlc_dirty = false;
    st->all_or_nothing = st->failed = false;
    if (rc) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        restore_cache(st);
        return rc;
    }
    rc = qs__exec(st, "COMMIT", err);
    if (rc)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    restore_cache(st);
    return rc;
}

int qs_store_begin(qs_store *st, qs_err *err)
{
    if (st->pg)
        return qs__pg_begin(st, false, err);
    if (st->in_tx)
        return qs_err_set(err, QS_EBUSY, "a transaction is already open");
    bool mine;
    return qs__tx_begin(st, &mine, err);
}

int qs_store_begin_bulk(qs_store *st, unsigned cache_mib, qs_err *err)
{
    if (st->pg)
        return qs__pg_begin(st, false, err);
    if (st->in_tx)
        return qs_err_set(err, QS_EBUSY, "a transaction is already open");
    int64_t old = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "PRAGMA cache_size", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        old = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    char sql[64];
    /* negative: a size in KiB rather than in pages. temp_store: each edit's
     * savepoint keeps the pages it changes in a statement journal, which
     * otherwise spills to a temporary file (a dozen pwrite()s per record) and
     * is never truncated until the transaction ends; in memory it is
     * truncated at each RELEASE. */
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%llu; PRAGMA temp_store = MEMORY",
             (unsigned long long)cache_mib << 10);
    int rc = qs__exec(st, sql, err);
    if (rc)
        return rc;
    st->saved_cache = old ? old : -2000;
    bool mine;
    if ((rc = qs__tx_begin(st, &mine, err)))
        restore_cache(st);
    return rc;
}

int qs_store_begin_all_or_nothing(qs_store *st, unsigned cache_mib, qs_err *err)
{
    if (st->pg)
        return qs__pg_begin(st, true, err);
    int rc = qs_store_begin_bulk(st, cache_mib, err);
    if (!rc)
        st->all_or_nothing = true;
    return rc;
}

/* The end of the caller's transaction, the same on both backends. */
static int tx_end(qs_store *st, int rc, qs_err *err)
{
    return st->pg ? qs__pg_tx_end(st, true, rc, err) : qs__tx_end(st, true, rc, err);
}

int qs_store_commit(qs_store *st, qs_err *err)
{
    if (!st->in_tx)
        return qs_err_set(err, QS_EINVAL, "no transaction is open");
    if (st->failed) {
        tx_end(st, QS_EINVAL, NULL);
        return qs_err_set(err, QS_EINVAL,
                          "an edit failed inside an all-or-nothing transaction: nothing was "
                          "stored");
    }
    return tx_end(st, 0, err);
}

void qs_store_rollback(qs_store *st)
{
    if (st->in_tx)
        tx_end(st, QS_EIO, NULL);
}

int qs__meta_get_int(qs_store *st, const char *k, int64_t *v, qs_err *err)
{
    if (st->pg)
        return qs__pg_meta_get(st, k, v, NULL, 0, NULL, err);
    sqlite3_stmt *s = qs__stmt(st, "SELECT v FROM meta WHERE k = ?", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return 0;
    }
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return qs_err_set(err, QS_ENOTFOUND, "meta %s missing", k);
    return qs__sqlerr(st, rc, "reading meta", err);
}

static int meta_set(qs_store *st, const char *k, const void *p, int n, int64_t v, qs_err *err)
{
    if (st->pg)
        return qs__pg_meta_set(st, k, p ? 0 : v, p, p ? (size_t)n : 0, err);
    sqlite3_stmt *s = qs__stmt(st, "INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    if (p)
        sqlite3_bind_blob(s, 2, p, n, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 2, v);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "writing meta", err);
}

int qs__meta_set_int(qs_store *st, const char *k, int64_t v, qs_err *err)
{
    return meta_set(st, k, NULL, 0, v, err);
}

int qs__meta_set_blob(qs_store *st, const char *k, const void *p, int n, qs_err *err)
{
    return meta_set(st, k, p, n, 0, err);
}

static int meta_get_text(qs_store *st, const char *k, char *out, size_t n, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st, "SELECT v FROM meta WHERE k = ?", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return qs_err_set(err, QS_ECORRUPT, "the database has no %s: not a Qianshou store?", k);
    }
    int len = sqlite3_column_bytes(s, 0);
    const void *p = sqlite3_column_blob(s, 0);
    if ((size_t)len >= n || !p) {
        sqlite3_reset(s);
        return qs_err_set(err, QS_ECORRUPT, "meta %s is malformed", k);
    }
    memcpy(out, p, (size_t)len);
    out[len] = '\0';
    sqlite3_reset(s);
    return 0;
}

/* SQL functions: the scope rules, for feed queries. */
static void sql_can_write(sqlite3_context *c, int argc, sqlite3_value **v)
{
    const char *node = (const char *)sqlite3_value_text(v[0]);
    const char *scope = (const char *)sqlite3_value_text(v[1]);
    sqlite3_result_int(c, node && scope && qs_scope_can_write(node, scope));
}

static void sql_visible(sqlite3_context *c, int argc, sqlite3_value **v)
{
    const char *node = (const char *)sqlite3_value_text(v[0]);
    const char *scope = (const char *)sqlite3_value_text(v[1]);
    sqlite3_result_int(c, node && scope && qs_scope_visible(node, scope));
}

static void set_file_modes(const char *dir)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char path[4200];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s%s", dir, QS_DB_FILE, sfx[i]);
        struct stat sb;
        if (stat(path, &sb) == 0 && sb.st_uid == geteuid() && (sb.st_mode & 0777) != 0660)
            chmod(path, 0660);
    }
}

static void user_name(char *out, size_t n)
{
    struct passwd *pw = getpwuid(geteuid());
    const char *u = pw && pw->pw_name ? pw->pw_name : NULL;
    if (u)
        snprintf(out, n, "%s", u);
    else
        snprintf(out, n, "uid%u", (unsigned)geteuid());
}

static int migrate(qs_store *st, qs_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return qs__sqlerr(st, SQLITE_ERROR, "reading the schema version", err);
    int64_t ver = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (ver > (int64_t)NMIGRATIONS)
        return qs_err_set(err, QS_ESCHEMA,
                          "the database was written by a newer qianshou (format %lld, this "
                          "build knows %zu): upgrade this program",
                          (long long)ver, NMIGRATIONS);
    for (size_t i = (size_t)ver; i < NMIGRATIONS; i++) {
        char pragma[64];
        int rc = qs__exec(st, "BEGIN IMMEDIATE", err);
        if (rc)
            return rc;
        rc = qs__exec(st, MIGRATIONS[i], err);
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %zu", i + 1);
        if (!rc)
            rc = qs__exec(st, pragma, err);
        if (rc) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return qs_err_prefix(err, "migrating the database to format %zu", i + 1);
        }
        rc = qs__exec(st, "COMMIT", err);
        if (rc)
            return rc;
    }
    return 0;
}

static int create_meta(qs_store *st, const qs_store_opts *o, qs_err *err)
{
    uint8_t inc[QS_INC_LEN], secret[32];
    qs_random_bytes(inc, sizeof inc);
    qs_random_bytes(secret, sizeof secret);
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    int64_t existing;
    if (qs__meta_get_int(st, "role", &existing, NULL) == 0) {
        rc = qs_err_set(err, QS_EEXIST, "a store already exists in %s", o->dir);
        goto done;
    }
    if ((rc = qs__meta_set_blob(st, "node", o->node, (int)strlen(o->node), err)) ||
        (rc = qs__meta_set_int(st, "role", o->role, err)) ||
        (rc = qs__meta_set_blob(st, "incarnation", inc, sizeof inc, err)) ||
        (rc = qs__meta_set_int(st, "created", qs_clock_wall_ms(), err)) ||
        (rc = qs__meta_set_int(st, "hlc", 0, err)))
        goto done;
    sqlite3_stmt *s = qs__stmt(st, "INSERT INTO local_secret(k, v) VALUES ('pseudonym', ?)", err);
    if (!s) {
        rc = err ? err->code : QS_EIO;
        goto done;
    }
    sqlite3_bind_blob(s, 1, secret, sizeof secret, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        rc = qs__sqlerr(st, r, "creating the local secret", err);
done:
    explicit_bzero(secret, sizeof secret);
    return qs__tx_end(st, mine, rc, err);
}

static int load_meta(qs_store *st, qs_err *err)
{
    int64_t role;
    int rc;
    if ((rc = meta_get_text(st, "node", st->node, sizeof st->node, err)))
        return rc;
    if ((rc = qs__meta_get_int(st, "role", &role, err)))
        return rc;
    st->role = (qs_role)role;
    sqlite3_stmt *s = qs__stmt(st, "SELECT v FROM meta WHERE k = 'incarnation'", err);
    if (!s)
        return err ? err->code : QS_EIO;
    if (sqlite3_step(s) != SQLITE_ROW || sqlite3_column_bytes(s, 0) != QS_INC_LEN) {
        sqlite3_reset(s);
        return qs_err_set(err, QS_ECORRUPT, "the database has no valid incarnation");
    }
    memcpy(st->inc, sqlite3_column_blob(s, 0), QS_INC_LEN);
    sqlite3_reset(s);
    if (qs_code_prefix(st->node, st->prefix, sizeof st->prefix) < 0)
        return qs_err_set(err, QS_ECORRUPT, "the stored node id %s is not a division code",
                          st->node);
    snprintf(st->author, sizeof st->author, "%s/%s", st->node, st->user);
    return 0;
}

int qs_store_open(const qs_store_opts *o, qs_store **out, qs_err *err)
{
    int rc = qs__pg_maybe_open(o, out, err); /* [store] backend = postgresql */
    if (rc != 1)
        return rc;
    *out = NULL;
    if (!o->dir || !*o->dir)
        return qs_err_set(err, QS_EINVAL, "no data directory given");
    if (o->create) {
        if (!o->node || !qs_code_valid(o->node))
            return qs_err_set(err, QS_EINVAL,
                              "node id \"%s\" is not a division code (6 or 9 digits, e.g. 632322)",
                              o->node ? o->node : "");
        if (o->role != QS_ROLE_COUNTY && o->role != QS_ROLE_AGGREGATOR)
            return qs_err_set(err, QS_EINVAL, "role must be county or aggregator");
    }
    qs_store *st = qs_xcalloc(1, sizeof *st);
    snprintf(st->dir, sizeof st->dir, "%s", o->dir);
    st->lim = o->limits.max_body ? o->limits : qs_limits_default();
    st->max_offset_ms = o->max_clock_offset_ms;
    st->fail_after = -1;
    if (o->user)
        snprintf(st->user, sizeof st->user, "%s", o->user);
    else
        user_name(st->user, sizeof st->user);

    char path[4200];
    snprintf(path, sizeof path, "%s/%s", o->dir, QS_DB_FILE);
    struct stat sb;
    if (!o->create && stat(path, &sb) != 0) {
        rc = qs_err_set(err, QS_ENOTFOUND,
                        "no Qianshou store in %s — create one with `qianshou init`", o->dir);
        goto fail;
    }
    if (o->create && stat(path, &sb) == 0) {
        rc = qs_err_set(err, QS_EEXIST, "a store already exists in %s", o->dir);
        goto fail;
    }
    mode_t old = umask(007);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (o->create ? SQLITE_OPEN_CREATE : 0);
    int r = sqlite3_open_v2(path, &st->db, flags, qs__vfs());
    umask(old);
    if (r != SQLITE_OK) {
        rc = qs_err_set(err, r == SQLITE_CANTOPEN ? QS_EPERM : QS_EIO,
                        "cannot open %s: %s (is it readable and writable by you or your group?)",
                        path, st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(r));
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000);
    old = umask(007);
    rc = qs__exec(st,
                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
                  "PRAGMA secure_delete=ON;",
                  err);
    umask(old);
    if (rc)
        goto fail;
    if (o->cache_mib) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA cache_size = -%llu",
                 (unsigned long long)o->cache_mib << 10);
        if ((rc = qs__exec(st, sql, err)))
            goto fail;
    }
    sqlite3_create_function(st->db, "qs_can_write", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                            sql_can_write, NULL, NULL);
    sqlite3_create_function(st->db, "qs_visible", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                            sql_visible, NULL, NULL);
    if ((rc = migrate(st, err)))
        goto fail;
    if (o->create && (rc = create_meta(st, o, err)))
        goto fail;
    if ((rc = load_meta(st, err)))
        goto fail;
    if (o->node && *o->node && strcmp(o->node, st->node) != 0) {
        rc = qs_err_set(err, QS_EINVAL, "node id mismatch: the store in %s belongs to %s, not %s",
                        o->dir, st->node, o->node);
        goto fail;
    }
    if ((rc = qs__project_init(st, err)))
        goto fail;
    if ((rc = qs__apply_parked(st, err)))
        goto fail;
    set_file_modes(o->dir);
    *out = st;
    return 0;
fail:
    qs_store_close(st);
    return rc;
}

bool qs_store_prefault_page_cache(size_t bytes)
{
    int hdr = 0;
    if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK || hdr < 0)
        return false;
    size_t slot = 4096 + (size_t)hdr; /* the store's page size (SQLite's default) */
    size_t n = bytes / slot;
    if (n == 0)
        return false;
    /* never unmapped: SQLite may use it until the process ends */
    void *p = qs_xmap(n * slot);
    if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, p, (int)slot, (int)n) != SQLITE_OK) {
        qs_xunmap(p, n * slot);
        return false;
    }
    return true;
}

void qs_store_shrink(qs_store *st)
{
    if (st->pg)
        return;
    sqlite3_db_release_memory(st->db);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

uint64_t qs_store_cache_bytes(qs_store *st)
{
    if (st->pg)
        return 0;
    int cur = 0, hi = 0;
    sqlite3_db_status(st->db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0);
    return cur > 0 ? (uint64_t)cur : 0;
}

/* The write-ahead log is left in place at close while it is small. SQLite's
 * default, a checkpoint by the last connection to close, costs a short-lived
 * process (`qianshou add`) three more fsyncs: the WAL before copying, the
 * database after, and the new WAL's header on the next write. Left alone, the
 * next opener rebuilds the WAL index from the file, which then counts as not
 * yet copied; so once the WAL passes QS_WAL_KEEP it is copied into the
 * database and truncated here, or it would grow without bound across short
 * processes (each one's automatic checkpoint copies it all again, and the log
 * restarts only after a complete copy seen by the same index). Rebuilding
 * the index costs time per frame, a checkpoint three fsyncs: 512 KiB (about
 * nine one-record adds) is where the two balance (the measurement is in
 * tests/bench/README.md, fourth session, "#3, add"). */
#define QS_WAL_KEEP (1 << 19)

static void keep_small_wal(qs_store *st)
{
    char wal[4300];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s/%s-wal", st->dir, QS_DB_FILE);
    if (stat(wal, &sb) == 0 && sb.st_size > QS_WAL_KEEP)
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
}

void qs_store_close(qs_store *st)
{
    if (!st)
        return;
    if (st->pg) {
        qs__pg_close(st);
        return;
    }
    if (st->in_tx)
        qs_store_rollback(st);
    for (size_t i = 0; i < QS_STMT_CACHE && st->cache[i].sql; i++)
        sqlite3_finalize(st->cache[i].st);
    qs__project_free(st);
    explicit_bzero(st->secret, sizeof st->secret);
    if (st->db) {
        keep_small_wal(st);
        sqlite3_close_v2(st->db);
    }
    free(st);
}

static int count_q(qs_store *st, const char *sql, uint64_t *out, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st, sql, err);
    if (!s)
        return err ? err->code : QS_EIO;
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : qs__sqlerr(st, rc, "counting", err);
}

int qs_store_ident(qs_store *st, qs_store_info *o, qs_err *err)
{
    if (st->pg)
        return qs__pg_info(st, o, false, err);
    memset(o, 0, sizeof *o);
    snprintf(o->node, sizeof o->node, "%s", st->node);
    o->role = st->role;
    memcpy(o->incarnation, st->inc, QS_INC_LEN);
    o->schema = QS_SCHEMA_VERSION;
    return count_q(st, "SELECT coalesce(max(seq), 0) FROM versions", &o->max_seq, err);
}

int qs_store_info_get(qs_store *st, qs_store_info *o, qs_err *err)
{
    if (st->pg)
        return qs__pg_info(st, o, true, err);
    int rc;
    memset(o, 0, sizeof *o);
    snprintf(o->node, sizeof o->node, "%s", st->node);
    o->role = st->role;
    memcpy(o->incarnation, st->inc, QS_INC_LEN);
    o->schema = QS_SCHEMA_VERSION;
    qs__meta_get_int(st, "created", &o->created_ms, NULL);
    if ((rc = count_q(st, "SELECT coalesce(max(seq), 0) FROM versions", &o->max_seq, err)) ||
        (rc = count_q(st, "SELECT count(*) FROM versions WHERE head = 1 AND deleted = 0",
                      &o->records, err)) ||
        (rc = count_q(st, "SELECT count(DISTINCT id) FROM versions WHERE head = 2", &o->conflicts,
                      err)) ||
        (rc = count_q(st, "SELECT count(*) FROM rejections", &o->rejected, err)) ||
        (rc = count_q(st, "SELECT count(*) FROM parked", &o->parked, err)))
        return rc;
    return 0;
}

int qs_store_data_version(qs_store *st, uint64_t *out, qs_err *err)
{
    if (st->pg)
        return qs__pg_data_version(st, out, err);
    return count_q(st, "PRAGMA data_version", out, err);
}

/* ---- clock ------------------------------------------------------------- */

/* The stored reading, or the one this transaction holds. */
void qs__clock_load(qs_store *st)
{
    if (st->hlc_loaded)
        return;
    int64_t v = 0;
    qs__meta_get_int(st, "hlc", &v, NULL);
    st->hlc = (qs_hlc)v;
    st->hlc_loaded = true;
}

int qs__clock_tick(qs_store *st, qs_hlc *out, qs_err *err)
{
    (void)err;
    /* Always inside a transaction (an edit's or the caller's): the reading is
     * written back by qs__tx_end, once per transaction. */
    qs__clock_load(st);
    *out = qs_hlc_now(&st->hlc, qs_clock_wall_ms());
    st->hlc_dirty = true;
    return 0;
}

int qs_store_clock_now(qs_store *st, qs_hlc *out, qs_err *err)
{
    if (st->pg)
        return qs__pg_clock_now(st, out, err);
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    rc = qs__clock_tick(st, out, err);
    return qs__tx_end(st, mine, rc, err);
}

int qs_store_clock_recv(qs_store *st, qs_hlc remote, int64_t *skew_ms, bool *rejected, qs_err *err)
{
    if (st->pg)
        return qs__pg_clock_recv(st, remote, skew_ms, rejected, err);
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    qs__clock_load(st);
    qs_hlc_recv(&st->hlc, remote, qs_clock_wall_ms(), st->max_offset_ms, skew_ms, rejected);
    st->hlc_dirty = true;
    return qs__tx_end(st, mine, rc, err);
}

/* A meta integer that may be absent: 0 with *v = 0 then. */
static int meta_get_opt(qs_store *st, const char *k, int64_t *v, qs_err *err)
{
    qs_err e = {0};
    *v = 0;
    int rc = qs__meta_get_int(st, k, v, &e);
    if (rc == QS_ENOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc && err)
        *err = e;
    return rc;
}

int qs_store_clock_last(qs_store *st, qs_hlc *out, qs_err *err)
{
    if (st->pg)
        return qs__pg_clock_last(st, out, err);
    int64_t v;
    int rc = meta_get_opt(st, "hlc", &v, err);
    *out = (qs_hlc)v;
    return rc;
}

int qs_store_set_cert_window(qs_store *st, int64_t not_before, int64_t not_after, qs_err *err)
{
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    if (!(rc = qs__meta_set_int(st, "cert_not_before", not_before, err)))
        rc = qs__meta_set_int(st, "cert_not_after", not_after, err);
    return qs__tx_end(st, mine, rc, err);
}

int qs_store_cert_window(qs_store *st, int64_t *not_before, int64_t *not_after, qs_err *err)
{
    int rc = meta_get_opt(st, "cert_not_before", not_before, err);
    if (!rc)
        rc = meta_get_opt(st, "cert_not_after", not_after, err);
    if (rc)
        *not_before = *not_after = 0;
    return rc;
}

int qs_store_set_name(qs_store *st, const char *name, qs_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n >= QS_NAME_MAX)
        return qs_err_set(err, QS_EINVAL, "a node's name has 1 to %d bytes", QS_NAME_MAX - 1);
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    rc = qs__meta_set_blob(st, "name", name, (int)n, err);
    return qs__tx_end(st, mine, rc, err);
}

int qs_store_name(qs_store *st, char out[QS_NAME_MAX], qs_err *err)
{
    if (st->pg)
        return qs__pg_name(st, out, err);
    out[0] = '\0';
    sqlite3_stmt *s = qs__stmt(st, "SELECT v FROM meta WHERE k = 'name'", err);
    if (!s)
        return err ? err->code : QS_EIO;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        int len = sqlite3_column_bytes(s, 0);
        const void *p = sqlite3_column_blob(s, 0);
        if (p && len > 0 && len < QS_NAME_MAX) {
            memcpy(out, p, (size_t)len);
            out[len] = '\0';
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "reading the node's name", err);
}

/* ---- incarnation ------------------------------------------------------- */

int qs_store_check_cursor(qs_store *st, uint64_t cursor, bool *renewed, qs_err *err)
{
    if (st->pg)
        return qs__pg_check_cursor(st, cursor, renewed, err);
    uint64_t max;
    *renewed = false;
    int rc = count_q(st, "SELECT coalesce(max(seq), 0) FROM versions", &max, err);
    if (rc || cursor <= max)
        return rc;
    uint8_t inc[QS_INC_LEN];
    qs_random_bytes(inc, sizeof inc);
    bool mine;
    if ((rc = qs__tx_begin(st, &mine, err)))
        return rc;
    rc = qs__meta_set_blob(st, "incarnation", inc, sizeof inc, err);
    rc = qs__tx_end(st, mine, rc, err);
    if (rc == 0) {
        memcpy(st->inc, inc, sizeof inc);
        *renewed = true;
    }
    return rc;
}

/* ---- pseudonyms and imports --------------------------------------------- */

int qs__secret_load(qs_store *st, qs_err *err)
{
    if (st->secret_len)
        return 0;
    sqlite3_stmt *s = qs__stmt(st, "SELECT v FROM local_secret WHERE k = 'pseudonym'", err);
    if (!s)
        return err ? err->code : QS_EIO;
    int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_bytes(s, 0) : 0;
    if (n < 16 || n > (int)sizeof st->secret) {
        sqlite3_reset(s);
        return qs_err_set(err, QS_ECORRUPT, "the county secret for pseudonyms is missing");
    }
    memcpy(st->secret, sqlite3_column_blob(s, 0), (size_t)n);
    st->secret_len = (size_t)n;
    sqlite3_reset(s);
    return 0;
}

int qs_store_pseudonym(qs_store *st, const char *id_number, uint8_t out[16], qs_err *err)
{
    if (st->pg)
        return qs__pg_unsupported(st, "a pseudonym (a county computes it)", err);
    char norm[64];
    size_t n = 0;
    for (const char *p = id_number; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '-')
            continue;
        if (n + 1 >= sizeof norm)
            return qs_err_set(err, QS_EINVAL, "ID number too long");
        norm[n++] = (*p == 'x') ? 'X' : *p;
    }
    norm[n] = '\0';
    if (n == 0)
        return qs_err_set(err, QS_EINVAL, "empty ID number");
    int rc = qs__secret_load(st, err);
    if (rc)
        return rc;
    uint8_t mac[QS_SHA256_LEN];
    qs_hmac_sha256(st->secret, st->secret_len, norm, n, mac);
    memcpy(out, mac, 16);
    explicit_bzero(norm, sizeof norm);
    explicit_bzero(mac, sizeof mac);
    return 0;
}

bool qs__derives(const qs_kind *k)
{
    for (uint32_t i = 0; k && i < k->nfields; i++)
        if (k->fields[i].pseudonym_of)
            return true;
    return false;
}

int qs__derive(qs_store *st, const qs_kind *k, qs_body *b, qs_err *err)
{
    for (uint32_t i = 0; k && i < k->nfields; i++) {
        const qs_field *f = &k->fields[i], *src = qs_kind_field(k, f->pseudonym_of);
        if (!f->pseudonym_of || !src)
            continue;
        const qs_value *v = qs_body_get(b, src->id);
        if (!v || v->t != QS_V_STR) /* not given: what the writer put there stays */
            continue;
        uint8_t ps[16];
        qs_err e2 = {0};
        int rc = qs_store_pseudonym(st, v->u.s.p, ps, &e2);
        if (rc)
            return qs_err_set(err, rc, "%s (%s): %s", src->name, src->label, e2.msg);
        qs_value one = qs_v_array(1);
        one.u.a.v[0] = qs_v_bin(ps, sizeof ps);
        qs_body_set(b, f->id, one);
    }
    return 0;
}

int qs__derived_copy(qs_store *st, const qs_kind *k, const qs_body *in, qs_body *out,
                     const qs_body **use, qs_err *err)
{
    qs_body_init(out);
    *use = in;
    if (!in || !qs__derives(k))
        return 0;
    for (size_t i = 0; i < in->n; i++)
        qs_body_set(out, in->f[i].id, qs_value_dup(&in->f[i].v));
    *use = out;
    return qs__derive(st, k, out, err);
}

int qs_store_derive(qs_store *st, uint32_t kind, qs_body *b, qs_err *err)
{
    const qs_kind *k = qs_schema_kind(kind);
    if (!k)
        return qs_err_set(err, QS_ENOTFOUND, "unknown kind %u", kind);
    return qs__derive(st, k, b, err);
}

int qs_store_import_lookup(qs_store *st, const uint8_t sha[32], int64_t *at_ms, uint64_t *rows,
                           qs_err *err)
{
    if (st->pg)
        return qs__pg_import_lookup(st, sha, at_ms, rows, err);
    sqlite3_stmt *s = qs__stmt(st, "SELECT at, rows FROM imports WHERE sha = ?", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_blob(s, 1, sha, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *at_ms = sqlite3_column_int64(s, 0);
        *rows = (uint64_t)sqlite3_column_int64(s, 1);
        sqlite3_reset(s);
        return 0;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? QS_ENOTFOUND : qs__sqlerr(st, rc, "reading imports", err);
}

int qs_store_import_note(qs_store *st, const uint8_t sha[32], uint32_t kind, const char *file,
                         uint64_t rows, qs_err *err)
{
    if (st->pg)
        return qs__pg_import_note(st, sha, kind, file, rows, err);
    sqlite3_stmt *s = qs__stmt(
        st, "INSERT OR REPLACE INTO imports(sha, kind, file, rows, at) VALUES (?, ?, ?, ?, ?)",
        err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_blob(s, 1, sha, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, kind);
    sqlite3_bind_text(s, 3, file, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (int64_t)rows);
    sqlite3_bind_int64(s, 5, qs_clock_wall_ms());
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "noting the import", err);
}

/* ---- backup, restore, check, lock -------------------------------------- */

int qs_store_backup(qs_store *st, const char *path, qs_err *err)
{
    if (st->pg)
        return qs__pg_unsupported(st, "qianshou backup", err);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    unlink(tmp);
    mode_t old = umask(077);
    sqlite3 *dst = NULL;
    int rc = 0;
    /* made here first, so that a failure has the system's reason (SQLite
     * says only "unable to open database file") */
    int tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (tfd < 0) {
        int en = errno;
        umask(old);
        return qs_err_set(err,
                          en == ENOSPC   ? QS_EFULL
                          : en == EACCES ? QS_EPERM
                                         : QS_EIO,
                          "cannot write the backup %s: %s", path, strerror(en));
    }
    close(tfd);
    /* through the store's VFS: a full disk the tests simulate fills this too */
    int r = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, qs__vfs());
    umask(old);
    if (r != SQLITE_OK) {
        rc = qs_err_set(err, QS_EIO, "cannot write the backup %s: %s", path,
                        dst ? sqlite3_errmsg(dst) : sqlite3_errstr(r));
        goto done;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", st->db, "main");
    if (!b) {
        rc = qs_err_set(err, QS_EIO, "backup: %s", sqlite3_errmsg(dst));
        goto done;
    }
    /* Step in chunks so writers are not blocked for long; restarts when the
     * source changes under it are handled by SQLite. */
    do {
        r = sqlite3_backup_step(b, 256);
        if (r == SQLITE_BUSY || r == SQLITE_LOCKED)
            sqlite3_sleep(20);
    } while (r == SQLITE_OK || r == SQLITE_BUSY || r == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    if (r != SQLITE_DONE) {
        if ((r & 0xff) == SQLITE_FULL)
            rc = qs_err_set(err, QS_EFULL, "backup failed: the disk is full (%s)",
                            sqlite3_errstr(r));
        else
            rc = qs_err_set(err, QS_EIO, "backup failed: %s", sqlite3_errstr(r));
        goto done;
    }
    /* The copy is a single self-contained file. */
    if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = qs_err_set(err, QS_EIO, "backup: %s", sqlite3_errmsg(dst));
        goto done;
    }
    sqlite3_close(dst);
    dst = NULL;
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    chmod(tmp, 0600);
    if (rename(tmp, path) != 0)
        rc = qs_err_set(err, QS_EIO, "cannot write %s: %s", path, strerror(errno));
done:
    if (dst)
        sqlite3_close(dst);
    if (rc)
        unlink(tmp);
    return rc;
}

int qs_store_lock(const char *dir, int *fd, qs_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/qianshoud.lock", dir);
    mode_t old = umask(007);
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
    umask(old);
    if (f < 0)
        return qs_err_set(err, errno == EACCES ? QS_EPERM : QS_EIO, "cannot open %s: %s", path,
                          strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        close(f);
        return qs_err_set(err, QS_EBUSY, "the daemon (qianshoud) is running on %s: stop it first",
                          dir);
    }
    *fd = f;
    return 0;
}

void qs_store_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

int qs_store_restore(const char *dir, const char *path, qs_err *err)
{
    int lock = -1, rc;
    sqlite3 *src = NULL;
    char tmp[4200], dbp[4200];
    snprintf(tmp, sizeof tmp, "%s/%s.restore", dir, QS_DB_FILE);
    snprintf(dbp, sizeof dbp, "%s/%s", dir, QS_DB_FILE);
    if ((rc = qs_store_lock(dir, &lock, err)))
        return rc;
    unlink(tmp);
    /* Copy through SQLite: it checks the file is a database as it reads it. */
    int r = sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL);
    if (r != SQLITE_OK) {
        rc = qs_err_set(err, QS_ENOTFOUND, "cannot open backup %s: %s", path, sqlite3_errstr(r));
        goto done;
    }
    sqlite3_stmt *s = NULL;
    r = sqlite3_prepare_v2(src, "PRAGMA quick_check", -1, &s, NULL);
    const char *ok = r == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW
                         ? (const char *)sqlite3_column_text(s, 0)
                         : NULL;
    if (!ok || strcmp(ok, "ok") != 0) {
        rc = qs_err_set(err, QS_ECORRUPT, "%s is not an intact Qianshou backup", path);
        sqlite3_finalize(s);
        goto done;
    }
    sqlite3_finalize(s);
    char *sql = sqlite3_mprintf("VACUUM INTO %Q", tmp);
    mode_t old = umask(007);
    r = sqlite3_exec(src, sql, NULL, NULL, NULL);
    umask(old);
    sqlite3_free(sql);
    if (r != SQLITE_OK) {
        rc = qs_err_set(err, (r & 0xff) == SQLITE_FULL ? QS_EFULL : QS_EIO,
                        "cannot copy the backup: %s", sqlite3_errmsg(src));
        goto done;
    }
    sqlite3_close(src);
    src = NULL;
    /* New incarnation: every peer starts over with this node. */
    uint8_t inc[QS_INC_LEN];
    qs_random_bytes(inc, sizeof inc);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        rc = qs_err_set(err, QS_EIO, "cannot open the restored copy");
        sqlite3_close(db);
        goto done;
    }
    r = sqlite3_prepare_v2(db, "UPDATE meta SET v = ? WHERE k = 'incarnation'", -1, &s, NULL);
    if (r == SQLITE_OK) {
        sqlite3_bind_blob(s, 1, inc, sizeof inc, SQLITE_STATIC);
        r = sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(db) == 1 ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (r != SQLITE_OK) {
        rc = qs_err_set(err, QS_ECORRUPT, "%s is not a Qianshou store", path);
        goto done;
    }
    chmod(tmp, 0660);
    char side[4300];
    snprintf(side, sizeof side, "%s-wal", dbp);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", dbp);
    unlink(side);
    if (rename(tmp, dbp) != 0) {
        rc = qs_err_set(err, QS_EIO, "cannot put the restored database in place: %s",
                        strerror(errno));
        goto done;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
done:
    if (src)
        sqlite3_close(src);
    if (rc)
        unlink(tmp);
    qs_store_unlock(lock);
    return rc;
}

int qs_store_check(qs_store *st, qs_err *err)
{
    if (st->pg)
        return qs__pg_check(st, err);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK)
        return qs__sqlerr(st, SQLITE_ERROR, "integrity check", err);
    int rc = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (!t || strcmp(t, "ok") != 0)
            rc = qs_err_set(err, QS_ECORRUPT, "integrity check: %s", t ? t : "?");
    } else {
        rc = qs__sqlerr(st, sqlite3_errcode(st->db), "integrity check", err);
    }
    sqlite3_finalize(s);
    return rc;
}

void qs_store_test_fail_after(qs_store *st, int k)
{
    st->fail_after = k;
}
