#!/usr/bin/env bash
# deploy/quickstart.sh [DIR] — the whole system on one machine, end to end:
# installs the Debian packages, builds (Release), makes a throwaway PKI,
# generates realistic plan data (tests/tools/qs-gen, seed 1: the province's
# reference data and each of the 15 counties' records, 2021-2025) in DIR
# (default ./quickstart-data), starts three county daemons (632322 尖扎县,
# 632323 泽库县, 632301 同仁市) and records services at each while the
# aggregator is down (they keep trying), starts the aggregator, syncs those
# three and then the other twelve counties, shows what the province sees,
# writes the 2024 annual report, starts the browser interface (qianshou-web)
# for 尖扎县 and the province and prints their addresses and a login each,
# stops the daemons and leaves everything in DIR.
# Run as root on a fresh Debian 12 (install-deps needs apt). Exit 0 = it all matched.
#
# deploy/quickstart.sh --postgresql[=CONNINFO] [DIR]: the same story with the
# aggregator's store in PostgreSQL: the province's generated SQLite store is
# moved there with `qianshou migrate --to postgresql` and the aggregator runs
# with [store] backend = postgresql. Without CONNINFO a private PostgreSQL 15
# runs for the length of the script (tests/pg/pgtest.sh) and is removed
# afterwards; with it, an empty database of your server is used and kept.
# The annual report is made from PostgreSQL as from SQLite (store/pg_report.c),
# and the province's browser interface keeps its accounts there
# (store/pg_users.c).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PG=
case ${1:-} in
--postgresql) PG=private; shift ;;
--postgresql=*) PG=${1#--postgresql=}; shift ;;
esac
if [ "$PG" = private ]; then
    if [ -z "${QS_PG_CONNINFO:-}" ]; then
        exec "$SRC/tests/pg/pgtest.sh" "$0" --postgresql "$@"
    fi
    PG=$QS_PG_CONNINFO
fi
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
    echo "packages: all there"
    BUILD=$SRC/build-release
    say "build (Release) in $BUILD"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$DIR/build.log" 2>&1 \
        || { tail -n 30 "$DIR/build.log" >&2; exit 1; }
    # one line that counts up, instead of pages of compiler output (all of it
    # is in DIR/build.log)
    if ! cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" \
        --target qianshoud qianshou qianshou-web qs-gen 2>&1 | tee -a "$DIR/build.log" |
        while IFS= read -r l; do
            case $l in "["*"%]"*) printf '\r  %s' "${l%%]*}]" ;; esac
        done; then
        echo
        tail -n 30 "$DIR/build.log" >&2
        exit 1
    fi
    printf '\r  built: qianshoud, qianshou, qianshou-web, qs-gen (log: %s)\n' "$DIR/build.log"
fi
QSD=$BUILD/daemon/qianshoud
WEB=$BUILD/web/qianshou-web
Q=$BUILD/client/qianshou
GEN=$BUILD/tests/tools/qs-gen
PKI=$SRC/deploy/pki/qs-pki
START=$(date +%s)

AGG=630000
CODES=(632322 632323 632301)   # the three whose daemons run throughout
NAMES=(尖扎县 泽库县 同仁市)
HOST=qianshou-agg.local
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
WEB_PORT_COUNTY=$(free_port)
WEB_PORT_AGG=$(free_port)
PIDS=()
stop_all() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
trap 'stop_all' EXIT

# table: TSV on stdin -> columns aligned by display width (a Chinese
# character takes two columns on a terminal)
table() {
    python3 -c '
import sys, unicodedata
w = lambda s: sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
rows = [l.rstrip("\n").split("\t") for l in sys.stdin]
n = max(len(r) for r in rows)
rows = [r + [""] * (n - len(r)) for r in rows]
width = [max(w(r[i]) for r in rows) for i in range(n)]
for r in rows:
    print("  ".join(c + " " * (width[i] - w(c)) for i, c in enumerate(r)).rstrip())
'
}

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
[web]
port = $WEB_PORT_AGG
EOC
if [ -n "$PG" ]; then
    say "the province's store moves to PostgreSQL (qianshou migrate --to postgresql)"
    "$Q" -d "$DIR/$AGG" migrate --to postgresql --conninfo "$PG"
    printf '[store]\nbackend = postgresql\nconninfo = %s\n' "$PG" >>"$DIR/$AGG.ini"
    echo "aggregator config: [store] backend = postgresql"
fi
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
    if [ "$c" = 632322 ]; then
        printf '[web]\nport = %s\n' "$WEB_PORT_COUNTY" >>"$DIR/$c.ini"
    fi
