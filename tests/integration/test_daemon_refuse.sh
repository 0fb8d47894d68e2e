#!/usr/bin/env bash
# Refusals, each with a log line naming the reason; revocation after SIGHUP
# while an established connection stays up; wrong server DNS name; TLS 1.2;
# a HELLO whose node differs from the certificate; our own clock outside the
# certificate's window; bad config and node id mismatch in --check.
. "$(dirname "$0")/daemon_lib.sh"
make_pki
agg_conf "$T/agg.ini"
start agg "$T/agg.ini"
L=$T/agg.log

refused() { # what log-pattern probe-args...
    local what=$1 pat=$2; shift 2
    local out; out=$(probe "$@" || true)
    grep -q "recv WELCOME" <<<"$out" && fail "$what was accepted: $out"
    wait_log "$L" "refused a connection: .*$pat"
    ok "$what refused: $(grep "refused a connection: .*$pat" "$L" | tail -1)"
}
refused "no client certificate" "certificate" --no-cert --hello 632322
refused "other CA" "unknown CA" --raw --cert "$T/foreign/node.crt" --key "$T/foreign/node.key" --hello 632328
refused "expired" "expired" --raw --cert "$T/expired/node.crt" --key "$T/expired/node.key" --hello 632325
refused "not yet valid" "not yet valid" --raw --cert "$T/future/node.crt" --key "$T/future/node.key" --hello 632326
refused "revoked" "revoked" --raw --cert "$T/revoked/node.crt" --key "$T/revoked/node.key" --hello 632327
refused "TLS 1.2 client" "protocol version" --tls12 --cert "$T/c1/node.crt" --key "$T/c1/node.key"

# HELLO naming another node than the certificate: ERROR + close, logged
out=$(probe_as c1 --hello 632399 || true)
grep -q "recv ERROR.*certificate says 632322" <<<"$out" || fail "hello mismatch: $out"
wait_log "$L" "HELLO says node 632399 but its certificate says 632322"
ok "HELLO node differs from certificate CN"

# c2 holds an established connection; revoke c2, new CRL, SIGHUP
probe_as c2 --hello 632323 --hold 5 > "$T/held.out" &
HOLD=$!
wait_log "$T/held.out" "recv WELCOME"
"$PKI" revoke "$T/ca" "$T/c2/node.crt" >/dev/null
"$PKI" crl "$T/ca" -o "$T/crl.pem" >/dev/null
kill -HUP "$agg_PID"
wait_log "$L" "reloaded certificates and CRL"
refused "revoked after SIGHUP" "revoked" --raw --cert "$T/c2/node.crt" --key "$T/c2/node.key" --hello 632323
wait "$HOLD"
grep -q "^held" "$T/held.out" || fail "established connection dropped by SIGHUP: $(cat "$T/held.out")"
ok "established connection stayed up across SIGHUP"
out=$(probe_as c1 --hello 632322); grep -q "recv DONE" <<<"$out" || fail "c1 after reload: $out"
ok "others still served"

# a county certificate presented as the aggregator: the county refuses it (qs-pki
# issues county certificates for clientAuth only, so it fails on its extended key
# usage before its host name is looked at; the host name case follows)
stop agg
AGG_CHILDREN= AGG_CERT=$T/c3/node.crt AGG_KEY=$T/c3/node.key agg_conf "$T/fake.ini"
sed -i "s|aggdata|fakedata|; s|id = 630000|id = 632324|" "$T/fake.ini"
start fake "$T/fake.ini"
county_conf "$T/c1.ini" c1 632322
start c1 "$T/c1.ini"
r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
grep -q '"ok":false' <<<"$r" || fail "county certificate accepted as the aggregator's: $r"
grep -qi 'not usable for TLS (extended key usage)' <<<"$r" || fail "county certificate as aggregator, reason: $r"
grep -qi "extended key usage" "$T/c1.log" || fail "county did not log the extended key usage"
s=$(ctl c1 '{"cmd":"status"}'); grep -qi 'extended key usage' <<<"$s" || fail "status last_error: $s"
ok "county certificate as aggregator refused: $r"
# --check --connect says which part failed: TLS (the certificate's purpose) here,
# the host name below, TCP once nothing listens, and passes against the real
# aggregator (further below)
set +e; out=$("$QSD" -c "$T/c1.ini" --check --connect 2>&1); rc=$?; set -e
[ $rc = 3 ] && grep -q "TLS handshake with 127.0.0.1:$PORT (host qianshou-agg.test) failed: .*extended key usage" <<<"$out" ||
    fail "--check --connect on a county certificate: $rc $out"
