#!/usr/bin/env bash
# Clock trouble through the one hook (QIANSHOU_CLOCK_OFFSET): a county 5 hours
# ahead and one 3 days behind (90-day certificates issued 10 days ago)
# converge; the skew shows in the county's status and the aggregator's
# nodes; the county ahead does not drag the aggregator's clock (beyond the
# maximum offset: logged, not moved). A county a year ahead of its 90-day
# certificate gets the clock message, not a TLS error. A county run once 800
# days ahead and then with the right clock is reported with ~0 skew (measured
# from wall clocks, not its HLC). The CLI refuses to write (exit 3, the same
# sentence) under a clock outside the certificate's window, and warns under one
# far behind the store's last clock reading.
. "$(dirname "$0")/fault_lib.sh"
make_pki
now=$(date +%s); from=$(stamp $((now - 10 * 86400)))
# qs-pki's CA starts now; a county days behind needs one issued a month ago:
# the same key and subject, self-signed again with an earlier start.
subj=$(openssl x509 -in "$T/ca/ca.crt" -noout -subject -nameopt compat | sed 's/^subject=//')
QS_CA_DIR=$T/ca openssl req -config "$T/ca/openssl.cnf" -new -key "$T/ca/ca.key" -subj "$subj" -out "$T/ca/ca.csr"
QS_CA_DIR=$T/ca openssl ca -config "$T/ca/openssl.cnf" -batch -notext -selfsign -keyfile "$T/ca/ca.key" \
    -in "$T/ca/ca.csr" -startdate "$(stamp $((now - 30 * 86400)))" -enddate "$(stamp $((now + 3000 * 86400)))" \
    -extensions qs_ca_ext -out "$T/ca/ca.new" 2>/dev/null
