#!/usr/bin/env bash
# A connection cut in the middle of a push and in the middle of a pull (qs-proxy
# --cut-up / --cut-down), then the link is whole again: the sync resumes from
# the last acknowledged batch. Nothing lost, nothing duplicated, and no
# acknowledged batch sent again. Push: the county resumes from the cursor the
# aggregator stored with its last applied batch (even if that batch's ACK was
# lost in the cut), so the aggregator receives every record exactly once
# (received = N, duplicates = 0) and only batches in flight at the cut are
# resent. Pull: the county stored its cursor with each batch it applied, so
# it applies every record exactly once (pulled = M).
. "$(dirname "$0")/daemon_lib.sh"
PROXY=$BIN/tests/tools/qs-proxy
[ -x "$PROXY" ] || fail "no qs-proxy at $PROXY"
make_pki
PPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
agg_conf "$T/agg.ini" "max_batch = 25"
county_conf "$T/c1.ini" c1 632322 "[limits]
max_batch = 25"
sed -i "s/^port = $PORT/port = $PPORT/" "$T/c1.ini"
q agg init --node 630000 --role aggregator >/dev/null
q c1 init --node 632322 --role county >/dev/null
N=400; M=300
python3 - "$N" > "$T/services.csv" <<'PY'
import sys
print("date,service_type,domain,total,content")
for i in range(int(sys.argv[1])):
    print("2024-%02d-%02d,visit,elderly,%d,第%d次入户走访：了解老人生活情况，协助申请临时救助" % (i % 12 + 1, i % 28 + 1, i % 50 + 1, i))
PY
python3 - "$M" > "$T/agencies.csv" <<'PY'
import sys
print("name,role,province,contact")
for i in range(int(sys.argv[1])):
    print("社会工作服务中心%04d,receiving,青海省,联系人%d" % (i, i))
PY
q c1 import service "$T/services.csv" >/dev/null
q agg import agency "$T/agencies.csv" >/dev/null

proxy_start() { # extra args
    rm -f "$T/proxy.log"
    "$PROXY" --listen "127.0.0.1:$PPORT" --target "127.0.0.1:$PORT" "$@" 2>"$T/proxy.log" &
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    for _ in $(seq 50); do grep -q "listening on" "$T/proxy.log" && return 0; sleep 0.1; done
    fail "qs-proxy did not start: $(cat "$T/proxy.log")"
}
proxy_stop() { kill -TERM "$PROXY_PID"; wait "$PROXY_PID" || true; }
counter() { jget "$(q c1 status --json)" "counters.$1"; }

start agg "$T/agg.ini"
start c1 "$T/c1.ini" # its first try fails: no proxy yet
# ---- push cut at 9 KB up (400 services are about 19 KB compressed)
proxy_start --cut-up 9000
r=$(q c1 sync --wait --timeout 30 --json) && fail "the cut sync completed: $r"
acked1=$(counter records_acked); sent1=$(counter batches_sent)
held1=$(count agg service)
ok "push cut: $(jget "$r" error); county records acknowledged $acked1, batches sent $sent1; aggregator holds $held1"
[ "$acked1" -gt 0 ] && [ "$acked1" -lt "$N" ] || fail "the cut was not in the middle of the push (acked $acked1 of $N)"
proxy_stop
proxy_start
r=$(q c1 sync --wait --timeout 30 --json) || fail "resumed sync: $r"
resent=$(counter batches_resent)
a=$(q agg status --json); received=$(jget "$a" counters.received); dups=$(jget "$a" counters.duplicates)
ok "push resumed: $(jget "$r" records_sent) records sent, $(jget "$r" batches_resent) batches resent, $(jget "$r" bytes_sent) bytes up"
[ "$received" = "$N" ] || fail "the aggregator received $received records over both sessions, want exactly $N"
[ "$dups" = 0 ] || fail "the aggregator received $dups duplicates"
[ "$resent" -le 4 ] || fail "$resent batches resent (window 4)"
[ "$(jget "$r" records_sent)" = $((N - held1)) ] || fail "resumed session sent $(jget "$r" records_sent), want $((N - held1)) (from the aggregator's cursor)"
[ "$(count agg service)" = "$N" ] || fail "aggregator holds $(count agg service) services"
[ "$(digest c1 632322)" = "$(digest agg 632322)" ] || fail "digests differ after the push"
ok "push: the aggregator received every record once ($received, 0 duplicates), $resent batches resent, nothing lost"

# ---- pull cut at 6 KB down (the TLS handshake is ~3 KB; 300 agencies ~12 KB compressed)
proxy_stop
q agg import agency "$T/agencies.csv" --again >/dev/null # M more reference records
pulled0=$(counter pulled)
proxy_start --cut-down 6000
r=$(q c1 sync --wait --timeout 30 --json) && fail "the cut pull completed: $r"
p1=$(( $(counter pulled) - pulled0 ))
ok "pull cut: $(jget "$r" error); county applied $p1 of $M"
[ "$p1" -gt 0 ] && [ "$p1" -lt "$M" ] || fail "the cut was not in the middle of the pull ($p1 of $M)"
proxy_stop
proxy_start
r=$(q c1 sync --wait --timeout 30 --json) || fail "resumed pull: $r"
p=$(( $(counter pulled) - pulled0 ))
ok "pull resumed: $(jget "$r" pulled) records pulled, $(jget "$r" bytes_received) bytes down"
[ "$p" = "$M" ] || fail "county applied $p records over both sessions, want exactly $M"
[ "$(count c1 agency)" = $((2 * M)) ] || fail "county holds $(count c1 agency) agencies"
[ "$(jget "$(q agg status --json)" counters.duplicates)" = 0 ] || fail "duplicates at the aggregator"
ok "pull: every record applied once ($p), county holds $((2 * M)) agencies"
s=$(q c1 status --json)
ok "county counters: $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["counters"])' "$s")"
proxy_stop
stop c1; stop agg