done
echo "aggregator config $DIR/$AGG.ini (127.0.0.1:$PORT); county configs $DIR/632322.ini …"

start_daemon() { # CODE
    "$QSD" -c "$DIR/$1.ini" </dev/null >/dev/null 2>>"$DIR/logs/$1.log" &
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
        "$Q" -d "$DIR/$c" add service date="2024-12-$(printf %02d "$k")" \
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

# moved CODE LABEL: a sync now (qianshou sync --wait), then what the county's
# daemon moved since it started — its own retries usually sync before we ask,
# and then the requested sync has nothing left to move
moved() {
    "$Q" -d "$DIR/$1" sync --wait --timeout 120 >"$DIR/logs/sync-$1.out" \
        || { cat "$DIR/logs/sync-$1.out" >&2; exit 1; }
    "$Q" -d "$DIR/$1" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin); c = s["counters"]
print("%s\t%d\t%d\t%d\t%s" % (sys.argv[1], c["syncs_ok"], c["pushed"], c["pulled"],
      "ok" if s.get("pending", 0) == 0 else "%d pending" % s["pending"]))' "$2"
}

say "the aggregator starts; each county syncs (its daemon retries; qianshou sync --wait)"
start_daemon $AGG
printf 'county\tsyncs\tpushed\tpulled\tstate\n' >"$DIR/logs/moved.tsv"
for i in 0 1 2; do
    moved "${CODES[$i]}" "${NAMES[$i]} (${CODES[$i]})" >>"$DIR/logs/moved.tsv"
done
table <"$DIR/logs/moved.tsv"
echo "(pushed: records sent to the province since the daemon started; pulled: reference data received)"

say "the other counties come online once and sync"
printf 'county\tsyncs\tpushed\tpulled\tstate\n' >"$DIR/logs/moved.tsv"
for c in "${ALL[@]}"; do
    case " ${CODES[*]} " in *" $c "*) continue ;; esac
    start_daemon "$c"
    moved "$c" "$c" >>"$DIR/logs/moved.tsv"
done
table <"$DIR/logs/moved.tsv"

say "the browser interface (qianshou-web) for 尖扎县 and the province"
# throwaway passwords for this trial (12 characters), printed below
PW_CLERK=$(openssl rand -base64 9)
PW_OPERATOR=$(openssl rand -base64 9)
printf '%s\n' "$PW_CLERK" | "$Q" -d "$DIR/632322" user add clerk --role clerk >/dev/null
# on PostgreSQL the province's accounts are tables in its database (store/pg_users.c)
printf '%s\n' "$PW_OPERATOR" | "$Q" -d "$DIR/$AGG" user add operator --role admin >/dev/null
start_web() { # CODE PORT
    "$WEB" -c "$DIR/$1.ini" </dev/null >/dev/null 2>>"$DIR/logs/web-$1.log" &
    PIDS+=("$!")
    for _ in $(seq 100); do
        python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$2/login')" \
            2>/dev/null && return 0
        sleep 0.1
    done
    echo "quickstart: qianshou-web $1 did not start; see $DIR/logs/web-$1.log" >&2
    exit 1
}
signs_in() { # PORT USER PASSWORD: the sign-in works (the page after it has 退出)
    python3 - "$@" <<'EOP'
import http.cookiejar, re, sys, urllib.parse, urllib.request
base, user, pw = "http://127.0.0.1:" + sys.argv[1], sys.argv[2], sys.argv[3]
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
tok = re.search(r'name="csrf" value="([0-9a-f]+)"', op.open(base + "/login").read().decode())
page = op.open(base + "/login", urllib.parse.urlencode(
    {"csrf": tok.group(1), "user": user, "password": pw}).encode()).read().decode()
sys.exit('id="logout"' not in page)
EOP
}
start_web 632322 "$WEB_PORT_COUNTY"
start_web $AGG "$WEB_PORT_AGG"
for w in "$WEB_PORT_COUNTY clerk $PW_CLERK" "$WEB_PORT_AGG operator $PW_OPERATOR"; do
    # shellcheck disable=SC2086 # three words: port, user, password (base64, no spaces)
    signs_in $w || { echo "quickstart: signing in on port ${w%% *} failed" >&2; exit 1; }
done
echo "尖扎县 (632322): http://127.0.0.1:$WEB_PORT_COUNTY/  user clerk     password $PW_CLERK"
echo "province (630000): http://127.0.0.1:$WEB_PORT_AGG/  user operator  password $PW_OPERATOR"
echo "(running until the end of the quickstart; the commands to start them again are below)"

