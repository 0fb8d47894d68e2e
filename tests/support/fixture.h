/*
 * fixture.h — shared scaffolding for tests that use stores: a temporary root
 * directory, stores created in it, bodies built from "field=value" texts,
 * digest comparison. Failures end the current cmocka test with a message.
 */
#ifndef QS_TEST_FIXTURE_H
#define QS_TEST_FIXTURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/body.h"
#include "store/store.h"

/* Make a fresh temporary root /tmp/qs-test-<name>-XXXXXX. */
void qs_fx_init(const char *name);
const char *qs_fx_root(void);
/* Remove the root when rc == 0 (keep it for a post-mortem otherwise); returns rc. */
int qs_fx_finish(int rc);

/* Whether stores of role aggregator are made on PostgreSQL: QS_TEST_PG is
 * set (not "0") and QS_PG_CONNINFO names a server (tests/pg/pgtest.sh). Each
 * such store gets a schema of its own. The store contract tests run once on
 * each backend. */
bool qs_fx_pg(void);
/* In a test that exercises SQLite itself (its VFS, WAL, page cache, backup
 * file): skip it when the aggregator's stores are on PostgreSQL. */
#define QS_FX_SQLITE_ONLY()                                                                        \
    do {                                                                                           \
        if (qs_fx_pg())                                                                            \
            skip();                                                                                \
    } while (0)

/* A new empty PostgreSQL schema: a conninfo that names it (a static buffer,
 * overwritten by the next call). */
const char *qs_fx_pg_conninfo(void);

/* Run sql in the PostgreSQL database of the store in dir (its store.conninfo). */
void qs_fx_pg_exec(const char *dir, const char *sql);

/* Create a store for node in a new directory under the root; the directory is
 * written to dir_out when not NULL (>= 512 bytes). lim may be NULL. */
qs_store *qs_fx_store(const char *node, qs_role role, const qs_limits *lim, char *dir_out);
qs_store *qs_fx_reopen(const char *dir);

/* Body of kind from "field=value" strings, NULL-terminated (schema text forms). */
void qs_fx_body(qs_body *b, uint32_t kind, ...);
void qs_fx_bodyv(qs_body *b, uint32_t kind, va_list ap);
/* Create a record from "field=value" strings, NULL-terminated; id may be NULL. */
void qs_fx_create(qs_store *st, uint32_t kind, uint8_t *id, ...);

/* Parse hex bytes ("81 01 a3 61 62 63", spaces ignored) into out (at most cap
 * bytes); returns the byte count. Fails the test on malformed input. */
size_t qs_fx_unhex(const char *s, uint8_t *out, size_t cap);

/* One sync between two stores as a session makes it: HELLO both ways, then
 * from's feed (dir) applied to to in batches of 7 with the cursor, each
 * acknowledged at from. out (may be NULL) counts the outcomes (QS_OUT_*).
 * Returns whether either HELLO reset a cursor (a new incarnation). */
bool qs_fx_ship(qs_store *from, const char *from_node, qs_store *to, const char *to_node,
                qs_feed_dir dir, int out[5]);

/* Live records of kind. */
uint64_t qs_fx_count(qs_store *st, uint32_t kind);
/* Both stores hold the same heads for scope's subtree (NULL = everything). */
void qs_fx_assert_digest_eq(qs_store *a, qs_store *b, const char *scope);

#endif