stop c1; stop fake
set +e; out2=$("$QSD" -c "$T/c1.ini" --check --connect 2>&1); rc=$?; set -e
[ $rc = 3 ] && grep -q "TCP connection to 127.0.0.1:$PORT (host qianshou-agg.test) failed: connect: connection refused" <<<"$out2" ||
    fail "--check --connect with nothing listening: $rc $out2"
ok "--check --connect: $(grep "failed" <<<"$out") | $(grep "failed" <<<"$out2")"

# a server certificate for another host name: the county names both
"$PKI" sign "$T/ca" "$T/agg/node.csr" -o "$T/agg/other.crt" --server-dns other-agg.test >/dev/null
AGG_CERT=$T/agg/other.crt agg_conf "$T/other.ini"
sed -i "s|aggdata|otherdata|" "$T/other.ini"
start other "$T/other.ini"
start c1 "$T/c1.ini"
r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
grep -q '"ok":false' <<<"$r" || fail "wrong DNS accepted: $r"
grep -qi 'host name mismatch: it names other-agg.test, but \[upstream\] host is qianshou-agg.test' <<<"$r" || fail "wrong DNS reason: $r"
grep -qi "host name mismatch" "$T/c1.log" || fail "county did not log host name mismatch"
s=$(ctl c1 '{"cmd":"status"}'); grep -qi 'host name mismatch' <<<"$s" || fail "status last_error: $s"
set +e; out3=$("$QSD" -c "$T/c1.ini" --check --connect 2>&1); rc=$?; set -e
[ $rc = 3 ] && grep -q "TLS handshake with 127.0.0.1:$PORT (host qianshou-agg.test) failed: .*host name mismatch" <<<"$out3" ||
    fail "--check --connect on a wrong host: $rc $out3"
ok "aggregator certificate for another host name refused: $r; $(grep failed <<<"$out3")"
stop c1; stop other

# our own certificate outside its window by the clock hook: a clock problem
out=$(QIANSHOU_CLOCK_OFFSET=+3000d "$QSD" -c "$T/c1.ini" --check 2>&1) && fail "check passed with a bad clock"
grep -q "this machine's clock says" <<<"$out" || fail "clock check: $out"
QIANSHOU_CLOCK_OFFSET=+3000d "$QSD" -c "$T/c1.ini" 2>"$T/clock.log" && fail "daemon started with a bad clock"
grep -q "ERROR clock: this machine's clock says" "$T/clock.log" || fail "clock: $(cat "$T/clock.log")"
ok "own certificate outside its window reports the clock: $out"

# --check: good, bad config, node id mismatch (config vs certificate, config vs store)
"$QSD" -c "$T/agg.ini" --check >"$T/check.out" || fail "check on a good config: $(cat "$T/check.out")"
grep -q "^crl: .*next update" "$T/check.out" || fail "check prints no CRL expiry"
grep -q "^certificate: node 630000, valid from" "$T/check.out" || fail "check prints no cert expiry"
printf '[node]\nid = 632322\nrole = county\ndata_dir = %s/x\n[upstream]\nport = 99999\n' "$T" > "$T/bad.ini"
set +e; out=$("$QSD" -c "$T/bad.ini" --check 2>&1); rc=$?; set -e
[ $rc = 3 ] || fail "bad config exit $rc"
[ "$out" = "qianshoud: config $T/bad.ini:6: [upstream] port: \"99999\" is not a port number (1..65535)" ] \
    || fail "bad config message (file:line, no stray ': :'): $out"
