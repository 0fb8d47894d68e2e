/*
 * store.h — a node's records: local edits, applying remote versions, the change
 * feed, peer cursors, conflicts, digests, backups.
 *
 * This header is free of SQLite types: a PostgreSQL backend for the national
 * tier can stand behind it later. Today's backend is SQLite in WAL mode with
 * synchronous=FULL (an edit reported as saved survives a power cut).
 *
 * Threads: a qs_store is used by one thread at a time (the daemon's store
 * thread, or the CLI). Several processes may open the same directory: writes
 * take the database lock (BEGIN IMMEDIATE) and wait up to a busy timeout.
 *
 * Model (DESIGN.md "Records and versions"): every record has one or more
 * *versions*. The versions not superseded by another held version are the
 * record's *heads*: the winner (by qs_rev_cmp) and, when there are several,
 * the losers of an open conflict. The typed projection (queries, reports)
 * shows the winner. Every version this node ever held, and every hash in their
 * ancestries, is its *history* of that record.
 *
 * Sequence numbers: every version stored gets the next local sequence number
 * (seq). A peer's cursor is a seq of the node that sent the versions.
 */
#ifndef QS_STORE_H
#define QS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/body.h"
#include "proto/err.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "proto/precheck.h"
#include "proto/record.h"

typedef struct qs_store qs_store;

#define QS_DB_FILE "qianshou.db"

typedef enum qs_role {
    QS_ROLE_COUNTY = 1,     /* syncs up to a parent */
    QS_ROLE_AGGREGATOR = 2, /* serves children (and may itself sync up later) */
} qs_role;

typedef struct qs_store_opts {
    const char *dir;             /* data directory; the database is dir/QS_DB_FILE */
    bool create;                 /* create a new store (fails with QS_EEXIST if one exists) */
    bool exist_ok;               /* create on PostgreSQL: a store another process created
                                    meanwhile (front-ends starting at once on an empty
                                    database) is opened instead; SQLite's data directory
                                    lets one process in, and ignores this */
    const char *node;            /* create: the node id (division code); open: must match if set */
    qs_role role;                /* create only */
    const char *user;            /* local user for authorship; NULL = the process's user name */
    qs_limits limits;            /* limits for decoding stored and received data */
    int64_t max_clock_offset_ms; /* HLC: remote readings further ahead are not taken */
    int busy_timeout_ms;         /* 0 = 5000 */
    unsigned cache_mib;          /* this handle's page cache; 0 = SQLite's default (2 MiB) */
    const char *conninfo;        /* aggregator on PostgreSQL: a libpq conninfo (no password;
                                    see store/pg.h), remembered in dir; NULL = SQLite, unless
                                    dir holds a store.conninfo */
} qs_store_opts;

/* Whether conninfo (qs_store_opts.conninfo, [store] conninfo) is usable: it
 * parses and holds no password (that comes from a passfile: passfile=PATH in
 * it, or PGPASSFILE). The message never repeats the values. */
int qs_store_conninfo_check(const char *conninfo, qs_err *err);

/* Defaults: limits from qs_limits_default(), max offset 5 minutes, busy 5 s. */
qs_store_opts qs_store_opts_default(void);

/* Open (or create) the store in opts->dir. Runs migrations, applies parked
 * records whose kind this build knows, sets file modes (0660, and the
 * directory's group is kept). On error *out is NULL and err says why. */
int qs_store_open(const qs_store_opts *opts, qs_store **out, qs_err *err);
/* Give memory back while idle: SQLite's page cache of this handle, and the
 * allocator's free pages (glibc's malloc_trim). Nothing stored changes. */
void qs_store_shrink(qs_store *st);
/* Bytes of SQLite page cache this handle holds now. */
uint64_t qs_store_cache_bytes(qs_store *st);
void qs_store_close(qs_store *st);

typedef struct qs_store_info {
    char node[QS_NODE_MAX];
    qs_role role;
    uint8_t incarnation[QS_INC_LEN];
    int64_t created_ms;
    uint64_t max_seq;   /* highest local sequence number */
    uint64_t records;   /* live records (winner not deleted), all kinds */
    uint64_t conflicts; /* records with an open conflict */
    uint64_t rejected;  /* refusals recorded (ours refused upstream, and theirs) */
    uint64_t parked;    /* versions of unknown kinds kept aside */
    uint32_t schema;    /* schema version the database was last opened with */
} qs_store_info;

