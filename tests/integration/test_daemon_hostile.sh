#!/usr/bin/env bash
# Hostile peers after the TLS handshake: oversized frame header, msgpack bomb,
# unknown message type, garbage, a valid frame in the wrong state. Each closes
# its connection with a log line; the store files are untouched; the daemon
# keeps serving. Then back-pressure (a client that never reads: RSS bounded)
# and 200 connections per round coming and going while a county syncs.
. "$(dirname "$0")/daemon_lib.sh"
make_pki
agg_conf "$T/agg.ini"; county_conf "$T/c1.ini" c1 632322
start agg "$T/agg.ini"
start c1 "$T/c1.ini"
wait_log "$T/agg.log" "632322: sync done"
sleep 0.3
sum() { cat "$T/aggdata/qianshou.db" "$T/aggdata/qianshou.db-wal" 2>/dev/null | sha256sum; } # -shm changes on reads
before=$(sum)
nodes_before=$(ctl agg '{"cmd":"nodes"}')
hostile() { # what hex log-pattern
    local out; out=$(probe_as c2 --send "$2")
    grep -q "closed" <<<"$out" || fail "$1: connection not closed: $out"
    wait_log "$T/agg.log" "closing the connection: .*$3"
    ok "$1: $(grep "closing the connection: .*$3" "$T/agg.log" | tail -1)"
}
hostile "oversized frame header" 7fffffff00 "bad frame"
hostile "msgpack bomb" 0000000500ddffffffff "bad message"
hostile "unknown message type" 0000000300810063 "bad message"
hostile "garbage" 00000004ff0badc0de "bad frame"
hostile "valid frame in the wrong state (DONE before HELLO)" 00000005008200070100 "unexpected DONE"
[ "$(sum)" = "$before" ] || fail "store files changed"
[ "$(ctl agg '{"cmd":"nodes"}')" = "$nodes_before" ] || fail "peers changed"
ok "store untouched"
# wrong state after WELCOME: a DONE from the county (only the aggregator ends a session)
out=$(probe_as c2 --hello 632323 --send 00000005008200070100)
grep -q "recv ERROR" <<<"$out" || fail "DONE after WELCOME: $out"
wait_log "$T/agg.log" "unexpected DONE in state serving"
ok "valid frame in the wrong state after WELCOME"
r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
grep -q '"ok":true' <<<"$r" || fail "daemon stopped serving: $r"
ok "still serving after hostile peers"

# a client that never reads: PINGs flood in, PONGs back up; memory stays bounded
rss() { awk '/VmRSS/ {print $2}' "/proc/$agg_PID/status"; }
r0=$(rss)
probe_as c3 --hello 632324 --flood 4 > "$T/flood.out" &
FL=$!
sleep 3
r1=$(rss)
r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
grep -q '"ok":true' <<<"$r" || fail "sync during flood: $r"
wait "$FL"
grep -q "recv WELCOME" "$T/flood.out" || fail "flood: $(cat "$T/flood.out")"
echo "RSS before ${r0} kB, during flood ${r1} kB"
[ $((r1 - r0)) -lt 65536 ] || fail "aggregator RSS grew from $r0 to $r1 kB under a non-reading client"
ok "non-reading client: RSS ${r0} -> ${r1} kB, others served"

# 200 concurrent connections from another address, 3 rounds, while a real
# county syncs: the per-address budget refuses most of each burst (counted),
# the county is served
probe_as c2 --bind 127.0.0.2 --many 200 --rounds 3 --hello 632323 > "$T/many.out" &
M=$!
for i in 1 2 3; do
    r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":30}')
    grep -q '"ok":true' <<<"$r" || fail "sync $i under load: $r"
done
wait "$M" || fail "many: $(cat "$T/many.out")"
grep -q "rounds 3 handshakes [1-9]" "$T/many.out" || fail "many: $(cat "$T/many.out")"
c=$(ctl agg '{"cmd":"status"}')
[ "$(jget "$c" net.refused_per_address)" -gt 0 ] || fail "no per-address refusal counted: $c"
ok "200 x 3 connections came and went while the county synced: $(cat "$T/many.out"), $(jget "$c" net.refused_per_address) refused for the per-address budget"
stop c1; stop agg
ok "clean stop after load"
