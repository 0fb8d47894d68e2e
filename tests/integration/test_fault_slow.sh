#!/usr/bin/env bash
# Slow line: 2,000 records through qs-proxy at 64 kbit/s and 300 ms each way.
# 1. SIGTERM of the county in the middle of the push: a clean stop (exit 0);
#    the next start resumes from the aggregator's cursor.
# 2. A cut (kill-all) in the middle of the rest: the county's retry resumes
#    without resending what was acknowledged: the resumed session sends
#    exactly the records the aggregator did not hold, and the bytes on the
#    wire (qs-proxy stats) stay close to one full push.
. "$(dirname "$0")/fault_lib.sh"
N=2000; B=100
make_pki
agg_conf "$T/agg.ini" "max_batch = $B"
county_conf "$T/c1.ini" c1 632322 "retry_base = 2
retry_cap = 2
[limits]
max_batch = $B"
via_proxy "$T/c1.ini"
q agg init --node 630000 --role aggregator >/dev/null
q c1 init --node 632322 --role county >/dev/null
services_csv "$T/s.csv" $N slow; q c1 import service "$T/s.csv" >/dev/null
held() { local v; v=$(digest agg 632322); echo "${v#* }"; }
wait_held() { # at least N records at the aggregator, within 60 s
    for _ in $(seq 600); do [ "$(held)" -ge "$1" ] && return 0; sleep 0.1; done
    fail "the aggregator holds $(held) after 60 s, want $1"
}
proxy_start --rate-kbit 64 --latency-ms 300
start agg "$T/agg.ini"
t0=$(date +%s%3N)
start c1 "$T/c1.ini"
wait_held 400
stop c1 # SIGTERM mid-push: must exit 0
h1=$(held)
ok "SIGTERM during the push: clean stop; the aggregator holds $h1 of $N"
[ "$h1" -lt "$N" ] || fail "the push ended before the SIGTERM"
start c1 "$T/c1.ini" # resumes at start
wait_held 1200
up0=$(pstat bytes_up)
pctl kill-all >/dev/null; pctl set refuse 1 >/dev/null # cut; keep it down while we look
sleep 1
h2=$(held)
ok "cut at $up0 bytes up: the aggregator holds $h2"
[ "$h2" -lt "$N" ] || fail "the push ended before the cut"
pctl set refuse 0 >/dev/null
for _ in $(seq 600); do
    s=$(q c1 status --json)
    [ "$(jget "$s" pending)" = 0 ] && [ "$(jget "$s" failed_attempts)" = 0 ] && [ "$(held)" = "$N" ] && break
    sleep 0.2
done
t1=$(date +%s%3N)
[ "$(held)" = "$N" ] || fail "the aggregator holds $(held) of $N after the cut"
sent=$(jget "$s" last_sync.records_sent)
[ "$sent" = $((N - h2)) ] || fail "the resumed session sent $sent records, want $((N - h2)) (resent what was acknowledged?)"
a=$(q agg status --json)
[ "$(jget "$a" counters.duplicates)" = 0 ] || fail "the aggregator received $(jget "$a" counters.duplicates) duplicates"
[ "$(digest c1 632322)" = "$(digest agg 632322)" ] || fail "digests differ"
up=$(pstat bytes_up); down=$(pstat bytes_down)
per=$(( (up - up0) / (sent > 0 ? sent : 1) ))
full=$(( up0 * N / h2 ))
ok "resumed: $sent records in the last session ($(jget "$s" last_sync.bytes_sent) bytes), about $per bytes/record on the wire"
[ "$up" -le $(( full * 13 / 10 )) ] || fail "$up bytes up in all for $N records; a whole push is about $full: something was resent"
integrity c1 agg
echo "slow line: $N records at 64 kbit/s, 300 ms: $(( (t1 - t0) / 1000 )) s with a SIGTERM and a cut; bytes up $up, down $down (one push about $full); lost = 0, duplicated = 0"
stop c1; stop agg
