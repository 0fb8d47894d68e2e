#!/usr/bin/env bash
# deploy/qianshou-backup and deploy/qianshou-metrics, the commands behind the
# two timers: dated backups, keep the last N, mode 0600, a failed backup leaves
# the older ones alone, the backup restores; metrics written atomically, the
# old file kept when `qianshou metrics` fails. Label quick.
set -euo pipefail
SRC=${QS_SOURCE_DIR:?}
BIN=${QS_BINARY_DIR:?}
QS=$BIN/client/qianshou
T=$(mktemp -d /tmp/qs-timers-XXXXXX)
trap '[ -n "${QS_KEEP_TMP:-}" ] || rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
BACKUP=$SRC/deploy/qianshou-backup
METRICS=$SRC/deploy/qianshou-metrics
export QIANSHOU_BIN=$QS QIANSHOU_DATA=$T/data

"$QS" -d "$T/data" init --node 632322 --role county >/dev/null
"$QS" -d "$T/data" add station township=632322100 name=坎布拉镇社工站 >/dev/null
D1=$("$QS" -d "$T/data" --json digest | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')

# Older dated backups and a file that is not ours, in the backup directory.
B=$T/data/backups
mkdir -p "$B"
for s in 20240101T023000Z 20240102T023000Z 20240103T023000Z 20240104T023000Z; do
    echo old >"$B/qianshou-632322-$s.db"
done
echo keep-me >"$B/notes.txt"

out=$(QIANSHOU_BACKUP_KEEP=3 "$BACKUP") || fail "backup failed: $out"
mapfile -t left < <(cd "$B" && ls qianshou-*.db | LC_ALL=C sort)
[ "${#left[@]}" = 3 ] || fail "kept ${#left[@]} backups, not 3: ${left[*]}"
[ "${left[0]}" = qianshou-632322-20240103T023000Z.db ] || fail "the wrong ones were pruned: ${left[*]}"
[ "${left[1]}" = qianshou-632322-20240104T023000Z.db ] || fail "the wrong ones were pruned: ${left[*]}"
new=$B/${left[2]}
[[ ${left[2]} =~ ^qianshou-632322-20[0-9]{6}T[0-9]{6}Z\.db$ ]] || fail "backup name ${left[2]}"
[ "$(stat -c %a "$new")" = 600 ] || fail "backup mode $(stat -c %a "$new")"
[ "$(stat -c %a "$B")" = 700 ] || fail "backup directory mode $(stat -c %a "$B")"
[ -f "$B/notes.txt" ] || fail "a file that is not a backup was removed"
partial=$(find "$B" -name '.partial*')
[ -z "$partial" ] || fail "a partial file was left behind: $partial"
grep -q "3 kept, 2 older removed" <<<"$out" || fail "summary: $out"
ok "dated backup, last 3 kept, mode 0600: $out"

"$QS" -d "$T/restored" restore "$new" >/dev/null || fail "the backup does not restore"
D2=$("$QS" -d "$T/restored" --json digest | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
[ "$D1" = "$D2" ] || fail "restored digest $D2 != $D1"
ok "the backup restores to the same digest"

# A failing backup (no store) keeps every older backup and exits with qianshou's code.
before=$(ls "$B" | LC_ALL=C sort)
set +e; out=$(QIANSHOU_DATA=$T/nothing QIANSHOU_BACKUP_DIR=$B QIANSHOU_BACKUP_KEEP=1 "$BACKUP" 2>&1); rc=$?; set -e
[ $rc = 3 ] || fail "backup of a missing store exited $rc: $out"
grep -q "the older backups are untouched" <<<"$out" || fail "failure message: $out"
[ "$(ls "$B" | LC_ALL=C sort)" = "$before" ] || fail "a failed backup changed the backup directory"
ok "a failed backup exits 3 and touches nothing: $(echo "$out" | tail -1)"
for bad in 0 abc -1 ''; do
    set +e; out=$(QIANSHOU_BACKUP_KEEP=$bad "$BACKUP" 2>&1); rc=$?; set -e
    if [ -z "$bad" ]; then
        [ $rc = 0 ] || fail "empty KEEP should mean the default: $rc $out"
    else
        [ $rc = 1 ] || fail "KEEP=$bad exited $rc"
    fi
done
ok "bad QIANSHOU_BACKUP_KEEP refused"

# metrics: a stand-in `qianshou` that prints, fails, or says "attention" (4).
FAKE=$T/fake-qianshou
cat >"$FAKE" <<'EOS'
#!/bin/sh
case $FAKE_MODE in
ok) printf '# TYPE qianshou_store_records gauge\nqianshou_store_records 7\n' ;;
stale) printf 'qianshou_peer_stale{node="632322"} 1\n'; exit 4 ;;
fail) printf 'qianshou_store_rec'; exit 3 ;;
esac
EOS
chmod +x "$FAKE"
TF=$T/textfile
mkdir -p "$TF"
export QIANSHOU_TEXTFILE_DIR=$TF
FAKE_MODE=ok QIANSHOU_BIN=$FAKE "$METRICS" || fail "metrics ok run"
grep -qx 'qianshou_store_records 7' "$TF/qianshou.prom" || fail "metrics content: $(cat "$TF/qianshou.prom")"
[ "$(stat -c %a "$TF/qianshou.prom")" = 644 ] || fail "metrics mode (node_exporter must read it)"
FAKE_MODE=stale QIANSHOU_BIN=$FAKE "$METRICS" || fail "exit 4 (stale) must still write"
grep -q 'qianshou_peer_stale' "$TF/qianshou.prom" || fail "stale run did not replace the file"
ino=$(stat -c %i "$TF/qianshou.prom")
set +e; FAKE_MODE=fail QIANSHOU_BIN=$FAKE "$METRICS" 2>"$T/m.err"; rc=$?; set -e
[ $rc = 3 ] || fail "failed metrics exited $rc"
grep -q 'qianshou_peer_stale' "$TF/qianshou.prom" || fail "a failed run damaged the previous file"
[ "$(stat -c %i "$TF/qianshou.prom")" = "$ino" ] || fail "a failed run replaced the file"
[ "$(ls -A "$TF")" = qianshou.prom ] || fail "temporary files left: $(ls -A "$TF")"
set +e; QIANSHOU_TEXTFILE_DIR=$T/none "$METRICS" 2>"$T/m.err"; rc=$?; set -e
[ $rc = 3 ] && grep -q "cannot write to $T/none" "$T/m.err" || fail "missing textfile dir: $rc $(cat "$T/m.err")"
ok "metrics: atomic replace, exit 4 written, failure keeps the old file, no temp left"

# The real command, once qianshou has it.
if "$QS" metrics --help >/dev/null 2>&1; then
    rm -f "$TF/qianshou.prom"
    "$METRICS" || fail "metrics with the real qianshou"
    grep -q '^qianshou_' "$TF/qianshou.prom" || fail "real metrics: $(cat "$TF/qianshou.prom")"
    ok "metrics from the real qianshou: $(grep -c '^qianshou_' "$TF/qianshou.prom") samples"
else
    echo "note: this qianshou has no 'metrics' command yet; only the stand-in was used"
fi
