#!/usr/bin/env bash
# sd_notify: READY=1 once the control socket (and, on the aggregator, the
# listener) is up; WATCHDOG=1 every WATCHDOG_USEC/2 from the main process;
# STOPPING=1 on SIGTERM; no watchdog when WATCHDOG_PID names another process;
# a dead NOTIFY_SOCKET does not stop the daemon. Label quick.
. "$QS_SOURCE_DIR/tests/integration/daemon_lib.sh"
LISTEN=$SRC/tests/deploy/notify_listen.py
make_pki
agg_conf "$T/agg.ini"; county_conf "$T/c1.ini" c1 632322

listener() { # name: start a stand-in notify socket, $T/name.sock -> $T/name.out
    python3 "$LISTEN" "$T/$1.sock" "$T/$1.out" &
    PIDS+=("$!")
    for _ in $(seq 50); do grep -q LISTENING "$T/$1.out" 2>/dev/null && return 0; sleep 0.1; done
    fail "notify listener $1 did not start"
}
count() { grep -c -x -- "$2" "$T/$1.out" || true; }

listener aggn
NOTIFY_SOCKET=$T/aggn.sock WATCHDOG_USEC=400000 start agg "$T/agg.ini"
wait_log "$T/aggn.out" '^READY=1$'
grep -q '^STATUS=listening$' "$T/aggn.out" || fail "no STATUS with READY: $(cat "$T/aggn.out")"
# READY must not come before the listener: the log line precedes it
grep -q "listening on 127.0.0.1:$PORT" "$T/agg.log" || fail "READY before the listener"
[ -S "$T/aggdata/qianshoud.sock" ] || fail "READY before the control socket"
ok "aggregator READY=1 after the listener and the control socket"

sleep 1.2
n=$(count aggn WATCHDOG=1)
[ "$n" -ge 4 ] || fail "only $n watchdog pings in 1.2 s at WATCHDOG_USEC=400000"
[ "$n" -le 12 ] || fail "$n watchdog pings in 1.2 s: faster than every 200 ms"
others=$(grep '^PID=' "$T/aggn.out" | grep -v -x "PID=$agg_PID" || true)
[ -z "$others" ] || fail "notifications from another process than the daemon: $others"
ok "$n watchdog pings in 1.2 s, all from the main process $agg_PID"

# a county with WATCHDOG_PID naming another process: READY, but no pings
listener c1n
NOTIFY_SOCKET=$T/c1n.sock WATCHDOG_USEC=200000 WATCHDOG_PID=1 start c1 "$T/c1.ini"
wait_log "$T/c1n.out" '^READY=1$'
grep -q '^STATUS=running$' "$T/c1n.out" || fail "county STATUS: $(cat "$T/c1n.out")"
sleep 0.6
[ "$(count c1n WATCHDOG=1)" = 0 ] || fail "watchdog pings although WATCHDOG_PID is another process"
ok "county READY=1; no watchdog for another WATCHDOG_PID"

stop c1; stop agg
wait_log "$T/aggn.out" '^STOPPING=1$'
wait_log "$T/c1n.out" '^STOPPING=1$'
r=$(grep -n -x 'READY=1' "$T/aggn.out" | cut -d: -f1); s=$(grep -n -x 'STOPPING=1' "$T/aggn.out" | cut -d: -f1)
[ "$r" -lt "$s" ] || fail "STOPPING before READY"
grep -q "INFO daemon: stopped" "$T/agg.log" || fail "aggregator did not stop cleanly"
ok "STOPPING=1 on SIGTERM, clean stop"

# systemd gone (a notify socket nobody listens on): the daemon still runs and stops
NOTIFY_SOCKET=$T/nobody.sock WATCHDOG_USEC=200000 start agg "$T/agg.ini"
r=$(ctl agg '{"cmd":"status"}'); grep -q '"ok":true' <<<"$r" || fail "status: $r"
stop agg
ok "a dead NOTIFY_SOCKET is harmless"
