#!/usr/bin/env bash
# deploy/quickstart.sh [DIR] — the whole system on one machine, end to end:
# installs the Debian packages, builds (Release), makes a throwaway PKI,
# generates realistic plan data (tests/tools/qs-gen, seed 1: the province's
# reference data and each of the 15 counties' records, 2021-2025) in DIR
# (default ./quickstart-data), starts three county daemons (632322 尖扎县,
# 632323 泽库县, 632301 同仁市) and records services at each while the
# aggregator is down (they keep trying), starts the aggregator, syncs those
# three and then the other twelve counties, shows what the province sees,
# writes the 2024 annual report, stops the daemons and leaves everything in DIR.
# Run as root on a fresh Debian 12 (install-deps needs apt). Exit 0 = it all matched.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-./quickstart-data}
if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    echo "quickstart: $DIR exists and is not empty; remove it or name another directory" >&2
    exit 1
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

say() { printf '\n== %s\n' "$*"; }
# QS_BUILD=DIR: use the binaries of an existing build tree (the CI smoke test)
BUILD=${QS_BUILD:-}
if [ -z "$BUILD" ]; then
    say "packages (deploy/install-deps.sh)"
    bash "$SRC/deploy/install-deps.sh"
    BUILD=$SRC/build-release
    say "build (Release) in $BUILD"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" \
        --target qianshoud qianshou qs-gen >/dev/null
fi
QSD=$BUILD/daemon/qianshoud
Q=$BUILD/client/qianshou
GEN=$BUILD/tests/tools/qs-gen
PKI=$SRC/deploy/pki/qs-pki
START=$(date +%s)

AGG=630000
CODES=(632322 632323 632301)   # the three whose daemons run throughout
NAMES=(尖扎县 泽库县 同仁市)
HOST=qianshou-agg.local
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PIDS=()
stop_all() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
trap 'stop_all' EXIT

say "plan data for the province and 15 counties (qs-gen --seed 1)"
"$GEN" --seed 1 --out "$DIR" >/dev/null
ALL=()
for d in "$DIR"/6*/; do
    d=${d%/}; d=${d##*/}
    [ "$d" = $AGG ] || ALL+=("$d")
done
echo "stores: $DIR/$AGG (reference data) and ${#ALL[@]} counties; verdicts built in: $DIR/expected.json"

say "throwaway PKI in $DIR/pki (deploy/pki/qs-pki)"
yesterday=$(date -u -d "@$(( $(date +%s) - 86400 ))" +%Y%m%d%H%M%SZ)
"$PKI" ca-init "$DIR/pki/ca" --subject "/CN=Qianshou quickstart CA" >/dev/null
"$PKI" node-key "$DIR/pki/$AGG" $AGG --dns $HOST >/dev/null
"$PKI" sign "$DIR/pki/ca" "$DIR/pki/$AGG/node.csr" -o "$DIR/pki/$AGG/node.crt" \
    --start "$yesterday" --days 730 --server-dns $HOST >/dev/null
for c in "${ALL[@]}"; do
    "$PKI" node-key "$DIR/pki/$c" "$c" >/dev/null
    "$PKI" sign "$DIR/pki/ca" "$DIR/pki/$c/node.csr" -o "$DIR/pki/$c/node.crt" \
        --start "$yesterday" --days 730 >/dev/null
done
"$PKI" crl "$DIR/pki/ca" -o "$DIR/pki/crl.pem" >/dev/null
echo "CA, aggregator certificate (DNS $HOST), ${#ALL[@]} county certificates, CRL"

say "configs"
mkdir -p "$DIR/logs"
cat > "$DIR/$AGG.ini" <<EOC
[node]
id = $AGG
role = aggregator
data_dir = $DIR/$AGG
[listen]
address = 127.0.0.1
port = $PORT
ca = $DIR/pki/ca/ca.crt
cert = $DIR/pki/$AGG/node.crt
key = $DIR/pki/$AGG/node.key
crl = $DIR/pki/crl.pem
EOC
for c in "${ALL[@]}"; do
    cat > "$DIR/$c.ini" <<EOC
[node]
id = $c
role = county
data_dir = $DIR/$c
[upstream]
host = $HOST
address = 127.0.0.1
port = $PORT
ca = $DIR/pki/ca/ca.crt
cert = $DIR/pki/$c/node.crt
key = $DIR/pki/$c/node.key
interval = 3600
EOC
done
echo "aggregator config $DIR/$AGG.ini (127.0.0.1:$PORT); county configs $DIR/632322.ini …"

start_daemon() { # CODE
    "$QSD" -c "$DIR/$1.ini" 2>>"$DIR/logs/$1.log" &
    PIDS+=("$!")
    for _ in $(seq 100); do
        [ -S "$DIR/$1/qianshoud.sock" ] && return 0
        sleep 0.1
    done
    echo "quickstart: qianshoud $1 did not start; see $DIR/logs/$1.log" >&2
    exit 1
}

say "county daemons start; the aggregator is still down"
for c in "${CODES[@]}"; do start_daemon "$c"; done
DOMAINS=(elderly children assistance community_governance)
TYPES=(visit casework groupwork policy)
for i in 0 1 2; do
    c=${CODES[$i]}
    n=$((3 + 2 * i))
    for k in $(seq $n); do
        "$Q" -d "$DIR/$c" add service date=2024-12-$(printf %02d "$k") \
            service_type="${TYPES[$((k % 4))]}" domain="${DOMAINS[$((k % 4))]}" \
            total=$((k + 2)) minors=1 content="${NAMES[$i]}第${k}次入户走访" >/dev/null
    done
    echo "${NAMES[$i]} ($c): recorded $n services with \`qianshou add service …\`"
done
sleep 3 # the edits settle (2 s); each county tries to sync and cannot
for c in "${CODES[@]}"; do
    err=$("$Q" -d "$DIR/$c" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["last_error"])')
    echo "$c: link down, last error: $err"
done

say "the aggregator starts; each county syncs (qianshou sync --wait)"
start_daemon $AGG
for i in 0 1 2; do
    printf '%s: ' "${NAMES[$i]}"
    "$Q" -d "$DIR/${CODES[$i]}" sync --wait --timeout 120
done

say "the other counties come online once and sync"
for c in "${ALL[@]}"; do
    case " ${CODES[*]} " in *" $c "*) continue ;; esac
    start_daemon "$c"
    printf '%s: ' "$c"
    "$Q" -d "$DIR/$c" sync --wait --timeout 120
