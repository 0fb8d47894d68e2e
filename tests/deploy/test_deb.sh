#!/usr/bin/env bash
# The .deb on this machine: cpack builds it (and a second one with a bumped
# version); its control data, file list and maintainer scripts are checked;
# then install -> configure and run as an operator would -> upgrade -> remove
# -> purge, checking at each step what is kept, what is gone, and that no
# daemon is left running. Without systemd as PID 1 (CI, containers) the
# maintainer scripts must still work. Changes the system (user qianshou,
# /var/lib/qianshou, /etc/qianshou, the package): root only, cleans up after
# itself, refuses to run where qianshou is really installed. Label fault.
set -euo pipefail
BIN=${QS_BINARY_DIR:?}
fail() { echo "FAIL: $*" >&2; [ -f "${T:-/nonexistent}/daemon.log" ] && tail -n 20 "$T/daemon.log" >&2; exit 1; }
ok() { echo "ok: $*"; }
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i); CI runs as root"
for t in dpkg dpkg-deb cpack setpriv runuser start-stop-daemon; do
    command -v "$t" >/dev/null || skip "$t is not installed"
done
if dpkg-query -W -f='${Status}' qianshou 2>/dev/null | grep -q 'installed\|config-files'; then
    skip "the qianshou package is installed on this machine: not touching it"
fi
for p in /var/lib/qianshou /etc/qianshou; do
    [ ! -e "$p" ] || skip "$p exists: not touching a real installation"
done
USER_EXISTED=0
getent passwd qianshou >/dev/null && USER_EXISTED=1
GROUP_EXISTED=0
getent group qianshou >/dev/null && GROUP_EXISTED=1

