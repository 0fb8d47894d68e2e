#!/usr/bin/env bash
# Three counties write while the aggregator is down, then sync: the aggregator
# holds every record and each county's digest equals the aggregator's for its
# scope; reference data written at the province reaches every county and no
# county holds a sibling's record (every record of every kind checked); the
# same record edited at a county and at the province: same winner and the
# loser listed on both, resolved on one side -> ended on both; a local edit
# alone triggers a sync once it settles.
. "$(dirname "$0")/daemon_lib.sh"
make_pki
agg_conf "$T/agg.ini" "max_batch = 4"
q agg init --node 630000 --role aggregator >/dev/null
NAMES=(c1 c2 c3); IDS=(632322 632323 632324)
for i in 0 1 2; do
    county_conf "$T/${NAMES[$i]}.ini" "${NAMES[$i]}" "${IDS[$i]}" "[limits]
max_batch = 4"
    q "${NAMES[$i]}" init --node "${IDS[$i]}" --role county >/dev/null
    start "${NAMES[$i]}" "$T/${NAMES[$i]}.ini"
done
# reference data at the province (its daemon is down)
for i in 0 1 2; do q agg add county code="${IDS[$i]}" name="county ${IDS[$i]}" >/dev/null; done
# offline work at the counties
for i in 0 1 2; do add_services "${NAMES[$i]}" $((4 + i)); done
r=$(q c1 sync --wait --timeout 10 --json) && fail "sync with the aggregator down succeeded: $r"
[ "$(jget "$r" exit)" = 4 ] || fail "sync --wait exit: $r"
ok "aggregator down: sync --wait exits 4: $(jget "$r" error)"

start agg "$T/agg.ini"
for i in 0 1 2; do
    n=${NAMES[$i]}
    r=$(q "$n" sync --wait --timeout 30) || fail "$n sync: $r"; ok "$n: $r"
done
[ "$(count agg service)" = $((4 + 5 + 6)) ] || fail "aggregator holds $(count agg service) services"
for i in 0 1 2; do
    n=${NAMES[$i]}; id=${IDS[$i]}
    [ "$(digest "$n" "$id")" = "$(digest agg "$id")" ] || fail "$n digest $(digest "$n" "$id") != aggregator $(digest agg "$id")"
    [ "$(count "$n" county)" = 3 ] || fail "$n holds $(count "$n" county) county records"
    # every record at this county: its own scope or a province record. Only
    # services and county records exist anywhere, and the county's record
    # count (all kinds) says it holds nothing else.
    total=$(jget "$(q "$n" status --json)" records)
    [ "$total" = $(( $(count "$n" service) + $(count "$n" county) )) ] || fail "$n holds records of other kinds"
    for k in service county; do
        q "$n" list "$k" --json | python3 -c '
import json, sys
me = sys.argv[1]
for r in json.load(sys.stdin):
    s = r["scope"]
    assert s.startswith(me) or s == "630000", "%s holds %s %s of scope %s" % (me, r["kind"], r["id"], s)
' "$id" || fail "$n holds a record it may not see"
    done
    ok "$n: digest $(digest "$n" "$id") equals the aggregator's; 3 county records; no sibling records"
done

# the same record edited at the county and at the province between syncs
id=$(q c1 list service --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
q c1 edit "$id" total=66 >/dev/null
q agg edit "$id" total=99 >/dev/null
r=$(q c1 sync --wait --json) || fail "conflict sync: $r"
[ "$(jget "$r" conflicts)" -ge 1 ] || fail "no conflict reported: $r"
cf() { { q "$1" conflicts --json || true; } | python3 -c 'import json,sys; c=json.load(sys.stdin); print(" ".join("%s %s %s" % (x["id"], x["winner"], ",".join(x["losers"])) for x in c))'; }
[ -n "$(cf c1)" ] || fail "no conflict at the county"
[ "$(cf c1)" = "$(cf agg)" ] || fail "conflicts differ: county [$(cf c1)] province [$(cf agg)]"
ok "conflict on both sides, same winner and loser: $(cf c1)"
win=$(cf c1 | awk '{print $2}')
q c1 conflicts resolve "$id" --take "$win" >/dev/null
q c1 sync --wait >/dev/null || fail "sync after resolve"
[ -z "$(cf c1)" ] && [ -z "$(cf agg)" ] || fail "conflict not ended: county [$(cf c1)] province [$(cf agg)]"
[ "$(digest c1 632322)" = "$(digest agg 632322)" ] || fail "digests differ after resolve"
ok "resolved at the county: ended on both"

# a local edit alone triggers a sync after it settles (2 s)
before=$(count agg service)
q c2 add service date=2024-06-01 service_type=visit domain=elderly total=1 >/dev/null
for _ in $(seq 100); do [ "$(count agg service)" -gt "$before" ] && break; sleep 0.1; done
[ "$(count agg service)" -gt "$before" ] || fail "a local edit did not reach the aggregator in 10 s"
grep -q "local edits settled: syncing" "$T/c2.log" || fail "no settle log line"
ok "local edit pushed without a sync request"

# a longer push (10 batches of 4, a window of 4): the aggregator decodes and
# checks the next batch while the store thread applies the last one
ra() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["counters"]["read_ahead"])' "$(q agg status --json)"; }
before=$(count agg service); ra0=$(ra)
add_services c3 40
r=$(q c3 sync --wait --timeout 30) || fail "c3 sync of 40: $r"
[ "$(count agg service)" = $((before + 40)) ] || fail "aggregator holds $(count agg service) services, expected $((before + 40))"
[ "$(digest c3 632324)" = "$(digest agg 632324)" ] || fail "c3 digest differs after the longer push"
[ "$(ra)" -gt "$ra0" ] || fail "no batch was read ahead in a push of 10 batches (read_ahead $(ra))"
ok "40 records in 10 batches: all held, digests equal, $(( $(ra) - ra0 )) batches read ahead"

s=$(q agg status --json)
ok "aggregator counters: $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["counters"])' "$s")"
s=$(q c1 status --json)
ok "county counters: $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["counters"])' "$s")"
q c1 status
q agg nodes || true
for n in c1 c2 c3 agg; do stop $n; done
ok "clean stop"
