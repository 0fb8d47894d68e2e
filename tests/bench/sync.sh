# sync.sh — benchmarks #1, #2, #5, #6 and #9 with real qianshoud processes on
# loopback and a throwaway PKI. Sourced by run.sh (uses its variables and
# helpers: W, QS, QSD, PKI, PROXY, RUNS, N1, N5C, N5R, N7, result, log, field).

PORT_BASE=$((20000 + $$ % 20000))
AGG_DNS=qianshou-agg.bench
pki_ready=0

stamp() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

make_ca() {
    [ "$pki_ready" = 1 ] && return 0
    local y; y=$(stamp $(($(date +%s) - 86400)))
    "$PKI" ca-init "$W/ca" >/dev/null
    "$PKI" node-key "$W/pki/agg" 630000 --dns $AGG_DNS >/dev/null
    "$PKI" sign "$W/ca" "$W/pki/agg/node.csr" -o "$W/pki/agg/node.crt" --start "$y" --days 30 \
        --server-dns $AGG_DNS >/dev/null
    "$PKI" crl "$W/ca" -o "$W/crl.pem" >/dev/null
    pki_ready=1
}
node_key() { # ID: key and request in $W/pki/ID
    [ -f "$W/pki/$1/node.csr" ] || "$PKI" node-key "$W/pki/$1" "$1" >/dev/null
}
node_cert() { # ID: key and certificate in $W/pki/ID
    [ -f "$W/pki/$1/node.crt" ] && return 0
    node_key "$1"
    "$PKI" sign "$W/ca" "$W/pki/$1/node.csr" -o "$W/pki/$1/node.crt" \
        --start "$(stamp $(($(date +%s) - 86400)))" --days 30 >/dev/null
}

agg_ini() { # FILE DATADIR PORT
    cat >"$1" <<EOC
[node]
id = 630000
role = aggregator
data_dir = $2
[listen]
address = 127.0.0.1
port = $3
ca = $W/ca/ca.crt
cert = $W/pki/agg/node.crt
key = $W/pki/agg/node.key
crl = $W/crl.pem
max_connections = 400
# the swarm's 300 simulated counties all come from 127.0.0.1
max_unauthenticated = 1000
max_unauthenticated_per_address = 1000
EOC
    # the counties the runs use: the fan-in's and #1's (no reference data here)
    { county_ids 500; echo 632322; } | sed 's/^/children = /' >>"$1"
}
county_ini() { # FILE ID DATADIR PORT
    cat >"$1" <<EOC
[node]
id = $2
role = county
data_dir = $3
[upstream]
host = $AGG_DNS
address = 127.0.0.1
port = $4
ca = $W/ca/ca.crt
cert = $W/pki/$2/node.crt
key = $W/pki/$2/node.key
interval = 86400
EOC
}

# daemon CONF LOG: start qianshoud, wait for its control socket; its pid in DPID.
daemon() {
    local dir; dir=$(sed -n 's/^data_dir = //p' "$1")
    "$QSD" -c "$1" >/dev/null 2>"$2" &
    DPID=$!
    local pid=$DPID
    PIDS+=("$pid")
    for _ in $(seq 300); do
        [ -S "$dir/qianshoud.sock" ] && return 0
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$2" >&2; return 1; }
        sleep 0.05
    done
    echo "run.sh: qianshoud $1: no control socket" >&2
    return 1
}
stop_daemon() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
kib() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"; }
jnum() { jq -r ".$2" <<<"$1"; }

