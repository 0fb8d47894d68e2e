#!/usr/bin/env bash
# Two qianshoud front-ends on one PostgreSQL (run through tests/pg/pgtest.sh,
# ctest test_pg_frontends): three counties sync through both, a county moves
# from one front-end to the other, a front-end is SIGKILLed mid-push and the
# county finishes through the other one, and PostgreSQL itself restarts
# between syncs: every record arrives exactly once and every digest is equal
# on the county, on both front-ends and in the database. Also: [store]
# refusals (a county with backend = postgresql, a password in conninfo).
. "$(dirname "$0")/../integration/daemon_lib.sh"
: "${QS_PG_CONNINFO:?run through tests/pg/pgtest.sh}"
PORT2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
make_pki

fe_conf() { # file name port [extra limits]
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
children = 632322 632323 632324
[store]
backend = postgresql
conninfo = $QS_PG_CONNINFO
[limits]
max_batch = 4
${4:-}
EOC
    mkdir -p "$T/${2}data"
}
to_port() { # county conf port
    sed -i "s/^port = .*/port = $2/" "$1"
}

# refusals first: a county on PostgreSQL, a password in conninfo
county_conf "$T/bad.ini" c1 632322 "[store]
backend = postgresql
conninfo = $QS_PG_CONNINFO"
set +e; out=$("$QSD" -c "$T/bad.ini" --check 2>&1); rc=$?; set -e
[ $rc != 0 ] && grep -q "backend = postgresql is for role = aggregator" <<<"$out" || fail "a county on PostgreSQL: $out"
fe_conf "$T/bad2.ini" bad 1 
sed -i "s|^conninfo = .*|conninfo = $QS_PG_CONNINFO password=s3cr3t-pw|" "$T/bad2.ini"
set +e; out=$("$QSD" -c "$T/bad2.ini" --check 2>&1); rc=$?; set -e
[ $rc != 0 ] && grep -q "passfile" <<<"$out" || fail "a password in conninfo: $out"
! grep -q "s3cr3t" <<<"$out" || fail "the password was echoed: $out"
ok "refused: a county with backend = postgresql; a password in conninfo (not echoed)"

fe_conf "$T/fe1.ini" fe1 "$PORT"
fe_conf "$T/fe2.ini" fe2 "$PORT2"
start fe1 "$T/fe1.ini" # creates the store in PostgreSQL
start fe2 "$T/fe2.ini" # opens the same one
grep -q "creating a new store" "$T/fe1.log" || fail "fe1 did not create the store"
! grep -q "creating a new store" "$T/fe2.log" || fail "fe2 made a second store"
[ -f "$T/fe1data/store.conninfo" ] || fail "no store.conninfo in fe1's data directory"
for id in 632322 632323 632324; do q fe1 add county code=$id name="县 $id" >/dev/null; done
q fe2 init --name 青海省民政厅 >/dev/null || fail "naming the store through fe2's directory"
q fe1 init --json | grep -q '青海省民政厅' || fail "fe1 does not see the store's name"
[ "$(count fe2 county)" = 3 ] || fail "fe2 sees $(count fe2 county) county records"
ok "two front-ends on one database; the CLI works through either data directory"

