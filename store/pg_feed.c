/*
 * pg_feed.c — on PostgreSQL: the change feed, peers and cursors,
 * rejections, digests, listing and counting through the projection.
 *
 * The feed reads the top of its snapshot first (qs__pg_seq_top) and then
 * only rows below it: every version below the top was written by a
 * transaction that had ended when the snapshot was taken (pg.h), which this
 * read and every later one sees. So the upto a peer's cursor advances to
 * never passes a change still to commit. (It reads in one REPEATABLE READ
 * snapshot, when it opens its own transaction; inside a caller's READ
 * COMMITTED one, a later statement's snapshot sees at least as much.)
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

static int peer_inc(qs_store *st, const char *peer, uint8_t inc[QS_INC_LEN], bool *known,
                    qs_err *err)
{
    *known = false;
    qs_pgp p = {0};
    qs__pgp_text(&p, peer);
    PGresult *r = qs__pg_q(st, "SELECT inc FROM peers WHERE peer = $1", &p, "reading a peer", err);
    if (!r)
        return err ? err->code : QS_EIO;
    if (PQntuples(r) && PQgetlength(r, 0, 0) == QS_INC_LEN) {
        memcpy(inc, PQgetvalue(r, 0, 0), QS_INC_LEN);
        *known = true;
    }
    PQclear(r);
    return 0;
}

/* A child's subtree range and its ancestors' codes (feed.c's down_scopes). */
static void down_scopes(const char *peer, char lo[QS_CODE_MAX], char hi[QS_CODE_MAX],
                        char anc[4][QS_CODE_MAX], int *nanc)
{
    *nanc = 0;
    if (qs_scope_range(peer, lo, hi) <= 0) {
        lo[0] = '\0';
        snprintf(hi, QS_CODE_MAX, "A"); /* every digit string sorts below it */
    }
    for (int len = 0; len <= 6 && len <= (int)strlen(peer); len += 2) {
        char c[QS_CODE_MAX];
        memcpy(c, peer, (size_t)len);
        memset(c + len, '0', (size_t)(6 - len));
        c[6] = '\0';
        bool dup = false;
        for (int i = 0; i < *nanc; i++)
            dup = dup || strcmp(anc[i], c) == 0;
        if (!dup)
            memcpy(anc[(*nanc)++], c, 7);
    }
    while (*nanc < 4) { /* unused: match nothing */
        snprintf(anc[*nanc], QS_CODE_MAX, "x");
        (*nanc)++;
    }
}

static const char FEED_UP[] =
    "SELECT seq, " QS_PG_VCOLS " FROM versions WHERE seq > $1 AND head > 0 AND NOT local "
    "AND NOT (src_peer IS NOT DISTINCT FROM $2 AND src_inc IS NOT DISTINCT FROM $3) "
    "AND left(scope, length($4)) = $4 AND seq < $6 ORDER BY seq LIMIT $5";
/* A child's rows: planned anew at each pull (qs__pg_qd: an unnamed
 * statement gets a plan for its values), not prepared. A generic plan
 * guesses that "seq > cursor" is selective, walks versions_seq and filters
 * every other county's rows out: at a fan-in of 300 counties that was a
 * whole-table scan per pull (0.5 s at 600,000 versions), the front-end's
 * store thread busy with little else. Planned with the values, a first pull
 * goes through versions_scope and a later one through versions_seq; OFFSET 0
 * keeps the ORDER BY ... LIMIT from steering the choice. */
static const char FEED_DOWN[] =
    "SELECT * FROM (SELECT seq, " QS_PG_VCOLS " FROM versions WHERE seq > $1 AND head > 0 "
    "AND NOT local AND NOT (src_peer IS NOT DISTINCT FROM $2 AND src_inc IS NOT DISTINCT FROM "
    "$3) AND ((scope >= $4 AND scope < $6) OR scope IN ($7, $8, $9, $10)) AND seq < $11 "
    "OFFSET 0) v ORDER BY seq LIMIT $5";