# ---- #1, #2, #6: one county, 1,000,000 records, fresh aggregator per run ------
bench_one_county() {
    local r port agg cty reply t0 t1 ms
    SYNC_RATES=() INC_MS=() RSS_IDLE=() PSS_IDLE=() ANON_IDLE=() RSS_SYNC=() SYNC_BYTES=()
    for r in $(seq "$RUNS"); do
        port=$(free_port)
        rm -rf "$W/agg"
        "$QS" -d "$W/agg" init --node 630000 --role aggregator >/dev/null
        agg_ini "$W/agg.ini" "$W/agg" "$port"
        county_ini "$W/county$r.ini" 632322 "$W/county$r" "$port"
        # The county first: its own sync at start fails (no aggregator yet), so
        # the session measured is the one `sync --wait` asks for.
        daemon "$W/county$r.ini" "$W/county$r.log"; cty=$DPID
        sleep 1
        daemon "$W/agg.ini" "$W/agg$r.log"; agg=$DPID
        t0=$(now_ms)
        reply=$("$QS" -d "$W/county$r" --json sync --wait --timeout 3600) ||
            { echo "run.sh: #1 sync failed: $reply" >&2; tail -n 20 "$W/county$r.log" >&2; exit 1; }
        t1=$(now_ms)
        ms=$(jnum "$reply" duration_ms)
        [ "$(jnum "$reply" pushed)" -ge "$N1" ] || { echo "run.sh: #1 pushed too few: $reply" >&2; exit 1; }
        SYNC_RATES+=("$("$PY" -c "print($(jnum "$reply" pushed) / ($ms / 1000))")")
        SYNC_BYTES+=("$(jnum "$reply" bytes_sent)")
        RSS_SYNC+=("$("$PY" -c "print($(kib "$cty" VmHWM) / 1024)")")
        log "sync run $r: $(jnum "$reply" pushed) records in $ms ms (request to reply $((t1 - t0)) ms)"
        # #2: one new record, then a sync (connect, handshake, push, pull)
        "$QS" -d "$W/county$r" add service date=2024-05-01 station=632322101 \
            service_type=visit domain=elderly total=1 >/dev/null
        reply=$("$QS" -d "$W/county$r" --json sync --wait --timeout 60)
        [ "$(jnum "$reply" pushed)" = 1 ] || { echo "run.sh: #2 pushed: $reply" >&2; exit 1; }
        INC_MS+=("$(jnum "$reply" duration_ms)")
        # #6 idle: after the syncs settled (the local-edit trigger waits 2 s)
        sleep 4
        RSS_IDLE+=("$("$PY" -c "print($(kib "$cty" VmRSS) / 1024)")")
        PSS_IDLE+=("$("$PY" -c "print($(sed -n 's/^Pss: *\([0-9]*\) kB/\1/p' "/proc/$cty/smaps_rollup") / 1024)")")
        ANON_IDLE+=("$("$PY" -c "print($(kib "$cty" RssAnon) / 1024)")")
        log "incremental run $r: ${INC_MS[-1]} ms; county RSS idle ${RSS_IDLE[-1]} MiB, peak ${RSS_SYNC[-1]} MiB"
        stop_daemon "$cty"
        stop_daemon "$agg"
        rm -rf "$W/county$r" "$W/agg"
    done
    result 1 "initial sync, $N1 service logs, county → aggregator, TLS loopback" rec/s \
        "${SYNC_RATES[*]}" "raw SQLite insert of the same rows" rows/s "${RAW_RATES[*]}" f/b \
        'ratio>=' 0.30 "daemon's session duration (connect to DONE), zstd on"
    result 2 "incremental sync of 1 record after $N1, incl. connect + handshake" ms "${INC_MS[*]}" \
        "" "" "" "" 'figure<=' 50 ""
    result 6i "county daemon RSS, idle (after the syncs, $N1 records held)" MiB "${RSS_IDLE[*]}" \
        "" "" "" "" 'figure<=' 8 "VmRSS"
    result 6p "county daemon PSS, idle (shared library pages divided among their users)" MiB \
        "${PSS_IDLE[*]}" "" "" "" "" "" "" "smaps_rollup Pss; for comparison with 6i"
    result 6a "county daemon anonymous memory, idle (its own heap, caches, stacks)" MiB \
        "${ANON_IDLE[*]}" "" "" "" "" "" "" "RssAnon: 6i less the shared libraries' file pages"
    result 6s "county daemon RSS, syncing $N1 records (peak)" MiB "${RSS_SYNC[*]}" \
        "" "" "" "" 'figure<=' 64 "VmHWM after #1"
}

