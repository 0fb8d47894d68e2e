#!/usr/bin/env bash
# backup → restore round trip; restore refused while the daemon's lock is held.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
D=$T/d R=$T/r
run 0 -d "$D" init --node 632322 --role county
run 0 -d "$D" add station township=632322100 name=坎布拉镇社工站
S=$(out)
run 0 -d "$D" add beneficiary name=李四 id_number=632322201001011225
run 0 -d "$D" --json digest; D1=$(py 'j["digest"]')
run 0 -d "$D" backup -o "$T/b.db"
has_out "2 records"
[ "$(stat -c %a "$T/b.db")" = 600 ] || fail "backup mode $(stat -c %a "$T/b.db")"

# restore into a new directory: same records, same digest, same county secret
run 0 -d "$R" restore "$T/b.db"
run 0 -d "$R" --json digest; [ "$(py 'j["digest"]')" = "$D1" ] || fail "digest after restore"
run 0 -d "$R" --json show "$S"
[ "$(py 'j["fields"]["name"]')" = 坎布拉镇社工站 ] || fail "record after restore"
run 0 -d "$R" --json list beneficiary; P1=$(py 'j[0]["fields"]["pseudonym"][0]')
run 0 -d "$R" add service date=2024-01-01 service_type=visit domain=elderly total=1 \
    pseudonyms=632322201001011225
SV=$(out)
run 0 -d "$R" --json show "$SV"
[ "$(py 'j["fields"]["pseudonyms"][0]')" = "$P1" ] || fail "the county secret did not survive"

# restore over an existing store, after changes: back to the backup
run 0 -d "$D" edit "$S" name=改过的名字
run 0 -d "$D" restore "$T/b.db"
run 0 -d "$D" --json show "$S"
[ "$(py 'j["fields"]["name"]')" = 坎布拉镇社工站 ] || fail "restore did not replace"

# a damaged backup is refused, the store is untouched
head -c 5000 "$T/b.db" >"$T/broken.db"
echo garbage >"$T/junk.db"
run 2 -d "$D" restore "$T/junk.db"
run 2 -d "$D" restore "$T/broken.db"
has_err "not an intact"
run 0 -d "$D" --json digest; [ "$(py 'j["digest"]')" = "$D1" ] || fail "failed restore changed the store"

# while the daemon holds the directory (its flock on qianshoud.lock), restore is refused
run 0 -d "$D" edit "$S" name=锁期间的改动
# the holder is the sleep itself (fd 9 locked, then exec), so killing it frees the lock
( exec 9>>"$D/qianshoud.lock"; flock 9; exec sleep 30 ) &
LOCKER=$!
for _ in $(seq 50); do flock -n "$D/qianshoud.lock" true 2>/dev/null || break; sleep 0.1; done
run 3 -d "$D" restore "$T/b.db"
has_err "qianshoud"; has_err "stop"
run 3 -d "$D" --json restore "$T/b.db"
py 'j["exit"]' | grep -qx 3 || fail "json exit 3"
kill "$LOCKER"; wait "$LOCKER" 2>/dev/null || true
run 0 -d "$D" --json show "$S"
[ "$(py 'j["fields"]["name"]')" = 锁期间的改动 ] || fail "refused restore changed the store"
# with the lock gone, restore works again
run 0 -d "$D" restore "$T/b.db"
run 1 -d "$D" backup
run 1 -d "$D" restore
echo ok
