#!/usr/bin/env bash
# What one `qianshou add` costs the disk: the record is durable when the
# process exits (its commit syncs the write-ahead log), and that sync is the
# only one — no checkpoint at close, no directory sync for a log that already
# exists (store/vfs.c, store/store.c keep_small_wal); and each frame of the
# log goes in one write, header and page together (store/vfs.c). Counted
# with strace.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { echo "FAIL: strace is not installed (deploy/install-deps.sh)" >&2; exit 1; }

C=$T/county
run 0 -d "$C" init --node 632322 --role county
run 0 -d "$C" add station township=632322101 name=第一社工站 opened=2021-01-01

add() { # strace the add; the sync calls (with their files) in $T/syncs
    # (LeakSanitizer cannot run under ptrace: off for the traced process in an
    # ASan build; harmless elsewhere)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -y -qq -e trace=fsync,fdatasync,sync_file_range,syncfs,pwrite64,write -o "$T/strace" \
        "$QS" -d "$C" add service date=2024-03-01 station=632322101 service_type=visit \
        domain=elderly total=2 content=入户走访 >"$T/out" 2>"$T/err" || fail "add failed"
    grep -E 'sync' "$T/strace" >"$T/syncs" || true
    grep -E 'write.*qianshou.db-wal>' "$T/strace" >"$T/walwrites" || true
}

for i in 1 2 3; do
    add
    n=$(wc -l <"$T/syncs")
    [ "$n" -eq 1 ] || { cat "$T/syncs" >&2; fail "add $i: $n syncs, expected exactly 1"; }
    grep -q 'qianshou.db-wal>' "$T/syncs" || { cat "$T/syncs" >&2; fail "add $i: the sync is not the WAL's"; }
    # frames: 24-byte header + 4096-byte page = 4120 bytes, one write each
    # (a new log also gets its 32-byte header); never a header alone
    bad=$(grep -vcE '= (4120|32)$' "$T/walwrites" || true)
    [ -s "$T/walwrites" ] && [ "$bad" -eq 0 ] || { cat "$T/walwrites" >&2; fail "add $i: WAL writes other than whole frames"; }
done

# Durable means visible to the next process, and the store is whole.
run 0 -d "$C" list service
[ "$(grep -c 入户走访 "$T/out")" -eq 3 ] || fail "the 3 records are not all listed"
run 0 -d "$C" check
echo "ok: one sync per add, on the WAL; one write per frame"