int qs_store_info_get(qs_store *st, qs_store_info *out, qs_err *err);
/* Only node, role, incarnation and max_seq (no counting): cheap, for every
 * handshake. The other fields of *out are zero. */
int qs_store_ident(qs_store *st, qs_store_info *out, qs_err *err);

/* A number that changes whenever another process (or another qs_store on the
 * same files) commits a change; this handle's own commits leave it alone.
 * Cheap (no query of the data): the daemon polls it to notice clerks' edits. */
int qs_store_data_version(qs_store *st, uint64_t *out, qs_err *err);

/* ---- transactions ------------------------------------------------------ */
/* Local edits and applies run in their own transaction unless the caller has
 * one open; an open transaction makes a sequence of edits all-or-nothing
 * (CSV import). Nesting is not allowed (QS_EBUSY). */
int qs_store_begin(qs_store *st, qs_err *err);
/* qs_store_begin for a large batch of edits (a CSV import): until the
 * transaction ends the connection's page cache may grow to cache_mib MiB, so
 * that the batch's pages are written to the WAL once, at commit, instead of
 * being spilled and rewritten while the batch runs. Durability is unchanged
 * (one transaction, committed with synchronous=FULL). */
int qs_store_begin_bulk(qs_store *st, unsigned cache_mib, qs_err *err);
/* Give SQLite, for the whole process, a page cache of bytes (rounded down to
 * whole pages) whose memory is faulted in at once (qs_xmap), for a process
 * about to fill a cache that big (an import's bulk transaction): SQLite
 * otherwise takes each page from malloc and faults it in alone. Call before
 * any store is opened; false (and nothing done) when SQLite is in use already.
 * Pages beyond it come from malloc as before. */
bool qs_store_prefault_page_cache(size_t bytes);
/* qs_store_begin_bulk for a batch that is stored whole or not at all (an
 * import without --partial): edits inside it take no savepoint of their own,
 * which saves copying every page they touch into a statement journal. So an
 * edit that fails after it began writing may leave part of itself behind:
 * after such a failure qs_store_commit refuses (QS_EINVAL, everything rolled
 * back). An edit refused before writing (bad scope, invalid body) is harmless. */
int qs_store_begin_all_or_nothing(qs_store *st, unsigned cache_mib, qs_err *err);
int qs_store_commit(qs_store *st, qs_err *err);
void qs_store_rollback(qs_store *st);

/* ---- the shared clock ------------------------------------------------- */
/* Next HLC reading for a local event (persisted). */
int qs_store_clock_now(qs_store *st, qs_hlc *out, qs_err *err);
/* Take a remote reading (handshake): see qs_hlc_recv. *skew_ms = remote - local
 * wall; *rejected when beyond max_clock_offset_ms (the clock is not dragged). */
int qs_store_clock_recv(qs_store *st, qs_hlc remote, int64_t *skew_ms, bool *rejected, qs_err *err);
/* The clock's last stored reading (0 when none yet), without advancing it. */
int qs_store_clock_last(qs_store *st, qs_hlc *out, qs_err *err);
/* This node's certificate window (seconds since the epoch), as the daemon
 * last loaded it: the daemon records it at start and at every reload, so
 * that the CLI, which reads no certificate, applies the same clock rule
 * (qs_clock_check_window) before it writes. qs_store_cert_window gives 0, 0
 * when no daemon has recorded one in this store. */
int qs_store_set_cert_window(qs_store *st, int64_t not_before, int64_t not_after, qs_err *err);
int qs_store_cert_window(qs_store *st, int64_t *not_before, int64_t *not_after, qs_err *err);
/* The node's display name (尖扎县), set with `qianshou init --name` whether
 * the store was made by init or by the daemon at its first start; kept in the
 * store, so a backup carries it. qs_store_name gives "" when none was set
 * (out has room for QS_NAME_MAX bytes). QS_EINVAL for an empty name or one
 * of QS_NAME_MAX bytes or more. */
