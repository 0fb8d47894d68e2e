# daemon_lib.sh — shared by test_daemon_*.sh: a throwaway PKI from
# deploy/pki/qs-pki, configs, and helpers to start/stop real qianshoud
# processes on loopback. Sourced, not run.
set -euo pipefail
# The system python3 (a version-manager shim in front of it costs seconds per call).
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH
SRC=${QS_SOURCE_DIR:?}
BIN=${QS_BINARY_DIR:?}
QSD=$BIN/daemon/qianshoud
QCLI=$BIN/client/qianshou
PROBE=$BIN/tests/integration/qs_probe
PKI=$SRC/deploy/pki/qs-pki
T=$(mktemp -d /tmp/qs-daemon-test-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${QS_KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }
ok() { echo "ok: $*"; }
AGG_DNS=qianshou-agg.test
# A free port per test run (ctest runs tests in parallel).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

stamp() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
make_pki() {
    local now; now=$(date +%s)
    local y; y=$(stamp $((now - 86400)))
    "$PKI" ca-init "$T/ca" >/dev/null
    "$PKI" ca-init "$T/other" --subject '/CN=Some Other CA' >/dev/null
    "$PKI" node-key "$T/agg" 630000 --dns $AGG_DNS >/dev/null
    "$PKI" sign "$T/ca" "$T/agg/node.csr" -o "$T/agg/node.crt" --start "$y" --days 730 --server-dns $AGG_DNS >/dev/null
    node() { # name id ca start end|-
        "$PKI" node-key "$T/$1" "$2" >/dev/null
        if [ "$5" = - ]; then
            "$PKI" sign "$T/$3" "$T/$1/node.csr" -o "$T/$1/node.crt" --start "$4" --days 730 >/dev/null
        else
            "$PKI" sign "$T/$3" "$T/$1/node.csr" -o "$T/$1/node.crt" --start "$4" --end "$5" >/dev/null
        fi
    }
    node c1 632322 ca "$y" -
    node c2 632323 ca "$y" -
    node c3 632324 ca "$y" -
    node expired 632325 ca 20200101000000Z 20210101000000Z
    node future 632326 ca "$(stamp $((now + 3650 * 86400)))" "$(stamp $((now + 3700 * 86400)))"
    node revoked 632327 ca "$y" -
    node foreign 632328 other "$y" -
    "$PKI" revoke "$T/ca" "$T/revoked/node.crt" >/dev/null
    "$PKI" crl "$T/ca" -o "$T/crl.pem" >/dev/null
}

agg_conf() { # file [extra-lines]
    cat > "$1" <<EOC
[node]
id = 630000
role = aggregator
data_dir = $T/aggdata
[listen]
address = 127.0.0.1
port = $PORT
ca = $T/ca/ca.crt
cert = ${AGG_CERT:-$T/agg/node.crt}
key = ${AGG_KEY:-$T/agg/node.key}
crl = $T/crl.pem
max_connections = 400
children = ${AGG_CHILDREN-632322 632323 632324 632325 632326 632327 632328 632522}
${AGG_LISTEN:-}
[limits]
net_max_queued = 262144
${2:-}
EOC
}
county_conf() { # file name id [extra-lines]
    cat > "$1" <<EOC
[node]
id = $3
role = county
data_dir = $T/${2}data
[upstream]
host = $AGG_DNS
address = 127.0.0.1
port = $PORT
ca = $T/ca/ca.crt
cert = $T/$2/node.crt
key = $T/$2/node.key
interval = 3600
${4:-}
EOC
}

# start NAME CONF: runs qianshoud in the background, log in $T/NAME.log,
# pid in $NAME_PID, waits for the control socket.
start() {
    local name=$1 conf=$2 dir
    dir=$(sed -n 's/^data_dir = //p' "$conf")
    "$QSD" -c "$conf" 2>"$T/$name.log" &
    local pid=$!
    PIDS+=("$pid")
    eval "${name}_PID=$pid"
    for _ in $(seq 100); do
        [ -S "$dir/qianshoud.sock" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "$name exited at start"
        sleep 0.1
    done
    fail "$name: no control socket"
}
stop() { # NAME: SIGTERM and wait; fails if the exit is not clean
    local pid; pid=$(eval echo "\$${1}_PID")
    kill -TERM "$pid"
    wait "$pid" || fail "$1 exited with $? after SIGTERM"
}
ctl() { "$PROBE" ctl "$T/${1}data/qianshoud.sock" "$2" 40000; }
probe() { "$PROBE" conn --port "$PORT" --ca "$T/ca/ca.crt" "$@"; }
probe_as() { local n=$1; shift; probe --cert "$T/$n/node.crt" --key "$T/$n/node.key" "$@"; }
wait_log() { # file pattern
    for _ in $(seq 50); do grep -q -- "$2" "$1" && return 0; sleep 0.1; done
    fail "no \"$2\" in $1"
}

# q NAME ARGS...: the qianshou CLI on NAME's data directory
q() { local n=$1; shift; "$QCLI" -d "$T/${n}data" "$@"; }
# jget JSON KEY: a top-level number/string from a JSON object (python3)
jget() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])
for k in sys.argv[2].split("."): v=v[k]
print(v if not isinstance(v,bool) else str(v).lower())' "$1" "$2"; }
# count NAME KIND: live records of KIND at NAME
count() { q "$1" list "$2" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# digest NAME SCOPE: the digest of SCOPE's records at NAME
digest() { q "$1" digest --scope "$2" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["digest"], d["versions"])'; }
# add_services NAME N: N service records at NAME
add_services() {
    for i in $(seq "$2"); do
        q "$1" add service date=2024-05-0$(( i % 9 + 1 )) service_type=visit domain=elderly total=$i >/dev/null
    done
}
