/*
 * pg.c — the store on PostgreSQL: connection, DDL, statements, meta,
 * transactions and the commit-order sequence, the shared clock, imports.
 * See pg.h for the layout and PROTOCOL-session.md "Feed on PostgreSQL".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/clock.h"
#include "proto/scope.h"
#include "proto/uuid.h"
#include "proto/xmalloc.h"
#include "store/internal.h"
#include "store/pg.h"

/* The tables; every statement is idempotent, so that several front-ends may
 * start at once (the open holds an advisory lock around it anyway). */
/* Division codes (county, scope) are compared byte by byte, COLLATE "C",
 * whatever the database's locale: a scope's range test (scope >= '6323' AND
 * scope < '6324') means a prefix only in byte order, and a locale's collation
 * costs every index entry a strcoll (tests/bench/README.md, issue 22). */
static const char DDL[] =
    "CREATE TABLE IF NOT EXISTS meta(k text PRIMARY KEY, i bigint, b bytea);"
    /* the clock's last reading of each front-end (pg.c "the clock") */
    "CREATE TABLE IF NOT EXISTS clocks(fe bytea PRIMARY KEY, hlc bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS versions("
    "  county text COLLATE \"C\" NOT NULL," /* distribution key: the county of scope */
    "  seq bigint NOT NULL,"                /* seq_base + xid << 20 + slot (pg.h) */
    "  id bytea NOT NULL, kind integer NOT NULL, scope text COLLATE \"C\" NOT NULL,"
    "  gen bigint NOT NULL, hash bytea NOT NULL, parents bytea, ancestry bytea,"
    "  hlc bigint NOT NULL, author text NOT NULL, deleted boolean NOT NULL,"
    "  schema integer NOT NULL, body bytea NOT NULL,"
    "  head smallint NOT NULL," /* 0 superseded, 1 winner, 2 open loser */
    "  local boolean NOT NULL, src_peer text, src_inc bytea, stored_ms bigint NOT NULL,"
    /* id first: a record is looked up by id (its heads), and a second
     * index on id would cost every insert another index entry */
    "  PRIMARY KEY (id, county, hash));"
    "CREATE INDEX IF NOT EXISTS versions_seq ON versions(seq);"
    "CREATE INDEX IF NOT EXISTS versions_scope ON versions(scope, seq);"
    "CREATE INDEX IF NOT EXISTS versions_conflicts ON versions(id) WHERE head = 2;"
    "CREATE TABLE IF NOT EXISTS history(county text COLLATE \"C\" NOT NULL, id bytea NOT NULL,"
    "  hash bytea NOT NULL, PRIMARY KEY (county, id, hash));"
    "CREATE TABLE IF NOT EXISTS peers(peer text PRIMARY KEY, inc bytea,"
    "  recv_cursor bigint NOT NULL DEFAULT 0, acked bigint NOT NULL DEFAULT 0,"
    "  last_contact bigint, last_ok bigint, skew bigint, pending bigint, last_error text,"
    "  cert_not_after bigint);"
    "CREATE TABLE IF NOT EXISTS rejections(county text COLLATE \"C\" NOT NULL, rid bigserial,"
    "  id bytea NOT NULL, kind integer, scope text, gen bigint, hash bytea NOT NULL,"
    "  peer text NOT NULL, outgoing boolean NOT NULL, reason text, at bigint,"
    "  PRIMARY KEY (county, id, hash, peer, outgoing));"
    "CREATE TABLE IF NOT EXISTS parked(county text COLLATE \"C\" NOT NULL, id bytea NOT NULL,"
    "  hash bytea NOT NULL, kind integer, peer text, dir integer, wire bytea NOT NULL,"
    "  at bigint, PRIMARY KEY (county, id, hash));"
    "CREATE TABLE IF NOT EXISTS imports(sha bytea PRIMARY KEY, kind integer, file text,"
    "  rows bigint, at bigint);"
    "CREATE TABLE IF NOT EXISTS report_settings(year integer NOT NULL, key text NOT NULL,"
    "  value bigint NOT NULL, PRIMARY KEY (year, key));";

/* ---- parameters and results ------------------------------------------- */

