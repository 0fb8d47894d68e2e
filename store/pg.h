/*
 * pg.h — the store on PostgreSQL (libpq), for the aggregator: what store.c,
 * version.c, feed.c, query.c and report.c dispatch to when a qs_store was
 * opened with a conninfo, and what the pg*.c files share. Nothing outside
 * store/ includes this header; libpq lives only here and in store/pg*.c.
 *
 * Layout (pg.c "DDL"): the tables of the SQLite store (versions, history,
 * peers, rejections, parked, imports, meta) in the schema the connection's
 * search_path names, each large table with a `county` column (the six-digit
 * county code of the row's scope) in its primary key, so that it can be
 * partitioned or distributed by county (Citus: distribute by county);
 * the typed projection k_<kind> generated from proto's schema like
 * project.c's; read-only views v_<kind> with Chinese column comments for BI.
 *
 * Sequence numbers (PROTOCOL-session.md "Feed on PostgreSQL"): a version's
 * seq is seq_base + (xid << QS_PG_SLOT_BITS) + slot, where xid is the
 * PostgreSQL transaction id of the transaction that wrote it (the top-level
 * one) and slot counts the versions that transaction wrote (1, 2, ...).
 * Nothing is locked to hand numbers out, so front-ends commit side by side.
 * The feed serves only seqs below the top of its snapshot, seq_base +
 * (xmin << QS_PG_SLOT_BITS), xmin being the oldest transaction still running
 * when the snapshot was taken: every transaction below it has ended, so
 * every version below the top is committed and seen (or rolled back and
 * gone), and no version can appear below it later. A cursor therefore never
 * passes a change that commits afterwards. seq_base (meta) is 0, or the
 * highest seq a `migrate` brought from SQLite.
 *
 * Several processes (front-ends) may use one database at once: record
 * decisions take a transaction-scoped advisory lock on the record id.
 */
#ifndef QS_STORE_PG_H
#define QS_STORE_PG_H

#include "store/pq.h"

#include "store/report.h"
#include "store/store.h"

/* The file in a data directory that sends the store to PostgreSQL: one line,
 * a libpq conninfo without a password. Written by `qianshoud` ([store]
 * backend = postgresql) and by `qianshou migrate`; `qianshou -d DIR` then
 * works against the same database. */
#define QS_PG_FILE "store.conninfo"

/* Read dir/QS_PG_FILE into out (trailing newline dropped): 1 when there is
 * one, 0 when not, negative on a read error. */
int qs__pg_conninfo_file(const char *dir, char *out, size_t n, qs_err *err);

/* ---- the store.h functions on PostgreSQL ---- */
/* qs_store_open's first step: when opts->conninfo is set, or dir holds
 * QS_PG_FILE, open the store on PostgreSQL and return 0 or the error code;
 * otherwise return 1 (the store is SQLite's). */
int qs__pg_maybe_open(const qs_store_opts *o, qs_store **out, qs_err *err);
int qs__pg_open(const qs_store_opts *o, const char *conninfo, qs_store **out, qs_err *err);
void qs__pg_close(qs_store *st);
int qs__pg_info(qs_store *st, qs_store_info *o, bool counts, qs_err *err);
int qs__pg_data_version(qs_store *st, uint64_t *out, qs_err *err);
int qs__pg_begin(qs_store *st, bool all_or_nothing, qs_err *err);
int qs__pg_clock_now(qs_store *st, qs_hlc *out, qs_err *err);
int qs__pg_clock_recv(qs_store *st, qs_hlc remote, int64_t *skew_ms, bool *rejected, qs_err *err);
int qs__pg_clock_last(qs_store *st, qs_hlc *out, qs_err *err);
int qs__pg_meta_set(qs_store *st, const char *k, int64_t i, const void *b, size_t n, qs_err *err);
/* A meta row: *i and b (up to cap bytes, *n written); QS_ENOTFOUND if absent. */
int qs__pg_meta_get(qs_store *st, const char *k, int64_t *i, void *b, size_t cap, size_t *n,
                    qs_err *err);
int qs__pg_check_cursor(qs_store *st, uint64_t cursor, bool *renewed, qs_err *err);
int qs__pg_import_lookup(qs_store *st, const uint8_t sha[32], int64_t *at_ms, uint64_t *rows,
                         qs_err *err);
int qs__pg_import_note(qs_store *st, const uint8_t sha[32], uint32_t kind, const char *file,
                       uint64_t rows, qs_err *err);
