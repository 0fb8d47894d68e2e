#!/usr/bin/env bash
# tests/bench/pg_fanin.sh — benchmark #5 (the fan-in: many counties at once
# into one aggregator) on PostgreSQL beside SQLite, in the same run on the
# same machine (issue 22). Runs a private PostgreSQL 15 through
# tests/pg/pgtest.sh (fsync on, like SQLite's synchronous=FULL).
#
#   tests/bench/pg_fanin.sh [BUILD_DIR] [RECORDS_PER_COUNTY] [COUNTIES] [RUNS]
#
# Defaults: build, 2000 records, 300 counties (#5's size), 1 run. The county
# certificates and stores are #5's (fanin_setup in sync.sh: made once, in
# /dev/shm); each case syncs a fresh copy of them. Three cases per run, each
# into a new aggregator: SQLite with one qianshoud; PostgreSQL with one
# front-end; PostgreSQL with two front-ends (the counties dealt out between
# them in turn). The counties are one qs-bench-swarm process, as in #5 (with
# two front-ends, one swarm given both ports: one clock from the first
# connect to the last session's end across both). Errors: counties whose
# session failed or whose records are not all in the aggregator's store
# afterwards (versions per src_peer). Prints per run and case one line of
# k=v pairs, then the medians and the two ratios with the issue's targets.
# Unlike #5, the aggregators' HELLO deadline is 60 s (QS_BENCH_HELLO_TIMEOUT):
# see fanin below. QS_BENCH_KEEP=1 keeps the work directory.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${QS_PG_CONNINFO:-}" ]; then
    QS_PG_FSYNC=1 exec "$SRC/tests/pg/pgtest.sh" "$0" "$@"
fi
BUILD=$(realpath "${1:-$SRC/build}")
N5R=${2:-2000}
N5C=${3:-300}
RUNS=${4:-1}
HELLO_S=${QS_BENCH_HELLO_TIMEOUT:-60} # the aggregators' [limits] hello_timeout (see fanin)
HERE=$SRC/tests/bench
QS=$BUILD/client/qianshou
QSD=$BUILD/daemon/qianshoud
SWARM=$BUILD/tests/bench/qs-bench-swarm
PKI=$SRC/deploy/pki/qs-pki
PSQL=$QS_PG_BIN/psql
PY=$(command -v /usr/bin/python3 || command -v python3)
[ -x "$SWARM" ] || { echo "pg_fanin.sh: no $SWARM (build the tree first)" >&2; exit 1; }
W=$(mktemp -d /tmp/qs-pgfanin-XXXXXX)
KEEP=${QS_BENCH_KEEP:-0} # 1: keep the work directory (logs, swarm output)
PIDS=()
RMDIRS=() # the county stores in /dev/shm
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for p in "${RMDIRS[@]}"; do rm -rf "$p"; done
    if [ "$KEEP" = 1 ]; then echo "pg_fanin.sh: work directory kept: $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
now_ms() { date +%s%3N; }
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
export QIANSHOU_CLOCK_OFFSET=0

# #5's PKI, aggregator configuration, county stores and swarm list
. "$HERE/sync.sh"
make_ca
fanin_setup # $FAN: the county stores; $W/swarm.list; FAN_IDS

. "$HERE/pg_cpu.sh" # server_cpu, procs_cpu, children_cpu, ceiling

psql_reset() { "$PSQL" -q "$QS_PG_CONNINFO" -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null 2>&1; }

