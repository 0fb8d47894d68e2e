#!/usr/bin/env bash
# The sync after local edits, with real daemons: a burst of edits made right
# after the daemon's first sync makes one sync, 2 s after its last edit (the
# debounce).
. "$(dirname "$0")/daemon_lib.sh"
make_pki
agg_conf "$T/agg.ini"
county_conf "$T/c1.ini" c1 632322
q agg init --node 630000 --role aggregator >/dev/null
q c1 init --node 632322 --role county >/dev/null
start agg "$T/agg.ini"
start c1 "$T/c1.ini"
for _ in $(seq 100); do
    [ "$(jget "$(q c1 status --json)" last_ok_ms)" != 0 ] && break
    sleep 0.1
done
[ "$(jget "$(q c1 status --json)" last_ok_ms)" != 0 ] || fail "no first sync"
syncs() { jget "$(q c1 status --json)" counters.syncs_ok; }
agg_services() { count agg service; }

# ---- a burst right after the first sync: one sync, after the edits settle
# (edits made before the daemon's first look at the store count too)
before=$(syncs)
add_services c1 3
[ "$(jget "$(q c1 status --json)" pending)" = 3 ] || fail "3 records should be pending right after the burst"
for _ in $(seq 100); do [ "$(agg_services)" = 3 ] && break; sleep 0.1; done
[ "$(agg_services)" = 3 ] || fail "the burst did not reach the aggregator within 10 s"
sleep 1.5 # a second sync would start within a settle time
[ "$(syncs)" = $((before + 1)) ] || fail "a burst of 3 edits made $(( $(syncs) - before )) syncs, want 1"
grep -q "local edits settled: syncing" "$T/c1.log" || fail "no 'settled' line"
ok "a burst of 3 edits: one sync, after they settled"

stop c1; stop agg
