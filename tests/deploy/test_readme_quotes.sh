#!/usr/bin/env bash
# Every line the README quotes from the software is what the software prints:
# this runs the situations the README describes — the clerk's first five
# minutes, the aggregator down, the link checked (TCP, host name, all well),
# certificates refused (revoked, another CA, not below the aggregator, not in
# its reference data), a clock outside the certificate, the CLI's clock rule, a
# county's clock ahead, a full disk, a second daemon, a node id mismatch,
# the aggregator's check — keeps what the daemons and the CLI print, and
# tests/deploy/readme_quotes.py matches each quoted line against it (example
# values such as addresses, dates and counts stand for any value). Label quick.
. "$QS_SOURCE_DIR/tests/integration/daemon_lib.sh"
O=$T/printed; mkdir -p "$O"
# say NAME CMD...: run a command, keep its stdout and stderr as printed output
say() { local n=$1; shift; "$@" >"$O/$n.out" 2>&1 || true; }
# life NAME CONF SECONDS: a daemon that runs a while, its log kept as NAME.log
life() { start "$1" "$2"; sleep "$3"; stop "$1"; cp "$T/$1.log" "$O/$1.log"; }
make_pki
y=$(stamp $(($(date +%s) - 86400)))
agg_conf "$T/agg.ini"
county_conf "$T/c1.ini" c1 632322 "retry_base = 1
retry_cap = 2"

# The clerk's first five minutes (a trial store, QIANSHOU_DATA)
export QIANSHOU_DATA=$T/ffm/data
mkdir -p "$T/ffm" && cd "$T/ffm"
sheet() { # total of the third row
    printf '服务日期,社工站,服务类型,服务领域,服务人数,服务内容\n2024-03-05,632322100,小组工作,养老服务,12,"老年人小组, 第一次"\n2024-03-06,632322100,政策宣传,社会救助,30,低保政策宣讲\n2024-03-31,632322100,走访探视,养老服务,%s,入户\n' "$1" \
        | iconv -f UTF-8 -t GB18030 >三月服务记录.csv
}
say ffm1 "$QCLI" init --node 632322 --role county --name 尖扎县
say ffm2 "$QCLI" add station township=632322100 name=坎布拉镇社工站 opened=2023-05-01 resident_workers=2
say ffm3 "$QCLI" add service date=2024-03-02 station=632322199 service_type=visit domain=elderly total=1
sheet 两人; say ffm4 "$QCLI" import service 三月服务记录.csv
sheet 2; say ffm5 "$QCLI" import service 三月服务记录.csv
say ffm6 "$QCLI" import service 三月服务记录.csv
unset QIANSHOU_DATA
cd "$T"
grep -q "imported 3 service records" "$O/ffm5.out" || fail "the clerk's import: $(cat "$O/ffm5.out")"

# The aggregator down: --check --connect, the county's log; then it comes up
# (an aggregator with the reference data: its check first) and the link is back
say check-tcp "$QSD" -c "$T/c1.ini" --check --connect
start down "$T/c1.ini"
sleep 2
q agg init --node 630000 --role aggregator >/dev/null
q agg import county "$SRC/deploy/reference/county.csv" >/dev/null
say check-agg "$QSD" -c "$T/agg.ini" --check
start agg "$T/agg.ini"
wait_log "$T/down.log" "back after"
stop down; cp "$T/down.log" "$O/down.log"
# all well; then a host name the certificate does not carry
life up "$T/c1.ini" 2
say check-ok "$QSD" -c "$T/c1.ini" --check --connect
sed "s/^host = .*/host = agg.example.gov.cn/; s|^data_dir = .*|data_dir = $T/hostdata|" \
    "$T/c1.ini" >"$T/host.ini"
