#!/usr/bin/env bash
# The PKI lifecycle of deploy/pki/README.md with real daemons, as the
# provincial operator and a county would do it: create the CA; enrol the
# aggregator and a county (key and CSR made on the node, only the CSR and the
# certificate travel); sync; revoke the county, publish the CRL, SIGHUP the
# aggregator: refused; renew (new key, new certificate): sync again; replace the
# aggregator's certificate without touching any county; a new aggregator host
# name needs the counties' [upstream] host changed. Label quick.
. "$QS_SOURCE_DIR/tests/integration/daemon_lib.sh"
QS=$BIN/client/qianshou
CA=$T/province-ca          # the offline CA medium
INBOX=$T/province-inbox    # what reaches the province: CSRs only
OUTBOX=$T/province-outbox  # what the province sends back: certificates
mkdir -p "$INBOX" "$OUTBOX"
y=$(stamp $(($(date +%s) - 86400)))

"$PKI" ca-init "$CA" >/dev/null
[ "$(stat -c %a "$CA/ca.key")" = 600 ] || fail "ca.key mode"
ok "CA created; ca.key 0600"

enrol() { # dir id [dns]: key+CSR on the node, sign at the province, install
    local dir=$1 id=$2 dns=${3:-}
    if [ -n "$dns" ]; then
        "$PKI" node-key "$dir" "$id" --dns "$dns" --force >/dev/null
    else
        "$PKI" node-key "$dir" "$id" --force >/dev/null
    fi
    [ "$(stat -c %a "$dir/node.key")" = 600 ] || fail "$dir/node.key mode"
    cp "$dir/node.csr" "$INBOX/$id.csr"
    if [ -n "$dns" ]; then
        "$PKI" sign "$CA" "$INBOX/$id.csr" -o "$OUTBOX/$id.crt" --start "$y" --days 730 \
            --server-dns "$dns" >/dev/null
    else
        "$PKI" sign "$CA" "$INBOX/$id.csr" -o "$OUTBOX/$id.crt" --start "$y" --days 730 >/dev/null
    fi
    cp "$OUTBOX/$id.crt" "$dir/node.crt"
    cp "$CA/ca.crt" "$dir/ca.crt"
}
serial() { "$PKI" show "$1" | sed -n 's/^serial=//p'; }
publish_crl() {
    "$PKI" crl "$CA" -o "$OUTBOX/crl.pem" >/dev/null
    cp "$OUTBOX/crl.pem" "$T/crl.pem"
}
sync_ok() { # what
    local r; r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
    grep -q '"ok":true' <<<"$r" || fail "$1: sync failed: $r"
    grep -q '"peer":"630000"' <<<"$r" || fail "$1: sync peer: $r"
    LAST_SYNC=$r
}
sync_refused() { # what pattern
    local r; r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
    grep -q '"ok":false' <<<"$r" || fail "$1: sync should have failed: $r"
    [ -z "${2:-}" ] || grep -qi -- "$2" <<<"$r" || fail "$1: no \"$2\" in: $r"
    LAST_SYNC=$r
}

enrol "$T/agg" 630000 "$AGG_DNS"
publish_crl
enrol "$T/c1" 632322
c1_show=$("$PKI" show "$T/c1/node.crt"); agg_show=$("$PKI" show "$T/agg/node.crt")
grep -qx 'node_id=632322' <<<"$c1_show" || fail "county certificate CN: $c1_show"
grep -qx 'dns=' <<<"$c1_show" || fail "a county certificate got a DNS name: $c1_show"
grep -qx "dns=$AGG_DNS" <<<"$agg_show" || fail "aggregator DNS SAN: $agg_show"
keys=$(find "$CA" "$INBOX" "$OUTBOX" -name '*.key' -printf '%P\n')
[ "$keys" = ca.key ] || fail "private keys at the province besides ca.key: $keys"
ok "aggregator and county enrolled; only CSRs and certificates travelled"

