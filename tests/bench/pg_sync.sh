#!/usr/bin/env bash
# tests/bench/pg_sync.sh — initial sync into an aggregator on PostgreSQL
# beside the same sync into SQLite, in the same run on the same machine
# (issue 22). Runs a private PostgreSQL 15 through tests/pg/pgtest.sh.
#
#   tests/bench/pg_sync.sh [BUILD_DIR] [RECORDS_PER_COUNTY] [COUNTIES]
#
# Defaults: build, 5000 records, 2 counties. Each county's store holds a
# station and N service logs (gen_csv.py). Three cases, each into a new
# aggregator: SQLite with one qianshoud; PostgreSQL with one front-end;
# PostgreSQL with two front-ends (counties split between them). All counties
# sync at once (`qianshou sync --wait`); the figure is records stored ÷
# wall time from the first sync request to the last one's end. Prints one
# line per case and the ratios. The private server runs with fsync on
# (synchronous_commit on) for this, like SQLite's synchronous=FULL.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${QS_PG_CONNINFO:-}" ]; then
    QS_PG_FSYNC=1 exec "$SRC/tests/pg/pgtest.sh" "$0" "$@"
fi
BUILD=$(realpath "${1:-$SRC/build}")
N=${2:-5000}
C=${3:-2}
QS=$BUILD/client/qianshou
QSD=$BUILD/daemon/qianshoud
PKI=$SRC/deploy/pki/qs-pki
PY=$(command -v /usr/bin/python3 || command -v python3)
W=$(mktemp -d /tmp/qs-pgbench-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stamp() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
y=$(stamp $(($(date +%s) - 86400)))
DNS=qianshou-agg.bench
"$PKI" ca-init "$W/ca" >/dev/null
"$PKI" node-key "$W/agg" 630000 --dns $DNS >/dev/null
"$PKI" sign "$W/ca" "$W/agg/node.csr" -o "$W/agg/node.crt" --start "$y" --days 30 --server-dns $DNS >/dev/null
"$PKI" crl "$W/ca" -o "$W/crl.pem" >/dev/null
IDS=()
for i in $(seq "$C"); do IDS+=("$((632320 + i))"); done
log "making $C county stores of $N service logs each"
"$PY" "$SRC/tests/bench/gen_csv.py" "$N" 7 >"$W/rows.csv"
for id in "${IDS[@]}"; do
    "$PKI" node-key "$W/$id" "$id" >/dev/null
    "$PKI" sign "$W/ca" "$W/$id/node.csr" -o "$W/$id/node.crt" --start "$y" --days 30 >/dev/null
    d=$W/src-$id
    "$QS" -d "$d" init --node "$id" --role county >/dev/null
    sid=$("$QS" -d "$d" add station "township=${id}100" name=社工站)
    sed "s/,6323221[0-9][0-9],/,$sid,/" "$W/rows.csv" >"$W/$id.csv"
    "$QS" -d "$d" import service "$W/$id.csv" >/dev/null
done

agg_ini() { # FILE DATADIR PORT [pg]
    cat >"$1" <<EOC
[node]
id = 630000
role = aggregator
data_dir = $2
[listen]
address = 127.0.0.1
port = $3
ca = $W/ca/ca.crt
cert = $W/agg/node.crt
key = $W/agg/node.key
crl = $W/crl.pem
children = ${IDS[*]}
EOC
    [ -n "${4:-}" ] && printf '[store]\nbackend = postgresql\nconninfo = %s\n' "$4" >>"$1"
    mkdir -p "$2"
}
daemon() { # CONF LOG
    local dir; dir=$(sed -n 's/^data_dir = //p' "$1")
    "$QSD" -c "$1" >/dev/null 2>"$2" &
    PIDS+=($!)
    for _ in $(seq 300); do [ -S "$dir/qianshoud.sock" ] && return 0; sleep 0.05; done
    tail "$2" >&2; exit 1
}
stop_all() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }
. "$SRC/tests/bench/pg_cpu.sh" # server_cpu, procs_cpu

