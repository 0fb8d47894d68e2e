#!/usr/bin/env bash
# qs-pki's enrolment in one file, and its small tools: --help per command;
# fingerprint (the same for a key, its request and the certificate issued for
# it, 5 groups of 4 hex digits); bundle (sign + ca.crt + a filled config +
# CRL, for a county and for the aggregator) and install (refuses a bundle for
# another key, a file that is not a bundle, a changed config without --force;
# writes the config with its paths where the files went). The walk-through
# with real daemons is test_walkthrough.sh. Label quick.
. "$QS_SOURCE_DIR/tests/integration/daemon_lib.sh"

# --help of each command: its own usage, exit 0; the overall help lists all
all=$("$PKI" --help)
for c in ca-init node-key sign revoke crl show fingerprint bundle install; do
    out=$("$PKI" "$c" --help) || fail "$c --help exited $?"
    head -1 <<<"$out" | grep -q "^Usage: qs-pki $c " || fail "$c --help: $(head -1 <<<"$out")"
    [ "$(grep -c '^  [a-z-]* [A-Z]' <<<"$out")" -le 2 ] || fail "$c --help prints every command"
    grep -q "^  $c " <<<"$all" || fail "qs-pki --help lacks $c"
done
ok "--help per command"

"$PKI" ca-init "$T/ca" >/dev/null
"$PKI" ca-init "$T/other" --subject "/CN=Other CA" >/dev/null
mkdir -p "$T/county/etc/tls" "$T/agg/etc/tls" "$T/thief/etc/tls"
out=$("$PKI" node-key "$T/county/etc/tls" 632322)
fp=$("$PKI" fingerprint "$T/county/etc/tls/node.csr")
grep -Eq '^[0-9A-F]{4}( [0-9A-F]{4}){4}$' <<<"$fp" || fail "fingerprint form: $fp"
grep -qF "fingerprint $fp (read it to the province on the phone)" <<<"$out" || fail "node-key: $out"
[ "$("$PKI" fingerprint "$T/county/etc/tls/node.key")" = "$fp" ] || fail "key and request differ"
"$PKI" fingerprint "$T/ca/index.txt" >/dev/null 2>&1 && fail "fingerprint of a non-key"
"$PKI" node-key "$T/agg/etc/tls" 630000 --dns "$AGG_DNS" >/dev/null
"$PKI" node-key "$T/thief/etc/tls" 632322 >/dev/null
"$PKI" crl "$T/ca" -o "$T/crl.pem" >/dev/null

# bundle: what it refuses
b() { "$PKI" bundle "$T/ca" "$@" >"$T/out" 2>&1; }
b "$T/county/etc/tls/node.csr" -o "$T/x.tar" --host "$AGG_DNS" && fail "bundle without --address"
grep -q "needs --host NAME" "$T/out" || fail "$(cat "$T/out")"
b "$T/county/etc/tls/node.csr" -o "$T/x.tar" --host "$AGG_DNS" --address agg.example && fail "bundle with a name as --address"
b "$T/agg/etc/tls/node.csr" -o "$T/x.tar" --server-dns "$AGG_DNS" && fail "aggregator bundle without --crl"
b "$T/agg/etc/tls/node.csr" -o "$T/x.tar" --host "$AGG_DNS" --address 127.0.0.1 && fail "630000 as a client"
grep -q "is the province itself" "$T/out" || fail "$(cat "$T/out")"
[ ! -e "$T/x.tar" ] || fail "a refused bundle left a file"

b "$T/county/etc/tls/node.csr" -o "$T/632322.tar" --host "$AGG_DNS" --address 127.0.0.1 \
    --port "$PORT" --crl "$T/crl.pem" --days 365 || fail "county bundle: $(cat "$T/out")"
grep -qF "fingerprint $fp (the node read you the same" "$T/out" || fail "bundle fingerprint: $(cat "$T/out")"
[ "$(tar -tf "$T/632322.tar" | sort | tr '\n' ' ')" = "ca.crt crl.pem node.crt qianshoud.conf " ] \
    || fail "bundle holds $(tar -tf "$T/632322.tar")"