T=$(mktemp -d /tmp/qs-deb-XXXXXX)
DPID=
cleanup() {
    set +e
    [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
    if dpkg-query -W qianshou >/dev/null 2>&1; then dpkg -P qianshou >/dev/null 2>&1; fi
    rm -rf /var/lib/qianshou /etc/qianshou
    [ "$USER_EXISTED" = 1 ] || userdel qianshou 2>/dev/null
    [ "$GROUP_EXISTED" = 1 ] || groupdel qianshou 2>/dev/null
    [ -n "${QS_KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# ---- build two packages ----
(cd "$T" && cpack -G DEB --config "$BIN/CPackConfig.cmake" -B "$T/v1" >"$T/cpack1.log" 2>&1) \
    || fail "cpack: $(tail -n 20 "$T/cpack1.log")"
DEB1=$(ls "$T"/v1/qianshou_*.deb)
V1=$(dpkg-deb -f "$DEB1" Version)
V2=$V1+upgrade1
(cd "$T" && cpack -G DEB --config "$BIN/CPackConfig.cmake" -B "$T/v2" -D "CPACK_PACKAGE_VERSION=$V2" \
    >"$T/cpack2.log" 2>&1) || fail "cpack v2: $(tail -n 20 "$T/cpack2.log")"
DEB2=$(ls "$T"/v2/qianshou_*.deb)
[ "$(dpkg-deb -f "$DEB2" Version)" = "$V2" ] || fail "second package version $(dpkg-deb -f "$DEB2" Version)"
dpkg --compare-versions "$V2" gt "$V1" || fail "$V2 is not newer than $V1"
ok "built $(basename "$DEB1") and $(basename "$DEB2")"

# ---- control data ----
[ "$(dpkg-deb -f "$DEB1" Package)" = qianshou ] || fail "package name"
dep=$(dpkg-deb -f "$DEB1" Depends)
for d in adduser openssl libuv1 libsqlite3-0 libssl3 libjansson4 libinih1 libzstd1 libmsgpackc2 \
    libxlsxwriter4 libh2o0.13 libargon2-1 libpq5; do
    [[ $dep == *"$d"* ]] || fail "Depends lacks $d: $dep"
done
ok "Depends: $dep"

dpkg-deb -c "$DEB1" >"$T/listing"
awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print "/" $6 }' "$T/listing" | sort >"$T/files"
cat >"$T/want" <<'EOW'
/etc/qianshou/aggregator.conf.example
/etc/qianshou/county.conf.example
/lib/systemd/system/qianshou-backup.service
/lib/systemd/system/qianshou-backup.timer
/lib/systemd/system/qianshou-backup@.service
/lib/systemd/system/qianshou-backup@.timer
/lib/systemd/system/qianshou-metrics.service
/lib/systemd/system/qianshou-metrics.timer
/lib/systemd/system/qianshou-web.service
/lib/systemd/system/qianshoud.service
/lib/systemd/system/qianshoud@.service
/usr/bin/qianshou
/usr/sbin/qianshou-backup
/usr/sbin/qianshou-metrics
/usr/sbin/qianshou-web
/usr/sbin/qianshoud
/usr/sbin/qs-pki
/usr/share/doc/qianshou/PKI.md
/usr/share/doc/qianshou/README.md
/usr/share/man/man1/qianshou.1.gz
/usr/share/man/man8/qianshou-backup.8.gz
/usr/share/man/man8/qianshou-metrics.8.gz
/usr/share/man/man8/qianshou-web.8.gz
/usr/share/man/man8/qianshoud.8.gz
/usr/share/man/man8/qs-pki.8.gz
/usr/share/qianshou/reference/README.md
/usr/share/qianshou/reference/agency.csv
/usr/share/qianshou/reference/county.csv
/usr/share/qianshou/reference/pairing.csv
EOW
diff -u "$T/want" "$T/files" >"$T/files.diff" || fail "file list differs: $(cat "$T/files.diff")"
awk '{print $2}' "$T/listing" | grep -v '^root/root$' && fail "files not owned by root"
for f in usr/sbin/qianshoud usr/bin/qianshou usr/sbin/qs-pki usr/sbin/qianshou-backup; do
    grep -q "^-rwxr-xr-x .* \./$f$" "$T/listing" || fail "$f is not 0755"
done
ok "file list ($(wc -l <"$T/files") files), owners and modes"

dpkg-deb -e "$DEB1" "$T/control"
for s in postinst prerm postrm; do
    [ "$(stat -c %a "$T/control/$s")" = 755 ] || fail "$s mode"
    head -n 1 "$T/control/$s" | grep -qx '#!/bin/sh' || fail "$s is not a /bin/sh script"
    sh -n "$T/control/$s" || fail "$s: syntax"
    grep -qx 'set -e' "$T/control/$s" || fail "$s lacks set -e"
    if command -v shellcheck >/dev/null; then
        shellcheck -s sh "$T/control/$s" || fail "shellcheck $s"
    fi
    # every systemctl/deb-systemd-invoke call is guarded by the systemd check
    if grep -q 'systemctl\|deb-systemd-invoke' "$T/control/$s"; then
        grep -q '\[ -d /run/systemd/system \]' "$T/control/$s" || fail "$s calls systemd unguarded"
    fi
done
diff <(sort "$T/control/conffiles") <(printf '%s\n' /etc/qianshou/aggregator.conf.example /etc/qianshou/county.conf.example) \
    || fail "conffiles"
ok "maintainer scripts: 0755, sh, set -e, shellcheck-clean, systemd calls guarded; conffiles"
if command -v lintian >/dev/null; then
    lintian --no-tag-display-limit "$DEB1" >"$T/lintian.out" 2>&1 || true
    echo "lintian (informational): $(grep -c '^E:' "$T/lintian.out") errors, $(grep -c '^W:' "$T/lintian.out") warnings"
    grep '^E:' "$T/lintian.out" | head -n 20 || true
fi

running() { # is any process running /usr/sbin/qianshoud (deleted or not)?
    local p exe
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case $exe in /usr/sbin/qianshoud | "/usr/sbin/qianshoud (deleted)") return 0 ;; esac
    done
    return 1
}
as_q() { (cd / && runuser -u qianshou -- "$@"); }

# ---- install ----
[ -d /run/systemd/system ] && echo "note: systemd is running here; the scripts will talk to it"
dpkg -i "$DEB1" >"$T/dpkg1.log" 2>&1 || fail "dpkg -i: $(cat "$T/dpkg1.log")"
getent passwd qianshou >/dev/null || fail "no user qianshou"
IFS=: read -r _ _ quid qgid _ qhome qshell < <(getent passwd qianshou)
[ "$quid" -lt 1000 ] || fail "qianshou is not a system user (uid $quid)"
[ "$(getent group qianshou | cut -d: -f3)" = "$qgid" ] || fail "qianshou's primary group is not qianshou"
[ "$qhome" = /var/lib/qianshou ] || fail "home $qhome"
[ "$qshell" = /usr/sbin/nologin ] || fail "shell $qshell"
[ "$(stat -c '%U:%G %a' /var/lib/qianshou)" = "qianshou:qianshou 2770" ] \
    || fail "/var/lib/qianshou is $(stat -c '%U:%G %a' /var/lib/qianshou)"
[ "$(stat -c '%U:%G %a' /etc/qianshou)" = "root:qianshou 750" ] || fail "/etc/qianshou $(stat -c '%U:%G %a' /etc/qianshou)"
[ "$(stat -c '%U:%G %a' /etc/qianshou/tls)" = "qianshou:qianshou 750" ] || fail "/etc/qianshou/tls"
[ -L /etc/systemd/system/multi-user.target.wants/qianshoud.service ] || fail "qianshoud.service not enabled"
[ -L /etc/systemd/system/timers.target.wants/qianshou-backup.timer ] || fail "qianshou-backup.timer not enabled"
[ -e /etc/systemd/system/timers.target.wants/qianshou-metrics.timer ] && fail "metrics timer enabled on a county"
grep -q 'next, write /etc/qianshou/qianshoud.conf' "$T/dpkg1.log" || fail "postinst did not say what to do next"
running && fail "a daemon runs right after installation, unconfigured"
/usr/sbin/qianshoud --help >/dev/null || fail "installed qianshoud"
/usr/bin/qianshou --help >/dev/null || fail "installed qianshou"
ok "installed $V1: system user $quid, /var/lib/qianshou qianshou:qianshou 2770, units enabled, no daemon"

# ---- configure as the README says: key on the node, certificate from the CA ----
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
qs-pki ca-init "$T/ca" >/dev/null
as_q qs-pki node-key /etc/qianshou/tls 632322 >/dev/null
[ "$(stat -c '%U %a' /etc/qianshou/tls/node.key)" = "qianshou 600" ] || fail "node.key owner/mode"
qs-pki sign "$T/ca" /etc/qianshou/tls/node.csr -o /etc/qianshou/tls/node.crt >/dev/null
cp "$T/ca/ca.crt" /etc/qianshou/tls/ca.crt
sed -e "s/^address = .*/address = 127.0.0.1/" -e "s/^port = .*/port = $PORT/" \
    /etc/qianshou/county.conf.example >/etc/qianshou/qianshoud.conf
chgrp qianshou /etc/qianshou/qianshoud.conf; chmod 0640 /etc/qianshou/qianshoud.conf
as_q qianshoud -c /etc/qianshou/qianshoud.conf --check >"$T/check.out" 2>&1 || fail "--check: $(cat "$T/check.out")"
start_daemon() { # as systemd would: user qianshou, group qianshou
    setpriv --reuid=qianshou --regid=qianshou --init-groups \
        /usr/sbin/qianshoud -c /etc/qianshou/qianshoud.conf 2>>"$T/daemon.log" &
    DPID=$!
    for _ in $(seq 100); do
        [ -S /var/lib/qianshou/qianshoud.sock ] && return 0
        kill -0 "$DPID" 2>/dev/null || fail "the installed daemon exited"
        sleep 0.1
    done
    fail "the installed daemon made no control socket"
}
start_daemon
[ "$(stat -c '%U:%G %a' /var/lib/qianshou/qianshou.db)" = "qianshou:qianshou 660" ] \
    || fail "store file $(stat -c '%U:%G %a' /var/lib/qianshou/qianshou.db)"
as_q qianshou add station township=632322100 name=坎布拉镇社工站 >/dev/null || fail "clerk add"
as_q env QIANSHOU_BACKUP_KEEP=3 qianshou-backup >"$T/backup.out" 2>&1 || fail "backup: $(cat "$T/backup.out")"
BK=$(ls /var/lib/qianshou/backups/qianshou-632322-*.db)
[ "$(stat -c '%U %a' "$BK")" = "qianshou 600" ] || fail "backup owner/mode"
DIGEST=$(as_q qianshou --json digest | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
kill -TERM "$DPID"; wait "$DPID" || fail "daemon exit after SIGTERM"; DPID=
echo '# changed by the operator' >>/etc/qianshou/county.conf.example
conf_sum=$(cat /etc/qianshou/qianshoud.conf /etc/qianshou/tls/node.key /etc/qianshou/tls/node.crt | sha256sum)
ok "configured and ran as user qianshou: store 0660, clerk edit, backup 0600"

# ---- upgrade ----
dpkg -i "$DEB2" >"$T/dpkg2.log" 2>&1 || fail "upgrade: $(cat "$T/dpkg2.log")"
[ "$(dpkg-query -W -f='${Version}' qianshou)" = "$V2" ] || fail "not upgraded"
[ "$(cat /etc/qianshou/qianshoud.conf /etc/qianshou/tls/node.key /etc/qianshou/tls/node.crt | sha256sum)" = "$conf_sum" ] \
    || fail "upgrade changed the config or the keys"
grep -q '^# changed by the operator' /etc/qianshou/county.conf.example || fail "upgrade overwrote a changed conffile"
[ -f "$BK" ] || fail "upgrade lost the backup"
[ "$(stat -c '%U:%G %a' /var/lib/qianshou)" = "qianshou:qianshou 2770" ] || fail "upgrade changed the data directory"
[ "$(getent passwd qianshou | cut -d: -f3)" = "$quid" ] || fail "upgrade changed the user"
D2=$(as_q qianshou --json digest | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
[ "$D2" = "$DIGEST" ] || fail "upgrade changed the store"
running && fail "a daemon runs after the upgrade although none ran before"
ok "upgraded to $V2: config, keys, changed conffile, store and backups kept"

# ---- remove (with a daemon running: prerm must stop it) ----
start_daemon
dpkg -r qianshou >"$T/dpkg3.log" 2>&1 || fail "remove: $(cat "$T/dpkg3.log")"
for _ in $(seq 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DPID" 2>/dev/null && fail "the daemon still runs after remove"
wait "$DPID" || true; DPID=
running && fail "a qianshoud still runs after remove"
grep -q "INFO daemon: stopped" "$T/daemon.log" || fail "the daemon was not stopped cleanly (SIGTERM)"
dpkg-query -W -f='${Status}' qianshou | grep -q 'config-files' || fail "status after remove"
for f in /usr/sbin/qianshoud /usr/bin/qianshou /lib/systemd/system/qianshoud.service /usr/sbin/qs-pki; do
    [ ! -e "$f" ] || fail "$f still there after remove"
done
for f in /var/lib/qianshou/qianshou.db "$BK" /etc/qianshou/qianshoud.conf /etc/qianshou/tls/node.key \
    /etc/qianshou/county.conf.example; do
    [ -e "$f" ] || fail "remove deleted $f"
done
ok "removed: daemon stopped, programs gone, data, backups, config and keys kept"

# ---- purge ----
dpkg -P qianshou >"$T/dpkg4.log" 2>&1 || fail "purge: $(cat "$T/dpkg4.log")"
dpkg-query -W qianshou >/dev/null 2>&1 && fail "still known to dpkg after purge"
[ ! -e /var/lib/qianshou ] || fail "purge kept /var/lib/qianshou"
[ ! -e /etc/qianshou ] || fail "purge kept /etc/qianshou"
for l in /etc/systemd/system/multi-user.target.wants/qianshoud.service \
    /etc/systemd/system/timers.target.wants/qianshou-backup.timer; do
    [ ! -e "$l" ] && [ ! -L "$l" ] || fail "purge left $l"
done
running && fail "a qianshoud runs after purge"
getent passwd qianshou >/dev/null || fail "purge removed the user (it is kept by design)"
ok "purged: data, config, keys and unit links gone; user qianshou kept (postrm says why)"
