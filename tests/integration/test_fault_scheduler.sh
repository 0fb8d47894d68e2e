#!/usr/bin/env bash
# Scheduler: with the aggregator unreachable (qs-proxy refuses), the county's
# attempts back off (exponential, full jitter; retry_base 1 s, retry_cap 4 s):
# counted at the proxy over a fixed window they are far fewer than a fixed
# 1 s retry would make; status shows the next attempt and "retry"; the log has
# one line for the link going down. When the aggregator returns, the first
# attempt succeeds, and one line says the link is back.
. "$(dirname "$0")/fault_lib.sh"
W=20
make_pki
agg_conf "$T/agg.ini"
county_conf "$T/c1.ini" c1 632322 "retry_base = 1
retry_cap = 4"
via_proxy "$T/c1.ini"
q agg init --node 630000 --role aggregator >/dev/null
q c1 init --node 632322 --role county >/dev/null
services_csv "$T/s.csv" 50 sched; q c1 import service "$T/s.csv" >/dev/null
start agg "$T/agg.ini"
proxy_start --refuse
start c1 "$T/c1.ini"
sleep "$W"
n=$(pstat conns)
s=$(q c1 status --json)
ok "aggregator down for $W s: $n connection attempts; status: next $(jget "$s" next_reason) at $(jget "$s" next_attempt), $(jget "$s" failed_attempts) failed in a row"
[ "$n" -ge 3 ] || fail "only $n attempts in $W s"
[ "$n" -le 18 ] || fail "$n attempts in $W s: no backoff (a fixed 1 s retry makes ~$W, full jitter on 1 s ~$((2 * W)))"
[ "$(jget "$s" next_reason)" = retry ] || [ "$(jget "$s" reason)" = retry ] || fail "next reason: $(jget "$s" next_reason)"
[ "$(jget "$s" failed_attempts)" -ge 3 ] || fail "failed_attempts $(jget "$s" failed_attempts)"
[ -n "$(jget "$s" last_error)" ] || fail "no last_error while down"
[ "$(grep -c 'down:' "$T/c1.log")" = 1 ] || fail "want one 'link down' line, got: $(grep 'down:\|WARN' "$T/c1.log")"
before=$(pstat conns)
pctl clear >/dev/null
for _ in $(seq 100); do
    s=$(q c1 status --json)
    [ "$(jget "$s" last_ok_ms)" != 0 ] && break
    sleep 0.1
done
[ "$(jget "$s" last_ok_ms)" != 0 ] || fail "no sync within 10 s of the aggregator's return"
after=$(pstat conns)
[ $((after - before)) = 1 ] || fail "$((after - before)) attempts after the return, want 1 (the first one succeeds)"
[ "$(jget "$s" failed_attempts)" = 0 ] || fail "backoff not reset"
grep -q 'back after .* down' "$T/c1.log" || fail "no 'link back' line"
[ "$(grep -c 'back after' "$T/c1.log")" = 1 ] || fail "more than one 'back' line"
[ "$(count agg service)" = 50 ] || fail "aggregator holds $(count agg service) services"
ok "first attempt after the return succeeded; $(grep 'back after' "$T/c1.log" | sed 's/^[A-Z]* //')"
s=$(q c1 status --json)
[ "$(jget "$s" next_reason)" = interval ] || fail "after success the next attempt should be the interval: $(jget "$s" next_reason)"
ok "next planned attempt: $(jget "$s" next_reason) at $(jget "$s" next_attempt)"
stop c1; stop agg
