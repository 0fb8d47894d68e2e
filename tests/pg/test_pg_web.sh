#!/usr/bin/env bash
# The province on PostgreSQL from an empty database (run through
# tests/pg/pgtest.sh, ctest test_pg_web): two qianshoud front-ends started at
# the same moment both come up on the one store (neither stops at "a store
# already exists"); `qianshou user add` through one front-end's directory
# makes an account that qianshou-web, on the other front-end's config, signs
# in with; the sign-ins (the right password, a wrong one) are in the audit
# trail in PostgreSQL, and the last sign-in in `qianshou user list`.
. "$(dirname "$0")/../integration/daemon_lib.sh"
: "${QS_PG_CONNINFO:?run through tests/pg/pgtest.sh}"
WEB=$BIN/web/qianshou-web
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT2=$(free_port)
WPORT=$(free_port)
make_pki

fe_conf() { # file name port
    cat > "$1" <<EOC
[node]
id = 630000
role = aggregator
data_dir = $T/${2}data
[listen]
address = 127.0.0.1
port = $3
ca = $T/ca/ca.crt
cert = $T/agg/node.crt
key = $T/agg/node.key
crl = $T/crl.pem
children = 632322
[store]
backend = postgresql
conninfo = $QS_PG_CONNINFO
[web]
port = $WPORT
EOC
    mkdir -p "$T/${2}data"
}
fe_conf "$T/fe1.ini" fe1 "$PORT"
fe_conf "$T/fe2.ini" fe2 "$PORT2"

# both at once on the empty database
"$QSD" -c "$T/fe1.ini" 2>"$T/fe1.log" &
PIDS+=("$!")
"$QSD" -c "$T/fe2.ini" 2>"$T/fe2.log" &
PIDS+=("$!")
for fe in fe1 fe2; do
    for _ in $(seq 150); do
        [ -S "$T/${fe}data/qianshoud.sock" ] && break
        sleep 0.1
    done
    [ -S "$T/${fe}data/qianshoud.sock" ] || fail "$fe did not come up"
done
! grep -q "already exists" "$T/fe1.log" "$T/fe2.log" || fail "a front-end met 'already exists'"
for p in "${PIDS[@]}"; do kill -0 "$p" || fail "a front-end exited"; done
q fe1 init --json >/dev/null || fail "the CLI through fe1's directory"
q fe2 init --json >/dev/null || fail "the CLI through fe2's directory"
n=$("$QS_PG_BIN/psql" -XAtq "$QS_PG_CONNINFO" -c "SELECT count(*) FROM meta WHERE k = 'role'")
[ "$n" = 1 ] || fail "$n stores in the database"
[ "$(q fe2 check)" = ok ] || fail "qianshou check on the new store: $(q fe2 check 2>&1)"
ok "two front-ends started at once on an empty database: both up, one store (check: ok)"

printf 'operator password\n' | q fe2 user add op --role admin >/dev/null || fail "user add on PostgreSQL"
q fe1 user list | grep -q '^op  *admin  *active  *never' || fail "fe1 does not list op: $(q fe1 user list)"

"$WEB" -c "$T/fe1.ini" 2>"$T/web.log" &
PIDS+=("$!")
WEB_PID=$!
cat >"$T/client.py" <<'EOP'
import http.cookiejar, re, sys, time, urllib.parse, urllib.request
base, user, pw = sys.argv[1:4]
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
for _ in range(100):
    try:
        page = op.open(base + "/login").read().decode()
        break
    except OSError:
        time.sleep(0.1)
tok = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
print(op.open(base + "/login", urllib.parse.urlencode(
    {"csrf": tok, "user": user, "password": pw}).encode()).read().decode())
for path in sys.argv[4:]:
    print(op.open(base + path).read().decode())
EOP
web() { python3 "$T/client.py" "http://127.0.0.1:$WPORT" "$@"; }

web op "wrong password" >"$T/bad.html"
grep -q 'name="password"' "$T/bad.html" || fail "a wrong password did not stay on the sign-in page"
web op "operator password" / /users >"$T/home.html"
grep -q 'href="/users"' "$T/home.html" || fail "no admin pages after signing in"
grep -q '>op<' "$T/home.html" || fail "the users page does not list op"
kill -0 "$WEB_PID" || fail "qianshou-web exited"
ok "qianshou-web on a province on PostgreSQL: op signs in, the users page lists op"

audit=$("$QS_PG_BIN/psql" -XAtq "$QS_PG_CONNINFO" \
        -c "SELECT string_agg(user_name || ':' || action, ' ' ORDER BY seq) FROM web_audit")
[[ "$audit" = *"op:login_failed op:login_ok" ]] || fail "audit trail in PostgreSQL: $audit"
q fe2 user list | grep -q '^op  *admin  *active  *[0-9]' || fail "no last sign-in: $(q fe2 user list)"
ok "the audit trail is in PostgreSQL ($audit); fe2's directory sees the sign-in"

kill -TERM "$WEB_PID"
wait "$WEB_PID" || fail "qianshou-web exit $?"
ok "qianshou-web stops cleanly"
