#!/usr/bin/env bash
# qs-bench-swarm (benchmark #5's client): three simulated counties, 50 service
# logs each, in one process against a real aggregator. Every session
# completes, the swarm counts 150 records pushed, and the aggregator holds
# each county's records (its digest for the county's scope equals the
# county's own). The aggregator takes batches of 10 and lets one message at a
# time wait for its store thread: the counties take turns (admission), none
# is starved, and no more than one message is ever queued — also while a
# fourth node's connections come, say HELLO and go, 100 of them, so that jobs
# end with their connection gone while others wait their turn.
. "$(dirname "$0")/daemon_lib.sh"
SWARM=$BIN/tests/bench/qs-bench-swarm
[ -x "$SWARM" ] || { echo "skip: no $SWARM"; exit 0; }
make_pki
"$PKI" node-key "$T/c4" 632522 >/dev/null
"$PKI" sign "$T/ca" "$T/c4/node.csr" -o "$T/c4/node.crt" --start "$(stamp $(($(date +%s) - 86400)))" \
    --days 30 >/dev/null
AGG_LISTEN="max_unauthenticated_per_address = 32" agg_conf "$T/agg.ini" "max_batch = 10
store_queue = 1"
q agg init --node 630000 --role aggregator >/dev/null
NAMES=(c1 c2 c3); IDS=(632322 632323 632324)
: >"$T/swarm.list"
for k in 0 1 2; do
    n=${NAMES[$k]}
    q "$n" init --node "${IDS[$k]}" --role county >/dev/null
    { echo date,service_type,domain,total; for j in $(seq 50); do echo "2024-05-0$((j % 9 + 1)),visit,elderly,$j"; done; } >"$T/$n.csv"
    q "$n" import service "$T/$n.csv" >/dev/null
    echo "${IDS[$k]} $T/${n}data $T/$n/node.crt $T/$n/node.key" >>"$T/swarm.list"
done
start agg "$T/agg.ini"
probe_as c4 --bind 127.0.0.2 --many 20 --rounds 5 --hello 632522 >"$T/many.out" &
M=$!
out=$("$SWARM" --timeout 60 127.0.0.1 "$PORT" $AGG_DNS "$T/ca/ca.crt" "$T/swarm.list" 2>"$T/swarm.log") ||
    fail "swarm: $out"
wait "$M" || fail "many: $(cat "$T/many.out")"
grep -q "rounds 5 handshakes 100" "$T/many.out" || fail "many: $(cat "$T/many.out")"
echo "$out"
sum=$(tail -n 1 <<<"$out")
[[ "$sum" == "counties=3 ok=3 failed=0 pushed=150 "* ]] || fail "swarm summary: $sum"
for k in 0 1 2; do
    grep -q "^county=${IDS[$k]} ok=1 pushed=50 acked=50 " <<<"$out" || fail "county ${IDS[$k]}: $out"
done
[ "$(count agg service)" = 150 ] || fail "aggregator holds $(count agg service) services"
for k in 0 1 2; do
    n=${NAMES[$k]}; id=${IDS[$k]}
    [ "$(digest "$n" "$id")" = "$(digest agg "$id")" ] || fail "$n digest differs from the aggregator's"
done
ok "3 simulated counties x 50 records: all sessions done, all records at the aggregator"
st=$(q agg status --json)
[ "$(jget "$st" counters.store_max_queued)" = 1 ] ||
    fail "more than one message queued for the store thread: $st"
[ "$(jget "$st" counters.store_waits)" -gt 0 ] ||
    fail "no county waited its turn (15 batches from 3 counties at once): $st"
ok "admission: one message at a time with the store thread, $(jget "$st" counters.store_waits) waits"
# again: a second swarm run finds nothing new to push and still completes
out=$("$SWARM" --timeout 60 127.0.0.1 "$PORT" $AGG_DNS "$T/ca/ca.crt" "$T/swarm.list" 2>>"$T/swarm.log") ||
    fail "second swarm: $out"
[[ "$(tail -n 1 <<<"$out")" == "counties=3 ok=3 failed=0 pushed=0 "* ]] || fail "second run: $out"
stop agg
ok "second run: nothing pushed again; the aggregator stopped cleanly"