# ---- #5: fan-in ----------------------------------------------------------------
# N5C simulated counties, each with its own certificate and its own store of
# N5R records, in ONE qs-bench-swarm process (tests/bench/swarm.c: one libuv
# loop, the product's link/session code and a store thread per county), all
# connecting at once to a new aggregator per run. The aggregator is the
# measured process; the swarm is its load. Errors are checked at the
# aggregator: a county whose session failed, or whose records are not all in
# the aggregator's store afterwards.
county_ids() { # N: valid county codes 63PPCC, distinct
    local n=0 p c
    for p in $(seq 21 40); do
        for c in $(seq 1 25); do
            [ $n -ge "$1" ] && return 0
            printf '63%02d%02d\n' "$p" "$c"
            n=$((n + 1))
        done
    done
}
fanin_county_store() { # ID: a county store of its own (node id, station, N5R rows)
    local d=$FAN/$1
    "$QS" -d "$d" init --node "$1" --role county >/dev/null
    local sid; sid=$("$QS" -d "$d" add station "township=${1}100" name=社工站)
    sed "s/,6323221[0-9][0-9],/,$sid,/" "$W/rows5.csv" >"$d.csv"
    "$QS" -d "$d" import service "$d.csv" >/dev/null
    rm -f "$d.csv"
}
fanin_setup() { # certificates, stores and $W/swarm.list for N5C counties
    local id t0 stores
    mapfile -t FAN_IDS < <(county_ids "$N5C")
    "$PY" "$HERE/gen_csv.py" "$N5R" 5 >"$W/rows5.csv"
    # The simulated counties' stores live in memory (/dev/shm when there is
    # one): each real county has a disk of its own, so their commits (one per
    # ACK) must not queue on the aggregator's disk. The aggregator's store is
    # on disk, WAL + synchronous=FULL, as always.
    FAN=$W/fan
    [ -d /dev/shm ] && [ -w /dev/shm ] && FAN=$(mktemp -d /dev/shm/qs-bench-fan-XXXXXX)
    RMDIRS+=("$FAN")
    mkdir -p "$FAN"
    t0=$(now_ms)
    log "fan-in: $N5C county certificates and stores of $N5R records (in $FAN)"
    # Keys and requests in parallel, then signing (serial: the CA's index and
    # serial) while the stores are made in parallel beside it.
    export -f node_key fanin_county_store
    export W PKI QS FAN
    printf '%s\n' "${FAN_IDS[@]}" | xargs -P 2 -I{} bash -c 'node_key {}'
    rm -f "$W/stores.rc"
    { printf '%s\n' "${FAN_IDS[@]}" | xargs -P 2 -I{} bash -c 'fanin_county_store {}'
      echo $? >"$W/stores.rc"; } &
    stores=$!
    for id in "${FAN_IDS[@]}"; do node_cert "$id"; done
    # The status is read from a file: bash forgets an ended job's status when
    # one of its later children gets the same pid, and the signing loop makes
    # over a thousand processes (pid_max is 32768 here; "wait: pid N is not a
    # child of this shell" on a busy machine).
    wait "$stores" 2>/dev/null || true
    [ "$(cat "$W/stores.rc" 2>/dev/null)" = 0 ] ||
        { echo "run.sh: #5: making the county stores failed" >&2; exit 1; }
    : >"$W/swarm.list"
    for id in "${FAN_IDS[@]}"; do
        echo "$id $FAN/$id $W/pki/$id/node.crt $W/pki/$id/node.key" >>"$W/swarm.list"
    done
    log "fan-in: setup took $(($(now_ms) - t0)) ms"
}
bench_fanin() {
    local r port agg id out sum line ok n fail got grp
    fanin_setup
    port=$(free_port)
    FAN_RATES=() FAN_ERR=() FAN_RSS=()
    for r in $(seq "$RUNS"); do
        rm -rf "$W/fagg"
        "$QS" -d "$W/fagg" init --node 630000 --role aggregator >/dev/null
        agg_ini "$W/fagg.ini" "$W/fagg" "$port"
        daemon "$W/fagg.ini" "$W/fagg$r.log"; agg=$DPID
        out=$W/swarm$r.out
        "$SWARM" --timeout 1800 127.0.0.1 "$port" $AGG_DNS "$W/ca/ca.crt" "$W/swarm.list" \
            >"$out" 2>"$W/swarm$r.err" || true
        FAN_RSS+=("$("$PY" -c "print($(kib "$agg" VmHWM) / 1024)")")
        grp=$("$QS" -d "$W/fagg" --json status | jq -c '.counters | {apply_txns, apply_batches, max_group}' 2>/dev/null || true)
        stop_daemon "$agg"
        sum=$(tail -n 1 "$out")
        [ -n "$(field counties "$sum")" ] ||
            { echo "run.sh: #5 swarm failed: $(cat "$W/swarm$r.err")" >&2; exit 1; }
        # at the aggregator: every county's records (its station + N5R logs)
        sqlite3 "$W/fagg/qianshou.db" \
            "SELECT src_peer, count(*) FROM versions WHERE src_peer IS NOT NULL GROUP BY src_peer" \
            | tr '|' ' ' >"$W/fagg$r.counts"
        fail=0
        for id in "${FAN_IDS[@]}"; do
            line=$(grep "^county=$id " "$out")
            ok=$(field ok "$line")
            got=$(awk -v c="$id" '$1 == c {print $2}' "$W/fagg$r.counts")
            if [ "$ok" != 1 ] || [ "${got:-0}" != $((N5R + 1)) ]; then
                fail=$((fail + 1))
                log "fan-in run $r: county $id: ${line:-no result}; ${got:-0} records at the aggregator"
            fi
        done
        n=$(field pushed "$sum")
        FAN_RATES+=("$(field rate "$sum")")
        FAN_ERR+=("$fail")
        log "fan-in run $r: $n records from $N5C counties in $(field ms "$sum") ms, $fail errors, aggregator peak RSS ${FAN_RSS[-1]} MiB; group commit $grp"
        rm -rf "$W/fagg"
    done
    [ "$KEEP" = 1 ] || rm -rf "$FAN"
    # baseline: #1's single-stream rate, run by run
    result 5 "aggregator fan-in: $N5C counties at once × $N5R records" rec/s "${FAN_RATES[*]}" \
        "#1 single-stream sync rate" rec/s "${SYNC_RATES[*]}" f/b 'ratio>=' 0.70 \
        "first connect to last session done; the counties simulated by one qs-bench-swarm process (own certificate, store, store thread and the daemon's link/session code each)"
    result 5e "fan-in: counties whose session failed or whose records are not all at the aggregator" count "${FAN_ERR[*]}" \
        "" "" "" "" 'figure<=' 0 "counted at the aggregator's store per origin (src_peer)"
    result 5m "fan-in: aggregator peak RSS (VmHWM)" MiB "${FAN_RSS[*]}" "" "" "" "" 'figure<=' 256 ""
}

