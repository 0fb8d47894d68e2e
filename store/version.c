/*
 * version.c — versions of records: local edits, applying remote versions
 * (the four outcomes), heads and conflicts, resolution, history, parking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/clock.h"
#include "proto/msg.h"
#include "proto/schema.h"
#include "proto/scope.h"
#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

#define VCOLS "id, kind, scope, gen, hash, parents, hlc, author, deleted, schema, body"

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

#define PARENT_BYTES QS_PARENT_BYTES

int qs__row_to_record(sqlite3_stmt *s, int c, qs_record *r)
{
    qs_record_init(r);
    if (sqlite3_column_bytes(s, c) == QS_ID_LEN)
        memcpy(r->id, sqlite3_column_blob(s, c), QS_ID_LEN);
    r->kind = (uint32_t)sqlite3_column_int64(s, c + 1);
    snprintf(r->scope, sizeof r->scope, "%s", (const char *)sqlite3_column_text(s, c + 2));
    r->rev.gen = (uint64_t)sqlite3_column_int64(s, c + 3);
    if (sqlite3_column_bytes(s, c + 4) == QS_HASH_LEN)
        memcpy(r->rev.hash, sqlite3_column_blob(s, c + 4), QS_HASH_LEN);
    int pn = sqlite3_column_bytes(s, c + 5) / PARENT_BYTES;
    const uint8_t *pb = sqlite3_column_blob(s, c + 5);
    if (pn > 0 && pb) {
        r->parents = qs_xcalloc((size_t)pn, sizeof *r->parents);
        for (int i = 0; i < pn; i++) {
            r->parents[i].gen = get_be64(pb + i * PARENT_BYTES);
            memcpy(r->parents[i].hash, pb + i * PARENT_BYTES + 8, QS_HASH_LEN);
        }
        r->nparents = (uint32_t)pn;
    }
    r->hlc = (qs_hlc)sqlite3_column_int64(s, c + 6);
    snprintf(r->author, sizeof r->author, "%s", (const char *)sqlite3_column_text(s, c + 7));
    r->deleted = sqlite3_column_int(s, c + 8) != 0;
    r->schema = (uint32_t)sqlite3_column_int64(s, c + 9);
    qs_record_set_body(r, sqlite3_column_blob(s, c + 10),
                       (uint32_t)sqlite3_column_bytes(s, c + 10));
    return 0;
}

/* One head of a record, as loaded for a decision. */
typedef struct head {
    uint64_t seq;
    qs_rev rev;
    int flag; /* 1 winner, 2 loser */
} head;

static int load_heads(qs_store *st, const uint8_t id[QS_ID_LEN], head **out, size_t *n,
                      uint32_t *kind, char scope[QS_CODE_MAX], bool *exists, qs_err *err)
{
    *out = NULL;
    *n = 0;
    *exists = false;
    sqlite3_stmt *s = qs__stmt(
        st, "SELECT seq, gen, hash, head, kind, scope FROM versions WHERE id = ? AND head > 0",
        err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_blob(s, 1, id, QS_ID_LEN, SQLITE_STATIC);
    int rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 2;
            *out = qs_xreallocarray(*out, cap, sizeof **out);
        }
        head *h = &(*out)[(*n)++];
        h->seq = (uint64_t)sqlite3_column_int64(s, 0);
        h->rev.gen = (uint64_t)sqlite3_column_int64(s, 1);
        memcpy(h->rev.hash, sqlite3_column_blob(s, 2), QS_HASH_LEN);
        h->flag = sqlite3_column_int(s, 3);
        if (kind)
            *kind = (uint32_t)sqlite3_column_int64(s, 4);
        if (scope)
            snprintf(scope, QS_CODE_MAX, "%s", (const char *)sqlite3_column_text(s, 5));
        *exists = true;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return qs__sqlerr(st, rc, "reading a record", err);
    }
    return 0;
}

static int load_version(qs_store *st, uint64_t seq, qs_record *r, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st, "SELECT " VCOLS " FROM versions WHERE seq = ?", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_int64(s, 1, (int64_t)seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        qs__row_to_record(s, 0, r);
        sqlite3_reset(s);
        return 0;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE
               ? qs_err_set(err, QS_ENOTFOUND, "version %llu missing", (unsigned long long)seq)
               : qs__sqlerr(st, rc, "reading a version", err);
}

static int set_flag(qs_store *st, uint64_t seq, int flag, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st, "UPDATE versions SET head = ? WHERE seq = ?", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_int(s, 1, flag);
    sqlite3_bind_int64(s, 2, (int64_t)seq);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "updating a record", err);
}

