#!/usr/bin/env bash
# The aggregator's door (issue 17, items 1 and 2).
# 1. Certificates signed by the provincial CA for nodes at or above the
#    aggregator's level (000000, 630000, another province 620000, the
#    aggregator's own certificate) are refused right after TLS, logged, and
#    leave nothing stored; a node below it that its reference data does not
#    know (632399) is refused at HELLO until the province adds the county.
# 2. Floods cannot shut the door: 500 plain TCP sockets from 100 addresses
#    that never speak, then 256 authenticated connections of one node that
#    never send HELLO, and a real county syncs all the while; a silent
#    authenticated connection is closed by the HELLO timeout, one that stops
#    after WELCOME by the idle timeout; the counters are in `status`.
. "$(dirname "$0")/daemon_lib.sh"
make_pki
AGG_LISTEN="max_unauthenticated = 32
max_unauthenticated_per_address = 4" agg_conf "$T/agg.ini" "hello_timeout = 1
handshake_timeout = 3
idle_timeout = 2"
county_conf "$T/c1.ini" c1 632322
start agg "$T/agg.ini"
start c1 "$T/c1.ini"
L=$T/agg.log

# ---- 1: who may be a child ----
forge() { # NAME CN: a client certificate signed with the CA's key directly,
          # as a careless or compromised signing step would
    mkdir -p "$T/$1"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
        -keyout "$T/$1/node.key" -out "$T/$1/node.csr" 2>/dev/null
    printf 'basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n' >"$T/$1/ext"
    openssl x509 -req -in "$T/$1/node.csr" -CA "$T/ca/ca.crt" -CAkey "$T/ca/ca.key" \
        -CAcreateserial -days 30 -sha256 -extfile "$T/$1/ext" -out "$T/$1/node.crt" 2>/dev/null
}
for cn in 000000 630000 620000; do
    forge "f$cn" "$cn"
    out=$(probe_as "f$cn" --hello "$cn" || true)
    grep -q "recv WELCOME" <<<"$out" && fail "a certificate for $cn was served: $out"
    wait_log "$L" "refused a connection: the certificate names node $cn, which is not below this node (630000)"
    ok "CN $cn refused after TLS"
done
out=$(probe_as agg --hello 630000 || true)
grep -q "recv WELCOME" <<<"$out" && fail "the aggregator's own certificate was served as a client: $out"
ok "the aggregator's own certificate is no client"
forge f632399 632399
out=$(probe_as f632399 --hello 632399 || true)
grep -q "recv ERROR .*632399 is neither a county nor a station" <<<"$out" || fail "unknown node: $out"
nj=$(q agg nodes --json)
for cn in 000000 630000 620000 632399; do
    grep -q "\"$cn\"" <<<"$nj" && fail "the refused node $cn was recorded: $nj"
done
ok "refused nodes left nothing stored"
chk=$("$QSD" -c "$T/agg.ini" --check)
grep -q "children: 0 counties in the reference data, 8 codes in \[listen\] children" <<<"$chk" ||
    fail "--check: $chk"
q agg add county code=632399 name=试验县 >/dev/null
out=$(probe_as f632399 --hello 632399)
grep -q "recv DONE" <<<"$out" || fail "632399 not served once the province knows it: $out"
ok "632399 served once it is a county of the reference data"

# ---- 2: floods ----
sync_ok() { # WHAT: c1 syncs within 20 s
    local r; r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
    grep -q '"ok":true' <<<"$r" || fail "county sync $1: $r"
    echo "$r" | python3 -c 'import json,sys; print("duration_ms", json.load(sys.stdin)["duration_ms"])'
}
q c1 add service date=2024-05-01 service_type=visit domain=elderly total=1 >/dev/null
python3 "$(dirname "$0")/tcp_flood.py" "$PORT" 6 100 5 >"$T/flood.out" &
FL=$!
sleep 2
s=$(ctl agg '{"cmd":"status"}')
[ "$(jget "$s" net.unauthenticated)" -le 32 ] || fail "unauthenticated budget not held: $s"
sync_ok "during a flood of 500 silent TCP sockets"
sync_ok "during the same flood, again"
wait "$FL"
s=$(ctl agg '{"cmd":"status"}')
[ "$(jget "$s" net.refused_per_address)" -gt 0 ] || fail "no per-address refusal: $s"
[ "$(jget "$s" net.dropped_unauthenticated)" -gt 0 ] || fail "no drop for the budget: $s"
ok "county synced through the TCP flood ($(cat "$T/flood.out"); $(jget "$s" net.refused_per_address) refused per address, $(jget "$s" net.dropped_unauthenticated) dropped)"
grep -c "refused a connection: .*max_unauthenticated" "$L" >"$T/nlines"
[ "$(cat "$T/nlines")" -le 4 ] || fail "the flood flooded the log: $(cat "$T/nlines") lines"

# 256 authenticated connections of 632323 that never send HELLO, 32 at a time
# from 8 addresses (within the per-address budget), while the county syncs
IDLE=()
for a in 2 3 4 5 6 7 8 9; do
    probe_as c2 --bind "127.0.0.$a" --many 4 --rounds 8 --idle >"$T/idle$a.out" &
    IDLE+=($!)
done
sleep 1
sync_ok "while 632323 holds silent authenticated connections"
for p in "${IDLE[@]}"; do wait "$p" || fail "idle probe: $(cat "$T"/idle*.out)"; done
grep -h "^rounds" "$T"/idle*.out | grep -v "rounds 8 handshakes" && fail "idle probes: $(cat "$T"/idle*.out)"
s=$(ctl agg '{"cmd":"status"}')
[ "$(jget "$s" net.replaced_sessions)" -gt 0 ] || fail "no session replaced: $s"
[ "$(jget "$s" net.hello_timeouts)" -gt 0 ] || fail "no HELLO timeout: $s"
ok "silent authenticated connections: $(jget "$s" net.replaced_sessions) replaced, $(jget "$s" net.hello_timeouts) timed out"

# one connection that stops after TLS, one that stops after WELCOME
out=$(probe_as c3 --hold 4 || true)
grep -q "^held" <<<"$out" && fail "a connection without HELLO was held for 4 s: $out"
wait_log "$L" "632324: no HELLO within 1000 ms of TLS"
out=$(probe_as c3 --hello 632324 --hold 5 || true)
grep -q "recv WELCOME" <<<"$out" || fail "no WELCOME: $out"
grep -q "^held" <<<"$out" && fail "an idle session was held for 5 s: $out"
wait_log "$L" "632324: idle for [0-9]* s"
s=$(ctl agg '{"cmd":"status"}')
[ "$(jget "$s" net.idle_timeouts)" -gt 0 ] || fail "idle timeout not counted: $s"
ok "HELLO and idle timeouts close silent sessions"

# everyone converged: the county's records are at the aggregator
[ "$(digest c1 632322)" = "$(digest agg 632322)" ] || fail "digests differ after the floods"
stop c1; stop agg
ok "digests equal, clean stop"
