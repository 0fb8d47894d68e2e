#!/usr/bin/env bash
# County <-> aggregator handshake with real daemons; status/nodes over the
# control socket; a sync with wait; bytes one at a time; a second daemon on
# the same data dir is refused; clean stop.
. "$(dirname "$0")/daemon_lib.sh"
make_pki
agg_conf "$T/agg.ini"; county_conf "$T/c1.ini" c1 632322
start agg "$T/agg.ini"
start c1 "$T/c1.ini"
wait_log "$T/c1.log" "session: connected to 630000"
wait_log "$T/agg.log" "session: connected to 632322"
ok "both log each other's node id"

r=$(ctl c1 '{"cmd":"sync","wait":true,"timeout":20}')
grep -q '"ok":true' <<<"$r" || fail "sync: $r"
grep -q '"peer":"630000"' <<<"$r" || fail "sync peer: $r"
grep -q '"skew_ms"' <<<"$r" || fail "sync skew: $r"
ok "sync --wait: $r"

s=$(ctl c1 '{"cmd":"status"}')
for k in '"role":"county"' '"node":"632322"' '"upstream":"630000"' '"pending":0' '"skew_ms"' \
         '"last_ok":"20' '"cert":{' '"link":"idle"'; do
    grep -q "$k" <<<"$s" || fail "county status lacks $k: $s"
done
ok "county status: $s"
n=$(ctl agg '{"cmd":"nodes"}')
grep -q '"node":"632322"' <<<"$n" || fail "nodes: $n"
grep -q '"skew_ms"' <<<"$n" || fail "nodes skew: $n"
grep -q '"last_ok":"20' <<<"$n" || fail "nodes last_ok: $n"
ok "aggregator nodes: $n"
a=$(ctl agg '{"cmd":"status"}')
grep -q '"crl":{' <<<"$a" || fail "agg status crl: $a"
grep -q '"role":"aggregator"' <<<"$a" || fail "agg status: $a"
e=$(ctl agg '{"cmd":"bogus"}'); grep -q '"ok":false' <<<"$e" || fail "unknown cmd: $e"
e=$(ctl agg '{"cmd":"sync"}'); grep -q 'no upstream' <<<"$e" || fail "agg sync: $e"
[ "$(stat -c %a "$T/aggdata/qianshoud.sock")" = 660 ] || fail "socket mode"
ok "aggregator status, unknown command, socket mode 0660"

# bytes one at a time: HELLO dripped byte by byte still gets WELCOME
out=$(probe_as c2 --hello 632323 --bytewise)
grep -q "recv WELCOME" <<<"$out" || fail "bytewise: $out"
grep -q "recv DONE" <<<"$out" || fail "bytewise done: $out"
ok "bytes one at a time"

# a second daemon on the same data dir is refused, with a sentence
if "$QSD" -c "$T/agg.ini" 2>"$T/second.log"; then fail "second daemon started"; fi
grep -q "another qianshoud holds the lock" "$T/second.log" || fail "second: $(cat "$T/second.log")"
ok "second daemon refused: $(cat "$T/second.log")"

# reload over the control socket
r=$(ctl agg '{"cmd":"reload"}'); grep -q '"ok":true' <<<"$r" || fail "reload: $r"
wait_log "$T/agg.log" "reloaded certificates"
stop c1; stop agg
grep -q "INFO daemon: stopped" "$T/agg.log" || fail "agg did not stop cleanly"
[ -e "$T/aggdata/qianshoud.sock" ] && fail "socket left behind"
ok "clean stop"