say check-host "$QSD" -c "$T/host.ini" --check --connect
life host "$T/host.ini" 2
# refused: revoked, another CA, a node the aggregator does not know (632399,
# not in its children), a client certificate for 630000 itself
county_conf "$T/rev.ini" revoked 632327; life rev "$T/rev.ini" 1
county_conf "$T/for.ini" foreign 632328; life for "$T/for.ini" 1
"$PKI" node-key "$T/unk" 632399 >/dev/null
"$PKI" sign "$T/ca" "$T/unk/node.csr" -o "$T/unk/node.crt" --start "$y" >/dev/null
county_conf "$T/unk.ini" unk 632399; life unk "$T/unk.ini" 1
mkdir -p "$T/above"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/above/node.key" 2>/dev/null
openssl req -new -key "$T/above/node.key" -subj /CN=630000 -out "$T/above/node.csr"
QS_CA_DIR=$T/ca openssl x509 -req -in "$T/above/node.csr" -CA "$T/ca/ca.crt" \
    -CAkey "$T/ca/ca.key" -CAcreateserial -CAserial "$T/above.srl" -days 30 \
    -extfile "$T/ca/openssl.cnf" -extensions qs_client -out "$T/above/node.crt" 2>/dev/null
county_conf "$T/above.ini" above 630000; life above "$T/above.ini" 1
# a second daemon on the same store
"$QSD" -c "$T/agg.ini" 2>"$O/lock.log" && fail "a second aggregator started"
# the CLI's clock rule (the daemon has recorded the certificate's window)
say clock-cli env QIANSHOU_CLOCK_OFFSET=+1000d "$QCLI" -d "$T/c1data" add station township=632322101 name=x
QIANSHOU_CLOCK_OFFSET=+700d "$QCLI" -d "$T/c1data" add station township=632322102 name=y >/dev/null 2>&1
say clock-warn "$QCLI" -d "$T/c1data" add station township=632322103 name=z
# that county's clock reading, 700 days ahead, reaches the aggregator
life ahead "$T/c1.ini" 2
stop agg; cp "$T/agg.log" "$O/agg1.log"
# a clock outside our own certificate
county_conf "$T/exp.ini" expired 632325
"$QSD" -c "$T/exp.ini" 2>"$O/expired.log" && fail "a daemon with an expired certificate started"
# node id mismatch
sed "s/^id = 632322/id = 632323/" "$T/c1.ini" >"$T/mis.ini"
say mismatch "$QSD" -c "$T/mis.ini" --check
{ cat "$T/c1.ini"; printf '[upstream]\nport = 99999\n'; } >"$T/badport.ini"
say config "$QSD" -c "$T/badport.ini" --check
# the disk full: the CLI, a backup, the aggregator in a push
touch "$T/full"
say full-add env QIANSHOU_TEST_DISKFULL="$T/full" "$QCLI" -d "$T/c1data" add station township=632322104 name=w
say full-backup env QIANSHOU_TEST_DISKFULL="$T/full" "$QCLI" -d "$T/c1data" backup -o "$T/b.db"
q c1 add station township=632322105 name=v >/dev/null 2>&1
QIANSHOU_TEST_DISKFULL=$T/full start agg "$T/agg.ini"
life full "$T/c1.ini" 2
stop agg; cp "$T/agg.log" "$O/agg2.log"

# the matcher itself: example values stand for others, words do not
printf '```\nINFO session: connected to 632301\n```\nand `WARN sync: link to a.example.cn down: connect: connection refused; retrying with backoff (at most every 5 s), one line when it is back`\n' >"$T/good.md"
python3 "$SRC/tests/deploy/readme_quotes.py" "$T/good.md" "$O" >"$T/m.out" || fail "matcher: $(cat "$T/m.out")"
grep -q "^2 quoted lines, 2 matched" "$T/m.out" || fail "matcher: $(cat "$T/m.out")"
printf '```\nINFO session: connected with 630000\nWARN sync: link to x.test down: connect: connection refused   (county)\n```\n' >"$T/bad.md"
python3 "$SRC/tests/deploy/readme_quotes.py" "$T/bad.md" "$O" >"$T/m.out" && fail "matcher took a wrong word"
grep -q "^2 quoted lines, 0 matched, 0 not made here, 2 wrong" "$T/m.out" || fail "matcher: $(cat "$T/m.out")"

allow=""
[ "$(id -u)" = 0 ] || allow="RUNNING AS ROOT"
QS_QUOTES_ALLOW=$allow python3 "$SRC/tests/deploy/readme_quotes.py" "$SRC/README.md" "$O" \
    || fail "the README quotes lines the software does not print (above)"
ok "every line the README quotes was printed"