#define QS_NAME_MAX 128
int qs_store_set_name(qs_store *st, const char *name, qs_err *err);
int qs_store_name(qs_store *st, char out[QS_NAME_MAX], qs_err *err);

/* ---- local edits ------------------------------------------------------ */
/* Create a record of kind with body. scope NULL = the node's own id. The body
 * is validated against the schema (all field errors in err's message); the
 * scope must be writable by this node and of the kind's level. Writes *id and
 * *rev (either may be NULL). */
int qs_store_create(qs_store *st, uint32_t kind, const char *scope, const qs_body *body,
                    uint8_t id[QS_ID_LEN], qs_rev *rev, qs_err *err);
/* Replace the body of record id (its current winner becomes the parent).
 * QS_ENOTFOUND if there is no such live record. */
int qs_store_update(qs_store *st, const uint8_t id[QS_ID_LEN], const qs_body *body, qs_rev *rev,
                    qs_err *err);
/* Delete (tombstone) record id. */
int qs_store_delete(qs_store *st, const uint8_t id[QS_ID_LEN], qs_rev *rev, qs_err *err);

/* The current winner of record id into *out (caller frees with qs_record_free).
 * Tombstones are returned too (out->deleted). QS_ENOTFOUND if unknown. */
int qs_store_get(qs_store *st, const uint8_t id[QS_ID_LEN], qs_record *out, qs_err *err);

/* Every version held of record id, oldest first; heads flagged. Caller frees
 * each record and the arrays with free(). */
typedef struct qs_version_info {
    qs_record rec;
    uint64_t seq;
    int head;               /* 0 superseded, 1 winner, 2 open loser */
    char from[QS_NODE_MAX]; /* peer it came from, "" for a local edit */
} qs_version_info;
int qs_store_history(qs_store *st, const uint8_t id[QS_ID_LEN], qs_version_info **out, size_t *n,
                     qs_err *err);
void qs_version_info_free(qs_version_info *v, size_t n);

/* ---- queries ---------------------------------------------------------- */
typedef struct qs_filter {
    uint32_t field; /* field id of the kind */
    qs_value value; /* equality; an ENUMSET filter (an array of codes) means "contains
                       all of"; a REFLIST/DIGESTS filter is ONE element (a 16-byte BIN)
                       and means "contains it" */
    qs_value upto;  /* NIL (zero), or for an INT, DATE or MONEY field an INT: the
                       filter is then the range value <= field <= upto (a month of
                       dates: 20240301..20240331) */
} qs_filter;

typedef struct qs_query {
    uint32_t kind;
    const char *scope; /* NULL = all; else records in this code's subtree */
    const qs_filter *filters;
    size_t nfilters;
    uint64_t limit;       /* 0 = no limit */
    bool include_deleted; /* tombstones too; no filters allowed with it (QS_EINVAL) */
} qs_query;

/* Calls cb for each matching record's winner, in id order (creation order).
 * The record is valid only during the callback. A non-zero return from cb
 * stops the iteration and is returned. */
typedef int (*qs_record_cb)(void *ctx, const qs_record *r);
int qs_store_list(qs_store *st, const qs_query *q, qs_record_cb cb, void *ctx, qs_err *err);
/* Count of live records of kind whose field equals value (e.g. duplicate work
 * days: same person and date). */
int qs_store_count_eq(qs_store *st, uint32_t kind, const qs_filter *filters, size_t n,
                      uint64_t *count, qs_err *err);
/* Records of kind by the field people name them by (the schema's qs_kind.key:
 * a station's township code, a person's or an agency's name, a pairing's
 * county code): *n live records have that value, and id gets the first of
 * them (in id order) when there is one. When there are several and the kind
 * has key years (a county's pairings), only those whose years hold year count
 * (year 0: this year by the wall clock, proto/clock.h). QS_EINVAL for a kind
 * named by its id only. */
int qs_store_find_key(qs_store *st, uint32_t kind, const char *text, int year,
                      uint8_t id[QS_ID_LEN], uint64_t *n, qs_err *err);
/* How many live records of kind duplicate body by the kind's duplicate key
 * (the schema's qs_kind.dup: a work day's person and date): 0 for a kind
 * without one, or a body that lacks one of its fields. For a warning, never
 * a refusal (reports count distinct days). */