int qs__pg_name(qs_store *st, char out[QS_NAME_MAX], qs_err *err);
/* report.c's settings table: *value is left alone when none is stored. */
int qs__pg_setting_get(qs_store *st, int year, const char *key, int64_t *value, qs_err *err);
int qs__pg_setting_set(qs_store *st, int year, const char *key, int64_t value, qs_err *err);
int qs__pg_unsupported(qs_store *st, const char *what, qs_err *err);

/* pg_version.c */
int qs__pg_create(qs_store *st, uint32_t kind, const char *scope, const qs_body *body,
                  uint8_t id[QS_ID_LEN], qs_rev *rev, qs_err *err);
int qs__pg_edit(qs_store *st, const uint8_t id[QS_ID_LEN], const qs_body *body, bool deleted,
                qs_rev *rev, qs_err *err);
int qs__pg_get(qs_store *st, const uint8_t id[QS_ID_LEN], qs_record *out, qs_err *err);
int qs__pg_history(qs_store *st, const uint8_t id[QS_ID_LEN], qs_version_info **out, size_t *n,
                   qs_err *err);
int qs__pg_conflicts(qs_store *st, qs_conflict **out, size_t *n, qs_err *err);
int qs__pg_resolve(qs_store *st, const uint8_t id[QS_ID_LEN], const qs_rev *take,
                   const qs_body *body, qs_rev *rev, qs_err *err);
int qs__pg_apply(qs_store *st, qs_apply_batch *b, size_t nb, qs_err *err);
/* Apply parked versions whose kind is known now (at open). */
int qs__pg_apply_parked(qs_store *st, qs_err *err);
/* The outgoing ancestry of a held version (version.c's qs__ancestry). */
int qs__pg_ancestry(qs_store *st, qs_record *r, qs_err *err);
int qs__pg_note_rejected(qs_store *st, const char *peer, const qs_record *rec, const char *reason,
                         qs_err *err);
/* refs.c's lookup: *known, whether code is a county record's (k_county). */
int qs__pg_county_known(qs_store *st, const char *code, bool *known, qs_err *err);

/* pg_feed.c */
int qs__pg_feed(qs_store *st, const char *peer, qs_feed_dir dir, uint64_t since, uint32_t max,
                qs_record *out, uint32_t *n, uint64_t *upto, bool *more, qs_err *err);
int qs__pg_pending(qs_store *st, const char *parent, uint64_t *count, qs_err *err);
int qs__pg_peer_get(qs_store *st, const char *peer, qs_peer *out, qs_err *err);
int qs__pg_peer_hello(qs_store *st, const char *peer, const uint8_t inc[QS_INC_LEN],
                      int64_t skew_ms, bool *reset, qs_err *err);
int qs__pg_peer_cert(qs_store *st, const char *peer, int64_t not_after_ms, qs_err *err);
int qs__pg_peer_acked(qs_store *st, const char *peer, uint64_t seq, qs_err *err);
int qs__pg_peer_done(qs_store *st, const char *peer, bool ok, const char *error, uint64_t pending,
                     qs_err *err);
int qs__pg_peers(qs_store *st, qs_peer **out, size_t *n, qs_err *err);
int qs__pg_rejections(qs_store *st, qs_rejection **out, size_t *n, qs_err *err);
int qs__pg_digest(qs_store *st, const char *scope, uint8_t out[32], uint64_t *count, qs_err *err);
int qs__pg_list(qs_store *st, const qs_query *q, qs_record_cb cb, void *ctx, qs_err *err);
int qs__pg_count_eq(qs_store *st, uint32_t kind, const qs_filter *filters, size_t n,
                    uint64_t *count, qs_err *err);

/* pg_report.c: the annual report's measure (report.h): the counties and
 * pairings (county filter or NULL) with every measured field but freshness,
 * under the settings in force set[QS_S_COUNT]; r's period is set. */
int qs__pg_report_measure(qs_store *st, const char *county, const int64_t *set, qs_report *r,
                          qs_err *err);
/* The report's indexes on the projection (made with it, part of the DDL's
 * fingerprint). */
extern const char qs__pg_report_ddl[];

/* pg_check.c: `qianshou check` (qs_store_check): every version verifies,
 * numbers, heads and the projection agree; 0 or QS_ECORRUPT with the first
 * problem. */
int qs__pg_check(qs_store *st, qs_err *err);

/* pg_users.c: the web's accounts and audit trail (users.h) on PostgreSQL,
 * the statements only (the rules are users.c's, for both backends): tables
 * web_users and web_audit, local to the province's database (shared by its
 * front-ends, never synced). QS_EEXIST and QS_ENOTFOUND come without a
 * message (users.c words them). */
struct qs_user;
struct qs_audit_row;
struct qs__user_set;
/* Create the tables if missing (under QS_PG_DDL_LOCK: front-ends start at
 * once); no write when they are there. */
