#!/usr/bin/env bash
# A real conflict: create on A, copy A to B with backup/restore, edit the same
# record on both, exchange versions (qs_test_xfer: feed + apply, as a sync
# does). Then conflicts list / show / resolve (--take and --set) through the CLI.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
A=$T/a B=$T/b
run 0 -d "$A" init --node 632322 --role county
run 0 -d "$A" add station township=632322100 name=坎布拉镇社工站 resident_workers=1
S1=$(out)
run 0 -d "$A" add station township=632322101 name=尖扎滩社工站
S2=$(out)
run 0 -d "$A" conflicts
has_out "no open conflicts"
run 0 -d "$A" backup -o "$T/a.bak"
run 0 -d "$B" restore "$T/a.bak"
has_out "restored node 632322"

# concurrent edits of both stations
run 0 -d "$A" edit "$S1" name=坎布拉社工站A resident_workers=2
run 0 -d "$B" edit "$S1" name=坎布拉社工站B
run 0 -d "$A" edit "$S2" opened=2023-01-01
run 0 -d "$B" edit "$S2" opened=2023-02-02
"$XFER" "$A" "$B" up >"$T/out" 2>"$T/err" || fail "xfer A→B"
has_out "conflict 2"
"$XFER" "$B" "$A" up >"$T/out" 2>"$T/err" || fail "xfer B→A"
has_out "conflict 2"

# list: exit 4 (attention needed), both records, on both nodes the same winner
run 4 -d "$A" conflicts list
has_out "$S1"; has_out "$S2"; has_out "2 records with an open conflict"
run 4 -d "$A" --json conflicts
[ "$(py 'len(j)')" = 2 ] || fail "conflicts --json"
WIN_A=$(py "[c['winner'] for c in j if c['id']=='$S1'][0]")
run 4 -d "$B" --json conflicts
WIN_B=$(py "[c['winner'] for c in j if c['id']=='$S1'][0]")
[ "$WIN_A" = "$WIN_B" ] || fail "the two nodes chose different winners"

# show: both versions side by side, the differing fields marked
run 0 -d "$A" conflicts show "$S1"
has_out "坎布拉社工站A"; has_out "坎布拉社工站B"
grep -q '^\* *name' "$T/out" || fail "name not marked as differing"
grep -q '^ *township' "$T/out" || fail "township row missing"
grep -q '^\* *township' "$T/out" && fail "township marked as differing"
run 0 -d "$A" --json conflicts show "$S1"
[ "$(py 'len(j["versions"])')" = 2 ] || fail "show --json versions"
LOSER=$(py '[v["rev"] for v in j["versions"] if v["state"]=="loser"][0]')
run 0 -d "$A" show "$S1" --history
has_out "conflict loser"; has_out "open conflict"

# resolve S1 by taking the loser (by a unique prefix of its revision)
run 2 -d "$A" conflicts resolve "$S1" --take 9-
has_err "names none of the versions"
run 0 -d "$A" conflicts resolve "$S1" --take "${LOSER:0:12}"
has_out "resolved $S1"
run 0 -d "$A" --json show "$S1"
py 'j["rev"]' | grep -q '^3-' || fail "resolution is not generation 3"
[ "$(py 'len(j["parents"])')" = 2 ] || fail "resolution has not two parents"
# resolve S2 by setting a field
run 1 -d "$A" conflicts resolve "$S2"
run 2 -d "$A" conflicts resolve "$S2" --set opened=2023-13-01
has_err "opened"
run 0 -d "$A" conflicts resolve "$S2" --set opened=2023-03-03
run 0 -d "$A" --json show "$S2"
[ "$(py 'j["fields"]["opened"]')" = 2023-03-03 ] || fail "--set value"
run 0 -d "$A" conflicts
has_out "no open conflicts"
run 2 -d "$A" conflicts show "$S1"
has_err "has no open conflict"

# the resolutions travel to B and settle the conflicts there too; both nodes
# then hold the same versions: equal digests
"$XFER" "$A" "$B" up >"$T/out" 2>"$T/err" || fail "xfer resolutions"
run 0 -d "$B" conflicts
has_out "no open conflicts"
run 0 -d "$A" --json digest; DA=$(py 'j["digest"]')
run 0 -d "$B" --json digest; DB=$(py 'j["digest"]')
[ "$DA" = "$DB" ] || fail "digests differ after the conflicts were settled"
echo ok