# the tables for distribution and BI: a county key everywhere, views read-only
# with Chinese column comments
psql_q() { "$QS_PG_BIN/psql" -XAtq "$QS_PG_CONNINFO" -c "$1"; }
n=$(psql_q "SELECT count(*) FROM information_schema.columns WHERE column_name = 'county'
            AND table_name IN ('versions', 'history', 'rejections', 'parked')")
[ "$n" = 4 ] || fail "county key in $n of 4 tables"
n=$(psql_q "SELECT count(*) FROM information_schema.tables t WHERE t.table_name LIKE 'k\_%'
            AND NOT EXISTS (SELECT 1 FROM information_schema.columns c WHERE
            c.table_name = t.table_name AND c.column_name = 'qs_county')")
[ "$n" = 0 ] || fail "$n typed tables without qs_county"
c=$(psql_q "SELECT col_description('v_county'::regclass, a.attnum) FROM pg_attribute a
            WHERE a.attrelid = 'v_county'::regclass AND a.attname = 'county_name'")
[ "$c" = "县名" ] || fail "v_county.county_name comment: [$c]"
c=$(psql_q "SELECT count(*) FROM pg_attribute a WHERE a.attrelid = 'v_service'::regclass
            AND a.attnum > 0 AND col_description(a.attrelid, a.attnum) ~ '[一-龥]'")
[ "$c" -ge 14 ] || fail "v_service: $c columns with a Chinese comment"
[ "$(psql_q "SELECT name FROM v_county WHERE code = '632322'")" = "县 632322" ] || fail "v_county"
! psql_q "INSERT INTO v_county(code, name) VALUES ('632399', 'x')" 2>/dev/null || fail "v_county took an INSERT"
ok "county key on every large table; views read-only, commented in Chinese"

NAMES=(c1 c2 c3); IDS=(632322 632323 632324); PORTS=("$PORT" "$PORT2" "$PORT")
for i in 0 1 2; do
    n=${NAMES[$i]}
    county_conf "$T/$n.ini" "$n" "${IDS[$i]}" "[limits]
max_batch = 4"
    to_port "$T/$n.ini" "${PORTS[$i]}"
    q "$n" init --node "${IDS[$i]}" --role county >/dev/null
    add_services "$n" $((6 + i))
    start "$n" "$T/$n.ini"
done
for n in c1 c2 c3; do r=$(q "$n" sync --wait --timeout 30) || fail "$n sync: $r"; done
check_all() { # what expected-services
    [ "$(count fe1 service)" = "$2" ] || fail "$1: the store holds $(count fe1 service) services, want $2"
    for i in 0 1 2; do
        n=${NAMES[$i]}; id=${IDS[$i]}
        a=$(digest "$n" "$id"); b=$(digest fe1 "$id"); c=$(digest fe2 "$id")
        [ "$a" = "$b" ] && [ "$b" = "$c" ] || fail "$1: $n digest $a, fe1 $b, fe2 $c"
        [ "$(count "$n" county)" = "$NCOUNTY" ] || fail "$1: $n holds $(count "$n" county) county records, want $NCOUNTY"
    done
}
NCOUNTY=3
check_all "first syncs" $((6 + 7 + 8))
ok "three counties through two front-ends: digests equal everywhere"

# a reference sheet imported at the aggregator (one thread on PostgreSQL)
printf 'name,role,province,contact\n' >"$T/agencies.csv"
for i in 1 2 3 4 5; do printf '服务中心%d,receiving,青海省,联系人%d\n' "$i" "$i" >>"$T/agencies.csv"; done
q fe1 import agency "$T/agencies.csv" >/dev/null || fail "import at fe1"
[ "$(count fe2 agency)" = 5 ] || fail "fe2 sees $(count fe2 agency) agencies"
set +e; q fe2 import agency "$T/agencies.csv" >/dev/null 2>&1; rc=$?; set -e
[ $rc != 0 ] || fail "the same sheet imported twice"
q c2 sync --wait --timeout 30 >/dev/null || fail "c2 pull"
[ "$(count c2 agency)" = 5 ] || fail "c2 holds $(count c2 agency) agencies"
ok "an agency sheet imported at fe1 (and refused again at fe2) reached a county through fe2"

# c1 moves to the other front-end: nothing is sent twice, nothing is missed
stop c1; to_port "$T/c1.ini" "$PORT2"; add_services c1 5; start c1 "$T/c1.ini"
r=$(q c1 sync --wait --timeout 30) || fail "c1 sync via fe2: $r"
check_all "c1 via fe2" $((6 + 7 + 8 + 5))
q fe2 add county code=632399 name="新县" >/dev/null # a province edit made through fe2's directory
for n in c1 c2 c3; do q "$n" sync --wait --timeout 30 >/dev/null || fail "$n pull"; done
NCOUNTY=4
for n in c1 c2 c3; do [ "$(count "$n" county)" = 4 ] || fail "$n holds $(count "$n" county) county records after the new one"; done
ok "c1 moved to fe2: exactly its new records went up; a record made at fe2 reached every county through fe1 and fe2"

# SIGKILL of a front-end in the middle of a push (after its 3rd frame in)
stop fe2
QIANSHOU_TEST_EXIT_AFTER_FRAME=3:in start fe2 "$T/fe2.ini"
add_services c2 24
q c2 sync --wait --timeout 10 >/dev/null 2>&1 || true
for _ in $(seq 100); do kill -0 "$fe2_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$fe2_PID" 2>/dev/null || fail "fe2 was not killed"
wait "$fe2_PID" 2>/dev/null || true
part=$(count fe1 service)
stop c2; to_port "$T/c2.ini" "$PORT"; start c2 "$T/c2.ini"
r=$(q c2 sync --wait --timeout 30) || fail "c2 sync via fe1 after the kill: $r"
check_all "after SIGKILL of fe2" $((6 + 7 + 8 + 5 + 24))
ok "fe2 SIGKILLed mid-push ($part services stored by then): c2 finished through fe1, nothing lost or doubled"
rm -f "$T/fe2data/qianshoud.sock" # left by the SIGKILL: start waits for a new one
start fe2 "$T/fe2.ini"

# PostgreSQL restarts between syncs: the front-ends reconnect
as_owner=()
[ "$(id -u)" = 0 ] && as_owner=(setpriv --reuid="$(stat -c %u "$QS_PG_DIR")" --regid="$(stat -c %g "$QS_PG_DIR")" --clear-groups --)
(cd "$QS_PG_DIR" && "${as_owner[@]}" "$QS_PG_BIN/pg_ctl" -D "$QS_PG_DIR/data" -m fast -w \
    -l "$QS_PG_DIR/server.log" restart >/dev/null) || fail "pg_ctl restart"
add_services c3 6
ok=0
for _ in 1 2 3; do q c3 sync --wait --timeout 30 >/dev/null 2>&1 && { ok=1; break; }; sleep 1; done
[ $ok = 1 ] || fail "c3 could not sync after PostgreSQL restarted"
check_all "after a PostgreSQL restart" $((6 + 7 + 8 + 5 + 24 + 6))
ok "PostgreSQL restarted: the front-ends reconnected, digests equal"

for n in c1 c2 c3 fe1 fe2; do stop $n; done
ok "clean stop"
