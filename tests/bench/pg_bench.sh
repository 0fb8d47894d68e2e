# pg_bench.sh — benchmarks #10, #11 and #12 (issue 22: the aggregator on
# PostgreSQL), each through its own script, which starts a private
# PostgreSQL 15 (tests/pg/pgtest.sh, fsync on) and measures SQLite beside it
# in the same run: #10 pg_sync.sh (initial sync), #11 pg_fanin.sh (the
# fan-in), #12 pg_report.sh (the annual report). Sourced by run.sh (uses
# BUILD, HERE, W, RUNS, N5C, N5R, N10R, N10C, N12SCALE, has_sync, has_report,
# result, not_measured, log, want).

PG_BIN=${QS_PG_BIN:-/usr/lib/postgresql/15/bin}

# pg_line FILE PREFIX: the number after "PREFIX" in one of FILE's lines
pg_line() { sed -n "s/^ *$2 *\([0-9.][0-9.]*\).*/\1/p" "$1" | head -n 1; }
pg_failed() { # WHAT LOG
    echo "run.sh: $1 failed:" >&2
    tail -n 20 "$2" >&2
    exit 1
}

# #10: initial sync of N10C counties at once, RUNS runs (a new server each)
bench_pg_sync() {
    local r out sq pg1 pg2
    PGS_SQ=() PGS_1=() PGS_2=()
    for r in $(seq "$RUNS"); do
        out=$W/pg_sync$r.out
        "$HERE/pg_sync.sh" "$BUILD" "$N10R" "$N10C" >"$out" 2>"$W/pg_sync$r.log" ||
            pg_failed "#10 (pg_sync.sh)" "$W/pg_sync$r.log"
        sq=$(pg_line "$out" "SQLite, one qianshoud:")
        pg1=$(pg_line "$out" "PostgreSQL, one front-end:")
        pg2=$(pg_line "$out" "PostgreSQL, two front-ends:")
        [ -n "$sq" ] && [ -n "$pg1" ] && [ -n "$pg2" ] || pg_failed "#10 (pg_sync.sh: no figures)" "$out"
        PGS_SQ+=("$sq") PGS_1+=("$pg1") PGS_2+=("$pg2")
        log "#10 run $r: initial sync $N10C x $((N10R + 1)): SQLite $sq, PostgreSQL one front-end $pg1, two $pg2 rec/s"
    done
    result 10 "initial sync on PostgreSQL, one front-end: $N10C counties × $((N10R + 1)) records at once" \
        rec/s "${PGS_1[*]}" "the same into SQLite, one qianshoud" rec/s "${PGS_SQ[*]}" f/b \
        'ratio>=' 0.5 "tests/bench/pg_sync.sh: county daemons, sync --wait; records stored ÷ first request to last end; private PostgreSQL 15, fsync on"
    result 10b "initial sync on PostgreSQL, two front-ends (counties split between them)" rec/s \
        "${PGS_2[*]}" "#10: one front-end" rec/s "${PGS_1[*]}" f/b 'ratio>=' 1.6 \
        "both front-ends on the same server, node 630000 and one certificate"
}

# #11: the fan-in of N5C counties × N5R records (#5's), RUNS runs of the
# three cases on one server and one set of county stores
bench_pg_fanin() {
    local out=$W/pg_fanin.out line r c rate sq pg1 pg2 err rc=0
    PGF_SQ=() PGF_1=() PGF_2=() PGF_ERR=()
    "$HERE/pg_fanin.sh" "$BUILD" "$N5R" "$N5C" "$RUNS" >"$out" 2>"$W/pg_fanin.log" || rc=$?
    # errors are a figure (11e), not a failure of the driver; no figures are
    grep -q '^run=.* case=pg2 ' "$out" || pg_failed "#11 (pg_fanin.sh, status $rc)" "$W/pg_fanin.log"
    for r in $(seq "$RUNS"); do
        err=0
        for c in sqlite pg1 pg2; do
            line=$(grep "^run=$r case=$c " "$out") || pg_failed "#11 (pg_fanin.sh: no run $r $c)" "$out"
            rate=$(field rate "$line")
            case $c in sqlite) sq=$rate ;; pg1) pg1=$rate ;; pg2) pg2=$rate ;; esac
            err=$((err + $(field errors "$line")))
        done
        PGF_SQ+=("$sq") PGF_1+=("$pg1") PGF_2+=("$pg2") PGF_ERR+=("$err")
        log "#11 run $r: fan-in $N5C x $((N5R + 1)): SQLite $sq, PostgreSQL one front-end $pg1, two $pg2 rec/s; $err errors"
    done
    result 11 "fan-in on PostgreSQL, one front-end: $N5C counties at once × $N5R records" rec/s \
        "${PGF_1[*]}" "the same into SQLite, one qianshoud" rec/s "${PGF_SQ[*]}" f/b 'ratio>=' 0.5 \
        "tests/bench/pg_fanin.sh: #5's county stores (a fresh copy per case) and one qs-bench-swarm; first connect to last session done; private PostgreSQL 15, fsync on"
    result 11b "fan-in on PostgreSQL, two front-ends (counties dealt out between them)" rec/s \
        "${PGF_2[*]}" "#11: one front-end" rec/s "${PGF_1[*]}" f/b 'ratio>=' 1.6 \
        "one qs-bench-swarm given both ports: one clock across both front-ends"
    result 11e "fan-in on PostgreSQL and SQLite: counties whose session failed or whose records are not all at the aggregator" \
        count "${PGF_ERR[*]}" "" "" "" "" 'figure<=' 0 "the three cases of a run summed; counted per origin (src_peer) in the aggregator's store"
}

