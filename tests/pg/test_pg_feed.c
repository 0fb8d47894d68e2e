/*
 * test_pg_feed.c — several front-ends on one PostgreSQL: the change feed
 * never lets a cursor pass a change whose transaction commits later (the
 * "skipped sequences" hazard). Run through tests/pg/pgtest.sh (ctest
 * test_pg_feed); skipped without QS_TEST_PG and a server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/msg.h"
#include "proto/schema.h"
#include "store/store.h"
#include "tests/support/fixture.h"

static void create_county(qs_store *st, int i, uint8_t id[16])
{
    char code[32], name[32];
    snprintf(code, sizeof code, "code=63%04d", 2000 + i % 8000);
    snprintf(name, sizeof name, "name=县%d", i);
    qs_fx_create(st, QS_K_COUNTY, id, code, name, NULL);
}

/* Read the down feed of child from *cursor to its end, counting each id
 * (ids[] of n, seen[] counts); returns records read. */
static int drain(qs_store *st, const char *child, uint64_t *cursor, uint8_t (*ids)[16], int n,
                 int *seen)
{
    int got = 0;
    bool more = true;
    while (more) {
        qs_record recs[7];
        uint32_t k;
        uint64_t upto;
        qs_err e = {0};
        if (qs_store_feed(st, child, QS_FEED_DOWN, *cursor, 7, recs, &k, &upto, &more, &e) != 0)
            fail_msg("feed: %s", e.msg);
        for (uint32_t j = 0; j < k; j++) {
            for (int i = 0; i < n; i++)
                if (memcmp(ids[i], recs[j].id, 16) == 0)
                    seen[i]++;
            qs_record_free(&recs[j]);
            got++;
        }
        if (upto < *cursor)
            fail_msg("the cursor went back from %llu to %llu", (unsigned long long)*cursor,
                     (unsigned long long)upto);
        *cursor = upto;
    }
    return got;
}

/* Front-end A starts writing first and commits last; front-end B writes and
 * commits in between; a county pulls between the two commits. A's row
 * carries the lower number (its transaction began first): a feed that
 * served B's row then would move the county's cursor past A's, which would
 * be skipped for ever. So B's row waits until A has ended. */
static void test_later_commit_not_skipped(void **state)
{
    (void)state;
    char dir[512];
    qs_store *a = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, dir);
    qs_store *b = qs_fx_reopen(dir);
    qs_store *reader = qs_fx_reopen(dir);
    uint8_t ids[2][16];
    int seen[2] = {0, 0};
    uint64_t cursor = 0;
    qs_err e = {0};

    assert_int_equal(qs_store_begin(a, &e), 0);
    create_county(a, 1, ids[0]); /* A writes first, transaction still open */
    create_county(b, 2, ids[1]); /* B writes and commits */

    drain(reader, "632322", &cursor, ids, 2, seen);
    assert_int_equal(seen[0], 0); /* A's is not committed: not visible */
    assert_int_equal(seen[1], 0); /* B's waits: A may still commit below it */
    uint64_t after_b = cursor;

    assert_int_equal(qs_store_commit(a, &e), 0);
    drain(reader, "632322", &cursor, ids, 2, seen);
    assert_int_equal(seen[0], 1); /* not skipped */
    assert_int_equal(seen[1], 1);
    assert_true(cursor > after_b);

    /* Both handles see the same store. */
    qs_fx_assert_digest_eq(a, b, NULL);
    qs_store_close(reader);
    qs_store_close(b);
    qs_store_close(a);
}

/* A transaction that rolls back leaves no gap the feed waits on. */
static void test_rollback_leaves_no_gap(void **state)
{
    (void)state;
    char dir[512];
    qs_store *a = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, dir);
    qs_store *b = qs_fx_reopen(dir);
    uint8_t ids[3][16];
    int seen[3] = {0};
    uint64_t cursor = 0;
    qs_err e = {0};
    assert_int_equal(qs_store_begin(a, &e), 0);
    create_county(a, 1, ids[0]);
    qs_store_rollback(a);
    create_county(b, 2, ids[1]);
    create_county(a, 3, ids[2]);
    drain(b, "632322", &cursor, ids, 3, seen);
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 1);
    qs_store_info info;
    assert_int_equal(qs_store_ident(b, &info, &e), 0);
    /* the cursor went past both, and past the rolled-back number */
    assert_true(info.max_seq > 0 && cursor >= info.max_seq);
    qs_store_close(b);
    qs_store_close(a);
}

