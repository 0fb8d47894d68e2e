/*
 * test_pg_open.c — front-ends starting at once on an empty PostgreSQL
 * database: two processes open the store with create and exist_ok (what
 * qianshoud does when it finds no store) at the same moment; one creates it,
 * the other waits for the open's advisory lock and opens that same store
 * (the same incarnation), neither fails. A strict create (`qianshou
 * migrate`) still refuses a database that holds a store, and a front-end of
 * another node id is refused. Run through tests/pg/pgtest.sh (ctest
 * test_pg_open); skipped without QS_TEST_PG and a server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/support/fixture.h"

#define ROUNDS 6
#define OPENERS 3

static qs_store_opts opts(const char *conninfo, const char *node, const char *dir)
{
    qs_store_opts o = qs_store_opts_default();
    o.conninfo = conninfo;
    o.dir = dir;
    o.create = true;
    o.exist_ok = true;
    o.node = node;
    o.role = QS_ROLE_AGGREGATOR;
    o.user = "tester";
    return o;
}

/* In a child: wait for the start signal, open, write the incarnation (or
 * the error) to out, exit 0 if the open succeeded. */
static void opener(const char *conninfo, const char *dir, int go, int out)
{
    char c;
    if (read(go, &c, 1) < 0)
        _exit(3);
    qs_store_opts o = opts(conninfo, "630000", dir);
    qs_store *st = NULL;
    qs_err e = {0};
    char line[600];
    int rc = qs_store_open(&o, &st, &e);
    if (rc == 0) {
        qs_store_info in;
        rc = qs_store_info_get(st, &in, &e);
        int n = 0;
        for (size_t i = 0; i < QS_INC_LEN; i++)
            n += snprintf(line + n, sizeof line - (size_t)n, "%02x", in.incarnation[i]);
        qs_store_close(st);
    }
    if (rc)
        snprintf(line, sizeof line, "error: %s", e.msg);
    if (write(out, line, strlen(line)) < 0)
        _exit(3);
    _exit(rc ? 1 : 0);
}

static void test_first_starts_at_once(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        char conninfo[1024];
        snprintf(conninfo, sizeof conninfo, "%s", qs_fx_pg_conninfo());
        int go[2];
        assert_int_equal(pipe(go), 0);
        int outs[OPENERS];
        pid_t pids[OPENERS];
        for (int i = 0; i < OPENERS; i++) {
            char dir[600];
            snprintf(dir, sizeof dir, "%s/r%d-fe%d", qs_fx_root(), round, i);
            char cmd[700];
            snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
            assert_int_equal(system(cmd), 0);
            int out[2];
            assert_int_equal(pipe(out), 0);
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                close(go[1]);
                close(out[0]);
                opener(conninfo, dir, go[0], out[1]);
            }
            close(out[1]);
            outs[i] = out[0];
        }
        close(go[0]);
        close(go[1]); /* every child's read returns now: all start together */
        char inc[OPENERS][600];
        for (int i = 0; i < OPENERS; i++) {
            ssize_t n = read(outs[i], inc[i], sizeof inc[i] - 1);
            inc[i][n > 0 ? n : 0] = '\0';
            close(outs[i]);
            int status = 0;
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("round %d, front-end %d did not open the store: %s", round, i, inc[i]);
        }
        for (int i = 1; i < OPENERS; i++)
            if (strcmp(inc[i], inc[0]) != 0)
                fail_msg("round %d: front-ends 0 and %d opened different stores (%s, %s)", round, i,
                         inc[0], inc[i]);
    }
}

static void test_strict_create_and_other_node(void **state)
{
    (void)state;
    char conninfo[1024], dir[600];
    snprintf(conninfo, sizeof conninfo, "%s", qs_fx_pg_conninfo());
    snprintf(dir, sizeof dir, "%s/strict", qs_fx_root());
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    assert_int_equal(system(cmd), 0);
    qs_store_opts o = opts(conninfo, "630000", dir);
    qs_store *st = NULL;
    qs_err e = {0};
    assert_int_equal(qs_store_open(&o, &st, &e), 0);
    qs_store_close(st);
    o.exist_ok = false; /* `qianshou migrate`: only into an empty database */
    assert_int_equal(qs_store_open(&o, &st, &e), QS_EEXIST);
    assert_null(st);
    qs_store_opts other = opts(conninfo, "640000", dir); /* another province's front-end */
    assert_int_not_equal(qs_store_open(&other, &st, &e), 0);
    assert_non_null(strstr(e.msg, "node id mismatch"));
    assert_null(st);
}

int main(void)
{
    if (!qs_fx_pg()) {
        fprintf(stderr, "test_pg_open: no PostgreSQL (run through tests/pg/pgtest.sh with "
                        "QS_TEST_PG=1): skipped\n");
        return 77;
    }
    qs_fx_init("pgopen");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_starts_at_once),
        cmocka_unit_test(test_strict_create_and_other_node),
    };
    return qs_fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
