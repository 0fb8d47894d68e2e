/*
 * feed.c — the change feed, peers and cursors, rejections, digests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/clock.h"
#include "proto/scope.h"
#include "proto/sha256.h"
#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

static const char FEED_UP[] =
    "SELECT seq, id, kind, scope, gen, hash, parents, hlc, author, deleted, schema, body "
    "FROM versions WHERE seq > ?1 AND head > 0 AND local = 0 "
    "AND NOT (src_peer IS ?2 AND src_inc IS ?3) AND qs_can_write(?4, scope) "
    "ORDER BY seq LIMIT ?5";
static const char FEED_DOWN[] =
    "SELECT seq, id, kind, scope, gen, hash, parents, hlc, author, deleted, schema, body "
    "FROM versions WHERE seq > ?1 AND head > 0 AND local = 0 "
    "AND NOT (src_peer IS ?2 AND src_inc IS ?3) AND qs_visible(?2, scope) "
    "ORDER BY seq LIMIT ?5";
/* The same rows, found through versions_scope instead of a scan of every
 * version since the cursor (which made a parent's pulls cost O(children x
 * records): each child's pull walked every other child's records). A child
 * sees the scopes in its own subtree, [?6, ?7), and its ancestors' codes
 * (?8..?11, at most four, none inside the subtree; NULL when unused). The
 * subtree's distinct scopes are found by skipping through the index (sc:
 * one seek per scope), so that every scope is read as (scope = s AND
 * seq > cursor): a pull costs the scopes and the rows since the cursor, not
 * the child's whole subtree. qs_visible still decides every row. */
static const char FEED_DOWN_IDX[] =
    "WITH RECURSIVE sc(s) AS ("
    "  SELECT (SELECT min(scope) FROM versions WHERE scope >= ?6 AND scope < ?7) "
    "  UNION ALL "
    "  SELECT (SELECT min(scope) FROM versions WHERE scope > sc.s AND scope < ?7) "
    "  FROM sc WHERE sc.s IS NOT NULL) "
    "SELECT seq, id, kind, scope, gen, hash, parents, hlc, author, deleted, schema, body "
    "FROM versions INDEXED BY versions_scope "
    "WHERE scope IN (SELECT s FROM sc WHERE s IS NOT NULL "
    "                UNION ALL VALUES (?8), (?9), (?10), (?11)) "
    "AND seq > ?1 AND head > 0 AND local = 0 "
    "AND NOT (src_peer IS ?2 AND src_inc IS ?3) AND qs_visible(?2, scope) "
    "ORDER BY seq LIMIT ?5";

/* versions(scope, seq) serves the down feed. Only a parent needs it, so it is
 * made (once, IF NOT EXISTS) by the first store handle that receives records
 * from a child or serves a down feed: counties do not pay for it on every
 * edit and import. Inside the caller's transaction if one is open. */
int qs__scope_index(qs_store *st, qs_err *err)
{
    if (st->scope_index)
        return 0;
    int rc = qs__exec(st, "CREATE INDEX IF NOT EXISTS versions_scope ON versions(scope, seq)", err);
    if (rc == 0)
        st->scope_index = true;
    return rc;
}

/* The subtree range and ancestor codes of a child (see FEED_DOWN_IDX).
 * Returns false when the plain scan is to be used (no prefix: the nation). */
static bool down_scopes(const char *peer, char lo[QS_CODE_MAX], char hi[QS_CODE_MAX],
                        char anc[4][QS_CODE_MAX], int *nanc)
{
    *nanc = 0;
    if (qs_scope_range(peer, lo, hi) <= 0)
        return false;
    /* An ancestor's scope S is 6 digits whose prefix leads the child's id:
     * the child's first L digits, L in {0, 2, 4, 6}, padded with zeros. */
    for (int len = 0; len <= 6; len += 2) {
        char c[QS_CODE_MAX];
        memcpy(c, peer, (size_t)len);
        memset(c + len, '0', (size_t)(6 - len));
        c[6] = '\0';
        if (strcmp(c, lo) >= 0 && strcmp(c, hi) < 0)
            continue; /* inside the subtree range: found there */
        bool dup = false;
        for (int i = 0; i < *nanc; i++)
            dup = dup || strcmp(anc[i], c) == 0;
        if (!dup)
            memcpy(anc[(*nanc)++], c, 7);
    }
    return true;
}

static int peer_inc(qs_store *st, const char *peer, uint8_t inc[QS_INC_LEN], bool *known,
                    qs_err *err)
{
    *known = false;
    sqlite3_stmt *s = qs__stmt(st, "SELECT inc FROM peers WHERE peer = ?", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == QS_INC_LEN) {
        memcpy(inc, sqlite3_column_blob(s, 0), QS_INC_LEN);
        *known = true;
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "reading a peer", err);
}