mv "$T/ca/ca.new" "$T/ca/ca.crt"
"$PKI" sign "$T/ca" "$T/agg/node.csr" -o "$T/agg/early.crt" --start "$from" --days 1000 --server-dns $AGG_DNS >/dev/null
for n in c1 c2 c3; do "$PKI" sign "$T/ca" "$T/$n/node.csr" -o "$T/$n/node.crt" --start "$from" --days 90 >/dev/null; done
# the aggregator takes c4 (632321, below) as a child too ([listen] children)
AGG_CHILDREN="632322 632323 632324 632321" AGG_CERT=$T/agg/early.crt agg_conf "$T/agg.ini"
county_conf "$T/c1.ini" c1 632322
county_conf "$T/c2.ini" c2 632323
county_conf "$T/c3.ini" c3 632324
q agg init --node 630000 --role aggregator >/dev/null
for n in c1:632322 c2:632323; do
    c=${n%:*}; id=${n#*:}
    q $c init --node "$id" --role county >/dev/null
    services_csv "$T/$c.csv" 100 "$c"; QIANSHOU_CLOCK_OFFSET=$([ $c = c1 ] && echo +5h || echo -3d) q $c import service "$T/$c.csv" >/dev/null
done
start agg "$T/agg.ini"
QIANSHOU_CLOCK_OFFSET=+5h start c1 "$T/c1.ini"
QIANSHOU_CLOCK_OFFSET=-3d start c2 "$T/c2.ini"
sync_until c1 5; sync_until c2 5
near() { python3 -c "import sys; sys.exit(0 if abs($1 - ($2)) < 120000 else 1)"; }
s1=$(jget "$(q c1 status --json)" skew_ms); s2=$(jget "$(q c2 status --json)" skew_ms)
near "$s1" "-5*3600000" || fail "county 5 h ahead: status skew_ms $s1, want about -18000000 (the aggregator's clock - ours)"
near "$s2" "3*86400000" || fail "county 3 days behind: status skew_ms $s2, want about +259200000"
nodes=$(q agg nodes --json)
n1=$(python3 -c 'import json,sys; print([n["skew_ms"] for n in json.loads(sys.argv[1])["nodes"] if n["node"]=="632322"][0])' "$nodes")
n2=$(python3 -c 'import json,sys; print([n["skew_ms"] for n in json.loads(sys.argv[1])["nodes"] if n["node"]=="632323"][0])' "$nodes")
near "$n1" "5*3600000" || fail "aggregator's nodes: 632322 skew $n1, want about +18000000"
near "$n2" "-3*86400000" || fail "aggregator's nodes: 632323 skew $n2, want about -259200000"
ok "skew: county +5h status $s1 ms, nodes $n1 ms; county -3d status $s2 ms, nodes $n2 ms"
for c in c1:632322 c2:632323; do
    [ "$(digest ${c%:*} ${c#*:})" = "$(digest agg ${c#*:})" ] || fail "${c%:*} did not converge"
done
grep -q "632322's clock reading (HLC) is .* ahead of ours: beyond the maximum offset, our clock was not moved" "$T/agg.log" || fail "the aggregator did not refuse the 5 h reading"
# the aggregator's own clock was not dragged: a record it writes now is stamped now, not +5h
id=$(q agg add agency name=时钟检查 role=receiving province=青海省 | tail -n1)
ms=$(q agg show "$id" --json | python3 -c '
import json, sys, datetime
h = json.load(sys.stdin)["hlc"].split("Z")[0]
print(int(datetime.datetime.fromisoformat(h).replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))')
near "$ms" "$(date +%s%3N)" || fail "the aggregator's new record is stamped $ms, not now: its clock was dragged"
ok "both converged; the aggregator's clock was not dragged (reading refused and logged)"
# ---- a county run once with its clock 800 days ahead (a 1000-day certificate, so
# the daemon runs), then with the right clock: its HLC stays 800 days ahead (it
# never goes back), but the skew the province reports is measured from the wall
# clocks at the handshake, so it is about 0 again, not 800 days.
"$PKI" node-key "$T/c4" 632321 >/dev/null
"$PKI" sign "$T/ca" "$T/c4/node.csr" -o "$T/c4/node.crt" --start "$from" --days 1000 >/dev/null
county_conf "$T/c4.ini" c4 632321
q c4 init --node 632321 --role county >/dev/null
skew_at_agg() { q agg nodes --json | python3 -c 'import json,sys; print([n["skew_ms"] for n in json.load(sys.stdin)["nodes"] if n["node"]==sys.argv[1]][0])' "$1"; }
QIANSHOU_CLOCK_OFFSET=+800d start c4 "$T/c4.ini"
QIANSHOU_CLOCK_OFFSET=+800d q c4 add service date=2024-05-01 service_type=visit domain=elderly total=1 >/dev/null \
    || fail "the CLI refused to write 800 days ahead, inside the certificate's 1000 days"
sync_until c4 5
n4=$(skew_at_agg 632321)
near "$n4" "800*86400000" || fail "while 800 days ahead: nodes skew $n4, want about +69120000000"
stop c4
start c4 "$T/c4.ini"
sync_until c4 5
n4=$(skew_at_agg 632321); s4=$(jget "$(q c4 status --json)" skew_ms)
near "$n4" 0 || fail "county 800 days ahead once, now right: the province reports skew $n4 ms, want about 0"
near "$s4" 0 || fail "county 800 days ahead once, now right: its status says skew $s4 ms, want about 0"
[ "$(digest c4 632321)" = "$(digest agg 632321)" ] || fail "c4 did not converge"
ok "800 days ahead once, then right: the province reports skew $n4 ms, the county $s4 ms (was ~69120000000)"

# ---- the CLI applies the daemon's clock rule: c4's daemon recorded its
# certificate's window (from 10 days ago, 1000 days) in the store.
before=$(count c4 service)
for off in +1100d -30d; do
    set +e
    out=$(QIANSHOU_CLOCK_OFFSET=$off q c4 add service date=2024-05-02 service_type=visit domain=elderly total=2 2>&1); rc=$?
    services_csv "$T/c4.csv" 3 c4
    iout=$(QIANSHOU_CLOCK_OFFSET=$off q c4 import service "$T/c4.csv" 2>&1); irc=$?
    set -e
    [ "$rc" = 3 ] && [ "$irc" = 3 ] || fail "CLI at $off: add exit $rc, import exit $irc, want 3: $out / $iout"
    grep -q "this machine's clock says .* but our certificate (node 632321) is valid from" <<<"$out" \
        || fail "CLI at $off: not the daemon's clock sentence: $out"
    grep -q "this machine's clock says" <<<"$iout" || fail "import at $off: $iout"
done
[ "$(count c4 service)" = "$before" ] || fail "a refused CLI wrote records: $(count c4 service), was $before"
ok "CLI outside the certificate's window refused (exit 3): $(head -1 <<<"$out")"
# The store's clock is still 800 days ahead (the +800d run): a write with the
# right clock goes on, with a warning that new records are stamped after it.
out=$(q c4 add service date=2024-05-03 service_type=visit domain=elderly total=3 2>&1 >/dev/null) \
    || fail "CLI with the right clock refused: $out"
grep -q "warning: this machine's clock says .* but this store's clock last read .* days later: either the clock went back" <<<"$out" \
    || fail "no warning for a clock far behind the store's last reading: $out"
ok "clock behind the store's last reading: warned, written: $out"
stop c4

# ---- a year ahead of a 90-day certificate
q c3 init --node 632324 --role county >/dev/null
set +e
QIANSHOU_CLOCK_OFFSET=+365d timeout 10 "$QSD" -c "$T/c3.ini" 2>"$T/c3.log"; rc=$?
set -e
grep -q "this machine's clock says" "$T/c3.log" || fail "no clock message for a county a year ahead: $(cat "$T/c3.log")"
grep -q "valid from" "$T/c3.log" || fail "the clock message does not give the certificate's window"
[ "$rc" = 3 ] || fail "qianshoud a year ahead exited $rc, want 3"
ok "a year ahead: $(grep -o "this machine's clock says.*" "$T/c3.log" | head -1)"
stop c1; stop c2; stop agg