int qs_store_count_duplicates(qs_store *st, uint32_t kind, const qs_body *body, uint64_t *n,
                              qs_err *err);
/* Whether this node's reference data knows node code: a live county record
 * with that code (a 6-digit county code), or a live station with that
 * township code (9 digits). Any other code is not known. */
int qs_store_node_known(qs_store *st, const char *code, bool *known, qs_err *err);

/* ---- new records in two threads (bulk imports) ------------------------- */
/* Inside an all-or-nothing transaction (qs_store_begin_all_or_nothing), new
 * records are checked and sealed on the caller's thread (qs_pipe_create) and
 * written, in order, by a writer thread: the next rows are parsed while the
 * last are written. Until qs_pipe_end the caller must not use st otherwise
 * (look records up through a second handle of the same store: it sees what
 * was committed before). */
typedef struct qs_pipe qs_pipe;
/* *out stays NULL for a store on PostgreSQL: there the caller writes each
 * record itself (qs_store_create; qs_pipe_end(NULL) is a no-op). */
int qs_pipe_start(qs_store *st, qs_pipe **out, qs_err *err);
/* qs_store_create's checks, then queue the record; takes body's contents
 * (*body is left empty). validated: the caller checked body with
 * qs_schema_validate for kind already (an import does, to list every problem
 * of a row), so it is not checked twice. A refused record (QS_EINVAL,
 * QS_ESCOPE, a schema error) is returned at once and queues nothing; a
 * storage failure of the writer comes back from a later call (or
 * qs_pipe_end) — then nothing more is written and the transaction can only
 * be rolled back. */
int qs_pipe_create(qs_pipe *p, uint32_t kind, const char *scope, qs_body *body, bool validated,
                   qs_err *err);
/* Wait until everything queued is written, stop the writer, free p; the
 * writer's first failure, if any. Then commit (or roll back) as usual. */
int qs_pipe_end(qs_pipe *p, qs_err *err);

/* ---- applying remote versions ------------------------------------------ */
typedef struct qs_apply_result {
    uint8_t outcome; /* enum qs_outcome (msg.h) */
    char reason[QS_REASON_MAX];
} qs_apply_result;

/* What can be checked of a received version without the store (hash, kind,
 * scope rules, author, body against the schema) is proto/precheck.h: a
 * network thread runs it ahead (qs_precheck_run) and hands the verdicts over
 * with the batch, so that the store thread, which every connection waits
 * for, only decides and writes. */
typedef struct qs_apply_batch {
    const char *peer;        /* sender's node id, from its certificate */
    const uint8_t *peer_inc; /* sender's incarnation */
    qs_direction dir;
    const qs_record *recs;
    uint32_t n;
    uint64_t cursor;          /* the batch's upto: stored as the peer's cursor */
    qs_apply_result *results; /* n results, filled in */
    const qs_precheck *pre;   /* NULL, or n prechecks of recs (qs_precheck_run) */
} qs_apply_batch;

/* Apply batches (possibly from several peers) in ONE transaction, with each
 * peer's new cursor stored in it. Each record gets exactly one of the four
 * outcomes (or PARKED for an unknown kind). Returns non-zero only when the
 * transaction fails (I/O error, disk full): then nothing was applied and no
 * cursor moved, and the caller must not acknowledge. */
int qs_store_apply(qs_store *st, qs_apply_batch *batches, size_t nbatches, qs_err *err);

/* ---- the change feed -------------------------------------------------- */
typedef enum qs_feed_dir {
    QS_FEED_UP = 1,   /* to our parent: only records this node may write */
    QS_FEED_DOWN = 2, /* to a child: only records visible to it */
} qs_feed_dir;

/* Head versions with seq > since, in seq order, at most max, for peer: never
 * local-only kinds, never versions that came from peer under its current
 * incarnation (echo suppression), each with an ancestry of at most
 * limits.max_ancestry hashes. *n = records written to out (caller frees each
 * with qs_record_free); *upto = the seq the peer's cursor may advance to after
 * it applied them (past filtered rows too); *more = whether more may follow. */