static int max_seq(qs_store *st, uint64_t *out, qs_err *err)
{
    sqlite3_stmt *s = qs__stmt(st, "SELECT coalesce(max(seq), 0) FROM versions", err);
    if (!s)
        return err ? err->code : QS_EIO;
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : qs__sqlerr(st, rc, "reading the sequence", err);
}

int qs_store_feed(qs_store *st, const char *peer, qs_feed_dir dir, uint64_t since, uint32_t max,
                  qs_record *out, uint32_t *n, uint64_t *upto, bool *more, qs_err *err)
{
    if (st->pg)
        return qs__pg_feed(st, peer, dir, since, max, out, n, upto, more, err);
    *n = 0;
    *upto = since;
    *more = false;
    if (dir == QS_FEED_DOWN) {
        int irc = qs__scope_index(st, err);
        if (irc)
            return irc;
    }
    bool own_tx = !st->in_tx;
    /* One read transaction: the rows and the highest seq come from one snapshot. */
    if (own_tx && sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return qs__sqlerr(st, sqlite3_errcode(st->db), "starting a read", err);
    uint8_t inc[QS_INC_LEN];
    bool known;
    int rc = peer_inc(st, peer, inc, &known, err);
    if (rc)
        goto done;
    char lo[QS_CODE_MAX], hi[QS_CODE_MAX], anc[4][QS_CODE_MAX];
    int nanc = 0;
    bool idx = dir == QS_FEED_DOWN && down_scopes(peer, lo, hi, anc, &nanc);
    sqlite3_stmt *s = qs__stmt(st,
                               dir == QS_FEED_UP ? FEED_UP
                               : idx             ? FEED_DOWN_IDX
                                                 : FEED_DOWN,
                               err);
    if (!s) {
        rc = err ? err->code : QS_EIO;
        goto done;
    }
    if (idx) {
        sqlite3_bind_text(s, 6, lo, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 7, hi, -1, SQLITE_TRANSIENT);
        for (int i = 0; i < nanc; i++) /* the rest stay NULL: they match nothing */
            sqlite3_bind_text(s, 8 + i, anc[i], -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(s, 1, (int64_t)since);
    sqlite3_bind_text(s, 2, peer, -1, SQLITE_STATIC);
    if (known)
        sqlite3_bind_blob(s, 3, inc, QS_INC_LEN, SQLITE_STATIC);
    else
        sqlite3_bind_zeroblob(s, 3, 1); /* matches nothing: no echo suppression yet */
    sqlite3_bind_text(s, 4, st->node, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, max);
    int r;
    uint64_t last = since;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        last = (uint64_t)sqlite3_column_int64(s, 0);
        qs__row_to_record(s, 1, &out[*n]);
        (*n)++;
    }
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        rc = qs__sqlerr(st, r, "reading the change feed", err);
        goto done;
    }
    for (uint32_t i = 0; i < *n && !rc; i++)
        rc = qs__ancestry(st, &out[i], err);
    if (rc)
        goto done;
    if (*n == max && max > 0) {
        *upto = last;
        *more = true;
    } else {
        rc = max_seq(st, upto, err);
        if (*upto < since)
            *upto = since;
    }
done:
    if (own_tx)
        sqlite3_exec(st->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    if (rc) {
        for (uint32_t i = 0; i < *n; i++)
            qs_record_free(&out[i]);
        *n = 0;
    }
    return rc;
}

int qs_store_pending(qs_store *st, const char *parent, uint64_t *count, qs_err *err)
{
    if (st->pg)
        return qs__pg_pending(st, parent, count, err);
    qs_peer p;
    int rc = qs_store_peer_get(st, parent, &p, err);
    if (rc)
        return rc;
    uint8_t inc[QS_INC_LEN];
    bool known;
    if ((rc = peer_inc(st, parent, inc, &known, err)))
        return rc;
    sqlite3_stmt *s = qs__stmt(st,
                               "SELECT count(*) FROM versions WHERE seq > ?1 AND head > 0 "
                               "AND local = 0 AND NOT (src_peer IS ?2 AND src_inc IS ?3) "
                               "AND qs_can_write(?4, scope)",
                               err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_int64(s, 1, (int64_t)p.acked);
    sqlite3_bind_text(s, 2, parent, -1, SQLITE_STATIC);
    if (known)
        sqlite3_bind_blob(s, 3, inc, QS_INC_LEN, SQLITE_STATIC);
    else
        sqlite3_bind_zeroblob(s, 3, 1);
    sqlite3_bind_text(s, 4, st->node, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    *count = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return r == SQLITE_ROW ? 0 : qs__sqlerr(st, r, "counting pending records", err);
}

/* ---- peers ------------------------------------------------------------- */

#define PEER_COLS                                                                                  \
    "SELECT peer, inc, recv_cursor, acked, last_contact, last_ok, skew, pending, last_error, "     \
    "cert_not_after FROM peers"

static void row_to_peer(sqlite3_stmt *s, qs_peer *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->node, sizeof p->node, "%s", (const char *)sqlite3_column_text(s, 0));
    if (sqlite3_column_bytes(s, 1) == QS_INC_LEN)
        memcpy(p->inc, sqlite3_column_blob(s, 1), QS_INC_LEN);
    p->recv_cursor = (uint64_t)sqlite3_column_int64(s, 2);
    p->acked = (uint64_t)sqlite3_column_int64(s, 3);
    p->last_contact_ms = sqlite3_column_int64(s, 4);
    p->last_ok_ms = sqlite3_column_int64(s, 5);
    p->skew_ms = sqlite3_column_int64(s, 6);
    p->pending = (uint64_t)sqlite3_column_int64(s, 7);
    const char *e = (const char *)sqlite3_column_text(s, 8);
    snprintf(p->last_error, sizeof p->last_error, "%s", e ? e : "");
    p->cert_not_after_ms = sqlite3_column_int64(s, 9);
}

int qs_store_peer_get(qs_store *st, const char *peer, qs_peer *out, qs_err *err)
{
    if (st->pg)
        return qs__pg_peer_get(st, peer, out, err);
    sqlite3_stmt *s = qs__stmt(st, PEER_COLS " WHERE peer = ?", err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        row_to_peer(s, out);
    } else {
        memset(out, 0, sizeof *out);
        snprintf(out->node, sizeof out->node, "%s", peer);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "reading a peer", err);
}

static int exec_peer(qs_store *st, sqlite3_stmt *s, qs_err *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "updating a peer", err);
}

int qs_store_peer_hello(qs_store *st, const char *peer, const uint8_t inc[QS_INC_LEN],
                        int64_t skew_ms, bool *reset, qs_err *err)
{
    if (st->pg)
        return qs__pg_peer_hello(st, peer, inc, skew_ms, reset, err);
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    uint8_t old[QS_INC_LEN];
    bool known;
    *reset = false;
    if ((rc = peer_inc(st, peer, old, &known, err)))
        goto done;
    *reset = known && memcmp(old, inc, QS_INC_LEN) != 0;
    sqlite3_stmt *s =
        qs__stmt(st,
                 "INSERT INTO peers(peer, inc, last_contact, skew) VALUES (?1, ?2, ?3, ?4) "
                 "ON CONFLICT(peer) DO UPDATE SET inc = ?2, last_contact = ?3, skew = ?4, "
                 "recv_cursor = CASE WHEN ?5 THEN 0 ELSE recv_cursor END, "
                 "acked = CASE WHEN ?5 THEN 0 ELSE acked END",
                 err);
    if (!s) {
        rc = err ? err->code : QS_EIO;
        goto done;
    }
    sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, inc, QS_INC_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, qs_clock_wall_ms());
    sqlite3_bind_int64(s, 4, skew_ms);
    sqlite3_bind_int(s, 5, *reset);
    rc = exec_peer(st, s, err);
done:
    return qs__tx_end(st, mine, rc, err);
}

int qs_store_peer_cert(qs_store *st, const char *peer, int64_t not_after_ms, qs_err *err)
{
    if (st->pg)
        return qs__pg_peer_cert(st, peer, not_after_ms, err);
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    sqlite3_stmt *s = qs__stmt(st,
                               "INSERT INTO peers(peer, cert_not_after) VALUES (?1, ?2) "
                               "ON CONFLICT(peer) DO UPDATE SET cert_not_after = ?2",
                               err);
    if (!s)
        rc = err ? err->code : QS_EIO;
    else {
        sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, not_after_ms);
        rc = exec_peer(st, s, err);
    }
    return qs__tx_end(st, mine, rc, err);
}

