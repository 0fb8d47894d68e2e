#!/usr/bin/env bash
# Kill matrix: SIGKILL of the county, the aggregator or both right after
# each of the first N session frames of a push and of a pull (the test-only
# hook QIANSHOU_TEST_EXIT_AFTER_FRAME, not byte offsets inside TLS). After
# each kill: restart without the hook, sync, and check that both sides hold
# exactly the records written (digest and version count per scope: nothing
# lost, nothing applied twice) and that PRAGMA integrity_check is ok.
. "$(dirname "$0")/fault_lib.sh"
N=${QS_KILL_FRAMES:-3}
B=5; R=30 # records per batch, records per case (6 batches)
make_pki
agg_conf "$T/agg.ini" "max_batch = $B"
county_conf "$T/c1.ini" c1 632322 "[limits]
max_batch = $B"
q agg init --node 630000 --role aggregator >/dev/null
q c1 init --node 632322 --role county >/dev/null
SERV=0; KILLS=0; CASES=0
AGEN=$(digest agg 630000); AGEN=${AGEN#* } # reference data made by init

agencies_csv() { python3 - "$2" "$3" > "$1" <<'PY'
import sys
print("name,role,province,contact")
for i in range(int(sys.argv[1])):
    print("服务中心%s-%04d,receiving,青海省,联系人%d" % (sys.argv[2], i, i))
PY
}
# start_hooked NAME CONF HOOK: start with QIANSHOU_TEST_EXIT_AFTER_FRAME=HOOK (or none)
start_hooked() {
    if [ -n "$3" ]; then QIANSHOU_TEST_EXIT_AFTER_FRAME=$3 start "$1" "$2"; else start "$1" "$2"; fi
    cp "$T/$1.log" "$T/$1-$CASES.log" 2>/dev/null || true
}
verify() { # what
    local a b
    a=$(digest c1 632322); b=$(digest agg 632322)
    [ "$a" = "$b" ] || fail "$1: county scope digests differ: county $a, aggregator $b"
    [ "${b#* }" = "$SERV" ] || fail "$1: the aggregator holds ${b#* } county versions, want exactly $SERV"
    a=$(digest c1 630000); b=$(digest agg 630000) # everything (one county)
    [ "$a" = "$b" ] || fail "$1: whole-store digests differ: county $a, aggregator $b"
    [ "${a#* }" = $((SERV + AGEN)) ] || fail "$1: the county holds ${a#* } versions, want exactly $((SERV + AGEN))"
    integrity c1 agg
}
# run_case DIR VICTIM K
run_case() {
    local dir=$1 victim=$2 k=$3 ch="" ah=""
    CASES=$((CASES + 1))
    if [ "$dir" = push ]; then
        services_csv "$T/s.csv" $R "k$CASES"; q c1 import service "$T/s.csv" >/dev/null; SERV=$((SERV + R))
        case $victim in county) ch="$k:out";; agg) ah="$k:in";; both) ch="$k:out"; ah="$k:in";; esac
    else
        agencies_csv "$T/a.csv" $R "k$CASES"; q agg import agency "$T/a.csv" >/dev/null; AGEN=$((AGEN + R))
        case $victim in county) ch="$k:in";; agg) ah="$k:out";; both) ch="$k:in"; ah="$k:out";; esac
    fi
    start_hooked agg "$T/agg.ini" "$ah"
    start_hooked c1 "$T/c1.ini" "$ch" # syncs at start
    [ -n "$ah" ] && { wait_dead agg 20; KILLS=$((KILLS + 1)); }
    [ -n "$ch" ] && { wait_dead c1 20; KILLS=$((KILLS + 1)); }
    # the survivor runs on; restart the dead without the hook
    [ -n "$ah" ] && start agg "$T/agg.ini"
    if [ -n "$ch" ]; then start c1 "$T/c1.ini"; fi
    sync_until c1 5
    verify "$dir, kill $victim after frame $k"
    stop c1; stop agg
    ok "$dir: SIGKILL $victim after frame $k (county ${ch:-none}, aggregator ${ah:-none}): converged, $SERV + $AGEN records, integrity ok"
}
t0=$(date +%s)
for dir in push pull; do
    for victim in county agg both; do
        for k in $(seq "$N"); do run_case $dir $victim "$k"; done
    done
done
echo "kill matrix: $CASES cases, $KILLS SIGKILLs, records $SERV up + $AGEN down, lost = 0, duplicated = 0 ($(( $(date +%s) - t0 )) s)"