# ---- #9: catch-up through a 256 kbit/s, 300 ms line ---------------------------
bench_rural() {
    local port pport agg cty reply ms proxy_pid up
    port=$(free_port)
    rm -rf "$W/ragg"
    "$QS" -d "$W/ragg" init --node 630000 --role aggregator >/dev/null
    agg_ini "$W/ragg.ini" "$W/ragg" "$port"
    "$PROXY" --listen 127.0.0.1:0 --target "127.0.0.1:$port" --rate-kbit 256 --latency-ms 300 \
        --seed 9 --control "$W/proxy.sock" 2>"$W/proxy.log" &
    proxy_pid=$!
    PIDS+=("$proxy_pid")
    for _ in $(seq 100); do grep -q 'listening on' "$W/proxy.log" && break; sleep 0.05; done
    pport=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\),.*/\1/p' "$W/proxy.log")
    # county first (its sync at start fails: no aggregator behind the proxy yet)
    county_ini "$W/c7.ini" 632322 "$W/c7" "$pport"
    daemon "$W/c7.ini" "$W/c7.log"; cty=$DPID
    sleep 1
    daemon "$W/ragg.ini" "$W/ragg.log"; agg=$DPID
    reply=$("$QS" -d "$W/c7" --json sync --wait --timeout 3600) ||
        { echo "run.sh: #9 sync failed: $reply" >&2; exit 1; }
    ms=$(jnum "$reply" duration_ms)
    n=$(jnum "$reply" pushed)
    up=$(echo stats | "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"stats\n")
print(s.recv(4096).decode().strip())' "$W/proxy.sock")
    # bound: this many records at #7's zstd bytes per record (county → aggregator),
    # at 256 kbit/s = 32,000 bytes/s
    bound=$("$PY" -c "print($n * $ZSTD_UP_MED / 32000 * 1000)")
    log "rural run: $n records in $ms ms; bound ${bound} ms; proxy $up"
    result 9 "catch-up of $n records through 256 kbit/s + 300 ms (qs-proxy)" ms "$ms" \
        "#7's zstd bytes up ÷ 32,000 B/s" ms "$bound" f/b 'ratio<=' 1.3 "proxy: $up"
    stop_daemon "$cty"
    kill -TERM "$proxy_pid" 2>/dev/null || true
    stop_daemon "$agg"
}

bench_sync() {
    want 1 || want 9 || want 5 || return 0
    make_ca
    node_cert 632322
    want 1 && bench_one_county
    want 9 && bench_rural
    want 5 && bench_fanin
    return 0
}