static bool in_history(qs_store *st, const uint8_t id[QS_ID_LEN], const uint8_t hash[QS_HASH_LEN],
                       int *rc_out, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st,
                               "SELECT 1 FROM versions WHERE id = ?1 AND hash = ?2 "
                               "UNION ALL SELECT 1 FROM history WHERE id = ?1 AND hash = ?2",
                               err);
    *rc_out = 0;
    if (!s) {
        *rc_out = err ? err->code : QS_EIO;
        return false;
    }
    sqlite3_bind_blob(s, 1, id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, hash, QS_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return true;
    if (rc != SQLITE_DONE)
        *rc_out = qs__sqlerr(st, rc, "reading history", err);
    return false;
}

static int add_history(qs_store *st, const uint8_t id[QS_ID_LEN], const uint8_t hash[QS_HASH_LEN],
                       qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st, "INSERT OR IGNORE INTO history(id, hash) VALUES (?, ?)", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_blob(s, 1, id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, hash, QS_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "writing history", err);
}

static int insert_version(qs_store *st, const qs_record *r, int flag, const char *peer,
                          const uint8_t *peer_inc, uint64_t *seq, qs_err *err)
{
    sqlite3_stmt *s =
        qs__stmt(st,
                 "INSERT INTO versions(id, kind, scope, gen, hash, parents, ancestry, hlc, author, "
                 "deleted, schema, body, head, local, src_peer, src_inc, stored_ms) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 err);
    if (!s)
        return err ? err->code : QS_EIO;
    const qs_kind *k = qs_schema_kind(r->kind);
    uint8_t stackbuf[4 * PARENT_BYTES];
    uint8_t *pb = r->nparents <= 4 ? stackbuf : qs_xmalloc((size_t)r->nparents * PARENT_BYTES);
    for (uint32_t i = 0; i < r->nparents; i++) {
        put_be64(pb + i * PARENT_BYTES, r->parents[i].gen);
        memcpy(pb + i * PARENT_BYTES + 8, r->parents[i].hash, QS_HASH_LEN);
    }
    sqlite3_bind_blob(s, 1, r->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, r->kind);
    sqlite3_bind_text(s, 3, r->scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (int64_t)r->rev.gen);
    sqlite3_bind_blob(s, 5, r->rev.hash, QS_HASH_LEN, SQLITE_STATIC);
    if (r->nparents)
        sqlite3_bind_blob(s, 6, pb, (int)(r->nparents * PARENT_BYTES), SQLITE_STATIC);
    if (r->nancestry)
        sqlite3_bind_blob(s, 7, r->ancestry, (int)(r->nancestry * QS_HASH_LEN), SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, (int64_t)r->hlc);
    sqlite3_bind_text(s, 9, r->author, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 10, r->deleted);
    sqlite3_bind_int64(s, 11, r->schema);
    sqlite3_bind_blob(s, 12, r->body, (int)r->body_len, SQLITE_STATIC);
    sqlite3_bind_int(s, 13, flag);
    sqlite3_bind_int(s, 14, k && k->local_only);
    if (peer) {
        sqlite3_bind_text(s, 15, peer, -1, SQLITE_STATIC);
        if (peer_inc)
            sqlite3_bind_blob(s, 16, peer_inc, QS_INC_LEN, SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 17, qs_clock_wall_ms());
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (pb != stackbuf)
        free(pb);
    if (rc != SQLITE_DONE)
        return qs__sqlerr(st, rc, "storing a version", err);
    *seq = (uint64_t)sqlite3_last_insert_rowid(st->db);
    return 0;
}

static bool supersedes(const qs_record *r, const qs_rev *h)
{
    for (uint32_t i = 0; i < r->nparents; i++)
        if (qs_rev_eq(&r->parents[i], h))
            return true;
    for (uint32_t i = 0; i < r->nancestry; i++)
        if (memcmp(r->ancestry[i], h->hash, QS_HASH_LEN) == 0)
            return true;
    return false;
}

/*
 * Store version r of a record whose heads are h[0..n): every head r's parents
 * or ancestry name is superseded; r and the remaining heads are the new heads;
 * the winner (qs_rev_cmp) is projected. *conflict = heads remain beside r.
 */
/* body: r's body decoded, or NULL; fresh: r's id is new here (a create). */
static int install(qs_store *st, const qs_record *r, head *h, size_t n, const char *peer,
                   const uint8_t *peer_inc, const qs_body *body, bool fresh, bool *conflict,
                   qs_err *err)
{
    int rc;
    const head *old_winner = NULL, *winner = NULL;
    size_t remaining = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].flag == 1)
            old_winner = &h[i];
        if (supersedes(r, &h[i].rev)) {
            h[i].flag = -h[i].flag; /* mark: superseded */
            continue;
        }
        remaining++;
        if (!winner || qs_rev_cmp(&h[i].rev, &winner->rev) > 0)
            winner = &h[i];
    }
    bool r_wins = !winner || qs_rev_cmp(&r->rev, &winner->rev) > 0;
    for (size_t i = 0; i < n; i++) {
        int want = h[i].flag < 0 ? 0 : (!r_wins && &h[i] == winner ? 1 : 2);
        int had = h[i].flag < 0 ? -h[i].flag : h[i].flag;
        if (want != had && (rc = set_flag(st, h[i].seq, want, err)))
            return rc;
    }
    uint64_t seq = 0;
    if ((rc = insert_version(st, r, r_wins ? 1 : 2, peer, peer_inc, &seq, err)))
        return rc;
    if (peer) {
        for (uint32_t i = 0; i < r->nparents; i++)
            if ((rc = add_history(st, r->id, r->parents[i].hash, err)))
                return rc;
        for (uint32_t i = 0; i < r->nancestry; i++)
            if ((rc = add_history(st, r->id, r->ancestry[i], err)))
                return rc;
    }
    if (r_wins) {
        rc = qs__project(st, r, seq, body, fresh, err);
    } else if (winner != old_winner) {
        qs_record w;
        if ((rc = load_version(st, winner->seq, &w, err)))
            return rc;
        rc = qs__project(st, &w, winner->seq, NULL, false, err);
        qs_record_free(&w);
    }
    *conflict = remaining > 0;
    return rc;
}

