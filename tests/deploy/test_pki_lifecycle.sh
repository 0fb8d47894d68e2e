#!/usr/bin/env bash
# The PKI lifecycle of deploy/pki/README.md with real daemons, as the
# provincial operator and a county would do it: create the CA; enrol the
# aggregator and a county (key and CSR made on the node, only the CSR and the
# certificate travel); sync; revoke the county, publish the CRL, SIGHUP the
# aggregator: refused; renew (new key, new certificate): sync again; replace the
# aggregator's certificate without touching any county; a new aggregator host
# name needs the counties' [upstream] host changed. Before any of that, what
# the CA refuses to sign (DESIGN.md "Corrections found by testing": a parent
# accepts as children only nodes strictly below it; server certificates are
# serverAuth only). Label quick.
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
[ "$(cat "$CA/province")" = 630000 ] || fail "ca-init without --province: $(cat "$CA/province")"

# --- What the CA signs -------------------------------------------------------
# CSRs made with openssl (node-key itself refuses some of these ids early).
R=$T/requests; mkdir -p "$R"
csr() { # name subject
    [ -f "$R/key.pem" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$R/key.pem" 2>/dev/null
    openssl req -new -key "$R/key.pem" -subj "$2" -out "$R/$1.csr"
}
eku() { openssl x509 -in "$1" -noout -ext extendedKeyUsage 2>/dev/null | tail -n +2 | tr -d ' '; }
refused() { # ca name why [sign options...]: sign must fail, say why, issue nothing
    local ca=$1 name=$2 why=$3; shift 3
    local before; before=$(wc -l <"$ca/index.txt")
    if "$PKI" sign "$ca" "$R/$name.csr" -o "$R/$name.refused.crt" "$@" >"$R/out" 2>&1; then
        fail "sign $name $*: issued, should be refused"
    fi
    grep -q -- "$why" "$R/out" || fail "sign $name $*: no \"$why\" in: $(cat "$R/out")"
    [ ! -e "$R/$name.refused.crt" ] || fail "sign $name: refused but wrote a certificate"
    [ "$(wc -l <"$ca/index.txt")" = "$before" ] || fail "sign $name: refused but the CA database grew"
    echo "  refused $name $*: $(cat "$R/out")"
}
issued() { # ca name usage(client|server) [sign options...]: writes $R/name.usage.crt
    local ca=$1 name=$2 want=$3; shift 3
    local crt=$R/$name.$want.crt
    "$PKI" sign "$ca" "$R/$name.csr" -o "$crt" "$@" >"$R/out" 2>&1 \
        || fail "sign $name $*: refused: $(cat "$R/out")"
    local u; u=$("$PKI" show "$crt" | sed -n 's/^usage=//p')
    [ "$u" = "$want" ] || fail "$name: qs-pki show says usage=$u, want $want"
    case $want in
    client) [ "$(eku "$crt")" = "TLSWebClientAuthentication" ] \
                || fail "$name: extendedKeyUsage $(eku "$crt"), want clientAuth only" ;;
    server) [ "$(eku "$crt")" = "TLSWebServerAuthentication" ] \
                || fail "$name: extendedKeyUsage $(eku "$crt"), want serverAuth only" ;;
    esac
    echo "  issued $name $*: $(eku "$crt")"
}
for id in 000000 630000 620000 622301 632300 632322 632322100 630022 632322000 63232 6323221 \
    6323221001 63232a 600100; do
    csr "$id" "/CN=$id"
done
csr garbage "/CN=qianshou-agg.test"
csr nocn "/O=Qianshou/OU=632322"
csr twocn "/CN=632322/CN=630000"
refused "$CA" 000000 "not a GB/T 2260 division code"
refused "$CA" 630000 "is the province itself"
refused "$CA" 620000 "outside this CA's province 630000"
refused "$CA" 622301 "outside this CA's province 630000"
refused "$CA" 632300 "is a prefecture"
for id in 630022 632322000 63232 6323221 6323221001 63232a 600100 garbage nocn; do
    refused "$CA" "$id" "not a GB/T 2260 division code"
