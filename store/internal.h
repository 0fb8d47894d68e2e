/*
 * internal.h — what the store's .c files share. SQLite lives only here and in
 * the store's .c files; nothing outside store/ includes this header.
 */
#ifndef QS_STORE_INTERNAL_H
#define QS_STORE_INTERNAL_H

#include <sqlite3.h>

#include "proto/schema.h"
#include "store/report.h"
#include "store/store.h"

#define QS_STMT_CACHE 96

typedef struct stmt_slot {
    const char *sql; /* identity: the address of a string literal */
    sqlite3_stmt *st;
} stmt_slot;

/* The typed projection of one kind: table k_<name>(id, scope, seq, fields...)
 * and, per list field, k_<name>__<field>(id, v). */
typedef struct kind_sql {
    const qs_kind *k;
    sqlite3_stmt *upsert;     /* INSERT OR REPLACE INTO k_<name> ... */
    sqlite3_stmt *del;        /* DELETE FROM k_<name> WHERE id = ? */
    sqlite3_stmt **child_del; /* per field index; NULL unless a list field */
    sqlite3_stmt **child_ins;
} kind_sql;

/* users.c: a change to one web account, the same for both backends
 * (users.c's SQLite statements, pg_users.c). Start from QS__USER_SET_NONE;
 * NULL, 0 (role) or -1 leaves a column as it is. */
typedef struct qs__user_set {
    const char *hash;      /* a new argon2id hash */
    int role;              /* qs_user_role */
    int disabled;          /* 0 or 1 */
    int64_t failures;      /* wrong passwords in a row */
    int64_t locked_until;  /* ms */
    int64_t last_login_ms; /* ms */
} qs__user_set;
#define QS__USER_SET_NONE                                                                          \
    {                                                                                              \
        NULL, 0, -1, -1, -1, -1                                                                    \
    }

struct qs_store {
    sqlite3 *db;
    struct qs_pg *pg; /* the PostgreSQL backend (pg.h), NULL for SQLite */
    char dir[4096];
    char node[QS_NODE_MAX];
    char prefix[QS_CODE_MAX];
    char user[64];
    char author[QS_AUTHOR_MAX]; /* "node/user": the author of this handle's edits */
    qs_role role;
    uint8_t inc[QS_INC_LEN];
    qs_limits lim;
    int64_t max_offset_ms;
    bool in_tx;
    bool all_or_nothing; /* in_tx: edits take no savepoints (qs_store_begin_all_or_nothing) */
    bool failed;         /* all_or_nothing: an edit failed, only a rollback is left */
    /* The HLC inside a transaction: read from meta at the first tick, kept
     * here, written back once just before COMMIT (not at all on rollback). */
    bool hlc_loaded, hlc_dirty;
    qs_hlc hlc;
    int64_t saved_cache; /* PRAGMA cache_size to restore after a bulk transaction; 0 none */
    int fail_after;      /* tests: fail apply after k writes (-1 off) */
    bool scope_index;    /* versions_scope is known to exist (qs__scope_index) */
    /* The county secret for pseudonyms, read once (qs__secret_load), so that
     * deriving a pseudonym needs no statement: an import's caller thread
     * derives while the writer thread has the connection. */
    uint8_t secret[64];
    size_t secret_len; /* 0: not read yet */
    stmt_slot cache[QS_STMT_CACHE];
    kind_sql *ksql; /* one per schema kind, same order as qs_schema_kind_at */
    uint32_t nksql;
};

/* A cached prepared statement for a string literal; reset and unbound. NULL
 * (with err set) if it does not prepare. */
sqlite3_stmt *qs__stmt(qs_store *st, const char *sql, qs_err *err);
/* Map a SQLite result code to a QS_E code and a sentence in err. */
int qs__sqlerr(qs_store *st, int rc, const char *what, qs_err *err);
/* Run SQL without results. */
int qs__exec(qs_store *st, const char *sql, qs_err *err);
/* Begin/commit an IMMEDIATE transaction, or a savepoint inside the caller's
 * transaction; *mine says whether this call opened the transaction. */
int qs__tx_begin(qs_store *st, bool *mine, qs_err *err);
int qs__tx_end(qs_store *st, bool mine, int rc, qs_err *err);

/* The store's VFS shim (vfs.c): keeps an existing WAL from costing a
 * directory fsync per process, and fails writes while QIANSHOU_TEST_DISKFULL's
 * file exists. Its name, or NULL (the default VFS) if it could not register. */
const char *qs__vfs(void);

/* Pseudonyms (store.c). Read the secret into st (once; a statement). */
int qs__secret_load(qs_store *st, qs_err *err);
/* Whether kind k has fields the store derives (qs_field.pseudonym_of). */
bool qs__derives(const qs_kind *k);
/* Set the derived fields of a body of kind k in place (qs_store_derive). */
int qs__derive(qs_store *st, const qs_kind *k, qs_body *b, qs_err *err);
/* For a writer given a const body: *use = in itself when k derives nothing,
 * else out, a copy of in with the derived fields set (out is initialised
 * either way; the caller frees it). */