/* ---- local edits ------------------------------------------------------- */

/* Write a local version of held record id (an edit or a deletion) with the
 * given parents (the heads it settles) and body (encoded). New records go
 * through qs__create_seal and qs__create_write. */
static int write_local(qs_store *st, const qs_kind *k, const char *scope,
                       const uint8_t id[QS_ID_LEN], const qs_rev *parents, uint32_t np,
                       bool deleted, const qs_buf *body, qs_rev *rev_out, qs_err *err)
{
    for (uint32_t i = 0; i < np; i++) {
        if (parents[i].gen >= QS_GEN_MAX) { /* the new generation would pass it */
            char idtxt[QS_UUID_STR], rt[QS_REV_STR];
            return qs_err_set(err, QS_ELIMIT,
                              "record %s: revision %s is at the last generation a revision may "
                              "have (2^53 - 1): no edit, deletion or resolution can follow it",
                              qs_uuid_format(id, idtxt), qs_rev_format(&parents[i], rt));
        }
    }
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    head *h = NULL;
    size_t n = 0;
    bool exists, conflict;
    qs_hlc hlc;
    qs_record r;
    qs_record_init(&r);
    if ((rc = load_heads(st, id, &h, &n, NULL, NULL, &exists, err)) ||
        (rc = qs__clock_tick(st, &hlc, err)))
        goto done;
    qs__local_version(st, &r, id, k->id, scope, parents, np, deleted, body, hlc);
    rc = install(st, &r, h, n, NULL, NULL, NULL, false, &conflict, err);
    rc = qs__hook_local(st, rc, err);
    if (!rc && rev_out)
        *rev_out = r.rev;
done:
    free(h);
    qs_record_free(&r);
    return qs__tx_end(st, mine, rc, err);
}

/* Whether this node may create a record of kind in scope (NULL: its own) with
 * body: the kind, the scope rules, the schema. Touches nothing stored. */