int qs__pg_feed(qs_store *st, const char *peer, qs_feed_dir dir, uint64_t since, uint32_t max,
                qs_record *out, uint32_t *n, uint64_t *upto, bool *more, qs_err *err)
{
    *n = 0;
    *upto = since;
    *more = false;
    bool own_tx = !st->in_tx;
    int rc = 0;
    PGresult *r = NULL;
    if (own_tx && (rc = qs__pg_exec(st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                                    "starting a read", err)))
        return rc;
    uint8_t inc[QS_INC_LEN];
    bool known;
    if ((rc = peer_inc(st, peer, inc, &known, err)))
        goto done;
    /* The top first, and no row at or above it (pg.h). */
    int64_t top;
    if ((rc = qs__pg_seq_top(st, &top, err)))
        goto done;
    qs_pgp p = {0};
    qs__pgp_int(&p, (int64_t)since);
    qs__pgp_text(&p, peer);
    qs__pgp_bin(&p, known ? inc : (const uint8_t *)"", known ? QS_INC_LEN : 1);
    char lo[QS_CODE_MAX], hi[QS_CODE_MAX], anc[4][QS_CODE_MAX];
    if (dir == QS_FEED_UP) {
        qs__pgp_text(&p, st->prefix);
        qs__pgp_int(&p, max);
        qs__pgp_int(&p, top);
    } else {
        int nanc;
        down_scopes(peer, lo, hi, anc, &nanc);
        qs__pgp_text(&p, lo);
        qs__pgp_int(&p, max);
        qs__pgp_text(&p, hi);
        for (int i = 0; i < 4; i++)
            qs__pgp_text(&p, anc[i]);
        qs__pgp_int(&p, top);
    }
    r = dir == QS_FEED_UP ? qs__pg_q(st, FEED_UP, &p, "reading the change feed", err)
                          : qs__pg_qd(st, FEED_DOWN, &p, "reading the change feed", err);
    if (!r) {
        rc = err ? err->code : QS_EIO;
        goto done;
    }
    int rows = PQntuples(r);
    uint64_t last = since;
    for (int i = 0; i < rows; i++) {
        last = (uint64_t)qs__pg_int(r, i, 0);
        qs_record rec;
        qs__pg_row_record(r, i, 1, &rec);
        bool ok = dir == QS_FEED_UP ? qs_scope_can_write(st->node, rec.scope)
                                    : qs_scope_visible(peer, rec.scope);
        if (!ok) {
            qs_record_free(&rec);
            continue;
        }
        out[(*n)++] = rec;
    }
    for (uint32_t i = 0; i < *n && !rc; i++)
        rc = qs__pg_ancestry(st, &out[i], err);
    if (rc)
        goto done;
    if ((uint32_t)rows == max && max > 0) {
        *upto = last;
        *more = true;
    } else {
        *upto = top > 0 ? (uint64_t)top - 1 : 0;
        if (*upto < since)
            *upto = since;
    }
done:
    PQclear(r);
    if (own_tx)
        qs__pg_exec(st, rc ? "ROLLBACK" : "COMMIT", "ending a read", NULL);
    if (rc) {
        for (uint32_t i = 0; i < *n; i++)
            qs_record_free(&out[i]);
        *n = 0;
    }
    return rc;
}

int qs__pg_pending(qs_store *st, const char *parent, uint64_t *count, qs_err *err)
{
    qs_peer pe;
    int rc = qs__pg_peer_get(st, parent, &pe, err);
    if (rc)
        return rc;
    uint8_t inc[QS_INC_LEN];
    bool known;
    if ((rc = peer_inc(st, parent, inc, &known, err)))
        return rc;
    qs_pgp p = {0};
    qs__pgp_int(&p, (int64_t)pe.acked);
    qs__pgp_text(&p, parent);
    qs__pgp_bin(&p, known ? inc : (const uint8_t *)"", known ? QS_INC_LEN : 1);
    qs__pgp_text(&p, st->prefix);
    PGresult *r =
        qs__pg_q(st,
                 "SELECT count(*) FROM versions WHERE seq > $1 AND head > 0 AND NOT local "
                 "AND NOT (src_peer IS NOT DISTINCT FROM $2 AND src_inc IS NOT "
                 "DISTINCT FROM $3) AND left(scope, length($4)) = $4",
                 &p, "counting pending records", err);
    if (!r)
        return err ? err->code : QS_EIO;
    *count = (uint64_t)qs__pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}