done

say "what the province sees"
fails=0
printf '%-8s %-8s %8s %8s  %-16s %-16s %s\n' county name province county "digest@province" \
    "digest@county" same
for c in "${ALL[@]}"; do
    name=$("$Q" -d "$DIR/$AGG" list county code="$c" --json |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["fields"]["name"] if r else "?")')
    read -r dp np < <("$Q" -d "$DIR/$AGG" digest --scope "$c" --json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["digest"], d["versions"])')
    read -r dc nc < <("$Q" -d "$DIR/$c" digest --scope "$c" --json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["digest"], d["versions"])')
    same=yes
    [ "$dp" = "$dc" ] && [ "$np" = "$nc" ] || { same=NO; fails=1; }
    printf '%-8s %-8s %8s %8s  %-16s %-16s %s\n' "$c" "$name" "$np" "$nc" "${dp:0:16}" \
        "${dc:0:16}" "$same"
done
echo
"$Q" -d "$DIR/$AGG" nodes || true # exit 4 would only mean a stale county
refs=$("$Q" -d "$DIR/632322" list county --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "reference data at 尖扎县: $refs county records (written at the province)"

say "the 2024 annual report (qianshou report annual --year 2024 --narrative FILE)"
# the reporting unit's own words for 总结与评估, beside the report's own assessment
cat > "$DIR/narrative-2024.txt" <<'EON'
2024年，各结对机构克服高原气候和交通不便等困难，坚持驻点开展个案、小组和社区服务，受援县社会工作服务中心运行总体平稳。
存在问题：个别援派社工驻点时间不足，个别省内结对经费到位不足，部分县培育的社会组织尚在孵化。
下一步：督促援派机构按方案选派持证社工并保证驻点时间，推动经费足额到位，加强本地社工培养和职业水平考试组织。
EON
"$Q" -d "$DIR/$AGG" report annual --year 2024 --narrative "$DIR/narrative-2024.txt" \
    --format html -o "$DIR/report-2024.html" || true
# the overview, 总结与评估, coverage and structure (every section: without the filter, or the HTML)
"$Q" -d "$DIR/$AGG" report annual --year 2024 --narrative "$DIR/narrative-2024.txt" |
    awk '/^【/ { show = ($0 ~ /^【(总览|总结与评估|覆盖|结对结构)】/) } NR <= 4 || show' || true
echo "HTML for the Ministry: $DIR/report-2024.html"
# a report dated before the year ends: 年度未结束, figures so far, 进行中 rather than 未达标
"$Q" -d "$DIR/$AGG" report annual --year 2025 --as-of 2025-06-30 |
    awk 'NR <= 4; /^630000 / { print; exit }' || true

say "stopping the daemons"
stop_all
trap - EXIT
echo "done in $(( $(date +%s) - START )) s after the build; everything is in $DIR"
cat <<EOT

Start them again:
  $QSD -c $DIR/$AGG.ini &
  for c in ${ALL[*]}; do $QSD -c $DIR/\$c.ini & done
Look around:
  $Q -d $DIR/632322 list service
  $Q -d $DIR/$AGG list service --json
  $Q -d $DIR/$AGG digest --scope 632322
  $Q -d $DIR/632322 status          (with the daemons running)
  $Q -d $DIR/$AGG nodes
  $Q -d $DIR/$AGG report annual --year 2023 --format xlsx -o $DIR/report-2023.xlsx
Logs: $DIR/logs/
EOT
exit $fails