int qs__create_check(qs_store *st, uint32_t kind, const char *scope, const qs_body *body,
                     bool validated, qs_err *err)
{
    const qs_kind *k = qs_schema_kind(kind);
    if (!k)
        return qs_err_set(err, QS_ENOTFOUND, "unknown kind %u", kind);
    if (!scope)
        scope = st->node;
    if (!qs_code_valid(scope))
        return qs_err_set(err, QS_EINVAL, "scope \"%s\" is not a division code", scope);
    if (!qs_scope_level_ok(scope, k->min_level, k->max_level)) {
        if (k->max_level <= QS_LEVEL_PROVINCE)
            return qs_err_set(err, QS_ESCOPE,
                              "a %s is province-level reference data: only the province can "
                              "create it",
                              k->name);
        return qs_err_set(err, QS_ESCOPE,
                          "a %s belongs to a county or a township station, not to %s", k->name,
                          scope);
    }
    if (!qs_scope_can_write(st->node, scope))
        return qs_err_set(err, QS_ESCOPE, "this node (%s) may not write records of %s", st->node,
                          scope);
    return validated ? 0 : qs__check_body(k, body, err);
}

/* A new record, checked (qs__create_check), sealed into *r: a new id, the
 * transaction's next clock reading, the revision hash. Not yet written. */
int qs__create_seal(qs_store *st, uint32_t kind, const char *scope, const qs_body *body,
                    qs_record *r, qs_err *err)
{
    if (!scope)
        scope = st->node;
    qs_buf b;
    qs_buf_init(&b, st->lim.max_body);
    int rc = qs_body_encode(body, &b, err);
    if (rc) {
        qs_buf_free(&b);
        return rc;
    }
    qs_record_init(r);
    qs_uuid7(r->id, qs_clock_wall_ms());
    r->kind = kind;
    snprintf(r->scope, sizeof r->scope, "%s", scope);
    qs__clock_tick(st, &r->hlc, err);
    memcpy(r->author, st->author, sizeof r->author);
    r->schema = QS_SCHEMA_VERSION;
    /* the record takes the encoded bytes as they are */
    r->body = b.data;
    r->body_len = (uint32_t)b.len;
    qs_record_seal(r);
    return 0;
}

/* Write a sealed new record (qs__create_seal) and its projection; body: its
 * decoded body. Inside the caller's transaction; counts for the test hook. */
int qs__create_write(qs_store *st, const qs_record *r, const qs_body *body, qs_err *err)
{
    bool mine, conflict;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    if (!(rc = qs__refs_check(st, r->kind, r->scope, body, err)))
        rc = install(st, r, NULL, 0, NULL, NULL, body, true, &conflict, err);
    rc = qs__hook_local(st, rc, err);
    return qs__tx_end(st, mine, rc, err);
}

int qs_store_create(qs_store *st, uint32_t kind, const char *scope, const qs_body *body,
                    uint8_t id_out[QS_ID_LEN], qs_rev *rev, qs_err *err)
{
    if (st->pg)
        return qs__pg_create(st, kind, scope, body, id_out, rev, err);
    qs_body derived; /* body with the fields the store derives set */
    int rc = qs__derived_copy(st, qs_schema_kind(kind), body, &derived, &body, err);
    if (!rc)
        rc = qs__create_check(st, kind, scope, body, false, err);
    if (rc) {
        qs_body_free(&derived);
        return rc;
    }
    bool mine;
    if ((rc = qs__tx_begin(st, &mine, err))) { /* the clock reading is the transaction's */
        qs_body_free(&derived);
        return rc;
    }
    qs_record r;
    qs_record_init(&r);
    if (!(rc = qs__create_seal(st, kind, scope, body, &r, err)))
        rc = qs__create_write(st, &r, body, err);
    if (!rc && id_out)
        memcpy(id_out, r.id, QS_ID_LEN);
    if (!rc && rev)
        *rev = r.rev;
    qs_record_free(&r);
    qs_body_free(&derived);
    return qs__tx_end(st, mine, rc, err);
}

