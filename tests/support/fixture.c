#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpq-fe.h>
#include <unistd.h>

#include "proto/schema.h"
#include "tests/support/fixture.h"

static char root[256];
static int ndirs;

void qs_fx_init(const char *name)
{
    snprintf(root, sizeof root, "/tmp/qs-test-%s-XXXXXX", name);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(1);
    }
}

const char *qs_fx_root(void)
{
    return root;
}

int qs_fx_finish(int rc)
{
    if (rc == 0) {
        char cmd[320];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            return 1;
    } else {
        fprintf(stderr, "test data kept in %s\n", root);
    }
    return rc;
}

bool qs_fx_pg(void)
{
    const char *on = getenv("QS_TEST_PG"), *ci = getenv("QS_PG_CONNINFO");
    return on && *on && strcmp(on, "0") != 0 && ci && *ci;
}

const char *qs_fx_pg_conninfo(void)
{
    static char out[1024];
    static int seq;
    const char *base = getenv("QS_PG_CONNINFO");
    PGconn *c = PQconnectdb(base);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("PostgreSQL: %s", PQerrorMessage(c));
    char schema[64], sql[256];
    snprintf(schema, sizeof schema, "t%d_%d", (int)getpid(), seq++);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("PostgreSQL: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    snprintf(out, sizeof out, "%s options='-csearch_path=%s'", base, schema);
    return out;
}

void qs_fx_pg_exec(const char *dir, const char *sql)
{
    char path[600], ci[1024] = "";
    snprintf(path, sizeof path, "%s/store.conninfo", dir);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(ci, sizeof ci, f))
        fail_msg("no %s", path);
    fclose(f);
    ci[strcspn(ci, "\n")] = '\0';
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("PostgreSQL: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
        fail_msg("PostgreSQL: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

qs_store *qs_fx_store(const char *node, qs_role role, const qs_limits *lim, char *dir_out)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/s%d-%s", root, ndirs++, node);
    if (mkdir(dir, 0770) != 0)
        fail_msg("mkdir %s failed", dir);
    if (dir_out)
        memcpy(dir_out, dir, sizeof dir);
    qs_store_opts o = qs_store_opts_default();
    o.dir = dir;
    o.create = true;
    o.node = node;
    o.role = role;
    o.user = "tester";
    if (lim)
        o.limits = *lim;
    if (role == QS_ROLE_AGGREGATOR && qs_fx_pg())
        o.conninfo = qs_fx_pg_conninfo();
    qs_store *st = NULL;
    qs_err e = {0};
    if (qs_store_open(&o, &st, &e))
        fail_msg("open %s: %s", dir, e.msg);
    return st;
}

qs_store *qs_fx_reopen(const char *dir)
{
    qs_store_opts o = qs_store_opts_default();
    o.dir = dir;
    qs_store *st = NULL;
    qs_err e = {0};
    if (qs_store_open(&o, &st, &e))
        fail_msg("reopen %s: %s", dir, e.msg);
    return st;
}

void qs_fx_bodyv(qs_body *b, uint32_t kind, va_list ap)
{
    const qs_kind *k = qs_schema_kind(kind);
    if (!k)
        fail_msg("no kind %u", kind);
    qs_body_init(b);
    const char *kv;
    while ((kv = va_arg(ap, const char *))) {
        const char *eq = strchr(kv, '=');
        if (!eq)
            fail_msg("\"%s\" is not field=value", kv);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - kv), kv);
        const qs_field *f = qs_kind_field_by_name(k, name);
        if (!f)
            fail_msg("a %s has no field %s", k->name, name);
        qs_value v;
        qs_err e = {0};
        if (qs_schema_parse(f, eq + 1, &v, &e))
            fail_msg("parse %s: %s", kv, e.msg);
        qs_body_set(b, f->id, v);
    }
}

void qs_fx_body(qs_body *b, uint32_t kind, ...)
{
    va_list ap;
    va_start(ap, kind);
    qs_fx_bodyv(b, kind, ap);
    va_end(ap);
}

void qs_fx_create(qs_store *st, uint32_t kind, uint8_t *id, ...)
{
    qs_body b;
    va_list ap;
    va_start(ap, id);
    qs_fx_bodyv(&b, kind, ap);
    va_end(ap);
    qs_err e = {0};
    if (qs_store_create(st, kind, NULL, &b, id, NULL, &e))
        fail_msg("create: %s", e.msg);
    qs_body_free(&b);
}

size_t qs_fx_unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        assert_true(sscanf(s, "%2x", &v) == 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

uint64_t qs_fx_count(qs_store *st, uint32_t kind)
{
    uint64_t n = 0;
    qs_err e = {0};
    if (qs_store_count_eq(st, kind, NULL, 0, &n, &e))
        fail_msg("count: %s", e.msg);
    return n;
}

void qs_fx_assert_digest_eq(qs_store *a, qs_store *b, const char *scope)
{
    uint8_t da[32], db[32];
    uint64_t na = 0, nb = 0;
    qs_err e = {0};
    if (qs_store_digest(a, scope, da, &na, &e) || qs_store_digest(b, scope, db, &nb, &e))
        fail_msg("digest: %s", e.msg);
    assert_int_equal(na, nb);
    assert_memory_equal(da, db, 32);
}

bool qs_fx_ship(qs_store *from, const char *from_node, qs_store *to, const char *to_node,
                qs_feed_dir dir, int out[5])
{
    qs_store_info fi, ti;
    qs_err e = {0};
    bool reset1, reset2;
    assert_int_equal(qs_store_info_get(from, &fi, &e), 0);
    assert_int_equal(qs_store_info_get(to, &ti, &e), 0);
    assert_int_equal(qs_store_peer_hello(to, from_node, fi.incarnation, 0, &reset1, &e), 0);
    assert_int_equal(qs_store_peer_hello(from, to_node, ti.incarnation, 0, &reset2, &e), 0);
    qs_peer p;
    assert_int_equal(qs_store_peer_get(to, from_node, &p, &e), 0);
    uint64_t since = p.recv_cursor;
    if (out)
        memset(out, 0, 5 * sizeof *out);
    for (bool more = true; more;) {
        qs_record recs[7];
        uint32_t n;
        uint64_t upto;
        if (qs_store_feed(from, to_node, dir, since, 7, recs, &n, &upto, &more, &e))
            fail_msg("feed: %s", e.msg);
        qs_apply_result res[7];
        qs_apply_batch b = {.peer = from_node,
                            .peer_inc = fi.incarnation,
                            .dir = dir == QS_FEED_UP ? QS_FROM_CHILD : QS_FROM_PARENT,
                            .recs = recs,
                            .n = n,
                            .cursor = upto,
                            .results = res};
        if (qs_store_apply(to, &b, 1, &e))
            fail_msg("apply: %s", e.msg);
        for (uint32_t i = 0; i < n; i++) {
            if (out)
                out[res[i].outcome]++;
            qs_record_free(&recs[i]);
        }
        if (qs_store_peer_acked(from, to_node, upto, &e))
            fail_msg("acked: %s", e.msg);
        since = upto;
    }
    return reset1 || reset2;
}
