#!/usr/bin/env bash
# tests/bench/pg_report.sh — benchmark #8 on PostgreSQL (issue 22): the
# annual report of an aggregator whose store is in PostgreSQL, against
# `SELECT count(*) FROM k_service` by psql on the same database, both timed
# as whole processes, cold start each. Runs a private PostgreSQL 15 through
# tests/pg/pgtest.sh (fsync on, like SQLite's synchronous=FULL).
#
#   tests/bench/pg_report.sh [BUILD_DIR] [SCALE]
#
# Defaults: build, --scale 9 (≈ 200,000 service logs; 90 is #8's size,
# ≈ 2,000,000). qs-gen --seed 8 makes the province in SQLite (synced by the
# real session, as #8); a copy moves to PostgreSQL with `qianshou migrate`;
# the report for 2025 runs on both (SQLite's figure printed beside) and the
# two JSON reports must be the same (generation time aside). Then VACUUM
# ANALYZE, as autovacuum would have done on a server that took the records
# over days.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${QS_PG_CONNINFO:-}" ]; then
    QS_PG_FSYNC=1 exec "$SRC/tests/pg/pgtest.sh" "$0" "$@"
fi
BUILD=$(realpath "${1:-$SRC/build}")
SCALE=${2:-9}
QS=$BUILD/client/qianshou
GEN=$BUILD/tests/tools/qs-gen
PSQL=${QS_PG_BIN:-/usr/lib/postgresql/15/bin}/psql
W=$(mktemp -d /tmp/qs-pgrepbench-XXXXXX)
trap 'rm -rf "$W"' EXIT
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
now_ms() { date +%s%3N; }

log "qs-gen --seed 8 --scale $SCALE --sync (15 counties, 2021-2025)"
t0=$(now_ms)
"$GEN" --seed 8 --out "$W/gen" --scale "$SCALE" --sync >"$W/gen.log" 2>&1 ||
    { tail -n 20 "$W/gen.log" >&2; exit 1; }
gen=$(($(now_ms) - t0))
SQ=$W/gen/630000
cp -a "$SQ" "$W/pg"
t0=$(now_ms)
"$QS" -d "$W/pg" migrate --to postgresql --conninfo "$QS_PG_CONNINFO" >"$W/migrate.log" 2>&1 ||
    { cat "$W/migrate.log" >&2; exit 1; }
mig=$(($(now_ms) - t0))
"$PSQL" "$QS_PG_CONNINFO" -qAt -c 'VACUUM ANALYZE' >/dev/null
n=$("$PSQL" "$QS_PG_CONNINFO" -qAt -c 'SELECT count(*) FROM k_service')
log "$n service logs: qs-gen in $gen ms, migrate to PostgreSQL in $mig ms"

timed() { # out cmd...
    local out=$1 t
    shift
    t=$(now_ms)
    "$@" >"$out" 2>&1 || [ $? = 4 ] || { cat "$out" >&2; exit 1; }
    echo $(($(now_ms) - t))
}
best() { # runs cmd...: the best of runs
    local runs=$1 b= t
    shift
    for _ in $(seq "$runs"); do
        t=$(timed "$W/out" "$@")
        [ -z "$b" ] || [ "$t" -lt "$b" ] && b=$t
    done
    echo "$b"
}
rep_sq=$(best 3 "$QS" -d "$SQ" report annual --year 2025 --format json -o "$W/sq.json")
rep_pg=$(best 3 "$QS" -d "$W/pg" report annual --year 2025 --format json -o "$W/pg.json")
cnt_pg=$(best 3 "$PSQL" "$QS_PG_CONNINFO" -qAt -c 'SELECT count(*) FROM k_service')
cnt_sq=$(best 3 sqlite3 "$SQ/qianshou.db" 'SELECT count(*) FROM k_service')
norm() { sed -E 's/"generated_ms": *[0-9]+/"generated_ms": 0/' "$1"; }
same=yes
cmp -s <(norm "$W/sq.json") <(norm "$W/pg.json") || same=NO
ratio=$(awk -v a="$rep_pg" -v b="$cnt_pg" 'BEGIN { printf "%.2f", a / (b ? b : 1) }')
printf '#8pg: annual report 2025 on PostgreSQL, %s service logs (qs-gen --scale %s): %s ms; psql SELECT count(*) FROM k_service: %s ms; ratio %s (target <= 10)\n' \
    "$n" "$SCALE" "$rep_pg" "$cnt_pg" "$ratio"
printf '#8 on SQLite, same data: report %s ms, sqlite3 count(*) %s ms; reports identical: %s\n' \
    "$rep_sq" "$cnt_sq" "$same"
[ "$same" = yes ]