static int edit(qs_store *st, const uint8_t id[QS_ID_LEN], const qs_body *body, bool deleted,
                qs_rev *rev, qs_err *err)
{
    qs_record cur;
    int rc = qs_store_get(st, id, &cur, err);
    if (rc)
        return rc;
    const qs_kind *k;
    qs_buf b;
    qs_buf_init(&b, st->lim.max_body);
    qs_body derived;
    qs_body_init(&derived);
    if ((rc = qs__edit_check(st, id, &cur, &k, err)))
        goto out;
    if (deleted) {
        qs_body empty;
        qs_body_init(&empty);
        rc = qs_body_encode(&empty, &b, err);
    } else if (!(rc = qs__derived_copy(st, k, body, &derived, &body, err)) &&
               !(rc = qs__check_body(k, body, err)) &&
               !(rc = qs__refs_check(st, k->id, cur.scope, body, err))) {
        rc = qs_body_encode(body, &b, err);
    }
    if (!rc)
        rc = write_local(st, k, cur.scope, id, &cur.rev, 1, deleted, &b, rev, err);
out:
    qs_buf_free(&b);
    qs_body_free(&derived);
    qs_record_free(&cur);
    return rc;
}

int qs_store_update(qs_store *st, const uint8_t id[QS_ID_LEN], const qs_body *body, qs_rev *rev,
                    qs_err *err)
{
    if (st->pg)
        return qs__pg_edit(st, id, body, false, rev, err);
    return edit(st, id, body, false, rev, err);
}

int qs_store_delete(qs_store *st, const uint8_t id[QS_ID_LEN], qs_rev *rev, qs_err *err)
{
    if (st->pg)
        return qs__pg_edit(st, id, NULL, true, rev, err);
    return edit(st, id, NULL, true, rev, err);
}

int qs_store_get(qs_store *st, const uint8_t id[QS_ID_LEN], qs_record *out, qs_err *err)
{
    if (st->pg)
        return qs__pg_get(st, id, out, err);
    qs_record_init(out);
    sqlite3_stmt *s = qs__stmt(st, "SELECT " VCOLS " FROM versions WHERE id = ? AND head = 1", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_blob(s, 1, id, QS_ID_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        qs__row_to_record(s, 0, out);
        sqlite3_reset(s);
        return 0;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return qs__sqlerr(st, rc, "reading a record", err);
    char t[QS_UUID_STR];
    return qs_err_set(err, QS_ENOTFOUND, "no record %s", qs_uuid_format(id, t));
}

int qs_store_history(qs_store *st, const uint8_t id[QS_ID_LEN], qs_version_info **out, size_t *n,
                     qs_err *err)
{
    if (st->pg)
        return qs__pg_history(st, id, out, n, err);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = qs__stmt(
        st, "SELECT seq, head, src_peer, " VCOLS " FROM versions WHERE id = ? ORDER BY seq", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_blob(s, 1, id, QS_ID_LEN, SQLITE_STATIC);
    int rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            *out = qs_xreallocarray(*out, cap, sizeof **out);
        }
        qs_version_info *v = &(*out)[(*n)++];
        v->seq = (uint64_t)sqlite3_column_int64(s, 0);
        v->head = sqlite3_column_int(s, 1);
        const char *from = (const char *)sqlite3_column_text(s, 2);
        snprintf(v->from, sizeof v->from, "%s", from ? from : "");
        qs__row_to_record(s, 3, &v->rec);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        qs_version_info_free(*out, *n);
        *out = NULL;
        *n = 0;
        return qs__sqlerr(st, rc, "reading history", err);
    }
    if (*n == 0) {
        char t[QS_UUID_STR];
        return qs_err_set(err, QS_ENOTFOUND, "no record %s", qs_uuid_format(id, t));
    }
    return 0;
}

void qs_version_info_free(qs_version_info *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        qs_record_free(&v[i].rec);
    free(v);
}

/* ---- conflicts --------------------------------------------------------- */

int qs_store_conflicts(qs_store *st, qs_conflict **out, size_t *n, qs_err *err)
{
    if (st->pg)
        return qs__pg_conflicts(st, out, n, err);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = qs__stmt(st,
                               "SELECT id, kind, scope, gen, hash, head FROM versions "
                               "WHERE head > 0 AND id IN (SELECT id FROM versions WHERE head = 2) "
                               "ORDER BY id, head, gen DESC, hash DESC",
                               err);
    if (!s)
        return err ? err->code : QS_EIO;
    int rc;
    size_t cap = 0;
    qs_conflict *c = NULL;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        qs_rev rv = {.gen = (uint64_t)sqlite3_column_int64(s, 3)};
        memcpy(rv.hash, sqlite3_column_blob(s, 4), QS_HASH_LEN);
        c = qs__conflict_row(
            out, n, &cap, c, sqlite3_column_blob(s, 0), (uint32_t)sqlite3_column_int64(s, 1),
            (const char *)sqlite3_column_text(s, 2), &rv, sqlite3_column_int(s, 5) == 1);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        qs_conflicts_free(*out, *n);
        *out = NULL;
        *n = 0;
        return qs__sqlerr(st, rc, "listing conflicts", err);
    }
    return 0;
}

