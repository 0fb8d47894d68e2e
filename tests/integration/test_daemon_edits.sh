#!/usr/bin/env bash
# The sync after local edits, with real daemons: a burst of edits made right
# after the daemon's first sync makes one sync, 2 s after its last edit (the
# debounce); a clerk writing a record every half second does not hold the
# sync off: the county syncs no later than edit_max_delay (here 4 s) after the
# first edit, while the writing goes on (before, every edit seen restarted the
# 2 s wait and nothing synced until the writing stopped).
. "$(dirname "$0")/daemon_lib.sh"
MAX=4
make_pki
agg_conf "$T/agg.ini"
county_conf "$T/c1.ini" c1 632322 "edit_max_delay = $MAX"
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

# ---- steady writes: a record every ~0.5 s for 10 s (every poll of the store
# sees a change), edit_max_delay 4 s
n0=$(agg_services)
t0=$(date +%s%3N)
seen=
n=0
while [ $(( $(date +%s%3N) - t0 )) -lt 10000 ]; do
    n=$((n + 1))
    q c1 add service date=2024-06-0$(( n % 9 + 1 )) service_type=visit domain=elderly total=$n >/dev/null
    if [ "$n" = 3 ]; then
        # the daemon looks at the store once a second (later on a loaded
        # machine): within 2 s it has seen the edits and says so
        for _ in $(seq 20); do
            s=$(q c1 status --json)
            [ "$(jget "$s" next_reason)" = edit ] || [ "$(jget "$s" reason)" = edit ] && break
            sleep 0.1
        done
        [ "$(jget "$s" next_reason)" = edit ] || [ "$(jget "$s" reason)" = edit ] ||
            fail "while writing, the next attempt is $(jget "$s" next_reason), not edit"
    fi
    if [ -z "$seen" ] && [ "$(agg_services)" -gt "$n0" ]; then
        seen=$(( $(date +%s%3N) - t0 ))
    fi
    sleep 0.3
done
t_end=$(( $(date +%s%3N) - t0 ))
[ -n "$seen" ] || fail "$n records in ${t_end} ms: nothing reached the aggregator while the writing went on (edit_max_delay $MAX s)"
# the first edit was seen within 1 s (data_version is polled every second); the
# sync is due $MAX s after that; it takes well under a second on loopback
[ "$seen" -le $(( (MAX + 3) * 1000 )) ] || fail "the first records arrived after $seen ms, want <= $(( (MAX + 3) * 1000 ))"
grep -q "local edits still coming, the first [0-9]* s ago (edit_max_delay $MAX s): syncing" "$T/c1.log" ||
    fail "no 'still coming' line"
ok "$n records in $t_end ms: the first reached the aggregator after $seen ms of writing"
for _ in $(seq 60); do [ "$(agg_services)" = $((n0 + n)) ] && break; sleep 0.1; done
[ "$(agg_services)" = $((n0 + n)) ] || fail "after the writing stopped: aggregator holds $(agg_services), want $((n0 + n))"
[ "$(digest c1 632322)" = "$(digest agg 632322)" ] || fail "county and aggregator differ"
ok "all $((n0 + n)) records at the aggregator after the writing stopped; $(grep -c 'local edits' "$T/c1.log") after-edit syncs in all"
stop c1; stop agg
