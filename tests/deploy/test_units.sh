#!/usr/bin/env bash
# The systemd units as installed: `systemd-analyze verify` in a staged root
# (DESTDIR install + the host's own units), any warning is a failure; the
# verifier itself is shown to catch a planted mistake; the hardening keys of
# qianshoud.service; every unit's commands are installed; the example configs
# name every key daemon/config.c knows and parse. Label quick.
set -euo pipefail
SRC=${QS_SOURCE_DIR:?}
BIN=${QS_BINARY_DIR:?}
T=$(mktemp -d /tmp/qs-units-XXXXXX)
trap '[ -n "${QS_KEEP_TMP:-}" ] || rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
UNITS=(qianshoud.service qianshou-backup.service qianshou-backup.timer
       qianshou-metrics.service qianshou-metrics.timer qianshou-web.service
       qianshoud@.service qianshou-backup@.service qianshou-backup@.timer)
# the templates are verified as instances (two roles on one machine)
INSTANCES=(qianshoud@630000.service qianshou-backup@630000.service qianshou-backup@630000.timer)

R=$T/root
DESTDIR=$R cmake --install "$BIN" --prefix /usr >"$T/install.log" 2>&1 \
    || fail "staged install: $(cat "$T/install.log")"
UD=$R/lib/systemd/system
for u in "${UNITS[@]}"; do [ -f "$UD/$u" ] || fail "$u not installed in /lib/systemd/system"; done
ok "units installed: ${UNITS[*]}"

# Every command a unit runs: ours must be in the package, the rest on the host
# (copied into the root so that verify can find them).
for u in "${UNITS[@]}"; do
    while read -r cmd; do
        cmd=${cmd#[-@:+!]}; cmd=${cmd#[-@:+!]}
        if [ -e "$R$cmd" ]; then continue; fi
        case $cmd in
        /usr/sbin/qianshou* | /usr/bin/qianshou* | /usr/sbin/qs-pki)
            fail "$u runs $cmd, which the install does not provide" ;;
        esac
        [ -x "$cmd" ] || fail "$u runs $cmd, which is not on this machine either"
        mkdir -p "$R$(dirname "$cmd")"; cp "$cmd" "$R$cmd"
    done < <(sed -n 's/^Exec[A-Za-z]*=\([^ ]*\).*/\1/p' "$UD/$u")
done
ok "every Exec command exists"

if ! command -v systemd-analyze >/dev/null; then
    fail "systemd-analyze is missing: install Debian's systemd package (deploy/install-deps.sh does)"
fi
mkdir -p "$R/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/"
verify() { # root units...: prints every diagnostic; returns 1 when there is any
    local r=$1; shift
    local out
    out=$(systemd-analyze verify --root="$r" --man=no "$@" 2>&1) || true
    [ -z "$out" ] && return 0
    printf '%s\n' "$out"
    return 1
}
VERIFY=()
for u in "${UNITS[@]}"; do case $u in *@.*) ;; *) VERIFY+=("$u") ;; esac; done
if ! out=$(verify "$R" "${VERIFY[@]}" "${INSTANCES[@]}"); then fail "systemd-analyze verify: $out"; fi
ok "systemd-analyze verify: no warnings for ${VERIFY[*]} ${INSTANCES[*]}"
# A template differs from its plain unit only where the instance goes: the
# config, data and backup paths, the names in the log and the comments.
tdiff() { # plain template
    diff <(grep -v '^#' "$UD/$1") <(grep -v '^#' "$UD/$2" | sed "$3") >"$T/tdiff" \
        || fail "$2 differs from $1 beyond the instance: $(cat "$T/tdiff")"
}
tdiff qianshoud.service qianshoud@.service 's|/etc/qianshou/%i\.conf|/etc/qianshou/qianshoud.conf|g;
    s|^SyslogIdentifier=qianshoud-%i$|SyslogIdentifier=qianshoud|; s|, instance %i$||'
tdiff qianshou-backup.service qianshou-backup@.service 's|/var/lib/qianshou/%i|/var/lib/qianshou|g;
    s|-%i$||; s| of %i$||'
tdiff qianshou-backup.timer qianshou-backup@.timer 's| of %i$||'
ok "the templates are the plain units with the instance in the paths"

# The verifier catches what we would get wrong: an unknown key, a bad value.
cp -a "$R" "$T/bad"
sed -i 's/^ProtectSystem=strict$/ProtectSystem=strictest/; s/^UMask=0007$/UMask=0007\nProtectSytem=yes/' \
    "$T/bad/lib/systemd/system/qianshoud.service"
if out=$(verify "$T/bad" qianshoud.service); then fail "verify missed a planted mistake"; fi
grep -q "strictest" <<<"$out" || fail "verify did not name the bad value: $out"
grep -q "ProtectSytem" <<<"$out" || fail "verify did not name the unknown key: $out"
ok "verify reports planted mistakes"

# qianshoud.service: the settings the deployment relies on, exactly.
S=$UD/qianshoud.service
has() { grep -qx -- "$1" "$S" || fail "qianshoud.service lacks '$1'"; }
for kv in Type=notify NotifyAccess=main Restart=on-failure User=qianshou Group=qianshou \
    UMask=0007 NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths=/var/lib/qianshou \
    ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' SystemCallFilter=@system-service \
    SystemCallArchitectures=native LockPersonality=yes MemoryDenyWriteExecute=yes \
    RestrictNamespaces=yes RestrictRealtime=yes ProtectKernelTunables=yes \
    ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes \
    CapabilityBoundingSet= 'ExecStart=/usr/sbin/qianshoud -c /etc/qianshou/qianshoud.conf' \
    'ExecReload=/bin/kill -HUP $MAINPID'; do
    has "$kv"
