#!/usr/bin/env bash
# qianshou-web beside real daemons: a county's home page shows the link state
# and what waits to go up as qianshoud reports it over the control socket;
# "sync now" (立即同步) in the page starts a sync that brings a record made in
# the browser to the aggregator, with its author NODE/USER; the province's
# fleet page then lists the county with its last sync.
. "$(dirname "$0")/daemon_lib.sh"
WEB=$BIN/web/qianshou-web
make_pki
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WC=$(free_port)
WA=$(free_port)
agg_conf "$T/agg.ini" "[web]
port = $WA"
county_conf "$T/c1.ini" c1 632322 "[web]
port = $WC"
q agg init --node 630000 --role aggregator >/dev/null
q c1 init --node 632322 --role county >/dev/null
q agg add county code=632322 name=尖扎县 >/dev/null
printf 'clerk password one\n' | q c1 user add clerk --role clerk >/dev/null
printf 'operator password\n' | q agg user add op --role admin >/dev/null
start agg "$T/agg.ini"
start c1 "$T/c1.ini"
q c1 sync --wait --timeout 20 >/dev/null || fail "first sync"
q c1 add station township=632322100 name=坎布拉镇社工站 >/dev/null

"$WEB" -c "$T/c1.ini" 2>"$T/web-c1.log" &
PIDS+=("$!")
WEB_C1=$!
"$WEB" -c "$T/agg.ini" 2>"$T/web-agg.log" &
PIDS+=("$!")
WEB_AGG=$!

# A tiny browser: sign in, GET pages, POST forms with the page's token.
cat >"$T/client.py" <<'EOP'
import http.cookiejar, re, sys, time, urllib.parse, urllib.request
base, user, pw = sys.argv[1:4]
jar = http.cookiejar.CookieJar()
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
for _ in range(100):
    try:
        page = op.open(base + "/login").read().decode()
        break
    except OSError:
        time.sleep(0.1)
def token(page):
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
op.open(base + "/login", urllib.parse.urlencode(
    {"csrf": token(page), "user": user, "password": pw}).encode()).read()
for cmd in sys.argv[4:]:
    if cmd.startswith("POST "):
        path, _, rest = cmd[5:].partition("?")
        form = dict(urllib.parse.parse_qsl(rest))
        form["csrf"] = token(op.open(base + "/").read().decode())
        print(op.open(base + path, urllib.parse.urlencode(form).encode()).read().decode())
    else:
        print(op.open(base + cmd).read().decode())
EOP
web() { python3 "$T/client.py" "$@"; }
card() { # html id -> the card's number or text
    python3 -c 'import re,sys; m=re.search(r"id=\"%s\"><div>[^<]*</div><div class=\"big\">([^<]*)<" % sys.argv[2], open(sys.argv[1]).read()); print(m.group(1) if m else "")' "$1" "$2"
}

web "http://127.0.0.1:$WC" clerk "clerk password one" / >"$T/home.html"
grep -q 'id="daemon"' "$T/home.html" && fail "the home page says the daemon does not answer"
[ "$(card "$T/home.html" c-pending)" = 1 ] || fail "pending on the home page: $(card "$T/home.html" c-pending)"
last=$(card "$T/home.html" c-last)
[ "$last" != "—" ] && [ -n "$last" ] || fail "last sync on the home page: '$last'"
ok "home page from qianshoud: 1 waiting, last sync $last"

# a record made in the page, then 立即同步
web "http://127.0.0.1:$WC" clerk "clerk password one" \
    "POST /new?kind=service&date=2024-05-02&station=632322100&service_type=1&domain=1&total=2" \
    "POST /sync" "/" >"$T/sync.html"
grep -q '已开始同步' "$T/sync.html" || fail "sync now: no '已开始同步'"
for _ in $(seq 100); do
    [ "$(count agg service)" = 1 ] && break
    sleep 0.1
done
[ "$(count agg service)" = 1 ] || fail "the record made in the page did not reach the aggregator"
author=$(q agg list service --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0].get("author", ""))')
[ "$author" = 632322/clerk ] || fail "author at the aggregator: $author"
[ "$(digest agg 632322)" = "$(digest c1 632322)" ] || fail "digests differ after sync now"
ok "sync now from the page: the record is at the aggregator (author $author)"

web "http://127.0.0.1:$WA" op "operator password" /fleet >"$T/fleet.html"
grep -q '<td>632322</td>' "$T/fleet.html" || fail "the fleet page does not list 632322"
grep -q 'class="stale"' "$T/fleet.html" && fail "a county that just synced is marked stale"
ok "the province's fleet page lists 632322, not stale"

# a flood of sign-ins is answered without hashing each one; a real one later works
python3 - "http://127.0.0.1:$WC" >"$T/flood.out" <<'EOP'
import http.cookiejar, re, sys, time, urllib.parse, urllib.request
base = sys.argv[1]
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
tok = re.search(r'name="csrf" value="([0-9a-f]+)"', op.open(base + "/login").read().decode()).group(1)
t0, refused = time.time(), 0
for i in range(60):
    page = op.open(base + "/login", urllib.parse.urlencode(
        {"csrf": tok, "user": "nobody%d" % i, "password": "guess guess %d" % i}).encode()).read().decode()
    refused += "登录尝试太多" in page
print(refused, round(time.time() - t0, 1))
EOP
read -r refused secs <"$T/flood.out"
# at most 20 + 5 a second were checked, and whatever the bucket could not
# cover was refused (a slow build hashes slowly: the hashing itself then keeps
# the rate down, and fewer or none are refused)
python3 -c "import sys; r, t = int(sys.argv[1]), float(sys.argv[2]); cap = 20 + 5 * t + 2; sys.exit(not (60 - r <= cap and (r > 0 or cap >= 60)))" \
    "$refused" "$secs" || fail "60 sign-ins in a row in ${secs} s: $((60 - refused)) checked, $refused refused"
[ "$refused" = 0 ] || grep -q 'refused unchecked' "$T/web-c1.log" || fail "the flood is not in the log"
sleep 2
web "http://127.0.0.1:$WC" clerk "clerk password one" / >"$T/home2.html"
grep -q 'id="c-pending"' "$T/home2.html" || fail "a sign-in after the flood did not work"
ok "60 sign-ins in a row: $refused answered unchecked (${secs} s); a real one 2 s later works"

kill -TERM "$WEB_C1" "$WEB_AGG"
wait "$WEB_C1" || fail "qianshou-web (county) exit $?"
wait "$WEB_AGG" || fail "qianshou-web (province) exit $?"
ok "both web servers stop cleanly"