/* ---- peers ------------------------------------------------------------- */

#define PEER_COLS                                                                                  \
    "SELECT peer, inc, recv_cursor, acked, last_contact, last_ok, skew, pending, last_error, "     \
    "cert_not_after FROM peers"

static void row_to_peer(const PGresult *r, int i, qs_peer *p)
{
    memset(p, 0, sizeof *p);
    qs__pg_str(r, i, 0, p->node, sizeof p->node);
    if (PQgetlength(r, i, 1) == QS_INC_LEN)
        memcpy(p->inc, PQgetvalue(r, i, 1), QS_INC_LEN);
    p->recv_cursor = (uint64_t)qs__pg_int(r, i, 2);
    p->acked = (uint64_t)qs__pg_int(r, i, 3);
    p->last_contact_ms = qs__pg_int(r, i, 4);
    p->last_ok_ms = qs__pg_int(r, i, 5);
    p->skew_ms = qs__pg_int(r, i, 6);
    p->pending = (uint64_t)qs__pg_int(r, i, 7);
    qs__pg_str(r, i, 8, p->last_error, sizeof p->last_error);
    p->cert_not_after_ms = qs__pg_int(r, i, 9);
}

int qs__pg_peer_get(qs_store *st, const char *peer, qs_peer *out, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, peer);
    PGresult *r = qs__pg_q(st, PEER_COLS " WHERE peer = $1", &p, "reading a peer", err);
    if (!r)
        return err ? err->code : QS_EIO;
    if (PQntuples(r)) {
        row_to_peer(r, 0, out);
    } else {
        memset(out, 0, sizeof *out);
        snprintf(out->node, sizeof out->node, "%s", peer);
    }
    PQclear(r);
    return 0;
}

static int peer_write(qs_store *st, const char *sql, const qs_pgp *p, qs_err *err)
{
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    rc = qs__pg_cmd(st, sql, p, "updating a peer", err);
    return qs__pg_tx_end(st, mine, rc, err);
}

int qs__pg_peer_hello(qs_store *st, const char *peer, const uint8_t inc[QS_INC_LEN],
                      int64_t skew_ms, bool *reset, qs_err *err)
{
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    uint8_t old[QS_INC_LEN];
    bool known;
    *reset = false;
    /* the row is locked first: two front-ends greeting one peer take turns */
    qs_pgp l = {0};
    qs__pgp_text(&l, peer);
    if ((rc = qs__pg_cmd(st, "SELECT 1 FROM peers WHERE peer = $1 FOR UPDATE", &l, "reading a peer",
                         err)) ||
        (rc = peer_inc(st, peer, old, &known, err)))
        goto done;
    *reset = known && memcmp(old, inc, QS_INC_LEN) != 0;
    qs_pgp p = {0};
    qs__pgp_text(&p, peer);
    qs__pgp_bin(&p, inc, QS_INC_LEN);
    qs__pgp_int(&p, qs_clock_wall_ms());
    qs__pgp_int(&p, skew_ms);
    qs__pgp_bool(&p, *reset);
    rc = qs__pg_cmd(st,
                    "INSERT INTO peers(peer, inc, last_contact, skew) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (peer) DO UPDATE SET inc = $2, last_contact = $3, skew = $4, "
                    "recv_cursor = CASE WHEN $5::boolean THEN 0 ELSE peers.recv_cursor END, "
                    "acked = CASE WHEN $5::boolean THEN 0 ELSE peers.acked END",
                    &p, "updating a peer", err);
done:
    return qs__pg_tx_end(st, mine, rc, err);
}