int qs__derived_copy(qs_store *st, const qs_kind *k, const qs_body *in, qs_body *out,
                     const qs_body **use, qs_err *err);

/* Make sure versions(scope, seq), the down feed's index, exists (feed.c). */
int qs__scope_index(qs_store *st, qs_err *err);

/* The next HLC reading, persisted; the caller holds a transaction. */
int qs__clock_tick(qs_store *st, qs_hlc *out, qs_err *err);

/* meta table */
int qs__meta_get_int(qs_store *st, const char *k, int64_t *v, qs_err *err);
int qs__meta_set_int(qs_store *st, const char *k, int64_t v, qs_err *err);
int qs__meta_set_blob(qs_store *st, const char *k, const void *p, int n, qs_err *err);

/* projection (project.c) */
int qs__project_init(qs_store *st, qs_err *err);
void qs__project_free(qs_store *st);
/* Make the projection of record id show r (its winner): a row for a live
 * record, none for a tombstone. body: r's body decoded, when the caller has
 * it (else it is decoded here); fresh: id has never been stored before, so
 * there are no rows of it to replace (a new record made here). */
int qs__project(qs_store *st, const qs_record *r, uint64_t seq, const qs_body *body, bool fresh,
                qs_err *err);

/* versions (version.c) */
int qs__row_to_record(sqlite3_stmt *s, int col0, qs_record *r);
int qs__apply_parked(qs_store *st, qs_err *err);
/* A new record in three steps (qs_store_create does all three; an import's
 * writer thread does the last, see pipe.c): check (nothing stored touched),
 * seal (id, the transaction's clock reading, hash; in a transaction), write
 * (the version and its projection; body: decoded). */
int qs__create_check(qs_store *st, uint32_t kind, const char *scope, const qs_body *body,
                     bool validated, qs_err *err);
int qs__create_seal(qs_store *st, uint32_t kind, const char *scope, const qs_body *body,
                    qs_record *r, qs_err *err);
int qs__create_write(qs_store *st, const qs_record *r, const qs_body *body, qs_err *err);
/* What a record written here must agree with in the reference data (refs.c:
 * a pairing's county is a county record of the province). body NULL: a
 * deletion, nothing to check. Not for versions applied from peers. */
int qs__refs_check(qs_store *st, uint32_t kind, const char *scope, const qs_body *body,
                   qs_err *err);
/* Read the clock's stored reading into the transaction (once). */
void qs__clock_load(qs_store *st);
/* Build the outgoing ancestry of a held version. */
int qs__ancestry(qs_store *st, qs_record *r, qs_err *err);

/* decide.c: what version.c and pg_version.c decide and build alike,
 * reading and writing nothing; each backend does the reads and writes. */