done
refused "$CA" twocn "has 2 CNs"
issued "$CA" 632322 client
issued "$CA" 632322100 client
# A server certificate: an explicit flag, serverAuth only, a code in the province.
issued "$CA" 630000 server --server-dns "$AGG_DNS"
issued "$CA" 632300 server --server-dns prefecture.test
issued "$CA" 632322 server --server-dns county-parent.test
refused "$CA" 632322100 "is a township" --server-dns township.test
refused "$CA" 620000 "outside this CA's province 630000" --server-dns other-province.test
refused "$CA" 000000 "not a GB/T 2260 division code" --server-dns zero.test
# What the TLS stack checks (OpenSSL's purposes): a county's certificate cannot
# serve, the aggregator's cannot log in as a client.
openssl verify -CAfile "$CA/ca.crt" -purpose sslclient "$R/632322.client.crt" >/dev/null || fail "county cert: not a client"
openssl verify -CAfile "$CA/ca.crt" -purpose sslserver "$R/632322.client.crt" >/dev/null 2>&1 && fail "county cert verifies as a server"
openssl verify -CAfile "$CA/ca.crt" -purpose sslserver "$R/630000.server.crt" >/dev/null || fail "aggregator cert: not a server"
openssl verify -CAfile "$CA/ca.crt" -purpose sslclient "$R/630000.server.crt" >/dev/null 2>&1 && fail "aggregator cert verifies as a client"
# node-key refuses early what sign would refuse.
"$PKI" node-key "$R/nk1" 630000 >"$R/out" 2>&1 && fail "node-key 630000 without --dns succeeded"
grep -q "is a province" "$R/out" || fail "node-key 630000: $(cat "$R/out")"
"$PKI" node-key "$R/nk2" 632322100 --dns x.test >"$R/out" 2>&1 && fail "node-key of a township with --dns succeeded"
"$PKI" node-key "$R/nk3" 632300 >/dev/null 2>&1 && fail "node-key 632300 without --dns succeeded"
"$PKI" node-key "$R/nk4" 632322100 >/dev/null || fail "node-key of a township"
ok "sign refuses 000000, 630000, 620000, 632300, garbage; issues 632322 and 632322100 (clientAuth only) and servers (serverAuth only)"

# The CA's province: ca-init --province, kept in CADIR/province; a CA directory
# without the file (made before it existed) is Qinghai's.
"$PKI" ca-init "$T/ca-gansu" --province 620000 >/dev/null
refused "$T/ca-gansu" 632322 "outside this CA's province 620000"
refused "$T/ca-gansu" 620000 "is the province itself"
issued "$T/ca-gansu" 622301 client
issued "$T/ca-gansu" 620000 server --server-dns gansu-agg.test
rm "$T/ca-gansu/province"
issued "$T/ca-gansu" 632322100 client
echo 632300 >"$T/ca-gansu/province"
refused "$T/ca-gansu" 632322 "not a province code"
"$PKI" ca-init "$T/ca-bad" --province 632300 >"$R/out" 2>&1 && fail "ca-init --province 632300 succeeded"
grep -q "not a province code" "$R/out" || fail "ca-init --province 632300: $(cat "$R/out")"
"$PKI" ca-init "$T/ca-bad" --province 600000 >"$R/out" 2>&1 && fail "ca-init --province 600000 (no such province) succeeded"
ok "the CA's province: --province 620000 signs 62 only; no province file means 630000"

# The recipe in deploy/pki/README.md for a test that needs a forged client
# certificate at or above the county level: openssl with the CA's own files.
QS_CA_DIR=$CA openssl x509 -req -in "$R/630000.csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" \
    -CAcreateserial -CAserial "$R/forged.srl" -days 30 -extfile "$CA/openssl.cnf" -extensions qs_client \
    -out "$R/forged-630000.crt" 2>/dev/null || fail "the README's openssl x509 recipe failed"
[ "$(eku "$R/forged-630000.crt")" = TLSWebClientAuthentication ] || fail "forged: $(eku "$R/forged-630000.crt")"
openssl verify -CAfile "$CA/ca.crt" -purpose sslclient "$R/forged-630000.crt" >/dev/null || fail "forged cert does not verify"
QS_CA_DIR=$CA openssl ca -config "$CA/openssl.cnf" -batch -notext -extensions qs_client -days 30 \
    -in "$R/632300.csr" -out "$R/forged-632300.crt" 2>/dev/null || fail "the README's openssl ca recipe failed"
[ "$(eku "$R/forged-632300.crt")" = TLSWebClientAuthentication ] || fail "forged: $(eku "$R/forged-632300.crt")"
ok "the README's recipes forge a clientAuth certificate for 630000 and 632300 with openssl"

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
grep -qx 'usage=client' <<<"$c1_show" || fail "county certificate usage: $c1_show"
grep -qx 'usage=server' <<<"$agg_show" || fail "aggregator certificate usage: $agg_show"
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
[ "$(eku "$T/c1/node.crt")" = TLSWebClientAuthentication ] || fail "renewed county cert: $(eku "$T/c1/node.crt")"
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
[ "$(eku "$T/agg/node.crt")" = TLSWebServerAuthentication ] || fail "replaced aggregator cert: $(eku "$T/agg/node.crt")"
# and the one left beside node.key.old cannot log in as a client either
[ "$(eku "$CA/certs/$agg_old.pem")" = TLSWebServerAuthentication ] || fail "old aggregator cert: $(eku "$CA/certs/$agg_old.pem")"
[ -f "$T/agg/node.key.old" ] || fail "aggregator renewal did not keep node.key.old"
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