b "$T/agg/etc/tls/node.csr" -o "$T/630000.tar" --server-dns "$AGG_DNS" --port "$PORT" \
    --crl "$T/crl.pem" || fail "aggregator bundle: $(cat "$T/out")"
ok "bundles made: $(tr '\n' ' ' <"$T/out")"

# install: refusals first
i() { "$PKI" install "$@" >"$T/out" 2>&1; }
i "$T/632322.tar" --etc "$T/thief/etc" && fail "installed on a machine with another key"
grep -q "is not for this machine's key" "$T/out" || fail "$(cat "$T/out")"
[ ! -e "$T/thief/etc/qianshoud.conf" ] && [ ! -e "$T/thief/etc/tls/node.crt" ] || fail "refused install wrote files"
i "$T/crl.pem" --etc "$T/county/etc" && fail "installed a CRL as a bundle"
grep -q "is not a bundle" "$T/out" || fail "$(cat "$T/out")"
i "$T/632322.tar" --etc "$T/nowhere" && fail "install into a missing directory"
mkdir -p "$T/nokey/tls"
i "$T/632322.tar" --etc "$T/nokey" && fail "install without a key"
grep -q "make it first (qs-pki node-key $T/nokey/tls 632322)" "$T/out" || fail "$(cat "$T/out")"

i "$T/632322.tar" --etc "$T/county/etc" --data "$T/countydata" || fail "install: $(cat "$T/out")"
grep -q "next: qianshoud -c $T/county/etc/qianshoud.conf --check --connect" "$T/out" || fail "$(cat "$T/out")"
conf=$T/county/etc/qianshoud.conf
[ "$(stat -c %a "$conf")" = 640 ] || fail "config mode $(stat -c %a "$conf")"
for l in "id = 632322" "role = county" "data_dir = $T/countydata" "host = $AGG_DNS" \
    "address = 127.0.0.1" "port = $PORT" "ca = $T/county/etc/tls/ca.crt" \
    "cert = $T/county/etc/tls/node.crt" "key = $T/county/etc/tls/node.key" \
    "crl = $T/county/etc/tls/crl.pem"; do
    grep -qxF "$l" "$conf" || fail "config lacks \"$l\": $(cat "$conf")"
done
[ "$("$PKI" fingerprint "$T/county/etc/tls/node.crt")" = "$fp" ] || fail "installed certificate"
"$QSD" -c "$conf" --check >"$T/out" 2>&1 || fail "--check of the installed config: $(cat "$T/out")"
# the same bundle again: nothing changes; another one with other values: refused without --force
i "$T/632322.tar" --etc "$T/county/etc" --data "$T/countydata" || fail "reinstall: $(cat "$T/out")"
b "$T/county/etc/tls/node.csr" -o "$T/632322b.tar" --host other.test --address 127.0.0.2 || fail "bundle b"
i "$T/632322b.tar" --etc "$T/county/etc" --data "$T/countydata" && fail "a different config replaced without --force"
grep -q "exists and differs" "$T/out" || fail "$(cat "$T/out")"
grep -qxF "host = $AGG_DNS" "$conf" || fail "refused install changed the config"
i "$T/632322b.tar" --etc "$T/county/etc" --data "$T/countydata" --force || fail "--force: $(cat "$T/out")"
grep -qxF "host = other.test" "$conf" && grep -qxF "host = $AGG_DNS" "$conf.old" || fail "--force and .old"
ok "county install: refuses another key, a non-bundle, no key, a changed config; --force keeps .old"

i "$T/630000.tar" --etc "$T/agg/etc" --data "$T/aggdata" || fail "aggregator install: $(cat "$T/out")"
for l in "role = aggregator" "port = $PORT" "crl = $T/agg/etc/tls/crl.pem"; do
    grep -qxF "$l" "$T/agg/etc/qianshoud.conf" || fail "aggregator config lacks \"$l\""
done
"$QSD" -c "$T/agg/etc/qianshoud.conf" --check >"$T/out" 2>&1 || fail "aggregator --check: $(cat "$T/out")"
ok "aggregator bundle installs and checks"
