#!/usr/bin/env bash
# qianshoud started as root logs a loud warning at start; started as an
# unprivileged user (setpriv, when the test runs as root, as CI does) it does
# not. Run as another user, the test checks what it can: no warning.
. "$(dirname "$0")/daemon_lib.sh"
make_pki
county_conf "$T/c1.ini" c1 632322
PAT="WARN daemon: RUNNING AS ROOT: qianshoud talks to the network"
if [ "$(id -u)" != 0 ]; then
    start c1 "$T/c1.ini"
    wait_log "$T/c1.log" "county 632322 started"
    grep -q "RUNNING AS ROOT" "$T/c1.log" && fail "warned about root as uid $(id -u)"
    stop c1
    ok "not root (uid $(id -u)): no root warning; the root case needs root"
    exit 0
fi
start c1 "$T/c1.ini"
wait_log "$T/c1.log" "county 632322 started"
grep -q "$PAT" "$T/c1.log" || fail "no root warning as root"
[ "$(grep -n "RUNNING AS ROOT" "$T/c1.log" | cut -d: -f1)" = 1 ] || fail "the root warning is not the first line"
ok "as root: $(grep -o 'RUNNING AS ROOT.*' "$T/c1.log" | cut -c1-120)…"
stop c1

# The same daemon as nobody: its own copy of the key and a data directory it owns.
command -v setpriv >/dev/null || { ok "no setpriv: unprivileged case skipped"; exit 0; }
id nobody >/dev/null 2>&1 || { ok "no user nobody: unprivileged case skipped"; exit 0; }
U=$T/nobody
mkdir -p "$U/tls"
cp "$T/ca/ca.crt" "$T/c2/node.crt" "$T/c2/node.key" "$U/tls/"
chmod 755 "$T" # mktemp made it 0700
chown -R nobody "$U"
sed -e "s#^data_dir = .*#data_dir = $U/data#" -e "s#^ca = .*#ca = $U/tls/ca.crt#" \
    -e "s#^cert = .*#cert = $U/tls/node.crt#" -e "s#^key = .*#key = $U/tls/node.key#" \
    -e "s#^id = .*#id = 632323#" "$T/c1.ini" >"$U/c2.ini"
chown nobody "$U/c2.ini"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- "$QSD" -c "$U/c2.ini" \
    2>"$T/nobody.log" &
NPID=$!
PIDS+=("$NPID")
wait_log "$T/nobody.log" "county 632323 started"
grep -q "RUNNING AS ROOT" "$T/nobody.log" && fail "warned about root when running as nobody"
kill -TERM "$NPID"
wait "$NPID" || fail "qianshoud as nobody exited with $? after SIGTERM"
ok "as nobody: no root warning ($(head -1 "$T/nobody.log"))"