int qs_store_peer_acked(qs_store *st, const char *peer, uint64_t seq, qs_err *err)
{
    if (st->pg)
        return qs__pg_peer_acked(st, peer, seq, err);
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    sqlite3_stmt *s = qs__stmt(st,
                               "INSERT INTO peers(peer, acked) VALUES (?1, ?2) "
                               "ON CONFLICT(peer) DO UPDATE SET acked = max(acked, ?2)",
                               err);
    if (!s)
        rc = err ? err->code : QS_EIO;
    else {
        sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (int64_t)seq);
        rc = exec_peer(st, s, err);
    }
    return qs__tx_end(st, mine, rc, err);
}

int qs_store_peer_done(qs_store *st, const char *peer, bool ok, const char *error, uint64_t pending,
                       qs_err *err)
{
    if (st->pg)
        return qs__pg_peer_done(st, peer, ok, error, pending, err);
    bool mine;
    int rc = qs__tx_begin(st, &mine, err);
    if (rc)
        return rc;
    sqlite3_stmt *s =
        qs__stmt(st,
                 "INSERT INTO peers(peer, last_contact, last_ok, last_error, pending) "
                 "VALUES (?1, ?2, CASE WHEN ?3 THEN ?2 END, ?4, ?5) "
                 "ON CONFLICT(peer) DO UPDATE SET last_contact = ?2, "
                 "last_ok = CASE WHEN ?3 THEN ?2 ELSE last_ok END, last_error = ?4, "
                 "pending = coalesce(?5, pending)",
                 err);
    if (!s)
        rc = err ? err->code : QS_EIO;
    else {
        sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, qs_clock_wall_ms());
        sqlite3_bind_int(s, 3, ok);
        if (error && *error)
            sqlite3_bind_text(s, 4, error, -1, SQLITE_STATIC);
        if (pending != UINT64_MAX)
            sqlite3_bind_int64(s, 5, (int64_t)pending);
        rc = exec_peer(st, s, err);
    }
    return qs__tx_end(st, mine, rc, err);
}