int qs__pg_peer_cert(qs_store *st, const char *peer, int64_t not_after_ms, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, peer);
    qs__pgp_int(&p, not_after_ms);
    return peer_write(st,
                      "INSERT INTO peers(peer, cert_not_after) VALUES ($1, $2) "
                      "ON CONFLICT (peer) DO UPDATE SET cert_not_after = $2",
                      &p, err);
}

int qs__pg_peer_acked(qs_store *st, const char *peer, uint64_t seq, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, peer);
    qs__pgp_int(&p, (int64_t)seq);
    return peer_write(st,
                      "INSERT INTO peers(peer, acked) VALUES ($1, $2) "
                      "ON CONFLICT (peer) DO UPDATE SET acked = greatest(peers.acked, $2)",
                      &p, err);
}

int qs__pg_peer_done(qs_store *st, const char *peer, bool ok, const char *error, uint64_t pending,
                     qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, peer);
    qs__pgp_int(&p, qs_clock_wall_ms());
    qs__pgp_bool(&p, ok);
    qs__pgp_text(&p, error && *error ? error : NULL);
    if (pending != UINT64_MAX)
        qs__pgp_int(&p, (int64_t)pending);
    else
        qs__pgp_text(&p, NULL);
    return peer_write(st,
                      "INSERT INTO peers(peer, last_contact, last_ok, last_error, pending) "
                      "VALUES ($1, $2, CASE WHEN $3::boolean THEN $2::int8 END, $4, $5::int8) "
                      "ON CONFLICT (peer) DO UPDATE SET last_contact = $2, "
                      "last_ok = CASE WHEN $3::boolean THEN $2::int8 ELSE peers.last_ok END, "
                      "last_error = $4, pending = coalesce($5::int8, peers.pending)",
                      &p, err);
}

int qs__pg_peers(qs_store *st, qs_peer **out, size_t *n, qs_err *err)
{
    *out = NULL;
    *n = 0;
    PGresult *r = qs__pg_q(st, PEER_COLS " ORDER BY peer", NULL, "listing peers", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rows = PQntuples(r);
    if (rows)
        *out = qs_xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++)
        row_to_peer(r, i, &(*out)[i]);
    *n = (size_t)rows;
    PQclear(r);
    return 0;
}

int qs__pg_rejections(qs_store *st, qs_rejection **out, size_t *n, qs_err *err)
{
    *out = NULL;
    *n = 0;
    PGresult *r = qs__pg_q(st,
                           "SELECT id, kind, scope, gen, hash, peer, outgoing, reason, at "
                           "FROM rejections ORDER BY rid",
                           NULL, "listing rejections", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rows = PQntuples(r);
    if (rows)
        *out = qs_xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++) {
        qs_rejection *x = &(*out)[i];
        if (PQgetlength(r, i, 0) == QS_ID_LEN)
            memcpy(x->id, PQgetvalue(r, i, 0), QS_ID_LEN);
        x->kind = (uint32_t)qs__pg_int(r, i, 1);
        qs__pg_str(r, i, 2, x->scope, sizeof x->scope);
        x->rev.gen = (uint64_t)qs__pg_int(r, i, 3);
        if (PQgetlength(r, i, 4) == QS_HASH_LEN)
            memcpy(x->rev.hash, PQgetvalue(r, i, 4), QS_HASH_LEN);
        qs__pg_str(r, i, 5, x->peer, sizeof x->peer);
        x->outgoing = qs__pg_int(r, i, 6) != 0;
        qs__pg_str(r, i, 7, x->reason, sizeof x->reason);
        x->at_ms = qs__pg_int(r, i, 8);
    }
    *n = (size_t)rows;
    PQclear(r);
    return 0;
}

/* ---- digest ------------------------------------------------------------ */

