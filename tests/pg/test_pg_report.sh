#!/usr/bin/env bash
# The annual report on PostgreSQL gives the same report as on SQLite (run
# through tests/pg/pgtest.sh, ctest test_pg_report):
#
#   test_pg_report.sh QIANSHOU QS-GEN
#
# qs-gen makes a province with 15 counties over three years (deleted days, a
# day in conflict, a day logged twice, every case of the generator's plan),
# synced to the province's SQLite store by the real session; a copy of that
# store moves to PostgreSQL with `qianshou migrate --to postgresql` (which
# re-projects every winner into the k_<kind> tables there). Then
# `report annual --format json` for several years, report dates, a county
# filter and the rule options must be byte for byte the same from both
# stores, after blanking only the generation time; the table and CSV formats
# are compared as well. A figure measured differently fails the test.
set -euo pipefail
: "${QS_PG_CONNINFO:?run through tests/pg/pgtest.sh}"
QS=${1:?usage: $0 QIANSHOU QS-GEN}
GEN=${2:?usage: $0 QIANSHOU QS-GEN}
T=$(mktemp -d "${TMPDIR:-/tmp}/qs-pgrep-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

"$GEN" --seed 3 --out "$T/gen" --years 2022-2024 --scale 0.3 --sync >"$T/gen.log" 2>&1 ||
    { cat "$T/gen.log" >&2; fail "qs-gen"; }
SQ=$T/gen/630000
cp -a "$SQ" "$T/pg"
"$QS" -d "$T/pg" migrate --to postgresql --conninfo "$QS_PG_CONNINFO" >"$T/migrate.log" 2>&1 ||
    { cat "$T/migrate.log" >&2; fail "migrate"; }
[ -f "$T/pg/store.conninfo" ] || fail "the copy did not move to PostgreSQL"
ok "one province (qs-gen --seed 3) in SQLite and, migrated, in PostgreSQL"
t0=$(date +%s%N)
out=$("$QS" -d "$T/pg" check) || fail "qianshou check on the migrated province: $out"
[ "$out" = ok ] || fail "qianshou check said: $out"
ok "qianshou check on PostgreSQL: ok over $("$QS_PG_BIN/psql" -XAtq "$QS_PG_CONNINFO" -c 'SELECT count(*) FROM versions') versions in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
# What qs-gen does not make, written at the province into both stores: a
# station without an opening date, one in a township scope opened mid-year,
# a cultivated agency in a township scope.
both() { # scope kind fields...
    local scope=$1
    shift
    for dir in "$SQ" "$T/pg"; do
        "$QS" -d "$dir" add "$@" --scope "$scope" >/dev/null || fail "add $* on $dir"
    done
}
both 632323 station township=632323101 name=测试站
both 632323101 station township=632323102 name=测试站二 opened=2023-05-01
both 632323102 output type=agency name=测试社会组织 date=2023-06-01

# The generation time is the one thing that may differ.
norm() {
    sed -E 's/"generated(_ms|_at)?": *("[^"]*"|[0-9]+)/"generated": 0/g; s/生成时间[:：][^,"]*//g' "$1"
}
n=0
report() { # out-prefix args...
    local out=$1 rc
    shift
    for side in sq pg; do
        local dir=$SQ
        [ $side = pg ] && dir=$T/pg
        set +e
        "$QS" -d "$dir" report annual "$@" -o "$T/$out.$side" 2>"$T/$out.$side.err"
        rc=$?
        set -e
        [ $rc = 0 ] || [ $rc = 4 ] || { cat "$T/$out.$side.err" >&2; fail "$side: report $*: exit $rc"; }
        echo "$rc" >"$T/$out.$side.rc"
    done
    cmp -s "$T/$out.sq.rc" "$T/$out.pg.rc" || fail "report $*: exit $(cat "$T/$out.sq.rc") on SQLite, $(cat "$T/$out.pg.rc") on PostgreSQL"
    if ! cmp -s <(norm "$T/$out.sq") <(norm "$T/$out.pg"); then
        diff <(norm "$T/$out.sq") <(norm "$T/$out.pg") | head -n 40 >&2
        fail "report $*: SQLite and PostgreSQL differ"
    fi
    n=$((n + 1))
}
for year in 2022 2023 2024 2025; do
    for asof in "" "$year-03-31" "$year-08-15"; do
        report "r$year${asof:+-$asof}" --year "$year" ${asof:+--as-of "$asof"} --format json
    done
done
report county --year 2023 --county 632323 --format json
report total --year 2024 --days-rule total --format json
report funds --year 2023 --funds-sources 省级财政,福彩公益金,自筹 --format json
report table --year 2023 --format table
report csv --year 2024 --as-of 2024-06-30 --format csv
# The JSON really carries the measures (not an empty report equal on both).
python3 - "$T/r2023.pg" <<'PY' || fail "the PostgreSQL report is empty"
import json, sys
r = json.load(open(sys.argv[1]))
s = json.dumps(r)
assert len(s) > 10000, len(s)
PY
ok "$n reports identical on SQLite and PostgreSQL (json for 4 years x 3 dates, a county, both day rules, funds sources; table; csv)"