agg_conf "$T/agg.ini"; county_conf "$T/c1.ini" c1 632322
sed -i "s|^ca = .*|ca = $T/c1/ca.crt|" "$T/c1.ini"
sed -i "s|^ca = .*|ca = $T/agg/ca.crt|" "$T/agg.ini"
"$QSD" -c "$T/agg.ini" --check >"$T/check.out" || fail "aggregator --check: $(cat "$T/check.out")"
"$QSD" -c "$T/c1.ini" --check >"$T/check.out" || fail "county --check: $(cat "$T/check.out")"
start agg "$T/agg.ini"
start c1 "$T/c1.ini"
"$QS" -d "$T/c1data" add station township=632322100 name=坎布拉镇社工站 >/dev/null
sync_ok "after enrolment"
records_synced() { # what: once the daemon syncs records, the county's are at the province
    if ! grep -q '"pushed"' <<<"$LAST_SYNC"; then
        echo "note: this qianshoud does not sync records yet (handshake only): $1 not compared"
        return 0
    fi
    local a b
    a=$("$QS" -d "$T/c1data" --json digest --scope 632322 | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
    b=$("$QS" -d "$T/aggdata" --json digest --scope 632322 | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
    [ "$a" = "$b" ] || fail "$1: county digest $a, province digest $b"
    ok "$1: the province holds the county's records (digest $a)"
}
records_synced "after enrolment"
ok "synced: $LAST_SYNC"

# Revoke (a stolen laptop): CRL to the aggregator, SIGHUP, refused.
old_serial=$(serial "$T/c1/node.crt")
"$PKI" revoke "$CA" "$CA/certs/$old_serial.pem" --reason keyCompromise >/dev/null
publish_crl
kill -HUP "$agg_PID"
wait_log "$T/agg.log" "reloaded certificates and CRL"
sync_refused "revoked"
wait_log "$T/agg.log" "refused a connection: .*revoked"
ok "revoked county refused after SIGHUP (county: $LAST_SYNC): $(grep 'refused a connection: .*revoked' "$T/agg.log" | tail -1)"

# Renew: a new key on the county, a new certificate from the province; reload.
cp "$T/c1/node.key" "$T/c1-old.key"
enrol "$T/c1" 632322
[ -f "$T/c1/node.key.old" ] || fail "node-key --force did not keep the old key"
cmp -s "$T/c1/node.key" "$T/c1-old.key" && fail "renewal kept the old key"
new_serial=$(serial "$T/c1/node.crt")
[ "$new_serial" != "$old_serial" ] || fail "renewal reused the serial"
r=$(ctl c1 '{"cmd":"reload"}'); grep -q '"ok":true' <<<"$r" || fail "county reload: $r"
"$QS" -d "$T/c1data" add station township=632322101 name=马克唐镇社工站 >/dev/null
sync_ok "after renewal"
records_synced "after renewal"
ok "renewed (serial $old_serial -> $new_serial) and synced again"

# Replace the aggregator's certificate (same host name): counties untouched.
county_sum=$(cat "$T/c1.ini" "$T/c1/ca.crt" "$T/c1/node.crt" | sha256sum)
agg_old=$(serial "$T/agg/node.crt")
enrol "$T/agg" 630000 "$AGG_DNS"
[ "$(serial "$T/agg/node.crt")" != "$agg_old" ] || fail "aggregator certificate not replaced"
kill -HUP "$agg_PID"
wait_log "$T/agg.log" "reloaded certificates and CRL"
# the aggregator's old certificate is superseded: revoke it too (as after a key compromise)
"$PKI" revoke "$CA" "$CA/certs/$agg_old.pem" --reason superseded >/dev/null
publish_crl
kill -HUP "$agg_PID"
sync_ok "after replacing the aggregator certificate"
[ "$(cat "$T/c1.ini" "$T/c1/ca.crt" "$T/c1/node.crt" | sha256sum)" = "$county_sum" ] \
    || fail "the county's files changed"
"$QSD" -c "$T/agg.ini" --check >/dev/null || fail "aggregator --check after replacement"
ok "aggregator certificate replaced (serial $agg_old -> $(serial "$T/agg/node.crt")); county unchanged and syncing"

# A new host name: counties still configured with the old one refuse it
# until their [upstream] host is changed (and the county restarted).
NEW_DNS=qianshou-agg2.test
enrol "$T/agg" 630000 "$NEW_DNS"
kill -HUP "$agg_PID"
sync_refused "new aggregator name, old county config" "host name mismatch"
ok "old name in the county config: $LAST_SYNC"
stop c1
sed -i "s|^host = .*|host = $NEW_DNS|" "$T/c1.ini"
start c1 "$T/c1.ini"
sync_ok "after changing the county's [upstream] host"
ok "county with the new host name syncs"
stop c1; stop agg