# run CASE FRONTENDS CONNINFO|"": prints "CASE rate server_us fe_us", the
# last two CPU microseconds per record of the PostgreSQL server and of the
# aggregator front-ends (qianshoud) over the case
run() {
    local name=$1 fe=$2 ci=$3 ports=() i=0 s0 f0
    for f in $(seq "$fe"); do
        local port; port=$(free_port); ports+=("$port")
        agg_ini "$W/$name-fe$f.ini" "$W/$name-fe$f" "$port" "$ci"
        daemon "$W/$name-fe$f.ini" "$W/$name-fe$f.log"
    done
    for id in "${IDS[@]}"; do
        local d=$W/$name-$id
        rm -rf "$d"; cp -a "$W/src-$id" "$d"
        cat >"$W/$name-$id.ini" <<EOC
[node]
id = $id
role = county
data_dir = $d
[upstream]
host = $DNS
address = 127.0.0.1
port = ${ports[$((i % fe))]}
ca = $W/ca/ca.crt
cert = $W/$id/node.crt
key = $W/$id/node.key
interval = 86400
EOC
        i=$((i + 1))
    done
    # counties start after the aggregator: their start-up sync is the one
    # timed, and CPU counts from here (not the front-ends' start-up and DDL)
    s0=$(server_cpu)
    f0=$(procs_cpu "${PIDS[@]}")
    local t0 t1; t0=$(date +%s.%N)
    for id in "${IDS[@]}"; do daemon "$W/$name-$id.ini" "$W/$name-$id.log"; done
    for id in "${IDS[@]}"; do "$QS" -d "$W/$name-$id" sync --wait --timeout 600 >/dev/null & done
    wait $(jobs -p | tail -n "$C") 2>/dev/null || true
    t1=$(date +%s.%N)
    local s1; s1=$(server_cpu)
    local held; held=$("$QS" -d "$W/$name-fe1" status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["records"])')
    local want=$((C * (N + 1)))
    [ "$held" -ge "$want" ] || { echo "$name: the aggregator holds $held records, want $want" >&2; exit 1; }
    local fcpu; fcpu=$("$PY" -c "print($(procs_cpu "${PIDS[@]:0:$fe}") - $f0)")
    local ccpu; ccpu=$(procs_cpu "${PIDS[@]:$fe}")
    stop_all
    "$PY" -c "import sys; print('%s %.0f %.1f %.1f %.1f' % (sys.argv[1], $want / ($t1 - $t0), ($s1 - $s0) * 1e6 / $want, $fcpu * 1e6 / $want, $ccpu * 1e6 / $want))" "$name"
}
log "SQLite, one qianshoud"
r1=$(run sqlite 1 "")
log "PostgreSQL, one front-end"
psql_reset() { "$QS_PG_BIN/psql" -q "$QS_PG_CONNINFO" -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null 2>&1; }
r2=$(run pg1 1 "$QS_PG_CONNINFO")
psql_reset
log "PostgreSQL, two front-ends"
r3=$(run pg2 2 "$QS_PG_CONNINFO")
read -r _ a _ fa ca <<<"$r1"
read -r _ b sb fb cb <<<"$r2"
read -r _ c sc fc cc <<<"$r3"
cores=$(nproc)
echo "initial sync, $C counties x $((N + 1)) records, all at once (records/s, wall time)"
echo "  SQLite, one qianshoud:          $a"
echo "  PostgreSQL, one front-end:      $b   ($("$PY" -c "print('%.2f' % ($b / $a))")x SQLite; target >= 0.5)"
echo "  PostgreSQL, two front-ends:     $c   ($("$PY" -c "print('%.2f' % ($c / $b))")x one front-end; target >= 1.6)"
echo "CPU per record (microseconds; steadier than rates on a shared machine)"
echo "  SQLite qianshoud: $fa, counties $ca"
echo "  one front-end:  PostgreSQL server $sb, qianshoud $fb, counties $cb"
echo "  two front-ends: PostgreSQL server $sc, qianshouds $fc, counties $cc"
# Two front-ends cannot go faster than the machine's cores divided by the CPU
# every process spends on a record: on a small machine that ceiling, not the
# store, is what bounds the ratio.
read -r m x <<<"$(ceiling "$cores" "$b" "$("$PY" -c "print($sc + $fc + $cc)")")"
echo "  two front-ends' CPU-bound ceiling on $cores cores: $m records/s = ${x}x one front-end; reached $("$PY" -c "print('%.0f' % (100 * $c / $m))")%"