done
grep -q '^WatchdogSec=[1-9]' "$S" || fail "qianshoud.service: no WatchdogSec"
[ "$(grep -c '^ReadWritePaths=' "$S")" = 1 ] || fail "more than one ReadWritePaths in qianshoud.service"
grep -q '^RestrictSUIDSGID=yes' "$S" && fail "RestrictSUIDSGID would stop the daemon making its setgid data directory"
# The timers' services run as qianshou with the same sandbox.
for u in qianshou-backup.service qianshou-metrics.service; do
    for kv in User=qianshou Group=qianshou NoNewPrivileges=yes ProtectSystem=strict \
        ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= Type=oneshot; do
        grep -qx -- "$kv" "$UD/$u" || fail "$u lacks '$kv'"
    done
done
grep -qx 'UMask=0077' "$UD/qianshou-backup.service" || fail "backups must be private (UMask=0077)"
grep -q '^OnCalendar=' "$UD/qianshou-backup.timer" || fail "backup timer has no OnCalendar"
grep -qx 'Persistent=true' "$UD/qianshou-backup.timer" || fail "backup timer not Persistent"
ok "hardening and identity keys present"

# Example configs: every key of daemon/config.c appears (set or commented) in
# the example for its role, and both parse (they fail on the missing
# certificates, not on a key).
keys=$(grep -o 'IS("[a-z]*", "[a-z_]*")' "$SRC/daemon/config.c" | sed 's/IS("\([a-z]*\)", "\([a-z_]*\)")/\1.\2/' | sort -u)
keys+=$'\n'$(grep -o 'L(max_[a-z_]*)' "$SRC/daemon/config.c" | sed 's/L(\(.*\))/limits.\1/')
keys+=$'\nlimits.net_max_queued'
keys+=$'\nlimits.store_queue'
[ "$(echo "$keys" | wc -l)" -ge 25 ] || fail "found only $(echo "$keys" | wc -l) keys in config.c"
for ex in county aggregator; do
    f=$R/etc/qianshou/$ex.conf.example
    [ -f "$f" ] || fail "$ex.conf.example not installed in /etc/qianshou"
    while IFS=. read -r sec key; do
        [ "$ex" = county ] && [ "$sec" = listen ] && continue
        [ "$ex" = aggregator ] && [ "$sec" = upstream ] && continue
        awk -v s="[$sec]" -v k="$key" '
            /^\[/ { in_s = ($0 == s) } in_s && $0 ~ "^#?" k " = " { found = 1 }
            END { exit !found }' "$f" || fail "$ex.conf.example has no $key in [$sec]"
    done <<<"$keys"
    for variant in as-is all-keys-set; do
        if [ $variant = all-keys-set ]; then
            sed 's/^#\([a-z_]* = \)/\1/' "$f" >"$T/$ex.conf"
        else
            cp "$f" "$T/$ex.conf"
        fi
        set +e; out=$("$BIN/daemon/qianshoud" -c "$T/$ex.conf" --check 2>&1); rc=$?; set -e
        [ $rc = 3 ] || fail "$ex example ($variant): --check exit $rc: $out"
        grep -q '/etc/qianshou/tls/ca.crt' <<<"$out" || fail "$ex example ($variant) did not get as far as the certificates: $out"
    done
done
ok "example configs name every key of config.c and parse"

for m in share/man/man8/qianshoud.8.gz share/man/man1/qianshou.1.gz share/man/man8/qs-pki.8.gz \
    share/man/man8/qianshou-backup.8.gz share/man/man8/qianshou-metrics.8.gz \
    share/man/man8/qianshou-web.8.gz \
    share/qianshou/reference/county.csv share/qianshou/reference/agency.csv \
    share/qianshou/reference/pairing.csv sbin/qs-pki \
    sbin/qianshou-backup sbin/qianshou-metrics sbin/qianshoud bin/qianshou sbin/qianshou-web \
    share/doc/qianshou/README.md share/doc/qianshou/PKI.md; do
    [ -e "$R/usr/$m" ] || fail "/usr/$m not installed"
done
zcat "$R/usr/share/man/man8/qianshoud.8.gz" | grep -q '^\.SH SIGNALS' || fail "qianshoud.8 content"
# every man page renders without a groff warning, and each script's page is there
for m in "$R"/usr/share/man/man*/*.gz; do
    w=$(zcat "$m" | LC_ALL=C.UTF-8 MANWIDTH=80 groff -k -man -Tutf8 -ww -z 2>&1) || true
    [ -z "$w" ] || fail "$(basename "$m"): $w"
done
zcat "$R/usr/share/man/man1/qianshou.1.gz" | grep -q '^\.SH EXAMPLES' || fail "qianshou.1 has no EXAMPLES"
# each [web] key of config.c is in qianshou-web.8
keys=$(sed -n 's/.*IS("web", "\([a-z_]*\)").*/\1/p' "$SRC/daemon/config.c")
[ "$(wc -w <<<"$keys")" -ge 6 ] || fail "the [web] keys of config.c not found: $keys"
for key in $keys; do
    zcat "$R/usr/share/man/man8/qianshou-web.8.gz" | grep -q "^\.B.* $key\b\|^\.B $key\$" ||
        fail "qianshou-web.8 does not describe [web] $key"
done
ok "binaries, scripts, man pages and docs installed"