void qs__pgp_int(qs_pgp *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
    p->v[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

void qs__pgp_bool(qs_pgp *p, bool v)
{
    p->v[p->n] = v ? "t" : "f";
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

void qs__pgp_text(qs_pgp *p, const char *s)
{
    p->v[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

void qs__pgp_bin(qs_pgp *p, const void *b, size_t n)
{
    /* libpq takes a NULL value as SQL NULL: empty bytes need a non-NULL pointer */
    p->v[p->n] = b ? (const char *)b : NULL;
    p->len[p->n] = (int)n;
    p->fmt[p->n++] = 1;
}

static int map_error(qs_store *st, const PGresult *r, const char *what, qs_err *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = PQerrorMessage(st->pg->c);
    int code = QS_EIO;
    if (state &&
        (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0 || strcmp(state, "55P03") == 0))
        code = QS_EBUSY;
    else if (state && strcmp(state, "53100") == 0)
        code = QS_EFULL;
    else if (state && strcmp(state, "23505") == 0)
        code = QS_EEXIST;
    char m[256];
    snprintf(m, sizeof m, "%s", msg ? msg : "");
    size_t l = strlen(m);
    while (l && (m[l - 1] == '\n' || m[l - 1] == ' '))
        m[--l] = '\0';
    return qs_err_set(err, code, "%s: PostgreSQL: %s%s%s", what, m, state ? " — SQLSTATE " : "",
                      state ? state : "");
}

static PGresult *check(qs_store *st, PGresult *r, const char *what, qs_err *err)
{
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
        return r;
    map_error(st, r, what, err);
    PQclear(r);
    return NULL;
}

/* A connection the server dropped (a restart, a failover) is made again
 * before the next statement outside a transaction; inside one, the
 * transaction is lost and its statements fail until it ends. Prepared
 * statements died with the old session. */
static int alive(qs_store *st, const char *what, qs_err *err)
{
    struct qs_pg *pg = st->pg;
    if (PQstatus(pg->c) == CONNECTION_OK)
        return 0;
    if (!st->in_tx) {
        PQreset(pg->c);
        pg->nprepared = 0;
        if (PQstatus(pg->c) == CONNECTION_OK) {
            PGresult *r = PQexec(pg->c, "SET client_min_messages = warning");
            PQclear(r);
            return 0;
        }
    }
    char line[300];
    snprintf(line, sizeof line, "%s", PQerrorMessage(pg->c));
    line[strcspn(line, "\n")] = '\0';
    return qs_err_set(err, QS_EIO, "%s: the connection to PostgreSQL is lost: %s", what, line);
}

/* Read the results of the statements sent in pipeline mode and leave it:
 * 0, or the first failure. */
static int drain(qs_store *st, qs_err *err)
{
    struct qs_pg *pg = st->pg;
    if (PQpipelineStatus(pg->c) == PQ_PIPELINE_OFF)
        return 0;
    int rc = 0;
    bool synced = PQpipelineSync(pg->c) == 1;
    if (!synced)
        rc = qs_err_set(err, QS_EIO, "%s: PostgreSQL: %s", pg->pending_what, PQerrorMessage(pg->c));
    /* Every result up to the sync's is read, those after a failure too
     * (PGRES_PIPELINE_ABORTED): leaving one unread would leave the
     * connection unable to leave pipeline mode, for good. */
    for (;;) {
        PGresult *r = PQgetResult(pg->c);
        if (!r) {
            if (!synced || PQstatus(pg->c) != CONNECTION_OK)
                break; /* no sync was sent, or the connection is gone */
            continue;  /* the end of one statement's results */
        }
        ExecStatusType t = PQresultStatus(r);
        if (t == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (!rc && t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
            rc = t == PGRES_PIPELINE_ABORTED
                     ? qs_err_set(err, QS_EIO, "%s: PostgreSQL: aborted", pg->pending_what)
                     : map_error(st, r, pg->pending_what, err);
        PQclear(r);
    }
    pg->pending = 0;
    if (!PQexitPipelineMode(pg->c) && !rc)
        rc = qs_err_set(err, QS_EIO, "leaving pipeline mode: %s", PQerrorMessage(pg->c));
    return rc;
}

PGresult *qs__pg_q(qs_store *st, const char *sql, const qs_pgp *p, const char *what, qs_err *err)
{
    struct qs_pg *pg = st->pg;
    if (drain(st, err) || alive(st, what, err))
        return NULL;
    int i;
    for (i = 0; i < pg->nprepared && pg->prepared[i] != sql; i++)
        ;
    if (i == pg->nprepared && i == QS_PG_STMTS) /* cache full: run it unprepared */
        return qs__pg_qd(st, sql, p, what, err);
    char name[16];
    snprintf(name, sizeof name, "q%d", i);
    if (i == pg->nprepared) {
        PGresult *r = check(st, PQprepare(pg->c, name, sql, 0, NULL), what, err);
        if (!r)
            return NULL;
        PQclear(r);
        pg->prepared[pg->nprepared++] = sql;
    }
    return check(st,
                 PQexecPrepared(pg->c, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                                p ? p->fmt : NULL, 1),
                 what, err);
}

PGresult *qs__pg_qd(qs_store *st, const char *sql, const qs_pgp *p, const char *what, qs_err *err)
{
    if (drain(st, err) || alive(st, what, err))
        return NULL;
    return check(st,
                 PQexecParams(st->pg->c, sql, p ? p->n : 0, NULL, p ? p->v : NULL,
                              p ? p->len : NULL, p ? p->fmt : NULL, 1),
                 what, err);
}

/* The name of sql's prepared statement, preparing it first if need be
 * (outside pipeline mode); NULL when the cache is full. */
static const char *prepared_name(qs_store *st, const char *sql, char name[16], const char *what,
                                 qs_err *err, int *rc)
{
    struct qs_pg *pg = st->pg;
    int i;
    *rc = 0;
    for (i = 0; i < pg->nprepared && pg->prepared[i] != sql; i++)
        ;
    if (i == QS_PG_STMTS)
        return NULL;
    snprintf(name, 16, "q%d", i);
    if (i == pg->nprepared) {
        if ((*rc = drain(st, err)))
            return NULL;
        PGresult *r = check(st, PQprepare(pg->c, name, sql, 0, NULL), what, err);
        if (!r) {
            *rc = err ? err->code : QS_EIO;
            return NULL;
        }
        PQclear(r);
        pg->prepared[pg->nprepared++] = sql;
    }
    return name;
}

int qs__pg_cmd(qs_store *st, const char *sql, const qs_pgp *p, const char *what, qs_err *err)
{
    struct qs_pg *pg = st->pg;
    if (pg->defer && st->in_tx && PQstatus(pg->c) == CONNECTION_OK) {
        char name[16];
        int rc;
        if (!prepared_name(st, sql, name, what, err, &rc)) {
            if (rc)
                return rc;
        } else {
            if (PQpipelineStatus(pg->c) == PQ_PIPELINE_OFF && !PQenterPipelineMode(pg->c))
                return qs_err_set(err, QS_EIO, "%s: PostgreSQL: %s", what, PQerrorMessage(pg->c));
            if (!PQsendQueryPrepared(pg->c, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                                     p ? p->fmt : NULL, 1))
                return qs_err_set(err, QS_EIO, "%s: PostgreSQL: %s", what, PQerrorMessage(pg->c));
            if (pg->pending++ == 0)
                snprintf(pg->pending_what, sizeof pg->pending_what, "%s", what);
            /* keep the send buffer from growing without bound */
            if (pg->pending >= 256)
                return drain(st, err);
            return 0;
        }
    }
    PGresult *r = qs__pg_q(st, sql, p, what, err);
    if (!r)
        return err ? err->code : QS_EIO;
    PQclear(r);
    return 0;
}

int qs__pg_cmd_sql(qs_store *st, const char *sql, int n, const char *const *v, const int *len,
                   const int *fmt, const char *what, qs_err *err)
{
    struct qs_pg *pg = st->pg;
    if (pg->defer && st->in_tx && PQstatus(pg->c) == CONNECTION_OK) {
        if (PQpipelineStatus(pg->c) == PQ_PIPELINE_OFF && !PQenterPipelineMode(pg->c))
            return qs_err_set(err, QS_EIO, "%s: PostgreSQL: %s", what, PQerrorMessage(pg->c));
        if (!PQsendQueryParams(pg->c, sql, n, NULL, v, len, fmt, 1))
            return qs_err_set(err, QS_EIO, "%s: PostgreSQL: %s", what, PQerrorMessage(pg->c));
        if (pg->pending++ == 0)
            snprintf(pg->pending_what, sizeof pg->pending_what, "%s", what);
        return pg->pending >= 256 ? drain(st, err) : 0;
    }
    if (drain(st, err) || alive(st, what, err))
        return err ? err->code : QS_EIO;
    PGresult *r = check(st, PQexecParams(pg->c, sql, n, NULL, v, len, fmt, 1), what, err);
    if (!r)
        return err ? err->code : QS_EIO;
    PQclear(r);
    return 0;
}

int qs__pg_exec(qs_store *st, const char *sql, const char *what, qs_err *err)
{
    int drc = drain(st, err);
    if (drc && strncmp(sql, "ROLLBACK", 8) != 0)
        return drc;
    /* ROLLBACK on a lost connection: nothing to undo there */
    if (alive(st, what, err))
        return strncmp(sql, "ROLLBACK", 8) == 0 ? 0 : (err ? err->code : QS_EIO);
    PGresult *r = check(st, PQexec(st->pg->c, sql), what, err);
    if (!r)
        return err ? err->code : QS_EIO;
    PQclear(r);
    return 0;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int64_t qs__pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    switch (PQgetlength(r, row, col)) {
    case 1:
        return p[0];
    case 2:
        return (int16_t)be(p, 2);
    case 4:
        return (int32_t)be(p, 4);
    case 8:
        return (int64_t)be(p, 8);
    default:
        return 0;
    }
}

bool qs__pg_isnull(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

void qs__pg_str(const PGresult *r, int row, int col, char *out, size_t n)
{
    size_t len = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
    if (len >= n)
        len = n - 1;
    memcpy(out, PQgetvalue(r, row, col), len);
    out[len] = '\0';
}

#define PARENT_BYTES (8 + QS_HASH_LEN)

void qs__pg_row_record(const PGresult *r, int row, int c, qs_record *out)
{
    qs_record_init(out);
    if (PQgetlength(r, row, c) == QS_ID_LEN)
        memcpy(out->id, PQgetvalue(r, row, c), QS_ID_LEN);
    out->kind = (uint32_t)qs__pg_int(r, row, c + 1);
    qs__pg_str(r, row, c + 2, out->scope, sizeof out->scope);
    out->rev.gen = (uint64_t)qs__pg_int(r, row, c + 3);
    if (PQgetlength(r, row, c + 4) == QS_HASH_LEN)
        memcpy(out->rev.hash, PQgetvalue(r, row, c + 4), QS_HASH_LEN);
    int pn = PQgetlength(r, row, c + 5) / PARENT_BYTES;
    const unsigned char *pb = (const unsigned char *)PQgetvalue(r, row, c + 5);
    if (pn > 0) {
        out->parents = qs_xcalloc((size_t)pn, sizeof *out->parents);
        for (int i = 0; i < pn; i++) {
            out->parents[i].gen = be(pb + i * PARENT_BYTES, 8);
            memcpy(out->parents[i].hash, pb + i * PARENT_BYTES + 8, QS_HASH_LEN);
        }
        out->nparents = (uint32_t)pn;
    }
    out->hlc = (qs_hlc)qs__pg_int(r, row, c + 6);
    qs__pg_str(r, row, c + 7, out->author, sizeof out->author);
    out->deleted = qs__pg_int(r, row, c + 8) != 0;
    out->schema = (uint32_t)qs__pg_int(r, row, c + 9);
    qs_record_set_body(out, (const uint8_t *)PQgetvalue(r, row, c + 10),
                       (uint32_t)PQgetlength(r, row, c + 10));
}

void qs__pg_county(const char *scope, char out[QS_CODE_MAX])
{
    size_t n = strlen(scope);
    if (n > 6)
        n = 6;
    memcpy(out, scope, n);
    out[n] = '\0';
}

/* ---- conninfo ---------------------------------------------------------- */

int qs_store_conninfo_check(const char *conninfo, qs_err *err)
{
    /* The first thing any use of PostgreSQL does: libpq is loaded here. */
    int rc = qs_pq_load(err);
    if (rc)
        return rc;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    if (!opts) {
        /* libpq's message names the bad syntax, never the values */
        rc = qs_err_set(err, QS_EINVAL, "[store] conninfo does not parse: %s",
                        msg ? msg : "out of memory");
        PQfreemem(msg);
        return rc;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
            rc = qs_err_set(err, QS_EINVAL,
                            "[store] conninfo names a password: give it in a passfile "
                            "(passfile=PATH in conninfo, or PGPASSFILE), never in the "
                            "configuration");
    PQconninfoFree(opts);
    return rc;
}

int qs__pg_conninfo_file(const char *dir, char *out, size_t n, qs_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, QS_PG_FILE);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        return qs_err_set(err, QS_EPERM, "cannot read %s: %s", path, strerror(errno));
    }
    out[0] = '\0';
    if (!fgets(out, (int)n, f))
        out[0] = '\0';
    fclose(f);
    size_t l = strlen(out);
    while (l && (out[l - 1] == '\n' || out[l - 1] == '\r'))
        out[--l] = '\0';
    if (!*out)
        return qs_err_set(err, QS_EINVAL, "%s is empty", path);
    return 1;
}

static int write_conninfo_file(const char *dir, const char *conninfo, qs_err *err)
{
    char have[2048];
    if (qs__pg_conninfo_file(dir, have, sizeof have, NULL) == 1 && strcmp(have, conninfo) == 0)
        return 0;
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%s", dir, QS_PG_FILE);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return qs_err_set(err, QS_EPERM, "cannot write %s: %s", tmp, strerror(errno));
    size_t l = strlen(conninfo);
    bool ok = write(fd, conninfo, l) == (ssize_t)l && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return qs_err_set(err, QS_EIO, "cannot write %s", path);
    }
    return 0;
}

/* ---- meta -------------------------------------------------------------- */

static const char SQL_META_SET[] = "INSERT INTO meta(k, i, b) VALUES ($1, $2, $3) "
                                   "ON CONFLICT (k) DO UPDATE SET i = EXCLUDED.i, b = EXCLUDED.b";

int qs__pg_meta_set(qs_store *st, const char *k, int64_t i, const void *b, size_t n, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, k);
    qs__pgp_int(&p, i);
    qs__pgp_bin(&p, b ? b : "", b ? n : 0);
    if (!b)
        p.v[2] = NULL;
    return qs__pg_cmd(st, SQL_META_SET, &p, "writing the store's settings", err);
}

int qs__pg_meta_get(qs_store *st, const char *k, int64_t *i, void *b, size_t cap, size_t *n,
                    qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, k);
    PGresult *r =
        qs__pg_q(st, "SELECT i, b FROM meta WHERE k = $1", &p, "reading the store's settings", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = qs_err_set(err, QS_ENOTFOUND, "no setting %s", k);
    } else {
        if (i)
            *i = qs__pg_int(r, 0, 0);
        size_t len = PQgetisnull(r, 0, 1) ? 0 : (size_t)PQgetlength(r, 0, 1);
        if (len > cap)
            len = cap;
        if (b && len)
            memcpy(b, PQgetvalue(r, 0, 1), len);
        if (n)
            *n = len;
    }
    PQclear(r);
    return rc;
}

static int64_t meta_int_or0(qs_store *st, const char *k)
{
    int64_t v = 0;
    if (qs__pg_meta_get(st, k, &v, NULL, 0, NULL, NULL))
        return 0;
    return v;
}

/* ---- transactions and the commit-order sequence ----------------------- */

int qs__pg_slot(qs_store *st, int64_t *slot, qs_err *err)
{
    if (st->pg->slots >= QS_PG_SLOTS - 1)
        return qs_err_set(err, QS_ELIMIT,
                          "more than %lld versions in one transaction: split the import",
                          (long long)(QS_PG_SLOTS - 1));
    *slot = ++st->pg->slots;
    return 0;
}

int qs__pg_seq_top(qs_store *st, int64_t *top, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_int(&p, st->pg->seq_base);
    PGresult *r = qs__pg_q(st,
                           "SELECT $1::int8 + (pg_snapshot_xmin(pg_current_snapshot())::text::int8 "
                           "<< " QS_PG_SLOT_BITS_SQL ")",
                           &p, "reading the sequence", err);
    if (!r)
        return err ? err->code : QS_EIO;
    *top = qs__pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}

/* The clock. Each front-end keeps its last reading in its own row of
 * clocks (a row that every front-end raised at each commit would make
 * their commits wait for one another); a transaction starts from the
 * highest reading of all and of meta's "hlc" (the floor `migrate` sets).
 * Two front-ends may hand out equal readings, which is harmless: no
 * clock decides anything. */
static const char CLOCK_READ[] =
    "SELECT greatest((SELECT i FROM meta WHERE k = 'hlc'), (SELECT max(hlc) FROM clocks))";

void qs__pg_clock_tick(qs_store *st, qs_hlc *out)
{
    if (!st->hlc_loaded) {
        PGresult *r = qs__pg_q(st, CLOCK_READ, NULL, "reading the clock", NULL);
        st->hlc = r && PQntuples(r) && !qs__pg_isnull(r, 0, 0) ? (qs_hlc)qs__pg_int(r, 0, 0) : 0;
        PQclear(r);
        st->hlc_loaded = true;
    }
    *out = qs_hlc_now(&st->hlc, qs_clock_wall_ms());
    st->hlc_dirty = true;
}

int qs__pg_tx_begin(qs_store *st, bool *mine, qs_err *err)
{
    *mine = false;
    if (st->in_tx) {
        return st->all_or_nothing ? 0 : qs__pg_exec(st, "SAVEPOINT qs_op", "a savepoint", err);
    }
    int rc = qs__pg_exec(st, "BEGIN", "starting a transaction", err);
    if (rc)
        return rc;
    st->in_tx = true;
    st->hlc_loaded = st->hlc_dirty = false;
    st->pg->slots = 0;
    *mine = true;
    return 0;
}

int qs__pg_tx_end(qs_store *st, bool mine, int rc, qs_err *err)
{
    if (!mine && st->all_or_nothing) {
        if (rc)
            st->failed = true;
        return rc;
    }
    if (!mine) {
        if (rc) {
            qs__pg_exec(st, "ROLLBACK TO SAVEPOINT qs_op", "rolling back", NULL);
            qs__pg_exec(st, "RELEASE SAVEPOINT qs_op", "rolling back", NULL);
            return rc;
        }
        return qs__pg_exec(st, "RELEASE SAVEPOINT qs_op", "a savepoint", err);
    }
    if (!rc && st->hlc_dirty) {
        qs_pgp p = {0};
        qs__pgp_bin(&p, st->pg->fe, sizeof st->pg->fe);
        qs__pgp_int(&p, (int64_t)st->hlc);
        rc = qs__pg_cmd(st,
                        "INSERT INTO clocks(fe, hlc) VALUES ($1, $2) ON CONFLICT (fe) "
                        "DO UPDATE SET hlc = greatest(clocks.hlc, EXCLUDED.hlc)",
                        &p, "storing the clock", err);
    }
    st->hlc_loaded = st->hlc_dirty = false;
    st->all_or_nothing = st->failed = false;
    /* in_tx stays set until the end: a connection lost on the way is not
     * made again in the middle of this transaction (alive()) */
    if (!rc)
        rc = drain(st, err); /* what a batch sent without waiting */
    else
        drain(st, NULL);
    st->pg->slots = 0;
    if (!rc) {
        PGresult *r = PQexec(st->pg->c, "COMMIT");
        /* COMMIT of a failed transaction answers ROLLBACK, not an error */
        if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0)
            rc = map_error(st, r, "committing", err);
        PQclear(r);
        if (rc && err && !err->msg[0])
            rc = qs_err_set(err, QS_EIO, "committing: the transaction was rolled back");
    }
    if (rc)
        qs__pg_exec(st, "ROLLBACK", "rolling back", NULL);
    st->in_tx = false;
    return rc;
}

int qs__pg_begin(qs_store *st, bool all_or_nothing, qs_err *err)
{
    if (st->in_tx)
        return qs_err_set(err, QS_EBUSY, "a transaction is already open");
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (!rc)
        st->all_or_nothing = all_or_nothing;
    return rc;
}

/* ---- the clock --------------------------------------------------------- */

int qs__pg_clock_now(qs_store *st, qs_hlc *out, qs_err *err)
{
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    qs__pg_clock_tick(st, out);
    return qs__pg_tx_end(st, mine, 0, err);
}

int qs__pg_clock_recv(qs_store *st, qs_hlc remote, int64_t *skew_ms, bool *rejected, qs_err *err)
{
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    qs_hlc dummy;
    if (!st->hlc_loaded) {
        qs__pg_clock_tick(st, &dummy); /* loads (and advances: harmless) */
    }
    qs_hlc_recv(&st->hlc, remote, qs_clock_wall_ms(), st->max_offset_ms, skew_ms, rejected);
    st->hlc_dirty = true;
    return qs__pg_tx_end(st, mine, 0, err);
}

int qs__pg_clock_last(qs_store *st, qs_hlc *out, qs_err *err)
{
    PGresult *r = qs__pg_q(st, CLOCK_READ, NULL, "reading the clock", err);
    if (!r)
        return err ? err->code : QS_EIO;
    *out = PQntuples(r) && !qs__pg_isnull(r, 0, 0) ? (qs_hlc)qs__pg_int(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

/* ---- open, info -------------------------------------------------------- */

/* Called under the open's advisory lock, so the check and the creation are
 * one step for every front-end: one that waited for the lock sees the store
 * the first one committed, and with o->exist_ok opens it (load_meta, then
 * the node id check at "opened"). */
static int create_meta(qs_store *st, const qs_store_opts *o, qs_err *err)
{
    uint8_t inc[QS_INC_LEN];
    qs_random_bytes(inc, sizeof inc);
    int64_t role;
    if (qs__pg_meta_get(st, "role", &role, NULL, 0, NULL, NULL) == 0)
        return o->exist_ok ? 0
                           : qs_err_set(err, QS_EEXIST,
                                        "a store already exists in this PostgreSQL database");
    int rc;
    if ((rc = qs__pg_meta_set(st, "node", 0, o->node, strlen(o->node), err)) ||
        (rc = qs__pg_meta_set(st, "role", o->role, NULL, 0, err)) ||
        (rc = qs__pg_meta_set(st, "incarnation", 0, inc, sizeof inc, err)) ||
        (rc = qs__pg_meta_set(st, "created", qs_clock_wall_ms(), NULL, 0, err)) ||
        (rc = qs__pg_meta_set(st, "hlc", 0, NULL, 0, err)))
        return rc;
    return 0;
}

static int load_meta(qs_store *st, qs_err *err)
{
    int64_t role;
    size_t n = 0;
    int rc = qs__pg_meta_get(st, "role", &role, NULL, 0, NULL, NULL);
    if (rc)
        return qs_err_set(err, QS_ENOTFOUND,
                          "no Qianshou store in this PostgreSQL database — create one with "
                          "`qianshoud` ([store] backend = postgresql) or `qianshou migrate`");
    st->role = (qs_role)role;
    if ((rc = qs__pg_meta_get(st, "node", NULL, st->node, sizeof st->node - 1, &n, err)))
        return rc;
    st->node[n] = '\0';
    if ((rc = qs__pg_meta_get(st, "incarnation", NULL, st->inc, QS_INC_LEN, &n, err)))
        return rc;
    if (n != QS_INC_LEN)
        return qs_err_set(err, QS_ECORRUPT, "the database has no valid incarnation");
    if (qs_code_prefix(st->node, st->prefix, sizeof st->prefix) < 0)
        return qs_err_set(err, QS_ECORRUPT, "the stored node id %s is not a division code",
                          st->node);
    snprintf(st->author, sizeof st->author, "%s/%s", st->node, st->user);
    st->pg->seq_base = meta_int_or0(st, "seq_base");
    return 0;
}

/* What shapes the tables: the DDL above, the report's indexes (pg_report.c), the format of pg*.c's
 * generated tables and views (raise PG_FORMAT when they change), and the schema's kinds and fields
 * (FNV-1a). */
#define PG_FORMAT 2
static int64_t ddl_fingerprint(void)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    MIX(PG_FORMAT);
    for (const char *c = DDL; *c; c++)
        MIX((unsigned char)*c);
    for (const char *c = qs__pg_report_ddl; *c; c++)
        MIX((unsigned char)*c);
    for (uint32_t i = 0; i < qs_schema_nkinds(); i++) {
        const qs_kind *k = qs_schema_kind_at(i);
        MIX(k->id);
        for (const char *c = k->name; *c; c++)
            MIX((unsigned char)*c);
        for (uint32_t j = 0; j < k->nfields; j++) {
            MIX(k->fields[j].id);
            MIX(k->fields[j].type);
            for (const char *c = k->fields[j].name; *c; c++)
                MIX((unsigned char)*c);
            for (const char *c = k->fields[j].label ? k->fields[j].label : ""; *c; c++)
                MIX((unsigned char)*c);
        }
    }
#undef MIX
    return (int64_t)(h >> 1);
}

/* Whether the database has this build's tables (meta pg_ddl). */
static bool ddl_current(qs_store *st)
{
    PGresult *r = qs__pg_q(st, "SELECT to_regclass('meta') IS NOT NULL", NULL, "opening", NULL);
    bool have = r && PQntuples(r) && qs__pg_int(r, 0, 0) != 0;
    PQclear(r);
    int64_t v = 0;
    return have && qs__pg_meta_get(st, "pg_ddl", &v, NULL, 0, NULL, NULL) == 0 &&
           v == ddl_fingerprint();
}

static const char ROLE_REFUSED[] =
    "a county's store stays in SQLite: backend = postgresql is for role = aggregator";

int qs__pg_open(const qs_store_opts *o, const char *conninfo, qs_store **out, qs_err *err)
{
    int rc;
    *out = NULL;
    if ((rc = qs_store_conninfo_check(conninfo, err)))
        return rc;
    if (o->create && o->role == QS_ROLE_COUNTY)
        return qs_err_set(err, QS_EINVAL, "%s", ROLE_REFUSED);
    if (o->create && (!o->node || !qs_code_valid(o->node)))
        return qs_err_set(err, QS_EINVAL,
                          "node id \"%s\" is not a division code (6 or 9 digits, e.g. 632322)",
                          o->node ? o->node : "");
    qs_store *st = qs_xcalloc(1, sizeof *st);
    st->pg = qs_xcalloc(1, sizeof *st->pg);
    qs_random_bytes(st->pg->fe, sizeof st->pg->fe);
    snprintf(st->dir, sizeof st->dir, "%s", o->dir ? o->dir : "");
    st->lim = o->limits.max_body ? o->limits : qs_limits_default();
    st->max_offset_ms = o->max_clock_offset_ms;
    st->fail_after = -1;
    if (o->user)
        snprintf(st->user, sizeof st->user, "%s", o->user);
    else
        snprintf(st->user, sizeof st->user, "%s", getenv("USER") ? getenv("USER") : "qianshou");
    st->pg->c = PQconnectdb(conninfo);
    if (!st->pg->c || PQstatus(st->pg->c) != CONNECTION_OK) {
        /* libpq's message names the host or socket, never a password */
        const char *m = st->pg->c ? PQerrorMessage(st->pg->c) : "out of memory";
        char line[300];
        snprintf(line, sizeof line, "%s", m);
        line[strcspn(line, "\n")] = '\0';
        rc = qs_err_set(err, QS_EIO, "cannot connect to PostgreSQL: %s", line);
        goto fail;
    }
    PQsetClientEncoding(st->pg->c, "UTF8");
    if ((rc = qs__pg_exec(st, "SET client_min_messages = warning", "setting up", err)))
        goto fail;
    /* The tables of this very build exist already: no DDL (an open costs a
     * few milliseconds, as for every `qianshou` command). */
    if (!o->create && ddl_current(st)) {
        if ((rc = load_meta(st, err)) || (rc = qs__pg_project_ddl(st, false, err)))
            goto fail;
        goto opened;
    }
    if ((rc = qs__pg_exec(st, "BEGIN", "creating the tables", err)) ||
        (rc = qs__pg_exec(st, QS_PG_DDL_LOCK, "creating the tables", err)) ||
        (rc = qs__pg_exec(st, DDL, "creating the tables", err)))
        goto fail_tx;
    if (o->create && (rc = create_meta(st, o, err)))
        goto fail_tx;
    if ((rc = load_meta(st, err)))
        goto fail_tx;
    if ((rc = qs__pg_project_ddl(st, true, err)) ||
        (rc = qs__pg_exec(st, qs__pg_report_ddl, "creating the report's indexes", err)) ||
        (rc = qs__pg_meta_set(st, "pg_ddl", ddl_fingerprint(), NULL, 0, err)))
        goto fail_tx;
    if ((rc = qs__pg_exec(st, "COMMIT", "creating the tables", err)))
        goto fail;
opened:
    if (st->role == QS_ROLE_COUNTY) {
        rc = qs_err_set(err, QS_EINVAL, "%s", ROLE_REFUSED);
        goto fail;
    }
    if (o->node && *o->node && strcmp(o->node, st->node) != 0) {
        rc = qs_err_set(err, QS_EINVAL,
                        "node id mismatch: the store in PostgreSQL belongs to %s, not %s", st->node,
                        o->node);
        goto fail;
    }
    if (o->dir && *o->dir && (rc = write_conninfo_file(o->dir, conninfo, err)))
        goto fail;
    /* the clocks of front-ends gone: the highest reading is what counts */
    if ((rc = qs__pg_exec(st, "DELETE FROM clocks WHERE hlc < (SELECT max(hlc) FROM clocks)",
                          "opening", err)) ||
        (rc = qs__pg_apply_parked(st, err)))
        goto fail;
    *out = st;
    return 0;
fail_tx:
    qs__pg_exec(st, "ROLLBACK", "rolling back", NULL);
fail:
    qs__pg_close(st);
    return rc;
}

int qs__pg_maybe_open(const qs_store_opts *o, qs_store **out, qs_err *err)
{
    if (o->conninfo && *o->conninfo)
        return qs__pg_open(o, o->conninfo, out, err);
    if (!o->dir || !*o->dir)
        return 1;
    char ci[2048];
    int f = qs__pg_conninfo_file(o->dir, ci, sizeof ci, err);
    if (f <= 0)
        return f < 0 ? f : 1;
    return qs__pg_open(o, ci, out, err);
}

void qs__pg_close(qs_store *st)
{
    if (!st)
        return;
    if (st->pg) {
        qs__pg_project_free(st);
        qs__pg_bulk_free_all(st);
        if (st->pg->c)
            PQfinish(st->pg->c);
        free(st->pg);
    }
    free(st);
}

static int count1(qs_store *st, const char *sql, uint64_t *out, qs_err *err)
{
    PGresult *r = qs__pg_q(st, sql, NULL, "counting", err);
    if (!r)
        return err ? err->code : QS_EIO;
    *out = PQntuples(r) ? (uint64_t)qs__pg_int(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

int qs__pg_info(qs_store *st, qs_store_info *o, bool counts, qs_err *err)
{
    memset(o, 0, sizeof *o);
    snprintf(o->node, sizeof o->node, "%s", st->node);
    o->role = st->role;
    memcpy(o->incarnation, st->inc, QS_INC_LEN);
    o->schema = QS_SCHEMA_VERSION;
    int rc = count1(st, "SELECT coalesce(max(seq), 0) FROM versions", &o->max_seq, err);
    if (rc || !counts)
        return rc;
    o->created_ms = meta_int_or0(st, "created");
    if ((rc = count1(st, "SELECT count(*) FROM versions WHERE head = 1 AND NOT deleted",
                     &o->records, err)) ||
        (rc = count1(st, "SELECT count(DISTINCT id) FROM versions WHERE head = 2", &o->conflicts,
                     err)) ||
        (rc = count1(st, "SELECT count(*) FROM rejections", &o->rejected, err)) ||
        (rc = count1(st, "SELECT count(*) FROM parked", &o->parked, err)))
        return rc;
    return 0;
}

/* What another process commits raises the sequence's top (pg.h). */
int qs__pg_data_version(qs_store *st, uint64_t *out, qs_err *err)
{
    int64_t top;
    int rc = qs__pg_seq_top(st, &top, err);
    *out = rc ? 0 : (uint64_t)top;
    return rc;
}

int qs__pg_check_cursor(qs_store *st, uint64_t cursor, bool *renewed, qs_err *err)
{
    uint64_t max = 0;
    int64_t top = 0;
    *renewed = false;
    /* a feed that found nothing more answers top - 1, above every seq */
    int rc = count1(st, "SELECT coalesce(max(seq), 0) FROM versions", &max, err);
    if (!rc)
        rc = qs__pg_seq_top(st, &top, err);
    if (rc || cursor <= max || cursor < (uint64_t)top)
        return rc;
    uint8_t inc[QS_INC_LEN];
    qs_random_bytes(inc, sizeof inc);
    bool mine;
    if ((rc = qs__pg_tx_begin(st, &mine, err)))
        return rc;
    rc = qs__pg_meta_set(st, "incarnation", 0, inc, sizeof inc, err);
    rc = qs__pg_tx_end(st, mine, rc, err);
    if (rc == 0) {
        memcpy(st->inc, inc, sizeof inc);
        *renewed = true;
    }
    return rc;
}

int qs__pg_import_lookup(qs_store *st, const uint8_t sha[32], int64_t *at_ms, uint64_t *rows,
                         qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_bin(&p, sha, 32);
    PGresult *r =
        qs__pg_q(st, "SELECT at, rows FROM imports WHERE sha = $1", &p, "reading imports", err);
    if (!r)
        return err ? err->code : QS_EIO;
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = qs_err_set(err, QS_ENOTFOUND, "never imported");
    } else {
        *at_ms = qs__pg_int(r, 0, 0);
        *rows = (uint64_t)qs__pg_int(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

int qs__pg_import_note(qs_store *st, const uint8_t sha[32], uint32_t kind, const char *file,
                       uint64_t rows, qs_err *err)
{
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    qs_pgp p = {0};
    qs__pgp_bin(&p, sha, 32);
    qs__pgp_int(&p, kind);
    qs__pgp_text(&p, file);
    qs__pgp_int(&p, (int64_t)rows);
    qs__pgp_int(&p, qs_clock_wall_ms());
    rc = qs__pg_cmd(st,
                    "INSERT INTO imports(sha, kind, file, rows, at) VALUES ($1, $2, $3, $4, $5) "
                    "ON CONFLICT (sha) DO UPDATE SET kind = EXCLUDED.kind, file = EXCLUDED.file, "
                    "rows = EXCLUDED.rows, at = EXCLUDED.at",
                    &p, "noting an import", err);
    return qs__pg_tx_end(st, mine, rc, err);
}

int qs__pg_unsupported(qs_store *st, const char *what, qs_err *err)
{
    (void)st;
    return qs_err_set(err, QS_EINVAL,
                      "%s is not available for a store on PostgreSQL (use the server's tools: "
                      "pg_dump, pg_basebackup, amcheck)",
                      what);
}

int qs__pg_name(qs_store *st, char out[QS_NAME_MAX], qs_err *err)
{
    size_t n = 0;
    out[0] = '\0';
    int rc = qs__pg_meta_get(st, "name", NULL, out, QS_NAME_MAX - 1, &n, err);
    if (rc == QS_ENOTFOUND)
        return 0;
    if (!rc)
        out[n] = '\0';
    return rc;
}

int qs__pg_setting_get(qs_store *st, int year, const char *key, int64_t *value, qs_err *err)
{
    qs_pgp p = {0};
    qs__pgp_text(&p, key);
    qs__pgp_int(&p, year);
    PGresult *r = qs__pg_q(st,
                           "SELECT value FROM report_settings WHERE key = $1 AND "
                           "year IN ($2, 0) ORDER BY year DESC LIMIT 1",
                           &p, "reading report settings", err);
    if (!r)
        return err ? err->code : QS_EIO;
    if (PQntuples(r))
        *value = qs__pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}

int qs__pg_setting_set(qs_store *st, int year, const char *key, int64_t value, qs_err *err)
{
    bool mine;
    int rc = qs__pg_tx_begin(st, &mine, err);
    if (rc)
        return rc;
    qs_pgp p = {0};
    qs__pgp_int(&p, year);
    qs__pgp_text(&p, key);
    qs__pgp_int(&p, value);
    rc = qs__pg_cmd(st,
                    "INSERT INTO report_settings(year, key, value) VALUES ($1, $2, $3) "
                    "ON CONFLICT (year, key) DO UPDATE SET value = EXCLUDED.value",
                    &p, "saving a report setting", err);
    return qs__pg_tx_end(st, mine, rc, err);
}