# fanin RUN CASE FRONTENDS [pg]: one case into a new aggregator; prints a line
# "run=R case=C records=N ms=MS rate=REC_PER_S errors=E rss_mib=M" (rss: the
# largest front-end's VmHWM) and leaves it in LINE. Not in a subshell: the
# daemons it starts are in PIDS for the trap.
fanin() {
    local run=$1 name=$2 fe=$3 pg=${4:-} f port ports='' agg=() cdir out sum fail=0 id line ok got rss=0 k
    [ -n "$pg" ] && psql_reset
    for f in $(seq "$fe"); do
        port=$(free_port)
        ports+=${ports:+,}$port
        rm -rf "$W/$name-fe$f"
        if [ -n "$pg" ]; then
            mkdir -p "$W/$name-fe$f" # the first front-end creates the store in PostgreSQL
        else
            "$QS" -d "$W/$name-fe$f" init --node 630000 --role aggregator >/dev/null
        fi
        agg_ini "$W/$name-fe$f.ini" "$W/$name-fe$f" "$port"
        # The one swarm process does every county's TLS handshake on one thread:
        # on a loaded machine some HELLOs came later than the default 5 s and
        # the aggregator dropped those counties. Real counties have their own
        # machines; the same setting in every case.
        printf '[limits]\nhello_timeout = %s\n' "$HELLO_S" >>"$W/$name-fe$f.ini"
        [ -n "$pg" ] && printf '[store]\nbackend = postgresql\nconninfo = %s\n' "$QS_PG_CONNINFO" >>"$W/$name-fe$f.ini"
        daemon "$W/$name-fe$f.ini" "$W/$name-fe$f-$run.log"
        agg+=("$DPID")
    done
    # a fresh copy of the counties' stores, made before the clock
    cdir=$FAN-$name
    rm -rf "$cdir"
    RMDIRS+=("$cdir")
    cp -a "$FAN" "$cdir"
    sed "s| $FAN/| $cdir/|" "$W/swarm.list" >"$W/swarm-$name.list"
    out=$W/swarm-$name-$run.out
    # CPU from here to the swarm's end (not the front-ends' start-up and DDL)
    local src=0 s0 w0 f0 s1 fcpu
    s0=$(server_cpu)
    w0=$(children_cpu)
    f0=$(procs_cpu "${agg[@]}")
    "$SWARM" --timeout 1800 127.0.0.1 "$ports" "$AGG_DNS" "$W/ca/ca.crt" "$W/swarm-$name.list" \
        >"$out" 2>"$W/swarm-$name-$run.err" || src=$?
    local wcpu; wcpu=$("$PY" -c "print($(children_cpu) - $w0)")
    fcpu=$("$PY" -c "print($(procs_cpu "${agg[@]}") - $f0)")
    s1=$(server_cpu)
    for k in "${agg[@]}"; do
        f=$(kib "$k" VmHWM)
        [ "$f" -gt "$rss" ] && rss=$f
    done
    sum=$(tail -n 1 "$out")
    [ -n "$(field counties "$sum")" ] ||
        { echo "pg_fanin.sh: $name: qs-bench-swarm ended with status $src and no summary: $(cat "$W/swarm-$name-$run.err")" >&2; exit 1; }
    # at the aggregator: every county's records (its station + N5R logs)
    local q="SELECT src_peer, count(*) FROM versions WHERE src_peer IS NOT NULL GROUP BY src_peer"
    if [ -n "$pg" ]; then
        "$PSQL" -XAtq -F ' ' "$QS_PG_CONNINFO" -c "$q" >"$W/$name.counts"
    else
        sqlite3 "$W/$name-fe1/qianshou.db" "$q" | tr '|' ' ' >"$W/$name.counts"
    fi
    for k in "${agg[@]}"; do stop_daemon "$k"; done
    # CPU microseconds per record of every process: server, front-ends, swarm
    local cpu; cpu=$("$PY" -c "print('%.1f' % (($s1 - $s0 + $fcpu + $wcpu) * 1e6 / $(field pushed "$sum")))")
    for id in "${FAN_IDS[@]}"; do
        line=$(grep "^county=$id " "$out" || true)
        ok=$(field ok "$line")
        got=$(awk -v c="$id" '$1 == c {print $2}' "$W/$name.counts")
        if [ "$ok" != 1 ] || [ "${got:-0}" != $((N5R + 1)) ]; then
            fail=$((fail + 1))
            log "$name run $run: county $id: ${line:-no result}; ${got:-0} records at the aggregator"
        fi
    done
    rm -rf "$cdir" "$W/$name"-fe*/
    LINE="run=$run case=$name records=$(field pushed "$sum") ms=$(field ms "$sum") rate=$(field rate "$sum") errors=$fail rss_mib=$((rss / 1024)) cpu_us=$cpu"
    PIDS=()
    echo "$LINE"
}

R_SQ=() R_PG1=() R_PG2=() R_CEIL=() ERR=0
for r in $(seq "$RUNS"); do
    log "run $r: SQLite, one qianshoud"
    fanin "$r" sqlite 1
    R_SQ+=("$(field rate "$LINE")") ERR=$((ERR + $(field errors "$LINE")))
    log "run $r: PostgreSQL, one front-end"
    fanin "$r" pg1 1 pg
    R_PG1+=("$(field rate "$LINE")") ERR=$((ERR + $(field errors "$LINE")))
    log "run $r: PostgreSQL, two front-ends"
    fanin "$r" pg2 2 pg
    R_PG2+=("$(field rate "$LINE")") ERR=$((ERR + $(field errors "$LINE")))
    read -r m _ <<<"$(ceiling "$(nproc)" 1 "$(field cpu_us "$LINE")")"
    R_CEIL+=("$m")
done
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]}'; }
a=$(echo "${R_SQ[*]}" | median)
b=$(echo "${R_PG1[*]}" | median)
c=$(echo "${R_PG2[*]}" | median)
echo "fan-in, $N5C counties x $((N5R + 1)) records, all at once, one qs-bench-swarm (records/s, first connect to last session end; median of $RUNS)"
echo "  SQLite, one qianshoud:          $a"
echo "  PostgreSQL, one front-end:      $b   ($("$PY" -c "print('%.2f' % ($b / $a))")x SQLite; target >= 0.5)"
echo "  PostgreSQL, two front-ends:     $c   ($("$PY" -c "print('%.2f' % ($c / $b))")x one front-end; target >= 1.6)"
m=$(echo "${R_CEIL[*]}" | median)
# as in pg_sync.sh: two front-ends go no faster than the cores divided by the
# CPU all processes spend on a record (server, front-ends, the swarm)
echo "  two front-ends' CPU-bound ceiling on $(nproc) cores: $m records/s = $("$PY" -c "print('%.2f' % ($m / $b))")x one front-end; reached $("$PY" -c "print('%.0f' % (100 * $c / $m))")%"
echo "  errors (counties failed or incomplete at the aggregator, all cases and runs): $ERR"
[ "$ERR" = 0 ]
