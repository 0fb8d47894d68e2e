# fault_lib.sh — shared by test_fault_*.sh (on top of daemon_lib.sh): a seed,
# qs-proxy with a control socket, CSV generators, convergence checks. Sourced.
. "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
PROXY=$BIN/tests/tools/qs-proxy
[ -x "$PROXY" ] || fail "no qs-proxy at $PROXY"
SEED=${QS_SEED:-$(( $(date +%s) % 100000 ))}
echo "seed $SEED (replay: QS_SEED=$SEED bash $0)"
RANDOM=$SEED
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PPORT=$(freeport)

# proxy_start ARGS...: qs-proxy on $PPORT -> $PORT, control socket $T/proxy.sock
proxy_start() {
    rm -f "$T/proxy.log" "$T/proxy.sock"
    "$PROXY" --listen "127.0.0.1:$PPORT" --target "127.0.0.1:$PORT" --seed "$SEED" \
        --control "$T/proxy.sock" "$@" 2>"$T/proxy.log" &
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    for _ in $(seq 50); do grep -q "listening on" "$T/proxy.log" && [ -S "$T/proxy.sock" ] && return 0; sleep 0.1; done
    fail "qs-proxy did not start: $(cat "$T/proxy.log")"
}
pctl() { python3 - "$T/proxy.sock" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall((sys.argv[2] + "\n").encode())
b = b""
while not b.endswith(b"\n"):
    c = s.recv(4096)
    if not c: break
    b += c
print(b.decode().strip())
PY
}
pstat() { pctl stats | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# via_proxy CONF: point a county config at the proxy
via_proxy() { sed -i "s/^port = $PORT\$/port = $PPORT/" "$1"; }

# services_csv FILE N TAG: N distinct service records
services_csv() {
    python3 - "$2" "$3" > "$1" <<'PY'
import sys
n, tag = int(sys.argv[1]), sys.argv[2]
print("date,service_type,domain,total,content")
for i in range(n):
    print("2024-%02d-%02d,visit,elderly,%d,%s-%d 入户走访" % (i % 12 + 1, i % 28 + 1, i % 50 + 1, tag, i))
PY
}
# ids NAME KIND [SCOPE]: sorted record ids of KIND at NAME (scope filter optional)
ids() {
    q "$1" export "$2" --format csv | python3 -c '
import csv, sys
scope = sys.argv[1]
r = csv.DictReader(sys.stdin)
out = sorted(row["id"] for row in r if not scope or row["scope"] == scope)
print("\n".join(out))' "${3:-}"
}
# started_pid NAME: restart helper, with optional env
kill9() { local pid; pid=$(eval echo "\$${1}_PID"); kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
# wait_dead NAME SECONDS: the daemon died by SIGKILL (status 137) within the time
wait_dead() {
    local pid; pid=$(eval echo "\$${1}_PID")
    for _ in $(seq $(( $2 * 10 ))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            local st=0; wait "$pid" || st=$?
            [ "$st" = 137 ] || fail "$1 exited with $st, not by SIGKILL"
            return 0
        fi
        sleep 0.1
    done
    fail "$1 did not die within $2 s"
}
# sync_until NAME TRIES: `sync --wait` until one completes
sync_until() {
    local r
    for _ in $(seq "$2"); do
        r=$(q "$1" sync --wait --timeout 60 --json 2>/dev/null) && return 0
        sleep 0.5
    done
    fail "$1: no complete sync in $2 tries: $r"
}
integrity() { # NAME...
    for n in "$@"; do q "$n" check >/dev/null || fail "$n: integrity check: $(q "$n" check 2>&1)"; done
}