void qs_conflicts_free(qs_conflict *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].losers);
    free(c);
}

int qs_store_resolve(qs_store *st, const uint8_t id[QS_ID_LEN], const qs_rev *take,
                     const qs_body *body, qs_rev *rev, qs_err *err)
{
    if (st->pg)
        return qs__pg_resolve(st, id, take, body, rev, err);
    head *h = NULL;
    size_t n = 0;
    bool exists;
    uint32_t kind = 0;
    char scope[QS_CODE_MAX] = "";
    qs_record chosen;
    qs_record_init(&chosen);
    qs_buf b;
    qs_buf_init(&b, st->lim.max_body);
    qs_rev *parents = NULL;
    qs_body derived;
    qs_body_init(&derived);
    const qs_kind *k;
    size_t at = 0;
    bool mine, deleted = false;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    if ((rc = load_heads(st, id, &h, &n, &kind, scope, &exists, err)) ||
        (rc = qs__resolve_check(st, id, n, kind, scope, take, body, &k, err)))
        goto done;
    parents = qs_xcalloc(n, sizeof *parents);
    for (size_t i = 0; i < n; i++)
        parents[i] = h[i].rev;
    if (take) {
        if ((rc = qs__resolve_pick(parents, n, take, &at, err)) ||
            (rc = load_version(st, h[at].seq, &chosen, err)))
            goto done;
        deleted = chosen.deleted;
        rc = qs_buf_append(&b, chosen.body, chosen.body_len);
    } else if (!(rc = qs__derived_copy(st, k, body, &derived, &body, err)) &&
               !(rc = qs__check_body(k, body, err))) {
        rc = qs_body_encode(body, &b, err);
    }
    if (rc)
        goto done;
    rc = write_local(st, k, scope, id, parents, (uint32_t)n, deleted, &b, rev, err);
done:
    free(parents);
    free(h);
    qs_buf_free(&b);
    qs_body_free(&derived);
    qs_record_free(&chosen);
    return qs__tx_end(st, mine, rc, err);
}

/* ---- applying remote versions ------------------------------------------ */

/* Keep a refusal: ours refused by peer (outgoing), or peer's refused here. */
static int note_rejection(qs_store *st, const char *peer, const qs_record *r, bool outgoing,
                          const char *reason, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(
        st,
        "INSERT OR REPLACE INTO rejections(id, kind, scope, gen, hash, peer, outgoing, reason, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_blob(s, 1, r->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, r->kind);
    sqlite3_bind_text(s, 3, r->scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (int64_t)r->rev.gen);
    sqlite3_bind_blob(s, 5, r->rev.hash, QS_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, peer ? peer : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 7, outgoing);
    sqlite3_bind_text(s, 8, reason ? reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 9, qs_clock_wall_ms());
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "noting a rejection", err);
}

int qs_store_note_rejected(qs_store *st, const char *peer, const qs_record *rec, const char *reason,
                           qs_err *err)
{
    if (st->pg)
        return qs__pg_note_rejected(st, peer, rec, reason, err);
    return note_rejection(st, peer, rec, true, reason, err);
}

static int park(qs_store *st, const char *peer, qs_direction dir, const qs_record *r, qs_err *err)
{
    qs_buf w;
    qs_buf_init(&w, 0);
    int rc = qs_record_encode(r, &w, err);
    if (rc)
        goto out;
    sqlite3_stmt *s = qs__stmt(st,
                               "INSERT OR IGNORE INTO parked(id, hash, kind, peer, dir, wire, at) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)",
                               err);
    if (!s) {
        rc = err ? err->code : QS_EIO;
        goto out;
    }
    sqlite3_bind_blob(s, 1, r->id, QS_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, r->rev.hash, QS_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, r->kind);
    sqlite3_bind_text(s, 4, peer, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, dir);
    sqlite3_bind_blob(s, 6, w.data, (int)w.len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, qs_clock_wall_ms());
    int r2 = sqlite3_step(s);
    sqlite3_reset(s);
    if (r2 != SQLITE_DONE)
        rc = qs__sqlerr(st, r2, "parking a record", err);
out:
    qs_buf_free(&w);
    return rc;
}