int qs__pg_digest(qs_store *st, const char *scope, uint8_t out[32], uint64_t *count, qs_err *err)
{
    char prefix[QS_CODE_MAX] = "";
    if (scope && qs_code_prefix(scope, prefix, sizeof prefix) < 0)
        return qs_err_set(err, QS_EINVAL, "\"%s\" is not a division code", scope);
    qs_pgp p = {0};
    qs__pgp_text(&p, prefix);
    PGresult *r = qs__pg_q(st,
                           "SELECT id, gen, hash FROM versions WHERE head > 0 AND NOT local "
                           "AND left(scope, length($1)) = $1",
                           &p, "computing the digest", err);
    if (!r)
        return err ? err->code : QS_EIO;
    memset(out, 0, 32);
    *count = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        uint8_t in[QS_ID_LEN + 8 + QS_HASH_LEN], h[32];
        uint64_t gen = (uint64_t)qs__pg_int(r, i, 1);
        memcpy(in, PQgetvalue(r, i, 0), QS_ID_LEN);
        for (int j = 0; j < 8; j++)
            in[QS_ID_LEN + j] = (uint8_t)(gen >> (56 - 8 * j));
        memcpy(in + QS_ID_LEN + 8, PQgetvalue(r, i, 2), QS_HASH_LEN);
        qs_sha256(in, sizeof in, h);
        for (int j = 0; j < 32; j++)
            out[j] ^= h[j];
        (*count)++;
    }
    PQclear(r);
    return 0;
}

/* ---- listing through the projection ------------------------------------ */

static bool is_list(const qs_field *f)
{
    return f->type == QS_F_REFLIST || f->type == QS_F_DIGESTS;
}

static void param_filter(qs_pgp *p, const qs_value *v)
{
    switch (v->t) {
    case QS_V_INT:
        qs__pgp_int(p, v->u.i);
        break;
    case QS_V_BOOL:
        qs__pgp_bool(p, v->u.b);
        break;
    case QS_V_STR:
        qs__pgp_text(p, v->u.s.p);
        break;
    case QS_V_BIN:
        qs__pgp_bin(p, v->u.s.p, v->u.s.n);
        break;
    case QS_V_ARRAY: {
        int64_t mask = 0;
        for (uint32_t i = 0; i < v->u.a.n; i++)
            if (v->u.a.v[i].t == QS_V_INT && v->u.a.v[i].u.i >= 0 && v->u.a.v[i].u.i < 63)
                mask |= (int64_t)1 << v->u.a.v[i].u.i;
        qs__pgp_int(p, mask);
        break;
    }
    default:
        qs__pgp_text(p, NULL);
    }
}

static void cat(char **s, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cat(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*s + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap *= 2;
        *s = qs_xrealloc(*s, *cap);
    }
}

