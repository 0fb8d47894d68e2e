#!/usr/bin/env bash
# Disk full (store/vfs.c, QIANSHOU_TEST_DISKFULL) on the aggregator in
# the middle of a push, then on the county during a pull: the batch fails
# cleanly, no ACK is sent for it (what the county counts as acknowledged is
# held by the aggregator), the daemon reports it (status last_error, log) and
# keeps running; once writes succeed again the county's retries (backoff)
# complete the sync by themselves. Integrity check on both.
. "$(dirname "$0")/fault_lib.sh"
N=1000
make_pki
agg_conf "$T/agg.ini" "max_batch = 25"
county_conf "$T/c1.ini" c1 632322 "retry_base = 1
retry_cap = 2
[limits]
max_batch = 25"
via_proxy "$T/c1.ini"
q agg init --node 630000 --role aggregator >/dev/null
q c1 init --node 632322 --role county >/dev/null
services_csv "$T/s.csv" $N full; q c1 import service "$T/s.csv" >/dev/null
proxy_start --rate-kbit 128
QIANSHOU_TEST_DISKFULL=$T/agg-full start agg "$T/agg.ini"
QIANSHOU_TEST_DISKFULL=$T/c1-full start c1 "$T/c1.ini"
for _ in $(seq 200); do # the first batches are in
    v=$(digest agg 632322); [ "${v#* }" -ge 50 ] && break
    sleep 0.05
done
touch "$T/agg-full"
for _ in $(seq 100); do
    [ "$(jget "$(q c1 status --json)" failed_attempts)" -gt 0 ] && break
    sleep 0.1
done
sleep 3 # the county retries against the full disk meanwhile
s=$(q c1 status --json); a=$(q agg status --json)
acked=$(jget "$s" counters.records_acked)
held=$(digest agg 632322); held=${held#* }
ok "aggregator disk full mid-push: county: $acked acknowledged, $(jget "$s" failed_attempts) failed attempts, last error: $(jget "$s" last_error)"
ok "aggregator: holds $held, last error: $(jget "$a" last_error)"
kill -0 "$agg_PID" || fail "the aggregator died"
[ "$held" -lt "$N" ] || fail "the disk filled too late (the aggregator holds all $N)"
[ "$held" -ge "$acked" ] || fail "the county had $acked records acknowledged but the aggregator holds $held"
[ -n "$(jget "$a" last_error)" ] || fail "the aggregator's status shows no error"
grep -qi 'full' "$T/agg.log" || fail "no log line about the full disk"
rm -f "$T/agg-full"
for _ in $(seq 150); do
    s=$(q c1 status --json)
    [ "$(jget "$s" failed_attempts)" = 0 ] && [ "$(jget "$s" pending)" = 0 ] && break
    sleep 0.2
done
[ "$(jget "$s" failed_attempts)" = 0 ] || fail "no recovery within 30 s of the disk clearing: $(jget "$s" last_error)"
a=$(digest agg 632322); [ "${a#* }" = "$N" ] || fail "the aggregator holds ${a#* } of $N"
[ "$a" = "$(digest c1 632322)" ] || fail "digests differ after recovery"
[ -z "$(jget "$(q agg status --json)" last_error)" ] || fail "aggregator still reports an error after a complete session"
ok "recovered by itself: aggregator holds $N, digests equal"
# ---- the county's disk is full during a pull
pctl set rate-kbit off >/dev/null
python3 -c '
print("name,role,province,contact")
for i in range(200): print("中心%04d,receiving,青海省,联系人%d" % (i, i))' > "$T/a.csv"
q agg import agency "$T/a.csv" >/dev/null
touch "$T/c1-full"
r=$(q c1 sync --wait --timeout 30 --json) && fail "a pull into a full disk completed: $r"
s=$(q c1 status --json)
kill -0 "$c1_PID" || fail "the county died"
[ "$(count c1 agency)" = 0 ] || fail "the county applied agencies with a full disk"
ok "county disk full during the pull: $(jget "$s" last_error)"
rm -f "$T/c1-full"
for _ in $(seq 150); do
    s=$(q c1 status --json)
    [ "$(jget "$s" failed_attempts)" = 0 ] && break
    sleep 0.2
done
[ "$(jget "$s" failed_attempts)" = 0 ] || fail "the county did not recover: $(jget "$s" last_error)"
[ "$(count c1 agency)" = 200 ] || fail "the county holds $(count c1 agency) agencies after recovery"
[ "$(digest c1 630000)" = "$(digest agg 630000)" ] || fail "digests differ after the county's recovery"
integrity agg c1
ok "county recovered by itself; digests equal; integrity ok; records $N up + 200 down, lost = 0, duplicated = 0"
stop c1; stop agg