/* Decide and apply one remote version. Returns non-zero only for a storage
 * failure; the outcome goes into *res. scratch: room for r's decoded body (the
 * caller frees it), which the projection then uses as it is. pre: what a
 * network thread checked already (qs_precheck_run), or NULL. */
static int apply_decoded(qs_store *st, const char *peer, const uint8_t *peer_inc, qs_direction dir,
                         const qs_record *r, const qs_precheck *pre, qs_body *scratch,
                         qs_apply_result *res, qs_err *err)
{
    int rc;
    const qs_body *body;
    int verdict = qs__received_verdict(st, peer, dir, r, pre, scratch, &body, res);
    switch (verdict) {
    case QS_PRE_OK:
        break;
    case QS_PRE_AUTHOR:
        break; /* unless held already: qs__apply_decide */
    case QS_PRE_PARKED:
        return park(st, peer, dir, r, err);
    default:
        return note_rejection(st, peer, r, false, res->reason, err);
    }
    head *h = NULL;
    size_t n = 0;
    bool exists, conflict = false;
    uint32_t kind = 0;
    char scope[QS_CODE_MAX] = "", note[QS_REASON_MAX];
    if ((rc = load_heads(st, r->id, &h, &n, &kind, scope, &exists, err)))
        return rc;
    /* Neither versions nor history rows are ever deleted, and history rows
     * of an id are written only with a version of it: an id never held (the
     * common case: a backlog of new records) has no history to look up. */
    bool dup = exists && in_history(st, r->id, r->rev.hash, &rc, err);
    if (rc)
        goto out;
    switch (qs__apply_decide(peer, verdict, r, exists, dup, kind, scope, res, note)) {
    case QS_STEP_DONE:
        break;
    case QS_STEP_REJECT:
        rc = note_rejection(st, peer, r, false, note, err);
        break;
    case QS_STEP_INSTALL:
        if ((rc = qs__hook_apply(st, err)))
            break;
        /* no version of this id held: no projection row of it to replace */
        rc =
            install(st, r, h, n, peer, peer_inc, r->deleted ? NULL : body, !exists, &conflict, err);
        if (!rc)
            qs__result(res, conflict ? QS_OUT_CONFLICT : QS_OUT_APPLIED, NULL);
        break;
    }
out:
    free(h);
    return rc;
}

static int apply_one(qs_store *st, const char *peer, const uint8_t *peer_inc, qs_direction dir,
                     const qs_record *r, const qs_precheck *pre, qs_apply_result *res, qs_err *err)
{
    qs_body body;
    qs_body_init(&body);
    int rc = apply_decoded(st, peer, peer_inc, dir, r, pre, &body, res, err);
    qs_body_free(&body);
    return rc;
}

static int store_cursor(qs_store *st, const char *peer, uint64_t cursor, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st,
                               "INSERT INTO peers(peer, recv_cursor) VALUES (?1, ?2) "
                               "ON CONFLICT(peer) DO UPDATE SET recv_cursor = ?2",
                               err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)cursor);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "storing a cursor", err);
}

int qs_store_apply(qs_store *st, qs_apply_batch *b, size_t nb, qs_err *err)
{
    if (st->pg)
        return qs__pg_apply(st, b, nb, err);
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    /* A parent: index the down feed before its children's records arrive. */
    if (nb > 0 && b[0].dir == QS_FROM_CHILD && (rc = qs__scope_index(st, err)))
        return qs__tx_end(st, mine, rc, err);
    for (size_t i = 0; i < nb && !rc; i++) {
        for (uint32_t j = 0; j < b[i].n && !rc; j++)
            rc = apply_one(st, b[i].peer, b[i].peer_inc, b[i].dir, &b[i].recs[j],
                           b[i].pre ? &b[i].pre[j] : NULL, &b[i].results[j], err);
        if (!rc)
            rc = store_cursor(st, b[i].peer, b[i].cursor, err);
    }
    st->fail_after = -1;
    return qs__tx_end(st, mine, rc, err);
}