/* Writers on their own connections, transactions of several records with
 * pauses inside, and a reader pulling all the while: every record arrives
 * exactly once. */
#define WRITERS 3
#define PER_WRITER 60
#define PER_TX 4

typedef struct writer {
    char dir[512];
    int w;
    uint8_t (*ids)[16];
} writer;

static volatile int writers_done;

static void *write_main(void *arg)
{
    writer *wr = arg;
    qs_store_opts o = qs_store_opts_default();
    o.dir = wr->dir;
    qs_store *st = NULL;
    qs_err e = {0};
    if (qs_store_open(&o, &st, &e) != 0) {
        fprintf(stderr, "writer %d: %s\n", wr->w, e.msg);
        abort();
    }
    for (int i = 0; i < PER_WRITER; i += PER_TX) {
        if (qs_store_begin(st, &e) != 0)
            abort();
        for (int j = 0; j < PER_TX; j++) {
            qs_body b;
            char code[16], name[32];
            snprintf(code, sizeof code, "63%02d%02d", wr->w + 1, (i + j) % 99 + 1);
            snprintf(name, sizeof name, "县%d-%d", wr->w, i + j);
            qs_body_init(&b);
            const qs_kind *k = qs_schema_kind(QS_K_COUNTY);
            qs_body_set(&b, qs_kind_field_by_name(k, "code")->id, qs_v_str(code));
            qs_body_set(&b, qs_kind_field_by_name(k, "name")->id, qs_v_str(name));
            if (qs_store_create(st, QS_K_COUNTY, NULL, &b, wr->ids[i + j], NULL, &e) != 0) {
                fprintf(stderr, "writer %d: %s\n", wr->w, e.msg);
                abort();
            }
            qs_body_free(&b);
            usleep((useconds_t)(1000 * ((wr->w + j) % 3)));
        }
        if (qs_store_commit(st, &e) != 0) {
            fprintf(stderr, "writer %d: commit: %s\n", wr->w, e.msg);
            abort();
        }
    }
    qs_store_close(st);
    __atomic_add_fetch(&writers_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_concurrent_writers_and_reader(void **state)
{
    (void)state;
    char dir[512];
    qs_store *st = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, dir);
    static uint8_t ids[WRITERS * PER_WRITER][16];
    static int seen[WRITERS * PER_WRITER];
    memset(seen, 0, sizeof seen);
    writer wr[WRITERS];
    pthread_t th[WRITERS];
    writers_done = 0;
    for (int w = 0; w < WRITERS; w++) {
        snprintf(wr[w].dir, sizeof wr[w].dir, "%s", dir);
        wr[w].w = w;
        wr[w].ids = ids + w * PER_WRITER;
        pthread_create(&th[w], NULL, write_main, &wr[w]);
    }
    uint64_t cursor = 0;
    int pulls = 0;
    while (__atomic_load_n(&writers_done, __ATOMIC_SEQ_CST) < WRITERS) {
        drain(st, "632322", &cursor, ids, WRITERS * PER_WRITER, seen);
        pulls++;
        usleep(500);
    }
    for (int w = 0; w < WRITERS; w++)
        pthread_join(th[w], NULL);
    drain(st, "632322", &cursor, ids, WRITERS * PER_WRITER, seen);
    for (int i = 0; i < WRITERS * PER_WRITER; i++)
        if (seen[i] != 1)
            fail_msg("record %d of writer %d arrived %d times (pulls: %d)", i % PER_WRITER,
                     i / PER_WRITER, seen[i], pulls);
    assert_true(pulls > 1);
    qs_store_close(st);
}

/* The same versions arriving through two front-ends at once (a county that
 * reconnected elsewhere while its old session still ran): each is applied
 * once and is a duplicate the other time, never stored twice, and a record
 * edited on both paths ends as one conflict, decided the same way. */
#define SAME 40

typedef struct both {
    char dir[512];
    qs_record *recs;
    uint32_t n;
    uint8_t inc[16];
    int applied, duplicates, failed;
} both;

static void *apply_main(void *arg)
{
    both *b = arg;
    qs_store_opts o = qs_store_opts_default();
    o.dir = b->dir;
    qs_store *st = NULL;
    qs_err e = {0};
    if (qs_store_open(&o, &st, &e) != 0) {
        b->failed = 1;
        return NULL;
    }
    for (uint32_t i = 0; i < b->n; i += 8) {
        qs_apply_result res[8];
        uint32_t k = b->n - i < 8 ? b->n - i : 8;
        qs_apply_batch ab = {.peer = "632322",
                             .peer_inc = b->inc,
                             .dir = QS_FROM_CHILD,
                             .recs = b->recs + i,
                             .n = k,
                             .cursor = 0,
                             .results = res};
        int rc;
        while ((rc = qs_store_apply(st, &ab, 1, &e)) == QS_EBUSY) /* a deadlock victim retries */
            ;
        if (rc) {
            fprintf(stderr, "apply: %s\n", e.msg);
            b->failed = 1;
            break;
        }
        for (uint32_t j = 0; j < k; j++) {
            b->applied += res[j].outcome == QS_OUT_APPLIED;
            b->duplicates += res[j].outcome == QS_OUT_DUPLICATE;
        }
    }
    qs_store_close(st);
    return NULL;
}

/* A county store of n service logs (total=i % 1000 for the i-th) and its up
 * feed in batches of per records: recs (n, freed by the caller). */
static qs_store *county_feed(int n, uint32_t per, qs_record **recs, uint8_t inc[16])
{
    qs_store *c = qs_fx_store("632322", QS_ROLE_COUNTY, NULL, NULL);
    qs_err e = {0};
    assert_int_equal(qs_store_begin(c, &e), 0);
    for (int i = 0; i < n; i++) {
        char total[32];
        snprintf(total, sizeof total, "total=%d", i % 1000);
        qs_fx_create(c, QS_K_SERVICE, NULL, "date=2024-03-01", "service_type=casework",
                     "domain=assistance", total, NULL);
    }
    assert_int_equal(qs_store_commit(c, &e), 0);
    *recs = calloc((size_t)n + per, sizeof **recs);
    uint32_t got = 0;
    uint64_t since = 0;
    bool more = true;
    while (more) {
        uint32_t k;
        uint64_t upto;
        assert_int_equal(
            qs_store_feed(c, "630000", QS_FEED_UP, since, per, *recs + got, &k, &upto, &more, &e),
            0);
        got += k;
        since = upto;
    }
    assert_int_equal(got, n);
    qs_store_info ci;
    assert_int_equal(qs_store_ident(c, &ci, &e), 0);
    memcpy(inc, ci.incarnation, 16);
    return c;
}

static void test_same_versions_through_two(void **state)
{
    (void)state;
    char dir[512];
    qs_store *agg = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, dir);
    qs_record *recs;
    uint8_t inc[16];
    qs_store *c = county_feed(SAME, 8, &recs, inc);
    uint32_t n = SAME;
    both b[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        memset(&b[t], 0, sizeof b[t]);
        snprintf(b[t].dir, sizeof b[t].dir, "%s", dir);
        b[t].recs = recs;
        b[t].n = n;
        memcpy(b[t].inc, inc, 16);
        pthread_create(&th[t], NULL, apply_main, &b[t]);
    }
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(b[0].failed + b[1].failed, 0);
    assert_int_equal(b[0].applied + b[1].applied, SAME);
    assert_int_equal(b[0].duplicates + b[1].duplicates, SAME);
    qs_fx_assert_digest_eq(c, agg, "632322");
    assert_int_equal(qs_fx_count(agg, QS_K_SERVICE), SAME);
    for (uint32_t i = 0; i < n; i++)
        qs_record_free(&recs[i]);
    free(recs);
    qs_store_close(c);
    qs_store_close(agg);
}