int qs_store_feed(qs_store *st, const char *peer, qs_feed_dir dir, uint64_t since, uint32_t max,
                  qs_record *out, uint32_t *n, uint64_t *upto, bool *more, qs_err *err);

/* Records waiting to go up: head versions with seq > the parent's ack cursor
 * that the feed would send. */
int qs_store_pending(qs_store *st, const char *parent, uint64_t *count, qs_err *err);

/* ---- peers and cursors ------------------------------------------------ */
typedef struct qs_peer {
    char node[QS_NODE_MAX];
    uint8_t inc[QS_INC_LEN]; /* the peer's incarnation as last seen (zero if never) */
    uint64_t recv_cursor;    /* last of the peer's seqs we applied */
    uint64_t acked;          /* last of our seqs the peer acknowledged */
    int64_t last_contact_ms;
    int64_t last_ok_ms;        /* last complete sync */
    int64_t skew_ms;           /* clock skew measured at the last handshake */
    uint64_t pending;          /* as the peer reported it (children) */
    int64_t cert_not_after_ms; /* the peer certificate's expiry as last seen (0 unknown) */
    char last_error[QS_REASON_MAX];
} qs_peer;

/* The stored state of peer (zeroed with node set if never seen). */
int qs_store_peer_get(qs_store *st, const char *peer, qs_peer *out, qs_err *err);
/* Record a handshake with peer, whose incarnation is inc. If inc differs from
 * the stored one, both cursors and echo suppression for that peer start over
 * (*reset = true). */
int qs_store_peer_hello(qs_store *st, const char *peer, const uint8_t inc[QS_INC_LEN],
                        int64_t skew_ms, bool *reset, qs_err *err);
/* Record when the certificate the peer presented expires. */
int qs_store_peer_cert(qs_store *st, const char *peer, int64_t not_after_ms, qs_err *err);

/* The peer acknowledged our versions up to seq. */
int qs_store_peer_acked(qs_store *st, const char *peer, uint64_t seq, qs_err *err);
/* Note the end of a session: ok, or the error text; pending = what the peer
 * reported waiting (children), or UINT64_MAX to leave it. */
int qs_store_peer_done(qs_store *st, const char *peer, bool ok, const char *error, uint64_t pending,
                       qs_err *err);
/* All peers, for `status` and `nodes`. Caller frees *out. */
int qs_store_peers(qs_store *st, qs_peer **out, size_t *n, qs_err *err);

/* A peer claims to hold our versions up to `cursor`. If that is past our
 * highest seq (a copied file, a VM snapshot, a restore), take a new
 * incarnation (*renewed = true): every peer then starts over with us. */
int qs_store_check_cursor(qs_store *st, uint64_t cursor, bool *renewed, qs_err *err);

/* Store the outcome of our versions that a peer refused (ACK results with
 * QS_OUT_REJECTED): kept and listed, never dropped. */
int qs_store_note_rejected(qs_store *st, const char *peer, const qs_record *rec, const char *reason,
                           qs_err *err);

typedef struct qs_rejection {
    uint8_t id[QS_ID_LEN];
    uint32_t kind;
    char scope[QS_CODE_MAX];
    qs_rev rev;
    char peer[QS_NODE_MAX];
    bool outgoing; /* true: ours, refused by peer; false: peer's, refused by us */
    char reason[QS_REASON_MAX];
    int64_t at_ms;
} qs_rejection;
int qs_store_rejections(qs_store *st, qs_rejection **out, size_t *n, qs_err *err);

/* ---- conflicts -------------------------------------------------------- */
typedef struct qs_conflict {
    uint8_t id[QS_ID_LEN];
    uint32_t kind;
    char scope[QS_CODE_MAX];
    qs_rev winner;
    qs_rev *losers; /* owned */
    uint32_t nlosers;
} qs_conflict;

int qs_store_conflicts(qs_store *st, qs_conflict **out, size_t *n, qs_err *err);
void qs_conflicts_free(qs_conflict *c, size_t n);

/* Resolve record id's conflict: a new version whose parents are the winner and
 * every open loser, with the body of `take` (one of the heads) or, if take is
 * NULL, `body` (a merged body, validated). QS_ENOTFOUND when there is no open
 * conflict on id. */