int qs_store_peers(qs_store *st, qs_peer **out, size_t *n, qs_err *err)
{
    if (st->pg)
        return qs__pg_peers(st, out, n, err);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = qs__stmt(st, PEER_COLS " ORDER BY peer", err);
    if (!s)
        return err ? err->code : QS_EIO;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *out = qs_xreallocarray(*out, *n + 1, sizeof **out);
        row_to_peer(s, &(*out)[(*n)++]);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "listing peers", err);
}

int qs_store_rejections(qs_store *st, qs_rejection **out, size_t *n, qs_err *err)
{
    if (st->pg)
        return qs__pg_rejections(st, out, n, err);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = qs__stmt(st,
                               "SELECT id, kind, scope, gen, hash, peer, outgoing, reason, at "
                               "FROM rejections ORDER BY rid",
                               err);
    if (!s)
        return err ? err->code : QS_EIO;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *out = qs_xreallocarray(*out, *n + 1, sizeof **out);
        qs_rejection *r = &(*out)[(*n)++];
        memset(r, 0, sizeof *r);
        if (sqlite3_column_bytes(s, 0) == QS_ID_LEN)
            memcpy(r->id, sqlite3_column_blob(s, 0), QS_ID_LEN);
        r->kind = (uint32_t)sqlite3_column_int64(s, 1);
        const char *sc = (const char *)sqlite3_column_text(s, 2);
        snprintf(r->scope, sizeof r->scope, "%s", sc ? sc : "");
        r->rev.gen = (uint64_t)sqlite3_column_int64(s, 3);
        if (sqlite3_column_bytes(s, 4) == QS_HASH_LEN)
            memcpy(r->rev.hash, sqlite3_column_blob(s, 4), QS_HASH_LEN);
        snprintf(r->peer, sizeof r->peer, "%s", (const char *)sqlite3_column_text(s, 5));
        r->outgoing = sqlite3_column_int(s, 6) != 0;
        const char *why = (const char *)sqlite3_column_text(s, 7);
        snprintf(r->reason, sizeof r->reason, "%s", why ? why : "");
        r->at_ms = sqlite3_column_int64(s, 8);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "listing rejections", err);
}

/* ---- digest ------------------------------------------------------------ */

int qs_store_digest(qs_store *st, const char *scope, uint8_t out[32], uint64_t *count, qs_err *err)
{
    if (st->pg)
        return qs__pg_digest(st, scope, out, count, err);
    char prefix[QS_CODE_MAX] = "";
    if (scope && qs_code_prefix(scope, prefix, sizeof prefix) < 0)
        return qs_err_set(err, QS_EINVAL, "\"%s\" is not a division code", scope);
    sqlite3_stmt *s = qs__stmt(st,
                               "SELECT id, gen, hash FROM versions WHERE head > 0 AND local = 0 "
                               "AND substr(scope, 1, length(?1)) = ?1",
                               err);
    if (!s)
        return err ? err->code : QS_EIO;
    sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
    memset(out, 0, 32);
    *count = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        uint8_t in[QS_ID_LEN + 8 + QS_HASH_LEN], h[32];
        uint64_t gen = (uint64_t)sqlite3_column_int64(s, 1);
        memcpy(in, sqlite3_column_blob(s, 0), QS_ID_LEN);
        for (int i = 0; i < 8; i++)
            in[QS_ID_LEN + i] = (uint8_t)(gen >> (56 - 8 * i));
        memcpy(in + QS_ID_LEN + 8, sqlite3_column_blob(s, 2), QS_HASH_LEN);
        qs_sha256(in, sizeof in, h);
        for (int i = 0; i < 32; i++)
            out[i] ^= h[i];
        (*count)++;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : qs__sqlerr(st, rc, "computing the digest", err);
}