/* 64 batches in one apply (the daemon groups that many): 12,800 records,
 * each holding an advisory lock, more than the private server's shared lock
 * table holds (max_locks_per_transaction 64 x ~80 processes). The apply
 * commits every QS_PG_TX_RECORDS records and everything arrives. */
#define MANY_BATCHES 64
#define PER_BATCH 200
static void test_many_batches_one_apply(void **state)
{
    (void)state;
    char dir[512];
    qs_store *agg = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, dir);
    qs_record *recs;
    uint8_t inc[16];
    qs_store *c = county_feed(MANY_BATCHES * PER_BATCH, PER_BATCH, &recs, inc);
    static qs_apply_batch b[MANY_BATCHES];
    static qs_apply_result res[MANY_BATCHES * PER_BATCH];
    for (int i = 0; i < MANY_BATCHES; i++)
        b[i] = (qs_apply_batch){.peer = "632322",
                                .peer_inc = inc,
                                .dir = QS_FROM_CHILD,
                                .recs = recs + i * PER_BATCH,
                                .n = PER_BATCH,
                                .cursor = (uint64_t)(i + 1) * PER_BATCH,
                                .results = res + i * PER_BATCH};
    qs_err e = {0};
    if (qs_store_apply(agg, b, MANY_BATCHES, &e) != 0)
        fail_msg("apply: %s", e.msg);
    for (int i = 0; i < MANY_BATCHES * PER_BATCH; i++)
        assert_int_equal(res[i].outcome, QS_OUT_APPLIED);
    assert_int_equal(qs_fx_count(agg, QS_K_SERVICE), MANY_BATCHES * PER_BATCH);
    qs_peer pe;
    assert_int_equal(qs_store_peer_get(agg, "632322", &pe, &e), 0);
    assert_int_equal(pe.recv_cursor, MANY_BATCHES * PER_BATCH);
    qs_fx_assert_digest_eq(c, agg, "632322");
    for (int i = 0; i < MANY_BATCHES * PER_BATCH; i++)
        qs_record_free(&recs[i]);
    free(recs);
    qs_store_close(c);
    qs_store_close(agg);
}