int qs__pg_users_init(qs_store *st, qs_err *err);
/* QS_EEXIST when the name is taken. */
int qs__pg_user_insert(qs_store *st, const char *name, int role, const char *hash,
                       int64_t created_ms, qs_err *err);
/* QS_ENOTFOUND when there is no such user. */
int qs__pg_user_update(qs_store *st, const char *name, const struct qs__user_set *set, qs_err *err);
/* The user (pw_tag left zero) and its stored hash (QS_PW_HASH_MAX bytes);
 * QS_ENOTFOUND. With lock, the row is locked until the transaction ends. */
int qs__pg_user_get(qs_store *st, const char *name, struct qs_user *out, char *hash, bool lock,
                    qs_err *err);
/* Every user by name into *out (the caller frees it), *n of them. */
int qs__pg_users_list(qs_store *st, struct qs_user **out, size_t *n, qs_err *err);
int qs__pg_audit_add(qs_store *st, int64_t at_ms, const char *user, const char *action,
                     const char *record, const char *detail, qs_err *err);
/* The newest max rows into v, newest first; *n of them. */
int qs__pg_audit_list(qs_store *st, size_t max, struct qs_audit_row *v, size_t *n, qs_err *err);

/* ---- shared by pg*.c ---- */

/* The transaction-scoped advisory lock that every creation of tables takes
 * (the store's at open, the web's accounts), so that front-ends starting at
 * once on one database take turns. */
#define QS_PG_DDL_LOCK "SELECT pg_advisory_xact_lock(7163756)"

#define QS_PG_STMTS 160 /* prepared statements of one connection */

/* The projection statements of one kind, built once at open (their
 * addresses key the prepared-statement cache). */
typedef struct qs_pg_kind {
    const qs_kind *k;
    char *del;
    char **child_del;              /* per field index; NULL unless a list field */
    struct qs_pg_bulk *upsert;     /* the winner's row */
    struct qs_pg_bulk *insert;     /* the same, for a record that had none */
    struct qs_pg_bulk **child_ins; /* per field index, as child_del */
} qs_pg_kind;

struct qs_pg {
    PGconn *c;
    const char *prepared[QS_PG_STMTS]; /* statement "q<i>" is prepared[i] */
    int nprepared;
    bool defer;  /* qs__pg_cmd sends without waiting (pipeline mode) */
    int pending; /* statements sent in pipeline mode, results not read */
    char pending_what[64];
    int64_t slots;             /* seq slots handed out in this transaction */
    int64_t seq_base;          /* meta seq_base */
    uint8_t fe[16];            /* this front-end's row in clocks */
    bool bulking;              /* gather rows (pg_bulk.c) */
    struct qs_pg_bulk **bulks; /* every gatherer of this connection */
    int nbulks;
    struct qs_pg_bulk *vbulk, *hbulk; /* versions, history */
    qs_pg_kind *kinds;                /* one per schema kind */
    uint32_t nkinds;
};

#define QS_PG_MAXP 40 /* parameters of one statement */

/* Parameters of one statement: integers and text in text format, bytes in
 * binary; a NULL pointer is SQL NULL. Values are copied or must outlive the
 * call that runs the statement. */
typedef struct qs_pgp {
    int n;
    const char *v[QS_PG_MAXP];
    int len[QS_PG_MAXP];
    int fmt[QS_PG_MAXP];
    char num[QS_PG_MAXP][24];
} qs_pgp;

void qs__pgp_int(qs_pgp *p, int64_t v);
void qs__pgp_bool(qs_pgp *p, bool v);
void qs__pgp_text(qs_pgp *p, const char *s);
void qs__pgp_bin(qs_pgp *p, const void *b, size_t n);

/* Run sql (a string whose address stays valid and constant while st is
 * open: it is prepared once per connection, keyed by that address) with p
 * (may be NULL); results in binary format. Returns the result (PQclear it)
 * or NULL with err set (the SQLSTATE mapped: deadlock or serialization
 * failure QS_EBUSY, disk full QS_EFULL, else QS_EIO). */
PGresult *qs__pg_q(qs_store *st, const char *sql, const qs_pgp *p, const char *what, qs_err *err);
/* The same for SQL built at run time (not prepared). */
PGresult *qs__pg_qd(qs_store *st, const char *sql, const qs_pgp *p, const char *what, qs_err *err);
/* qs__pg_q without a result: 0 or the error code. While pg->defer is set
 * (applying a batch) the statement is only sent (libpq pipeline mode) and
 * its result read with the next statement that returns rows, or at the end
 * of the transaction: a failure then fails that later call, and the
 * transaction. */