/* Set res's outcome, and its reason from fmt (NULL: none). */
void qs__result(qs_apply_result *res, int outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The verdict (QS_PRE_*) of the checks that need nothing stored on received
 * version r, with the outcome and reason in *res: from pre when a network
 * thread ran them (*use: the body it kept, left where it is, freed on the
 * thread that made it; one it did not keep is decoded again into *scratch,
 * already validated), else run here (qs_precheck_check) into *scratch. */
int qs__received_verdict(const qs_store *st, const char *peer, qs_direction dir, const qs_record *r,
                         const qs_precheck *pre, qs_body *scratch, const qs_body **use,
                         qs_apply_result *res);
/* What becomes of received version r with verdict QS_PRE_OK or
 * QS_PRE_AUTHOR once its record's heads are read. */
typedef enum qs_apply_step {
    QS_STEP_DONE,   /* the outcome is in *res (a duplicate): nothing to write */
    QS_STEP_REJECT, /* the outcome is in *res: note the rejection with note */
    QS_STEP_INSTALL /* store r as a head (its outcome: applied or conflict) */
} qs_apply_step;
/* exists: the id is held, as kind in scope; dup: r's revision is held (in
 * its versions or history). note: the reason a rejection is kept with (the
 * whole story, which the sender hears only if it may see the held record). */
qs_apply_step qs__apply_decide(const char *peer, int verdict, const qs_record *r, bool exists,
                               bool dup, uint32_t kind, const char *scope, qs_apply_result *res,
                               char note[QS_REASON_MAX]);
/* The test hook (qs_store_test_fail_after). Before a received version is
 * stored: QS_EIO when the count is 0, else one off it. */
int qs__hook_apply(qs_store *st, qs_err *err);
/* After a local write that returned rc: QS_EIO when rc is 0 and the count
 * is 0 (then off), else one off the count and rc as it is. */
int qs__hook_local(qs_store *st, int rc, qs_err *err);
/* body against kind k's schema; the sentence starts with the kind's name. */
int qs__check_body(const qs_kind *k, const qs_body *body, qs_err *err);
/* Whether this node may edit or delete record id, whose winner is cur;
 * *k: its kind when known. */
int qs__edit_check(const qs_store *st, const uint8_t id[QS_ID_LEN], const qs_record *cur,
                   const qs_kind **k, qs_err *err);
/* Whether this node may resolve record id, with nheads heads, of kind in
 * scope, by taking revision take or by a new body; *k: its kind when known. */
int qs__resolve_check(const qs_store *st, const uint8_t id[QS_ID_LEN], size_t nheads, uint32_t kind,
                      const char *scope, const qs_rev *take, const qs_body *body, const qs_kind **k,
                      qs_err *err);
/* *at: where take stands among heads[0..n) (a conflict's revisions). */
int qs__resolve_pick(const qs_rev *heads, size_t n, const qs_rev *take, size_t *at, qs_err *err);
/* Fill *r (initialised) with a version written here, sealed: record id of
 * kind in scope after parents[0..np) (the heads it settles, none for a new
 * record), deleted or not, body (encoded), clock reading hlc, this store's
 * author. */
void qs__local_version(const qs_store *st, qs_record *r, const uint8_t id[QS_ID_LEN], uint32_t kind,
                       const char *scope, const qs_rev *parents, uint32_t np, bool deleted,
                       const qs_buf *body, qs_hlc hlc);
/* One row of a conflict list read in order of id (the heads of records with
 * a loser): c, the entry of the row before (NULL at the first), or a new
 * entry appended to *out (*n entries, room for *cap) with id, kind and scope
 * when id is another record's; rv goes in as its winner or as one more
 * loser. Returns the row's entry. */
qs_conflict *qs__conflict_row(qs_conflict **out, size_t *n, size_t *cap, qs_conflict *c,
                              const uint8_t *id, uint32_t kind, const char *scope, const qs_rev *rv,
                              bool winner);
/* A stored parents column: each parent a big-endian u64 generation and a hash. */
#define QS_PARENT_BYTES (8 + QS_HASH_LEN)
/* Add to a[0..*n), at most max, the hashes of col (len bytes, NULL none),
 * a held version's parents column (parents) or ancestry column (hashes),
 * each one not there yet: a step of the breadth-first walk for the feed's
 * ancestry. */
void qs__ancestry_add(uint8_t (*a)[QS_HASH_LEN], uint32_t *n, uint32_t max, const uint8_t *col,
                      int len, bool parents);

/* The report's measure (report.c), shared by both backends' measures. */
#define QS_KEY_MAX (QS_ID_LEN + 4)
/* A set of QS_KEY_MAX-byte keys; zero-initialised is empty. */
typedef struct qs_keyset {
    uint8_t *slots; /* cap slots of QS_KEY_MAX bytes */
    uint8_t *used;  /* cap flags */
    size_t cap, n;
} qs_keyset;
/* Insert; true when the key was not there yet. */
bool qs__keyset_add(qs_keyset *ks, const uint8_t *k);
bool qs__keyset_has(const qs_keyset *ks, const uint8_t *k);
void qs__keyset_clear(qs_keyset *ks);
void qs__keyset_free(qs_keyset *ks);
/* The key of a person's day. */
void qs__day_key(uint8_t k[QS_KEY_MAX], const void *person, int32_t date);
/* One service log of the period, as read from k_service (NULL figures 0). */
typedef struct qs_svc_row {
    int32_t date;
    int64_t type, domain, cats, minors, minutes, total;
    const uint8_t *workers, *pseudonyms; /* nworkers, npseudonyms ids */
    int nworkers, npseudonyms;
} qs_svc_row;
typedef struct qs_svc_acc {
    int64_t with_pseudo, heads;
} qs_svc_acc;
/* Add a service log to p: counts by type, domain and category, reach, logs
 * with a worker without a work day (in workdays) that date, pseudonyms. */
void qs__report_service_row(qs_report_pairing *p, const int64_t *set, const qs_keyset *workdays,
                            qs_keyset *pseudonyms, const qs_svc_row *r, qs_svc_acc *a);
/* p's people served, after its last service log. */
void qs__report_people(qs_report_pairing *p, const qs_keyset *pseudonyms, const qs_svc_acc *a);
/* A row of (direction, category, source, SUM(amount), COUNT(*)) of p's expenses. */
void qs__report_expense_row(qs_report_pairing *p, int64_t dir, bool has_cat, int64_t cat,
                            int64_t src, int64_t sum, int64_t cnt);
/* A row of (type, COUNT(*)) of the county's outputs. */
void qs__report_output_row(qs_report_pairing *p, int64_t type, int64_t n);
/* A row of (type, COUNT(*), SUM(minutes), SUM(local_participants)) of trainings. */
void qs__report_training_row(qs_report_pairing *p, int64_t type, int64_t n, int64_t minutes,
                             int64_t local);

#endif