# #12: the annual report on PostgreSQL against psql's count(*), 1 run
bench_pg_report() {
    local out=$W/pg_report.out line n rep cnt sqrep same
    "$HERE/pg_report.sh" "$BUILD" "$N12SCALE" >"$out" 2>"$W/pg_report.log" ||
        { cat "$out" >>"$W/pg_report.log"; pg_failed "#12 (pg_report.sh)" "$W/pg_report.log"; }
    line=$(grep '^#8pg:' "$out") || pg_failed "#12 (pg_report.sh: no figures)" "$out"
    n=$(sed -n 's/^#8pg: annual report 2025 on PostgreSQL, \([0-9]*\) service logs.*/\1/p' <<<"$line")
    rep=$(sed -n 's/.*): \([0-9]*\) ms; psql.*/\1/p' <<<"$line")
    cnt=$(sed -n 's/.*k_service: \([0-9]*\) ms; ratio.*/\1/p' <<<"$line")
    sqrep=$(sed -n 's/^#8 on SQLite, same data: report \([0-9]*\) ms.*/\1/p' "$out")
    same=$(sed -n 's/.*reports identical: \([a-zA-Z]*\).*/\1/p' "$out")
    [ -n "$rep" ] && [ -n "$cnt" ] || pg_failed "#12 (pg_report.sh: figures not understood)" "$out"
    log "#12: report on PostgreSQL over $n service logs in $rep ms; psql count(*) $cnt ms; SQLite's report $sqrep ms; identical: $same"
    result 12 "annual report 2025 on PostgreSQL, $n service logs (qs-gen --scale $N12SCALE)" ms "$rep" \
        "psql: SELECT count(*) FROM k_service" ms "$cnt" f/b 'ratio<=' 10 \
        "tests/bench/pg_report.sh: best of 3 whole processes each, after qianshou migrate and VACUUM ANALYZE; SQLite's report on the same data $sqrep ms, reports identical: $same; 1 run"
}

bench_pg() {
    local b why=
    want 10 || want 11 || want 12 || return 0
    [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] ||
        why="no PostgreSQL server binaries in $PG_BIN"
    for b in "10|initial sync on PostgreSQL, one and two front-ends" \
        "11|fan-in on PostgreSQL, one and two front-ends, $N5C counties x $N5R" \
        "12|annual report on PostgreSQL (qs-gen --scale $N12SCALE)"; do
        want "${b%%|*}" || continue
        local reason=$why
        case ${b%%|*} in
        10) [ -n "$reason" ] || has_sync || reason="the daemon does not run sync sessions" ;;
        11) [ -n "$reason" ] || [ -x "$BUILD/tests/bench/qs-bench-swarm" ] || reason="no qs-bench-swarm in the tree" ;;
        12) [ -n "$reason" ] || { has_report && [ -x "$GEN" ]; } || reason="qianshou report / qs-gen are not in the tree" ;;
        esac
        if [ -n "$reason" ]; then
            not_measured "${b%%|*}" "${b#*|}" "$reason"
            continue
        fi
        case ${b%%|*} in
        10) bench_pg_sync ;;
        11) bench_pg_fanin ;;
        12) bench_pg_report ;;
        esac
    done
    return 0
}