int qs__pg_cmd(qs_store *st, const char *sql, const qs_pgp *p, const char *what, qs_err *err);
/* qs__pg_cmd for SQL built at run time (not prepared), with the
 * parameters as arrays. */
int qs__pg_cmd_sql(qs_store *st, const char *sql, int n, const char *const *v, const int *len,
                   const int *fmt, const char *what, qs_err *err);
/* Run a constant statement without parameters (DDL, BEGIN); text results. */
int qs__pg_exec(qs_store *st, const char *sql, const char *what, qs_err *err);

/* Values of a binary result. */
int64_t qs__pg_int(const PGresult *r, int row, int col);
bool qs__pg_isnull(const PGresult *r, int row, int col);
/* Text column copied into out (n bytes, NUL-terminated, "" for NULL). */
void qs__pg_str(const PGresult *r, int row, int col, char *out, size_t n);
/* A record from columns col.. in the order id, kind, scope, gen, hash,
 * parents, hlc, author, deleted, schema, body (QS_PG_VCOLS). */
#define QS_PG_VCOLS "id, kind, scope, gen, hash, parents, hlc, author, deleted, schema, body"
void qs__pg_row_record(const PGresult *r, int row, int col, qs_record *out);

/* The county (six digits) of a scope: the distribution key. */
void qs__pg_county(const char *scope, char out[QS_CODE_MAX]);

/* Transactions, as qs__tx_begin/qs__tx_end (a savepoint inside the caller's). */
int qs__pg_tx_begin(qs_store *st, bool *mine, qs_err *err);
int qs__pg_tx_end(qs_store *st, bool mine, int rc, qs_err *err);
/* Sequence numbers (above). The SQL that stores a version computes its seq
 * as QS_PG_SEQ_SQL(base, slot), base and slot being parameters that
 * qs__pg_slot gives (QS_ELIMIT past QS_PG_SLOTS - 1 in one transaction).
 * qs__pg_seq_top: the exclusive top of what this transaction's snapshot may
 * serve. */
#define QS_PG_SLOT_BITS_SQL "20"
#define QS_PG_SLOTS (INT64_C(1) << 20)
/* (the sub-select is evaluated once per statement, not per row) */
#define QS_PG_SEQ_SQL(base, slot)                                                                  \
    "(" base "::int8 + ((SELECT pg_current_xact_id()::text::int8) << " QS_PG_SLOT_BITS_SQL         \
    ") + " slot "::int8)"
int qs__pg_slot(qs_store *st, int64_t *slot, qs_err *err);
/* Records applied in one transaction, at most, unless one batch is larger
 * (qs__pg_apply says why). */
#define QS_PG_TX_RECORDS 512
int qs__pg_seq_top(qs_store *st, int64_t *top, qs_err *err);
/* The clock's next reading inside the transaction (written back at commit). */
void qs__pg_clock_tick(qs_store *st, qs_hlc *out);

/* Multi-row INSERTs (pg_bulk.c): "head SELECT select FROM
 * unnest($1::qs_row_E[]) AS u(c1, ...) tail", select naming the columns
 * c1..cn of one row, elems (E) giving each column's type ('t' text, 'b'
 * bytea); a value given in text format is cast in select (c4::int4). Types
 * makes (with make) and looks up each gatherer's row type, once all are
 * made. While pg->bulking is set, add gathers p (copied) and sends a full
 * statement; else it sends the one row. Flush sends what every gatherer
 * holds; discard drops it (a rolled-back transaction). */
typedef struct qs_pg_bulk qs_pg_bulk;
qs_pg_bulk *qs__pg_bulk_new(qs_store *st, const char *head, const char *select, const char *elems,
                            const char *tail);
int qs__pg_bulk_types(qs_store *st, bool make, qs_err *err);
int qs__pg_bulk_add(qs_store *st, qs_pg_bulk *b, const qs_pgp *p, const char *what, qs_err *err);
int qs__pg_bulk_flush(qs_store *st, qs_err *err);
void qs__pg_bulk_discard(qs_store *st);
void qs__pg_bulk_free_all(qs_store *st);

/* Projection (pg_version.c): the typed row of a record's winner. */
/* fresh: the record has no rows in the projection yet (a new id). */
int qs__pg_project(qs_store *st, const qs_record *r, const qs_body *body, bool fresh, qs_err *err);
/* The projection's statements, and with make its tables and views
 * (pg_version.c), by qs__pg_open. */
int qs__pg_project_ddl(qs_store *st, bool make, qs_err *err);
void qs__pg_project_free(qs_store *st);

#endif