int qs__apply_parked(qs_store *st, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st, "SELECT id, hash, kind, peer, dir, wire FROM parked", err);
    if (!s)
        return err ? err->code : QS_EIO;
    /* Collect first: applying writes to the table being read. */
    typedef struct pk {
        uint8_t id[QS_ID_LEN], hash[QS_HASH_LEN];
        char peer[QS_NODE_MAX];
        int dir;
        qs_buf wire;
    } pk;
    pk *p = NULL;
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!qs_schema_kind((uint32_t)sqlite3_column_int64(s, 2)))
            continue;
        p = qs_xreallocarray(p, n + 1, sizeof *p);
        memcpy(p[n].id, sqlite3_column_blob(s, 0), QS_ID_LEN);
        memcpy(p[n].hash, sqlite3_column_blob(s, 1), QS_HASH_LEN);
        snprintf(p[n].peer, sizeof p[n].peer, "%s", (const char *)sqlite3_column_text(s, 3));
        p[n].dir = sqlite3_column_int(s, 4);
        qs_buf_init(&p[n].wire, 0);
        qs_buf_append(&p[n].wire, sqlite3_column_blob(s, 5), (size_t)sqlite3_column_bytes(s, 5));
        n++;
    }
    sqlite3_reset(s);
    rc = rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "reading parked records", err);
    if (n == 0 || rc)
        goto out;
    bool mine;
    if ((rc = qs__tx_begin(st, &mine, err)))
        goto out;
    for (size_t i = 0; i < n && !rc; i++) {
        qs_record r;
        qs_apply_result res;
        if (qs_record_decode(p[i].wire.data, p[i].wire.len, &st->lim, &r, NULL) == 0) {
            rc = apply_one(st, p[i].peer, NULL, (qs_direction)p[i].dir, &r, NULL, &res, err);
            qs_record_free(&r);
        }
        sqlite3_stmt *d = qs__stmt(st, "DELETE FROM parked WHERE id = ? AND hash = ?", err);
        if (!rc && d) {
            sqlite3_bind_blob(d, 1, p[i].id, QS_ID_LEN, SQLITE_STATIC);
            sqlite3_bind_blob(d, 2, p[i].hash, QS_HASH_LEN, SQLITE_STATIC);
            int r2 = sqlite3_step(d);
            sqlite3_reset(d);
            if (r2 != SQLITE_DONE)
                rc = qs__sqlerr(st, r2, "unparking", err);
        }
    }
    rc = qs__tx_end(st, mine, rc, err);
out:
    for (size_t i = 0; i < n; i++)
        qs_buf_free(&p[i].wire);
    free(p);
    return rc;
}

/* ---- ancestry for the feed --------------------------------------------- */

int qs__ancestry(qs_store *st, qs_record *r, qs_err *err)
{
    uint32_t max = st->lim.max_ancestry;
    if (r->nparents == 0 || max == 0)
        return 0;
    uint8_t(*a)[QS_HASH_LEN] = qs_xcalloc(max, QS_HASH_LEN);
    uint32_t n = 0;
    /* Breadth-first over held versions: a[] doubles as the queue. */
    for (uint32_t i = 0; i < r->nparents && n < max; i++)
        memcpy(a[n++], r->parents[i].hash, QS_HASH_LEN);
    sqlite3_stmt *s =
        qs__stmt(st, "SELECT parents, ancestry FROM versions WHERE id = ? AND hash = ?", err);
    int rc = s ? 0 : (err ? err->code : QS_EIO);
    for (uint32_t q = 0; q < n && n < max && !rc; q++) {
        sqlite3_bind_blob(s, 1, r->id, QS_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, a[q], QS_HASH_LEN, SQLITE_STATIC);
        int r2 = sqlite3_step(s);
        if (r2 == SQLITE_ROW) {
            for (int col = 0; col < 2; col++)
                qs__ancestry_add(a, &n, max, sqlite3_column_blob(s, col),
                                 sqlite3_column_bytes(s, col), col == 0);
        } else if (r2 != SQLITE_DONE) {
            rc = qs__sqlerr(st, r2, "reading ancestry", err);
        }
        sqlite3_reset(s);
    }
    if (!rc)
        qs_record_set_ancestry(r, (const uint8_t(*)[QS_HASH_LEN])a, n);
    free(a);
    return rc;
}