int qs_store_resolve(qs_store *st, const uint8_t id[QS_ID_LEN], const qs_rev *take,
                     const qs_body *body, qs_rev *rev, qs_err *err);

/* ---- digests, local-only data, imports, backups ------------------------ */
/* Order-independent digest of (id, head revisions) over every record in
 * scope's subtree (NULL = every record), local-only kinds excluded: XOR of
 * SHA-256(id || gen || hash) per head. *count = heads counted. */
int qs_store_digest(qs_store *st, const char *scope, uint8_t out[32], uint64_t *count, qs_err *err);

/* Beneficiary pseudonym: HMAC-SHA256 of the normalized ID number under this
 * county's secret (kept in a local-only table, so backups carry it),
 * truncated to 16 bytes. */
int qs_store_pseudonym(qs_store *st, const char *id_number, uint8_t out[16], qs_err *err);
/* The fields the store derives (the schema's qs_field.pseudonym_of: a
 * beneficiary's pseudonym from its ID number) set in b, a body of kind, as
 * the store will set them. Every local write (qs_store_create, _update,
 * _resolve with a body, qs_pipe_create) does this itself, replacing whatever
 * the writer put in a derived field, so no writer can store a pseudonym that
 * does not match the ID number beside it; a writer calls it only to validate
 * or show the body as it will be stored. A derived field whose source is not
 * given keeps what the writer put there. Versions applied from peers are
 * never changed (their bodies are hashed; derived kinds are local-only, and
 * their sources never leave the node). Error: "id_number (身份证号): …". */
int qs_store_derive(qs_store *st, uint32_t kind, qs_body *b, qs_err *err);

/* Imports: a sheet's SHA-256 and when it was imported, so the same sheet is
 * not imported twice by accident. lookup: QS_ENOTFOUND if never imported. */
int qs_store_import_lookup(qs_store *st, const uint8_t sha[32], int64_t *at_ms, uint64_t *rows,
                           qs_err *err);
int qs_store_import_note(qs_store *st, const uint8_t sha[32], uint32_t kind, const char *file,
                         uint64_t rows, qs_err *err);

/* A consistent online copy of the database to path, mode 0600. */
int qs_store_backup(qs_store *st, const char *path, qs_err *err);
/* Replace the store in dir with the backup at path (no process may have it
 * open), and give it a new incarnation. */
int qs_store_restore(const char *dir, const char *path, qs_err *err);

/* Move this aggregator's SQLite store (src, opened on its directory, with
 * no daemon running) into the empty PostgreSQL database of conninfo:
 * versions with their sequence numbers, history, conflicts, peers and
 * cursors, rejections, parked versions, imports, the settings (node,
 * incarnation, clock, name). Then compare: qs_store_digest and the counters
 * of both sides must be equal (QS_ECORRUPT otherwise). The caller switches
 * the directory over (writes store.conninfo) only after it succeeded; src
 * is not changed. */
typedef struct qs_migrate_stats {
    uint64_t versions, history, peers, rejections, parked, imports, projected, heads;
    uint64_t users, audit; /* the web's accounts and audit rows (users.h) */
    uint8_t digest[32], digest_pg[32];
} qs_migrate_stats;
int qs_store_migrate_pg(qs_store *src, const char *conninfo, qs_migrate_stats *stats, qs_err *err);

/* Run PRAGMA integrity_check; 0 or QS_ECORRUPT with the first problem. */
int qs_store_check(qs_store *st, qs_err *err);

/* The daemon's lock on a data directory (dir/qianshoud.lock, flock): the
 * daemon holds it for its life; restore takes it too, so a restore refuses
 * while a daemon runs (QS_EBUSY). *fd stays open while the lock is held. */
int qs_store_lock(const char *dir, int *fd, qs_err *err);
void qs_store_unlock(int fd);

/* Tests only (a hook listed in proto/testhook.h): make the next
 * qs_store_apply fail with QS_EIO after k records
 * were written inside its transaction, or the (k+1)-th local edit fail after
 * it has written its version (k < 0: off). */
void qs_store_test_fail_after(qs_store *st, int k);

#endif