say "what the province sees"
fails=0
printf 'county\tname\tat province\tat county\tdigest@province\tdigest@county\tsame\n' \
    >"$DIR/logs/digests.tsv"
for c in "${ALL[@]}"; do
    name=$("$Q" -d "$DIR/$AGG" list county code="$c" --json |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["fields"]["name"] if r else "?")')
    read -r dp np < <("$Q" -d "$DIR/$AGG" digest --scope "$c" --json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["digest"], d["versions"])')
    read -r dc nc < <("$Q" -d "$DIR/$c" digest --scope "$c" --json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["digest"], d["versions"])')
    same=yes
    [ "$dp" = "$dc" ] && [ "$np" = "$nc" ] || { same=NO; fails=1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$name" "$np" "$nc" "${dp:0:16}" \
        "${dc:0:16}" "$same" >>"$DIR/logs/digests.tsv"
done
table <"$DIR/logs/digests.tsv"
echo "(record versions of each county at the province and at the county, and their digests)"
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
# readable by whoever ran this (root's files are not, to others); QS_REPORT_MODE to ask
chmod "${QS_REPORT_MODE:-0640}" "$DIR/report-2024.html"
# The overview, narrowed to fit 100 columns: per county the verdict and the
# criteria it missed (the whole table: `report annual --year 2024`, or the HTML)
"$Q" -d "$DIR/$AGG" report annual --year 2024 --format json >"$DIR/logs/report-2024.json" || true
if python3 - "$DIR/logs/report-2024.json" >"$DIR/logs/overview.tsv" 2>/dev/null <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
V = {"pass": "达标", "fail": "未达标", "n/a": "不适用", "no-data": "无数据"}
print("县代码\t县（市）\t结对类型\t综合结论\t未达标的指标")
ok = 0
for p in r["pairings"]:
    miss = [c["label"] for c in p["criteria"].values() if c["verdict"] == "fail"]
    ok += p["overall"] == "pass"
    print("%s\t%s\t%s\t%s\t%s" % (p["county"], p["county_name"],
          "跨省" if p["type"] == "cross_province" else "省内",
          V.get(p["overall"], p["overall"]), "、".join(miss) or "-"))
print("全省\t%d 个结对\t\t%d 个达标\t" % (len(r["pairings"]), ok))
PY
then
    echo "【总览】(narrowed)"
    table <"$DIR/logs/overview.tsv"
    # 总结与评估, coverage and structure as the report prints them
    "$Q" -d "$DIR/$AGG" report annual --year 2024 --narrative "$DIR/narrative-2024.txt" |
        awk '/^【/ { show = ($0 ~ /^【(总结与评估|覆盖|结对结构)】/) } show' || true
else
    "$Q" -d "$DIR/$AGG" report annual --year 2024 --narrative "$DIR/narrative-2024.txt" |
        awk '/^【/ { show = ($0 ~ /^【(总览|总结与评估|覆盖|结对结构)】/) } NR <= 4 || show' || true
fi
echo "The whole report: $Q -d $DIR/$AGG report annual --year 2024"
echo "HTML for the Ministry: $DIR/report-2024.html (mode $(stat -c %a "$DIR/report-2024.html"))"
# a report dated before the year ends: 年度未结束, figures so far, 进行中 rather than 未达标
"$Q" -d "$DIR/$AGG" report annual --year 2025 --as-of 2025-06-30 |
    awk 'NR <= 4; /^630000 / { print; exit }' || true

if [ -n "$PG" ]; then
    say "stopping the daemons"
    stop_all
    trap - EXIT
    echo "done in $(( $(date +%s) - START )) s after the build; the province's store is in PostgreSQL"
    exit $fails
fi
say "stopping the daemons"
stop_all
trap - EXIT
# run with sudo: what was made here belongs to the one who asked for it
if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    chown -R "$SUDO_USER": "$DIR"
    echo "$DIR now belongs to $SUDO_USER"
fi
echo "done in $(( $(date +%s) - START )) s after the build; everything is in $DIR"
cat <<EOT

Start them again:
  $QSD -c $DIR/$AGG.ini &
  for c in ${ALL[*]}; do $QSD -c $DIR/\$c.ini & done
The browser interface (sign in as clerk / operator with the passwords above):
  $WEB -c $DIR/632322.ini &    # http://127.0.0.1:$WEB_PORT_COUNTY/
  $WEB -c $DIR/$AGG.ini &    # http://127.0.0.1:$WEB_PORT_AGG/
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