/* query.c's build, in PostgreSQL's dialect: every value a parameter. */
static char *build(const qs_kind *k, const qs_query *q, const char *what, qs_pgp *p, qs_err *err)
{
    if (q->include_deleted && q->nfilters) {
        qs_err_set(err, QS_EINVAL, "filters apply to live records only, not with deleted ones");
        return NULL;
    }
    if (q->nfilters * 2 + 2 > QS_PG_MAXP) {
        qs_err_set(err, QS_ELIMIT, "too many filters");
        return NULL;
    }
    size_t len = 0, cap = 512;
    char *sql = qs_xmalloc(cap);
    if (q->include_deleted || k->local_only) {
        qs__pgp_int(p, k->id);
        cat(&sql, &len, &cap, "SELECT %s FROM versions v WHERE v.kind = $%d AND v.head = 1%s", what,
            p->n, q->include_deleted ? "" : " AND NOT v.deleted");
    } else {
        cat(&sql, &len, &cap,
            "SELECT %s FROM \"k_%s\" p JOIN versions v ON v.county = p.qs_county AND v.id = p.id "
            "AND v.head = 1 WHERE true",
            what, k->name);
    }
    for (size_t i = 0; i < q->nfilters && !q->include_deleted; i++) {
        const qs_field *f = qs_kind_field(k, q->filters[i].field);
        if (!f || k->local_only) {
            free(sql);
            qs_err_set(err, QS_ENOTFOUND, "a %s has no field %u", k->name, q->filters[i].field);
            return NULL;
        }
        param_filter(p, &q->filters[i].value);
        int a = p->n;
        if (is_list(f)) {
            cat(&sql, &len, &cap,
                " AND EXISTS (SELECT 1 FROM \"k_%s__%s\" c WHERE c.qs_county = p.qs_county AND "
                "c.id = p.id AND c.v = $%d)",
                k->name, f->name, a);
        } else if (f->type == QS_F_ENUMSET) {
            cat(&sql, &len, &cap, " AND (p.\"%s\" & $%d::int8) = $%d::int8", f->name, a, a);
        } else if (q->filters[i].upto.t != QS_V_NIL) {
            param_filter(p, &q->filters[i].upto);
            cat(&sql, &len, &cap, " AND p.\"%s\" BETWEEN $%d AND $%d", f->name, a, p->n);
        } else if (q->filters[i].value.t == QS_V_NIL) {
            cat(&sql, &len, &cap, " AND p.\"%s\" IS NULL AND $%d::text IS NULL", f->name, a);
        } else {
            cat(&sql, &len, &cap, " AND p.\"%s\" = $%d", f->name, a);
        }
    }
    if (q->scope) {
        char prefix[QS_CODE_MAX];
        if (qs_code_prefix(q->scope, prefix, sizeof prefix) < 0) {
            free(sql);
            qs_err_set(err, QS_EINVAL, "\"%s\" is not a division code", q->scope);
            return NULL;
        }
        /* qs__pgp_text keeps the pointer: the prefix must outlive the query */
        char *keep = qs_xmalloc(QS_CODE_MAX + 1);
        snprintf(keep, QS_CODE_MAX + 1, "%s", prefix);
        qs__pgp_text(p, keep);
        cat(&sql, &len, &cap, " AND left(v.scope, length($%d)) = $%d", p->n, p->n);
    }
    return sql;
}

static void free_scope_param(const qs_query *q, qs_pgp *p)
{
    if (q->scope && p->n > 0)
        free((char *)p->v[p->n - 1]);
}

int qs__pg_list(qs_store *st, const qs_query *q, qs_record_cb cb, void *ctx, qs_err *err)
{
    const qs_kind *k = qs_schema_kind(q->kind);
    if (!k)
        return qs_err_set(err, QS_ENOTFOUND, "unknown kind %u", q->kind);
    qs_pgp p = {0};
    char *base = build(k, q,
                       "v.id, v.kind, v.scope, v.gen, v.hash, v.parents, v.hlc, v.author, "
                       "v.deleted, v.schema, v.body",
                       &p, err);
    if (!base)
        return err ? err->code : QS_EINVAL;
    size_t need = strlen(base) + 64;
    char *sql = qs_xmalloc(need);
    if (q->limit)
        snprintf(sql, need, "%s ORDER BY v.id LIMIT %llu", base, (unsigned long long)q->limit);
    else
        snprintf(sql, need, "%s ORDER BY v.id", base);
    free(base);
    PGresult *r = qs__pg_qd(st, sql, &p, "listing records", err);
    free(sql);
    free_scope_param(q, &p);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        qs_record rec;
        qs__pg_row_record(r, i, 0, &rec);
        rc = cb(ctx, &rec);
        qs_record_free(&rec);
    }
    PQclear(r);
    return rc;
}

int qs__pg_count_eq(qs_store *st, uint32_t kind, const qs_filter *filters, size_t n,
                    uint64_t *count, qs_err *err)
{
    const qs_kind *k = qs_schema_kind(kind);
    if (!k)
        return qs_err_set(err, QS_ENOTFOUND, "unknown kind %u", kind);
    qs_query q = {.kind = kind, .filters = filters, .nfilters = n};
    qs_pgp p = {0};
    char *sql = build(k, &q, "count(*)", &p, err);
    if (!sql)
        return err ? err->code : QS_EINVAL;
    PGresult *r = qs__pg_qd(st, sql, &p, "counting records", err);
    free(sql);
    if (!r)
        return err ? err->code : QS_EIO;
    *count = (uint64_t)qs__pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}
