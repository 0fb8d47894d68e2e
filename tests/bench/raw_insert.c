/*
 * raw_insert.c — the baseline of benchmarks #1, #4 and #5: the rows of a
 * service-log CSV (as written by gen_csv.py) inserted into a plain SQLite
 * table with a UUIDv7 primary key, WAL, synchronous=FULL (the product's
 * setting), 1,000 rows per transaction, one prepared statement, one process.
 *
 *   qs-bench-raw DB FILE.csv
 *
 * The file is read and split before the clock starts; the timed part is the
 * inserts and commits. Prints one line: rows=N seconds=S rate=R.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "proto/clock.h"
#include "proto/uuid.h"

#define NCOLS 10
#define PER_TX 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_db(sqlite3 *db, const char *what)
{
    fprintf(stderr, "qs-bench-raw: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die_db(db, sql);
}

/* Read the whole file; lines become NUL-terminated rows of NCOLS cells
 * (gen_csv.py never quotes). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    p[n] = 0;
    *len = (size_t)n;
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: qs-bench-raw DB FILE.csv\n");
        return 2;
    }
    size_t len;
    char *text = slurp(argv[2], &len);
    size_t nlines = 0;
    for (size_t i = 0; i < len; i++)
        nlines += text[i] == '\n';
    char **cells = malloc(nlines * NCOLS * sizeof *cells);
    if (!cells)
        return 1;
    size_t rows = 0;
    char *line = strchr(text, '\n'); /* skip the header */
    while (line && *++line) {
        char *end = strchr(line, '\n');
        if (end)
            *end = 0;
        char *c = line;
        for (int k = 0; k < NCOLS; k++) {
            cells[rows * NCOLS + (size_t)k] = c;
            char *comma = c ? strchr(c, ',') : NULL;
            if (comma)
                *comma = 0;
            c = comma ? comma + 1 : NULL;
            if (!cells[rows * NCOLS + (size_t)k])
                cells[rows * NCOLS + (size_t)k] = "";
        }
        rows++;
        line = end;
    }

    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        die_db(db, argv[1]);
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=FULL");
    exec(db, "CREATE TABLE service(id BLOB PRIMARY KEY, date INTEGER NOT NULL, station TEXT,"
             " service_type INTEGER NOT NULL, domain INTEGER NOT NULL, total INTEGER NOT NULL,"
             " minors INTEGER, female INTEGER, minutes INTEGER, content TEXT, outcome TEXT)");
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(db, "INSERT INTO service VALUES(?,?,?,?,?,?,?,?,?,?,?)", -1, &ins,
                           NULL) != SQLITE_OK)
        die_db(db, "prepare");

    double t0 = now_s();
    for (size_t r = 0; r < rows; r++) {
        if (r % PER_TX == 0)
            exec(db, "BEGIN IMMEDIATE");
        char **c = &cells[r * NCOLS];
        uint8_t id[QS_ID_LEN];
        qs_uuid7(id, qs_clock_wall_ms());
        sqlite3_bind_blob(ins, 1, id, QS_ID_LEN, SQLITE_TRANSIENT);
        /* date as YYYYMMDD, like the product's projection */
        int y = 0, m = 0, d = 0;
        sscanf(c[0], "%d-%d-%d", &y, &m, &d);
        sqlite3_bind_int(ins, 2, y * 10000 + m * 100 + d);
        sqlite3_bind_text(ins, 3, c[1], -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 4, (int)(strlen(c[2]) % 10)); /* an enum code */
        sqlite3_bind_int(ins, 5, (int)(strlen(c[3]) % 5));
        for (int k = 4; k < 8; k++)
            sqlite3_bind_int(ins, k + 2, atoi(c[k]));
        sqlite3_bind_text(ins, 10, c[8], -1, SQLITE_STATIC);
        if (*c[9])
            sqlite3_bind_text(ins, 11, c[9], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 11);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die_db(db, "insert");
        sqlite3_reset(ins);
        if (r % PER_TX == PER_TX - 1 || r == rows - 1)
            exec(db, "COMMIT");
    }
    double secs = now_s() - t0;
    sqlite3_finalize(ins);
    if (sqlite3_close(db) != SQLITE_OK)
        die_db(db, "close");
    printf("rows=%zu seconds=%.3f rate=%.0f\n", rows, secs, (double)rows / secs);
    free(cells);
    free(text);
    return 0;
}