printf '[node]\nid = 632322\nrole = county\ndata_dir = %s/x\n' "$T" > "$T/bad2.ini"
set +e; out2=$("$QSD" -c "$T/bad2.ini" --check 2>&1); rc=$?; set -e
[ $rc = 3 ] && grep -q "\[upstream\] host: missing" <<<"$out2" || fail "missing key: $rc $out2"
printf '[node]\nid = 632322\ncolour = blue\n' > "$T/bad3.ini"
set +e; out3=$("$QSD" -c "$T/bad3.ini" 2>&1); rc=$?; set -e
[ $rc = 3 ] && [ "$out3" = "qianshoud: config $T/bad3.ini:3: [node] colour: unknown key" ] \
    || fail "unknown key: $rc $out3"
printf '[node]\nid 632322\n' > "$T/bad5.ini"
set +e; out5=$("$QSD" -c "$T/bad5.ini" 2>&1); rc=$?; set -e
[ $rc = 3 ] && grep -q "^qianshoud: config $T/bad5.ini:2: not INI syntax" <<<"$out5" || fail "syntax: $rc $out5"
{ cat "$T/agg.ini"; printf 'store_queue = 0\n'; } > "$T/bad4.ini"
set +e; out4=$("$QSD" -c "$T/bad4.ini" --check 2>&1); rc=$?; set -e
[ $rc = 3 ] && grep -q "\[limits\] store_queue: \"0\" is not a number (1..4096)" <<<"$out4" ||
    fail "store_queue 0: $rc $out4"
ok "bad config: $out | $out2 | $out3"
sed "s/id = 632322/id = 632323/" "$T/c1.ini" > "$T/mis.ini"
set +e; out=$("$QSD" -c "$T/mis.ini" --check 2>&1); rc=$?; set -e
[ $rc = 3 ] && grep -q "node id mismatch: the config says 632323 .* says 632322" <<<"$out" || fail "cert mismatch: $rc $out"
# store made for 632322, config and cert for 632323 (c2)
county_conf "$T/m2.ini" c2 632323; sed -i "s|c2data|c1data|" "$T/m2.ini"
set +e; out2=$("$QSD" -c "$T/m2.ini" --check 2>&1); rc=$?; set -e
[ $rc = 3 ] && grep -q "store in .* belongs to 632322" <<<"$out2" || fail "store mismatch: $rc $out2"
ok "node id mismatch: $out | $out2"

# a county given the CA's CRL ([upstream] crl) refuses a revoked aggregator
# certificate (a stolen aggregator key), after its own SIGHUP reload
start agg "$T/agg.ini"
county_conf "$T/c1crl.ini" c1 632322 "crl = $T/crl.pem"
start c1 "$T/c1crl.ini"
r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
grep -q '"ok":true' <<<"$r" || fail "county with a CRL: $r"
out=$("$QSD" -c "$T/c1crl.ini" --check --connect) || fail "--check --connect: $out"
grep -q "^connect: TCP to 127.0.0.1:$PORT ok; TLS 1.3 ok: the aggregator's certificate names node 630000" <<<"$out" ||
    fail "--check --connect: $out"
"$PKI" revoke "$T/ca" "$T/agg/node.crt" >/dev/null
"$PKI" crl "$T/ca" -o "$T/crl.pem" >/dev/null
kill -HUP "$c1_PID"
wait_log "$T/c1.log" "reloaded certificates and CRL"
r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
grep -q '"ok":false' <<<"$r" && grep -q "certificate revoked" <<<"$r" || fail "revoked aggregator accepted: $r"
ok "a county with the CRL refuses the revoked aggregator certificate: $(grep -o '"error":"[^"]*"' <<<"$r")"
stop c1; stop agg
