#!/usr/bin/env bash
# The README's "Going live" walk-through, command for command: a CA machine,
# an aggregator and a county box, each a directory here (its /etc/qianshou,
# /var/lib/qianshou and a working directory), with only requests and bundles
# copied between them. Every command this test runs is first looked up in the
# README (tests/deploy/readme_commands.py lists them), then run with the paths
# of its machine put in: /etc/qianshou, /var/lib/qianshou, /media/qs-ca, the
# shipped reference sheets, 192.0.2.10:7443 → 127.0.0.1 and a free port. As
# on a machine without systemd, `systemctl start qianshoud` is the README's
# start-stop-daemon recipe, and reload and stop are its recipes too;
# `runuser -u qianshou --` and `--chuid` are left out (one user here). At the
# end a clerk's record is at the province, `nodes` shows the county synced
# and the two digests agree. Label quick.
. "$QS_SOURCE_DIR/tests/integration/daemon_lib.sh"
command -v start-stop-daemon >/dev/null || { echo "SKIP: no start-stop-daemon"; exit 77; }
python3 "$SRC/tests/deploy/readme_commands.py" "$SRC/README.md" >"$T/readme-commands"
mkdir -p "$T/bin"
ln -s "$BIN/client/qianshou" "$BIN/daemon/qianshoud" "$PKI" "$T/bin/"
export PATH=$T/bin:$PATH
# what the package makes: /etc/qianshou/tls and /var/lib/qianshou (postinst)
for m in province county; do mkdir -p "$T/$m/etc/tls" "$T/$m/data" "$T/$m/home"; done
mkdir -p "$T/ca/home" "$T/ca/media"