/* The server refuses a statement sent in pipeline mode (here a trigger
 * refuses one projected row): the apply fails, nothing of it is stored, and
 * the same connection goes on (every result of the pipeline was read, so it
 * could leave pipeline mode). */
static void test_refused_in_pipeline(void **state)
{
    (void)state;
    char dir[512];
    qs_store *agg = qs_fx_store("630000", QS_ROLE_AGGREGATOR, NULL, dir);
    qs_record *recs;
    uint8_t inc[16];
    qs_store *c = county_feed(40, 40, &recs, inc);
    qs_fx_pg_exec(dir, "CREATE FUNCTION qs_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$BEGIN IF NEW.total = 17 THEN RAISE EXCEPTION 'refused by the test'; "
                       "END IF; RETURN NEW; END$$");
    qs_fx_pg_exec(dir, "CREATE TRIGGER qs_test_refuse BEFORE INSERT ON k_service FOR EACH ROW "
                       "EXECUTE FUNCTION qs_test_refuse()");
    qs_apply_result res[40];
    qs_apply_batch b = {.peer = "632322",
                        .peer_inc = inc,
                        .dir = QS_FROM_CHILD,
                        .recs = recs,
                        .n = 40,
                        .cursor = 40,
                        .results = res};
    qs_err e = {0};
    assert_int_not_equal(qs_store_apply(agg, &b, 1, &e), 0);
    assert_int_equal(qs_fx_count(agg, QS_K_SERVICE), 0);
    qs_fx_pg_exec(dir, "DROP TRIGGER qs_test_refuse ON k_service");
    memset(&e, 0, sizeof e);
    if (qs_store_apply(agg, &b, 1, &e) != 0)
        fail_msg("apply after a refusal: %s", e.msg);
    for (int i = 0; i < 40; i++)
        assert_int_equal(res[i].outcome, QS_OUT_APPLIED);
    assert_int_equal(qs_fx_count(agg, QS_K_SERVICE), 40);
    for (int i = 0; i < 40; i++)
        qs_record_free(&recs[i]);
    free(recs);
    qs_store_close(c);
    qs_store_close(agg);
}

int main(void)
{
    if (!qs_fx_pg()) {
        fprintf(stderr, "test_pg_feed: no PostgreSQL (run through tests/pg/pgtest.sh with "
                        "QS_TEST_PG=1): skipped\n");
        return 77;
    }
    qs_fx_init("pgfeed");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_later_commit_not_skipped),
        cmocka_unit_test(test_rollback_leaves_no_gap),
        cmocka_unit_test(test_concurrent_writers_and_reader),
        cmocka_unit_test(test_same_versions_through_two),
        cmocka_unit_test(test_many_batches_one_apply),
        cmocka_unit_test(test_refused_in_pipeline),
    };
    return qs_fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