# readme CMD: CMD as the README shows it (or fail)
readme() { grep -qxF -- "$1" "$T/readme-commands" || fail "not a command of the README: $1"; }
# on MACHINE CMD: run a README command on MACHINE; its output in $T/out
on() {
    local m=$1 cmd=$2 c
    readme "$cmd"
    case $cmd in "systemctl start qianshoud")
        cmd="start-stop-daemon --start --background --make-pidfile --pidfile /run/qianshoud.pid --chuid qianshou:qianshou --umask 007 --output /var/log/qianshoud.log --exec /usr/sbin/qianshoud -- -c /etc/qianshou/qianshoud.conf"
        readme "$cmd" ;;
    esac
    c=$(sed -e "s|^runuser -u qianshou -- ||; s|--chuid qianshou:qianshou ||" \
        -e "s|/media/qs-ca|$T/ca/media/qs-ca|g; s|/usr/share/qianshou/reference|$SRC/deploy/reference|g" \
        -e "s|/etc/qianshou|$T/$m/etc|g; s|/var/lib/qianshou|$T/$m/data|g" \
        -e "s|/run/qianshoud.pid|$T/$m/qianshoud.pid|g; s|/var/log/qianshoud.log|$T/$m/qianshoud.log|g" \
        -e "s|/usr/sbin/qianshoud|$BIN/daemon/qianshoud|g" \
        -e "s|192\.0\.2\.10|127.0.0.1|g; s|7443|$PORT|g" \
        -e "s|^qs-pki install \([^ ]*\)$|qs-pki install \1 --etc $T/$m/etc --data $T/$m/data|" <<<"$cmd")
    echo "[$m] $cmd" >>"$T/transcript"
    local rc=0
    (cd "$T/$m/home" && QIANSHOU_DATA=$T/$m/data bash -c "$c") >"$T/out" 2>&1 || rc=$?
    [ "$rc" = "${ON_RC:-0}" ] || fail "[$m] $cmd: exit $rc: $(cat "$T/out")"
    sed 's/^/    /' "$T/out" >>"$T/transcript"
}
has() { grep -qF -- "$1" "$T/out" || fail "no \"$1\" in: $(cat "$T/out")"; }
# carry FROM FILE TO: a USB stick; FILE is the README's path (/etc/qianshou/tls/node.csr)
# or a file in FROM's working directory, and lands in TO's working directory
carry() {
    local src
    case $2 in /etc/qianshou/*) src=$T/$1/etc/${2#/etc/qianshou/} ;; *) src=$T/$1/home/$2 ;; esac
    cp "$src" "$T/$3/home/$(basename "$2")"
}
await() { # machine pattern: the daemon's log says it
    for _ in $(seq 100); do grep -q -- "$2" "$T/$1/qianshoud.log" 2>/dev/null && return 0; sleep 0.1; done
    fail "[$1] no \"$2\" in the log: $(cat "$T/$1/qianshoud.log")"
}

# 1. the CA
on ca "qs-pki ca-init /media/qs-ca --province 630000"
on ca "qs-pki crl /media/qs-ca -o crl.pem"
ok "CA made, CRL published"

# 2. the aggregator
on province "runuser -u qianshou -- qs-pki node-key /etc/qianshou/tls 630000 --dns qianshou-agg.example.gov.cn"
fp=$(sed -n 's/^fingerprint \(.*\) (read it.*/\1/p' "$T/out")
carry province /etc/qianshou/tls/node.csr ca
on ca "qs-pki bundle /media/qs-ca node.csr -o 630000.tar --days 365 --server-dns qianshou-agg.example.gov.cn --port 7443 --crl crl.pem"
has "fingerprint $fp"
carry ca 630000.tar province
on province "qs-pki install 630000.tar"
on province "runuser -u qianshou -- qianshou init --node 630000 --role aggregator --name 青海省民政厅"
on province "cp /usr/share/qianshou/reference/*.csv ."
on province "qianshou import county county.csv"; has "imported 15 county records"
on province "qianshou import agency agency.csv"; has "imported 30 agency records"
on province "qianshou import pairing pairing.csv"; has "imported 15 pairing records"
on province "qianshou list pairing"; has "尖扎县社会工作服务中心    632322"
on province "runuser -u qianshou -- qianshoud -c /etc/qianshou/qianshoud.conf --check"
has "children: 15 counties in the reference data, 0 codes in [listen] children"
on province "systemctl start qianshoud"
await province "aggregator 630000 listening"
on province "start-stop-daemon --status --pidfile /run/qianshoud.pid && echo running"; has running
ok "aggregator enrolled (fingerprint $fp), reference data loaded, running"

# 3. the county
on county "runuser -u qianshou -- qs-pki node-key /etc/qianshou/tls 632322"
fp=$(sed -n 's/^fingerprint \(.*\) (read it.*/\1/p' "$T/out")
carry county /etc/qianshou/tls/node.csr ca
on ca "qs-pki bundle /media/qs-ca node.csr -o 632322.tar --days 730 --host qianshou-agg.example.gov.cn --address 192.0.2.10 --port 7443 --crl crl.pem"
has "fingerprint $fp"
carry ca 632322.tar county
on county "qs-pki install 632322.tar"
on county "runuser -u qianshou -- qianshou init --node 632322 --role county --name 尖扎县"
on county "runuser -u qianshou -- qianshoud -c /etc/qianshou/qianshoud.conf --check --connect"
has "connect: TCP to 127.0.0.1:$PORT ok; TLS 1.3 ok: the aggregator's certificate names node 630000 and host qianshou-agg.example.gov.cn"
on county "systemctl start qianshoud"
await county "INFO session: connected to 630000"
ok "county enrolled (fingerprint $fp), checked and connected"

# a clerk's records reach the province
on county "qianshou add station township=632322100 name=坎布拉镇社工站 opened=2023-05-01 resident_workers=2"
on county "qianshou add service date=2024-03-01 station=632322100 service_type=个案工作 domain=儿童关爱 total=3 minors=2 content=\"入户走访，了解困难\""
on county "qianshou sync --wait"; has "synced with 630000"
on county "qianshou status"
on county "qianshou list pairing"; has "632322"   # the reference data came down
ON_RC=4 on province "qianshou nodes"; has "尖扎县"   # 4: the other 14 never synced
grep -E "^632322 +尖扎县 .* ok" "$T/out" >/dev/null || fail "nodes: $(cat "$T/out")"
on province "qianshou list service date=2024-03"; has "632322100"; has "入户走访，了解困难"
dp=$(QIANSHOU_DATA=$T/province/data qianshou digest --scope 632322 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
dc=$(QIANSHOU_DATA=$T/county/data qianshou digest --scope 632322 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
[ "$dp" = "$dc" ] || fail "digests differ: province $dp, county $dc"
ok "the clerk's station and service are at the province (digest $dp)"

# reload and stop, as the README does without systemd
on county "start-stop-daemon --stop --signal HUP --pidfile /run/qianshoud.pid"
await county "reloaded certificates and CRL"
for m in county province; do
    on $m "start-stop-daemon --stop --retry TERM/30/KILL/5 --pidfile /run/qianshoud.pid --remove-pidfile"
    await $m "INFO daemon: stopped"
    [ ! -e "$T/$m/qianshoud.pid" ] || fail "[$m] pid file left"
done
grep -q '^[0-9-]* [0-9:]* INFO daemon: stopped' "$T/county/qianshoud.log" \
    || fail "the log file's lines have no time: $(tail -1 "$T/county/qianshoud.log")"
ok "reloaded, stopped; the log file has the time on each line"
# Two roles on one machine: the README's layout (/etc/qianshou/ID/tls,
# /etc/qianshou/ID.conf, /var/lib/qianshou/ID), each daemon run as its template
# unit runs it (qianshoud -c /etc/qianshou/ID.conf), the county syncing to the
# aggregator beside it. chown needs the qianshou user; here one user owns all.
m=both; mkdir -p "$T/$m/etc" "$T/$m/data" "$T/$m/home"
on $m "mkdir -p /etc/qianshou/630000 /etc/qianshou/632322"
readme "chown qianshou:qianshou /etc/qianshou/630000 /etc/qianshou/632322"
on $m "runuser -u qianshou -- qs-pki node-key /etc/qianshou/630000/tls 630000 --dns qianshou-agg.example.gov.cn"
carry $m /etc/qianshou/630000/tls/node.csr ca
on ca "qs-pki bundle /media/qs-ca node.csr -o 630000.tar --days 365 --server-dns qianshou-agg.example.gov.cn --port 7443 --crl crl.pem"
carry ca 630000.tar $m
on $m "runuser -u qianshou -- qs-pki node-key /etc/qianshou/632322/tls 632322"
carry $m /etc/qianshou/632322/tls/node.csr ca
# the county's bundle as "Going live" makes it; the aggregator is on this machine
on ca "qs-pki bundle /media/qs-ca node.csr -o 632322.tar --days 730 --host qianshou-agg.example.gov.cn --address 192.0.2.10 --port 7443 --crl crl.pem"
carry ca 632322.tar $m
on $m "qs-pki install 630000.tar --etc /etc/qianshou/630000 --data /var/lib/qianshou/630000"
on $m "qs-pki install 632322.tar --etc /etc/qianshou/632322 --data /var/lib/qianshou/632322"
on $m "mv /etc/qianshou/630000/qianshoud.conf /etc/qianshou/630000.conf"
on $m "mv /etc/qianshou/632322/qianshoud.conf /etc/qianshou/632322.conf"
readme "systemctl enable --now qianshoud@630000 qianshoud@632322"
for id in 630000 632322; do   # what qianshoud@ID.service runs
    grep -qx "ExecStart=/usr/sbin/qianshoud -c /etc/qianshou/%i.conf" "$SRC/deploy/systemd/qianshoud@.service" \
        || fail "qianshoud@.service does not run /etc/qianshou/%i.conf"
    "$QSD" -c "$T/$m/etc/$id.conf" --check >"$T/out" 2>&1 || fail "$id --check: $(cat "$T/out")"
    start "both$id" "$T/$m/etc/$id.conf"
done
QIANSHOU_DATA=$T/$m/data/630000 qianshou import county "$SRC/deploy/reference/county.csv" >/dev/null
QIANSHOU_DATA=$T/$m/data/632322 qianshou add station township=632322100 name=坎布拉镇社工站 >/dev/null
QIANSHOU_DATA=$T/$m/data/632322 qianshou sync --wait >"$T/out" 2>&1 || fail "two roles: sync: $(cat "$T/out")"
[ "$(QIANSHOU_DATA=$T/$m/data/630000 qianshou --json list station | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] \
    || fail "two roles: the county's station is not at the aggregator"
stop both632322; stop both630000
ok "two roles on one machine: the README's layout, both daemons, the county synced"
[ -z "${QS_WALK_SHOW:-}" ] || cat "$T/transcript"
